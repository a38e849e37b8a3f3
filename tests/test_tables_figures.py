"""Tables and figures from (fake) run records: missing cells, best marks, seeds, LaTeX, retrieval borders, heatmap."""

import json
import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.colors as mcolors  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

from handreid import plots  # noqa: E402
from handreid.repro import experiments as ex  # noqa: E402
from handreid.repro import figures, tables  # noqa: E402
from handreid.repro.plan import cell_runs  # noqa: E402


def _fake_run(runs_root, run_id, rank1, mAP, cross=None, trapezoid=True):
    """metrics.json (and optionally cross/<dataset>.json) with per-repeat values; ``mAP`` is also the
    ``mAP_trapezoid`` the hand tables compare (``trapezoid=False``: a record from before it existed)."""
    d = runs_root / run_id
    d.mkdir(parents=True, exist_ok=True)
    rows = [{"repeat": i, "rank1": r, "mAP": m, "rank5": 100.0, "rank10": 100.0, "mINP": m,
             "cmc": [r] + [min(100.0, r + 10 * k) for k in range(1, 20)]} for i, (r, m) in enumerate(zip(rank1, mAP))]
    if trapezoid:
        for row in rows:
            row["mAP_trapezoid"] = row["mAP"]
    summary = {"rank1_mean": float(np.mean(rank1)), "rank1_std": float(np.std(rank1)), "mAP_mean": float(np.mean(mAP)),
               "mAP_std": float(np.std(mAP)), "repeats": len(rows), "cmc_mean": np.mean([r["cmc"] for r in rows], 0).tolist()}
    body = {"per_repeat": rows, "summary": summary}
    if cross:
        (d / "cross").mkdir(exist_ok=True)
        (d / "cross" / f"{cross}.json").write_text(json.dumps(body))
    else:
        (d / "metrics.json").write_text(json.dumps({"dataset": "x", **body}))
        (d / "config.json").write_text(json.dumps({"config": {"method": "gpanet", "method_options": {}}}))
    return d


def _rid(key, row, col, seed=0, profile="demo"):
    exp = ex.get(key)
    runs = cell_runs(exp, exp.row(row), exp.column(col), profile, seed + 1)
    return runs[seed][0]


@pytest.fixture
def gpa_table1_runs(tmp_path):
    root = tmp_path / "runs"
    _fake_run(root, _rid("gpa-table1", "gpanet", "11k-dr"), [50.0, 60.0], [40.0, 50.0])
    _fake_run(root, _rid("gpa-table1", "resnet50", "11k-dr"), [70.0, 70.0], [30.0, 30.0])
    return root


def test_table_shows_numbers_missing_cells_best_and_differences(gpa_table1_runs):
    t = tables.table("gpa-table1", seeds=1, runs_root=gpa_table1_runs)
    c = t.cells.set_index(["row", "column", "metric"])
    g = c.loc[("gpanet", "11k-dr", "rank1")]
    assert g["status"] == "ok" and g["mean"] == 55.0 and g["std_repeats"] == 5.0 and g["repeats"] == 2
    assert g["published"] == 94.80 and g["diff"] == pytest.approx(55.0 - 94.80)
    # best per column and metric: ResNet50 on rank-1, GPA-Net on mAP
    assert c.loc[("resnet50", "11k-dr", "rank1"), "best"] and not g["best"]
    assert c.loc[("gpanet", "11k-dr", "mAP"), "best"]
    missing = c.loc[("vgg19bn", "11k-dr", "rank1")]
    assert missing["status"] == "missing" and math.isnan(missing["mean"]) and math.isnan(missing["diff"])
    assert (c.xs("hd", level="column")["status"] == "missing").all()

    md = t.to_markdown()
    assert "| VGG19-bn | missing / 82.70 |" in md
    assert "**70.00 ± 0.00** / 88.74 (−18.74)" in md
    assert "55.00 ± 5.00 / 94.80 (−39.80)" in md
    assert "missing / 95.08" in md  # GPA-Net on HD: no run, no number of ours
    wide = t.wide()
    assert wide.shape == (3, 1 + 5 * 2)


