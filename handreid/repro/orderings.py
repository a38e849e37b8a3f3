"""Which orderings of a table hold beyond the spread over training seeds (the claims a table supports).

>>> from handreid.repro import tables, orderings
>>> cells = tables.table("gpa-table1").cells
>>> orderings.pairs(cells, "rank1")     # every pair of trained rows per column: diff, spread, holds
>>> orderings.chain(cells, "rank1")     # per column: "GPA-Net (ours) 64.5 > ResNet50 50.1 ≈ VGG19-bn 46.2"

A pair holds when Welch's two-sided 95 % test separates the two rows' means over seeds
(:func:`handreid.repro.spread.welch`), each row's std over seeds pooled over the runs of its method
and recipe on the same data (``std_pooled``, ``df_pooled`` of the cells: :mod:`handreid.repro.spread`).
It needs at least two seeds in both rows (one seed has no spread to compare). Many pairs are tested
at once: about one in twenty pairs with no real difference still "holds" by chance.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from .spread import SeedStd, welch

__all__ = ["PAIR_COLUMNS", "chain", "pairs"]

PAIR_COLUMNS = ["experiment", "column", "column_label", "metric", "higher", "lower", "higher_mean",
                "lower_mean", "diff", "se", "df", "spread", "holds"]


def _trained(cells: pd.DataFrame, metric: str) -> pd.DataFrame:
    have = cells[(cells["metric"] == metric) & cells["status"].isin(["ok", "partial"])]
    return have[(have["seeds"] >= 2) & np.isfinite(have["std_pooled"].astype(float))]


def _test(a, b) -> dict:
    return welch(float(a["mean"]), SeedStd(float(a["std_pooled"]), int(a["df_pooled"])), int(a["seeds"]),
                 float(b["mean"]), SeedStd(float(b["std_pooled"]), int(b["df_pooled"])), int(b["seeds"]))


def pairs(cells: pd.DataFrame, metric: str = "rank1") -> pd.DataFrame:
    """One row per (column, pair of rows with >= 2 seeds), the higher mean first: ``diff`` (higher −
    lower mean), ``se`` and ``df`` of the difference, ``spread`` (the 95 % threshold
    ``t(0.975, df) x se``) and ``holds`` (``diff > spread``)."""
    out = []
    for col, grp in _trained(cells, metric).groupby("column", sort=False):
        ranked = grp.sort_values("mean", ascending=False, kind="stable")
        for (_, a), (_, b) in itertools.combinations(ranked.iterrows(), 2):
            t = _test(a, b)
            out.append({"experiment": a["experiment"], "column": col, "column_label": a["column_label"],
                        "metric": metric, "higher": a["row_label"], "lower": b["row_label"],
                        "higher_mean": float(a["mean"]), "lower_mean": float(b["mean"]), "diff": t["diff"],
                        "se": t["se"], "df": t["df"], "spread": t["threshold"], "holds": t["holds"]})
    return pd.DataFrame(out, columns=PAIR_COLUMNS)


def chain(cells: pd.DataFrame, metric: str = "rank1") -> dict[str, str]:
    """Per column label, its rows by mean, joined by ``>`` where the neighbours' ordering holds
    beyond the seed spread and ``≈`` where it does not (non-neighbours: see :func:`pairs`)."""
    out = {}
    for _, grp in _trained(cells, metric).groupby("column", sort=False):
        ranked = grp.sort_values("mean", ascending=False, kind="stable").to_dict("records")
        text = f"{ranked[0]['row_label']} {ranked[0]['mean']:.1f}"
        for a, b in zip(ranked, ranked[1:]):
            text += f" {'>' if _test(a, b)['holds'] else '≈'} {b['row_label']} {b['mean']:.1f}"
        out[ranked[0]["column_label"]] = text
    return out
