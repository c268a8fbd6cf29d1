from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from conftest import synthetic_pairs
from dupdetect import DupDetector
from dupdetect.config import Config, ConfigError
from dupdetect.data import DataError, Pair, read_pairs
from dupdetect.distill import distill_targets
from dupdetect.evaluate import compute_metrics
from dupdetect.model import Ensemble
from dupdetect.model.ensemble import mean_probability_logit
from dupdetect.plot import plot_run
from dupdetect.tokenizer import build_tokenizer
from dupdetect.train import combine, load_splits, train, train_step
from dupdetect.vectors import VectorsError, load_vectors


def test_training_learns_saves_and_reloads_identically(tiny_config: Config, tmp_path: Path) -> None:
    out = tmp_path / "model"
    result = train(tiny_config, out)
    assert {p.name for p in out.iterdir()} >= {
        "config.json", "tokenizer.json", "model.safetensors", "metrics.json", "train_log.jsonl"
    }  # fmt: skip
    assert result.dev_metrics["accuracy"] >= 0.85  # the synthetic task is easy
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["dev"]["threshold"] == pytest.approx(result.dev_metrics["threshold"])

    pairs = [(a, b) for a, b, _ in synthetic_pairs(50, seed=9)]
    first = DupDetector.load(out, device="cpu")
    second = DupDetector.load(out, device="cpu")
    p1, p2 = first.predict(pairs), second.predict(pairs)
    assert p1.shape == (50,) and p1.dtype == np.float64
    assert np.array_equal(p1, p2)
    assert first.threshold == metrics["dev"]["threshold"]
    # The same pairs scored one by one give the same numbers as in length-sorted batches.
    single = np.array([first.predict([pair])[0] for pair in pairs[:10]])
    np.testing.assert_allclose(single, p1[:10], rtol=0, atol=1e-6)


def test_saved_model_round_trip_keeps_every_tensor(tiny_config: Config, tmp_path: Path) -> None:
    train(tiny_config, tmp_path / "m")
    detector = DupDetector.load(tmp_path / "m", device="cpu")
    detector.save(tmp_path / "copy")
    a, b = (
        load_file(str(tmp_path / "m" / "model.safetensors")),
        load_file(str(tmp_path / "copy" / "model.safetensors")),
    )
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_models_saved_under_the_old_head_names_still_load(
    tiny_config: Config, tmp_path: Path
) -> None:
    # Until stop 7 the head was head.mlp = Sequential(Dropout, Linear, Tanh, Dropout, Linear).
    train(tiny_config, tmp_path / "m")
    weights = tmp_path / "m" / "model.safetensors"
    pairs = [(a, b) for a, b, _ in synthetic_pairs(20, seed=3)]
    expected = DupDetector.load(tmp_path / "m", device="cpu").predict(pairs)
    old = {"head.hidden.": "head.mlp.1.", "head.out.2.": "head.mlp.4."}
    state = load_file(str(weights))
    renamed = {}
    for key, value in state.items():
        for new, before in old.items():
            key = key.replace(new, before)
        renamed[key] = value
    assert "head.mlp.1.weight" in renamed and "head.hidden.weight" not in renamed
    save_file(renamed, str(weights))
    got = DupDetector.load(tmp_path / "m", device="cpu").predict(pairs)
    assert np.array_equal(got, expected)


def test_training_is_reproducible_with_a_seed(tiny_config: Config, tmp_path: Path) -> None:
    def losses(out: Path) -> list[float]:
        train(tiny_config, out)
        lines = (out / "train_log.jsonl").read_text().splitlines()
        return [r["loss"] for r in map(json.loads, lines) if r["event"] == "step"]

    first, second = losses(tmp_path / "a"), losses(tmp_path / "b")
    assert len(first) >= 5 and first == second


@pytest.mark.parametrize(
    ("pairs", "message"),
    [
        # one pair: the dev split takes it, and training ran 0 steps and saved a model
        ([("a b", "b a", 1)], "train.tsv: the split leaves none to train on"),
        # a one-label file (often a wrong label column) trained a model that learnt nothing
        ([(f"a {i}", f"b {i}", 1) for i in range(20)], "all 18 training pairs have label 1"),
    ],
    ids=["one pair", "one label"],
)
def test_a_train_split_that_cannot_train_is_one_clear_error(
    tiny_config: Config, tmp_path: Path, pairs: list[tuple[str, str, int]], message: str
) -> None:
    from conftest import write_tsv

    tiny_config.data.train = str(write_tsv(tmp_path / "train.tsv", pairs))
    tiny_config.data.dev = None
    with pytest.raises(DataError, match=message):
        load_splits(tiny_config, np.random.default_rng(0))


