"""The training loop, written out in one place.

    result = train(load_config("configs/lcqmc.yaml"), out_dir="runs/lcqmc")

Reads the pairs, builds the vocabulary from the training texts, trains with AdamW on
length-bucketed batches, evaluates on dev (every epoch or every `eval_every` steps), keeps
the best checkpoint on disk, stops early when dev stops improving, the time budget ends or
STOP is set (`dupdetect train` sets it on Ctrl-C), and finally tunes the decision threshold
on dev. Everything is logged as JSON lines to
``<out_dir>/train_log.jsonl``.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import logging
import math
import os
import random
import signal
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from tokenizers import Tokenizer
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from tqdm import tqdm

from dupdetect.batching import EncodedPairs, collate, training_batches
from dupdetect.config import Config, ConfigError, TokenizerConfig
from dupdetect.data import DataError, Pair, PairFile, read_pairs
from dupdetect.detector import METRICS_FILE, DupDetector, write_json
from dupdetect.device import resolve_device
from dupdetect.distill import distill_targets
from dupdetect.evaluate import compute_metrics, evaluate, predict_proba, tune_threshold
from dupdetect.model import ESIM, Ensemble
from dupdetect.tokenizer import build_tokenizer, encode
from dupdetect.vectors import load_vectors, vector_words
from dupdetect.word_dropout import RareWordDropout
from dupdetect.wordnet import WordNet, default_dir, vocabulary_synonyms

log = logging.getLogger("dupdetect")
LOG_FILE = "train_log.jsonl"

# Set it to stop the run in progress as a time budget does: training ends after the current
# step, evaluates, keeps the best checkpoint and tunes its threshold. `stop_on_ctrl_c` sets it
# on Ctrl-C; another thread may set it too. Each run clears it when it starts.
STOP = threading.Event()


@contextmanager
def stop_on_ctrl_c() -> Iterator[None]:
    """Within the block, the first Ctrl-C sets STOP instead of raising KeyboardInterrupt (an
    interrupted run would otherwise leave its best checkpoint with an untuned threshold of
    0.5 and no metrics.json); a second Ctrl-C raises it at once."""
    if threading.current_thread() is not threading.main_thread():  # signals need the main one
        yield
        return

    def first(signum: int, frame: object) -> None:
        signal.signal(signal.SIGINT, previous)
        STOP.set()
        log.info("Ctrl-C: stopping after this step with the best checkpoint; again to abort")

    previous = signal.signal(signal.SIGINT, first)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@dataclass
class TrainResult:
    out_dir: Path
    dev_metrics: dict[str, Any]  # at the tuned threshold, for the saved checkpoint
    best_step: int
    steps: int
    train_seconds: float
    train_pairs_per_s: float
    members: list[TrainResult] = field(default_factory=list)  # an ensemble's, in seed order


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def rescore_dev(run_dir: str | Path) -> tuple[DupDetector, np.ndarray, np.ndarray]:
    """A trained run's dev pairs scored again: (detector, labels, probabilities), (N,) each.

    The dev pairs are drawn as training drew them (its seed, or data.split_seed). Raises
    ValueError unless the saved threshold gives the dev accuracy training saved, so the pairs
    are known to be the ones training held out."""
    run = Path(run_dir)
    detector = DupDetector.load(run, device="cpu")
    _, dev = load_splits(detector.config, np.random.default_rng(detector.config.train.seed))
    labels = np.array([p.label for p in dev])
    probs = detector.predict(dev)
    saved = json.loads((run / METRICS_FILE).read_text())["dev"]["accuracy"]
    again = compute_metrics(labels, probs, detector.threshold)["accuracy"]
    if abs(again - saved) > 1e-9:
        raise ValueError(f"{run}: dev scores {again:.4f} at the saved threshold, saved {saved:.4f}")
    return detector, labels, probs


def _read(path: str, cfg: Config, what: str) -> PairFile:
    pf = read_pairs(path, cfg.data.format, skip_bad=cfg.data.skip_bad_rows)
    note = pf.passed_over()
    skipped = f", {note}" if note else ""
    log.info(f"{what}: {len(pf.pairs):,} pairs from {path} ({pf.format}{skipped})")
    for problem in pf.problems[:5]:
        log.warning(f"  skipped {problem}")
    return pf


def load_splits(cfg: Config, rng: np.random.Generator) -> tuple[list[Pair], list[Pair]]:
    """Train and dev pairs; without a dev file a seeded `dev_fraction` of train (or one of
    `data.folds` folds) is held out.

    The held-out pairs and the max_*_pairs subsets are drawn with `rng`, or with
    data.split_seed when it is set (then they do not depend on the training seed)."""
    if cfg.data.split_seed is not None:
        rng = np.random.default_rng(cfg.data.split_seed)
    if not cfg.data.train:
        raise ConfigError("data.train: no training file given (use --train or the recipe)")
    train = _read(cfg.data.train, cfg, "train").pairs
    if cfg.data.dev:
        dev = _read(cfg.data.dev, cfg, "dev").pairs
    else:
        order = rng.permutation(len(train))
        if cfg.data.folds:
            parts = np.array_split(order, cfg.data.folds)
            dev_idx = parts[cfg.data.fold]
            train_idx = np.concatenate([p for k, p in enumerate(parts) if k != cfg.data.fold])
            what = f"data.fold={cfg.data.fold} of data.folds={cfg.data.folds}"
        else:
            n_dev = max(1, round(len(train) * cfg.data.dev_fraction))
            dev_idx, train_idx = order[:n_dev], order[n_dev:]
            what = "data.dev_fraction"
        dev = [train[i] for i in dev_idx]
        train = [train[i] for i in train_idx]
        log.info(f"dev: {len(dev):,} pairs held out of train ({what})")
    for name, limit in (("train", cfg.data.max_train_pairs), ("dev", cfg.data.max_dev_pairs)):
        pairs = train if name == "train" else dev
        if limit is not None and limit < len(pairs):
            keep = np.sort(rng.choice(len(pairs), size=limit, replace=False))
            pairs[:] = [pairs[i] for i in keep]
            log.info(f"{name}: using a random {limit:,} of them (data.max_{name}_pairs)")
    if not train or not dev:  # a split too small to hold out dev, or a fold with no pairs
        missing = "none to train on" if not train else "no dev pairs"
        raise DataError(cfg.data.train, None, f"the split leaves {missing}; give more pairs")
    labels = {p.label for p in train}
    if len(labels) == 1:  # most often a wrong label column; the model would learn nothing
        raise DataError(
            cfg.data.train, None, f"all {len(train):,} training pairs have label "
            f"{labels.pop()}; training needs both 0 and 1",
        )  # fmt: skip
    return train, dev


def encode_pairs(tok: Tokenizer, pairs: Sequence[Pair], cfg: TokenizerConfig) -> EncodedPairs:
    """Token ids of both texts of labelled pairs, with their labels as float32 0/1."""
    labels = np.array([p.label for p in pairs], dtype=np.float32)
    a = encode(tok, [p.text_a for p in pairs], cfg)
    b = encode(tok, [p.text_b for p in pairs], cfg)
    return EncodedPairs(a, b, labels)


def _metric_value(metrics: dict[str, Any], name: str) -> float:
    """Higher is better for every metric used to pick checkpoints."""
    value = metrics[name]
    if value is None:
        return -math.inf
    return -value if name == "log_loss" else value


class _JsonLog:
    def __init__(self, path: Path) -> None:
        self.file = path.open("w", encoding="utf-8")
        self.start = time.perf_counter()

    def write(self, event: str, **fields: Any) -> None:
        record = {"event": event, "time_s": round(time.perf_counter() - self.start, 3), **fields}
        self.file.write(json.dumps(record, ensure_ascii=False) + "\n")
        self.file.flush()

    def close(self) -> None:
        self.file.close()


def lr_multiplier(step: int, warmup_steps: int, decay_steps: int) -> float:
    """The lr multiplier for 0-based `step`: a linear warm-up over `warmup_steps`, times a
    linear decay that reaches 0 at `decay_steps` (0 = no decay)."""
    warmup = min(1.0, (step + 1) / max(warmup_steps, 1))
    decay = max(0.0, 1.0 - step / decay_steps) if decay_steps else 1.0
    return warmup * decay


def train_step(
    model: ESIM,
    optimizer: torch.optim.Optimizer,
    a: torch.Tensor,
    b: torch.Tensor,
    y: torch.Tensor,
    lr: float,
    grad_clip: float,
    label_smoothing: float = 0.0,
) -> float:
    """One optimisation step at learning rate `lr` on a batch: a (B, La), b (B, Lb) ids,
    y (B,) targets in [0, 1] (labels, or labels mixed with a teacher's probabilities).
    Returns the batch's mean loss (binary cross-entropy against the smoothed targets
    y * (1 - eps) + eps / 2)."""
    for group in optimizer.param_groups:
        group["lr"] = lr
    target = y * (1.0 - label_smoothing) + 0.5 * label_smoothing  # (B,)
    loss = F.binary_cross_entropy_with_logits(model(a, b), target)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    optimizer.step()
    return loss.item()


def train(cfg: Config, out_dir: str | Path) -> TrainResult:
    """Train a model as `cfg` says and save the best checkpoint to `out_dir`."""
    if cfg.model.members > 1:
        return train_ensemble(cfg, out_dir)
    STOP.clear()
    cfg = copy.deepcopy(cfg)
    out = Path(out_dir)
    tc = cfg.train
    seed_everything(tc.seed)
    rng = np.random.default_rng(tc.seed)
    device = resolve_device(tc.device)

    train_pairs, dev_pairs = load_splits(cfg, rng)
    extra = vector_words(tc.vectors, tc.vectors_vocab_limit) if tc.vectors_vocab else []
    tok = build_tokenizer(
        [t for p in train_pairs for t in (p.text_a, p.text_b)], cfg.tokenizer, extra
    )
    cfg.model.vocab_size = tok.get_vocab_size() + cfg.tokenizer.oov_buckets
    cfg.model.words = cfg.tokenizer.words
    synonyms: list[int] = []
    if cfg.model.synonym_match:
        wordnet = WordNet(default_dir())
        synonyms = vocabulary_synonyms(tok.get_vocab(), cfg.model.vocab_size, wordnet)
        cfg.model.synonym_pairs = len(synonyms)
        log.info(f"WordNet: {len(synonyms):,} synonym pairs (both orders) in the vocabulary")
    train_data = encode_pairs(tok, train_pairs, cfg.tokenizer)
    dev_data = encode_pairs(tok, dev_pairs, cfg.tokenizer)
    if tc.teacher:  # soft targets: the loss reads them, nothing else does
        train_data.labels = distill_targets(
            tc.teacher, train_pairs, dev_pairs, train_data.labels, tc.distill_weight
        )
    word_dropout = None
    if tc.rare_word_dropout:
        word_dropout = RareWordDropout(
            train_data, tok, cfg.tokenizer.oov_buckets, tc.rare_word_dropout, tc.seed
        )
    model = ESIM(cfg.model)
    if synonyms:
        model.synonym_keys.copy_(torch.tensor(synonyms, dtype=torch.long))
    if tc.vectors:
        with torch.no_grad():
            coverage = load_vectors(tc.vectors, tok, model.embedding.table.weight)
        log.info(f"vectors {tc.vectors}: {coverage}")
    if tc.freeze_embedding:
        model.embedding.table.weight.requires_grad_(False)
    model.to(device)
    n_params = sum(p.numel() for p in model.parameters())
    log.info(
        f"vocabulary {cfg.model.vocab_size:,} tokens; model {n_params:,} parameters; "
        f"device {device}"
    )

    out.mkdir(parents=True, exist_ok=True)
    jlog = _JsonLog(out / LOG_FILE)
    jlog.write(
        "start", config=cfg.to_dict(), train_pairs=len(train_data), dev_pairs=len(dev_data),
        vocab_size=cfg.model.vocab_size, parameters=n_params, device=str(device),
    )  # fmt: skip
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=tc.lr, weight_decay=tc.weight_decay)
    lr_scale = 1.0  # lowered by `plateau_factor` when dev stops improving
    # With ema_decay, the averaged copy is what gets evaluated, saved and returned.
    ema = None
    if tc.ema_decay:
        ema = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(tc.ema_decay))
    scored = model if ema is None else ema.module
    detector = DupDetector(scored, tok, cfg)

    best_score, best_step, bad_evals, step, pairs_seen = -math.inf, 0, 0, 0, 0
    best_probs, last_eval_step = np.empty(0), -1
    train_seconds, stop = 0.0, ""
    deadline = None if tc.max_minutes is None else time.perf_counter() + 60 * tc.max_minutes

    def run_eval(epoch: int) -> None:
        nonlocal best_score, best_step, bad_evals, stop, best_probs, lr_scale, last_eval_step
        metrics, probs = evaluate(scored, dev_data, device, 0.5, tc.eval_batch_size)
        last_eval_step = step
        score = _metric_value(metrics, tc.metric)
        improved = score > best_score
        if improved:
            best_score, best_step, bad_evals, best_probs = score, step, 0, probs
            detector.save(out)  # the best checkpoint is always on disk
        else:
            bad_evals += 1
            lr_scale *= tc.plateau_factor
            if bad_evals >= tc.patience:  # a time budget that called this eval stays the reason
                stop = stop or f"no dev {tc.metric} improvement in {tc.patience} evaluations"
        jlog.write("eval", epoch=epoch, step=step, dev=metrics, best=improved)
        log.info(
            f"epoch {epoch} step {step}: dev accuracy {metrics['accuracy']:.4f} "
            f"f1 {metrics['f1']:.4f} auc {metrics['roc_auc'] or float('nan'):.4f} "
            f"log_loss {metrics['log_loss']:.4f}{'  (best)' if improved else ''}"
        )

    for epoch in range(1, tc.epochs + 1):
        model.train()
        batches = training_batches(train_data.lengths(), tc.batch_size, tc.bucket_size, rng)
        bar = tqdm(
            total=len(train_data), desc=f"epoch {epoch}", unit="pair", unit_scale=True,
            disable=None if tc.progress else True,  # None: only on a terminal
            leave=False, dynamic_ncols=True, mininterval=0.5,
        )  # fmt: skip
        epoch_loss, epoch_pairs, epoch_start = 0.0, 0, time.perf_counter()
        window_loss, window_pairs, window_start = 0.0, 0, time.perf_counter()
        for index in batches:
            a, b, y = collate(train_data, index)
            if word_dropout is not None:
                a, b = word_dropout(a, b)
            a, b, y = a.to(device), b.to(device), y.to(device)
            lr = tc.lr * lr_scale * lr_multiplier(step, tc.warmup_steps, tc.decay_steps)
            batch_loss = train_step(model, optimizer, a, b, y, lr, tc.grad_clip, tc.label_smoothing)
            if ema is not None:
                ema.update_parameters(model)
            step += 1
            n = len(index)
            pairs_seen += n
            epoch_loss, epoch_pairs = epoch_loss + batch_loss * n, epoch_pairs + n
            window_loss, window_pairs = window_loss + batch_loss * n, window_pairs + n
            bar.update(n)
            bar.set_postfix(loss=f"{epoch_loss / epoch_pairs:.4f}", refresh=False)
            if step % tc.log_every == 0:
                rate = window_pairs / (time.perf_counter() - window_start)
                jlog.write(
                    "step", epoch=epoch, step=step, pairs=pairs_seen,
                    loss=window_loss / window_pairs, lr=lr,
                    pairs_per_s=round(rate, 1),
                )  # fmt: skip
                window_loss, window_pairs, window_start = 0.0, 0, time.perf_counter()
            if deadline is not None and time.perf_counter() > deadline:
                stop = f"time budget of {tc.max_minutes} minutes used"
            if STOP.is_set():
                stop = stop or "interrupted (Ctrl-C or dupdetect.train.STOP)"
            if tc.decay_steps and step >= tc.decay_steps:
                stop = stop or f"learning rate decayed to 0 at step {tc.decay_steps:,}"
            if tc.eval_every and (step % tc.eval_every == 0 or stop):
                train_seconds += time.perf_counter() - epoch_start
                run_eval(epoch)
                epoch_start = time.perf_counter()
            if stop:
                break
        bar.close()
        train_seconds += time.perf_counter() - epoch_start
        if last_eval_step != step and (not tc.eval_every or stop or epoch == tc.epochs):
            run_eval(epoch)  # every epoch, or the steps since the last evaluation at the end
        train_loss = epoch_loss / max(epoch_pairs, 1)
        jlog.write("epoch", epoch=epoch, step=step, train_loss=train_loss, pairs=epoch_pairs)
        log.info(
            f"epoch {epoch} done: train loss {train_loss:.4f}, {epoch_pairs:,} pairs, "
            f"{pairs_seen / max(train_seconds, 1e-9):,.0f} training pairs/s"
        )
        if stop:
            log.info(f"stopping: {stop}")
            break

    # The best checkpoint is on disk; tune its decision threshold on its dev scores.
    detector.threshold = tune_threshold(
        dev_data.labels, best_probs, tc.threshold_metric, tc.threshold_fit
    )
    dev_metrics = compute_metrics(dev_data.labels, best_probs, detector.threshold)
    detector.save_config(out)
    rate = pairs_seen / max(train_seconds, 1e-9)
    summary = {
        "dev": dev_metrics, "best_step": best_step, "steps": step,
        "train_seconds": round(train_seconds, 1), "train_pairs_per_s": round(rate, 1),
        "train_pairs": len(train_data), "stop_reason": stop or f"{tc.epochs} epochs done",
    }  # fmt: skip
    write_json(out / METRICS_FILE, summary)
    jlog.write("end", **summary)
    jlog.close()
    return TrainResult(out, dev_metrics, best_step, step, train_seconds, rate)


def train_ensemble(cfg: Config, out_dir: str | Path) -> TrainResult:
    """Train `cfg.model.members` ESIMs, one after another, and save them as one Ensemble.

    Member k is an ordinary run of `train` with seed train.seed + k, in
    `out_dir/members/seed<S>/` (its own log, metrics and weights). All members hold out the
    same dev pairs (data.split_seed, or else train.seed), so they share one vocabulary and the
    ensemble's threshold is tuned on dev pairs none of them trained on. Time limits
    (train.max_minutes) apply to each member.
    """
    STOP.clear()
    cfg = copy.deepcopy(cfg)
    out = Path(out_dir)
    if cfg.data.split_seed is None:
        cfg.data.split_seed = cfg.train.seed
    results, members = [], []
    for k in range(cfg.model.members):
        member_cfg = copy.deepcopy(cfg)
        member_cfg.model.members = 1
        member_cfg.train.seed = cfg.train.seed + k
        log.info(f"ensemble member {k + 1} of {cfg.model.members}: seed {member_cfg.train.seed}")
        results.append(train(member_cfg, out / "members" / f"seed{member_cfg.train.seed}"))
        members.append(DupDetector.load(results[-1].out_dir, device=member_cfg.train.device))
        if STOP.is_set() and k + 1 < cfg.model.members:  # the last one cut short still counts
            log.info(
                f"interrupted after member {k + 1} of {cfg.model.members}: each member in "
                f"{out / 'members'} is a complete model; `dupdetect ensemble` combines them"
            )
            raise KeyboardInterrupt
    if any(m.tokenizer.to_str() != members[0].tokenizer.to_str() for m in members):
        raise RuntimeError("ensemble members built different vocabularies from the same split")
    dev_metrics = _save_ensemble(cfg, members, out)
    seconds = sum(r.train_seconds for r in results)
    rate = sum(r.train_pairs_per_s * r.train_seconds for r in results) / max(seconds, 1e-9)
    summary = {
        "dev": dev_metrics, "best_step": max(r.best_step for r in results),
        "steps": sum(r.steps for r in results), "train_seconds": round(seconds, 1),
        "train_pairs_per_s": round(rate, 1),
        "members": [
            {"seed": cfg.train.seed + k, "dir": str(r.out_dir), "best_step": r.best_step,
             "steps": r.steps, "dev": r.dev_metrics}
            for k, r in enumerate(results)
        ],
    }  # fmt: skip
    write_json(out / METRICS_FILE, summary)
    each = ", ".join(f"{r.dev_metrics['accuracy']:.4f}" for r in results)
    log.info(f"ensemble dev accuracy {dev_metrics['accuracy']:.4f} (members: {each})")
    return TrainResult(
        out, dev_metrics, summary["best_step"], summary["steps"], seconds, rate, results
    )


def _save_ensemble(cfg: Config, members: Sequence[DupDetector], out: Path) -> dict[str, Any]:
    """Save `members` (ESIMs of one vocabulary and one model config, which the callers
    check) as one Ensemble in `out`, its threshold tuned on cfg's dev pairs; returns its dev
    metrics there."""
    tok = members[0].tokenizer
    cfg = copy.deepcopy(cfg)
    cfg.model = copy.deepcopy(members[0].config.model)
    cfg.model.members = len(members)
    model = Ensemble(cfg.model)
    for slot, member in zip(model.members, members, strict=True):
        slot.load_state_dict(member.model.state_dict())
    device = resolve_device(cfg.train.device)
    model.to(device).eval()

    _, dev_pairs = load_splits(cfg, np.random.default_rng(cfg.train.seed))
    dev_data = encode_pairs(tok, dev_pairs, cfg.tokenizer)
    probs = predict_proba(model, dev_data, device, cfg.train.eval_batch_size)
    detector = DupDetector(model, tok, cfg)
    detector.threshold = tune_threshold(
        dev_data.labels, probs, cfg.train.threshold_metric, cfg.train.threshold_fit
    )
    dev_metrics = compute_metrics(dev_data.labels, probs, detector.threshold)
    detector.save(out)
    return dev_metrics


def _dev_source(cfg: Config) -> dict[str, Any]:
    """The settings that decide a run's dev pairs, with the seed that draws them resolved
    (None when no seed is involved: a dev file used whole) and the files as absolute paths
    (as they are opened from here: relative paths are relative to the working directory)."""
    data = cfg.data
    seeded = not data.dev or data.max_train_pairs is not None or data.max_dev_pairs is not None
    seed = (cfg.train.seed if data.split_seed is None else data.split_seed) if seeded else None
    files = {k: os.path.realpath(v) for k in ("train", "dev") if (v := getattr(data, k))}
    return {**dataclasses.asdict(data), **files, "split_seed": seed}


def combine(
    member_dirs: Sequence[str | Path], out_dir: str | Path, device: str = "auto"
) -> dict[str, Any]:
    """Save models trained separately (say, one recipe with several seeds) as one Ensemble.

    The members must be single models with the same model and tokenizer settings, the same
    vocabulary, and the same dev pairs (so the threshold, tuned on dev for their mean
    probability, is tuned on pairs none of them trained on). Anything else is a ConfigError
    naming the member and the settings that differ. Returns the ensemble's metrics.json.
    """
    if len(member_dirs) < 2:
        raise ConfigError(f"an ensemble needs at least 2 model directories, got {len(member_dirs)}")
    resolved = [Path(d).resolve() for d in member_dirs]
    twice = next(
        (d for d, r in zip(member_dirs, resolved, strict=True) if resolved.count(r) > 1), None
    )
    if twice is not None:  # its copies would agree on every pair: no ensemble at all
        raise ConfigError(f"{twice}: given twice; each member must be a different model")
    out = Path(out_dir)
    if out.resolve() in resolved:
        raise ConfigError(f"{out}: is one of the members; write the ensemble somewhere else")
    members = [DupDetector.load(d, device=device) for d in member_dirs]
    first, first_dir = members[0].config, member_dirs[0]
    for d, m in zip(member_dirs, members, strict=True):
        if m.config.model.members > 1:
            raise ConfigError(f"{d}: is an ensemble already; give its members' directories")

    def settings(c: Config) -> dict[str, Any]:  # what members must share, flat
        sections = {"model": dataclasses.asdict(c.model), "data": _dev_source(c)}
        sections["tokenizer"] = dataclasses.asdict(c.tokenizer)
        return {f"{name}.{k}": v for name, d in sections.items() for k, v in d.items()}

    theirs, vocabulary = settings(first), members[0].tokenizer.to_str()
    for d, m in zip(member_dirs[1:], members[1:], strict=True):
        mine = settings(m.config)
        differ = [k for k in mine if mine[k] != theirs[k]]
        if differ:
            raise ConfigError(f"{d}: differs from {first_dir} in {', '.join(differ)}")
        if m.tokenizer.to_str() != vocabulary:
            raise ConfigError(f"{d}: its vocabulary differs from that of {first_dir}")
    cfg = copy.deepcopy(first)
    cfg.data.split_seed = theirs["data.split_seed"]
    cfg.train.device = device
    try:
        dev_metrics = _save_ensemble(cfg, members, out)
    except DataError as e:  # say why `ensemble` reads data at all, and from where
        why = "the ensemble re-reads its members' dev pairs to tune its threshold; their "
        why += "data paths are relative to the directory they were trained from"
        raise DataError(e.path, e.line, f"{e.problem} ({why})") from None
    saved = [_read_metrics(Path(d)) for d in member_dirs]
    summary: dict[str, Any] = {
        "dev": dev_metrics,
        "members": [
            {"dir": str(d), "dev": m.get("dev"), "train_seconds": m.get("train_seconds")}
            for d, m in zip(member_dirs, saved, strict=True)
        ],
    }
    seconds = [m.get("train_seconds") for m in saved]
    if all(isinstance(t, int | float) for t in seconds):
        summary["train_seconds"] = round(sum(seconds), 1)  # the members', one after another
    write_json(out / METRICS_FILE, summary)
    return summary


def _read_metrics(model_dir: Path) -> dict[str, Any]:
    """A model directory's metrics.json as training wrote it, or {} if there is none."""
    try:
        return json.loads((model_dir / METRICS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
