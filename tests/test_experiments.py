"""The registry of tables and figures: published numbers, cross-table identities, run planning, costs."""

import os
import re
from pathlib import Path

import pytest

from handreid.engine.recipes import RECIPES
from handreid.repro import cost
from handreid.repro import experiments as ex
from handreid.repro import plan as pl
from handreid import published as pub
from handreid.data import DATASETS
from handreid.data.datasets import body_datasets, hand_datasets
from handreid.engine import make_config
from handreid.models import available_models, model_options

ROOT = Path(__file__).resolve().parents[1]


def _cell(key, row, col):
    return ex.get(key).published[(row, col)]


# ----------------------------------------------------------------------------- published numbers
def _paper_lines(name):
    """Lines of the paper text (papers/ beside the repo, or HANDREID_PAPERS), HTML tags and [refs] removed."""
    for d in (os.environ.get("HANDREID_PAPERS"), ROOT / "papers", ROOT.parent / "shared" / "papers",
              Path("/work/shared/papers")):
        if d and (Path(d) / name).exists():
            text = (Path(d) / name).read_text(encoding="utf-8")
            text = re.sub(r"<[^>]+>", "", text)
            text = re.sub(r"\s*\[\d+\]", "", text)
            return [ln.strip() for ln in text.splitlines() if ln.strip()]
    pytest.skip(f"paper text {name} not found (set HANDREID_PAPERS)")


def _numbers(s):
    return [float(x.replace(",", "")) for x in re.findall(r"\d[\d,]*\.?\d*", s)]


def _printed(lines, label, values):
    """Some line starts with ``label`` and then prints exactly ``values`` (the paper's '-' cells skipped)."""
    want = [float(v) for v in values if v is not None]
    return any(ln.startswith(label) and _numbers(ln[len(label):]) == want for ln in lines)


def test_gpa_net_tables_match_the_paper_text():
    lines = _paper_lines("gpa-net-ipta2022.txt")
    labels = {"vgg19bn": "VGG19-bn", "resnet50": "ResNet50", "gpanet": "GPA-Net (ours)"}
    for m, label in labels.items():
        t1 = [x for d in hand_datasets() for x in pub.GPA_TABLE1[m][d]]
        assert _printed(lines, label, t1), (1, m)
        t2 = [x for pair in (("11k-dr", "hd"), ("hd", "11k-dr")) for x in pub.GPA_TABLE2[m][pair]]
        assert _printed(lines, label, t2), (2, m)
    for hp in (1, 2, 3, 4):
        assert _printed(lines, str(hp), [x for vp in (1, 2, 3) for x in pub.GPA_TABLE3[(hp, vp)]]), (3, hp)
    for key, label in (("global", "Global only (ours)"), ("local", "Local only (ours)"), ("gpanet", "GPA-Net (ours)")):
        assert _printed(lines, label, pub.GPA_TABLE4[key]), (4, key)


def test_laga_net_tables_match_the_paper_text():
    lines = _paper_lines("laga-net.txt")
    for subset in ("train", "query", "gallery"):
        assert _printed(lines, subset.capitalize(), [x for d in body_datasets() for x in pub.LAGA_TABLE1[d][subset]])
        assert _printed(lines, subset.capitalize(), [x for d in hand_datasets() for x in pub.LAGA_TABLE2[d][subset]])
    for row, label in (("global", "Global"), ("+local", "+ Local"), ("+cam", "+ CAM"), ("+sam", "+ SAM-RPE")):
        assert _printed(lines, label, [x for d in ("market1501", "11k-pr") for x in pub.LAGA_TABLE3[row][d]]), row
    printed = {"LAGA-Net": "LAGA-Net (Ours)", "BagTricks": "BagTicks"}  # the paper's spelling (a typo)
    for row, cells in pub.LAGA_TABLE4.items():
        label = printed.get(row, row)
        vals = [x for d in body_datasets() for x in (cells[d] or (None, None))]
        assert _printed(lines, label, vals), row
    for row, cells in pub.LAGA_TABLE5.items():
        label = "LAGA-Net (Ours)" if row == "LAGA-Net" else row
        assert _printed(lines, label, [x for d in hand_datasets() for x in cells[d]]), row


