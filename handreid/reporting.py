"""Tables and figures of the papers from the run records (the registry says what each one shows).

>>> from handreid import reporting
>>> t = reporting.table("gpa-table1", profile="demo")   # a TableResult; Jupyter shows it as Markdown
>>> t.cells                                            # tidy: one row per (row, column, metric)
>>> t.write(paths.tables_dir())                        # gpa-table1_demo.{csv,md,tex}
>>> reporting.cmc_figure("gpa-fig2"), reporting.retrieval_figure("laga-fig3"), reporting.heatmap_figure()

Cells: ours = mean ± std over the query/gallery repeats (population std, as the engine's
``aggregate``); with several training seeds the mean is over seeds and a second ± gives the
sample std of the per-seed means. Beside it the published number and Δ = ours − paper. The
best of ours per column and metric is bold. A run that is not there shows as ``missing``, a
method handreid does not implement as ``not reproduced``; neither ever shows a number.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from . import experiments as ex
from .engine.records import RunRecord
from .experiments import METRIC_LABELS, Experiment
from .io import atomic_write, read_json, write_text
from .published import METHOD_LABELS

GREEN, RED, QUERY_BLUE = "#1a9850", "#d73027", "#2c7bb6"
MISSING, NOT_REPRODUCED = "missing", "not reproduced"


def method_label(config: dict) -> str:
    """Paper name of a run's method, with its options: ``GPA-Net (hp=3, vp=1)``."""
    c = config["config"] if "config" in config else config
    name = METHOD_LABELS.get(c["method"], c["method"])
    opts = ", ".join(f"{k}={v}" for k, v in sorted(c.get("method_options", {}).items()))
    return f"{name} ({opts})" if opts else name


def _runs_root(runs_root) -> Path:
    from .paths import runs_dir
    return Path(runs_root) if runs_root is not None else runs_dir()


# ----------------------------------------------------------------------------- collecting
def _per_repeat(run_dir: Path, column) -> list[dict] | None:
    """Per-repeat metrics of one run on the column's test data (cross-domain: its derived record)."""
    f = run_dir / "cross" / f"{column.test}.json" if column.cross else run_dir / "metrics.json"
    if not f.exists():
        return None
    return read_json(f).get("per_repeat") or None


def _combine(per_seed: list[list[float]]) -> dict:
    means = [float(np.mean(v)) for v in per_seed]
    return {"mean": float(np.mean(means)),
            "std_repeats": float(math.sqrt(np.mean([np.var(v) for v in per_seed]))),
            "std_seeds": float(np.std(means, ddof=1)) if len(means) > 1 else float("nan"),
            "repeats": int(np.mean([len(v) for v in per_seed]))}


def dataset_counts(dataset: str, root: str | Path) -> dict[tuple[str, str], int] | None:
    """(subset, "ids"/"images"/"cameras") -> count of repeat 0, or None when the data are not there."""
    from .data import BODY_DATASETS, load_split

    try:
        split = load_split(dataset, root=root, repeat=0, seed=0)
    except Exception:  # noqa: BLE001 - absent or incomplete data: shown as missing
        return None
    if dataset in BODY_DATASETS:
        from .data.body import table_i_counts
        c = table_i_counts(split)
    else:
        from .data import table_ii_counts
        c = table_ii_counts(split)
    return {(s, m): int(c[f"{s}_{m}"]) for s in ("train", "query", "gallery") for m in ("ids", "images", "cameras")
            if f"{s}_{m}" in c}


