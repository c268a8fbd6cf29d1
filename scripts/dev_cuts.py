"""A trained run's decision threshold found both ways on its own dev pairs, without training.

    python scripts/dev_cuts.py runs/mrpc-seed42 [runs/mrpc-seed43 ...]

Recomputes each run's dev split as training drew it and its dev probabilities
(`dupdetect.train.rescore_dev`), then finds the cut by each threshold fit (`tune_threshold`:
"argmax", the best cut; "logistic", where a logistic fit crosses one half) and prints one
JSON line per run: each cut with the dev accuracy, F1 and ROC-AUC there, and the threshold
the run saved. `rescore_dev` checks first that the saved threshold gives the saved dev
accuracy, so the dev pairs are the ones training used. Score test at a cut with
`dupdetect evaluate RUN TEST --threshold T`.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from dupdetect.evaluate import compute_metrics, tune_threshold
from dupdetect.train import rescore_dev


def dev_cuts(run: Path) -> dict:
    try:
        detector, labels, probs = rescore_dev(run)
    except ValueError as e:
        raise SystemExit(str(e)) from None
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
