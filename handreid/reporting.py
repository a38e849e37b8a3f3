"""Tables and figures from run records: mean +- std over repeats, CMC curves (GPA-Net Fig. 2)."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from .engine.records import RunRecord
from .io import atomic_write, write_text
from .published import DATASET_LABELS, METHOD_LABELS, published


def method_label(config: dict) -> str:
    """Paper name of a run's method, with its options: ``GPA-Net (hp=3, vp=1)``."""
    c = config["config"] if "config" in config else config
    name = METHOD_LABELS.get(c["method"], c["method"])
    opts = ", ".join(f"{k}={v}" for k, v in sorted(c.get("method_options", {}).items()))
    return f"{name} ({opts})" if opts else name


def results_table(runs: Sequence[RunRecord], metrics: Sequence[str] = ("rank1", "mAP"),
                  with_published: bool = True) -> pd.DataFrame:
    """One row per finished run: ``mean +- std`` over repeats of each metric (%), published beside it."""
    rows = []
    for run in runs:
        if not run.finished:
            continue
        c = run.config["config"]
        s = run.summary()
        row = {"method": method_label(run.config), "dataset": DATASET_LABELS.get(c["dataset"], c["dataset"]),
               "profile": c["profile"], "repeats": s["repeats"]}
        pub = published(c["method"], c["dataset"], c.get("method_options", {}))
        for m in metrics:
            row[m] = f"{s[f'{m}_mean']:.2f} ± {s[f'{m}_std']:.2f}"
            if with_published:
                row[f"{m} (paper)"] = f"{pub[m]:.2f}" if pub and m in pub else "–"
        row["run_id"] = run.run_id
        rows.append(row)
    return pd.DataFrame(rows)


def write_table(df: pd.DataFrame, stem: str | Path) -> list[Path]:
    """``<stem>.csv`` and ``<stem>.md``, written atomically."""
    stem = Path(stem)
    csv = write_text(stem.with_suffix(".csv"), df.to_csv(index=False))
    md = write_text(stem.with_suffix(".md"), to_markdown(df) + "\n")
    return [csv, md]


def to_markdown(df: pd.DataFrame) -> str:
    """A GitHub Markdown table (no extra dependency)."""
    cols = [str(c) for c in df.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for _, r in df.iterrows():
        lines.append("| " + " | ".join(str(v) for v in r.tolist()) + " |")
    return "\n".join(lines)


def plot_cmc(runs: Sequence[RunRecord], max_rank: int = 20, ax=None, title: str | None = None):
    """Matching rate (%) versus rank, mean over repeats: one curve per finished run."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 4))
    for run in runs:
        if not run.finished:
            continue
        cmc = np.asarray(run.metrics["summary"]["cmc_mean"])[:max_rank]
        s = run.summary()
        ax.plot(np.arange(1, len(cmc) + 1), cmc, marker="o", markersize=3,
                label=f"{method_label(run.config)}: rank-1 {s['rank1_mean']:.1f}%")
    ax.set_xlabel("rank")
    ax.set_ylabel("matching rate (%)")
    ax.set_xlim(1, max_rank)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    if title:
        ax.set_title(title)
    return ax.figure


def plot_history(history: pd.DataFrame):
    """Training loss and train/validation accuracy per epoch."""
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.2))
    a.plot(history["epoch"], history["loss"], marker="o", markersize=3)
    a.set_xlabel("epoch")
    a.set_ylabel("training loss")
    b.plot(history["epoch"], history["train_acc"], marker="o", markersize=3, label="train")
    b.plot(history["epoch"], history["val_acc"], marker="s", markersize=3, label="validation")
    b.set_xlabel("epoch")
    b.set_ylabel("identity accuracy (%)")
    b.legend()
    for ax in (a, b):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def save_figure(fig, stem: str | Path) -> list[Path]:
    """``<stem>.png`` (150 dpi) and ``<stem>.pdf``, written atomically."""
    stem = Path(stem)
    out = []
    for ext in ("png", "pdf"):
        path = stem.with_suffix(f".{ext}")
        atomic_write(path, lambda tmp, ext=ext: fig.savefig(tmp, format=ext, dpi=150, bbox_inches="tight"))
        out.append(path)
    return out

