"""Plots of run records: CMC curves, training history, ranked retrieval grids (docs/DESIGN.md §4).

Used by the run and teaching notebooks and by the paper figures (:mod:`handreid.repro.figures`).
Figures are saved with fixed metadata, so re-rendering the same records gives the same bytes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from .engine.records import RunRecord
from .io import atomic_write
from .published import METHOD_LABELS

__all__ = ["GREEN", "MISSING", "QUERY_BLUE", "RED", "method_label", "plot_cmc", "plot_history", "plot_retrieval",
           "save_figure"]

GREEN, RED, QUERY_BLUE = "#1a9850", "#d73027", "#2c7bb6"
MISSING = "missing"
#: Figure-file metadata without a creation date (matplotlib would stamp the PDF with the time).
_FIXED_METADATA = {"png": {}, "pdf": {"CreationDate": None}}


def method_label(config: dict) -> str:
    """Paper name of a run's method, with its options: ``GPA-Net (hp=3, vp=1)``."""
    c = config["config"] if "config" in config else config
    name = METHOD_LABELS.get(c["method"], c["method"])
    opts = ", ".join(f"{k}={v}" for k, v in sorted(c.get("method_options", {}).items()))
    return f"{name} ({opts})" if opts else name


def plot_cmc(runs: Sequence[RunRecord | np.ndarray], max_rank: int = 20, ax=None, title: str | None = None,
             labels: Sequence[str] | None = None):
    """Matching rate (%) versus rank, mean over repeats: one curve per finished run, or per array of
    CMC curves (one row per training seed: their mean, with a band of ± their std)."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 4))
    from matplotlib.ticker import MaxNLocator

    for i, run in enumerate(runs):
        if isinstance(run, np.ndarray):
            curves = np.atleast_2d(run)[:, :max_rank]
            label = labels[i] if labels else None
        else:
            if not run.finished:
                continue
            curves = np.asarray(run.metrics["summary"]["cmc_mean"])[None, :max_rank]
            s = run.summary()
            label = labels[i] if labels else f"{method_label(run.config)}: rank-1 {s['rank1_mean']:.1f}%"
        ranks = np.arange(1, curves.shape[1] + 1)
        (line,) = ax.plot(ranks, curves.mean(axis=0), marker="o", markersize=3, label=label)
        if len(curves) > 1:
            sd = curves.std(axis=0, ddof=1)
            ax.fill_between(ranks, curves.mean(axis=0) - sd, curves.mean(axis=0) + sd,
                            color=line.get_color(), alpha=0.2, linewidth=0)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("rank")
    ax.set_ylabel("matching rate (%)")
    ax.set_xlim(1, max_rank)
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="lower right", fontsize=8)
    if title:
        ax.set_title(title)
    return ax.figure


def _image(root: Path, rel: str, size=(128, 128)) -> np.ndarray:
    """A thumbnail of ``root / rel``; an image that cannot be read is an error naming it, never an empty frame."""
    from PIL import Image

    try:
        with Image.open(root / rel) as im:
            im = im.convert("RGB")
            im.thumbnail(size)
            return np.asarray(im)
    except OSError as e:
        raise FileNotFoundError(
            f"retrieval image {rel!r} cannot be read under the data root {str(root)!r} ({type(e).__name__}: {e}). "
            "Pass the data root the records were made from (data_root=..., the folder holding 11k/, HD/, "
            "Market-1501-v15.09.15/ ...); the demo profile's is written by `python -m handreid demo-data --all`"
        ) from None


def _frame(ax, colour: str, width: float = 4.0) -> None:
    ax.set_xticks([])
    ax.set_yticks([])
    for s in ax.spines.values():
        s.set_visible(True)
        s.set_edgecolor(colour)
        s.set_linewidth(width)


def plot_retrieval(entries: Sequence[dict], top_k: int = 10, title: str | None = None):
    """Ranked retrieval grid: one line per entry, the query then its top-k gallery images.

    ``entries``: dicts with ``label`` and ``query`` (a record's query: path, pid, ranked list of
    {path, pid, correct}) plus ``root`` (the data root the paths are relative to), or
    ``query=None`` for a missing record (drawn as "missing"). Correct matches get a green border,
    wrong ones red. An image that cannot be read raises ``FileNotFoundError`` naming it and the root.
    """
    import matplotlib.pyplot as plt

    n = max(1, len(entries))
    fig, axes = plt.subplots(n, top_k + 1, figsize=(1.1 * (top_k + 1) + 1.6, 1.45 * n), squeeze=False)
    for i, e in enumerate(entries or [{"label": "nothing selected", "query": None}]):
        axq = axes[i][0]
        axq.set_ylabel(e["label"], rotation=0, ha="right", va="center", fontsize=8)
        q = e.get("query")
        if q is None:
            _frame(axq, "0.6", 1.0)
            axq.text(0.5, 0.5, MISSING, ha="center", va="center", fontsize=8, transform=axq.transAxes)
            for ax in axes[i][1:]:
                ax.axis("off")
            continue
        root = Path(e["root"])
        axq.imshow(_image(root, q["path"]))
        _frame(axq, QUERY_BLUE, 2.0)
        if i == 0:
            axq.set_title("query", fontsize=8)
        first = q.get("first_correct_rank")
        if first:
            axq.set_xlabel(f"match at rank {first}", fontsize=7)
        for k, ax in enumerate(axes[i][1:]):
            if k >= len(q["ranked"]):
                ax.axis("off")
                continue
            g = q["ranked"][k]
            ax.imshow(_image(root, g["path"]))
            _frame(ax, GREEN if g["correct"] else RED)
            if i == 0:
                ax.set_title(str(k + 1), fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


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
    """``<stem>.png`` (150 dpi) and ``<stem>.pdf``, written atomically.

    The files carry no creation date, so the same figure always gives the same bytes.
    """
    stem = Path(stem)
    out = []
    for ext in ("png", "pdf"):
        path = stem.with_suffix(f".{ext}")
        meta = _FIXED_METADATA[ext]
        atomic_write(path, lambda tmp, ext=ext, meta=meta: fig.savefig(tmp, format=ext, dpi=150, bbox_inches="tight",
                                                                       metadata=meta))
        out.append(path)
    return out
