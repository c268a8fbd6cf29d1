"""The fast CPU scorer (dupdetect/fast.py) gives the model's scores: parity on batches with
every length pattern, exact-match features, symmetry, and the int8 variant staying close."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from conftest import random_ids, synthetic_pairs, tiny_model_config
from dupdetect import DupDetector
from dupdetect.batching import EncodedPairs
from dupdetect.cli import main
from dupdetect.config import Config
from dupdetect.evaluate import predict_proba
from dupdetect.fast import FastScorer, Int8Weight, Layout
from dupdetect.model import ESIM
from dupdetect.tokenizer import build_tokenizer


def _model(exact_match: bool, seed: int = 0, hidden: int = 6) -> ESIM:
    torch.manual_seed(seed)
    cfg = tiny_model_config(vocab_size=40, exact_match=exact_match)
    cfg.hidden_size, cfg.head_hidden = hidden, hidden
    model = ESIM(cfg).eval()
    with torch.no_grad():  # larger weights than the init, so that every gate matters
        for p in model.parameters():
            p.mul_(3.0)
    return model


def _batch(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Pairs with lengths 1..9 in both orders, so rows finish at every step."""
    g = torch.Generator().manual_seed(seed)
    la = [1, 9, 3, 5, 9, 2, 7, 4]
    lb = [9, 1, 3, 6, 2, 9, 7, 1]
    return random_ids(la, 40, g), random_ids(lb, 40, g)


@pytest.mark.parametrize("exact_match", [False, True])
@pytest.mark.parametrize("hidden", [6, 16])
def test_fast_logits_equal_the_model(exact_match: bool, hidden: int) -> None:
    model = _model(exact_match, hidden=hidden)
    a, b = _batch(1)
    with torch.no_grad():
        expected = model(a, b)
    got = FastScorer(model).logits(a, b)
    assert got.shape == expected.shape == (8,)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)
    assert expected.std() > 0.1  # the pairs really score differently


def test_fast_is_symmetric_and_batch_independent() -> None:
    model = _model(exact_match=True)
    fast = FastScorer(model)
    a, b = _batch(2)
    torch.testing.assert_close(fast.logits(a, b), fast.logits(b, a), atol=1e-6, rtol=0)
    whole = fast.logits(a, b)
    for i in range(len(a)):
        la, lb = int((a[i] > 0).sum()), int((b[i] > 0).sum())
        alone = fast.logits(a[i : i + 1, :la], b[i : i + 1, :lb])
        torch.testing.assert_close(alone, whole[i : i + 1], atol=1e-5, rtol=0)


def test_fast_predict_proba_matches_evaluate_in_input_order() -> None:
    model = _model(exact_match=False)
    g = torch.Generator().manual_seed(3)
    lengths = torch.randint(1, 12, (2, 50), generator=g).tolist()
    data = EncodedPairs(
        [random_ids([n], 40, g)[0].tolist() for n in lengths[0]],
        [random_ids([n], 40, g)[0].tolist() for n in lengths[1]],
    )
    expected = predict_proba(model, data, torch.device("cpu"), batch_size=16)
    got = FastScorer(model).predict_proba(data, batch_size=16)
    assert abs(got - expected).max() < 1e-6


def test_fast_does_not_follow_later_changes_to_the_model() -> None:
    model = _model(exact_match=False)
    a, b = _batch(4)
    fast = FastScorer(model)
    before = fast.logits(a, b)
    with torch.no_grad():
        model.head.mlp[-1].bias.add_(5.0)
    torch.testing.assert_close(fast.logits(a, b), before)


def test_int8_stays_close_to_fp32() -> None:
    model = _model(exact_match=True, hidden=16)
    a, b = _batch(5)
    with torch.no_grad():
        expected = torch.sigmoid(model(a, b))
    got = torch.sigmoid(FastScorer(model, int8=True).logits(a, b))
    assert (got - expected).abs().max() < 0.05
    assert not torch.equal(got, expected)  # it really ran in int8


def test_int8_weight_matmul_is_close() -> None:
    g = torch.Generator().manual_seed(0)
    w = torch.randn(13, 24, generator=g)
    x = torch.randn(20, 13, generator=g)
    q = Int8Weight(w)
    assert q.q.dtype == torch.int8
    err = (q.matmul(x) - x @ w).abs().max() / (x @ w).abs().max()
    assert err < 0.02


def test_layout_reverses_within_length_and_sorts_longest_first() -> None:
    mask = torch.tensor([[1, 1, 0, 0], [1, 1, 1, 1], [1, 0, 0, 0]], dtype=torch.bool)
    layout = Layout(mask)
    assert layout.active == [3, 2, 1, 1]
    x = torch.arange(12).view(3, 4, 1)  # value = row * 4 + column
    steps = layout.gather(x)[..., 0]  # (2, L, N)
    assert steps[0, :, 0].tolist() == [4, 5, 6, 7]  # longest text first, in order
    assert steps[1, :, 0].tolist() == [7, 6, 5, 4]  # and reversed
    assert steps[1, :2, 1].tolist() == [1, 0]  # row 0 (length 2) reversed within its length
    h = torch.zeros(2, 4, 3, 1)  # as run_lstm leaves it: 1 where a text is running
    for t, rows in enumerate(layout.active):
        h[:, t, :rows] = 1.0
    out = layout.scatter(h)  # (N, L, 2)
    assert torch.equal(out, mask.unsqueeze(-1).expand(3, 4, 2).float())


def test_backend_fast_loads_from_a_model_directory_and_matches_torch(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = synthetic_pairs(60, seed=4)
    cfg = Config()
    tok = build_tokenizer([t for a, b, _ in rows for t in (a, b)], cfg.tokenizer)
    cfg.model = tiny_model_config(vocab_size=tok.get_vocab_size(), exact_match=True)
    torch.manual_seed(0)
    DupDetector(ESIM(cfg.model).eval(), tok, cfg).save(tmp_path)
    pairs = [(a, b) for a, b, _ in rows]
    torch_p = DupDetector.load(tmp_path).predict(pairs)
    fast_p = DupDetector.load(tmp_path, backend="fast").predict(pairs, batch_size=7)
    int8_p = DupDetector.load(tmp_path, backend="fast-int8").predict(pairs)
    assert abs(fast_p - torch_p).max() < 1e-6
    assert abs(int8_p - torch_p).max() < 0.05
    assert main(["predict", str(tmp_path), *pairs[0], "--backend", "fast"]) == 0
    assert f"{torch_p[0]:.4f}" in capsys.readouterr().out
