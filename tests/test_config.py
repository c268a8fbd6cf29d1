from __future__ import annotations

from pathlib import Path

import pytest

from conftest import ROOT
from dupdetect.config import Config, ConfigError, load_config, parse_override

CONFIGS = sorted((ROOT / "configs").glob("*.yaml"))


def test_there_are_recipes() -> None:
    assert {p.name for p in CONFIGS} >= {"tiny.yaml", "lcqmc.yaml", "mrpc.yaml"}


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_every_config_loads_and_starts_with_the_command_that_runs_it(path: Path) -> None:
    cfg = load_config(path)
    assert isinstance(cfg, Config)
    head = path.read_text(encoding="utf-8").splitlines()[:4]
    assert any("dupdetect train --config configs/" + path.name in line for line in head)


def test_overrides_are_typed() -> None:
    cfg = load_config(ROOT / "configs" / "tiny.yaml", ["train.lr=1e-3", "model.hidden_size=7"])
    assert cfg.train.lr == 0.001 and cfg.model.hidden_size == 7
    assert cfg.train.batch_size == 16  # from the recipe
    assert parse_override("data.train=a=b.tsv") == (["data", "train"], "a=b.tsv")


def test_yaml_exponent_without_dot_is_a_float() -> None:
    # PyYAML reads 5e-4 as a string; a float field still accepts it.
    assert load_config(None, ["train.lr=5e-4"]).train.lr == 0.0005


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("train.epochz=3", "unknown key(s) ['epochz']"),
        ("nonsense.x=1", "unknown key(s) ['nonsense']"),
        ("train.epochs=three", "train.epochs: expected int, got 'three'"),
        ("train.epochs=2.5", "train.epochs: expected int, got 2.5"),
        ("train.progress=maybe", "train.progress: expected bool, got 'maybe'"),
        ("train.metric=speed", "train.metric: expected one of"),
        ("model.dropout=1.5", "model.dropout: must be in [0, 1)"),
        ("train.batch_size=0", "train.batch_size: must be >= 1"),
        ("model.members=0", "model.members: must be >= 1"),
        ("data.split_seed=x", "data.split_seed: expected"),
        ("data.folds=1", "data.folds: must be 0 (off) or >= 2"),
        ("data.fold=1", "data.fold: must be in [0, 1) with data.folds=0"),
        ("train.ema_decay=1", "train.ema_decay: must be in [0, 1)"),
        ("train.decay_steps=-1", "train.decay_steps: must be >= 0"),
        ("train.label_smoothing=-0.1", "train.label_smoothing: must be in [0, 1)"),
        ("train.vectors_vocab=true", "train.vectors_vocab: needs train.vectors"),
        ("train.vectors_vocab_limit=5", "train.vectors_vocab_limit: needs train.vectors_vocab"),
        ("train.vectors_vocab_limit=-1", "train.vectors_vocab_limit: must be >= 0"),
        # nan passes every "< 0" check, and torch then fails with a traceback or trains on
        # garbage: non-finite numbers are refused where they are read
        ("train.lr=nan", "train.lr: expected a finite number, got 'nan'"),
        ("train.lr=.inf", "train.lr: expected a finite number, got inf"),
        ("model.dropout=.nan", "model.dropout: expected a finite number"),
        ("train.weight_decay=-0.01", "train.weight_decay: must be >= 0"),
        # a negative max norm flips every gradient's sign (clip_grad_norm_ scales by it)
        ("train.grad_clip=-1", "train.grad_clip: must be > 0"),
        ("train.grad_clip=0", "train.grad_clip: must be > 0"),
        ("train.max_minutes=0", "train.max_minutes: must be > 0 (or null: no cap)"),
        ("train.warmup_steps=-5", "train.warmup_steps: must be >= 0"),
        ("train.eval_every=-1", "train.eval_every: must be >= 0"),
        ("train.patience=0", "train.patience: must be >= 1"),
        ("train.plateau_factor=0", "train.plateau_factor: must be in (0, 1]"),
        ("train.plateau_factor=2", "train.plateau_factor: must be in (0, 1]"),
        ("data.max_train_pairs=0", "data.max_train_pairs: must be >= 1"),
        ("data.max_dev_pairs=-1", "data.max_dev_pairs: must be >= 1"),
        ("train", "expected key=value"),
    ],
)
def test_bad_overrides_are_clear_errors(override: str, message: str) -> None:
    with pytest.raises(ConfigError, match=None) as err:
        load_config(None, [override])
    assert message in str(err.value)


def test_the_limits_themselves_are_allowed() -> None:
    cfg = load_config(
        None,
        ["train.max_minutes=null", "train.plateau_factor=1", "train.weight_decay=0",
         "train.eval_every=0", "data.max_train_pairs=1", "data.max_dev_pairs=null"],
    )  # fmt: skip
    assert (cfg.train.max_minutes, cfg.train.plateau_factor, cfg.data.max_train_pairs) == (
        None, 1.0, 1,
    )  # fmt: skip


def test_folds_need_train_to_cut_dev_from() -> None:
    assert load_config(None, ["data.folds=5", "data.fold=4"]).data.fold == 4
    with pytest.raises(ConfigError, match=r"data.fold: must be in \[0, 5\)"):
        load_config(None, ["data.folds=5", "data.fold=5"])
    with pytest.raises(ConfigError, match=r"cannot go with data\.dev"):
        load_config(None, ["data.folds=5", "data.dev=dev.tsv"])


def test_a_key_given_twice_in_a_recipe_is_an_error(tmp_path: Path) -> None:
    # PyYAML keeps the last of two equal keys: the first train section was dropped silently
    path = tmp_path / "twice.yaml"
    path.write_text("train:\n  lr: 0.1\nmodel:\n  dropout: 0.2\ntrain:\n  epochs: 3\n")
    with pytest.raises(ConfigError, match=r"twice.yaml:5: key 'train' appears twice"):
        load_config(path)
    path.write_text("train:\n  lr: 0.1\n  lr: 0.2\n")
    with pytest.raises(ConfigError, match=r"twice.yaml:3: key 'lr' appears twice"):
        load_config(path)


def test_bad_recipe_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("train:\n  epochs: [1, 2]\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value).startswith(f"{path}: train.epochs: expected int")
    with pytest.raises(ConfigError, match="cannot read config"):
        load_config(tmp_path / "missing.yaml")


def test_a_logistic_threshold_fit_is_for_accuracy_only() -> None:
    assert load_config(None, ["train.threshold_fit=logistic"]).train.threshold_fit == "logistic"
    with pytest.raises(ConfigError, match=r"needs train\.threshold_metric=accuracy, got f1"):
        load_config(None, ["train.threshold_fit=logistic", "train.threshold_metric=f1"])
    with pytest.raises(ConfigError, match=r"train\.threshold_fit: expected one of"):
        load_config(None, ["train.threshold_fit=median"])