def test_the_same_configuration_has_the_same_published_number_in_every_table():
    gpa_pr = _cell("gpa-table1", "gpanet", "11k-pr")
    assert _cell("gpa-table3", "hp=3", "vp=1") == gpa_pr == _cell("gpa-table4", "gpanet", "11k-pr")
    assert _cell("gpa-table3", "hp=1", "vp=1") == _cell("gpa-table4", "global", "11k-pr")
    assert gpa_pr == {"rank1": 95.83, "mAP": 96.31}
    for d in hand_datasets():  # LAGA-Net Table V quotes GPA-Net Table 1
        assert _cell("laga-table5", "GPA-Net", d) == _cell("gpa-table1", "gpanet", d)
    assert _cell("laga-table3", "+sam", "market1501") == _cell("laga-table4", "LAGA-Net", "market1501")
    assert _cell("laga-table3", "+sam", "11k-pr") == _cell("laga-table5", "LAGA-Net", "11k-pr")
    fig2 = ex.get("gpa-fig2")
    assert all(fig2.published[k] == _cell("gpa-table1", *k) for k in fig2.published)


@pytest.mark.parametrize("claim", pub.TEXT_CLAIMS, ids=lambda c: f"{c[0]}-{c[1]}-{c[2]}-{c[4]}")
def test_differences_stated_in_the_texts(claim):
    table, better, worse, col, metric, diff = claim
    t = getattr(pub, table)
    i = ("rank1", "mAP").index(metric)
    assert t[better][col][i] - t[worse][col][i] == pytest.approx(diff, abs=1e-6)


@pytest.mark.parametrize("quote", pub.TEXT_VALUES, ids=lambda q: f"{q[0]}-{q[1]}")
def test_values_quoted_in_the_texts(quote):
    table, row, col, value = quote
    t = getattr(pub, table)
    assert (t[row] if col is None else t[row][col]) == value


# ----------------------------------------------------------------------------- registry integrity
def test_registry_covers_every_table_and_figure_of_both_papers():
    names = {e.name for e in ex.EXPERIMENTS.values()}
    for n in ("GPA-Net Table 1", "GPA-Net Table 2", "GPA-Net Table 3", "GPA-Net Table 4", "GPA-Net Fig. 2",
              "GPA-Net Fig. 3", "LAGA-Net Table I", "LAGA-Net Table II", "LAGA-Net Table III",
              "LAGA-Net Table IV", "LAGA-Net Table V", "LAGA-Net Fig. 3", "LAGA-Net Fig. 4"):
        assert n in names
    heat = ex.get("gpa-table3-heatmap")
    assert (len(heat.rows), len(heat.columns)) == (4, 3)


@pytest.mark.parametrize("key", list(ex.EXPERIMENTS))
def test_every_experiment_is_well_formed(key):
    exp = ex.get(key)
    assert len({r.key for r in exp.rows}) == len(exp.rows)
    assert len({c.key for c in exp.columns}) == len(exp.columns)
    for col in exp.columns:
        assert col.train in DATASETS and (col.test is None or col.test in DATASETS)
    for row in exp.rows:
        if row.reproduced:
            assert row.method in available_models() and row.recipe in RECIPES
            for col in exp.columns:
                opts = exp.cell_options(row, col)
                assert set(opts) <= set(model_options(row.method)), (row, opts)
                for profile in ("demo", "paper"):
                    for _, p in pl.cell_runs(exp, row, col, profile):
                        make_config(**p, data_root="/data" if profile == "paper" else None)
        elif exp.kind != "stats":
            assert row.note  # published only, and says so
    for (r, c), cell in exp.published.items():
        exp.row(r), exp.column(c)
        assert set(cell) <= set(exp.metrics)
    if exp.kind in ("table", "stats"):  # every cell of a published table has its number (or the paper's "-")
        assert set(exp.published) == {(r.key, c.key) for r in exp.rows for c in exp.columns if not r.extra}