def test_without_dev_file_a_seeded_share_of_train_is_held_out(
    tiny_config: Config, tmp_path: Path
) -> None:
    tiny_config.data.dev = None
    tiny_config.data.dev_fraction = 0.25
    tiny_config.train.epochs = 1
    train(tiny_config, tmp_path / "m")
    start = json.loads((tmp_path / "m" / "train_log.jsonl").read_text().splitlines()[0])
    assert (start["train_pairs"], start["dev_pairs"]) == (300, 100)


def test_time_budget_stops_training_and_still_saves_a_model(
    tiny_config: Config, tmp_path: Path
) -> None:
    tiny_config.train.max_minutes = 0.0
    tiny_config.train.epochs = 50
    result = train(tiny_config, tmp_path / "m")
    assert result.steps == 1
    assert json.loads((tmp_path / "m" / "metrics.json").read_text())["stop_reason"].startswith(
        "time budget"
    )


def test_a_time_budget_that_calls_the_last_evaluation_stays_the_stop_reason(
    tiny_config: Config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The budget runs out at step 2, whose evaluation is also patience's last (lr 0: dev
    # accuracy cannot rise after step 1). The budget ended training, so it is the reason.
    import dupdetect.train as train_module

    clock, steps = [0.0], [0]
    real_step = train_module.train_step

    def step_then_tick(*args: object, **kwargs: object) -> float:
        steps[0] += 1
        if steps[0] == 2:
            clock[0] = 1e9  # far past the one-minute deadline
        return real_step(*args, **kwargs)

    monkeypatch.setattr(train_module, "train_step", step_then_tick)
    monkeypatch.setattr(train_module, "time", SimpleNamespace(perf_counter=lambda: clock[0]))
    tc = tiny_config.train
    tc.max_minutes, tc.epochs, tc.eval_every, tc.patience, tc.lr = 1.0, 50, 1, 1, 0.0
    result = train(tiny_config, tmp_path / "m")
    assert (result.best_step, result.steps) == (1, 2)
    metrics = json.loads((tmp_path / "m" / "metrics.json").read_text())
    assert metrics["stop_reason"] == "time budget of 1.0 minutes used"


def _press_ctrl_c_at_step(n: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make train_step deliver a real SIGINT to this process during step `n`."""
    import os
    import signal

    import dupdetect.train as train_module

    steps, real_step = [0], train_module.train_step

    def step(*args: object, **kwargs: object) -> float:
        steps[0] += 1
        if steps[0] == n:
            os.kill(os.getpid(), signal.SIGINT)
        return real_step(*args, **kwargs)

    monkeypatch.setattr(train_module, "train_step", step)


def test_ctrl_c_ends_a_run_as_a_time_budget_does(
    tiny_config: Config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Before, Ctrl-C left the best checkpoint with threshold 0.5 (untuned) and no metrics.json
    from dupdetect.train import STOP, stop_on_ctrl_c

    _press_ctrl_c_at_step(3, monkeypatch)
    tiny_config.train.epochs = 50
    with stop_on_ctrl_c():
        result = train(tiny_config, tmp_path / "m")
    assert STOP.is_set() and result.steps == 3
    metrics = json.loads((tmp_path / "m" / "metrics.json").read_text())
    assert metrics["stop_reason"] == "interrupted (Ctrl-C or dupdetect.train.STOP)"
    assert metrics["best_step"] == 3  # evaluated at the stop, as a time budget is
    saved = DupDetector.load(tmp_path / "m", device="cpu")
    assert saved.threshold == metrics["dev"]["threshold"] != 0.5  # tuned on dev
    with pytest.raises(KeyboardInterrupt):  # outside the block Ctrl-C interrupts as usual
        _press_ctrl_c_at_step(1, monkeypatch)
        train(tiny_config, tmp_path / "again")


def test_a_second_ctrl_c_aborts_at_once() -> None:
    import os
    import signal

    from dupdetect.train import STOP, stop_on_ctrl_c

    STOP.clear()
    with pytest.raises(KeyboardInterrupt), stop_on_ctrl_c():
        os.kill(os.getpid(), signal.SIGINT)
        assert STOP.is_set()
        os.kill(os.getpid(), signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_ctrl_c_in_an_ensemble_keeps_the_members_trained(
    tiny_config: Config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dupdetect.train import stop_on_ctrl_c

    _press_ctrl_c_at_step(2, monkeypatch)  # in member 1 of 3
    tiny_config.model.members, tiny_config.train.epochs = 3, 1
    with pytest.raises(KeyboardInterrupt), stop_on_ctrl_c():
        train(tiny_config, tmp_path / "ens")
    first = tmp_path / "ens" / "members" / f"seed{tiny_config.train.seed}"
    assert json.loads((first / "metrics.json").read_text())["stop_reason"].startswith("interrupted")
    assert not (tmp_path / "ens" / "members" / f"seed{tiny_config.train.seed + 1}").exists()
    assert not (tmp_path / "ens" / "config.json").exists()


def test_pretrained_vectors_fill_the_rows_they_cover(tiny_config: Config, tmp_path: Path) -> None:
    tok = build_tokenizer(["how old are you", "what is your age"], tiny_config.tokenizer)
    path = tmp_path / "vectors.txt"
    path.write_text("3 2\nHow 1.0 2.0\nage 0.5 -0.5\nzebra 9 9\n", encoding="utf-8")
    table = torch.zeros(tok.get_vocab_size(), 2)
    coverage = load_vectors(path, tok, table)
    assert coverage.found == 2
    assert table[tok.token_to_id("how")].tolist() == [1.0, 2.0]
    assert table[tok.token_to_id("age")].tolist() == [0.5, -0.5]
    assert table[0].tolist() == [0.0, 0.0]  # [PAD] stays zero
    assert table[tok.token_to_id("old")].abs().max().item() < 10 * 1.0  # on the found scale
    assert str(coverage) == "2 of 8 vocabulary tokens found (25.0%)"
    path.write_text("how 1.0\n", encoding="utf-8")
    with pytest.raises(VectorsError, match=r"vectors.txt:1: expected a word and 2 numbers"):
        load_vectors(path, tok, table)
    path.write_text("age 0.5 0.5\nold nan 1.0\n", encoding="utf-8")  # float() reads "nan"
    with pytest.raises(VectorsError, match=r"vectors.txt:2: nan or inf in the vector of 'old'"):
        load_vectors(path, tok, table)


def test_character_vectors_are_found_for_chinese_text(tiny_config: Config, tmp_path: Path) -> None:
    # With characters as tokens the normaliser pads each CJK character with spaces ("么" ->
    # " 么 "); a vectors file of characters used to find none of them (1,142 of 5,637 LCQMC
    # tokens, only the non-CJK ones).
    tok = build_tokenizer(["怎么 办", "为什么"], tiny_config.tokenizer)
    assert tiny_config.tokenizer.segmenter == "char"
    path = tmp_path / "chars.txt"
    path.write_text("么 1.0 2.0\n怎 0.5 -0.5\n怎么 9 9\n", encoding="utf-8")
    table = torch.zeros(tok.get_vocab_size(), 2)
    coverage = load_vectors(path, tok, table)
    assert coverage.found == 2  # "怎么" is two tokens here, so it has no row
    assert table[tok.token_to_id("么")].tolist() == [1.0, 2.0]
    assert table[tok.token_to_id("怎")].tolist() == [0.5, -0.5]


def test_training_with_vectors_reports_coverage(
    tiny_config: Config, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    dim = tiny_config.model.embedding_dim
    path = tmp_path / "glove.txt"
    path.write_text("".join(f"{w} {' '.join(['0.5'] * dim)}\n" for w in ("phone", "car")))
    tiny_config.train.epochs = 1
    tiny_config.train.vectors = str(path)
    with caplog.at_level("INFO", logger="dupdetect"):
        train(tiny_config, tmp_path / "m")
    assert any(
        "2 of" in r.message and "vocabulary tokens found" in r.message for r in caplog.records
    )


def test_vectors_vocab_gives_words_unseen_in_training_their_vectors(
    tiny_config: Config, tmp_path: Path
) -> None:
    dim = tiny_config.model.embedding_dim
    path = tmp_path / "glove.txt"
    path.write_text(f"phone {' '.join(['0.5'] * dim)}\nquokka {' '.join(['0.25'] * dim)}\n")
    tiny_config.train.epochs = 1
    tiny_config.train.vectors = str(path)
    tiny_config.train.freeze_embedding = True
    train(tiny_config, tmp_path / "plain")
    assert DupDetector.load(tmp_path / "plain").tokenizer.token_to_id("quokka") is None
    tiny_config.train.vectors_vocab = True
    train(tiny_config, tmp_path / "m")
    detector = DupDetector.load(tmp_path / "m")
    quokka = detector.tokenizer.token_to_id("quokka")  # in no training text
    assert quokka == detector.tokenizer.get_vocab_size() - 1
    assert detector.encode([("a quokka", "phone")]).a[0][1] == quokka
    row = detector.model.embedding.table.weight[quokka]
    assert torch.equal(row, torch.full((dim,), 0.25))


def test_vectors_vocab_limit_adds_only_the_files_first_words(
    tiny_config: Config, tmp_path: Path
) -> None:
    dim = tiny_config.model.embedding_dim
    path = tmp_path / "glove.txt"
    row = " ".join(["0.5"] * dim)
    path.write_text(f"3 {dim}\nquokka {row}\nwombat {row}\nnumbat {row}\n")  # word2vec header
    tiny_config.train.epochs = 1
    tiny_config.train.vectors = str(path)
    tiny_config.train.vectors_vocab = True
    tiny_config.train.vectors_vocab_limit = 2
    train(tiny_config, tmp_path / "m")
    tok = DupDetector.load(tmp_path / "m").tokenizer
    assert tok.token_to_id("quokka") is not None
    assert tok.token_to_id("wombat") is not None
    assert tok.token_to_id("numbat") is None  # third in the file


def test_frozen_embedding_keeps_the_pretrained_vectors(tiny_config: Config, tmp_path: Path) -> None:
    dim = tiny_config.model.embedding_dim
    path = tmp_path / "glove.txt"
    path.write_text(f"phone {' '.join(['0.5'] * dim)}\n")
    tiny_config.train.epochs = 1
    tiny_config.train.vectors = str(path)
    tiny_config.train.freeze_embedding = True
    train(tiny_config, tmp_path / "m")
    detector = DupDetector.load(tmp_path / "m")
    row = detector.model.embedding.table.weight[detector.tokenizer.token_to_id("phone")]
    assert torch.equal(row, torch.full((dim,), 0.5))  # AdamW's weight decay left it alone too


def test_api_rejects_empty_texts(tiny_config: Config, tmp_path: Path) -> None:
    tiny_config.train.epochs = 1
    train(tiny_config, tmp_path / "m")
    detector = DupDetector.load(tmp_path / "m", device="cpu")
    assert detector.predict([]).shape == (0,)
    with pytest.raises(ValueError, match="pair 1: text_b must be a non-empty string"):
        detector.predict([("a", "b"), ("c", "  ")])


def test_steps_after_the_last_periodic_evaluation_are_still_evaluated(
    tiny_config: Config, tmp_path: Path
) -> None:
    tiny_config.train.eval_every = 1000  # more steps than the whole run has
    result = train(tiny_config, tmp_path / "m")
    records = (tmp_path / "m" / "train_log.jsonl").read_text().splitlines()
    evals = [r for r in map(json.loads, records) if r["event"] == "eval"]
    assert [r["step"] for r in evals] == [result.steps]
    assert (tmp_path / "m" / "model.safetensors").exists()


def test_weight_averaging_saves_the_average_and_leaves_training_alone(
    tiny_config: Config, tmp_path: Path
) -> None:
    tiny_config.train.epochs = 1  # one evaluation, at the end: the saved weights are the last

    def run(decay: float) -> tuple[list[float], dict[str, torch.Tensor]]:
        tiny_config.train.ema_decay = decay
        out = tmp_path / f"ema{decay}"
        train(tiny_config, out)
        lines = (out / "train_log.jsonl").read_text().splitlines()
        losses = [r["loss"] for r in map(json.loads, lines) if r["event"] == "step"]
        return losses, load_file(str(out / "model.safetensors"))

    raw_losses, raw = run(0.0)
    near_losses, near = run(1e-9)  # an "average" that is just the latest weights
    avg_losses, avg = run(0.9)
    assert raw_losses == near_losses == avg_losses  # averaging never feeds back into training
    assert raw.keys() == avg.keys()
    assert all(torch.allclose(raw[k], near[k], atol=1e-6) for k in raw)
    assert any((raw[k] - avg[k]).abs().max() > 1e-3 for k in raw)


def test_linear_decay_reaches_zero_at_decay_steps_and_stops_there(
    tiny_config: Config, tmp_path: Path
) -> None:
    tc = tiny_config.train
    tc.epochs, tc.log_every, tc.lr, tc.warmup_steps, tc.decay_steps = 50, 1, 1e-3, 2, 8
    result = train(tiny_config, tmp_path / "m")
    assert result.steps == 8
    lines = (tmp_path / "m" / "train_log.jsonl").read_text().splitlines()
    lrs = [r["lr"] for r in map(json.loads, lines) if r["event"] == "step"]
    # warm-up (1/2, 1) times decay (1 - step/8) for steps 0..7
    expected = [1e-3 * w * (1 - s / 8) for s, w in enumerate([0.5] + [1.0] * 7)]
    assert lrs == pytest.approx(expected)
    metrics = json.loads((tmp_path / "m" / "metrics.json").read_text())
    assert metrics["stop_reason"] == "learning rate decayed to 0 at step 8"


def test_label_smoothing_trains_towards_softened_targets() -> None:
    class Constant(torch.nn.Module):  # a "matcher" with logit 2 for every pair
        def __init__(self) -> None:
            super().__init__()
            self.logit = torch.nn.Parameter(torch.tensor(2.0))

        def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
            return self.logit.expand(a.shape[0])  # (B,)

    model = Constant()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
    ids, y = torch.ones(2, 3, dtype=torch.long), torch.tensor([1.0, 0.0])
    loss = train_step(model, optimizer, ids, ids, y, lr=0.0, grad_clip=1.0, label_smoothing=0.2)
    p = torch.sigmoid(torch.tensor(2.0)).item()
    # Targets 0.9 and 0.1 for labels 1 and 0.
    expected = -(0.9 * np.log(p) + 0.1 * np.log(1 - p) + 0.1 * np.log(p) + 0.9 * np.log(1 - p)) / 2
    assert loss == pytest.approx(expected, rel=1e-6)


def test_oov_buckets_extend_the_embedding_and_reach_the_saved_model(
    tiny_config: Config, tmp_path: Path
) -> None:
    tiny_config.train.epochs = 1
    tiny_config.tokenizer.oov_buckets = 16
    train(tiny_config, tmp_path / "m")
    detector = DupDetector.load(tmp_path / "m", device="cpu")
    vocab = detector.tokenizer.get_vocab_size()
    assert detector.config.model.vocab_size == vocab + 16
    assert detector.model.embedding.table.weight.shape[0] == vocab + 16
    data = detector.encode([("zyxw phone", "phone zyxw")])  # "zyxw" is not in the vocabulary
    assert data.a[0][0] == data.b[0][1] >= vocab
    p = detector.predict([("zyxw phone", "phone zyxw")])
    assert 0.0 <= p[0] <= 1.0


def test_split_seed_holds_out_the_same_dev_pairs_for_every_training_seed(
    tiny_config: Config,
) -> None:
    tiny_config.data.dev = None

    def dev_texts(seed: int, split_seed: int | None) -> list[str]:
        tiny_config.train.seed, tiny_config.data.split_seed = seed, split_seed
        _, dev = load_splits(tiny_config, np.random.default_rng(seed))
        return [p.text_a for p in dev]

    assert dev_texts(1, 7) == dev_texts(2, 7)
    assert dev_texts(1, None) != dev_texts(2, None)  # the default: each seed its own split
    assert dev_texts(7, None) == dev_texts(3, 7)


def test_folds_cut_train_into_disjoint_dev_splits_that_cover_it(tiny_config: Config) -> None:
    tiny_config.data.dev, tiny_config.data.folds = None, 3
    every = [(p.text_a, p.text_b) for p in read_pairs(tiny_config.data.train).pairs]
    held_out: list[tuple[str, str]] = []
    for fold in range(3):
        tiny_config.data.fold = fold
        train_part, dev = load_splits(tiny_config, np.random.default_rng(5))
        train_texts = [(p.text_a, p.text_b) for p in train_part]
        dev_texts = [(p.text_a, p.text_b) for p in dev]
        assert sorted(train_texts + dev_texts) == sorted(every)
        assert abs(len(dev) - len(every) / 3) < 1
        held_out += dev_texts
    assert sorted(held_out) == sorted(every)  # each pair is held out exactly once


def test_ensemble_trains_members_on_one_split_and_scores_their_mean(
    tiny_config: Config, tmp_path: Path
) -> None:
    tiny_config.data.dev = None
    tiny_config.model.members = 2
    tiny_config.train.epochs = 2
    result = train(tiny_config, tmp_path / "ens")
    members = [tmp_path / "ens" / "members" / f"seed{s}" for s in (42, 43)]
    for member in members:
        start = json.loads((member / "train_log.jsonl").read_text().splitlines()[0])
        assert start["config"]["data"]["split_seed"] == 42
        assert start["config"]["model"]["members"] == 1
    pairs = [(a, b) for a, b, _ in synthetic_pairs(30, seed=5)]
    singles = [DupDetector.load(m, device="cpu").predict(pairs) for m in members]
    ensemble = DupDetector.load(tmp_path / "ens", device="cpu")
    assert isinstance(ensemble.model, Ensemble) and len(ensemble.model.members) == 2
    assert not np.array_equal(singles[0], singles[1])  # different seeds, different members
    np.testing.assert_allclose(ensemble.predict(pairs), np.mean(singles, axis=0), atol=1e-6)
    saved = json.loads((tmp_path / "ens" / "metrics.json").read_text())
    assert saved["dev"]["accuracy"] == result.dev_metrics["accuracy"] >= 0.85
    assert len(saved["members"]) == 2
    assert plot_run(tmp_path / "ens") == tmp_path / "ens" / "curves.png"  # one line per member


def test_combine_refuses_members_that_held_out_different_dev_pairs(
    tiny_config: Config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a dev file each seed holds out its own dev pairs by default, so a threshold
    tuned on one member's dev pairs would be tuned on pairs another member trained on. The
    same file named by a relative and by an absolute path is the same file."""
    tiny_config.data.dev = None
    tiny_config.train.epochs = 1
    train_file = Path(tiny_config.data.train or "")
    monkeypatch.chdir(train_file.parent)
    runs = []
    for seed, split_seed in ((42, None), (43, None), (43, 42)):
        tiny_config.train.seed, tiny_config.data.split_seed = seed, split_seed
        if seed == 43 and split_seed == 42:
            tiny_config.data.train = train_file.name  # relative to the working directory
        runs.append(train(tiny_config, tmp_path / f"s{seed}-{split_seed}").out_dir)
    with pytest.raises(ConfigError, match=r"differs from .* in data.split_seed"):
        combine(runs[:2], tmp_path / "leaky", device="cpu")
    summary = combine([runs[0], runs[2]], tmp_path / "ens", device="cpu")  # both split by 42
    saved = json.loads((tmp_path / "ens" / "config.json").read_text())
    assert saved["data"]["split_seed"] == 42 and saved["model"]["members"] == 2
    assert summary["dev"]["pairs"] == round(0.1 * 400)


def test_mean_probability_logit_is_exact_and_stable() -> None:
    z = torch.tensor([[0.0, 3.0, -80.0, 200.0], [2.0, -3.0, -90.0, 150.0]])  # (K, B)
    got = torch.sigmoid(mean_probability_logit(z))
    want = torch.sigmoid(z.double()).mean(0)
    torch.testing.assert_close(got.double(), want, rtol=1e-5, atol=0)  # float32 sigmoid
    assert torch.isfinite(mean_probability_logit(z)).all()


def _teacher_file(path: Path, rows: list[tuple[str, str, int]], p: Any, dev: bool = False) -> Path:
    """JSON Lines as scripts/minilm_teacher.py writes them; p(row index, label) -> prob."""
    with path.open("a", encoding="utf-8") as f:
        for i, (a, b, y) in enumerate(rows):
            f.write(json.dumps({"text_a": a, "text_b": b, "p": p(i, y), "dev": dev}) + "\n")
    return path


def test_teacher_targets_mix_probabilities_into_labels_and_weight_0_changes_nothing(
    tiny_config: Config, tmp_path: Path
) -> None:
    rows = synthetic_pairs(400, seed=1)  # the training file of tiny_config
    teacher = _teacher_file(tmp_path / "t.jsonl", rows, lambda i, y: 0.25 if i % 3 else 0.9)
    train_pairs, dev_pairs = load_splits(tiny_config, np.random.default_rng(0))
    # Texts are matched in either order; the target is w * p + (1 - w) * label.
    swapped = [Pair(p.text_b, p.text_a, p.label) for p in train_pairs]
    labels = np.array([p.label for p in swapped], dtype=np.float32)
    targets = distill_targets(str(teacher), swapped, dev_pairs, labels, 0.5)
    expected = 0.5 * np.where(np.arange(400) % 3, 0.25, 0.9) + 0.5 * labels
    np.testing.assert_allclose(targets, expected, rtol=0, atol=1e-7)

    def steps(out: Path) -> list[float]:
        train(tiny_config, out)
        lines = (out / "train_log.jsonl").read_text().splitlines()
        return [r["loss"] for r in map(json.loads, lines) if r["event"] == "step"]

    tiny_config.train.epochs = 1
    plain = steps(tmp_path / "plain")
    tiny_config.train.teacher = str(teacher)
    assert steps(tmp_path / "soft") != plain  # the soft targets reach the loss
    tiny_config.train.distill_weight = 0.0
    assert steps(tmp_path / "w0") == plain  # bit for bit: weight 0 is the labels alone


def test_teacher_file_problems_name_the_file_and_line(
    tiny_config: Config, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rows = synthetic_pairs(400, seed=1)
    train_pairs, dev_pairs = load_splits(tiny_config, np.random.default_rng(0))
    labels = np.zeros(len(train_pairs), dtype=np.float32)
    partial = _teacher_file(tmp_path / "partial.jsonl", rows[:-1], lambda i, y: 0.5)
    with pytest.raises(DataError, match=r"partial\.jsonl: no teacher probability for 1 of"):
        distill_targets(str(partial), train_pairs, dev_pairs, labels, 0.5)
    bad = _teacher_file(tmp_path / "bad.jsonl", rows[:2], lambda i, y: 1.5)
    with pytest.raises(DataError, match=r"bad\.jsonl:1: p must be a probability in \[0, 1\]"):
        distill_targets(str(bad), train_pairs, dev_pairs, labels, 0.5)
    (tmp_path / "junk.jsonl").write_text('{"text_a": "x", "p": 0.5}\n')
    with pytest.raises(DataError, match=r"junk\.jsonl:1: expected"):
        distill_targets(str(tmp_path / "junk.jsonl"), train_pairs, dev_pairs, labels, 0.5)
    with pytest.raises(DataError, match=r"nothere\.jsonl: cannot read"):
        distill_targets(str(tmp_path / "nothere.jsonl"), train_pairs, dev_pairs, labels, 0.5)
    # A teacher that trained on dev pairs is allowed but flagged; flagged dev rows are not.
    dev_rows = synthetic_pairs(100, seed=2)
    leaky = _teacher_file(tmp_path / "leaky.jsonl", rows + dev_rows[:3], lambda i, y: 0.5)
    distill_targets(str(leaky), train_pairs, dev_pairs, labels, 0.5)
    assert "the teacher trained on 3 of the 100 dev pairs" in caplog.text
    caplog.clear()
    clean = _teacher_file(tmp_path / "clean.jsonl", rows, lambda i, y: 0.5)
    _teacher_file(clean, dev_rows, lambda i, y: 0.5, dev=True)
    distill_targets(str(clean), train_pairs, dev_pairs, labels, 0.5)
    assert "dev metrics will be optimistic" not in caplog.text


def test_rescore_dev_gives_the_dev_pairs_training_held_out(
    tiny_config: Config, tmp_path: Path
) -> None:
    from dupdetect.train import rescore_dev

    out = tmp_path / "model"
    result = train(tiny_config, out)
    detector, labels, probs = rescore_dev(out)
    assert len(labels) == len(probs) == result.dev_metrics["pairs"]
    again = compute_metrics(labels, probs, detector.threshold)
    for key in ("accuracy", "f1", "roc_auc", "log_loss"):
        assert again[key] == pytest.approx(result.dev_metrics[key])
    metrics = json.loads((out / "metrics.json").read_text())
    metrics["dev"]["accuracy"] -= 0.1  # as if another split had been held out
    (out / "metrics.json").write_text(json.dumps(metrics))
    with pytest.raises(ValueError, match="at the saved threshold"):
        rescore_dev(out)
