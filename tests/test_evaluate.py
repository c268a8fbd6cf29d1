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


def _scores(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Scores whose true P(duplicate | p) is sigmoid(2 logit(p) - 1): the accuracy-optimal
    cut is at logit(p) = 0.5, p = 0.6225."""
    z = rng.normal(0.0, 2.0, n)
    y = (rng.random(n) < 1 / (1 + np.exp(-(2 * z - 1)))).astype(np.int64)
    return y, 1 / (1 + np.exp(-z))


def test_logistic_threshold_finds_where_the_chance_of_a_duplicate_is_one_half() -> None:
    y, p = _scores(np.random.default_rng(0), 100_000)
    assert tune_threshold(y, p, "accuracy", "logistic") == pytest.approx(0.6225, abs=0.005)


def test_logistic_threshold_is_steadier_than_the_best_cut_on_few_pairs() -> None:
    rng = np.random.default_rng(1)
    cuts: dict[str, list[float]] = {"argmax": [], "logistic": []}
    for _ in range(100):
        y, p = _scores(rng, 408)
        for fit, found in cuts.items():
            found.append(tune_threshold(y, p, "accuracy", fit))
    assert np.std(cuts["logistic"]) < 0.5 * np.std(cuts["argmax"])
    assert abs(np.mean(cuts["logistic"]) - 0.6225) < 0.01


def test_logistic_threshold_falls_back_to_the_best_cut_when_the_fit_is_degenerate() -> None:
    p = np.array([0.1, 0.2, 0.8, 0.9])
    flipped = np.array([1, 1, 0, 0])  # higher scores are less often duplicates: a < 0
    assert tune_threshold(flipped, p, "accuracy", "logistic") == tune_threshold(flipped, p)
    one_class = np.array([1, 1, 1, 1])
    assert tune_threshold(one_class, p, "accuracy", "logistic") == tune_threshold(one_class, p)
    separated = np.array([0, 0, 1, 1])
    assert tune_threshold(separated, p, "accuracy", "logistic") == pytest.approx(0.5, abs=1e-6)
    with pytest.raises(ValueError, match="for accuracy"):
        tune_threshold(separated, p, "f1", "logistic")


def test_logistic_threshold_with_one_score_for_all_pairs_is_the_best_cut() -> None:
    y, p = np.array([0, 1, 1]), np.array([0.7, 0.7, 0.7])
    assert tune_threshold(y, p, "accuracy", "logistic") == tune_threshold(y, p)
