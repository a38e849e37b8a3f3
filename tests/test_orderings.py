"""Orderings beyond the seed spread: every pair against an explicit computation."""

import math

import pandas as pd
import pytest

from handreid.paths import project_root
from handreid.repro import orderings, tables


def _cell(row, mean, std_seeds, seeds=3, status="ok", column="11k-dr", metric="rank1"):
    return {"experiment": "t", "row": row, "row_label": row.upper(), "column": column, "column_label": column.upper(),
            "metric": metric, "status": status, "mean": mean, "std_seeds": std_seeds, "seeds": seeds}


CELLS = pd.DataFrame([
    _cell("a", 70.0, 2.0), _cell("b", 66.0, 1.5), _cell("c", 60.0, 0.5),
    _cell("one", 99.0, math.nan, seeds=1),                     # one seed: no spread, no claim
    _cell("gone", math.nan, math.nan, seeds=0, status="missing"),
    _cell("a", 50.0, 1.0, metric="mAP"),                       # another metric
    _cell("a", 40.0, 1.0, column="hd"), _cell("b", 45.0, 1.0, column="hd"),
])


def test_pairs_compare_the_difference_of_means_with_the_sum_of_seed_stds():
    p = orderings.pairs(CELLS, "rank1")
    got = {(r.column, r.higher, r.lower): (r.diff, r.spread, r.holds) for r in p.itertuples()}
    assert got == {("11k-dr", "A", "B"): (4.0, 3.5, True),      # 70 - 66 > 2 + 1.5
                   ("11k-dr", "A", "C"): (10.0, 2.5, True),
                   ("11k-dr", "B", "C"): (6.0, 2.0, True),
                   ("hd", "B", "A"): (5.0, 2.0, True)}
    assert list(p.columns) == orderings.PAIR_COLUMNS
    close = CELLS.copy()
    close.loc[1, "mean"] = 67.0                                  # 70 - 67 = 3 < 3.5: within the spread
    assert orderings.chain(close, "rank1")["11K-DR"] == "A 70.0 ≈ B 67.0 > C 60.0"
    assert orderings.chain(CELLS, "rank1") == {"11K-DR": "A 70.0 > B 66.0 > C 60.0", "HD": "B 45.0 > A 40.0"}


def test_no_pairs_without_two_seeds():
    single = CELLS[CELLS["row"] == "one"]
    assert orderings.pairs(single).empty and orderings.chain(single) == {}


def test_a_committed_three_seed_table_lists_its_orderings(tmp_path):
    t = tables.table("gpa-table1", runs_root=project_root() / "results" / "runs")
    md = t.to_markdown()
    assert "`>`: the ordering holds beyond the seed spread" in md
    chains = [line for line in md.splitlines() if line.startswith(("- D-", "- P-", "- HD:"))]
    assert len(chains) == 5 and all(line.count(">") + line.count("≈") == 2 for line in chains)
    written = t.write(tmp_path)
    pairs = pd.read_csv(tmp_path / "gpa-table1_demo_orderings.csv")
    assert tmp_path / "gpa-table1_demo_orderings.csv" in written
    assert len(pairs) == 5 * 3 * 2                               # 5 columns x 3 pairs x (rank-1, mAP)
    r = pairs.iloc[0]
    assert r["holds"] == (r["diff"] > r["spread"]) and r["diff"] == pytest.approx(r["higher_mean"] - r["lower_mean"])
