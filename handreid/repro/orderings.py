"""Which orderings of a table hold beyond the spread over training seeds (the claims a table supports).

>>> from handreid.repro import tables, orderings
>>> cells = tables.table("gpa-table1").cells
>>> orderings.pairs(cells, "rank1")     # every pair of trained rows per column: diff, spread, holds
>>> orderings.chain(cells, "rank1")     # per column: "GPA-Net 65.2 > VGG19-bn 54.1 ≈ ResNet50 48.8"

A pair holds when the difference of the two rows' means over seeds is larger than the sum of the
two rows' sample stds over seeds. That is a conservative rule of thumb for 3 seeds, not a
significance test; it needs at least two seeds in both rows (one seed has no spread to compare).
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

__all__ = ["PAIR_COLUMNS", "chain", "pairs"]

PAIR_COLUMNS = ["experiment", "column", "column_label", "metric", "higher", "lower", "higher_mean",
                "lower_mean", "diff", "spread", "holds"]


def _trained(cells: pd.DataFrame, metric: str) -> pd.DataFrame:
    have = cells[(cells["metric"] == metric) & cells["status"].isin(["ok", "partial"])]
    return have[(have["seeds"] >= 2) & np.isfinite(have["std_seeds"].astype(float))]


def pairs(cells: pd.DataFrame, metric: str = "rank1") -> pd.DataFrame:
    """One row per (column, pair of rows with >= 2 seeds), the higher mean first; ``holds``:
    ``diff`` (higher − lower mean) > ``spread`` (sum of the two stds over seeds)."""
    out = []
    for col, grp in _trained(cells, metric).groupby("column", sort=False):
        ranked = grp.sort_values("mean", ascending=False, kind="stable")
        for (_, a), (_, b) in itertools.combinations(ranked.iterrows(), 2):
            diff, spread = float(a["mean"] - b["mean"]), float(a["std_seeds"] + b["std_seeds"])
            out.append({"experiment": a["experiment"], "column": col, "column_label": a["column_label"],
                        "metric": metric, "higher": a["row_label"], "lower": b["row_label"],
                        "higher_mean": float(a["mean"]), "lower_mean": float(b["mean"]),
                        "diff": diff, "spread": spread, "holds": bool(diff > spread)})
    return pd.DataFrame(out, columns=PAIR_COLUMNS)


def chain(cells: pd.DataFrame, metric: str = "rank1") -> dict[str, str]:
    """Per column label, its rows by mean, joined by ``>`` where the neighbours' ordering holds
    beyond the seed spread and ``≈`` where it does not (non-neighbours: see :func:`pairs`)."""
    out = {}
    for _, grp in _trained(cells, metric).groupby("column", sort=False):
        ranked = grp.sort_values("mean", ascending=False, kind="stable").to_dict("records")
        text = f"{ranked[0]['row_label']} {ranked[0]['mean']:.1f}"
        for a, b in zip(ranked, ranked[1:]):
            sep = ">" if a["mean"] - b["mean"] > a["std_seeds"] + b["std_seeds"] else "≈"
            text += f" {sep} {b['row_label']} {b['mean']:.1f}"
        out[ranked[0]["column_label"]] = text
    return out
