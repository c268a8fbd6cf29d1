from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from tokenizers import Tokenizer

from dupdetect.batching import EncodedPairs, pad
from dupdetect.config import Config, ConfigError, TokenizerConfig, load_config
from dupdetect.tokenizer import PAD_ID, UNK_ID, build_tokenizer, encode
from dupdetect.train import train
from dupdetect.word_dropout import RareWordDropout

TEXTS = ["the cat sat on the mat", "the dog sat", "Grokster sued the cat", "the mat"]


def _dropout(alpha: float, buckets: int) -> tuple[Tokenizer, TokenizerConfig, RareWordDropout]:
    """RareWordDropout over TEXTS as two training pairs (texts 0-1 and 2-3)."""
    cfg = TokenizerConfig(oov_buckets=buckets)
    tok = build_tokenizer(TEXTS, cfg)
    ids = encode(tok, TEXTS, cfg)
    data = EncodedPairs(ids[::2], ids[1::2])
    return tok, cfg, RareWordDropout(data, tok, buckets, alpha, seed=0)


def test_probability_falls_with_the_training_count() -> None:
    tok, _, drop = _dropout(alpha=0.25, buckets=0)
    p = {w: drop.p[tok.token_to_id(w)].item() for w in ("the", "cat", "grokster")}
    # "the" 5 times, "cat" twice, "grokster" once in the training texts
    assert p == pytest.approx({"the": 0.25 / 5.25, "cat": 0.25 / 2.25, "grokster": 0.25 / 1.25})
    assert drop.p[PAD_ID] == drop.p[UNK_ID] == 0.0


def test_a_dropped_word_becomes_the_bucket_it_would_get_if_unseen() -> None:
    tok, _, drop = _dropout(alpha=0.25, buckets=64)
    unseen_cfg = TokenizerConfig(oov_buckets=64)
    # a vocabulary of the same size without "grokster": same bucket range, word unseen there
    without = build_tokenizer([t.replace("Grokster", "zebra") for t in TEXTS], unseen_cfg)
    assert without.get_vocab_size() == tok.get_vocab_size()
    (bucket,) = encode(without, ["GROKSTER"], unseen_cfg)[0]
    assert bucket >= without.get_vocab_size()
    assert drop.replacement[tok.token_to_id("grokster")] == bucket
    assert drop.replacement[bucket] == bucket  # a bucket is an unseen word already


def test_without_buckets_a_dropped_word_becomes_unk() -> None:
    tok, _, drop = _dropout(alpha=0.25, buckets=0)
    assert drop.replacement[tok.token_to_id("cat")] == UNK_ID


def test_a_word_is_dropped_in_both_texts_or_in_neither() -> None:
    tok, cfg, drop = _dropout(alpha=1.0, buckets=64)
    cat = tok.token_to_id("cat")
    a = pad(encode(tok, ["the cat sat", "cat"] * 50, cfg))  # (100, 3)
    b = pad(encode(tok, ["cat on the mat", "the cat cat"] * 50, cfg))  # (100, 4)
    da, db = drop(a, b)
    gone_a = ((a == cat) & (da != cat)).any(1)  # (100,)
    gone_b = ((b == cat) & (db != cat)).any(1)
    kept_b = ((b == cat) & (db == cat)).any(1)
    assert torch.equal(gone_a, gone_b) and not (gone_b & kept_b).any()
    assert 0 < gone_a.sum() < 100  # p = 1 / 3 for "cat": some pairs each way
    assert torch.equal(da == PAD_ID, a == PAD_ID)  # padding stays padding


def test_the_draws_repeat_with_the_seed_and_leave_the_global_state_alone() -> None:
    tok, cfg, first = _dropout(alpha=1.0, buckets=8)
    _, _, second = _dropout(alpha=1.0, buckets=8)
    a = pad(encode(tok, TEXTS * 10, cfg))
    state = torch.get_rng_state()
    assert torch.equal(first(a, a)[0], second(a, a)[0])
    assert torch.equal(torch.get_rng_state(), state)


def test_config_checks_the_option() -> None:
    assert load_config(None, ["train.rare_word_dropout=0.25"]).train.rare_word_dropout == 0.25
    with pytest.raises(ConfigError, match="rare_word_dropout: must be >= 0"):
        load_config(None, ["train.rare_word_dropout=-1"])
    with pytest.raises(ConfigError, match=r"with tokenizer\.words"):
        load_config(None, ["train.rare_word_dropout=0.25", "tokenizer.words=true"])


def test_training_with_rare_word_dropout_runs_and_changes_the_model(
    tiny_config: Config, tmp_path: Path
) -> None:
    tiny_config.train.epochs = 1
    tiny_config.tokenizer.oov_buckets = 16
    plain = train(tiny_config, tmp_path / "plain")
    tiny_config.train.rare_word_dropout = 1.0
    dropped = train(tiny_config, tmp_path / "dropped")
    logged = json.loads((tmp_path / "dropped" / "config.json").read_text())
    assert logged["train"]["rare_word_dropout"] == 1.0
    assert plain.dev_metrics["log_loss"] != dropped.dev_metrics["log_loss"]
