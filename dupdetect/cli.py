"""Command line: ``dupdetect train | ensemble | evaluate | predict | export | plot``. Parses
arguments and calls the library; every expected failure (bad file, bad config, bad model
directory) is one line on stderr and exit status 1."""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import math
import sys
from pathlib import Path
from typing import TextIO

import numpy as np

from dupdetect import __version__
from dupdetect.analysis import breakdown, format_breakdown, overlap, write_errors
from dupdetect.config import ConfigError, load_config
from dupdetect.data import FORMATS, DataError, PairFile, read_pairs
from dupdetect.detector import BACKENDS, WEIGHTS_FILE, DupDetector, ModelDirError
from dupdetect.device import DeviceError
from dupdetect.evaluate import SCORING_BATCH, compute_metrics, format_metrics
from dupdetect.export import INT8_FILE, ExportError, export_onnx
from dupdetect.vectors import VectorsError


class OutputError(Exception):
    """An output file that cannot be written where asked (found before any work is done)."""


EXPECTED_ERRORS = (
    ConfigError, DataError, ModelDirError, DeviceError, VectorsError, ExportError, OutputError
)  # fmt: skip


def _check_output(path: str | None) -> None:
    """Fail at once, not after minutes of scoring, when `path` cannot be a file to write."""
    if path is None:
        return
    target = Path(path)
    if target.is_dir():
        raise OutputError(f"{target}: is a directory; give a file name to write")
    if not target.parent.is_dir():
        raise OutputError(f"{target}: its directory {target.parent} does not exist")


def _cmd_train(args: argparse.Namespace) -> None:
    from dupdetect.train import STOP, stop_on_ctrl_c, train  # here: keeps `predict` light

    overrides = list(args.overrides)
    paths = ((args.train, "data.train"), (args.dev, "data.dev"), (args.vectors, "train.vectors"))
    for flag, key in paths:
        if flag:
            overrides.append(f"{key}={json.dumps(flag)}")
    if args.device:
        overrides.append(f"train.device={args.device}")
    cfg = load_config(args.config, overrides)
    out = args.out or Path("runs") / (Path(args.config).stem if args.config else "model")
    if out.exists() and not out.is_dir():  # found now, not after reading the data
        raise OutputError(f"{out}: is a file; --out names the model directory to write")
    with stop_on_ctrl_c():
        result = train(cfg, out)
    print(format_metrics(result.dev_metrics, title=f"dev metrics of the saved model ({out})"))
    for k, member in enumerate(result.members, start=1):
        print(
            f"member {k} ({member.out_dir}): dev accuracy {member.dev_metrics['accuracy']:.4f}, "
            f"best at step {member.best_step:,} of {member.steps:,}"
        )
    best = "" if result.members else f"; best at step {result.best_step:,}"
    print(
        f"trained {result.steps:,} steps in {result.train_seconds:.0f} s "
        f"({result.train_pairs_per_s:,.0f} pairs/s){best}"
    )
    if STOP.is_set():  # saved whole, but a script running this should stop as on any Ctrl-C
        print(f"dupdetect train: interrupted; {out} holds the best checkpoint", file=sys.stderr)
        raise SystemExit(130)


def _cmd_ensemble(args: argparse.Namespace) -> None:
    from dupdetect.train import combine

    summary = combine(args.model_dirs, args.out, device=args.device)
    print(format_metrics(summary["dev"], title=f"dev metrics of the ensemble ({args.out})"))
    for member in summary["members"]:
        dev = member["dev"] or {}
        accuracy = f"{dev['accuracy']:.4f}" if "accuracy" in dev else "unknown"
        print(f"member {member['dir']}: dev accuracy {accuracy} (as saved by its training)")


