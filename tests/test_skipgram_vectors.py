"""scripts/skipgram_vectors.py: vectors for exactly the tokens the recipe's tokenizer makes,
the same file on every run, and clear errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from conftest import ROOT, load_script, write_tsv
from dupdetect.config import TokenizerConfig
from dupdetect.tokenizer import build_tokenizer
from dupdetect.vectors import load_vectors

SCRIPT = ROOT / "scripts" / "skipgram_vectors.py"
ROWS = [
    ("我手机丢了，我想换个手机", "我想买个新手机，求推荐", 0),
    ("英雄联盟什么英雄最好", "英雄联盟最好英雄是什么", 1),
    ("How do I learn Python?", "What is the best way to learn Python?", 1),
] * 4


def test_texts_are_split_into_the_recipe_tokenizers_tokens() -> None:
    script = load_script("skipgram_vectors")
    chars = script.token_sentences(["我想换手机。", "Learn Python!"], TokenizerConfig())
    assert chars == [["我", "想", "换", "手", "机", "。"], ["learn", "python", "!"]]
    words = script.token_sentences(["我想换手机"], TokenizerConfig(segmenter="jieba"))
    assert "".join(words[0]) == "我想换手机" and "手机" in words[0]


def run(tmp_path: Path, out: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--config", str(tmp_path / "recipe.yaml"), "-o",
         str(tmp_path / out), "--dim", "8", "--epochs", "2", *extra],
        capture_output=True, text=True, cwd=ROOT,
    )  # fmt: skip


def write_recipe(tmp_path: Path) -> None:
    train = write_tsv(tmp_path / "train.tsv", ROWS)
    (tmp_path / "recipe.yaml").write_text(
        f"data:\n  train: {train}\n  format: tsv\ntokenizer:\n  min_frequency: 1\n"
    )


def test_every_vocabulary_token_gets_a_vector_and_the_file_is_the_same_twice(tmp_path) -> None:
    pytest.importorskip("gensim")
    write_recipe(tmp_path)
    for name in ("v1.txt", "v2.txt"):
        done = run(tmp_path, name)
        assert done.returncode == 0, done.stderr
    first = (tmp_path / "v1.txt").read_text(encoding="utf-8")
    assert first == (tmp_path / "v2.txt").read_text(encoding="utf-8")
    tok = build_tokenizer([t for a, b, _ in ROWS for t in (a, b)], TokenizerConfig(min_frequency=1))
    table = torch.zeros(tok.get_vocab_size(), 8)
    coverage = load_vectors(tmp_path / "v1.txt", tok, table)
    assert coverage.found == tok.get_vocab_size() - 2  # all but [PAD] and [UNK]
    rows = torch.tensor([[float(x) for x in line.split(" ")[1:]] for line in first.splitlines()])
    assert rows.std(correction=0).item() == pytest.approx(1.0, abs=1e-4)  # numpy-style s.d.


def test_a_missing_training_file_gets_a_clear_error(tmp_path) -> None:
    write_recipe(tmp_path)
    done = run(tmp_path, "v.txt", f"data.train={tmp_path / 'none.tsv'}")  # an override
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert done.stderr.startswith("skipgram_vectors: ") and "none.tsv" in done.stderr


def test_an_unknown_override_gets_a_clear_error(tmp_path) -> None:
    write_recipe(tmp_path)
    done = run(tmp_path, "v.txt", "data.nope=1")
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert done.stderr.startswith("skipgram_vectors: ") and "unknown key(s) ['nope']" in done.stderr


def test_a_recipe_without_training_file_gets_a_clear_error(tmp_path) -> None:
    (tmp_path / "recipe.yaml").write_text("tokenizer:\n  min_frequency: 1\n")
    done = run(tmp_path, "v.txt")
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "no data.train (give data.train=FILE)" in done.stderr
