"""Vocabulary and tokenisation with the Rust `tokenizers` library (saved as tokenizer.json).

Normalisation is NFKC, then BERT's cleaning: control characters dropped, every CJK character
surrounded by spaces (so Chinese is split into characters; with the "jieba" segmenter, jieba
cuts Chinese into words first and characters are not split), optional lower-casing.
Pre-tokenisation splits on whitespace and punctuation. The vocabulary is a word-level
table built from the training texts, with [PAD] = 0 and [UNK] = 1.

The segmenter is recorded in config.json (``tokenizer.segmenter``), not in tokenizer.json:
jieba is Python code the Rust tokenizer cannot hold, so `encode` applies it.

Characters and words together (``tokenizer.words``, with the "char" segmenter): the tokens
stay characters, and each also carries the jieba word it belongs to. The words (two or more
characters with Chinese in them, so never a token of their own) are appended to the same
vocabulary, after the characters; a character outside such a word, or in a word not in the
vocabulary, carries word 0 ([PAD], whose vector is zero). One id per position holds both:
``char_id + V * word_id`` with V = the vocabulary size plus ``oov_buckets`` (the model's
``vocab_size``), so batching, padding (id 0) and the exported graph's inputs do not change;
the model's Embedding unpacks them.
"""

from __future__ import annotations

import logging
import re
import zlib
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import ModuleType

from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers

from dupdetect.config import ConfigError, TokenizerConfig

PAD, UNK = "[PAD]", "[UNK]"
PAD_ID, UNK_ID = 0, 1


def _normalizer(cfg: TokenizerConfig, split_chinese: bool) -> normalizers.Normalizer:
    """NFKC, then BERT's cleaning and optional lower-casing; `split_chinese` puts spaces
    around every CJK character (so each becomes a token)."""
    return normalizers.Sequence(
        [
            normalizers.NFKC(),
            normalizers.BertNormalizer(
                clean_text=True, handle_chinese_chars=split_chinese, strip_accents=False,
                lowercase=cfg.lowercase,
            ),
        ]
    )  # fmt: skip


def new_tokenizer(cfg: TokenizerConfig) -> Tokenizer:
    """An untrained tokenizer with dupdetect's normalisation and pre-tokenisation."""
    tok = Tokenizer(models.WordLevel(unk_token=UNK))
    tok.normalizer = _normalizer(cfg, split_chinese=cfg.segmenter == "char")
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.enable_truncation(cfg.max_length)
    return tok


def _jieba(option: str) -> ModuleType:
    try:
        import jieba
    except ImportError:
        raise ConfigError(f"{option} needs jieba: pip install 'dupdetect[zh]'") from None
    jieba.setLogLevel(logging.WARNING)
    return jieba


def segment(texts: Sequence[str], segmenter: str) -> list[str]:
    """Texts ready for the Rust tokenizer: unchanged for "char"; for "jieba", Chinese words
    separated by spaces (jieba leaves other scripts as they are)."""
    if segmenter == "char":
        return list(texts)
    jieba = _jieba("tokenizer.segmenter=jieba")
    return [" ".join(jieba.lcut(t)) for t in texts]


# The code points BERT's normaliser treats as Chinese characters (each becomes a token).
_CHINESE = re.compile(
    "[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002a6df"
    "\U0002a700-\U0002ceaf\U0002f800-\U0002fa1f]"
)


def word_spans(texts: Sequence[str], cfg: TokenizerConfig) -> list[list[tuple[int, int, str]]]:
    """jieba's words that can carry a word feature, per text: (start, end, word) with
    character offsets into the text and the word normalised like the tokens (NFKC, lower
    case) but not split. Only words of two or more characters with Chinese in them: those
    are always two or more tokens, so a word never collides with a token in the vocabulary."""
    jieba = _jieba("tokenizer.words")
    normalize = _normalizer(cfg, split_chinese=False).normalize_str
    spans = []
    for text in texts:
        words = ((s, e, normalize(w).strip()) for w, s, e in jieba.tokenize(text))
        spans.append([(s, e, w) for s, e, w in words if len(w) > 1 and _CHINESE.search(w)])
    return spans


def _append(tok: Tokenizer, words: Iterable[str]) -> None:
    """Give `words` not in the vocabulary yet the next ids (the tokenizer's model is rebuilt)."""
    vocab = tok.get_vocab()
    size = len(vocab)
    for word in words:
        vocab.setdefault(word, len(vocab))
    if len(vocab) > size:
        tok.model = models.WordLevel(vocab, unk_token=UNK)


def token_strings(tok: Tokenizer, text: str) -> list[str]:
    """The tokens (as strings, before vocabulary lookup) the tokenizer makes of an already
    segmented `text`: normalised, then pre-tokenised, as training the vocabulary does."""
    return [w for w, _ in tok.pre_tokenizer.pre_tokenize_str(tok.normalizer.normalize_str(text))]


