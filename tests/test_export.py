"""The ONNX export and the ONNX Runtime backends: parity with torch, dynamic shapes, the CLI,
and the errors. Runs in CI (scripts/install.sh installs the `onnx` extra)."""

from __future__ import annotations

import contextlib
import io
import json
import random
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import ROOT, WORDS, synthetic_pairs, tiny_model_config, write_tsv
from dupdetect import DupDetector
from dupdetect.cli import main
from dupdetect.export import (
    EXAMPLE,
    INT8_FILE,
    ONNX_FILE,
    ExportError,
    _HalvesMode,
    export_onnx,
    exportable,
)
from dupdetect.model import ESIM, build_model

TINY = str(ROOT / "configs" / "tiny.yaml")
FP32_TOLERANCE = 1e-5  # |P(onnx) - P(torch)|; measured 3.6e-7 here, 1.9e-6 on LCQMC (300-d)
INT8_TOLERANCE = 0.05  # |P(int8) - P(torch)|; 0.012 here (7-bit weights; 8-bit: 0.096 on AVX2)


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A tiny trained model (exact-match features on: every branch of the ESIM), exported
    through the CLI with --int8; and what the export printed."""
    tmp = tmp_path_factory.mktemp("export")
    train = write_tsv(tmp / "train.tsv", synthetic_pairs(300, seed=1))
    dev = write_tsv(tmp / "dev.tsv", synthetic_pairs(80, seed=2))
    out = tmp / "model"
    args = ["train", "--config", TINY, "--train", str(train), "--dev", str(dev), "--out", str(out)]
    assert main([*args, "train.epochs=2", "model.exact_match=true", "--device", "cpu"]) == 0
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        assert main(["export", str(out), "--format", "onnx", "--int8"]) == 0
    return out, printed.getvalue()


@pytest.fixture(scope="module")
def model_dir(exported: tuple[Path, str]) -> Path:
    return exported[0]


def many_lengths() -> list[tuple[str, str]]:
    """Pairs from 1 word to past the 32-token truncation, either text the longer one."""
    rng = random.Random(7)
    pairs = [(a, b) for a, b, _ in synthetic_pairs(120, seed=3)]
    for _ in range(120):
        a, b = rng.randint(1, 40), rng.randint(1, 40)
        pairs.append((" ".join(rng.choices(WORDS, k=a)), " ".join(rng.choices(WORDS, k=b))))
    return pairs


def test_lengths_differ_from_the_export_example() -> None:
    """The parity tests below would prove nothing about dynamic shapes otherwise: they use
    batches of 1, 7 and 11 pairs and texts of 1 to 32 tokens (truncated), the export
    example 2 pairs of 2 to 5."""
    words = [len(t.split()) for pair in many_lengths() for t in pair]
    assert min(words) == 1 and max(words) > 32
    assert len(EXAMPLE[0]) == 2 and max(EXAMPLE[0] + EXAMPLE[1]) <= 5


def test_export_stand_ins_compute_the_same_model() -> None:
    """The export-time LSTM (ONNX gate order) and chunk rewrite change no number."""
    model = ESIM(tiny_model_config(exact_match=True, overlap_features=True)).eval()
    g = torch.Generator().manual_seed(0)
    a, b = torch.randint(1, 50, (5, 9), generator=g), torch.randint(1, 50, (5, 4), generator=g)
    a[1, 3:] = 0
    b[2, 1:] = 0
    with torch.inference_mode():
        want = model(a, b)
        with _HalvesMode():
            got = exportable(model)(a, b)
    torch.testing.assert_close(got, want, rtol=0, atol=1e-6)


def test_onnx_matches_torch_at_other_batch_sizes_and_lengths(model_dir: Path) -> None:
    pairs = many_lengths()
    want = DupDetector.load(model_dir, device="cpu").predict(pairs)
    onnx = DupDetector.load(model_dir, backend="onnx")
    for batch_size in (7, 256):  # the export example had 2 pairs
        got = onnx.predict(pairs, batch_size=batch_size)
        assert got.dtype == np.float64 and got.shape == want.shape
        assert np.abs(got - want).max() <= FP32_TOLERANCE


def test_onnx_single_pair_equals_its_batch_row(model_dir: Path) -> None:
    onnx = DupDetector.load(model_dir, backend="onnx")
    pairs = many_lengths()[::12]
    batch = onnx.predict(pairs)
    alone = np.array([onnx.predict([pair])[0] for pair in pairs])
    assert np.abs(alone - batch).max() <= 1e-6


def test_int8_runs_and_stays_close(model_dir: Path) -> None:
    """int8 dynamic quantisation picks each batch's activation scale, so an int8 score also
    moves a little with its batch-mates; both effects stay within INT8_TOLERANCE."""
    pairs = many_lengths()
    torch_detector = DupDetector.load(model_dir, device="cpu")
    want = torch_detector.predict(pairs)
    int8 = DupDetector.load(model_dir, backend="onnx-int8")
    got = int8.predict(pairs, batch_size=7)
    assert ((got >= 0) & (got <= 1)).all()
    assert np.abs(got - want).max() <= INT8_TOLERANCE
    alone = np.array([int8.predict([pair])[0] for pair in pairs[::12]])
    assert np.abs(alone - want[::12]).max() <= INT8_TOLERANCE
    assert (model_dir / INT8_FILE).stat().st_size < (model_dir / ONNX_FILE).stat().st_size


@pytest.mark.parametrize(
    "wiring",
    [
        {"exact_match": False},
        {"overlap_features": True},
        {"members": 2},
        {"composition": "feedforward"},
        {"composition": "feedforward", "comparison_dropout": "inputs"},
        {"composition": "feedforward", "comparison_dropout": "folded"},
        {"attention": "projected", "self_attention": True},
    ],
    ids=[
        "no_exact_match",
        "overlap_features",
        "ensemble",
        "feedforward",
        "input_dropout",
        "folded_dropout",
        "projected_self_attention",
    ],
)
def test_other_wirings_export_through_the_api(
    model_dir: Path, tmp_path: Path, wiring: dict[str, bool | str]
) -> None:
    """The other ESIM wirings (no exact-match branch; pair-level overlap features into the
    head; an ensemble of two; the feed-forward composition, also with the comparison's dropout
    on its inputs or its folded features, whose config must survive save and export; learned
    Q/K/V projections with self-attention),
    untrained weights, Python API."""
    trained = DupDetector.load(model_dir, device="cpu")
    config = trained.config
    for key, value in wiring.items():
        setattr(config.model, key, value)
    torch.manual_seed(3)
    DupDetector(build_model(config.model), trained.tokenizer, config).save(tmp_path)
    assert export_onnx(tmp_path) == tmp_path / ONNX_FILE
    assert not (tmp_path / INT8_FILE).exists()
    pairs = many_lengths()
    want = DupDetector.load(tmp_path, device="cpu").predict(pairs)
    got = DupDetector.load(tmp_path, backend="onnx").predict(pairs, batch_size=11)
    assert np.abs(got - want).max() <= FP32_TOLERANCE


# --- the command line ---------------------------------------------------------------


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def _error(args: list[str], capsys: pytest.CaptureFixture) -> str:
    code, _, err = run(args, capsys)
    assert code == 1, err
    assert "Traceback" not in err
    return err.strip().splitlines()[-1]


def test_cli_export_prints_files_and_sizes(exported: tuple[Path, str]) -> None:
    model_dir, out = exported
    for name in (ONNX_FILE, INT8_FILE):
        assert f"wrote {model_dir / name} (" in out and (model_dir / name).is_file()
    assert "kB" in out and "--backend onnx-int8" in out
    assert not list(model_dir.glob(".export-*")), "scratch folder left behind"


def test_cli_predict_with_onnx(model_dir: Path, capsys: pytest.CaptureFixture, tmp_path: Path):
    texts = ["how to learn python", "learn python how"]
    outputs = {}
    for backend in ("torch", "onnx", "onnx-int8"):
        code, out, _ = run(["predict", str(model_dir), *texts, "--backend", backend], capsys)
        assert code == 0 and out.startswith("P(duplicate) = ")
        outputs[backend] = float(out.split()[2])
    assert abs(outputs["onnx"] - outputs["torch"]) <= 1e-4  # 4 decimals printed
    assert abs(outputs["onnx-int8"] - outputs["torch"]) <= INT8_TOLERANCE

    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("how to learn python\tlearn python how\nbig car\tsmall house\n")
    rows = {}
    for backend in ("torch", "onnx"):
        code, out, _ = run(
            ["predict", str(model_dir), "--pairs", str(pairs), "--backend", backend], capsys
        )
        assert code == 0
        rows[backend] = [json.loads(line) for line in out.splitlines()]
    assert [r["text_b"] for r in rows["onnx"]] == ["learn python how", "small house"]
    for o, t in zip(rows["onnx"], rows["torch"], strict=True):
        assert abs(o["probability"] - t["probability"]) <= FP32_TOLERANCE + 1e-6  # rounded
        assert o["duplicate"] == t["duplicate"]


def test_cli_evaluate_with_onnx(model_dir: Path, capsys: pytest.CaptureFixture) -> None:
    data = str(model_dir.parent / "dev.tsv")
    metrics = {}
    for backend in ("torch", "onnx", "onnx-int8"):
        code, out, _ = run(
            ["evaluate", str(model_dir), data, "--json", "--backend", backend], capsys
        )
        assert code == 0
        metrics[backend] = json.loads(out)
    torch_m, onnx_m = metrics["torch"], metrics["onnx"]
    assert onnx_m["pairs"] == 80 and onnx_m["confusion_matrix"] == torch_m["confusion_matrix"]
    assert abs(onnx_m["log_loss"] - torch_m["log_loss"]) <= 1e-5
    assert abs(onnx_m["roc_auc"] - torch_m["roc_auc"]) <= 1e-9
    assert abs(metrics["onnx-int8"]["accuracy"] - torch_m["accuracy"]) <= 0.05


# --- errors: one clear line, exit status 1 ------------------------------------------


def test_missing_export_is_a_clear_error(
    model_dir: Path, capsys: pytest.CaptureFixture, tmp_path: Path
) -> None:
    bare = tmp_path / "bare"
    shutil.copytree(model_dir, bare, ignore=shutil.ignore_patterns("*.onnx"))
    err = _error(["predict", str(bare), "a b", "c d", "--backend", "onnx"], capsys)
    assert f"{bare / ONNX_FILE}: missing" in err
    assert f"run dupdetect export {bare} --format onnx first" in err
    data = str(model_dir.parent / "dev.tsv")
    err = _error(["evaluate", str(bare), data, "--backend", "onnx-int8"], capsys)
    assert f"{bare / INT8_FILE}: missing" in err and "--format onnx --int8 first" in err


def test_unknown_backend(model_dir: Path) -> None:
    with pytest.raises(SystemExit):
        main(["predict", str(model_dir), "a", "b", "--backend", "tensorrt"])
    with pytest.raises(ValueError, match="unknown backend"):
        DupDetector.load(model_dir, backend="tensorrt")


def test_export_of_other_weights_is_refused(
    model_dir: Path, capsys: pytest.CaptureFixture, tmp_path: Path
) -> None:
    """A model retrained or edited in place must not be scored by its old export."""
    edited = tmp_path / "edited"
    shutil.copytree(model_dir, edited)
    detector = DupDetector.load(edited, device="cpu")
    with torch.no_grad():
        detector.model.head.hidden.bias += 1.0
    detector.save(edited)
    err = _error(["predict", str(edited), "a b", "c d", "--backend", "onnx"], capsys)
    assert "exported from other weights" in err and f"run dupdetect export {edited}" in err


def test_corrupt_export_is_a_clear_error(
    model_dir: Path, capsys: pytest.CaptureFixture, tmp_path: Path
) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(model_dir, broken)
    (broken / ONNX_FILE).write_bytes(b"not an onnx file")
    err = _error(["predict", str(broken), "a b", "c d", "--backend", "onnx"], capsys)
    assert f"{broken / ONNX_FILE}: cannot be read by ONNX Runtime" in err


def test_without_onnxruntime(
    model_dir: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import fails as if not installed
    err = _error(["predict", str(model_dir), "a b", "c d", "--backend", "onnx"], capsys)
    assert "needs onnxruntime: pip install 'dupdetect[onnx]'" in err
    err = _error(["export", str(model_dir)], capsys)
    assert "needs onnxruntime: pip install 'dupdetect[onnx]'" in err


def test_a_graph_that_disagrees_with_torch_is_not_written(
    model_dir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The check after export: here the "export" yields another model's graph."""
    import dupdetect.export

    other = tmp_path / "other"
    shutil.copytree(model_dir, other, ignore=shutil.ignore_patterns("*.onnx"))
    detector = DupDetector.load(other, device="cpu")
    torch.manual_seed(5)
    DupDetector(ESIM(detector.config.model), detector.tokenizer, detector.config).save(other)
    monkeypatch.setattr(
        dupdetect.export,
        "_export_graph",
        lambda m, target, d: shutil.copy(model_dir / ONNX_FILE, target),
    )
    with pytest.raises(ExportError, match="differs from the torch model"):
        export_onnx(other)
    assert not (other / ONNX_FILE).exists() and not list(other.glob(".export-*"))


