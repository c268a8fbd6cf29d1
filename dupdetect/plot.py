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


def _logs(run: Path) -> list[Path]:
    """The training logs of a run directory: its own, or an ensemble's members' logs."""
    if not run.is_dir():
        return [run]
    own = run / "train_log.jsonl"
    members = sorted((run / "members").glob("*/train_log.jsonl"))
    return members if members and not own.exists() else [own]


def plot_run(run: str | Path, out: str | Path | None = None) -> Path:
    """Draw loss and dev accuracy/AUC of the run in directory `run` (or of a log file) into a
    PNG; returns its path (default: curves.png beside the log, or in an ensemble's
    directory, with one line per member)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    run = Path(run)
    logs = _logs(run)
    fig, (ax_loss, ax_dev) = plt.subplots(1, 2, figsize=(11, 4))
    for i, log_path in enumerate(logs):
        records = read_log(log_path)
        steps = [r for r in records if r["event"] == "step"]
        evals = [r for r in records if r["event"] == "eval"]
        if not steps and not evals:
            raise DataError(str(log_path), None, "no step or eval records to plot")
        start = next((r for r in records if r["event"] == "start"), None)
        batch = start["config"]["train"]["batch_size"] if start else 1
        member = log_path.parent.name if len(logs) > 1 else ""
        name = f"{member}: " if member else ""
        color = f"C{i}" if member else None  # one colour per member
        ax_loss.plot(
            [r["pairs"] for r in steps], [r["loss"] for r in steps], lw=1, color=color,
            label=member,
        )  # fmt: skip
        pairs = [r["step"] * batch for r in evals]
        accuracy = [r["dev"]["accuracy"] for r in evals]
        auc = [r["dev"]["roc_auc"] for r in evals]
        ax_dev.plot(pairs, accuracy, marker="o", color=color, label=f"{name}accuracy @0.5")
        ax_dev.plot(pairs, auc, marker="s", ls="--", color=color, label=f"{name}ROC-AUC")
    ax_loss.set(xlabel="training pairs seen", ylabel="training loss (BCE)", title="loss")
    ax_dev.set(xlabel="training pairs seen", ylabel="dev", title="dev metrics")
    ax_dev.legend(fontsize="small" if len(logs) > 1 else None)
    if len(logs) > 1:
        ax_loss.legend(fontsize="small")
    for ax in (ax_loss, ax_dev):
        ax.grid(alpha=0.3)
    home = run if len(logs) > 1 else logs[0].parent
    fig.suptitle(home.name)
    fig.tight_layout()
    target = Path(out) if out else home / "curves.png"
    fig.savefig(target, dpi=110)
    plt.close(fig)
    return target
