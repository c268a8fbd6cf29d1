"""Training curves from a run's train_log.jsonl: loss per logged step, dev metrics per
evaluation, both against pairs seen. Needs matplotlib (``pip install dupdetect[plot]``)."""

from __future__ import annotations

import json
from pathlib import Path

from dupdetect.data import DataError


def read_log(path: Path) -> list[dict]:
    """The records of a train_log.jsonl; a malformed line is a DataError naming it."""
    records = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise DataError(str(path), None, f"cannot read training log: {e.strerror}") from None
    for i, line in enumerate(lines, start=1):
        if line.strip():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise DataError(str(path), i, f"not JSON: {e.msg}") from None
    return records


def plot_run(run: str | Path, out: str | Path | None = None) -> Path:
    """Draw loss and dev accuracy/AUC of the run in directory `run` (or of a log file) into a
    PNG; returns its path (default: curves.png beside the log)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    run = Path(run)
    log_path = run / "train_log.jsonl" if run.is_dir() else run
    records = read_log(log_path)
    steps = [r for r in records if r["event"] == "step"]
    evals = [r for r in records if r["event"] == "eval"]
    if not steps and not evals:
        raise DataError(str(log_path), None, "no step or eval records to plot")
    batch = next((r["config"]["train"]["batch_size"] for r in records if r["event"] == "start"), 1)

    fig, (ax_loss, ax_dev) = plt.subplots(1, 2, figsize=(11, 4))
    ax_loss.plot([r["pairs"] for r in steps], [r["loss"] for r in steps], lw=1)
    ax_loss.set(xlabel="training pairs seen", ylabel="training loss (BCE)", title="loss")
    pairs = [r["step"] * batch for r in evals]
    ax_dev.plot(pairs, [r["dev"]["accuracy"] for r in evals], marker="o", label="accuracy @0.5")
    ax_dev.plot(pairs, [r["dev"]["roc_auc"] for r in evals], marker="s", label="ROC-AUC")
    ax_dev.set(xlabel="training pairs seen", ylabel="dev", title="dev metrics")
    ax_dev.legend()
    for ax in (ax_loss, ax_dev):
        ax.grid(alpha=0.3)
    fig.suptitle(str(log_path.parent.name))
    fig.tight_layout()
    target = Path(out) if out else log_path.parent / "curves.png"
    fig.savefig(target, dpi=110)
    plt.close(fig)
    return target
