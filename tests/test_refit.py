"""train.refit / `dupdetect refit`: train again on train + dev for the steps dev chose."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from conftest import synthetic_pairs
from dupdetect import DupDetector
from dupdetect.cli import main
from dupdetect.config import Config
from dupdetect.model import Ensemble
from dupdetect.train import HELD_OUT_DIR, refit, train

PAIRS = [(a, b) for a, b, _ in synthetic_pairs(30, seed=5)]


def _log(run: Path, event: str) -> list[dict]:
    records = map(json.loads, (run / "train_log.jsonl").read_text().splitlines())
    return [r for r in records if r["event"] == event]


def test_refit_trains_on_train_and_dev_for_the_passes_dev_chose(
    tiny_config: Config, tmp_path: Path
) -> None:
    tiny_config.train.refit = True
    out = tmp_path / "m"
    result = train(tiny_config, out)
    held = json.loads((out / HELD_OUT_DIR / "metrics.json").read_text())
    saved = json.loads((out / "metrics.json").read_text())
    # 400 training + 100 dev pairs; as many passes as the held-out run's best checkpoint had.
    assert saved["train_pairs"] == 500 and held["train_pairs"] == 400
    assert saved["steps"] == round(held["best_step"] * 500 / 400) == result.steps
    assert _log(out, "eval") == []  # no evaluation: dev is training data now
    # The threshold and the (unbiased) dev metrics are the held-out run's.
    refitted = DupDetector.load(out, device="cpu")
    assert (
        refitted.threshold
        == held["dev"]["threshold"]
        == DupDetector.load(out / HELD_OUT_DIR).threshold
    )
    assert result.dev_metrics == held["dev"] == saved["dev"]
    assert refitted.config.train.refit and saved["refit_of"] == str(out / HELD_OUT_DIR)
    held_probs = DupDetector.load(out / HELD_OUT_DIR, device="cpu").predict(PAIRS)
    probs = refitted.predict(PAIRS)
    assert not np.array_equal(probs, held_probs)
    assert (
        (probs >= refitted.threshold) == [y for *_, y in synthetic_pairs(30, seed=5)]
    ).mean() >= 0.85

    # `dupdetect refit` on the held-out run makes the same model, tensor for tensor.
    assert main(["refit", str(out / HELD_OUT_DIR), "--out", str(tmp_path / "again")]) == 0
    a = load_file(str(out / "model.safetensors"))
    b = load_file(str(tmp_path / "again" / "model.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_refit_lowers_the_lr_where_the_held_out_run_stalled(
    tiny_config: Config, tmp_path: Path
) -> None:
    tiny_config.train.plateau_factor = 0.5
    run = tmp_path / "run"
    train(tiny_config, run)
    best = json.loads((run / "metrics.json").read_text())["best_step"]
    assert best >= 25  # one epoch of 400 pairs in batches of 16
    # Pretend dev stalled at step 12: the refit halves its lr at step round(12 * 1.25) = 15.
    stall = {"event": "eval", "time_s": 0.0, "epoch": 1, "step": 12, "best": False}
    with (run / "train_log.jsonl").open("a") as f:
        f.write(json.dumps(stall) + "\n")
    refit(run, tmp_path / "refit")
    lrs = {r["step"]: r["lr"] for r in _log(tmp_path / "refit", "step")}  # every 5 steps
    lr = tiny_config.train.lr
    assert (lrs[5], lrs[10], lrs[15], lrs[20]) == pytest.approx((lr, lr, lr, lr / 2))


def test_refit_of_an_ensemble_refits_each_member_and_keeps_the_ensembles_threshold(
    tiny_config: Config, tmp_path: Path
) -> None:
    tiny_config.data.dev = None
    tiny_config.model.members = 2
    tiny_config.train.epochs = 2
    tiny_config.train.refit = True
    out = tmp_path / "ens"
    result = train(tiny_config, out)
    held = DupDetector.load(out / HELD_OUT_DIR, device="cpu")
    ensemble = DupDetector.load(out, device="cpu")
    assert isinstance(ensemble.model, Ensemble) and ensemble.threshold == held.threshold
    members = [out / "members" / f"seed{s}" for s in (42, 43)]
    for member in members:  # 300 + 100 held-out pairs (dev_fraction 0.25 of 400)
        assert json.loads((member / "metrics.json").read_text())["train_pairs"] == 400
    singles = [DupDetector.load(m, device="cpu").predict(PAIRS) for m in members]
    np.testing.assert_allclose(ensemble.predict(PAIRS), np.mean(singles, axis=0), atol=1e-6)
    assert (
        result.dev_metrics == json.loads((out / HELD_OUT_DIR / "metrics.json").read_text())["dev"]
    )


def test_refit_of_a_directory_that_is_not_a_finished_run_is_a_clear_error(
    tiny_config: Config, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    assert main(["refit", str(tmp_path / "nothing"), "--out", str(tmp_path / "o")]) == 1
    assert "no such model directory" in capsys.readouterr().err
    tiny_config.train.epochs = 1
    train(tiny_config, tmp_path / "m")
    (tmp_path / "m" / "metrics.json").unlink()  # e.g. a model saved by DupDetector.save
    assert main(["refit", str(tmp_path / "m"), "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert "metrics.json" in err and "not a finished training run" in err
    assert err.count("\n") == 1 and not (tmp_path / "o").exists()