def test_written_files_csv_markdown_and_booktabs_latex(gpa_table1_runs, tmp_path):
    paths = tables.table("gpa-table1", seeds=1, runs_root=gpa_table1_runs).write(tmp_path / "tables")
    assert sorted(p.name for p in paths) == ["gpa-table1_demo.csv", "gpa-table1_demo.md", "gpa-table1_demo.tex"]
    csv = pd.read_csv(tmp_path / "tables" / "gpa-table1_demo.csv")
    assert len(csv) == 3 * 5 * 2
    assert csv[csv["status"] == "missing"]["mean"].isna().all()
    assert csv[(csv["row"] == "gpanet") & (csv["column"] == "11k-dr") & (csv["metric"] == "rank1")]["mean"].item() == 55.0
    tex = (tmp_path / "tables" / "gpa-table1_demo.tex").read_text()
    for rule in ("\\toprule", "\\midrule", "\\bottomrule", "\\cmidrule(lr){2-3}", "\\multicolumn{2}{c}{D-r of 11k}"):
        assert rule in tex
    assert tex.index("\\toprule") < tex.index("\\midrule") < tex.index("\\bottomrule")
    assert "\\textbf{70.00 $\\pm$ 0.00}" in tex and "\\textit{missing}" in tex
    assert "±" not in tex and "−" not in tex and "%" not in tex.replace("% requires", "")
    body = tex[tex.index("\\midrule"):tex.index("\\bottomrule")]
    assert all(line.count("&") == 10 for line in body.splitlines()[1:])


def test_latex_escapes_the_cross_domain_arrow(tmp_path):
    tex = tables.table("gpa-table2", runs_root=tmp_path).to_latex()
    assert "D-r (11k) $\\rightarrow$ HD" in tex and "→" not in tex


def test_cross_domain_cells_read_the_derived_records(tmp_path):
    root = tmp_path / "runs"
    rid = _rid("gpa-table2", "gpanet", "11k-dr>hd")
    assert rid == _rid("gpa-table1", "gpanet", "11k-dr")
    _fake_run(root, rid, [90.0], [91.0])                 # same-domain metrics: not what Table 2 shows
    c = tables.collect("gpa-table2", runs_root=root).set_index(["row", "column", "metric"])
    assert c.loc[("gpanet", "11k-dr>hd", "rank1"), "status"] == "missing"
    _fake_run(root, rid, [10.0, 20.0], [15.0, 25.0], cross="hd")
    c = tables.collect("gpa-table2", runs_root=root).set_index(["row", "column", "metric"])
    assert c.loc[("gpanet", "11k-dr>hd", "rank1"), "mean"] == 15.0
    assert c.loc[("gpanet", "hd>11k-dr", "rank1"), "status"] == "missing"


def test_seed_spread_and_partial_seeds(tmp_path):
    root = tmp_path / "runs"
    _fake_run(root, _rid("gpa-table4", "local", "11k-pr", 0), [50.0, 50.0], [50.0, 50.0])
    _fake_run(root, _rid("gpa-table4", "local", "11k-pr", 1), [60.0, 60.0], [60.0, 60.0])
    _fake_run(root, _rid("gpa-table4", "gpanet", "11k-pr", 0), [70.0, 80.0], [70.0, 80.0])
    c = tables.collect("gpa-table4", seeds=2, runs_root=root).set_index(["row", "metric"])
    loc = c.loc[("local", "rank1")]
    assert loc["status"] == "ok" and loc["seeds"] == 2 and loc["mean"] == 55.0
    assert loc["std_seeds"] == pytest.approx(np.std([50, 60], ddof=1)) and loc["std_repeats"] == 0.0
    assert c.loc[("gpanet", "rank1"), "status"] == "partial"
    md = tables.TableResult(ex.get("gpa-table4"), c.reset_index(), "demo", 2).to_markdown()
    assert "55.00 ± 0.00 ± 7.07" in md and "[1/2 seeds]" in md


