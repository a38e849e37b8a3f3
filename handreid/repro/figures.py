"""The papers' figures from the run records: CMC curves, retrieval grids, the Table 3 heatmap (docs/DESIGN.md §4).

>>> from handreid.repro import figures
>>> figures.figure("gpa-fig2", profile="demo")          # a matplotlib Figure
>>> figures.figure_cell("laga-fig3")                      # also saved to figures/laga-fig3_demo.{png,pdf}
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..data.synthetic.demo import prepare_demo_data
from ..engine import records
from ..io import read_json
from ..plots import MISSING, plot_cmc, plot_retrieval, save_figure
from . import experiments as ex
from .experiments import METRIC_LABELS, Experiment
from .plan import cell_runs
from .tables import _runs_root, collect

__all__ = ["cmc_figure", "figure", "figure_cell", "heatmap_figure", "heatmap_matrix", "retrieval_entries",
           "retrieval_figure"]


def cmc_figure(exp: Experiment | str = "gpa-fig2", profile: str = "demo", runs_root=None,
               variant: str | None = None, seeds: int | None = None):
    """GPA-Net Fig. 2: the CMC curve of every row on the figure's dataset, the mean over the
    training seeds (:func:`~handreid.repro.experiments.seeds_of`) with a band of ± their std;
    missing runs are named."""
    import matplotlib.pyplot as plt

    exp = ex.get(exp) if isinstance(exp, str) else exp
    seeds = ex.seeds_of(exp, profile, seeds)
    col = exp.columns[0]
    root = _runs_root(runs_root)
    fig, ax = plt.subplots(figsize=(5.5, 4))
    curves, labels, missing = [], [], []
    for row in exp.rows:
        ids = [r for r, _ in cell_runs(exp, row, col, profile, seeds, variant)]
        p = exp.published.get((row.key, col.key), {}).get("rank1")
        paper = f" (paper {p:.2f}%)" if p is not None else ""
        runs = [records.load_run(root / rid) for rid in ids if (root / rid / records.METRICS).exists()]
        if runs:
            curves.append(np.array([r.metrics["summary"]["cmc_mean"] for r in runs], float))
            r1 = curves[-1][:, 0]
            spread = f" ± {r1.std(ddof=1):.1f}" if len(runs) > 1 else ""
            note = "" if len(runs) == len(ids) else f" [{len(runs)}/{len(ids)} seeds]"
            labels.append(f"{row.label}: rank-1 {r1.mean():.1f}{spread}%{note}{paper}")
        else:
            missing.append(f"{row.label}: {MISSING}{paper}")
    for label in missing:  # a legend entry without a curve: never a number
        ax.plot([], [], ls="--", color="0.6", label=label)
    over = f", mean ± std over {seeds} seeds" if seeds > 1 else ""
    plot_cmc(curves, exp.figure.get("max_rank", 20), ax=ax, labels=labels,
             title=f"{exp.name}: CMC on {col.label} ({profile}{over})")
    return fig


def retrieval_entries(exp: Experiment | str, profile: str = "demo", runs_root=None,
                      data_root: str | Path | None = None, variant: str | None = None) -> list[dict]:
    """The lines of a retrieval figure from the records ``<run>/retrieval/<dataset>.json`` (seed 0).

    The records hold image paths relative to the data root; ``data_root`` is that root (default:
    the demo data for the demo profile, written when absent; required for the paper profile).
    """
    exp = ex.get(exp) if isinstance(exp, str) else exp
    root = _runs_root(runs_root)
    nq = exp.figure.get("queries", 1)
    entries, found = [], set()
    for col in exp.columns:
        for row in exp.rows:
            rid = next((r for r, _ in cell_runs(exp, row, col, profile, 1, variant)), None)
            f = records.derived_path(root / rid, "retrieval", col.train) if rid else None
            label = f"{row.label}\n{col.label}" if len(exp.rows) > 1 else col.label
            if f is None or not f.exists():
                entries.append({"label": label, "query": None})
                continue
            found.add(col.train)
            entries += [{"label": label, "query": q} for q in read_json(f)["queries"][:nq]]
    if found:
        images = _data_root(profile, data_root, found, exp)
        for e in entries:
            if e["query"] is not None:
                e["root"] = str(images)
    return entries


def _data_root(profile: str, data_root, datasets: set[str], exp: Experiment) -> Path:
    if data_root is not None:
        return Path(data_root).expanduser()
    if profile == "demo":
        return prepare_demo_data(datasets)
    raise ValueError(f"{exp.key}: the {profile} profile's retrieval figures show images of {', '.join(sorted(datasets))}: "
                     "pass data_root, the folder holding the datasets")


def retrieval_figure(exp: Experiment | str, profile: str = "demo", runs_root=None, data_root=None,
                     variant: str | None = None):
    exp = ex.get(exp) if isinstance(exp, str) else exp
    return plot_retrieval(retrieval_entries(exp, profile, runs_root, data_root, variant), exp.figure.get("top_k", 10),
                          title=f"{exp.name} ({profile}): green = correct, red = wrong")


def heatmap_matrix(cells: pd.DataFrame, exp: Experiment, metric: str = "rank1", value: str = "mean") -> np.ndarray:
    """rows x columns array of one metric (NaN where missing)."""
    m = np.full((len(exp.rows), len(exp.columns)), np.nan)
    for i, row in enumerate(exp.rows):
        for j, col in enumerate(exp.columns):
            r = cells[(cells["row"] == row.key) & (cells["column"] == col.key) & (cells["metric"] == metric)]
            if len(r) and (value != "mean" or r.iloc[0]["status"] in ("ok", "partial")):
                m[i, j] = r.iloc[0][value]
    return m


def heatmap_figure(exp: Experiment | str = "gpa-table3-heatmap", profile: str = "demo", seeds: int | None = None,
                   runs_root=None, metric: str = "rank1", variant: str | None = None):
    """GPA-Net Table 3 as Hp x Vp heatmaps: ours (left) and published (right); returns (fig, ours matrix)."""
    import matplotlib.pyplot as plt

    exp = ex.get(exp) if isinstance(exp, str) else exp
    cells = collect(exp, profile, seeds, runs_root, variant=variant)
    ours, paper = heatmap_matrix(cells, exp, metric), heatmap_matrix(cells, exp, metric, "published")
    fig, axes = plt.subplots(1, 2, figsize=(8, 3.6))
    for ax, mat, name in ((axes[0], ours, f"ours ({profile})"), (axes[1], paper, "paper")):
        masked = np.ma.masked_invalid(mat)
        cmap = plt.get_cmap("viridis").with_extremes(bad="0.85")
        im = ax.imshow(masked, cmap=cmap, aspect="auto")
        lo, hi = (np.nanmin(mat), np.nanmax(mat)) if masked.count() else (0.0, 1.0)
        for i in range(mat.shape[0]):
            for j in range(mat.shape[1]):
                v = mat[i, j]
                dark = not np.isnan(v) and (v - lo) < 0.6 * (hi - lo + 1e-9)  # light text on the dark colours
                ax.text(j, i, MISSING if np.isnan(v) else f"{v:.2f}", ha="center", va="center", fontsize=8,
                        color="white" if dark else "black")
        ax.set_xticks(range(len(exp.columns)), [c.label for c in exp.columns])
        ax.set_yticks(range(len(exp.rows)), [r.label for r in exp.rows])
        ax.set_title(f"{METRIC_LABELS.get(metric, metric)} (%), {name}", fontsize=9)
        if masked.count():
            fig.colorbar(im, ax=ax, fraction=0.046)
    fig.suptitle(f"{exp.name}: {exp.title}", fontsize=10)
    fig.tight_layout()
    return fig, ours


def figure(key: str, profile: str = "demo", seeds: int | None = None, runs_root=None, data_root=None,
           variant: str | None = None):
    """The figure of experiment ``key`` (cmc, retrieval or heatmap) from the runs of ``variant``."""
    exp = ex.get(key)
    if exp.kind == "cmc":
        return cmc_figure(exp, profile, runs_root, variant, seeds)
    if exp.kind == "retrieval":
        return retrieval_figure(exp, profile, runs_root, data_root, variant)
    if exp.kind == "heatmap":
        return heatmap_figure(exp, profile, seeds, runs_root, variant=variant)[0]
    raise ValueError(f"{key} is a table, not a figure")


def figure_cell(key: str, profile: str = "demo", seeds: int | None = None, only: str = "all", folder=None, runs_root=None,
                data_root=None, variant: str | None = None):
    """A figures-notebook cell: the figure (saved to ``figures/<key>_<profile>[-<variant>].{png,pdf}``), or a note."""
    from ..paths import figures_dir

    if not ex.selected(only, key):
        return f"{key}: not selected (only={only!r})"
    import matplotlib.pyplot as plt

    fig = figure(key, profile, seeds, runs_root, data_root, variant)
    tag = profile + (f"-{variant}" if variant else "")
    save_figure(fig, Path(folder if folder is not None else figures_dir()) / f"{key}_{tag}")
    plt.close(fig)  # shown once, as the cell's value
    return fig