def _cmd_evaluate(args: argparse.Namespace) -> None:
    _check_output(args.errors)
    detector = DupDetector.load(args.model_dir, device=args.device, backend=args.backend)
    pf = read_pairs(args.data, args.format, skip_bad=args.skip_bad_rows)
    _report_passed_over(pf)
    threshold = detector.threshold if args.threshold is None else args.threshold
    labels = np.array([p.label for p in pf.pairs], dtype=np.float32)
    packing = detector.config.model.vocab_size if detector.config.model.words else 0
    scored = [  # chunk by chunk: memory stays flat (DupDetector.encode_chunks)
        (detector.predict_encoded(data, args.batch_size), data.lengths(), overlap(data, packing))
        for data in detector.encode_chunks(pf.pairs)
    ]
    probs, lengths, overlaps = (np.concatenate(column) for column in zip(*scored, strict=True))
    metrics = compute_metrics(labels, probs, threshold)
    metrics["data"] = str(args.data)
    tables = breakdown(lengths, overlaps, labels, probs, threshold)
    if args.errors:
        n = write_errors(args.errors, pf.pairs, probs, threshold, pf.lines)
        print(f"wrote {n:,} misclassified pairs to {args.errors}", file=sys.stderr)
    if args.json:
        print(json.dumps({**metrics, **tables}))
    else:
        print(format_metrics(metrics, title=f"{args.model_dir} on {args.data}"))
        print(format_breakdown(tables))


def _report_passed_over(pf: PairFile) -> None:
    """One stderr line naming the bad rows and blank lines reading left out, if any."""
    if note := pf.passed_over():
        print(f"{pf.path}: {note}", file=sys.stderr)


def _write_predictions(out: TextIO, pf: PairFile, probs: np.ndarray, threshold: float) -> None:
    """One JSON line per pair, in input order; "line" is the pair's line in the input file."""
    for line, pair, p in zip(pf.lines, pf.pairs, probs, strict=True):
        record = {
            "line": line,
            "text_a": pair.text_a,
            "text_b": pair.text_b,
            "probability": round(float(p), 6),
            "duplicate": bool(p >= threshold),
        }
        if pair.label is not None:
            record["label"] = pair.label
        out.write(json.dumps(record, ensure_ascii=False) + "\n")


def _cmd_predict(args: argparse.Namespace) -> None:
    if args.pairs is None and len(args.texts) != 2:
        raise SystemExit("dupdetect predict: error: give two texts, or --pairs FILE (- for stdin)")
    if args.pairs is not None and args.texts:
        raise SystemExit("dupdetect predict: error: give either two texts or --pairs, not both")
    _check_output(args.output)
    detector = DupDetector.load(args.model_dir, device=args.device, backend=args.backend)
    threshold = detector.threshold if args.threshold is None else args.threshold
    if args.pairs is None:
        a, b = args.texts
        if not a.strip() or not b.strip():
            raise DataError("<command line>", None, "both texts must be non-empty")
        p = float(detector.predict([(a, b)])[0])
        verdict = "duplicate" if p >= threshold else "not duplicate"
        print(f"P(duplicate) = {p:.4f}  ->  {verdict}  (threshold {threshold:.4f})")
        return
    fmt = args.format if args.format != "auto" or args.pairs != "-" else "tsv"
    pf = read_pairs(args.pairs, fmt, skip_bad=args.skip_bad_rows, require_labels=False)
    _report_passed_over(pf)
    probs = detector.predict(pf.pairs, args.batch_size)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as f:
            _write_predictions(f, pf, probs, threshold)
        print(f"wrote {len(probs):,} predictions to {args.output}", file=sys.stderr)
    else:
        _write_predictions(sys.stdout, pf, probs, threshold)


def _size(path: Path) -> str:
    n = path.stat().st_size
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{n / 1e3:.1f} kB"


def _cmd_export(args: argparse.Namespace) -> None:
    onnx_path = export_onnx(args.model_dir, int8=args.int8)
    written = [onnx_path, onnx_path.with_name(INT8_FILE)] if args.int8 else [onnx_path]
    weights = args.model_dir / WEIGHTS_FILE
    for path in written:
        print(f"wrote {path} ({_size(path)}; {weights.name} is {_size(weights)})")
    backend = "onnx-int8" if args.int8 else "onnx"
    print(f"use it with: dupdetect predict {args.model_dir} --backend {backend} ...")


def _cmd_plot(args: argparse.Namespace) -> None:
    if importlib.util.find_spec("matplotlib") is None:
        raise SystemExit("dupdetect plot: error: needs matplotlib: pip install 'dupdetect[plot]'")
    from dupdetect.plot import plot_run

    _check_output(args.output)
    print(f"wrote {plot_run(args.run, args.output)}")