def test_the_seed_std_of_a_cell_is_pooled_over_its_method_and_recipe_on_the_same_data(tmp_path):
    """GPA-Net Table 4's three rows are one method with three options: one family. Each cell's
    ``std_pooled`` pools the three rows' seeds (handreid.repro.spread), ``std_seeds`` stays its own."""
    from handreid.engine.config import make_config

    root = tmp_path / "runs"
    exp = ex.get("gpa-table4")
    values = {"global": [40.0, 44.0], "local": [50.0, 60.0], "gpanet": [70.0, 71.0]}
    for row, per_seed in values.items():
        for (rid, params), v in zip(cell_runs(exp, exp.row(row), exp.column("11k-pr"), "demo", 2), per_seed):
            d = _fake_run(root, rid, [v, v], [v, v])
            (d / "config.json").write_text(json.dumps({"config": params,
                                                       "identity": make_config(**params).identity()}))
    c = tables.collect("gpa-table4", seeds=2, runs_root=root).set_index(["row", "metric"])
    ss = sum((x - np.mean(v)) ** 2 for v in values.values() for x in v)    # 8 + 50 + 0.5
    for row in values:
        assert c.loc[(row, "rank1"), "std_pooled"] == pytest.approx(math.sqrt(ss / 3))
        assert c.loc[(row, "rank1"), "df_pooled"] == 3
    assert c.loc[("local", "rank1"), "std_seeds"] == pytest.approx(np.std([50, 60], ddof=1))


def test_published_only_rows_are_not_reproduced_never_numbers(tmp_path):
    t = tables.table("laga-table4", runs_root=tmp_path)
    mgn = t.cells[t.cells["row"] == "MGN"]
    assert (mgn["status"] == "not reproduced").all() and mgn["mean"].isna().all()
    md = t.to_markdown()
    assert "| MGN | not reproduced / 95.70 |" in md
    assert "not reproduced / –" in md  # the paper's "-" cells
    assert "not implemented in handreid" in md


def test_statistics_tables_count_the_demo_data(tmp_path):
    from handreid.data.synthetic import write_11k

    root = write_11k(tmp_path / "data", num_subjects=8, images_per_aspect=(3, 4), image_size=(48, 36), seed=1)
    t = tables.table("laga-table2", data_root=root)
    c = t.cells.set_index(["row", "column", "metric"])
    assert c.loc[("gallery", "11k-dr", "images"), "status"] == "ok"
    assert c.loc[("train", "hd", "ids"), "status"] == "missing"  # no HD tree there
    assert c.loc[("gallery", "11k-dr", "images"), "published"] == 290
    assert "/ 290 (" in t.to_markdown()


def test_heatmap_is_hp_by_vp_with_missing_cells_nan(tmp_path):
    root = tmp_path / "runs"
    _fake_run(root, _rid("gpa-table3", "hp=2", "vp=3"), [42.0], [40.0])
    fig, ours = figures.heatmap_figure(runs_root=root)
    assert ours.shape == (4, 3)
    assert ours[1, 2] == 42.0 and np.isnan(ours).sum() == 11
    exp = ex.get("gpa-table3-heatmap")
    paper = figures.heatmap_matrix(tables.collect(exp, runs_root=root), exp, "rank1", "published")
    assert paper[2, 0] == 95.83 and not np.isnan(paper).any()
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert texts.count("missing") == 11 and "42.00" in texts


def _spine_colours(ax):
    return {mcolors.to_hex(s.get_edgecolor()) for s in ax.spines.values()}


def test_retrieval_grid_borders_green_for_correct_red_for_wrong(tmp_path):
    for name, colour in (("q.png", (0, 0, 255)), ("a.png", (0, 255, 0)), ("b.png", (255, 0, 0))):
        Image.new("RGB", (12, 16), colour).save(tmp_path / name)
    query = {"path": "q.png", "pid": 7, "ranked": [{"path": "b.png", "pid": 3, "correct": False},
                                                   {"path": "a.png", "pid": 7, "correct": True}]}
    fig = plots.plot_retrieval([{"label": "D-r", "root": str(tmp_path), "query": query},
                                {"label": "HD", "query": None}], top_k=3)
    axes = np.array(fig.axes).reshape(2, 4)
    assert _spine_colours(axes[0, 1]) == {plots.RED} and _spine_colours(axes[0, 2]) == {plots.GREEN}
    assert _spine_colours(axes[0, 0]) == {plots.QUERY_BLUE}
    assert axes[0, 1].images and axes[0, 2].images
    assert [t.get_text() for t in axes[1, 0].texts] == ["missing"]


