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


def tune_threshold(
    labels: np.ndarray, probs: np.ndarray, metric: str = "accuracy", fit: str = "argmax"
) -> float:
    """The decision threshold for `metric` ("accuracy" or "f1") on these pairs.

    fit="argmax": the cut that maximises `metric` here, a midpoint between two neighbouring
    scores, so that it does not sit on any score. fit="logistic" (accuracy only): the score
    at which P(duplicate) = sigmoid(a * logit(p) + b), fitted to these pairs, is one half;
    two fitted numbers instead of the best of N cuts, so a steadier cut on a few hundred
    pairs. Falls back to the argmax cut where the fit is degenerate (one class, a <= 0).
    """
    if fit == "logistic":
        if metric != "accuracy":
            raise ValueError(f"a logistic threshold fit is for accuracy, not {metric!r}")
        cut = _logistic_cut(labels, probs)
        if cut is not None:
            return cut
    elif fit != "argmax":
        raise ValueError(f"unknown threshold fit {fit!r}")
    return _best_cut(labels, probs, metric)


def _logistic_cut(labels: np.ndarray, probs: np.ndarray) -> float | None:
    """sigmoid(-b / a) for the maximum-likelihood fit of y ~ sigmoid(a * logit(p) + b)
    (Newton's method; Platt scaling in logit space), or None if the fit is degenerate."""
    y = labels.astype(np.float64)
    eps = 1e-7  # float32 sigmoids reach exactly 0 and 1; logit(1e-7) = -16.1
    z = np.log(np.clip(probs, eps, 1 - eps)) - np.log(np.clip(1 - probs, eps, 1 - eps))
    if y.min() == y.max() or z.min() == z.max():  # one class, or one score: no slope
        return None
    x = np.stack([z, np.ones_like(z)], axis=1)  # (N, 2)
    w = np.zeros(2)
    for _ in range(100):
        q = np.exp(-np.logaddexp(0.0, -(x @ w)))  # (N,) sigmoid, no overflow when separable
        hessian = (x * (q * (1 - q))[:, None]).T @ x + 1e-9 * np.eye(2)  # (2, 2)
        step = np.linalg.solve(hessian, x.T @ (y - q))
        w += step
        if np.abs(step).max() < 1e-10:
            break
    a, b = w
    if not (np.isfinite(a) and np.isfinite(b)) or a <= 0:
        return None
    return float(1 / (1 + np.exp(np.clip(b / a, -700.0, 700.0))))


def _best_cut(labels: np.ndarray, probs: np.ndarray, metric: str) -> float:
    """The midpoint cut that maximises `metric` on these pairs (see tune_threshold)."""
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
