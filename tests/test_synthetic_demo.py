"""The demo profile's synthetic data (handreid.data.synthetic.demo)."""

from __future__ import annotations

import pytest

from conftest import TINY
from handreid.data import DATASETS, DatasetError, load_split
from handreid.data.synthetic import demo


def test_demo_writer_is_the_tables_writer():
    assert {d: demo.demo_writer(d) for d in DATASETS} == {
        "11k-dr": "11k", "11k-dl": "11k", "11k-pr": "11k", "11k-pl": "11k", "hd": "hd",
        "market1501": "market1501", "dukemtmc": "dukemtmc", "cuhk03-l": "cuhk03", "msmt17": "msmt17"}
    with pytest.raises(DatasetError, match="unknown dataset name 'market'"):
        demo.demo_writer("market")


def test_prepare_writes_only_the_datasets_asked_for(tmp_path, monkeypatch):
    monkeypatch.setitem(demo.DEMO_DATA, "hd", TINY["hd"])
    root = demo.prepare_demo_data(["hd", "hd"], tmp_path)
    assert root == tmp_path and sorted(p.name for p in tmp_path.iterdir()) == ["HD"]
    split = load_split("hd", root)
    assert split.counts()["train_ids"] == 3  # TINY: 6 main subjects, the first half trains
    before = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*") if p.is_file()}
    demo.ensure_demo_data(tmp_path, ("hd",))  # idempotent: nothing rewritten
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*") if p.is_file()} == before