def test_retrieval_grid_names_an_image_it_cannot_read(tmp_path):
    """Never an empty frame: a missing image is an error naming the file and the data root tried."""
    Image.new("RGB", (12, 16), (0, 0, 255)).save(tmp_path / "q.png")
    query = {"path": "q.png", "pid": 7, "ranked": [{"path": "11k/Hands/gone.jpg", "pid": 4, "correct": False}]}
    with pytest.raises(FileNotFoundError, match=r"'11k/Hands/gone\.jpg' cannot be read under the data root "
                                                + repr(str(tmp_path)).replace("\\", "\\\\")):
        plots.plot_retrieval([{"label": "D-r", "root": str(tmp_path), "query": query}], top_k=1)


def test_retrieval_figure_reads_records_and_marks_missing(tmp_path):
    root = tmp_path / "runs"
    rid = _rid("laga-fig3", "LAGA-Net", "market1501")
    (root / rid / "retrieval").mkdir(parents=True)
    rec = {"top_k": 5, "queries": [
        {"path": f"q{i}.jpg", "pid": i, "ranked": [{"path": "g.jpg", "pid": i, "correct": True}] * 5} for i in range(4)]}
    for name in ["g.jpg"] + [f"q{i}.jpg" for i in range(4)]:
        Image.new("RGB", (8, 16), (90, 90, 90)).save(tmp_path / name)
    (root / rid / "retrieval" / "market1501.json").write_text(json.dumps(rec))
    entries = figures.retrieval_entries("laga-fig3", runs_root=root, data_root=tmp_path)
    assert [e["query"] is None for e in entries] == [False, False, False, True]  # 3 queries; baseline missing
    assert {e.get("root") for e in entries[:3]} == {str(tmp_path)}  # records hold relative paths only
    fig = figures.retrieval_figure("laga-fig3", runs_root=root, data_root=tmp_path)
    assert len(fig.axes) == 4 * 6
    exp = ex.get("laga-fig3")
    (paper_rid, _), = cell_runs(exp, exp.rows[0], exp.columns[0], "paper", 1)
    (root / paper_rid / "retrieval").mkdir(parents=True)
    (root / paper_rid / "retrieval" / "market1501.json").write_text(json.dumps(rec))
    with pytest.raises(ValueError, match="the paper profile's retrieval figures .* pass data_root"):
        figures.retrieval_entries("laga-fig3", profile="paper", runs_root=root)


def test_cmc_figure_draws_finished_runs_and_names_missing_ones(gpa_table1_runs):
    fig = figures.cmc_figure("gpa-fig2", runs_root=gpa_table1_runs, seeds=1)
    ax = fig.axes[0]
    drawn = [ln for ln in ax.lines if len(ln.get_xdata())]
    assert len(drawn) == 2
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "VGG19-bn: missing (paper 82.70%)" in legend
    assert "GPA-Net (ours): rank-1 55.0% (paper 94.80%)" in legend