CHINESE_WORDS = ["手机", "电脑", "怎么", "可以", "为什么", "下载", "游戏", "电影", "推荐", "价格"]


def _chinese_pairs(n: int, seed: int) -> list[tuple[str, str, int]]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        a = rng.sample(CHINESE_WORDS, rng.randint(2, 5))
        b = rng.sample(a, len(a)) if i % 2 == 0 else rng.sample(CHINESE_WORDS, len(a))
        rows.append(("".join(a), "".join(b), int(i % 2 == 0)))
    return rows


def test_characters_with_words_train_and_export(tmp_path: Path) -> None:
    """tokenizer.words end to end: training records it in the model config, the words reach
    the scores, and the exported graph unpacks the ids exactly as torch does."""
    train = write_tsv(tmp_path / "train.tsv", _chinese_pairs(200, seed=1))
    dev = write_tsv(tmp_path / "dev.tsv", _chinese_pairs(60, seed=2))
    out = tmp_path / "model"
    args = ["train", "--config", TINY, "--train", str(train), "--dev", str(dev), "--out", str(out)]
    overrides = ["train.epochs=1", "tokenizer.words=true", "model.exact_match=true"]
    assert main([*args, *overrides, "--device", "cpu"]) == 0
    detector = DupDetector.load(out, device="cpu")
    assert detector.config.model.words and detector.tokenizer.token_to_id("手机") is not None
    pairs = [(a, b) for a, b, _ in _chinese_pairs(40, seed=3)]
    want = detector.predict(pairs)
    detector.config.tokenizer.words = False  # the same model fed characters without words
    assert np.abs(detector.predict(pairs) - want).max() > 1e-4
    assert export_onnx(out) == out / ONNX_FILE
    got = DupDetector.load(out, backend="onnx").predict(pairs, batch_size=7)
    assert np.abs(got - want).max() <= FP32_TOLERANCE
