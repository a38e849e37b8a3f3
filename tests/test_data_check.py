"""The data check before a paper-profile sweep: `python -m handreid data` and the sweep's first lines.

Synthetic trees in the real on-disk formats (handreid.data.synthetic): a root with only 11k/,
and roots with an incomplete dataset (HandInfo.csv without the images, a Market-1501 folder
without query/). The report's lines are asserted exactly; the loader's message in a line is
the one ``load_split`` raises for that root.
"""

import shutil

import pytest

from handreid.repro import sweep
from handreid.repro.plan import plan
from handreid.__main__ import main
from handreid.data import DATASETS, DatasetError, load_split, table_ii_counts
from handreid.data.check import DatasetStatus, check_datasets, format_report, needed_datasets
from handreid.data.synthetic import write_11k, write_market1501

HANDS = ("11k-dr", "11k-dl", "11k-pr", "11k-pl")
# LAGA-Net Table II as printed (ids/images of train incl. validation, query, gallery).
TABLE_II = {"11k-dr": "train 72/962, query 71/971, gallery 290/290",
            "11k-dl": "train 73/808, query 73/988, gallery 290/290",
            "11k-pr": "train 72/977, query 71/917, gallery 290/290",
            "11k-pl": "train 76/1004, query 75/948, gallery 290/290"}


@pytest.fixture(scope="module")
def only_11k(tmp_path_factory):
    return write_11k(tmp_path_factory.mktemp("only11k"), num_subjects=12, image_size=(40, 32))


def _loader_message(name, root) -> str:
    with pytest.raises(DatasetError) as info:
        load_split(name, root=root)
    return str(info.value).splitlines()[0].removesuffix("Expected layout:").strip()


def _hand_line(name, root) -> str:
    c = table_ii_counts(load_split(name, root=root, repeat=0, seed=0))
    mine = (f"train {c['train_ids']}/{c['train_images']}, query {c['query_ids']}/{c['query_images']}, "
            f"gallery {c['gallery_ids']}/{c['gallery_images']}")
    return f"  {name:<10}  present     {mine} (ids/images): differs from LAGA-Net Table II ({TABLE_II[name]})"


def test_root_with_only_11k(only_11k):
    statuses = check_datasets(only_11k, DATASETS)
    assert [(s.name, s.state) for s in statuses] == [(d, "present") for d in HANDS] + [
        ("hd", "missing"), ("market1501", "missing"), ("dukemtmc", "missing"), ("cuhk03-l", "missing"),
        ("msmt17", "missing")]
    assert statuses[0].counts["gallery"]["images"] == statuses[1].counts["gallery"]["images"]  # shared gallery
    assert statuses[4].error.startswith(f"{only_11k}/HD does not exist")
    # one training per (method, dataset) of GPA-Net Table 1, cross-domain evaluations to HD and back
    trainings = [d for d in ("11k-dr", "11k-dl", "11k-pr", "11k-pl", "hd") for _ in range(3)]
    report = format_report(only_11k, statuses, trainings, evaluations=["hd"] * 3 + ["11k-dr"] * 3)
    msg = {d: _loader_message(d, only_11k) for d in ("hd", "market1501", "dukemtmc", "cuhk03-l", "msmt17")}
    assert "Market-1501 not found" in msg["market1501"] and str(only_11k) in msg["msmt17"]
    assert report.splitlines() == [
        f"data under {only_11k} (counts of repeat 0, seed 0 against LAGA-Net Tables I-II):",
        *[_hand_line(d, only_11k) for d in HANDS],
        f"  hd          missing     blocks 3 of 15 trainings and 3 evaluations: {msg['hd']}",
        f"  market1501  missing     blocks 0 of 15 trainings: {msg['market1501']}",
        f"  dukemtmc    missing     blocks 0 of 15 trainings: {msg['dukemtmc']}",
        f"  cuhk03-l    missing     blocks 0 of 15 trainings: {msg['cuhk03-l']}",
        f"  msmt17      missing     blocks 0 of 15 trainings: {msg['msmt17']}",
        "runnable now: --datasets 11k-dr,11k-dl,11k-pr,11k-pl (12 of 15 trainings)",
    ]


def test_incomplete_11k_and_market(tmp_path):
    write_11k(tmp_path, num_subjects=6, image_size=(40, 32))
    shutil.rmtree(tmp_path / "11k" / "Hands")                 # HandInfo.csv without the images
    write_market1501(tmp_path, num_train_ids=3, num_test_ids=3, num_distractors=2, num_junk=1)
    market = tmp_path / "Market-1501-v15.09.15"
    shutil.rmtree(market / "query")                           # a truncated Market folder
    statuses = check_datasets(tmp_path, ["11k-dr", "hd", "market1501"])
    assert [s.state for s in statuses] == ["incomplete", "missing", "incomplete"]
    assert f"{tmp_path}/11k/Hands does not exist" in statuses[0].error
    assert str(market) in statuses[2].error and "query" in statuses[2].error
    report = format_report(tmp_path, statuses, ["11k-dr", "11k-dr", "market1501"])
    assert report.splitlines()[1:] == [
        f"  11k-dr      incomplete  blocks 2 of 3 trainings: {_loader_message('11k-dr', tmp_path)}",
        f"  hd          missing     blocks 0 of 3 trainings: {_loader_message('hd', tmp_path)}",
        f"  market1501  incomplete  blocks 1 of 3 trainings: {_loader_message('market1501', tmp_path)}",
        f"no selected training can run: none of its datasets is present under {tmp_path}",
    ]
    full = format_report(tmp_path, statuses[1:2], full=True).splitlines()   # --full: the whole message
    assert full[1] == f"  hd          missing     {_loader_message('hd', tmp_path)}"
    assert full[2].startswith("      ") and len(full) > 4 and full[-1] == "present: none"