def single_token(tok: Tokenizer, word: str) -> str | None:
    """`word` as the one token the tokenizer makes of it (normalised, e.g. lower case), or
    None if it makes none or several (with characters as tokens, any word of two or more
    Chinese characters). How words from outside the texts (a vectors file) meet the vocabulary."""
    pieces = token_strings(tok, word)
    return pieces[0] if len(pieces) == 1 else None


def build_tokenizer(
    texts: Sequence[str], cfg: TokenizerConfig, extra_words: Iterable[str] = ()
) -> Tokenizer:
    """Learn the vocabulary from `texts` (the training split only), then append
    `extra_words` not in it yet (e.g. the words of a pretrained vectors file), normalised like
    the texts; words that normalise to nothing or to several tokens are skipped."""
    tok = new_tokenizer(cfg)
    trainer = trainers.WordLevelTrainer(
        vocab_size=cfg.max_vocab,
        min_frequency=cfg.min_frequency,
        special_tokens=[PAD, UNK],
        show_progress=False,
    )
    tok.train_from_iterator(segment(texts, cfg.segmenter), trainer)
    assert tok.token_to_id(PAD) == PAD_ID and tok.token_to_id(UNK) == UNK_ID
    _append(tok, [t for w in extra_words if (t := single_token(tok, w))])
    if cfg.words:  # the most frequent words, then by first appearance (Counter keeps order)
        counts = Counter(w for spans in word_spans(texts, cfg) for _, _, w in spans)
        ranked = sorted(counts, key=lambda w: -counts[w])
        _append(tok, [w for w in ranked if counts[w] >= cfg.min_frequency][: cfg.max_words])
    return tok


def load_tokenizer(path: str | Path) -> Tokenizer:
    """A saved tokenizer.json; ValueError unless [PAD] and [UNK] have the ids padding and
    unknown words rely on (a hand-edited or foreign file would fail later, mid-scoring)."""
    tok = Tokenizer.from_file(str(path))
    if tok.token_to_id(PAD) != PAD_ID or tok.token_to_id(UNK) != UNK_ID:
        raise ValueError(f"not a dupdetect tokenizer: it needs {PAD} = {PAD_ID}, {UNK} = {UNK_ID}")
    return tok


def oov_bucket(word: str, vocab_size: int, buckets: int) -> int:
    """The id of an out-of-vocabulary word when there are `buckets` hash buckets after the
    vocabulary: the same word always gets the same id (crc32, not Python's salted hash)."""
    return vocab_size + zlib.crc32(word.encode("utf-8")) % buckets


def encode(
    tok: Tokenizer, texts: Sequence[str], cfg: TokenizerConfig | None = None
) -> list[list[int]]:
    """Token ids per text (truncated to the saved max_length). A text whose characters
    all normalise away still gets one token, [UNK], so no text is ever empty. `cfg` is the
    config the tokenizer was built with (default: TokenizerConfig()); encoding reads its
    `segmenter` and `oov_buckets`.

    With `oov_buckets` > 0, a word outside the vocabulary gets a hash-bucket id in
    [vocab_size, vocab_size + oov_buckets) instead of [UNK]: the same unseen name or number
    in both texts then has the same id, so attention and exact match can pair them up.
    With `words`, each id also packs the word its character belongs to (module docstring).
    """
    cfg = cfg or TokenizerConfig()
    oov_buckets = cfg.oov_buckets
    segmented = segment(texts, cfg.segmenter)
    encodings = tok.encode_batch(segmented)
    if not oov_buckets and not cfg.words:
        return [enc.ids or [UNK_ID] for enc in encodings]
    vocab_size, result = tok.get_vocab_size(), []
    packing = vocab_size + oov_buckets  # char + packing * word, with tokenizer.words
    spans = word_spans(segmented, cfg) if cfg.words else [[] for _ in segmented]
    for text, enc, text_spans in zip(segmented, encodings, spans, strict=True):
        ids = list(enc.ids)
        for i, (start, end) in enumerate(enc.offsets if oov_buckets else ()):
            if ids[i] == UNK_ID:
                word = tok.normalizer.normalize_str(text[start:end]).strip()
                ids[i] = oov_bucket(word, vocab_size, oov_buckets)
        if text_spans:
            word_at = [0] * len(text)  # the word id each character of the text belongs to
            for start, end, word in text_spans:
                word_at[start:end] = [tok.token_to_id(word) or 0] * (end - start)
            ids = [
                t + packing * word_at[start] for t, (start, _) in zip(ids, enc.offsets, strict=True)
            ]
        result.append(ids or [UNK_ID])
    return result