def test_select_by_key_pattern_and_list():
    assert [e.key for e in ex.select("gpa-table1")] == ["gpa-table1"]
    assert {e.key for e in ex.select("laga-*")} == {k for k in ex.EXPERIMENTS if k.startswith("laga-")}
    assert [e.key for e in ex.select("gpa-table4, gpa-table1")] == ["gpa-table1", "gpa-table4"]
    assert len(ex.select("all")) == len(ex.select(None)) == len(ex.EXPERIMENTS)
    with pytest.raises(ValueError, match="no table or figure matches 'gpa-table9'"):
        ex.select("gpa-table9")
    assert "gpa-*" in ex.Selection() and "nope" not in ex.Selection()


# ----------------------------------------------------------------------------- planning
def _ids(plan):
    return [r.run_id for r in plan.runs]


def test_runs_shared_by_several_tables_are_planned_once():
    plan = pl.plan(["gpa-table1", "gpa-table3", "gpa-table4"], seeds=1)
    assert len(_ids(plan)) == len(set(_ids(plan))) == 15 + 11 + 1
    # the demo's headline comparisons default to 3 seeds each (experiments.DEMO_SEEDS)
    plan3 = pl.plan(["gpa-table1", "gpa-table3", "gpa-table4"])
    assert len(set(_ids(plan3))) == 3 * (15 + 11 + 1)
    assert {t.params["seed"] for t in plan3.runs} == {0, 1, 2}
    assert {t.params["seed"] for t in pl.plan("laga-table3").runs} == {0, 1, 2}
    assert {t.params["seed"] for t in pl.plan("laga-table4").runs} == {0}  # the body comparison: one
    shared = [r for r in plan.runs if r.params["dataset"] == "11k-pr" and r.params["method"] == "gpanet"
              and r.params["method_options"] == {"hp": 3, "vp": 1}]
    assert len(shared) == 1
    who = " ".join(shared[0].needed_by)
    assert "gpa-table1" in who and "gpa-table3" in who and "gpa-table4" in who
    glob = [r for r in plan.runs if r.params["method_options"] == {"hp": 1, "vp": 1}]
    assert len(glob) == 1 and {n.split(":")[0] for n in glob[0].needed_by} == {"gpa-table3", "gpa-table4"}


def test_the_whole_registry_needs_70_trainings():
    plan = pl.plan("all", profile="paper")
    assert len(plan.runs) == 70
    by_recipe = {r: sum(p.params["recipe"] == r for p in plan.runs) for r in RECIPES}
    # 47 of GPA-Net's and LAGA-Net's own tables, + MBA-Net with its own recipe on the 5 hand datasets,
    # + RGA-Net and ABD-Net with LAGA-Net's recipe on them (Table V), + both with their own on the 4 body sets (Table IV)
    assert by_recipe == {"gpa": 27, "laga": 20 + 10, "mba": 5, "rga": 4, "abd": 4}
    t1 = {rid for r in ex.get("gpa-table1").rows for c in ex.get("gpa-table1").columns
          for rid, _ in pl.cell_runs(ex.get("gpa-table1"), r, c, "paper")}
    t5 = ex.get("laga-table5")
    gpa_in_t5 = {rid for c in t5.columns for rid, _ in pl.cell_runs(t5, t5.row("GPA-Net"), c, "paper")}
    assert gpa_in_t5 <= t1
    t3, t4 = ex.get("laga-table3"), ex.get("laga-table4")
    assert pl.cell_runs(t3, t3.row("+sam"), t3.column("market1501"), "paper") == \
        pl.cell_runs(t4, t4.row("LAGA-Net"), t4.column("market1501"), "paper")


