"""Turning tokenised pairs into padded batches.

Batches group texts of similar length (length bucketing), so little of the compute goes
to padding; masking inside the model makes the result independent of the grouping.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from dupdetect.tokenizer import PAD_ID


@dataclass
class EncodedPairs:
    """Token ids of both texts of every pair, and labels (None when unlabelled)."""

    a: list[list[int]]
    b: list[list[int]]
    labels: np.ndarray | None = None  # (N,) float32 0/1

    def __len__(self) -> int:
        return len(self.a)

    def lengths(self) -> np.ndarray:
        """Padded length each pair needs: max of its two texts. (N,)"""
        return np.fromiter(
            (max(len(x), len(y)) for x, y in zip(self.a, self.b, strict=True)), np.int64
        )


def pad(seqs: Sequence[list[int]]) -> torch.Tensor:
    """Right-pad id lists with PAD_ID -> (B, L) int64."""
    out = torch.full((len(seqs), max(map(len, seqs))), PAD_ID, dtype=torch.long)
    for i, s in enumerate(seqs):
        out[i, : len(s)] = torch.tensor(s, dtype=torch.long)
    return out


def collate(
    data: EncodedPairs, index: np.ndarray
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Pairs at `index` -> a_ids (B, La), b_ids (B, Lb), labels (B,) or None."""
    a = pad([data.a[i] for i in index])
    b = pad([data.b[i] for i in index])
    y = None if data.labels is None else torch.from_numpy(data.labels[index])
    return a, b, y


def training_batches(
    lengths: np.ndarray, batch_size: int, bucket_size: int, rng: np.random.Generator
) -> list[np.ndarray]:
    """Shuffled batches of similar length: shuffle, cut into buckets of `bucket_size`
    batches, sort each bucket by length, cut into batches, shuffle the batch order."""
    order = rng.permutation(len(lengths))
    span = batch_size * bucket_size
    batches = []
    for start in range(0, len(order), span):
        bucket = order[start : start + span]
        bucket = bucket[np.argsort(lengths[bucket], kind="stable")]
        batches += [bucket[i : i + batch_size] for i in range(0, len(bucket), batch_size)]
    rng.shuffle(batches)
    return batches


def inference_batches(lengths: np.ndarray, batch_size: int) -> Iterator[np.ndarray]:
    """Batches of the pairs sorted by length (callers put results back in input order)."""
    if batch_size < 1:  # range() would yield no batch at all, leaving every score unset
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    order = np.argsort(lengths, kind="stable")
    for start in range(0, len(order), batch_size):
        yield order[start : start + batch_size]
