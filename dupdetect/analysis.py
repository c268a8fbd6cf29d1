"""Error analysis: where a model is right and wrong, by pair length and by word overlap.

High-overlap non-duplicates ("how to learn python" / "why learn python") and low-overlap
duplicates (paraphrases) are where matchers differ; averages hide them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from dupdetect.batching import EncodedPairs
from dupdetect.data import Pair

# Buckets are half-open [lo, hi). Length: tokens of the longer text; overlap: Jaccard of the
# two texts' token sets.
LENGTH_EDGES = (1, 9, 13, 17, 25, 10**9)
LENGTH_NAMES = ("1-8 tokens", "9-12 tokens", "13-16 tokens", "17-24 tokens", "25+ tokens")
OVERLAP_EDGES = (0.0, 0.2, 0.4, 0.6, 0.8, 1.000001)
OVERLAP_NAMES = ("0.0-0.2", "0.2-0.4", "0.4-0.6", "0.6-0.8", "0.8-1.0")


def overlap(data: EncodedPairs, packing: int = 0) -> np.ndarray:
    """Jaccard similarity of each pair's token-id sets. (N,) in [0, 1]. With `packing` > 0
    the ids pack char + packing * word (tokenizer.words) and the characters are compared."""
    out = np.empty(len(data))
    for i, (a, b) in enumerate(zip(data.a, data.b, strict=True)):
        if packing:
            a, b = [t % packing for t in a], [t % packing for t in b]
        sa, sb = set(a), set(b)
        out[i] = len(sa & sb) / len(sa | sb)
    return out


def _table(
    values: np.ndarray,
    edges: Sequence[float],
    names: Sequence[str],
    labels: np.ndarray,
    correct: np.ndarray,
) -> list[dict[str, Any]]:
    rows = []
    for name, lo, hi in zip(names, edges[:-1], edges[1:], strict=True):
        inside = (values >= lo) & (values < hi)
        n = int(inside.sum())
        rows.append(
            {
                "bucket": name,
                "pairs": n,
                "duplicates": float(labels[inside].mean()) if n else None,
                "accuracy": float(correct[inside].mean()) if n else None,
            }
        )
    return rows


def breakdown(
    lengths: np.ndarray,
    overlaps: np.ndarray,
    labels: np.ndarray,
    probs: np.ndarray,
    threshold: float,
) -> dict[str, Any]:
    """Accuracy per length bucket and per overlap bucket. Every argument but `threshold` is
    (N,): `EncodedPairs.lengths()`, `overlap(...)`, 0/1 labels and P(duplicate)."""
    labels = labels.astype(np.int64)
    correct = (probs >= threshold).astype(np.int64) == labels
    return {
        "by_length": _table(lengths, LENGTH_EDGES, LENGTH_NAMES, labels, correct),
        "by_overlap": _table(overlaps, OVERLAP_EDGES, OVERLAP_NAMES, labels, correct),
    }


def format_breakdown(tables: dict[str, Any]) -> str:
    lines = []
    for key, title in (("by_length", "longer text length"), ("by_overlap", "token overlap")):
        lines.append(f"{title:<22}{'pairs':>8}{'dup share':>11}{'accuracy':>10}")
        for row in tables[key]:
            dup = "-" if row["duplicates"] is None else f"{row['duplicates']:.3f}"
            acc = "-" if row["accuracy"] is None else f"{row['accuracy']:.4f}"
            lines.append(f"{row['bucket']:<22}{row['pairs']:>8,}{dup:>11}{acc:>10}")
    return "\n".join(lines)


def write_errors(
    path: str | Path,
    pairs: Sequence[Pair],
    probs: np.ndarray,
    threshold: float,
    lines: Sequence[int] | None = None,
) -> int:
    """Write misclassified labelled pairs as JSON lines, most confident mistakes first:
    "index" is the pair's position among `pairs`, "line" (given `lines`, e.g.
    PairFile.lines) its line in the input file. Returns how many were written."""
    labels = np.array([p.label for p in pairs])
    wrong = np.flatnonzero((probs >= threshold).astype(np.int64) != labels)
    wrong = wrong[np.argsort(-np.abs(probs[wrong] - threshold), kind="stable")]
    with open(path, "w", encoding="utf-8") as f:
        for i in wrong:
            record = {
                "index": int(i),
                **({"line": lines[i]} if lines is not None else {}),
                "text_a": pairs[i].text_a,
                "text_b": pairs[i].text_b,
                "label": int(labels[i]),
                "probability": round(float(probs[i]), 6),
            }
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
    return len(wrong)