def collect(exp: Experiment | str, profile: str = "demo", seeds: int = 1, runs_root=None,
            data_root: str | Path | None = None) -> pd.DataFrame:
    """Tidy cells of one experiment: a row per (row, column, metric) with ours, paper, Δ and status."""
    exp = ex.get(exp) if isinstance(exp, str) else exp
    root = _runs_root(runs_root)
    out = []
    counts: dict[str, dict | None] = {}
    if exp.kind == "stats":
        from .paths import demo_data_root
        droot = data_root if data_root is not None else (demo_data_root() if profile == "demo" else None)
        counts = {c.key: (dataset_counts(c.train, droot) if droot is not None else None) for c in exp.columns}
    for row in exp.rows:
        for col in exp.columns:
            pub_cell = exp.published.get((row.key, col.key), {})
            ids = [rid for rid, _ in ex.cell_runs(exp, row, col, profile, seeds)]
            per_seed: dict[str, list[list[float]]] = {m: [] for m in exp.metrics}
            if exp.kind != "stats":
                for rid in ids:
                    reps = _per_repeat(root / rid, col)
                    if reps:
                        for m in exp.metrics:
                            per_seed[m].append([float(r[m]) for r in reps])
            for m in exp.metrics:
                rec = {"experiment": exp.key, "row": row.key, "row_label": row.label, "column": col.key,
                       "column_label": col.label, "metric": m, "mean": float("nan"), "std_repeats": float("nan"),
                       "std_seeds": float("nan"), "repeats": 0, "seeds": 0, "seeds_wanted": seeds,
                       "published": pub_cell.get(m), "run_ids": " ".join(ids)}
                if exp.kind == "stats":
                    c = counts.get(col.key)
                    rec["seeds_wanted"] = 0
                    if c is not None and (row.key, m) in c:
                        rec.update(mean=float(c[(row.key, m)]), status="ok")
                    else:
                        rec["status"] = MISSING
                elif not row.reproduced:
                    rec["status"] = NOT_REPRODUCED
                elif per_seed[m]:
                    rec.update(_combine(per_seed[m]), seeds=len(per_seed[m]))
                    rec["status"] = "ok" if len(per_seed[m]) == seeds else "partial"
                else:
                    rec["status"] = MISSING
                out.append(rec)
    df = pd.DataFrame(out)
    df["published"] = pd.to_numeric(df["published"], errors="coerce")
    have = df["status"].isin(["ok", "partial"])
    df["diff"] = np.where(have & df["published"].notna(), df["mean"] - df["published"], np.nan)
    df["best"] = False
    if exp.kind != "stats":
        for _, grp in df[have].groupby(["column", "metric"]):
            df.loc[grp.index[grp["mean"] == grp["mean"].max()], "best"] = True
    return df


# ----------------------------------------------------------------------------- rendering
_LATEX_CHARS = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "_": r"\_", "#": r"\#", "$": r"\$",
                "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
                "→": r"$\rightarrow$", "±": r"$\pm$", "Δ": r"$\Delta$", "−": r"$-$", "–": "--"}


def latex_escape(s: str) -> str:
    """Text for a LaTeX table cell: special characters escaped, arrows and ± as math."""
    return "".join(_LATEX_CHARS.get(ch, ch) for ch in s)


def _num(x: float, digits: int) -> str:
    return f"{x:.{digits}f}".replace("-", "−")


def format_cell(r: pd.Series, style: str = "text") -> str:
    """``ours ± std [± seeds] / paper (Δ)``; bold ours when best (Markdown ``**``, LaTeX ``\\textbf``)."""
    counts = r["seeds_wanted"] == 0
    d = 0 if counts else 2
    if r["status"] in ("ok", "partial"):
        ours = _num(r["mean"], d)
        if not counts and r["repeats"] > 1:  # body benchmarks: one fixed split, no spread to show
            ours += f" ± {r['std_repeats']:.2f}"
            if r["seeds"] > 1:
                ours += f" ± {r['std_seeds']:.2f}"
            if r["status"] == "partial":
                ours += f" [{r['seeds']}/{r['seeds_wanted']} seeds]"
        if r.get("best", False):
            ours = {"markdown": f"**{ours}**", "latex": f"\\textbf{{{latex_escape(ours)}}}"}.get(style, ours)
        elif style == "latex":
            ours = latex_escape(ours)
    else:
        ours = r["status"] if style != "latex" else f"\\textit{{{r['status']}}}"
    if pd.isna(r["published"]):
        paper = "–" if style != "latex" else "--"
    else:
        paper = _num(r["published"], 0 if counts else 2)
        if not pd.isna(r["diff"]):
            sign = "+" if r["diff"] >= 0 else ""
            paper += f" ({sign}{_num(r['diff'], d)})"
        if style == "latex":
            paper = latex_escape(paper)
    return f"{ours} / {paper}"


