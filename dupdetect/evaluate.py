"""Scoring pairs with a model, and the metrics that judge the scores.

The same functions serve training (dev evaluation, threshold tuning) and the CLI.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from sklearn import metrics as skm

from dupdetect.batching import EncodedPairs, collate, inference_batches
from dupdetect.model import Matcher

# Pairs per scoring batch. Measured on the 2-core machine (LCQMC test, 2,560 pairs, torch):
# 1,559 / 1,583 / 1,232 / 937 pairs/s at 64 / 128 / 256 / 512; ONNX Runtime int8 likewise
# faster at 128 than 256. Batches that fit the caches beat bigger matrix products here.
SCORING_BATCH = 128


@torch.inference_mode()
def predict_proba(
    model: Matcher, data: EncodedPairs, device: torch.device, batch_size: int = SCORING_BATCH
) -> np.ndarray:
    """P(duplicate) for every pair, in input order. (N,) float64.

    Pairs are scored in length-sorted batches (little padding); masking makes each score
    independent of its batch-mates. The model's train/eval mode is restored afterwards.
    """
    was_training = model.training
    model.eval()
    probs = np.empty(len(data), dtype=np.float64)
    for index in inference_batches(data.lengths(), batch_size):
        a, b, _ = collate(data, index)
        logits = model(a.to(device), b.to(device))  # (B,)
        probs[index] = torch.sigmoid(logits.float()).cpu().numpy()
    model.train(was_training)
    return probs


def tune_threshold(labels: np.ndarray, probs: np.ndarray, metric: str = "accuracy") -> float:
    """The decision threshold that maximises `metric` ("accuracy" or "f1") on these pairs:
    a midpoint between two neighbouring scores, so that it does not sit on any score."""
    order = np.argsort(probs, kind="stable")
    p, y = probs[order], labels[order].astype(np.int64)
    # Cut k puts pairs [k:] on the duplicate side (k = 0..N).
    tp = np.concatenate([np.cumsum(y[::-1])[::-1], [0]])  # positives at or above the cut
    fp = np.concatenate([np.cumsum((1 - y)[::-1])[::-1], [0]])
    fn = y.sum() - tp
    tn = (1 - y).sum() - fp
    if metric == "accuracy":
        score = (tp + tn) / len(y)
    elif metric == "f1":
        score = 2 * tp / np.maximum(2 * tp + fp + fn, 1)
    else:
        raise ValueError(f"unknown threshold metric {metric!r}")
    # Only cuts between distinct scores are realisable thresholds.
    valid = np.concatenate([[True], p[1:] > p[:-1], [True]])
    k = int(np.argmax(np.where(valid, score, -1.0)))
    if k == 0:
        return float(max(p[0] / 2, 0.0))
    if k == len(p):
        return float((p[-1] + 1.0) / 2)
    return float((p[k - 1] + p[k]) / 2)


def compute_metrics(labels: np.ndarray, probs: np.ndarray, threshold: float) -> dict[str, Any]:
    """Classification metrics at `threshold` plus threshold-free ones (ROC-AUC, AP, log loss).
    ROC-AUC and AP are None when the pairs hold only one class."""
    y = labels.astype(np.int64)
    pred = (probs >= threshold).astype(np.int64)
    tn, fp, fn, tp = skm.confusion_matrix(y, pred, labels=[0, 1]).ravel()
    both = len(np.unique(y)) == 2
    return {
        "pairs": len(y),
        "positives": int(y.sum()),
        "threshold": float(threshold),
        "accuracy": float(skm.accuracy_score(y, pred)),
        "precision": float(skm.precision_score(y, pred, zero_division=0)),
        "recall": float(skm.recall_score(y, pred, zero_division=0)),
        "f1": float(skm.f1_score(y, pred, zero_division=0)),
        "roc_auc": float(skm.roc_auc_score(y, probs)) if both else None,
        "average_precision": float(skm.average_precision_score(y, probs)) if both else None,
        "log_loss": float(skm.log_loss(y, np.clip(probs, 1e-7, 1 - 1e-7), labels=[0, 1])),
        "confusion_matrix": {"tn": int(tn), "fp": int(fp), "fn": int(fn), "tp": int(tp)},
    }


def evaluate(
    model: Matcher,
    data: EncodedPairs,
    device: torch.device,
    threshold: float = 0.5,
    batch_size: int = SCORING_BATCH,
) -> tuple[dict[str, Any], np.ndarray]:
    """Score labelled pairs and compute their metrics. Returns (metrics, probabilities)."""
    if data.labels is None:
        raise ValueError("evaluate needs labelled pairs")
    probs = predict_proba(model, data, device, batch_size)
    return compute_metrics(data.labels, probs, threshold), probs


def format_metrics(m: dict[str, Any], title: str = "") -> str:
    """A small aligned table for terminals."""

    def num(v: Any) -> str:
        return "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.4f}"

    cm = m["confusion_matrix"]
    rows = [
        ("pairs", f"{m['pairs']:,} ({m['positives']:,} duplicates)"),
        ("threshold", f"{m['threshold']:.4f}"),
        ("accuracy", num(m["accuracy"])),
        ("precision", num(m["precision"])),
        ("recall", num(m["recall"])),
        ("f1", num(m["f1"])),
        ("roc_auc", num(m["roc_auc"])),
        ("average_precision", num(m["average_precision"])),
        ("log_loss", num(m["log_loss"])),
    ]
    width = max(len(k) for k, _ in rows)
    lines = [title] if title else []
    lines += [f"{k:<{width}}  {v}" for k, v in rows]
    lines += [
        "confusion matrix (rows: true, columns: predicted)",
        f"{'':>10}{'not dup':>10}{'dup':>10}",
        f"{'not dup':>10}{cm['tn']:>10,}{cm['fp']:>10,}",
        f"{'dup':>10}{cm['fn']:>10,}{cm['tp']:>10,}",
    ]
    return "\n".join(lines)
