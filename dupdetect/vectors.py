"""Pretrained word vectors in the GloVe / word2vec text format.

One vector per line: ``word v1 v2 ... vE`` separated by spaces; word2vec files start with a
``count dim`` header line, which is recognised and skipped. Words are normalised like the
texts (so "Apple" in a cased file matches "apple" in a lower-cased vocabulary); the first
vector seen for a vocabulary entry wins.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

import torch
from tokenizers import Tokenizer

from dupdetect.tokenizer import PAD_ID, single_token


class VectorsError(ValueError):
    """A vectors file that cannot be used; str() names the file and line."""


@dataclass
class VectorCoverage:
    found: int  # vocabulary entries initialised from the file
    vocab_size: int

    def __str__(self) -> str:
        share = self.found / max(self.vocab_size - 2, 1)
        return f"{self.found:,} of {self.vocab_size - 2:,} vocabulary tokens found ({share:.1%})"


def _records(path: Path) -> Iterator[tuple[int, list[str]]]:
    """(line number, [word, numbers...]) per vector line; header and blank lines skipped."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8", errors="strict") as f:
            for line_no, line in enumerate(f, start=1):
                parts = line.rstrip().split(" ")
                if line_no == 1 and len(parts) == 2 and all(p.isdigit() for p in parts):
                    continue  # word2vec header
                if len(parts) >= 2:
                    yield line_no, parts
    except FileNotFoundError:
        raise VectorsError(f"{path}: no such vectors file") from None
    except UnicodeDecodeError as e:
        raise VectorsError(f"{path}: not UTF-8 text ({e.reason})") from None


def vector_words(path: str | Path, limit: int = 0) -> list[str]:
    """The words of a vectors file, in file order; only the first `limit` if > 0."""
    words = (parts[0] for _, parts in _records(Path(path)))
    return list(islice(words, limit or None))


def load_vectors(path: str | Path, tok: Tokenizer, table: torch.Tensor) -> VectorCoverage:
    """Copy the vectors of vocabulary tokens found in `path` into `table` (V, E), in place;
    re-draw the other rows (except [PAD]) from N(0, std of the found vectors), so that random
    and pretrained rows have one scale (nn.Embedding's N(0, 1) dwarfs most pretrained sets)."""
    vocab_size, dim = table.shape
    path = Path(path)
    seen: set[int] = set()
    for line_no, parts in _records(path):
        if len(parts) != dim + 1:
            raise VectorsError(
                f"{path}:{line_no}: expected a word and {dim} numbers "
                f"(model.embedding_dim), got {len(parts) - 1} numbers"
            )
        word = single_token(tok, parts[0])  # as build_tokenizer adds vectors words
        idx = None if word is None else tok.token_to_id(word)
        if idx is None or idx == PAD_ID or idx in seen:
            continue
        try:
            table[idx] = torch.tensor([float(x) for x in parts[1:]])
        except ValueError:
            raise VectorsError(f"{path}:{line_no}: not a number in the vector") from None
        if not torch.isfinite(table[idx]).all():  # float() reads "nan" and "inf" as numbers
            raise VectorsError(f"{path}:{line_no}: nan or inf in the vector of {parts[0]!r}")
        seen.add(idx)
    if seen:  # the rows not found start random, on the same scale as the rows found
        found = torch.zeros(vocab_size, dtype=torch.bool)
        found[list(seen)] = True
        missing = ~found
        missing[PAD_ID] = False
        table[missing] = torch.randn(int(missing.sum()), dim) * table[found].std()
    return VectorCoverage(found=len(seen), vocab_size=vocab_size)
