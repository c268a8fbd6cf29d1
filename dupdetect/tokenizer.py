"""Vocabulary and tokenisation with the Rust `tokenizers` library (saved as tokenizer.json).

Normalisation is NFKC, then BERT's cleaning: control characters dropped, every CJK character
surrounded by spaces (so Chinese is split into characters; with the "jieba" segmenter, jieba
cuts Chinese into words first and characters are not split), optional lower-casing.
Pre-tokenisation splits on whitespace and punctuation. The vocabulary is a word-level
table built from the training texts, with [PAD] = 0 and [UNK] = 1.

The segmenter is recorded in config.json (``tokenizer.segmenter``), not in tokenizer.json:
jieba is Python code the Rust tokenizer cannot hold, so `encode` applies it.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Iterable, Sequence
from pathlib import Path

from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers

from dupdetect.config import ConfigError, TokenizerConfig

PAD, UNK = "[PAD]", "[UNK]"
PAD_ID, UNK_ID = 0, 1


def new_tokenizer(cfg: TokenizerConfig) -> Tokenizer:
    """An untrained tokenizer with dupdetect's normalisation and pre-tokenisation."""
    tok = Tokenizer(models.WordLevel(unk_token=UNK))
    tok.normalizer = normalizers.Sequence(
        [
            normalizers.NFKC(),
            normalizers.BertNormalizer(
                clean_text=True, handle_chinese_chars=cfg.segmenter == "char", strip_accents=False,
                lowercase=cfg.lowercase,
            ),
        ]
    )  # fmt: skip
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.enable_truncation(cfg.max_length)
    return tok


def segment(texts: Sequence[str], segmenter: str) -> list[str]:
    """Texts ready for the Rust tokenizer: unchanged for "char"; for "jieba", Chinese words
    separated by spaces (jieba leaves other scripts as they are)."""
    if segmenter == "char":
        return list(texts)
    try:
        import jieba
    except ImportError:
        raise ConfigError(
            "tokenizer.segmenter=jieba needs jieba: pip install 'dupdetect[zh]'"
        ) from None
    jieba.setLogLevel(logging.WARNING)
    return [" ".join(jieba.lcut(t)) for t in texts]


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
    vocab = tok.get_vocab()
    size = len(vocab)
    for word in extra_words:
        pieces = tok.pre_tokenizer.pre_tokenize_str(tok.normalizer.normalize_str(word))
        if len(pieces) == 1 and pieces[0][0] not in vocab:
            vocab[pieces[0][0]] = len(vocab)
    if len(vocab) > size:
        tok.model = models.WordLevel(vocab, unk_token=UNK)
    return tok


def load_tokenizer(path: str | Path) -> Tokenizer:
    return Tokenizer.from_file(str(path))


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
    """
    cfg = cfg or TokenizerConfig()
    oov_buckets = cfg.oov_buckets
    segmented = segment(texts, cfg.segmenter)
    encodings = tok.encode_batch(segmented)
    if not oov_buckets:
        return [enc.ids or [UNK_ID] for enc in encodings]
    vocab_size, result = tok.get_vocab_size(), []
    for text, enc in zip(segmented, encodings, strict=True):
        ids = list(enc.ids)
        for i, (start, end) in enumerate(enc.offsets):
            if ids[i] == UNK_ID:
                word = tok.normalizer.normalize_str(text[start:end]).strip()
                ids[i] = oov_bucket(word, vocab_size, oov_buckets)
        result.append(ids or [UNK_ID])
    return result
