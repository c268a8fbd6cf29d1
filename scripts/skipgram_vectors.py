"""Skip-gram vectors trained on a recipe's own training texts, for `train.vectors`.

    pip install -e '.[vectors]'     # gensim
    python scripts/skipgram_vectors.py --config configs/lcqmc.yaml -o runs/lcqmc-w2v.txt
    python scripts/skipgram_vectors.py --config configs/lcqmc.yaml -o runs/my-w2v.txt \
        data.train=my_train.tsv     # your own texts; then train with train.vectors=runs/my-w2v.txt

Reads the recipe's training file (`data.train`, nothing else: dev and test texts are never
seen) and splits each distinct text into the tokens the recipe's tokenizer makes (same
normalisation, segmenter and pre-tokenisation; for LCQMC, characters), then trains word2vec
skip-gram with negative sampling (gensim) on them and writes one vector per token, scaled by
one factor so that the coordinates have standard deviation `--std` (1.0, as a randomly
initialised embedding row). The result is a GloVe-format text file that `train.vectors`
loads; training then fine-tunes it. Why it helps, with its dev screens: docs/results.md.

The defaults are the settings behind the LCQMC recipe: 300-d, window 5, 5 negatives, 5
epochs, every token kept (min count 1). With one worker (the default) and a fixed hash for
gensim's per-word initial vectors, the file is the same on every run (on LCQMC: 34 s of
training, the same SHA-256 three times); with `--workers 2` training took 26 s but the file
differs run to run (gensim's threads race), as it did when the recipe was screened.
"""

from __future__ import annotations

import argparse
import sys
import time
import zlib
from pathlib import Path

import numpy as np

from dupdetect.config import ConfigError, TokenizerConfig, load_config
from dupdetect.data import DataError, read_pairs
from dupdetect.tokenizer import new_tokenizer, segment, token_strings


def token_sentences(texts: list[str], cfg: TokenizerConfig) -> list[list[str]]:
    """Each text as the token strings the recipe's tokenizer makes of it (not truncated)."""
    tok = new_tokenizer(cfg)
    return [token_strings(tok, t) for t in segment(texts, cfg.segmenter)]


def stable_hash(text: str) -> int:
    """gensim seeds each word's initial vector with hash(word + seed); Python's str hash
    changes from process to process, CRC-32 does not."""
    return zlib.crc32(text.encode("utf-8"))


def train_vectors(
    sentences: list[list[str]],
    dim: int,
    window: int,
    negative: int,
    epochs: int,
    min_count: int,
    seed: int,
    workers: int,
) -> tuple[list[str], np.ndarray]:
    """(tokens, (N, dim) float32 vectors), most frequent token first."""
    try:
        from gensim.models import Word2Vec
    except ImportError:
        sys.exit("skipgram_vectors: needs gensim: pip install 'dupdetect[vectors]'")
    model = Word2Vec(
        sentences, vector_size=dim, window=window, min_count=min_count, sg=1,
        negative=negative, epochs=epochs, workers=workers, seed=seed, hashfxn=stable_hash,
    )  # fmt: skip
    return list(model.wv.index_to_key), model.wv.vectors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, help="the recipe (YAML) whose texts to use")
    parser.add_argument("overrides", nargs="*", help="key=value config overrides, as for train")
    parser.add_argument("-o", "--output", required=True, help="GloVe-format text file to write")
    parser.add_argument("--dim", type=int, default=300, help="vector size (model.embedding_dim)")
    parser.add_argument("--window", type=int, default=5, help="context tokens on each side")
    parser.add_argument("--negative", type=int, default=5, help="negative samples per pair")
    parser.add_argument("--epochs", type=int, default=5, help="passes over the texts")
    parser.add_argument("--min-count", type=int, default=1, help="drop rarer tokens")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--workers", type=int, default=1, help="threads (above 1: not exact)")
    parser.add_argument("--std", type=float, default=1.0, help="coordinate s.d. of the result")
    args = parser.parse_args()
    try:
        cfg = load_config(args.config, args.overrides)
        if not cfg.data.train:
            raise ConfigError(f"{args.config}: no data.train (give data.train=FILE)")
        pairs = read_pairs(cfg.data.train, cfg.data.format).pairs
    except (ConfigError, DataError, OSError) as err:
        sys.exit(f"skipgram_vectors: {err}")
    texts = sorted({t for p in pairs for t in (p.text_a, p.text_b)})
    sentences = token_sentences(texts, cfg.tokenizer)
    start = time.perf_counter()
    tokens, vectors = train_vectors(
        sentences, args.dim, args.window, args.negative, args.epochs, args.min_count,
        args.seed, args.workers,
    )  # fmt: skip
    vectors = vectors * (args.std / vectors.std())
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    with open(args.output, "w", encoding="utf-8") as out:
        for token, vector in zip(tokens, vectors, strict=True):
            out.write(token + " " + " ".join(f"{x:.5f}" for x in vector) + "\n")
    print(
        f"{len(texts):,} distinct training texts from {cfg.data.train}, "
        f"{sum(map(len, sentences)):,} tokens; wrote {len(tokens):,} tokens x {args.dim} "
        f"(coordinate s.d. {args.std}) to {args.output} in {time.perf_counter() - start:.0f} s",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