def test_cross_domain_cells_reuse_same_domain_runs():
    t1 = set(_ids(pl.plan("gpa-table1")))
    plan = pl.plan("gpa-table2")
    assert set(_ids(plan)) <= t1 and len(plan.runs) == 6
    cross = sorted((e.params["dataset"], e.dataset) for e in plan.evals)
    assert cross == [("11k-dr", "hd")] * 3 + [("hd", "11k-dr")] * 3
    assert all(e.kind == "cross" and e.run_id in t1 for e in plan.evals)
    assert str(plan.evals[0].with_params({"out_dir": "/r"}).target).endswith(f"{plan.evals[0].run_id}/cross/{plan.evals[0].dataset}.json")


def test_retrieval_figures_plan_lists_on_seed_zero_runs():
    plan = pl.plan("laga-fig3,laga-fig4", seeds=2)
    assert len(plan.runs) == 2 * (2 + 4)
    assert {(e.kind, e.dataset) for e in plan.evals} == {("retrieval", d) for d in ("market1501", "11k-dr", "11k-dl", "11k-pr", "hd")}
    assert all(e.params["seed"] == 0 for e in plan.evals)
    assert {e.options["top_k"] for e in plan.evals if e.dataset == "market1501"} == {5}


def test_seeds_multiply_the_trainings():
    one, three = pl.plan("gpa-table4", seeds=1), pl.plan("gpa-table4", seeds=3)
    assert len(three.runs) == 3 * len(one.runs)
    assert sorted({r.params["seed"] for r in three.runs}) == [0, 1, 2]
    with pytest.raises(ValueError):
        pl.plan("gpa-table4", seeds=0)


def test_demo_overrides_apply_to_the_demo_profile_only():
    exp = ex.get("laga-table3")
    (_, demo), = pl.cell_runs(exp, exp.row("+sam"), exp.column("market1501"), "demo")
    (_, paper), = pl.cell_runs(exp, exp.row("+sam"), exp.column("market1501"), "paper")
    assert demo["image_size"] == pl.DEMO_OVERRIDES[("laga", "body")]["image_size"] and "image_size" not in paper
    assert demo["eval_repeats"] == paper["eval_repeats"] == 1  # body benchmarks: one fixed split
    (_, hand), = pl.cell_runs(exp, exp.row("+sam"), exp.column("11k-pr"), "paper")
    assert hand["eval_repeats"] == 10


def test_filters_give_the_quick_subset():
    plan = pl.plan("gpa-table1", datasets=["11k-dr"], methods=["gpanet", "resnet50"], seeds=1)
    assert sorted(r.params["method"] for r in plan.runs) == ["gpanet", "resnet50"]
    assert {r.params["dataset"] for r in plan.runs} == {"11k-dr"}


# ----------------------------------------------------------------------------- cost estimate
def test_cost_estimate_follows_flops_and_data_size():
    exp = ex.get("gpa-table1")
    (_, gpa), = pl.cell_runs(exp, exp.row("gpanet"), exp.column("11k-dr"), "paper")
    (_, gpa_hd), = pl.cell_runs(exp, exp.row("gpanet"), exp.column("hd"), "paper")
    c = cost.estimate_cost(gpa)
    assert c["epochs"] == 60 and c["image_size"] == (384, 384) and c["train_images"] == 962 - 72
    assert 30 < c["gflops_per_image"] < 45  # ResNet50 trunk with last stride 1 at 384x384
    assert 0.2 < c["gpu_hours"] < 1.0
    assert cost.estimate_cost(gpa_hd)["gpu_hours"] > c["gpu_hours"]  # HD has more training images
    t5 = ex.get("laga-table5")
    (_, laga), = pl.cell_runs(t5, t5.row("LAGA-Net"), t5.column("11k-dr"), "paper")
    assert cost.estimate_cost(laga)["gflops_per_image"] > c["gflops_per_image"]
    assert cost.estimate_cost(gpa, ["hd"])["gpu_hours"] > c["gpu_hours"]  # a cross evaluation adds to it
