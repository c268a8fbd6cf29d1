"""scripts/ablate.py --folds: every training pair is scored once, by the model that held it
out, and the pooled metrics decide each pair at its own fold's threshold."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, load_script


def test_pooled_metrics_decide_each_fold_at_its_own_threshold() -> None:
    ablate = load_script("ablate")
    folds = [
        {"threshold": 0.5, "labels": [1, 0], "probs": [0.6, 0.4]},  # both right at 0.5
        {"threshold": 0.8, "labels": [1, 0], "probs": [0.9, 0.7]},  # 0.7 is a 0 at 0.8
    ]
    m = ablate.pooled(folds)
    assert m["pairs"] == 4
    assert m["accuracy"] == 1.0 and m["f1"] == 1.0
    assert m["roc_auc"] == pytest.approx(0.75)  # the pooled ranking puts 0.7 above 0.6


def test_pooled_metrics_can_retune_each_fold_for_f1() -> None:
    ablate = load_script("ablate")
    folds = [{"threshold": 0.5, "labels": [1, 1, 0], "probs": [0.9, 0.3, 0.4]}]
    saved = ablate.pooled(folds)  # 0.9 the only positive call: one hit, one miss
    assert saved["accuracy"] == pytest.approx(2 / 3) and saved["f1"] == pytest.approx(2 / 3)
    f1 = ablate.pooled(folds, "f1")  # best F1 calls all three duplicates: 2 hits, 1 false alarm
    assert f1["accuracy"] == pytest.approx(2 / 3) and f1["f1"] == pytest.approx(0.8)
    assert f1["roc_auc"] == saved["roc_auc"]  # thresholds do not move the ranking


def test_cross_validation_scores_every_training_pair_once(
    pair_files: tuple[Path, Path], tmp_path: Path
) -> None:
    train, _ = pair_files
    out = tmp_path / "cv"
    done = subprocess.run(
        [
            sys.executable, str(ROOT / "scripts" / "ablate.py"),
            "--config", str(ROOT / "configs" / "tiny.yaml"), "--out", str(out),
            "--seeds", "1", "--folds", "2",
            "--variant", f"base:data.train={train},train.epochs=1",
        ],
        capture_output=True, text=True, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "2-fold cross-validation" in done.stdout and "out-of-fold over 400 pairs" in done.stdout
    scored = [json.loads((out / f"base-seed1-fold{k}" / "oof.json").read_text()) for k in (0, 1)]
    assert [len(f["labels"]) for f in scored] == [200, 200]
    config = json.loads((out / "base-seed1-fold1" / "config.json").read_text())
    assert config["data"]["folds"] == 2 and config["data"]["fold"] == 1
    assert config["data"]["split_seed"] == 42