@dataclass
class TableResult:
    """One regenerated table: the tidy cells plus Markdown, LaTeX and CSV renderings."""

    experiment: Experiment
    cells: pd.DataFrame
    profile: str = "demo"
    seeds: int = 1

    def wide(self, style: str = "text") -> pd.DataFrame:
        """Rows x (column, metric) of formatted cells."""
        exp = self.experiment
        first = exp.row_header
        recs = []
        for row in exp.rows:
            rec = {first: row.label}
            for col in exp.columns:
                for m in exp.metrics:
                    r = self.cells[(self.cells["row"] == row.key) & (self.cells["column"] == col.key)
                                   & (self.cells["metric"] == m)].iloc[0]
                    rec[(col.label, METRIC_LABELS.get(m, m))] = format_cell(r, style)
            recs.append(rec)
        return pd.DataFrame(recs)

    @property
    def caption(self) -> str:
        e = self.experiment
        body = any(c.eval_dataset in ex.BODY for c in e.columns)
        what = ("ours (counts of repeat 0) / paper (Δ)" if e.kind == "stats" else
                "ours: mean ± std over the query/gallery repeats"
                + (" (the body benchmarks have one fixed split: no ±)" if body else "")
                + (f", ± std over {self.seeds} training seeds" if self.seeds > 1 else "")
                + " / paper (Δ = ours − paper); best of ours per column in bold")
        return f"{e.name}: {e.title}. {self.profile} profile; {what}."

    def to_markdown(self) -> str:
        df = self.wide("markdown")
        cols = list(df.columns)
        head = [c if isinstance(c, str) else f"{c[0]} {c[1]}" for c in cols]
        lines = [f"**{self.caption}**", "", "| " + " | ".join(head) + " |",
                 "|" + "|".join([":---"] + ["---:"] * (len(cols) - 1)) + "|"]
        for _, r in df.iterrows():
            lines.append("| " + " | ".join(str(v) for v in r.tolist()) + " |")
        notes: dict[str, list[str]] = {}
        for row in self.experiment.rows:
            if row.note:
                notes.setdefault(row.note, []).append(row.label)
        if notes:
            lines += [""] + [f"- {', '.join(labels)}: {note}" for note, labels in notes.items()]
        return "\n".join(lines)

    def _repr_markdown_(self) -> str:
        return self.to_markdown()

    def to_latex(self) -> str:
        """A booktabs table: \\toprule, grouped headers with \\cmidrule, \\midrule, \\bottomrule."""
        exp = self.experiment
        df = self.wide("latex")
        k = len(exp.metrics)
        spec = "l" + " ".join("c" * k for _ in exp.columns)
        group = " & ".join(f"\\multicolumn{{{k}}}{{c}}{{{latex_escape(c.label)}}}" for c in exp.columns)
        rules = " ".join(f"\\cmidrule(lr){{{2 + i * k}-{1 + (i + 1) * k}}}" for i in range(len(exp.columns)))
        metric_head = " & ".join(latex_escape(METRIC_LABELS.get(m, m)) for _ in exp.columns for m in exp.metrics)
        first = df.columns[0]
        body = [" & ".join([latex_escape(str(r[first]))] + [str(v) for v in r.tolist()[1:]]) + r" \\"
                for _, r in df.iterrows()]
        return "\n".join([
            "% requires \\usepackage{booktabs}",
            "\\begin{table*}[t]", "\\centering", "\\scriptsize",
            f"\\caption{{{latex_escape(self.caption)}}}",
            f"\\label{{tab:{exp.key}}}",
            f"\\begin{{tabular}}{{{spec}}}", "\\toprule",
            f" & {group} \\\\", rules,
            f"{latex_escape(first)} & {metric_head} \\\\", "\\midrule",
            *body, "\\bottomrule", "\\end{tabular}", "\\end{table*}", ""])

    def to_csv(self) -> str:
        cols = ["experiment", "row", "row_label", "column", "column_label", "metric", "status", "mean",
                "std_repeats", "std_seeds", "repeats", "seeds", "seeds_wanted", "published", "diff", "best", "run_ids"]
        return self.cells[cols].to_csv(index=False)

    def write(self, folder: str | Path | None = None) -> list[Path]:
        """``<key>_<profile>.csv`` (tidy, numbers), ``.md`` and ``.tex`` (booktabs), atomically."""
        from .paths import tables_dir

        stem = Path(folder if folder is not None else tables_dir()) / f"{self.experiment.key}_{self.profile}"
        return [write_text(stem.with_suffix(".csv"), self.to_csv()),
                write_text(stem.with_suffix(".md"), self.to_markdown() + "\n"),
                write_text(stem.with_suffix(".tex"), self.to_latex())]


