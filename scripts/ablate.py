"""Ablations over seeds: train a recipe with and without each change, report dev metrics.

    python scripts/ablate.py --config configs/mrpc.yaml --out runs/ablate-mrpc \
        --seeds 42 43 44 --jobs 2 \
        --variant base --variant overlap:model.overlap_features=true \
        --variant ema:train.ema_decay=0.99,train.label_smoothing=0.1

Each variant is NAME[:KEY=VALUE,...] (overrides on top of the recipe; "{seed}" in a value
becomes the run's seed, e.g. train.teacher=runs/teacher-{seed}.jsonl). Every (variant,
seed) is one `dupdetect train` run in OUT/NAME-seedSEED; runs that already have a
metrics.json are not trained again, so an interrupted ablation resumes. `--jobs` runs that
many trainings at once, each with cores // jobs threads. Prints a markdown table of dev
metrics (at the tuned threshold, as saved by training) with mean and sample s.d. over
seeds, and the same per seed; for an ensemble (model.members > 1) also each member's own dev
accuracy, so a gain of the ensemble can be told from a gain of its members. Dev only: test is
never read here.

`--folds K` cross-validates instead (for small data such as MRPC, where one 408-pair dev split
moves a model's accuracy by about 2 points from seed to seed): each (variant, seed) trains K
models, on fold k held out for k = 0..K-1 (`data.folds`, drawn with `--split-seed`, so every
variant and seed sees the same folds), in OUT/NAME-seedSEED-foldK. Each model's scores on its
held-out fold are saved there as oof.json, and the table gives the pooled out-of-fold metrics
over every training pair: accuracy and F1 at each fold's own dev-tuned threshold, ROC-AUC and
log loss of the pooled probabilities. `--threshold-metric accuracy|f1` re-tunes each fold's
threshold on its held-out scores for that metric instead of using the one training saved
(which followed `train.threshold_metric`): what the other choice would give, from the cached
scores, without training again.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

METRICS = ("accuracy", "f1", "roc_auc")
# how each metric is printed: (scale, decimals); accuracy and F1 as percentages
SHOWN = {"accuracy": (100, 2), "f1": (100, 2), "roc_auc": (1, 4), "log_loss": (1, 4)}
# dupdetect's CLI run by this same interpreter, so that the package trained is the one this
# script imports, with or without an activated environment.
DUPDETECT = [sys.executable, "-m", "dupdetect.cli"]


def parse_variant(text: str) -> tuple[str, list[str]]:
    name, _, overrides = text.partition(":")
    if not name or "/" in name:
        raise SystemExit(f"--variant {text!r}: expected NAME[:KEY=VALUE,...]")
    return name, [o for o in overrides.split(",") if o]


def run(config: str, out: Path, seed: int, overrides: list[str], threads: int) -> dict:
    metrics_file = out / "metrics.json"
    if not metrics_file.exists():
        out.mkdir(parents=True, exist_ok=True)
        cmd = [
            *DUPDETECT, "train", "--config", config, "--out", str(out),
            f"train.seed={seed}", "train.progress=false",
            *(o.replace("{seed}", str(seed)) for o in overrides),
        ]  # fmt: skip
        env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
        start = time.perf_counter()
        with (out / "train.log").open("w") as log:
            done = subprocess.run(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed; see {out / 'train.log'}")
        print(f"{out}: {time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)
    summary = json.loads(metrics_file.read_text())
    members = [m["dev"]["accuracy"] for m in summary.get("members", [])]  # ensembles only
    return {
        **{k: summary["dev"][k] for k in METRICS},
        "best_step": summary["best_step"],
        "members": members,
    }


def out_of_fold(out: Path) -> dict:
    """The scores of the model in `out` on the fold it was held out from, cached in oof.json.

    Checked against the dev accuracy that training saved, so the recomputed fold is the one
    training held out."""
    cache = out / "oof.json"
    if not cache.exists():
        from dupdetect.train import rescore_dev

        try:
            detector, labels, probs = rescore_dev(out)
        except ValueError as e:
            raise SystemExit(str(e)) from None
        record = {
            "threshold": detector.threshold,
            "labels": labels.tolist(),
            "probs": probs.tolist(),
        }
        cache.write_text(json.dumps(record))
    return json.loads(cache.read_text())


def pooled(folds: list[dict], threshold_metric: str | None = None) -> dict:
    """Metrics over the union of held-out folds (each pair decided at its fold's threshold),
    by dupdetect's own `compute_metrics`: once on the 0/1 decisions, once on the scores.
    With `threshold_metric`, each fold's threshold is tuned again on its own held-out scores
    for that metric ("accuracy" or "f1"), as training tunes it on dev."""
    import numpy as np

    from dupdetect.evaluate import compute_metrics, tune_threshold

    def threshold(f: dict) -> float:
        if threshold_metric is None:
            return f["threshold"]
        return tune_threshold(np.array(f["labels"]), np.array(f["probs"]), threshold_metric)

    y = np.concatenate([f["labels"] for f in folds])
    p = np.concatenate([f["probs"] for f in folds])
    decided = np.concatenate([np.array(f["probs"]) >= threshold(f) for f in folds])
    at_folds = compute_metrics(y, decided.astype(np.float64), 0.5)
    scores = compute_metrics(y, p, 0.5)  # only its threshold-free metrics are used
    return {
        "accuracy": at_folds["accuracy"],
        "f1": at_folds["f1"],
        "roc_auc": scores["roc_auc"],
        "log_loss": scores["log_loss"],
        "pairs": len(y),
    }


def print_row(name: str, overrides: list[str], rows: list[dict], keys: tuple[str, ...]) -> None:
    """One variant's table row: each metric's mean ± s.d. over seeds, then accuracy per seed."""
    cells = []
    for key in keys:
        scale, digits = SHOWN[key]
        values = [scale * r[key] for r in rows]
        sd = statistics.stdev(values) if len(values) > 1 else 0.0
        cells.append(f"{statistics.mean(values):.{digits}f} ± {sd:.{digits}f}")
    per_seed = " / ".join(f"{100 * r['accuracy']:.2f}" for r in rows)
    print(f"| {name} | {' '.join(overrides) or '(recipe)'} | {' | '.join(cells)} | {per_seed} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 43, 44])
    parser.add_argument("--variant", action="append", required=True)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--folds", type=int, default=0, help="cross-validate over K folds")
    parser.add_argument("--split-seed", type=int, default=42, help="draws the folds")
    parser.add_argument(
        "--threshold-metric", choices=["accuracy", "f1"],
        help="with --folds: re-tune each fold's threshold for this metric (default: as saved)",
    )  # fmt: skip
    args = parser.parse_args()
    variants = dict(parse_variant(v) for v in args.variant)
    threads = max(1, (os.cpu_count() or 1) // args.jobs)
    if args.folds:
        cross_validate(args, variants, threads)
        return
    if args.threshold_metric:
        raise SystemExit("--threshold-metric re-tunes out-of-fold thresholds: it needs --folds")
    tasks = [(name, seed) for name in variants for seed in args.seeds]
    with ThreadPoolExecutor(args.jobs) as pool:
        futures = {}
        for name, seed in tasks:
            out = args.out / f"{name}-seed{seed}"
            futures[(name, seed)] = pool.submit(
                run, args.config, out, seed, variants[name], threads
            )
        results = {task: future.result() for task, future in futures.items()}

    seeds = " / ".join(str(s) for s in args.seeds)
    print(f"\n{args.config}, dev, seeds {seeds}, mean ± s.d. (per seed: accuracy)\n")
    print("| variant | overrides | accuracy | F1 | ROC-AUC | accuracy per seed |")
    print("|---|---|---|---|---|---|")
    for name, overrides in variants.items():
        print_row(name, overrides, [results[(name, s)] for s in args.seeds], METRICS)
    for (name, seed), r in results.items():
        if r["members"]:
            each = " / ".join(f"{100 * a:.2f}" for a in r["members"])
            print(f"\n{name}, seed {seed}: ensemble {100 * r['accuracy']:.2f}, members {each}")


def cross_validate(args: argparse.Namespace, variants: dict[str, list[str]], threads: int) -> None:
    """Train every (variant, seed, fold), then print each (variant, seed)'s pooled metrics as
    mean ± s.d. over seeds. Every variant and seed holds out the same folds."""
    if args.folds < 2:
        raise SystemExit(f"--folds {args.folds}: needs at least 2 folds")
    split = [f"data.folds={args.folds}", f"data.split_seed={args.split_seed}"]
    tasks = [(n, s, k) for n in variants for s in args.seeds for k in range(args.folds)]
    with ThreadPoolExecutor(args.jobs) as pool:
        futures = {}
        for name, seed, k in tasks:
            out = args.out / f"{name}-seed{seed}-fold{k}"
            overrides = [*variants[name], *split, f"data.fold={k}"]
            futures[(name, seed, k)] = pool.submit(run, args.config, out, seed, overrides, threads)
        for future in futures.values():
            future.result()
    results = {
        (name, seed): pooled(
            [out_of_fold(args.out / f"{name}-seed{seed}-fold{k}") for k in range(args.folds)],
            args.threshold_metric,
        )
        for name in variants
        for seed in args.seeds
    }
    seeds = " / ".join(str(s) for s in args.seeds)
    n = next(iter(results.values()))["pairs"]
    print(
        f"\n{args.config}, {args.folds}-fold cross-validation (folds drawn with seed "
        f"{args.split_seed}), out-of-fold over {n:,} pairs, seeds {seeds}, mean ± s.d.; "
        f"thresholds: {args.threshold_metric or 'as saved'}\n"
    )
    print("| variant | overrides | accuracy | F1 | ROC-AUC | log loss | accuracy per seed |")
    print("|---|---|---|---|---|---|---|")
    for name, overrides in variants.items():
        rows = [results[(name, s)] for s in args.seeds]
        print_row(name, overrides, rows, (*METRICS, "log_loss"))


if __name__ == "__main__":
    main()
