from __future__ import annotations

import numpy as np
import pytest

from dupdetect.evaluate import compute_metrics, format_metrics, tune_threshold


def test_metrics_match_hand_counts() -> None:
    y = np.array([1, 1, 0, 0, 1])
    p = np.array([0.9, 0.4, 0.6, 0.1, 0.8])
    m = compute_metrics(y, p, threshold=0.5)
    assert m["confusion_matrix"] == {"tn": 1, "fp": 1, "fn": 1, "tp": 2}
    assert m["accuracy"] == pytest.approx(0.6)
    assert m["precision"] == pytest.approx(2 / 3)
    assert m["recall"] == pytest.approx(2 / 3)
    assert m["roc_auc"] == pytest.approx(5 / 6)
    assert m["pairs"] == 5 and m["positives"] == 3
    assert "accuracy" in format_metrics(m)


def test_single_class_data_has_no_auc_but_does_not_crash() -> None:
    m = compute_metrics(np.array([1, 1]), np.array([0.2, 0.9]), 0.5)
    assert m["roc_auc"] is None and m["accuracy"] == 0.5
    assert "n/a" in format_metrics(m)


def test_threshold_maximises_accuracy_between_two_scores() -> None:
    y = np.array([0, 0, 0, 1, 1, 0, 1])
    p = np.array([0.1, 0.2, 0.3, 0.7, 0.8, 0.75, 0.9])
    t = tune_threshold(y, p, "accuracy")
    assert t == pytest.approx(0.5)  # between 0.3 and 0.7: 6 of 7 right
    assert compute_metrics(y, p, t)["accuracy"] == pytest.approx(6 / 7)


def test_threshold_never_splits_tied_scores() -> None:
    y = np.array([0, 1, 1, 0])
    p = np.array([0.5, 0.5, 0.9, 0.1])
    t = tune_threshold(y, p, "f1")
    assert t < 0.5 or t > 0.5
    best = max(compute_metrics(y, p, c)["f1"] for c in (0.05, 0.3, 0.7, 0.95))
    assert compute_metrics(y, p, t)["f1"] == pytest.approx(best)
