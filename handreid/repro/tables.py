"""The papers' tables from the run records, with the published numbers beside ours (docs/DESIGN.md §4).

>>> from handreid.repro import tables
>>> t = tables.table("gpa-table1", profile="demo")   # a TableResult; Jupyter shows it as Markdown
>>> t.cells                                          # tidy: one row per (row, column, metric)
>>> t.write(paths.tables_dir())                      # gpa-table1_demo.{csv,md,tex}

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

import numpy as np
import pandas as pd

from ..data.datasets import kind_of
from ..data.overview import dataset_counts
from ..metrics.reference import single_match_maps
from ..engine import records
from ..io import read_json, write_text
from ..plots import MISSING
from . import experiments as ex
from . import orderings, spread
from .experiments import METRIC_LABELS, Experiment
from .plan import cell_runs

__all__ = ["MISSING", "NOT_REPRODUCED", "TableResult", "collect", "format_cell", "latex_escape",
           "overview", "table", "table_cell", "to_markdown"]

NOT_REPRODUCED = "not reproduced"


def _runs_root(runs_root) -> Path:
    from ..paths import runs_dir
    return Path(runs_root) if runs_root is not None else runs_dir()


def _combine(per_seed: list[list[float]]) -> dict:
    means = [float(np.mean(v)) for v in per_seed]
    return {"mean": float(np.mean(means)),
            "std_repeats": float(math.sqrt(np.mean([np.var(v) for v in per_seed]))),
            "std_seeds": float(np.std(means, ddof=1)) if len(means) > 1 else float("nan"),
            "repeats": int(np.mean([len(v) for v in per_seed]))}


def _families(root: Path) -> dict[str, dict[str, list[list[dict]]]]:
    """The per-repeat metrics of the finished runs below ``root``, by :func:`spread.family`, then by
    :func:`spread.configuration` (one entry per training seed)."""
    out: dict[str, dict[str, list[list[dict]]]] = {}
    for cfg_file in sorted(root.glob(f"*/{records.CONFIG}")):
        reps = records.per_repeat(cfg_file.parent)
        identity = read_json(cfg_file).get("identity")
        if reps and identity is not None:
            fam, conf = spread.keys(identity)
            out.setdefault(fam, {}).setdefault(conf, []).append(reps)
    return out


def _seed_std(ids: list[str], root: Path, metric: str, dataset: str, families, own: list[float]
              ) -> spread.SeedStd | None:
    """The std over seeds of a cell: pooled over the family of its runs on their own test data
    (:mod:`spread`), or over its own seeds (``own``: per-seed means) for a cross-domain cell."""
    configs = [root / i / records.CONFIG for i in ids if (root / i / records.CONFIG).exists()]
    identity = read_json(configs[0]).get("identity") if families is not None and configs else None
    if identity is None:
        return spread.pooled([own])
    groups = families.get(spread.keys(identity)[0], {})
    per_conf = [[float(np.mean([_value(r, metric, dataset) for r in reps])) for reps in seeds]
                for seeds in groups.values() if len(seeds) >= 2]
    return spread.pooled(per_conf) or spread.pooled([own])


def collect(exp: Experiment | str, profile: str = "demo", seeds: int | None = None, runs_root=None,
            data_root: str | Path | None = None, variant: str | None = None) -> pd.DataFrame:
    """Tidy cells of one experiment: a row per (row, column, metric) with ours, paper, Δ and status."""
    exp = ex.get(exp) if isinstance(exp, str) else exp
    seeds = ex.seeds_of(exp, profile, seeds)
    root = _runs_root(runs_root)
    out = []
    counts: dict[str, dict | None] = {}
    families = _families(root) if seeds >= 2 and exp.kind != "stats" else None
    if exp.kind == "stats":
        from ..paths import demo_data_root
        droot = data_root if data_root is not None else (demo_data_root() if profile == "demo" else None)
        counts = {c.key: (dataset_counts(c.train, droot) if droot is not None else None) for c in exp.columns}
    for row in exp.rows:
        for col in exp.columns:
            pub_cell = exp.published.get((row.key, col.key), {})
            ids = [rid for rid, _ in cell_runs(exp, row, col, profile, seeds, variant)]
            per_seed: dict[str, list[list[float]]] = {m: [] for m in exp.metrics}
            if exp.kind != "stats":
                for rid in ids:
                    reps = records.per_repeat(root / rid, col.test if col.cross else None)
                    if reps:
                        for m in exp.metrics:
                            per_seed[m].append([_value(r, m, col.eval_dataset) for r in reps])
            for m in exp.metrics:
                rec = {"experiment": exp.key, "row": row.key, "row_label": row.label, "column": col.key,
                       "column_label": col.label, "metric": m, "mean": float("nan"), "std_repeats": float("nan"),
                       "std_seeds": float("nan"), "std_pooled": float("nan"), "df_pooled": 0,
                       "repeats": 0, "seeds": 0, "seeds_wanted": seeds,
                       "published": pub_cell.get(m), "definition": ex.metric_definition(m, col.eval_dataset),
                       "run_ids": " ".join(ids)}
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
                    if len(per_seed[m]) >= 2:
                        s = _seed_std(ids, root, m, col.eval_dataset, None if col.cross else families,
                                      [float(np.mean(v)) for v in per_seed[m]])
                        rec.update(std_pooled=s.std, df_pooled=s.df)
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


def _value(row: dict, metric: str, dataset: str) -> float:
    """One repeat's value of ``metric`` as the published numbers of ``dataset`` define it.

    ``mAP`` on hand data is the Market-1501 official rule (``mAP_trapezoid``); records written
    before it was recorded get it from their CMC curve, exactly (one true match per query).
    """
    key = ex.metric_definition(metric, dataset)
    if key in row:
        return float(row[key])
    if key == "mAP_trapezoid" and kind_of(dataset) == "hand":
        return single_match_maps(row["cmc"])[1]
    raise KeyError(f"a run record on {dataset} has no {key!r}")


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
    variant: str | None = None    # the run parameter ``variant`` of every run in the table (None: default)

    @property
    def tag(self) -> str:
        """``demo``, ``paper``, or with a variant ``paper-authors``: the file name suffix."""
        return self.profile + (f"-{self.variant}" if self.variant else "")

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
        body = any(kind_of(c.eval_dataset) == "body" for c in e.columns)
        what = ("ours (counts of repeat 0) / paper (Δ)" if e.kind == "stats" else
                "ours: mean ± std over the query/gallery repeats"
                + (" (the body benchmarks have one fixed split: no ±)" if body else "")
                + (f", ± std over {self.seeds} training seeds" if self.seeds > 1 else "")
                + " / paper (Δ = ours − paper); best of ours per column in bold")
        variant = f", variant {self.variant!r}" if self.variant else ""
        maps = []
        if "mAP" in e.metrics and e.kind != "stats":
            for key in dict.fromkeys(ex.metric_definition("mAP", c.eval_dataset) for c in e.columns):
                where = [c.label for c in e.columns if ex.metric_definition("mAP", c.eval_dataset) == key]
                maps.append(f"{ex.MAP_DEFINITIONS[key]}" + (f" on {', '.join(where)}" if len(maps) or
                                                             len(where) < len(e.columns) else ""))
        defined = f" mAP: {'; '.join(maps)}." if maps else ""
        return f"{e.name}: {e.title}. {self.profile} profile{variant}; {what}.{defined}"

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
        chains = orderings.chain(self.cells, "rank1")
        if chains:
            lines += ["", f"Rank-1 by mean over seeds; `>`: the ordering holds beyond the seed spread (Welch's "
                          f"95 % test of the two means, each std over seeds pooled over its method and recipe "
                          f"on the same data), `≈`: it does not "
                          f"(every pair: `{self.experiment.key}_{self.tag}_orderings.csv`)."]
            lines += [f"- {label}: {text}" for label, text in chains.items()]
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
        cols = ["experiment", "row", "row_label", "column", "column_label", "metric", "definition", "status", "mean",
                "std_repeats", "std_seeds", "std_pooled", "df_pooled", "repeats", "seeds", "seeds_wanted", "published", "diff", "best", "run_ids"]
        return self.cells[cols].to_csv(index=False)

    def write(self, folder: str | Path | None = None) -> list[Path]:
        """``<key>_<profile>.csv`` (tidy, numbers), ``.md`` and ``.tex`` (booktabs), atomically; with
        several seeds also ``<key>_<profile>_orderings.csv`` (:func:`orderings.pairs` of each metric)."""
        from ..paths import tables_dir

        stem = Path(folder if folder is not None else tables_dir()) / f"{self.experiment.key}_{self.tag}"
        written = [write_text(stem.with_suffix(".csv"), self.to_csv()),
                   write_text(stem.with_suffix(".md"), self.to_markdown() + "\n"),
                   write_text(stem.with_suffix(".tex"), self.to_latex())]
        pairs = pd.concat([orderings.pairs(self.cells, m) for m in self.experiment.metrics], ignore_index=True)
        if len(pairs):
            written.append(write_text(stem.with_name(stem.name + "_orderings.csv"), pairs.to_csv(index=False)))
        return written


def table(exp: Experiment | str, profile: str = "demo", seeds: int | None = None, runs_root=None,
          data_root: str | Path | None = None, variant: str | None = None) -> TableResult:
    exp = ex.get(exp) if isinstance(exp, str) else exp
    seeds = ex.seeds_of(exp, profile, seeds)
    return TableResult(exp, collect(exp, profile, seeds, runs_root, data_root, variant), profile, seeds, variant)


def to_markdown(df: pd.DataFrame) -> str:
    """A GitHub Markdown table of any DataFrame (no extra dependency)."""
    cols = [str(c) for c in df.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for _, r in df.iterrows():
        lines.append("| " + " | ".join(str(v) for v in r.tolist()) + " |")
    return "\n".join(lines)


def overview(profile: str = "demo", seeds: int | None = None, runs_root=None, data_root=None, only: str = "all",
             variant: str | None = None) -> pd.DataFrame:
    """One line per selected table / figure: how many of its cells have numbers, are missing, not reproduced."""
    recs = []
    for exp in ex.select(only):
        c = collect(exp, profile, seeds, runs_root, data_root, variant)
        c = c.drop_duplicates(["row", "column"])
        recs.append({"key": exp.key, "paper": exp.paper, "what": exp.label, "kind": exp.kind,
                     "cells": len(c), "with numbers": int(c["status"].isin(["ok", "partial"]).sum()),
                     "missing": int((c["status"] == MISSING).sum()),
                     "not reproduced": int((c["status"] == NOT_REPRODUCED).sum())})
    return pd.DataFrame(recs)


def table_cell(key: str, profile: str = "demo", seeds: int | None = None, only: str = "all", data_root=None,
               folder=None, runs_root=None, variant: str | None = None):
    """A tables-notebook cell: the table (written to ``results/tables/``), or a note when not selected."""
    if not ex.selected(only, key):
        return f"{key}: not selected (only={only!r})"
    t = table(key, profile, seeds, runs_root, data_root, variant)
    t.write(folder)
    return t
