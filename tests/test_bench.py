"""scripts/bench.py at tiny sizes: it runs end to end on the real data, writes its JSON and
ends with the ratio line; its memory subprocesses report their own peak, not the parent's."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT, SHARED_DATA, load_script, shared_data
from dupdetect import DupDetector
from dupdetect.batching import EncodedPairs
from dupdetect.model import ESIM
from dupdetect.tokenizer import build_tokenizer, encode

SCRIPT = ROOT / "scripts" / "bench.py"
REFERENCE = SHARED_DATA.parent / "bench" / "reference_esim.py"


def needs_reference() -> None:
    if not REFERENCE.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{REFERENCE} is missing: CI must have ../shared beside the project")
        pytest.skip(f"{REFERENCE} not available")


def small_lcqmc(folder: Path) -> Path:
    """The first rows of LCQMC train and test (the vocabulary is built in milliseconds)."""
    folder.mkdir()
    for name, rows in (("train.tsv", 2000), ("test.tsv", 400)):
        with shared_data("lcqmc", name).open(encoding="utf-8") as f:
            head = [next(f) for _ in range(rows)]
        (folder / name).write_text("".join(head), encoding="utf-8")
    return folder


def test_tiny_run_prints_the_table_writes_json_and_ends_with_the_ratios(tmp_path: Path) -> None:
    needs_reference()
    data = small_lcqmc(tmp_path / "lcqmc")
    out = tmp_path / "bench.json"
    # One thread: two OpenMP threads crawl when another process holds a core.
    tiny = ["--emb", "16", "--hidden", "16", "--pairs", "300", "--train-steps", "2",
            "--latency-pairs", "10", "--repeats", "2", "--threads", "1"]  # fmt: skip
    skips = ["--skip-minilm", "--skip-bert", "--skip-memory", "--skip-export"]
    variant = ["--variant", "model.attention=projected,model.members=2"]
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), *tiny, *skips, *variant, "--data", str(data),
         "--out", str(out)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert re.fullmatch(r"inference_ratio=\d+\.\d\d training_ratio=\d+\.\d\d", lines[-1])
    assert any(line.startswith("inference pairs/s") for line in lines)

    result = json.loads(out.read_text(encoding="utf-8"))
    assert result["settings"]["test_pairs"] == 300
    assert result["settings"]["train_pairs_timed"] == 2 * 64
    assert result["machine"]["torch_threads"] == 1 and result["machine"]["torch"]
    for section in ("inference", "training"):
        for system in ("reference", "dupdetect"):
            rate = result[section][system]["pairs_per_s"]
            assert len(rate["runs"]) == 2 and rate["median"] > 0
    inference_ratio = result["inference"]["ratio_dupdetect_over_reference"]
    assert result["inference"]["fastest"]["path"] == "torch"  # nothing exported in this run
    assert result["inference"]["fastest"]["ratio_over_reference"] == inference_ratio
    training_ratio = result["training"]["ratio_dupdetect_over_reference"]
    assert lines[-1] == f"inference_ratio={inference_ratio:.2f} training_ratio={training_ratio:.2f}"
    assert result["latency"]["dupdetect"]["p99_ms"]["median"] > 0
    assert result["model_size_mb"]["dupdetect"] > 0
    assert "skipped" in result["peak_rss_mb"]
    assert "skipped" in result["inference"]["others"]["minilm"]
    assert "skipped" in result["inference"]["others"]["bert"]
    # the variant: timed in the same repetitions, with its ratios over the recipe's dupdetect
    v = result["variant"]
    assert v["overrides"] == ["model.attention=projected", "model.members=2"]
    assert v["parameters"] > 2 * result["settings"]["parameters"]["dupdetect"]  # 2 members
    for section in ("inference", "training"):
        rate = v[section]["pairs_per_s"]
        assert len(rate["runs"]) == 2 and rate["median"] > 0
        want = rate["median"] / result[section]["dupdetect"]["pairs_per_s"]["median"]
        assert v["ratios_variant_over_dupdetect"][f"{section}_pairs_per_s"] == round(want, 4)
    assert any(line.startswith("variant model.attention=projected,") for line in lines)


def test_the_bert_rows_score_a_padded_batch_as_they_score_each_pair_alone(tmp_path: Path) -> None:
    transformers = pytest.importorskip("transformers")
    bench = load_script("bench")
    tiny = transformers.BertConfig(
        vocab_size=128, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=32, max_position_embeddings=64, num_labels=2,
        initializer_range=0.5,  # BERT's 0.02 scores every pair 0.5002: nothing to tell apart
    )  # fmt: skip
    rng = np.random.default_rng(0)
    a = [rng.integers(3, 50, int(n)).tolist() for n in rng.integers(1, 12, 9)]
    b = [rng.integers(3, 50, int(n)).tolist() for n in rng.integers(1, 12, 9)]
    rows, note = bench.bert_backends(EncodedPairs(a, b), tmp_path, tiny)
    assert note == "" and set(rows) == {"bert", "bert-int8"}
    together = rows["bert"](9)  # (9,) in input order, whatever the length sort did
    alone = [
        bench.bert_backends(EncodedPairs([x], [y]), None, tiny)[0]["bert"](1)[0]
        for x, y in zip(a, b, strict=True)
    ]
    np.testing.assert_allclose(together, alone, atol=1e-5)
    assert together.shape == (9,) and together.max() - together.min() > 0.5  # 0.18 to 0.95
    # the int8 export scores the same pairs in the same order, up to quantisation error (0.07
    # here; pairs out of order would be up to 0.4 off)
    np.testing.assert_allclose(rows["bert-int8"](9), together, atol=0.15)


def test_a_memory_subprocess_reports_its_own_peak_not_its_parents(tmp_path: Path) -> None:
    needs_reference()
    bench = load_script("bench")
    args = bench.parse_args(["--emb", "16", "--hidden", "16", "--threads", "1"])
    cfg = bench.make_config(args.config, 16, 16)
    tok = build_tokenizer(["今天天气很好", "你好吗", "天气怎么样"], cfg.tokenizer)
    cfg.model.vocab_size = tok.get_vocab_size()
    DupDetector(ESIM(cfg.model), tok, cfg).save(tmp_path / "model")
    a, b = encode(tok, ["今天天气", "你好吗"]), encode(tok, ["天气很好", "天气怎么样"])
    pairs = EncodedPairs(a, b, np.array([1, 0], dtype=np.float32))
    workload = bench.Workload(cfg.model.vocab_size, pairs, pairs, pairs)
    (tmp_path / "workload.json").write_text(json.dumps(workload.to_json()), encoding="utf-8")
    # On Linux ru_maxrss survives exec: a child would report this process's peak.
    ballast = b"x" * 1_500_000_000
    peak = bench.run_child("serve-dupdetect", tmp_path, args)["peak_rss_mb"]
    assert 30 < peak < 1_200 < len(ballast) / 1e6


@pytest.mark.parametrize("bad", ["tokenizer.max_length=10", "model.attention", ","])
def test_variant_takes_only_model_and_train_overrides(bad: str) -> None:
    bench = load_script("bench")
    with pytest.raises(SystemExit), contextlib.redirect_stderr(io.StringIO()) as err:
        bench.parse_args(["--variant", bad])
    assert "--variant" in err.getvalue()
