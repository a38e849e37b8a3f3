"""The dataset table (handreid.data.datasets): one record per dataset, read by everything else."""

from __future__ import annotations

import pytest

from handreid import published as pub
from handreid.data import BODY_DATASETS, DATASETS, DatasetError, dataset_repeats, register_dataset
from handreid.data import datasets as table
from handreid.data.synthetic import WRITERS
from handreid.engine.recipes import LAGA_BODY, LAGA_HAND, get_recipe
from handreid.repro import experiments as ex

HAND = ("11k-dr", "11k-dl", "11k-pr", "11k-pl", "hd")  # GPA-Net Table 1, LAGA-Net Table II columns
BODY = ("market1501", "dukemtmc", "cuhk03-l", "msmt17")  # LAGA-Net Table I columns
# As the papers print them (GPA-Net Table 1 "D-r of 11k" ..., LAGA-Net Table I "CUHK03 (L)").
LABELS = {"11k-dr": "D-r of 11k", "11k-dl": "D-l of 11k", "11k-pr": "P-r of 11k", "11k-pl": "P-l of 11k",
          "hd": "HD", "market1501": "Market-1501", "dukemtmc": "DukeMTMC", "cuhk03-l": "CUHK03 (L)",
          "msmt17": "MSMT17"}
WRITER = {"11k-dr": "11k", "11k-dl": "11k", "11k-pr": "11k", "11k-pl": "11k", "hd": "hd",
          "market1501": "market1501", "dukemtmc": "dukemtmc", "cuhk03-l": "cuhk03", "msmt17": "msmt17"}


def test_records():
    assert tuple(table.TABLE) == HAND + BODY
    for name, d in table.TABLE.items():
        assert d.name == name and DATASETS[name] is d.loader
        assert (d.kind, d.repeats) == (("hand", 10) if name in HAND else ("body", 1))
        assert d.label == LABELS[name] and d.writer == WRITER[name] and d.writer in WRITERS
    with pytest.raises(AttributeError):
        table.TABLE["hd"].repeats = 3  # frozen


def test_lookups():
    assert table.hand_datasets() == HAND and table.body_datasets() == BODY == BODY_DATASETS
    for name in HAND + BODY:
        assert table.kind_of(name) == ("hand" if name in HAND else "body")
        assert table.repeats_of(name) == dataset_repeats(name) == (10 if name in HAND else 1)
        assert table.label_of(name) == LABELS[name]
        assert table.writer_of(name) == WRITER[name]
    assert table.kind_of(" Market1501 ") == "body"  # names are matched like load_split matches them
    with pytest.raises(DatasetError, match=r"unknown dataset name 'market'\. Known names: 11k-dl, 11k-dr"):
        table.kind_of("market")
    with pytest.raises(DatasetError, match="unknown dataset name None"):
        table.repeats_of(None)


def test_everything_reads_the_table():
    assert not hasattr(pub, "DATASET_LABELS") and not hasattr(pub, "HAND_COLUMNS")  # one home: the table
    assert [c.key for c in ex.get("gpa-table1").columns] == list(HAND)
    assert [c.label for c in ex.get("gpa-table1").columns] == [LABELS[d] for d in HAND]
    assert set(pub.LAGA_TABLE2) == set(HAND) and set(pub.LAGA_TABLE1) == set(BODY)
    assert all(set(cols) == set(HAND) for cols in pub.GPA_TABLE1.values())
    for name in HAND:
        assert get_recipe("laga", name) is LAGA_HAND
    for name in BODY:
        assert get_recipe("laga", name) is LAGA_BODY


def test_register_dataset_adds_a_record():
    def loader(root, repeat=0, seed=0):
        raise AssertionError("not called")

    try:
        register_dataset("Extra-Body", loader, kind="body", label="Extra")
        d = table.get("extra-body")
        assert (d.name, d.label, d.kind, d.repeats, d.writer, d.loader) == ("extra-body", "Extra", "body", 1, None,
                                                                            loader)
        assert DATASETS["extra-body"] is loader and dataset_repeats("extra-body") == 1
        with pytest.raises(DatasetError, match="'extra-body' is already registered; pass replace=True"):
            register_dataset("extra-body", loader)
        with pytest.raises(DatasetError, match="'extra-body' has no synthetic writer"):
            table.writer_of("extra-body")
        with pytest.raises(DatasetError, match=r"kind='face' is invalid: expected one of \('hand', 'body'\)"):
            register_dataset("extra-face", loader, kind="face")
    finally:
        table.TABLE.pop("extra-body", None)
        DATASETS.pop("extra-body", None)
    assert "extra-face" not in table.TABLE and "extra-face" not in DATASETS
