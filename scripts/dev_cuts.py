"""A trained run's decision threshold found both ways on its own dev pairs, without training.

    python scripts/dev_cuts.py runs/mrpc-seed42 [runs/mrpc-seed43 ...]

Recomputes each run's dev split (`load_splits` with the run's seed, as training drew it) and
its dev probabilities, then finds the cut by each threshold fit (`tune_threshold`: "argmax",
the best cut; "logistic", where a logistic fit crosses one half) and prints one JSON line per
run: each cut with the dev accuracy, F1 and ROC-AUC there, and the threshold the run saved.
Checks first that the saved threshold gives the saved dev accuracy, so the dev pairs are the
ones training used. Score test at a cut with `dupdetect evaluate RUN TEST --threshold T`.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from dupdetect import DupDetector
from dupdetect.evaluate import compute_metrics, tune_threshold
from dupdetect.train import load_splits


def dev_cuts(run: Path) -> dict:
    detector = DupDetector.load(run, device="cpu")
    cfg = detector.config
    _, dev = load_splits(cfg, np.random.default_rng(cfg.train.seed))
    labels = np.array([p.label for p in dev])
    probs = detector.predict(dev)
    saved = json.loads((run / "metrics.json").read_text())["dev"]["accuracy"]
    again = compute_metrics(labels, probs, detector.threshold)["accuracy"]
    if abs(again - saved) > 1e-9:
        raise SystemExit(f"{run}: dev scores {again:.4f} at the saved threshold, saved {saved:.4f}")
    result: dict = {"run": str(run), "saved_threshold": detector.threshold}
    for fit in ("argmax", "logistic"):
        m = compute_metrics(labels, probs, tune_threshold(labels, probs, "accuracy", fit))
        result[fit] = {k: m[k] for k in ("threshold", "accuracy", "f1", "roc_auc")}
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("runs", nargs="+", type=Path, help="trained run directories")
    for run in ap.parse_args().runs:
        print(json.dumps(dev_cuts(run)))


if __name__ == "__main__":
    main()
