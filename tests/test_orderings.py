"""Orderings beyond the seed spread: every pair against an explicit Welch computation."""

import math

import pandas as pd
import pytest
from scipy import stats

from handreid.paths import project_root
from handreid.repro import orderings, tables


def _cell(row, mean, std_pooled, seeds=3, status="ok", column="11k-dr", metric="rank1", df=2):
    return {"experiment": "t", "row": row, "row_label": row.upper(), "column": column, "column_label": column.upper(),
            "metric": metric, "status": status, "mean": mean, "std_pooled": std_pooled, "df_pooled": df,
            "seeds": seeds}


CELLS = pd.DataFrame([
    _cell("a", 70.0, 2.0, df=26), _cell("b", 66.0, 1.5, df=26), _cell("c", 60.0, 3.0),
    _cell("one", 99.0, math.nan, seeds=1),                     # one seed: no spread, no claim
    _cell("gone", math.nan, math.nan, seeds=0, status="missing"),
    _cell("a", 50.0, 1.0, metric="mAP"),                       # another metric
    _cell("a", 40.0, 1.0, column="hd"), _cell("b", 45.0, 1.0, column="hd"),
])


def _welch(ma, sa, da, mb, sb, db, n=3):
    """Welch's test written out: se, Welch-Satterthwaite df, t(0.975, df) x se."""
    va, vb = sa ** 2 / n, sb ** 2 / n
    df = (va + vb) ** 2 / (va ** 2 / da + vb ** 2 / db)
    se = math.sqrt(va + vb)
    return ma - mb, stats.t.ppf(0.975, df) * se


def test_pairs_apply_welchs_test_with_the_pooled_seed_stds():
    p = orderings.pairs(CELLS, "rank1")
    got = {(r.column, r.higher, r.lower): (r.diff, r.spread, r.holds) for r in p.itertuples()}
    expected = {("11k-dr", "A", "B"): _welch(70, 2.0, 26, 66, 1.5, 26),
                ("11k-dr", "A", "C"): _welch(70, 2.0, 26, 60, 3.0, 2),
                ("11k-dr", "B", "C"): _welch(66, 1.5, 26, 60, 3.0, 2),
                ("hd", "B", "A"): _welch(45, 1.0, 2, 40, 1.0, 2)}
    assert set(got) == set(expected)
    for k, (diff, threshold) in expected.items():
        assert got[k][:2] == pytest.approx((diff, threshold)) and got[k][2] == (diff > threshold)
    # 4 > 2.90 (df 48); 10 > 5.72 (df 4.1) but 6 < 6.04 (df 3.1: the 3-seed row's df 2 dominates); 5 > 2.27
    assert [got[k][2] for k in sorted(expected)] == [True, True, False, True]
    assert list(p.columns) == orderings.PAIR_COLUMNS
    close = CELLS.copy()
    close.loc[1, "mean"] = 67.5                                  # 70 - 67.5 = 2.5 < 2.90; 7.5 > 6.04
    assert orderings.chain(close, "rank1")["11K-DR"] == "A 70.0 ≈ B 67.5 > C 60.0"
    assert orderings.chain(CELLS, "rank1") == {"11K-DR": "A 70.0 > B 66.0 ≈ C 60.0", "HD": "B 45.0 > A 40.0"}


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
    cells = t.cells.set_index(["row_label", "column", "metric"])
    a, b = cells.loc[(r["higher"], r["column"], "rank1")], cells.loc[(r["lower"], r["column"], "rank1")]
    assert r["spread"] == pytest.approx(_welch(a["mean"], a["std_pooled"], a["df_pooled"],
                                               b["mean"], b["std_pooled"], b["df_pooled"])[1])
