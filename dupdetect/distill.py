"""Distillation targets: a teacher's probabilities mixed into the training labels.

A teacher file is JSON Lines, one {"text_a", "text_b", "p"} per pair (optionally "dev": true
for pairs the teachers never trained on), as scripts/minilm_teacher.py writes it. A pair is
found by its two texts in either order (the teacher's p is symmetric). Every training pair
must have a probability: a missing one is an error, never a silent fallback to its label.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence

import numpy as np

from dupdetect.data import DataError, Pair

log = logging.getLogger("dupdetect")


def read_teacher(path: str) -> tuple[dict[tuple[str, str], float], set[tuple[str, str]]]:
    """The teacher's P(duplicate) per (text_a, text_b), and the pairs it trained on (rows
    without "dev": true)."""
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(path, None, f"cannot read the teacher file: {e}") from None
    probs: dict[tuple[str, str], float] = {}
    trained: set[tuple[str, str]] = set()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            key, p = (row["text_a"], row["text_b"]), row["p"]
        except (json.JSONDecodeError, KeyError, TypeError):
            raise DataError(
                path, number, 'expected {"text_a": ..., "text_b": ..., "p": ...}'
            ) from None
        if not (isinstance(p, int | float) and not isinstance(p, bool) and 0 <= p <= 1):
            raise DataError(path, number, f"p must be a probability in [0, 1], got {p!r}")
        probs[key] = float(p)
        if not row.get("dev", False):
            trained.add(key)
    if not probs:
        raise DataError(path, None, "the teacher file holds no pairs")
    return probs, trained


def _find(probs: dict[tuple[str, str], float], pair: Pair) -> float:
    p = probs.get((pair.text_a, pair.text_b), probs.get((pair.text_b, pair.text_a)))
    return math.nan if p is None else p


def distill_targets(
    path: str, train: Sequence[Pair], dev: Sequence[Pair], labels: np.ndarray, weight: float
) -> np.ndarray:
    """Targets (N,) float32 for the training pairs: weight * p_teacher + (1 - weight) * label.

    Warns when dev pairs were among the teacher's training pairs: it saw their labels, so dev
    metrics would flatter the student (make the teacher file with the same split)."""
    probs, trained = read_teacher(path)
    p = np.array([_find(probs, pair) for pair in train], dtype=np.float64)  # (N,)
    missing = np.flatnonzero(np.isnan(p))
    if missing.size:
        first = train[missing[0]]
        raise DataError(
            path, None,
            f"no teacher probability for {missing.size:,} of the {len(train):,} training pairs "
            f"(first: {first.text_a[:60]!r} / {first.text_b[:60]!r}); make the teacher file "
            "from the same training file, config and seed",
        )  # fmt: skip
    seen = sum((d.text_a, d.text_b) in trained or (d.text_b, d.text_a) in trained for d in dev)
    if seen:
        log.warning(
            f"train.teacher {path}: the teacher trained on {seen:,} of the {len(dev):,} dev "
            "pairs; dev metrics will be optimistic (make it with the same split)"
        )
    log.info(f"train.teacher {path}: targets = {weight} * teacher + {1 - weight:g} * label")
    return (weight * p + (1.0 - weight) * labels).astype(np.float32)