def table(exp: Experiment | str, profile: str = "demo", seeds: int = 1, runs_root=None,
          data_root: str | Path | None = None) -> TableResult:
    exp = ex.get(exp) if isinstance(exp, str) else exp
    return TableResult(exp, collect(exp, profile, seeds, runs_root, data_root), profile, seeds)


def to_markdown(df: pd.DataFrame) -> str:
    """A GitHub Markdown table of any DataFrame (no extra dependency)."""
    cols = [str(c) for c in df.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for _, r in df.iterrows():
        lines.append("| " + " | ".join(str(v) for v in r.tolist()) + " |")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- figures
def plot_cmc(runs: Sequence[RunRecord], max_rank: int = 20, ax=None, title: str | None = None,
             labels: Sequence[str] | None = None):
    """Matching rate (%) versus rank, mean over repeats: one curve per finished run."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 4))
    from matplotlib.ticker import MaxNLocator

    for i, run in enumerate(runs):
        if not run.finished:
            continue
        cmc = np.asarray(run.metrics["summary"]["cmc_mean"])[:max_rank]
        s = run.summary()
        label = labels[i] if labels else f"{method_label(run.config)}: rank-1 {s['rank1_mean']:.1f}%"
        ax.plot(np.arange(1, len(cmc) + 1), cmc, marker="o", markersize=3, label=label)
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


def cmc_figure(exp: Experiment | str = "gpa-fig2", profile: str = "demo", runs_root=None):
    """GPA-Net Fig. 2: the CMC curve of every row on the figure's dataset (seed 0); missing runs are named."""
    import matplotlib.pyplot as plt

    from .engine.records import load_run

    exp = ex.get(exp) if isinstance(exp, str) else exp
    col = exp.columns[0]
    root = _runs_root(runs_root)
    fig, ax = plt.subplots(figsize=(5.5, 4))
    runs, labels, missing = [], [], []
    for row in exp.rows:
        (rid, _), = ex.cell_runs(exp, row, col, profile, 1)
        p = exp.published.get((row.key, col.key), {}).get("rank1")
        paper = f" (paper {p:.2f}%)" if p is not None else ""
        if (root / rid / "metrics.json").exists():
            run = load_run(root / rid)
            runs.append(run)
            labels.append(f"{row.label}: rank-1 {run.summary()['rank1_mean']:.1f}%{paper}")
        else:
            missing.append(f"{row.label}: {MISSING}{paper}")
    for label in missing:  # a legend entry without a curve: never a number
        ax.plot([], [], ls="--", color="0.6", label=label)
    plot_cmc(runs, exp.figure.get("max_rank", 20), ax=ax, labels=labels,
             title=f"{exp.name}: CMC on {col.label} ({profile})")
    return fig


def _image(path: Path, size=(128, 128)) -> np.ndarray | None:
    try:
        from PIL import Image
        with Image.open(path) as im:
            im = im.convert("RGB")
            im.thumbnail(size)
            return np.asarray(im)
    except Exception:  # noqa: BLE001 - a missing image is drawn as an empty frame
        return None


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
    {path, pid, correct}) plus ``root`` (the data root of the paths), or ``query=None`` for a
    missing record (drawn as "missing"). Correct matches get a green border, wrong ones red.
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
        root = Path(e.get("root", "."))
        img = _image(root / q["path"])
        if img is not None:
            axq.imshow(img)
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
            img = _image(root / g["path"])
            if img is not None:
                ax.imshow(img)
            _frame(ax, GREEN if g["correct"] else RED)
            if i == 0:
                ax.set_title(str(k + 1), fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def retrieval_entries(exp: Experiment | str, profile: str = "demo", runs_root=None) -> list[dict]:
    """The lines of a retrieval figure from the records ``<run>/retrieval/<dataset>.json`` (seed 0)."""
    exp = ex.get(exp) if isinstance(exp, str) else exp
    root = _runs_root(runs_root)
    nq = exp.figure.get("queries", 1)
    entries = []
    for col in exp.columns:
        for row in exp.rows:
            (rid, _), = ex.cell_runs(exp, row, col, profile, 1)
            f = root / rid / "retrieval" / f"{col.train}.json"
            label = f"{row.label}\n{col.label}" if len(exp.rows) > 1 else col.label
            if not f.exists():
                entries.append({"label": label, "query": None})
                continue
            rec = read_json(f)
            for q in rec["queries"][:nq]:
                entries.append({"label": label, "root": rec["root"], "query": q})
    return entries


def retrieval_figure(exp: Experiment | str, profile: str = "demo", runs_root=None):
    exp = ex.get(exp) if isinstance(exp, str) else exp
    return plot_retrieval(retrieval_entries(exp, profile, runs_root), exp.figure.get("top_k", 10),
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


def heatmap_figure(exp: Experiment | str = "gpa-table3-heatmap", profile: str = "demo", seeds: int = 1,
                   runs_root=None, metric: str = "rank1"):
    """GPA-Net Table 3 as Hp x Vp heatmaps: ours (left) and published (right); returns (fig, ours matrix)."""
    import matplotlib.pyplot as plt

    exp = ex.get(exp) if isinstance(exp, str) else exp
    cells = collect(exp, profile, seeds, runs_root)
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


def figure(key: str, profile: str = "demo", seeds: int = 1, runs_root=None):
    """The figure of experiment ``key`` (cmc, retrieval or heatmap)."""
    exp = ex.get(key)
    if exp.kind == "cmc":
        return cmc_figure(exp, profile, runs_root)
    if exp.kind == "retrieval":
        return retrieval_figure(exp, profile, runs_root)
    if exp.kind == "heatmap":
        return heatmap_figure(exp, profile, seeds, runs_root)[0]
    raise ValueError(f"{key} is a table, not a figure")


# ----------------------------------------------------------------------------- notebook cells
def overview(profile: str = "demo", seeds: int = 1, runs_root=None, data_root=None, only: str = "all") -> pd.DataFrame:
    """One line per selected table / figure: how many of its cells have numbers, are missing, not reproduced."""
    recs = []
    for exp in ex.select(only):
        c = collect(exp, profile, seeds, runs_root, data_root)
        c = c.drop_duplicates(["row", "column"])
        recs.append({"key": exp.key, "paper": exp.paper, "what": exp.label, "kind": exp.kind,
                     "cells": len(c), "with numbers": int(c["status"].isin(["ok", "partial"]).sum()),
                     "missing": int((c["status"] == MISSING).sum()),
                     "not reproduced": int((c["status"] == NOT_REPRODUCED).sum())})
    return pd.DataFrame(recs)


def table_cell(key: str, profile: str = "demo", seeds: int = 1, only: str = "all", data_root=None,
               folder=None, runs_root=None):
    """A tables-notebook cell: the table (written to ``results/tables/``), or a note when not selected."""
    if not ex.selected(only, key):
        return f"{key}: not selected (only={only!r})"
    t = table(key, profile, seeds, runs_root, data_root)
    t.write(folder)
    return t


def figure_cell(key: str, profile: str = "demo", seeds: int = 1, only: str = "all", folder=None, runs_root=None):
    """A figures-notebook cell: the figure (saved to ``figures/<key>_<profile>.{png,pdf}``), or a note."""
    from .paths import figures_dir

    if not ex.selected(only, key):
        return f"{key}: not selected (only={only!r})"
    import matplotlib.pyplot as plt

    fig = figure(key, profile, seeds, runs_root)
    save_figure(fig, Path(folder if folder is not None else figures_dir()) / f"{key}_{profile}")
    plt.close(fig)  # shown once, as the cell's value
    return fig


__all__ = ["GREEN", "RED", "TableResult", "cmc_figure", "collect", "dataset_counts", "figure", "figure_cell",
           "format_cell", "heatmap_figure", "heatmap_matrix", "latex_escape", "method_label", "overview",
           "plot_cmc", "plot_history", "plot_retrieval", "retrieval_entries", "retrieval_figure", "save_figure",
           "table", "table_cell", "to_markdown"]
