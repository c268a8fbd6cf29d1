"""Judge two ways of finding the decision threshold on held-out scores, without training.

    python scripts/threshold_screen.py runs/cv-mrpc/one-seed*-fold*

Each run directory holds the out-of-fold scores of one fold model (oof.json, written by
`scripts/ablate.py --folds`). On the pairs a threshold was tuned on, the best cut wins by
construction, so each model's held-out pairs are halved at random many times: a threshold
is tuned on `--tune` of them (408 = MRPC's dev size) by each fit (`tune_threshold`: the best
cut, "argmax", or a logistic fit, "logistic") and scored on the rest. Prints, per training
seed (from the directory name ...-seedS-foldK), the mean held-out accuracy and F1 of each fit
over halvings and folds, and per fold model the paired accuracy difference. Test is never
read.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
from pathlib import Path

import numpy as np

from dupdetect.evaluate import tune_threshold

FITS = ("argmax", "logistic")


def accuracy_f1(labels: np.ndarray, probs: np.ndarray, cut: float) -> tuple[float, float]:
    """Accuracy and F1 at `cut`, as compute_metrics gives them, without its threshold-free
    metrics (which cost most of the time over thousands of halvings)."""
    pred = probs >= cut
    tp = int(np.sum(pred & (labels == 1)))
    f1 = 2 * tp / max(int(pred.sum()) + int(labels.sum()), 1)
    return float(np.mean(pred == (labels == 1))), f1


def halvings(labels: np.ndarray, probs: np.ndarray, tune: int, rounds: int, seed: int) -> dict:
    """Mean held-out accuracy and F1 of each fit over `rounds` random halvings."""
    rng = np.random.default_rng(seed)
    scores = {fit: {"accuracy": [], "f1": []} for fit in FITS}
    for _ in range(rounds):
        order = rng.permutation(len(labels))
        tuned, held = order[:tune], order[tune:]
        for fit in FITS:
            cut = tune_threshold(labels[tuned], probs[tuned], "accuracy", fit)
            accuracy, f1 = accuracy_f1(labels[held], probs[held], cut)
            scores[fit]["accuracy"].append(accuracy)
            scores[fit]["f1"].append(f1)
    return {fit: {k: float(np.mean(v)) for k, v in s.items()} for fit, s in scores.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("runs", nargs="+", type=Path, help="fold model directories with oof.json")
    ap.add_argument("--tune", type=int, default=408, help="pairs to tune on per halving")
    ap.add_argument("--rounds", type=int, default=1000, help="halvings per fold model")
    ap.add_argument("--seed", type=int, default=0, help="NumPy generator seed of the halvings")
    args = ap.parse_args()

    by_seed: dict[str, list[dict]] = {}
    for run in sorted(args.runs):
        match = re.search(r"-seed(\d+)-fold(\d+)$", run.name)
        if not match:
            raise SystemExit(f"{run}: expected a directory named ...-seedS-foldK")
        oof = json.loads((run / "oof.json").read_text())
        labels, probs = np.array(oof["labels"]), np.array(oof["probs"])
        if len(labels) <= args.tune:
            raise SystemExit(f"{run}: {len(labels)} held-out pairs, not more than --tune")
        result = halvings(labels, probs, args.tune, args.rounds, args.seed)
        by_seed.setdefault(match[1], []).append(result)
        diff = 100 * (result["logistic"]["accuracy"] - result["argmax"]["accuracy"])
        print(
            f"{run.name}: {len(labels)} pairs; accuracy argmax "
            f"{100 * result['argmax']['accuracy']:.2f}, logistic "
            f"{100 * result['logistic']['accuracy']:.2f} ({diff:+.2f}); F1 "
            f"{100 * result['argmax']['f1']:.2f} / {100 * result['logistic']['f1']:.2f}"
        )

    print(f"\n| seed | fold models | {' | '.join(f'{f} accuracy | {f} F1' for f in FITS)} |")
    print("|---|---|" + "---|" * (2 * len(FITS)))
    means: dict[str, list[float]] = {f"{f} {k}": [] for f in FITS for k in ("accuracy", "f1")}
    for seed, folds in sorted(by_seed.items()):
        cells = []
        for fit in FITS:
            for key in ("accuracy", "f1"):
                value = 100 * statistics.mean(r[fit][key] for r in folds)
                means[f"{fit} {key}"].append(value)
                cells.append(f"{value:.2f}")
        print(f"| {seed} | {len(folds)} | {' | '.join(cells)} |")
    print(f"| mean | | {' | '.join(f'{statistics.mean(v):.2f}' for v in means.values())} |")


if __name__ == "__main__":
    main()