def test_headline_comparisons_default_to_three_seeds_mean_and_std(tmp_path):
    """Issue 16: GPA-Net Table 1 and Fig. 2 are trained with 3 seeds in the demo; tables and the CMC
    figure show the mean over seeds and their std (a band in the figure), and name missing seeds."""
    root = tmp_path / "runs"
    for seed, r1 in enumerate((50.0, 60.0, 70.0)):
        _fake_run(root, _rid("gpa-table1", "gpanet", "11k-dr", seed), [r1, r1], [40.0, 40.0])
    _fake_run(root, _rid("gpa-table1", "resnet50", "11k-dr", 0), [30.0, 30.0], [20.0, 20.0])
    c = tables.table("gpa-table1", runs_root=root).cells.set_index(["row", "column", "metric"])
    g = c.loc[("gpanet", "11k-dr", "rank1")]
    assert (g["status"], g["seeds"], g["seeds_wanted"]) == ("ok", 3, 3)
    assert g["mean"] == 60.0 and g["std_seeds"] == pytest.approx(np.std([50, 60, 70], ddof=1))
    r = c.loc[("resnet50", "11k-dr", "rank1")]
    assert (r["status"], r["seeds"]) == ("partial", 1)
    assert "[1/3 seeds]" in tables.table("gpa-table1", runs_root=root).to_markdown()
    assert tables.table("laga-table3", runs_root=root).seeds == 3
    assert tables.table("laga-table4", runs_root=root).seeds == 1  # the body comparison: one seed
    fig = figures.cmc_figure("gpa-fig2", runs_root=root)
    ax = fig.axes[0]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "GPA-Net (ours): rank-1 60.0 ± 10.0% (paper 94.80%)" in legend
    assert "ResNet50: rank-1 30.0% [1/3 seeds] (paper 88.74%)" in legend
    assert len(ax.collections) == 1  # one ± std band: GPA-Net's three seeds
    assert "mean ± std over 3 seeds" in ax.get_title()


def test_notebook_cells_write_files_and_respect_the_selection(gpa_table1_runs, tmp_path):
    out = tables.table_cell("gpa-table1", runs_root=gpa_table1_runs, folder=tmp_path / "t")
    assert isinstance(out, tables.TableResult) and (tmp_path / "t" / "gpa-table1_demo.tex").exists()
    assert "not selected" in tables.table_cell("gpa-table1", only="laga-*", folder=tmp_path / "t")
    figures.figure_cell("gpa-fig2", runs_root=gpa_table1_runs, folder=tmp_path / "f")
    assert {p.name for p in (tmp_path / "f").iterdir()} == {"gpa-fig2_demo.png", "gpa-fig2_demo.pdf"}
    ov = tables.overview(runs_root=gpa_table1_runs, only="gpa-table1")
    assert ov.iloc[0][["cells", "with numbers", "missing"]].tolist() == [15, 2, 13]


def test_tables_and_figures_notebooks_on_demo_records(tmp_path, monkeypatch):
    """Both notebooks, executed with papermill on a few (fake) demo-profile records: every table and
    figure is written, the cells with records show numbers, the rest 'missing'."""
    import papermill

    from handreid.paths import project_root

    out = tmp_path / "out"
    runs = out / "results" / "runs"
    _fake_run(runs, _rid("gpa-table1", "gpanet", "11k-dr"), [30.0, 40.0], [35.0, 45.0])
    _fake_run(runs, _rid("gpa-table1", "resnet50", "11k-dr"), [20.0, 20.0], [25.0, 25.0])
    _fake_run(runs, _rid("gpa-table2", "gpanet", "11k-dr>hd"), [5.0], [6.0], cross="hd")
    _fake_run(runs, _rid("gpa-table3", "hp=2", "vp=2"), [33.0], [34.0])
    Image.new("RGB", (12, 16), (200, 150, 120)).save(tmp_path / "h.png")
    ret = runs / _rid("gpa-fig3", "gpanet", "11k-dr") / "retrieval"
    ret.mkdir(parents=True)
    (ret / "11k-dr.json").write_text(json.dumps({"top_k": 10, "queries": [
        {"path": "h.png", "pid": 1, "first_correct_rank": 2,
         "ranked": [{"path": "h.png", "pid": 2 - (k == 1), "correct": k == 1} for k in range(10)]}]}))
    monkeypatch.setenv("HANDREID_OUTPUT", str(out))
    monkeypatch.setenv("HANDREID_DEMO_DATA", str(tmp_path / "no-data"))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = project_root() / "notebooks"
    for name, extra in (("tables", {}), ("figures", {"data_root": str(tmp_path)})):
        papermill.execute_notebook(str(nb / f"{name}.ipynb"), str(tmp_path / f"{name}.ipynb"), cwd=str(nb),
                                   parameters={"profile": "demo", **extra}, progress_bar=False, kernel_name="python3")
    table_dir = out / "results" / "tables"
    assert {p.name for p in table_dir.glob("*.md")} == {f"{k}_demo.md" for k in ex.TABLES}
    assert len(list(table_dir.glob("*.tex"))) == len(list(table_dir.glob("*.csv"))) == len(ex.TABLES)
    t1 = (table_dir / "gpa-table1_demo.md").read_text()
    assert "**35.00 ± 5.00 [1/3 seeds]** / 94.80 (−59.80)" in t1 and "missing / 82.70" in t1
    assert "**5.00** / 83.02 (−78.02)" in (table_dir / "gpa-table2_demo.md").read_text()
    figures = out / "figures"
    assert {p.name for p in figures.iterdir()} == {f"{k}_demo.{e}" for k in ex.FIGURES for e in ("png", "pdf")}