def _threshold(text: str) -> float:
    """argparse type: a decision threshold, a probability in [0, 1]."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0.0 <= value <= 1.0:  # also rejects nan
        raise argparse.ArgumentTypeError(f"must be a number in [0, 1], got {text!r}")
    return value + 0.0  # -0.0 -> 0.0


def _positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {text!r}")
    return value


def _add_scoring_options(parser: argparse.ArgumentParser) -> None:
    """Options shared by `evaluate` and `predict`: reading pairs and scoring them."""
    parser.add_argument("--format", default="auto", choices=["auto", *FORMATS])
    parser.add_argument(
        "--threshold", type=_threshold, help="decision threshold (default: the saved one)"
    )
    parser.add_argument(
        "--skip-bad-rows", action="store_true", help="skip malformed rows, count them"
    )
    parser.add_argument("--batch-size", type=_positive_int, default=SCORING_BATCH)
    parser.add_argument("--device", default="auto")
    parser.add_argument(
        "--backend", default="torch", choices=BACKENDS,
        help="torch (default); onnx / onnx-int8: the model.onnx / model.int8.onnx that "
        "`dupdetect export` wrote, in ONNX Runtime on the CPU",
    )  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dupdetect", description="Decide whether two texts say the same thing."
    )
    parser.add_argument("--version", action="version", version=f"dupdetect {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train a model on a labelled pair file")
    t.add_argument("--config", help="YAML recipe, e.g. configs/lcqmc.yaml (default: built-in)")
    t.add_argument("--train", help="training pairs (overrides data.train)")
    t.add_argument("--dev", help="dev pairs (overrides data.dev); default: held out of train")
    t.add_argument("--out", type=Path, help="model directory to write (default: runs/<config>)")
    t.add_argument(
        "--vectors", help="pretrained word vectors, GloVe/word2vec text format (train.vectors)"
    )
    t.add_argument("--device", help="auto (default), cpu, cuda, cuda:N")
    t.add_argument("overrides", nargs="*", metavar="key=value", help="e.g. train.epochs=3")
    t.set_defaults(func=_cmd_train)

    n = sub.add_parser(
        "ensemble",
        help="save trained models of one recipe (e.g. several seeds) as one model that scores "
        "their mean probability, its threshold tuned on their dev pairs",
    )
    n.add_argument("model_dirs", type=Path, nargs="+", metavar="MODEL_DIR")
    n.add_argument("--out", type=Path, required=True, help="model directory to write")
    n.add_argument("--device", default="auto")
    n.set_defaults(func=_cmd_ensemble)

    e = sub.add_parser("evaluate", help="metrics of a saved model on a labelled pair file")
    e.add_argument("model_dir", type=Path)
    e.add_argument("data", help="labelled pair file (tsv, csv, mrpc, quora, jsonl; .gz ok)")
    e.add_argument("--json", action="store_true", help="print one JSON object")
    e.add_argument("--errors", help="write the misclassified pairs here (JSON lines)")
    _add_scoring_options(e)
    e.set_defaults(func=_cmd_evaluate)

    p = sub.add_parser("predict", help="P(duplicate) for two texts or a file of pairs")
    p.add_argument("model_dir", type=Path)
    p.add_argument("texts", nargs="*", metavar="TEXT", help="two texts to compare")
    p.add_argument("--pairs", help="file of pairs (labels optional), or - for stdin")
    p.add_argument("--output", "-o", help="write JSON lines here instead of stdout")
    _add_scoring_options(p)
    p.set_defaults(func=_cmd_predict)

    x = sub.add_parser("export", help="export a saved model for ONNX Runtime (--backend onnx)")
    x.add_argument("model_dir", type=Path)
    x.add_argument("--format", default="onnx", choices=["onnx"], help="onnx (the only one)")
    x.add_argument(
        "--int8", action="store_true", help="also write model.int8.onnx (dynamic quantisation)"
    )
    x.set_defaults(func=_cmd_export)

    c = sub.add_parser("plot", help="training curves (PNG) from a run's train_log.jsonl")
    c.add_argument("run", help="model directory of a training run, or its train_log.jsonl")
    c.add_argument("--output", "-o", help="PNG to write (default: curves.png in the run)")
    c.set_defaults(func=_cmd_plot)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    try:
        args.func(args)
    except EXPECTED_ERRORS as e:
        print(f"dupdetect {args.command}: error: {e}", file=sys.stderr)
        return 1
    except OSError as e:  # writing output: a full disk, no permission
        where = f"{e.filename}: " if e.filename else ""
        print(f"dupdetect {args.command}: error: {where}{e.strerror or e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"dupdetect {args.command}: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