def test_counts_as_published_say_so():
    pub = {"train": (751, 12936, 6), "query": (750, 3368, 6), "gallery": (751, 15913, 6)}
    counts = {s: dict(zip(("ids", "images", "cameras"), v)) for s, v in pub.items()}
    same = DatasetStatus("market1501", "present", counts=counts, published=pub, table="Table I")
    off = DatasetStatus("market1501", "present", counts={**counts, "query": {"ids": 750, "images": 3367,
                                                                           "cameras": 6}},
                        published=pub, table="Table I")
    assert same.matches_paper is True and off.matches_paper is False
    lines = format_report("/data", [same], ["market1501"]).splitlines()
    assert lines[1:] == ["  market1501  present     train 751/12936/6, query 750/3368/6, gallery 751/15913/6 "
                         "(ids/images/cameras): as in LAGA-Net Table I",
                         "all 1 datasets present: every selected training can run"]
    assert format_report("/data", [off]).splitlines()[1].endswith(
        "query 750/3367/6, gallery 751/15913/6 (ids/images/cameras): differs from LAGA-Net Table I "
        "(train 751/12936/6, query 750/3368/6, gallery 751/15913/6)")


def test_needed_datasets_of_a_selection():
    selection = plan("gpa-table2,laga-table1", profile="paper")
    assert needed_datasets(selection) == ["11k-dr", "hd", "market1501", "dukemtmc", "cuhk03-l", "msmt17"]
    assert needed_datasets(selection, datasets=["11k-dr"]) == ["11k-dr", "hd"]  # the cross-domain target stays


def test_cli(only_11k, capsys):
    assert main(["data", "--data-root", str(only_11k), "--tables", "gpa-table4"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == [f"data under {only_11k} (counts of repeat 0, seed 0 against LAGA-Net Tables I-II):",
                     _hand_line("11k-pr", only_11k), "all 1 datasets present: every selected training can run"]
    assert main(["data", "--data-root", str(only_11k), "--tables", "gpa-table1"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[5] == f"  hd          missing     blocks 3 of 15 trainings: {_loader_message('hd', only_11k)}"
    assert out[6] == "runnable now: --datasets 11k-dr,11k-dl,11k-pr,11k-pl (12 of 15 trainings)"
    assert main(["data", "--data-root", str(only_11k), "--tables", "nope"]) == 2


# ----------------------------------------------------------------------------- the paper-profile sweep
def test_paper_sweep_reports_first_and_never_starts_a_training_without_data(only_11k, tmp_path, monkeypatch, capsys):
    started = []

    def execute(tasks, **kwargs):
        started.extend(tasks)
        return [sweep.Outcome(t.run_id, "failed", error="not trained in this test", kind=t.kind, dataset=t.dataset)
                for t in tasks]

    monkeypatch.setattr(sweep, "execute", execute)
    outcomes = sweep.reproduce("gpa-table1,gpa-table2", profile="paper", data_root=str(only_11k),
                               out_dir=str(tmp_path / "runs"), notebooks=False, log_output=False)
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"data under {only_11k} (counts of repeat 0, seed 0 against LAGA-Net Tables I-II):"
    assert out[5].startswith("  hd          missing     blocks 3 of 15 trainings and 3 evaluations: ")
    assert out[6] == "runnable now: --datasets 11k-dr,11k-dl,11k-pr,11k-pl (12 of 15 trainings)"
    assert len(started) == 12 and {t.params["dataset"] for t in started} == set(HANDS)
    blocked = [o for o in outcomes if o.status == "blocked" and o.kind == "train"]
    assert len(blocked) == 3 and all(o.dataset == "hd" and o.error == "data missing (hd)" for o in blocked)
    for o in blocked:
        assert f"  blocked: {o.run_id}: data missing (hd)" in out


def test_paper_dry_run_prints_the_check_first_and_marks_blocked_runs(only_11k, tmp_path, capsys):
    outcomes = sweep.reproduce("gpa-table1", profile="paper", data_root=str(only_11k), dry_run=True,
                               out_dir=str(tmp_path / "runs"))
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].startswith("data under ") and lines[6].startswith("runnable now: ")
    assert lines[7] == "15 trainings for gpa-table1 (paper profile): 12 to run, 0 finished, 3 blocked: data missing"
    assert out.count("  [blocked: data missing] ") == 3 and out.count("  [to run] ") == 12
    assert sum(o.status == "blocked" for o in outcomes) == 3