def test_tables_of_a_variant_read_that_variants_runs_and_say_so(tmp_path):
    """`make reproduce VARIANT=authors` trains other run ids: its tables must read those, not the default's."""
    root = tmp_path / "runs"
    exp = ex.get("laga-table5")
    (rid, _), = cell_runs(exp, exp.row("LAGA-Net"), exp.column("11k-dr"), "demo", 1, "authors")
    assert rid != _rid("laga-table5", "LAGA-Net", "11k-dr")
    _fake_run(root, rid, [60.0, 62.0], [70.0, 72.0])
    ours = tables.table("laga-table5", seeds=1, runs_root=root, variant="authors")
    cell = ours.cells.set_index(["row", "column", "metric"]).loc[("LAGA-Net", "11k-dr", "rank1")]
    assert cell["status"] == "ok" and cell["mean"] == 61.0
    default = tables.table("laga-table5", seeds=1, runs_root=root).cells.set_index(["row", "column", "metric"])
    assert default.loc[("LAGA-Net", "11k-dr", "rank1"), "status"] == "missing"
    assert "variant 'authors'" in ours.caption
    assert {p.name for p in ours.write(tmp_path / "t")} == {f"laga-table5_demo-authors.{e}" for e in ("csv", "md", "tex")}


def test_hand_tables_compare_the_authors_map_and_say_so(tmp_path):
    """Issue 13: beside GPA-Net's and LAGA-Net's hand numbers stands the Market-1501 official mAP."""
    from handreid.metrics.reference import single_match_maps

    root = tmp_path / "runs"
    rid = _rid("gpa-table1", "gpanet", "11k-dr")
    d = _fake_run(root, rid, [50.0, 60.0], [40.0, 50.0], trapezoid=False)   # an older record: no mAP_trapezoid
    t = tables.table("gpa-table1", runs_root=root)
    c = t.cells.set_index(["row", "column", "metric"])
    cmcs = [r["cmc"] for r in json.loads((d / "metrics.json").read_text())["per_repeat"]]
    expected = np.mean([single_match_maps(cmc)[1] for cmc in cmcs])
    assert c.loc[("gpanet", "11k-dr", "mAP"), "mean"] == pytest.approx(expected)
    assert c.loc[("gpanet", "11k-dr", "mAP"), "definition"] == "mAP_trapezoid"
    assert c.loc[("gpanet", "11k-dr", "rank1"), "definition"] == "rank1"
    assert "mAP: the Market-1501 official rule" in t.caption and "definition" in t.to_csv().splitlines()[0]
    body = tables.table("laga-table4", runs_root=root)
    assert body.cells.query("metric == 'mAP'")["definition"].eq("mAP").all()
    assert "mAP: the mean precision at the true matches" in body.caption
    mixed = tables.table("laga-table3", runs_root=root).caption   # Market-1501 and P-r of 11k
    assert "(mAP) on Market-1501" in mixed and "(mAP_trapezoid) on P-r of 11k" in mixed
