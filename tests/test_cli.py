"""The command line end to end on configs/tiny.yaml, and its errors on bad input."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from conftest import ROOT
from dupdetect.cli import main
from dupdetect.detector import SAME_AS, DupDetector
from dupdetect.model import Ensemble

TINY = str(ROOT / "configs" / "tiny.yaml")


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from conftest import synthetic_pairs, write_tsv

    tmp = tmp_path_factory.mktemp("cli")
    train = write_tsv(tmp / "train.tsv", synthetic_pairs(300, seed=1))
    dev = write_tsv(tmp / "dev.tsv", synthetic_pairs(80, seed=2))
    out = tmp / "model"
    args = ["train", "--config", TINY, "--train", str(train), "--dev", str(dev), "--out", str(out)]
    assert main([*args, "train.epochs=2", "--device", "cpu"]) == 0
    return out


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_evaluate_prints_a_table_and_json(model_dir: Path, capsys: pytest.CaptureFixture) -> None:
    data = str(model_dir.parent / "dev.tsv")
    code, out, _ = run(["evaluate", str(model_dir), data], capsys)
    assert code == 0 and "accuracy" in out and "confusion matrix" in out
    code, out, _ = run(["evaluate", str(model_dir), data, "--json", "--threshold", "0.3"], capsys)
    metrics = json.loads(out)
    assert code == 0 and metrics["threshold"] == 0.3 and metrics["pairs"] == 80
    for key in ("accuracy", "precision", "recall", "f1", "roc_auc", "average_precision",
                "log_loss", "confusion_matrix"):  # fmt: skip
        assert key in metrics
    assert sum(metrics["confusion_matrix"].values()) == 80


def test_predict_two_texts(model_dir: Path, capsys: pytest.CaptureFixture) -> None:
    code, out, _ = run(["predict", str(model_dir), "buy a new phone", "phone new buy a"], capsys)
    assert code == 0 and out.startswith("P(duplicate) = ") and "threshold" in out
    assert 0.0 <= float(out.split()[2]) <= 1.0


def test_predict_a_file_and_stdin(
    model_dir: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("how to learn python\tlearn python how\nbig car\tsmall house\n")
    code, out, _ = run(["predict", str(model_dir), "--pairs", str(pairs)], capsys)
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [r["text_b"] for r in rows] == ["learn python how", "small house"]
    assert all(0 <= r["probability"] <= 1 and isinstance(r["duplicate"], bool) for r in rows)

    import io

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(pairs.read_bytes())))
    code, out_stdin, _ = run(["predict", str(model_dir), "--pairs", "-"], capsys)
    assert code == 0 and out_stdin == out

    target = tmp_path / "out.jsonl"
    code, _, err = run(
        ["predict", str(model_dir), "--pairs", str(pairs), "-o", str(target)], capsys
    )
    assert code == 0 and target.read_text() == out and "wrote 2 predictions" in err


def test_predict_reports_blank_lines_passed_over(
    model_dir: Path, capsys: pytest.CaptureFixture, tmp_path: Path
) -> None:
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("big car\tsmall house\n\n\nhow old\told how\n")
    code, out, err = run(["predict", str(model_dir), "--pairs", str(pairs)], capsys)
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [(r["line"], r["text_a"]) for r in rows] == [
        (1, "big car"),
        (4, "how old"),
    ]
    assert f"{pairs}: skipped 2 blank lines\n" in err


def test_installed_entry_point_runs(model_dir: Path) -> None:
    exe = shutil.which("dupdetect") or shutil.which(
        "dupdetect", path=str(Path(sys.executable).parent)
    )
    assert exe, "the dupdetect console script is not installed (pip install -e .)"
    proc = subprocess.run(
        [exe, "predict", str(model_dir), "how old", "old how"], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("P(duplicate) = ")


# --- bad input: one clear line naming the problem, exit status 1, no traceback -------------


def _error(args: list[str], capsys: pytest.CaptureFixture) -> str:
    code, _, err = run(args, capsys)
    assert code == 1, err
    assert "Traceback" not in err
    return err.strip().splitlines()[-1]


def test_bad_row_names_file_and_line(
    model_dir: Path, capsys: pytest.CaptureFixture, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.tsv"
    bad.write_text("a b\tc d\t1\ne f\tg h\t2\n")
    err = _error(["evaluate", str(model_dir), str(bad)], capsys)
    assert f"{bad}:2:" in err and "label" in err
    code, out, err = run(
        ["evaluate", str(model_dir), str(bad), "--skip-bad-rows", "--json"], capsys
    )
    assert code == 0 and json.loads(out)["pairs"] == 1 and f"{bad}: skipped 1 bad row\n" in err


def test_empty_text_is_an_error(model_dir: Path, capsys: pytest.CaptureFixture, tmp_path: Path):
    bad = tmp_path / "empty.tsv"
    bad.write_text("a b\t \t1\n")
    assert f"{bad}:1:" in _error(["evaluate", str(model_dir), str(bad)], capsys)
    assert "non-empty" in _error(["predict", str(model_dir), "hello", "  "], capsys)


def test_missing_and_corrupt_model_directories(
    model_dir: Path, capsys: pytest.CaptureFixture, tmp_path: Path
) -> None:
    err = _error(["predict", str(tmp_path / "nope"), "a", "b"], capsys)
    assert "no such model directory" in err
    broken = tmp_path / "broken"
    shutil.copytree(model_dir, broken)
    (broken / "tokenizer.json").unlink()
    assert "tokenizer.json: missing" in _error(["predict", str(broken), "a", "b"], capsys)
    shutil.copy(model_dir / "tokenizer.json", broken)
    (broken / "model.safetensors").write_bytes(b"not a safetensors file")
    assert "model.safetensors: cannot be read" in _error(["predict", str(broken), "a", "b"], capsys)
    (broken / "config.json").write_text("{not json")
    assert "config.json: not a dupdetect config" in _error(
        ["predict", str(broken), "a", "b"], capsys
    )


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        # a saved threshold of nan called every pair "not duplicate", silently
        (lambda d: _edit_config(d, threshold=float("nan")), "threshold must be in [0, 1], got nan"),
        (lambda d: _edit_config(d, threshold=3), "threshold must be in [0, 1], got 3.0"),
        (lambda d: (d / "config.json").write_text("[1]"), "expected a JSON object"),
        # another model's tokenizer gives ids past the embedding table: IndexError mid-scoring
        (lambda d: _edit_config(d, vocab_size=10), "token ids do not fit config.json's"),
        (
            lambda d: (d / "tokenizer.json").write_text(
                '{"version": "1.0", "model": {"type": "WordLevel", "vocab": {"a": 0}, '
                '"unk_token": "[UNK]"}}'
            ),
            "tokenizer.json: cannot be read: not a dupdetect tokenizer",
        ),
    ],
    ids=["nan threshold", "threshold 3", "not an object", "vocab size differs", "no [UNK]"],
)
def test_damaged_model_files_are_one_clear_error(
    model_dir: Path, capsys: pytest.CaptureFixture, tmp_path: Path, damage, message: str
) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(model_dir, broken)
    damage(broken)
    assert message in _error(["predict", str(broken), "a", "b"], capsys)


def _edit_config(directory: Path, threshold: float | None = None, vocab_size: int = 0) -> None:
    meta = json.loads((directory / "config.json").read_text())
    if threshold is not None:
        meta["threshold"] = threshold
    if vocab_size:
        meta["model"]["vocab_size"] = vocab_size
    (directory / "config.json").write_text(json.dumps(meta))  # writes nan as NaN, as json reads


def test_an_ensembles_shared_frozen_table_is_stored_once(
    model_dir: Path, capsys: pytest.CaptureFixture, tmp_path: Path
) -> None:
    trained = DupDetector.load(model_dir, device="cpu")
    config = trained.config
    config.model.members = 3
    torch.manual_seed(0)
    ensemble = Ensemble(config.model)
    for member in ensemble.members:  # one frozen table, as train.freeze_embedding leaves it
        member.load_state_dict(trained.model.state_dict())
    with torch.no_grad():
        ensemble.members[1].embedding.table.weight[1] += 1.0  # its own [UNK] row
        ensemble.members[2].head.out[2].bias += 1.0  # (1,): not worth a difference
    DupDetector(ensemble, trained.tokenizer, config).save(tmp_path / "ens")
    table = "members.1.embedding.table.weight"
    with safe_open(str(tmp_path / "ens" / "model.safetensors"), "pt") as f:
        same = json.loads(f.metadata()[SAME_AS])
        assert f.get_tensor(f"{table}.row_index").tolist() == [1]
        assert f.get_tensor(f"{table}.rows").shape == (1, config.model.embedding_dim)
        assert f.get_slice("members.2.embedding.table.weight.rows").get_shape()[0] == 0
        stored = {k for k in f.keys() if not k.endswith((".rows", ".row_index"))}  # noqa: SIM118
    assert table in same and "members.2.head.out.2.bias" not in same
    assert stored.isdisjoint(same) and stored | set(same) == set(ensemble.state_dict())
    loaded = DupDetector.load(tmp_path / "ens", device="cpu").model.state_dict()
    for key, value in ensemble.state_dict().items():
        assert torch.equal(loaded[key], value), key
    pairs = [("how do i cook rice", "how to cook rice"), ("a b", "c")]
    assert np.array_equal(
        DupDetector.load(tmp_path / "ens", device="cpu").predict(pairs),
        DupDetector(ensemble.eval(), trained.tokenizer, config).predict(pairs),
    )
    tensors = load_file(str(tmp_path / "ens" / "model.safetensors"))
    save_file(tensors, str(tmp_path / "ens" / "model.safetensors"), {SAME_AS: '{"x": "y"}'})
    err = _error(["predict", str(tmp_path / "ens"), "a", "b"], capsys)
    assert "model.safetensors: bad same_as metadata" in err


def test_weights_that_do_not_fit_the_config(
    model_dir: Path, capsys: pytest.CaptureFixture, tmp_path: Path
) -> None:
    broken = tmp_path / "resized"
    shutil.copytree(model_dir, broken)
    cfg = json.loads((broken / "config.json").read_text())
    cfg["model"]["hidden_size"] += 1
    (broken / "config.json").write_text(json.dumps(cfg))
    assert "weights do not fit config.json" in _error(["predict", str(broken), "a", "b"], capsys)


def test_bad_config_and_missing_train_file(capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    err = _error(["train", "--config", TINY, "train.epochz=1"], capsys)
    assert "unknown key(s) ['epochz']" in err and "tiny.yaml" in err
    assert "no training file" in _error(["train", "--config", TINY], capsys)
    missing = tmp_path / "missing.tsv"
    assert "no such file" in _error(["train", "--config", TINY, "--train", str(missing)], capsys)


def test_unknown_device_is_an_error(model_dir: Path, capsys: pytest.CaptureFixture) -> None:
    assert "unknown device" in _error(
        ["predict", str(model_dir), "a", "b", "--device", "tpu"], capsys
    )


@pytest.mark.parametrize(
    ("option", "value"),
    [("--threshold", "nan"), ("--threshold", "1.5"), ("--threshold", "high"),
     ("--batch-size", "0"), ("--batch-size", "-3"), ("--batch-size", "2.5")],
)  # fmt: skip
def test_bad_scoring_options_are_refused_before_any_scoring(
    model_dir: Path, capsys: pytest.CaptureFixture, option: str, value: str
) -> None:
    # --batch-size -3 once printed probabilities of 1e+233: no batch was scored, and the
    # output array was never filled. --threshold nan called every pair "not duplicate".
    for command in (["predict", str(model_dir), "a b", "b a"],
                    ["evaluate", str(model_dir), str(model_dir.parent / "dev.tsv")]):  # fmt: skip
        with pytest.raises(SystemExit) as exit_info:
            main([*command, option, value])
        assert exit_info.value.code == 2
        assert f"argument {option}: must be" in capsys.readouterr().err


def test_the_api_refuses_what_it_cannot_score_whole(model_dir: Path) -> None:
    detector = DupDetector.load(model_dir, device="cpu")
    with pytest.raises(ValueError, match="batch_size must be >= 1, got 0"):
        detector.predict([("a b", "b a")], batch_size=0)
    # a third text was dropped silently; a bare string failed deep inside with AttributeError
    with pytest.raises(
        TypeError, match=r"pair 1: expected \(text_a, text_b\), got \('a', 'b', 'c'\)"
    ):
        detector.predict([("a b", "b a"), ("a", "b", "c")])
    with pytest.raises(TypeError, match="pair 0: expected"):
        detector.predict([{"text_a": "a", "text_b": "b"}])
    with pytest.raises(TypeError, match="got one string"):
        detector.predict("a b")
    assert detector.predict([["a b", "b a"]]) == pytest.approx(detector.predict([("a b", "b a")]))


def test_scoring_chunk_by_chunk_gives_each_pair_its_own_score(
    model_dir: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dupdetect.detector

    detector = DupDetector.load(model_dir, device="cpu")
    pairs = [(f"buy a new phone {'x ' * (i % 4)}", f"phone {i}") for i in range(8)]
    chunks = list(detector.encode_chunks(iter(pairs), size=3))  # a generator: never held whole
    assert [len(chunk) for chunk in chunks] == [3, 3, 2]
    by_chunk = np.concatenate([detector.predict_encoded(chunk) for chunk in chunks])
    np.testing.assert_allclose(by_chunk, detector.predict(pairs), atol=1e-6)
    with pytest.raises(ValueError, match="pair 4: text_b must be a non-empty string"):
        list(detector.encode_chunks([*pairs[:4], ("a", " ")], size=3))  # counted across chunks

    dev = str(model_dir.parent / "dev.tsv")  # 80 pairs: one chunk, then chunks of 7
    whole = json.loads(run(["evaluate", str(model_dir), dev, "--json"], capsys)[1])
    monkeypatch.setattr(dupdetect.detector, "ENCODE_CHUNK", 7)
    chunked = json.loads(run(["evaluate", str(model_dir), dev, "--json"], capsys)[1])
    for key in ("pairs", "confusion_matrix", "by_length", "by_overlap"):
        assert chunked[key] == whole[key]
    assert chunked["log_loss"] == pytest.approx(whole["log_loss"], abs=1e-6)


def test_texts_cut_to_the_models_length_are_reported(
    model_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    detector = DupDetector.load(model_dir, device="cpu")
    limit = detector.config.tokenizer.max_length
    long = " ".join(["phone"] * (limit + 5))
    with caplog.at_level("INFO", logger="dupdetect"):
        detector.predict([("buy a phone", "a phone"), (long, "phone"), ("car", long)])
        detector.predict([("buy a phone", "a phone")])
    cut = [r.message for r in caplog.records if "tokens past it" in r.message]
    assert cut == [f"pairs 0-2: 2 of 6 texts reach the model's {limit} tokens; tokens past it "
                   "are not scored"]  # fmt: skip


def test_an_output_that_cannot_be_written_fails_before_scoring(
    model_dir: Path, capsys: pytest.CaptureFixture, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dupdetect.cli as cli

    def no_loading(*args: object, **kwargs: object) -> None:
        raise AssertionError("the model was loaded before the output path was checked")

    monkeypatch.setattr(cli.DupDetector, "load", no_loading)
    dev, missing = str(model_dir.parent / "dev.tsv"), str(tmp_path / "no" / "out.jsonl")
    for command, message in (
        (["evaluate", str(model_dir), dev, "--errors", str(tmp_path)], "is a directory"),
        (["evaluate", str(model_dir), dev, "--errors", missing], f"{tmp_path / 'no'} does not"),
        (["predict", str(model_dir), "--pairs", dev, "-o", str(tmp_path)], "is a directory"),
        (["plot", str(model_dir), "-o", str(tmp_path / "no" / "c.png")], "does not exist"),
        (["train", "--config", TINY, "--out", dev], "dev.tsv: is a file; --out names the model"),
    ):
        assert message in _error(command, capsys)


def test_train_stopped_by_ctrl_c_saves_a_whole_model_and_exits_130(
    model_dir: Path, capsys: pytest.CaptureFixture, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os
    import signal

    import dupdetect.train as train_module

    real_step = train_module.train_step

    def step_with_ctrl_c(*args: object, **kwargs: object) -> float:
        os.kill(os.getpid(), signal.SIGINT)
        return real_step(*args, **kwargs)

    monkeypatch.setattr(train_module, "train_step", step_with_ctrl_c)
    data, out = model_dir.parent, tmp_path / "m"
    args = ["train", "--config", TINY, "--train", str(data / "train.tsv"), "--dev"]
    with pytest.raises(SystemExit) as exit_info:  # 130: a script running it stops too
        main([*args, str(data / "dev.tsv"), "--out", str(out), "--device", "cpu"])
    assert exit_info.value.code == 130
    assert f"interrupted; {out} holds the best checkpoint" in capsys.readouterr().err
    assert json.loads((out / "metrics.json").read_text())["steps"] == 1
    assert DupDetector.load(out, device="cpu").predict([("a b", "b a")]).shape == (1,)


def test_predict_needs_two_texts_or_a_file(model_dir: Path) -> None:
    with pytest.raises(SystemExit, match="give two texts"):
        main(["predict", str(model_dir), "only one"])


def test_evaluate_breakdown_and_errors_file(
    model_dir: Path, capsys: pytest.CaptureFixture, tmp_path: Path
) -> None:
    data, errors = str(model_dir.parent / "dev.tsv"), tmp_path / "errors.jsonl"
    code, out, err = run(
        ["evaluate", str(model_dir), data, "--json", "--errors", str(errors)], capsys
    )
    metrics = json.loads(out)
    assert code == 0 and "misclassified pairs" in err
    assert sum(r["pairs"] for r in metrics["by_length"]) == 80
    assert sum(r["pairs"] for r in metrics["by_overlap"]) == 80
    wrong = [json.loads(line) for line in errors.read_text().splitlines()]
    assert len(wrong) == metrics["confusion_matrix"]["fp"] + metrics["confusion_matrix"]["fn"]
    assert all((r["probability"] >= metrics["threshold"]) != bool(r["label"]) for r in wrong)
    lines = Path(data).read_text().splitlines()  # no header: pair i is on line i + 1
    assert all(r["line"] == r["index"] + 1 for r in wrong)
    assert all(lines[r["line"] - 1].startswith(r["text_a"] + "\t") for r in wrong)
    code, out, _ = run(["evaluate", str(model_dir), data], capsys)
    assert "token overlap" in out and "longer text length" in out


def test_plot_writes_a_png(model_dir: Path, capsys: pytest.CaptureFixture, tmp_path: Path) -> None:
    target = tmp_path / "curves.png"
    code, out, _ = run(["plot", str(model_dir), "-o", str(target)], capsys)
    assert code == 0 and "wrote" in out and target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_train_an_ensemble_then_evaluate_and_plot_it(
    model_dir: Path, capsys: pytest.CaptureFixture, tmp_path: Path
) -> None:
    data = model_dir.parent
    out = tmp_path / "ens"
    args = ["train", "--config", TINY, "--train", str(data / "train.tsv"), "--dev"]
    code, printed, _ = run(
        [*args, str(data / "dev.tsv"), "--out", str(out), "model.members=2", "train.epochs=1"],
        capsys,
    )
    assert code == 0 and "member 1 (" in printed and "member 2 (" in printed
    code, printed, _ = run(["evaluate", str(out), str(data / "dev.tsv"), "--json"], capsys)
    assert code == 0 and json.loads(printed)["pairs"] == 80
    code, printed, _ = run(["plot", str(out)], capsys)
    assert code == 0 and (out / "curves.png").is_file()


def test_ensemble_of_separately_trained_models(
    model_dir: Path, capsys: pytest.CaptureFixture, tmp_path: Path
) -> None:
    data = model_dir.parent
    args = ["train", "--config", TINY, "--train", str(data / "train.tsv"), "--dev"]
    args += [str(data / "dev.tsv"), "--device", "cpu", "--out"]
    other, wider = tmp_path / "seed43", tmp_path / "wider"
    assert run([*args, str(other), "train.epochs=1", "train.seed=43"], capsys)[0] == 0
    assert run([*args, str(wider), "train.epochs=1", "model.hidden_size=7"], capsys)[0] == 0

    out = tmp_path / "ens"
    code, printed, _ = run(["ensemble", str(model_dir), str(other), "--out", str(out)], capsys)
    assert code == 0 and "dev metrics of the ensemble" in printed
    assert f"member {other}: dev accuracy" in printed
    pairs = [("how do i learn python", "what is the best way to learn python"), ("a b", "c d")]
    singles = [DupDetector.load(d, device="cpu").predict(pairs) for d in (model_dir, other)]
    ensemble = DupDetector.load(out, device="cpu")
    assert isinstance(ensemble.model, Ensemble) and len(ensemble.model.members) == 2
    np.testing.assert_allclose(ensemble.predict(pairs), np.mean(singles, axis=0), atol=1e-6)
    saved = json.loads((out / "metrics.json").read_text())
    assert [m["dir"] for m in saved["members"]] == [str(model_dir), str(other)]
    assert saved["train_seconds"] == pytest.approx(
        sum(m["train_seconds"] for m in saved["members"])
    )
    code, printed, _ = run(["evaluate", str(out), str(data / "dev.tsv"), "--json"], capsys)
    assert code == 0 and json.loads(printed)["accuracy"] == pytest.approx(saved["dev"]["accuracy"])

    for members, message in (
        ([model_dir], "needs at least 2 model directories"),
        ([model_dir, wider], f"{wider}: differs from {model_dir} in model.hidden_size"),
        ([model_dir, out], f"{out}: is an ensemble already"),
        ([model_dir, tmp_path / "nowhere"], "no such model directory"),
        ([model_dir, other, model_dir / "."], f"{model_dir}: given twice"),
    ):
        code, _, err = run(["ensemble", *map(str, members), "--out", str(tmp_path / "x")], capsys)
        assert code == 1 and message in err and len(err.strip().splitlines()) == 1, err
    code, _, err = run(["ensemble", str(model_dir), str(other), "--out", str(other)], capsys)
    assert code == 1 and "is one of the members" in err

    moved = []  # members whose relative data paths do not resolve from here
    for k, member in enumerate((model_dir, other)):
        moved.append(shutil.copytree(member, tmp_path / f"moved{k}"))
        meta = json.loads((moved[-1] / "config.json").read_text())
        meta["data"].update(train="data/train.tsv", dev="data/dev.tsv")
        (moved[-1] / "config.json").write_text(json.dumps(meta))
    err = _error(["ensemble", *map(str, moved), "--out", str(tmp_path / "y")], capsys)
    assert err.endswith("data/train.tsv: no such file (the ensemble re-reads its members' dev "
                        "pairs to tune its threshold; their data paths are relative to the "
                        "directory they were trained from)")  # fmt: skip
