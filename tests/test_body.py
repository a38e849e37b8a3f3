"""Body benchmarks (LAGA-Net Table I): Market-1501, DukeMTMC-reID, CUHK03 (new protocol), MSMT17."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
from PIL import Image
from scipy.io import savemat

from conftest import touch_files as _touch
from handreid.data import (BODY_DATASETS, DATASETS, DatasetError, dataset_repeats, load_split)
from handreid.data.datasets import body_datasets, kind_of
from handreid.data import cuhk03
from handreid.data.body import MSMT17_TEST_PID_OFFSET
from handreid.data.overview import table_i_counts
from handreid.data.synthetic import (PARAMS_FILE, WRITERS, main, write_all, write_cuhk03, write_dukemtmc,
                                     write_market1501, write_msmt17)

BODY = ("market1501", "dukemtmc", "cuhk03-l", "msmt17")

# LAGA-Net Table I (ids, images, cameras per subset).
TABLE_I = {
    "market1501": dict(train_ids=751, train_images=12936, query_ids=750, query_images=3368,
                       gallery_ids=751, gallery_images=15913, train_cameras=6, query_cameras=6, gallery_cameras=6),
    "dukemtmc": dict(train_ids=702, train_images=16522, query_ids=702, query_images=2228,
                     gallery_ids=1110, gallery_images=17661, train_cameras=8, query_cameras=8, gallery_cameras=8),
    "cuhk03": dict(train_ids=767, train_images=7365, query_ids=700, query_images=1400,
                   gallery_ids=700, gallery_images=5332, train_cameras=2, query_cameras=2, gallery_cameras=2),
}


def _spread(total: int, n: int) -> list[int]:
    """n counts adding up to total, as equal as possible."""
    q, r = divmod(total, n)
    return [q + 1] * r + [q] * (n - r)


def test_registry():
    for name in BODY:
        assert name in DATASETS and name in BODY_DATASETS and kind_of(name) == "body"
        assert dataset_repeats(name) == 1
    assert body_datasets() == BODY_DATASETS == BODY
    with pytest.raises(DatasetError, match="unknown dataset name"):
        dataset_repeats("market")


# ---------------------------------------------------------------------------
# Table I on full-size trees of empty files (no image is decoded)


@pytest.fixture(scope="module")
def market_full(tmp_path_factory) -> Path:
    """Market-1501 with the real counts: 12,936 train (751 ids), 3,368 query (750 ids), and a
    bounding_box_test of 19,732 = 13,120 images of the 750 test ids + 2,793 distractors (pid 0)
    + 3,819 junk (pid -1)."""
    root = tmp_path_factory.mktemp("market_full")
    base = root / "Market-1501-v15.09.15"
    train_pids = list(range(2, 1501, 2)) + [1501]
    test_pids = list(range(1, 1500, 2))
    assert len(train_pids) == 751 and len(test_pids) == 750
    frame = iter(range(1, 10**6))

    def names(pid, n, cams=6):
        return [f"{pid:04d}_c{(i + pid) % cams + 1}s{i % 6 + 1}_{next(frame):06d}_0{i % 8}.jpg".replace("-001", "-1")
                for i in range(n)]

    _touch(base / "bounding_box_train", [n for p, c in zip(train_pids, _spread(12936, 751)) for n in names(p, c)])
    _touch(base / "query", [n for p, c in zip(test_pids, _spread(3368, 750)) for n in names(p, c)])
    gallery = [n for p, c in zip(test_pids, _spread(13120, 750)) for n in names(p, c)]
    gallery += names(0, 2793) + names(-1, 3819)
    _touch(base / "bounding_box_test", gallery)
    (base / "bounding_box_test" / "Thumbs.db").touch()
    return root


@pytest.fixture(scope="module")
def duke_full(tmp_path_factory) -> Path:
    """DukeMTMC-reID with the real counts: 16,522 train (702 ids), 2,228 query (702 ids), 17,661
    gallery of the 702 test ids and 408 single-camera distractor ids."""
    root = tmp_path_factory.mktemp("duke_full")
    base = root / "DukeMTMC-reID"
    train_pids = list(range(1, 1405, 2))
    test_pids = list(range(2, 1405, 2))
    dis_pids = list(range(5000, 5408))
    frame = iter(range(1, 10**7))

    def names(pid, n, cams=8):
        return [f"{pid:04d}_c{(i + pid) % cams + 1}_f{next(frame):07d}.jpg" for i in range(n)]

    _touch(base / "bounding_box_train", [n for p, c in zip(train_pids, _spread(16522, 702)) for n in names(p, c)])
    _touch(base / "query", [n for p, c in zip(test_pids, _spread(2228, 702)) for n in names(p, c)])
    gallery = [n for p, c in zip(test_pids, _spread(17661 - 4080, 702)) for n in names(p, c)]
    gallery += [n for p in dis_pids for n in names(p, 10, cams=1)]
    _touch(base / "bounding_box_test", gallery)
    return root


def test_table_i_market1501(market_full):
    split = load_split("market1501", market_full)
    assert table_i_counts(split) == TABLE_I["market1501"]
    assert split.info["dropped_junk"] == {"bounding_box_train": 0, "query": 0, "bounding_box_test": 3819}
    assert int((split.gallery["pid"] == 0).sum()) == 2793
    assert split.num_classes == 751 and sorted(split.train["label"].unique()) == list(range(751))


def test_table_i_dukemtmc(duke_full):
    split = load_split("dukemtmc", duke_full)
    assert table_i_counts(split) == TABLE_I["dukemtmc"]
    assert split.num_classes == 702


@pytest.mark.parametrize("boxes, counts", [
    ("detected", (7365, 1400, 5332)),  # the numbers LAGA-Net Table I prints for "CUHK03 (L)"
    ("labeled", (7368, 1400, 5328)),   # the labeled boxes' numbers (CUHK03-NP README)
])
def test_table_i_cuhk03_protocol_counts(tmp_path, boxes, counts):
    """A protocol file with the real structure (767 train ids, 700 test ids, one query per camera)
    and the real counts; the images are already extracted (empty files), so nothing is decoded."""
    n_train, n_query, n_gallery = counts
    base = tmp_path / "cuhk03"
    names, pids, cams, sets = [], [], [], {"train": [], "query": [], "gallery": []}
    per_view: dict[tuple[int, int], int] = {}

    def add(pid, cam, subset):
        pair, person = 1 + pid // 1000, pid % 1000
        per_view[pid, cam] = per_view.get((pid, cam), 0) + 1
        img = (cam - 1) * 5 + per_view[pid, cam]
        names.append(f"{pair}_{person:03d}_{cam}_{img:02d}.png")
        pids.append(pid)
        cams.append(cam)
        sets[subset].append(len(names))

    for pid, c in zip(range(1, 768), _spread(n_train, 767)):
        for i in range(c):
            add(pid, 1 + i % 2, "train")
    for pid, c in zip(range(768, 1468), _spread(n_gallery, 700)):
        add(pid, 1, "query")
        add(pid, 2, "query")
        for i in range(c):
            add(pid, 1 + i % 2, "gallery")
    filelist = np.empty((len(names), 1), dtype=object)
    filelist[:, 0] = names
    base.mkdir()
    savemat(base / f"cuhk03_new_protocol_config_{boxes}.mat",
            {"filelist": filelist, "labels": np.array(pids, float)[:, None], "camId": np.array(cams, float)[:, None],
             **{f"{s}_idx": np.array(v, float)[:, None] for s, v in sets.items()}})
    _touch(base / f"images_{boxes}", names)
    split = load_split("cuhk03-l", tmp_path, boxes=boxes)
    expected = dict(TABLE_I["cuhk03"], train_images=n_train, gallery_images=n_gallery)
    assert table_i_counts(split) == expected
    assert split.info["extracted_now"] == 0


# ---------------------------------------------------------------------------
# Market-1501 rules on a synthetic tree

MARKET = dict(num_train_ids=6, num_test_ids=5, num_distractors=4, num_junk=3, image_size=(24, 48), seed=3)


@pytest.fixture(scope="module")
def market(tmp_path_factory) -> Path:
    return write_market1501(tmp_path_factory.mktemp("market"), **MARKET)


@pytest.fixture
def market_copy(market, tmp_path) -> Path:
    shutil.copytree(market, tmp_path / "root")
    return tmp_path / "root"


def _files(base: Path, sub: str) -> list[str]:
    return sorted(n for n in os.listdir(base / sub) if n.endswith(".jpg"))


def test_market_rules(market):
    base = market / "Market-1501-v15.09.15"
    split = load_split("market1501", market, repeat=0, seed=5)
    assert (split.name, split.repeat, split.seed, split.camera_rule) == ("market1501", 0, 5, True)
    # file name -> pid, camid (c1..c6 -> 0..5)
    test_files = _files(base, "bounding_box_test")
    junk = [n for n in test_files if n.startswith("-1_")]
    assert len(junk) == 3 and split.info["dropped_junk"]["bounding_box_test"] == 3
    assert len(split.gallery) == len(test_files) - 3
    assert not any("/-1_" in p for p in pd.concat([split.train, split.query, split.gallery])["path"])
    for df in (split.train, split.query, split.gallery):
        names = df["path"].str.rsplit("/", n=1).str[1]
        assert (df["pid"] == names.str.split("_").str[0].astype(int)).all()
        assert (df["camid"] == names.str.extract(r"_c(\d)s")[0].astype(int) - 1).all()
        assert df["camid"].between(0, 5).all() and df["pid"].dtype == "int64"
    # distractors (pid 0) kept, in the gallery only
    assert int((split.gallery["pid"] == 0).sum()) == 4
    assert 0 not in set(split.train["pid"]) | set(split.query["pid"])
    # labels contiguous in pid order; no validation hold-out (empty, right columns)
    assert split.num_classes == 6
    assert (split.train.groupby("pid")["label"].first().to_numpy() == np.arange(6)).all()
    assert list(split.val.columns) == ["path", "pid", "camid", "label"] and split.val.empty
    assert list(split.query.columns) == ["path", "pid", "camid"]
    assert split.counts()["train_images"] == len(split.train)
    # every query identity has a gallery image from another camera
    for _, q in split.query.iterrows():
        g = split.gallery[split.gallery["pid"] == q["pid"]]
        assert (g["camid"] != q["camid"]).any()
    assert all(p.is_file() for p in split.image_paths(split.gallery))


@pytest.mark.parametrize("name", BODY)
@pytest.mark.parametrize("repeat", [1, 9, -1, "0", True, 0.0])
def test_repeat_other_than_zero_rejected(market, name, repeat):
    with pytest.raises(DatasetError, match=rf"repeat={repeat!r} is invalid for '{name}'.*single fixed query/gallery split"):
        load_split(name, market, repeat=repeat)


def test_bad_seed_rejected(market):
    with pytest.raises(DatasetError, match="seed=-1 is invalid"):
        load_split("market1501", market, seed=-1)


@pytest.mark.parametrize("layout", ["market1501", "Market-1501", "market1501/Market-1501-v15.09.15"])
def test_market_alternative_folders(market_copy, layout):
    reference = load_split("market1501", market_copy)
    target = market_copy / layout
    target.parent.mkdir(parents=True, exist_ok=True)
    os.rename(market_copy / "Market-1501-v15.09.15", target)
    split = load_split("market1501", market_copy)
    assert list(split.gallery["path"].str.rsplit("/", n=1).str[1]) == \
        list(reference.gallery["path"].str.rsplit("/", n=1).str[1])
    assert all(p.startswith(layout + "/bounding_box_test/") for p in split.gallery["path"])


MARKET_TREE = r"Expected layout:\n.*Market-1501-v15\.09\.15/.*\n.*bounding_box_train/.*\n.*query/.*\n.*bounding_box_test/"


def test_market_error_no_dataset(tmp_path):
    with pytest.raises(DatasetError, match=rf"(?s)Market-1501 not found under .*{MARKET_TREE}.*project_reid"):
        load_split("market1501", tmp_path)


def test_market_error_root_missing(tmp_path):
    with pytest.raises(DatasetError, match=rf"(?s)data root .*nowhere does not exist.*{MARKET_TREE}"):
        load_split("market1501", tmp_path / "nowhere")


def test_market_error_missing_folder(market_copy):
    shutil.rmtree(market_copy / "Market-1501-v15.09.15" / "query")
    with pytest.raises(DatasetError, match=rf"(?s)Market-1501-v15\.09\.15 is incomplete: query missing.*{MARKET_TREE}"):
        load_split("market1501", market_copy)


@pytest.mark.parametrize("bad", ["0002_c1_000451_03.jpg", "abc.jpg", "0002_c1s1_000451_03.png", "x.txt"])
def test_market_error_bad_name(market_copy, bad):
    (market_copy / "Market-1501-v15.09.15" / "bounding_box_train" / bad).touch()
    with pytest.raises(DatasetError, match=rf"(?s)1 entry does not match.*0002_c1s1_000451_03\.jpg.*'{bad}'"):
        load_split("market1501", market_copy)


def test_market_error_camera_and_pid_range(market_copy):
    (market_copy / "Market-1501-v15.09.15" / "query" / "0003_c7s1_000451_03.jpg").touch()
    with pytest.raises(DatasetError, match=r"camera outside c1\.\.c6.*0003_c7s1_000451_03\.jpg"):
        load_split("market1501", market_copy)


def test_market_error_distractor_in_query(market_copy):
    (market_copy / "Market-1501-v15.09.15" / "query" / "0000_c1s1_000451_03.jpg").touch()
    with pytest.raises(DatasetError, match=r"query: 1 image\(s\) with pid 0 \(distractor\)"):
        load_split("market1501", market_copy)


# ---------------------------------------------------------------------------
# DukeMTMC-reID


@pytest.fixture(scope="module")
def duke(tmp_path_factory) -> Path:
    return write_dukemtmc(tmp_path_factory.mktemp("duke"), num_train_ids=5, num_test_ids=5, num_distractors=3,
                          image_size=(24, 48), seed=1)


def test_duke_rules(duke):
    base = duke / "DukeMTMC-reID"
    split = load_split("dukemtmc", duke)
    assert split.camera_rule and split.val.empty
    for df in (split.train, split.query, split.gallery):
        names = df["path"].str.rsplit("/", n=1).str[1]
        assert (df["camid"] == names.str.extract(r"_c(\d)_f")[0].astype(int) - 1).all()
        assert df["camid"].between(0, 7).all()
    # distractor identities: their own pids, gallery only, one camera each
    extra = set(split.gallery["pid"]) - set(split.query["pid"])
    assert len(extra) == 3 and not extra & set(split.train["pid"])
    assert (split.gallery[split.gallery["pid"].isin(extra)].groupby("pid")["camid"].nunique() == 1).all()
    assert len(split.gallery) == len(_files(base, "bounding_box_test"))
    assert sorted(split.train["label"].unique()) == list(range(5))


def test_duke_errors(duke, tmp_path):
    with pytest.raises(DatasetError, match=r"(?s)DukeMTMC-reID not found.*Expected layout:.*DukeMTMC-reID/.*"
                                           r"bounding_box_train/.*0001_c2_f0046182\.jpg.*DukeMTMC-reID_evaluation"):
        load_split("dukemtmc", tmp_path)
    shutil.copytree(duke, tmp_path / "r")
    (tmp_path / "r" / "DukeMTMC-reID" / "query" / "0001_c9_f0000001.jpg").touch()
    with pytest.raises(DatasetError, match=r"camera outside c1\.\.c8"):
        load_split("dukemtmc", tmp_path / "r")
    (tmp_path / "r" / "DukeMTMC-reID" / "query" / "0001_c9_f0000001.jpg").unlink()
    (tmp_path / "r" / "DukeMTMC-reID" / "query" / "-1_c1_f0000001.jpg").touch()
    with pytest.raises(DatasetError, match=r"does not match.*'-1_c1_f0000001\.jpg'"):
        load_split("dukemtmc", tmp_path / "r")


# ---------------------------------------------------------------------------
# MSMT17


@pytest.fixture(scope="module")
def msmt(tmp_path_factory) -> Path:
    return write_msmt17(tmp_path_factory.mktemp("msmt"), num_train_ids=6, num_test_ids=5, image_size=(24, 48), seed=4)


@pytest.fixture
def msmt_copy(msmt, tmp_path) -> Path:
    shutil.copytree(msmt, tmp_path / "root")
    return tmp_path / "root"


def _list(root: Path, name: str) -> list[tuple[str, int]]:
    lines = (root / "MSMT17_V1" / name).read_text().splitlines()
    return [(a, int(b)) for a, b in (line.split() for line in lines)]


def test_msmt_lists_and_cameras(msmt):
    split = load_split("msmt17", msmt)
    train, val = _list(msmt, "list_train.txt"), _list(msmt, "list_val.txt")
    query, gallery = _list(msmt, "list_query.txt"), _list(msmt, "list_gallery.txt")
    assert val  # the writer puts some training images in list_val
    # the val list joins training only when asked
    assert sorted(split.train["path"]) == sorted(f"MSMT17_V1/train/{p}" for p, _ in train)
    assert split.val.empty and split.info["combine_val"] is False
    combined = load_split("msmt17", msmt, combine_val=True)
    assert sorted(combined.train["path"]) == sorted(f"MSMT17_V1/train/{p}" for p, _ in train + val)
    assert combined.counts()["train_images"] == len(train) + len(val)
    assert sorted(combined.train["label"].unique()) == list(range(combined.num_classes))
    pd.testing.assert_frame_equal(combined.query, split.query)
    # pids: train as listed, test shifted; camid from the third '_' field
    assert set(split.train["pid"]) == {p for _, p in train}
    assert set(split.query["pid"]) == {MSMT17_TEST_PID_OFFSET + p for _, p in query}
    assert len(split.gallery) == len(gallery) and len(split.query) == len(query)
    for df in (split.train, split.query, split.gallery):
        assert (df["camid"] == df["path"].str.rsplit("/", n=1).str[1].str.split("_").str[2].astype(int) - 1).all()
        assert df["camid"].between(0, 14).all()
    assert all(p.is_file() for p in split.image_paths(split.gallery))


MSMT_TREE = r"Expected layout:\n.*MSMT17_V1/.*train/0000/.*test/0000/.*list_train\.txt.*list_gallery\.txt.*pkuvmc"


def test_msmt_errors(msmt_copy, tmp_path):
    with pytest.raises(DatasetError, match=r"(?s)MSMT17 not found.*" + MSMT_TREE):
        load_split("msmt17", tmp_path)
    with pytest.raises(DatasetError, match="combine_val='yes' is invalid"):
        load_split("msmt17", msmt_copy, combine_val="yes")
    base = msmt_copy / "MSMT17_V1"
    lst = (base / "list_gallery.txt").read_text()
    (base / "list_gallery.txt").unlink()
    with pytest.raises(DatasetError, match=r"(?s)MSMT17_V1 is incomplete: list_gallery\.txt missing.*" + MSMT_TREE):
        load_split("msmt17", msmt_copy)
    (base / "list_gallery.txt").write_text(lst + "0001/0001_000_16_0303noon_0001_0.jpg 1\nbroken line\n")
    with pytest.raises(DatasetError, match=r"2 malformed line\(s\).*line \d+: '0001/0001_000_16.*'broken line'"):
        load_split("msmt17", msmt_copy)
    (base / "list_gallery.txt").write_text(lst)
    first = _list(msmt_copy, "list_val.txt")[0][0]
    (base / "train" / first).unlink()
    with pytest.raises(DatasetError, match=rf"1 of \d+ image\(s\) listed in list_train\.txt and list_val\.txt are "
                                           rf"missing from .*train: {first}"):
        load_split("msmt17", msmt_copy)


# ---------------------------------------------------------------------------
# CUHK03 (new protocol): .mat parsing and extraction

CUHK = dict(persons_per_pair=(3, 2, 2, 1, 1), images_per_view=(2, 3), image_size=(24, 48), seed=5)


@pytest.fixture
def cuhk(tmp_path) -> Path:
    return write_cuhk03(tmp_path / "root", **CUHK)


def test_cuhk03_protocol_file(cuhk):
    sets = cuhk03.read_protocol(cuhk / "cuhk03" / "cuhk03_new_protocol_config_labeled.mat")
    assert set(sets) == {"train", "query", "gallery"}
    assert sets["train"]["pid"].nunique() == 5 and sets["query"]["pid"].nunique() == 4
    assert not set(sets["train"]["pid"]) & set(sets["gallery"]["pid"])
    q = sets["query"]
    assert (q.groupby("pid")["camid"].apply(sorted).map(tuple) == (0, 1)).all()  # one query per camera
    assert all(cuhk03.IMAGE_NAME.fullmatch(n) for df in sets.values() for n in df["name"])
    # camid = camId - 1 agrees with the view field of the name
    for df in sets.values():
        assert (df["camid"] == df["name"].str.split("_").str[2].astype(int) - 1).all()


def test_cuhk03_extraction(cuhk):
    base = cuhk / "cuhk03"
    assert not (base / "images_labeled").exists()
    split = load_split("cuhk03-l", cuhk)
    n = len(split.train) + len(split.query) + len(split.gallery)
    assert split.info["extracted_now"] == n == len(os.listdir(base / "images_labeled"))
    assert not [p for p in os.listdir(base) if p.endswith(".partial")]  # no temporary folder left
    assert split.camera_rule and split.num_classes == 5 and split.val.empty
    assert sorted(split.train["label"].unique()) == list(range(5))
    assert all(p.startswith("cuhk03/images_labeled/") for p in split.gallery["path"])
    # the PNG is the HDF5 image, transposed back (MATLAB v7.3 stores arrays transposed)
    name = split.query["path"].iloc[0].rsplit("/", 1)[1]
    pair, person, _, image = (int(x) for x in name[:-4].split("_"))
    with h5py.File(base / "cuhk-03.mat", "r") as f:
        camp = f[f["labeled"][0, pair - 1]][()]
        expected = f[camp[image - 1, person - 1]][()].T
    with Image.open(base / "images_labeled" / name) as im:
        assert im.format == "PNG"
        np.testing.assert_array_equal(np.asarray(im), expected)
    # idempotent: the second load writes nothing and touches nothing
    stamps = {p: p.stat().st_mtime_ns for p in (base / "images_labeled").iterdir()}
    again = load_split("cuhk03-l", cuhk)
    assert again.info["extracted_now"] == 0 and again.manifest() == split.manifest()
    assert {p: p.stat().st_mtime_ns for p in (base / "images_labeled").iterdir()} == stamps
    # a lost image is extracted again, alone
    (base / "images_labeled" / name).unlink()
    assert load_split("cuhk03-l", cuhk).info["extracted_now"] == 1
    assert (base / "images_labeled" / name).is_file()
    # once extracted, cuhk-03.mat is no longer needed
    (base / "cuhk-03.mat").rename(base / "moved.mat")
    assert load_split("cuhk03-l", cuhk).manifest() == split.manifest()
    (base / "images_labeled" / name).unlink()
    with pytest.raises(DatasetError, match=rf"(?s)1 of {n} CUHK03 images .* not in .*images_labeled .*{name}.*"
                                           r"no cuhk-03\.mat.*Expected layout"):
        load_split("cuhk03-l", cuhk)
    # torchreid's place for the raw file works too
    (base / "cuhk03_release").mkdir()
    (base / "moved.mat").rename(base / "cuhk03_release" / "cuhk-03.mat")
    assert load_split("cuhk03-l", cuhk).info["extracted_now"] == 1


def test_cuhk03_detected_boxes(cuhk):
    split = load_split("cuhk03-l", cuhk, boxes="detected")
    assert split.name == "cuhk03-d" and split.info["boxes"] == "detected"
    assert all(p.startswith("cuhk03/images_detected/") for p in split.train["path"])
    with pytest.raises(DatasetError, match="boxes='both' is invalid"):
        load_split("cuhk03-l", cuhk, boxes="both")


def test_cuhk03_extract_into_existing_folder(cuhk, tmp_path):
    base = cuhk / "cuhk03"
    (base / "images_labeled").mkdir()
    (base / "images_labeled" / "1_001_1_01.png").write_bytes(b"kept")  # present files are not rewritten
    split = load_split("cuhk03-l", cuhk)
    assert (base / "images_labeled" / "1_001_1_01.png").read_bytes() == b"kept"
    assert split.info["extracted_now"] == len(os.listdir(base / "images_labeled")) - 1


def _config(path: Path, **override) -> None:
    data = {"filelist": np.array([["1_001_1_01.png"], ["1_001_2_06.png"], ["1_002_1_01.png"], ["1_002_2_06.png"]],
                                 dtype=object),
            "labels": np.array([[1], [1], [2], [2]], float), "camId": np.array([[1], [2], [1], [2]], float),
            "train_idx": np.array([[1], [2]], float), "query_idx": np.array([[3]], float),
            "gallery_idx": np.array([[4]], float)}
    data.update(override)
    data = {k: v for k, v in data.items() if v is not None}
    path.parent.mkdir(parents=True, exist_ok=True)
    savemat(path, data)


@pytest.mark.parametrize("override, pattern", [
    (dict(gallery_idx=None), r"missing field\(s\) \['gallery_idx'\]"),
    (dict(query_idx=np.array([[5]], float)), r"'query_idx' has 1 value\(s\) outside 1\.\.4.*1-based"),
    (dict(query_idx=np.array([[4]], float)), r"'gallery_idx' and 'query_idx' share 1 image"),
    (dict(train_idx=np.array([[1], [3]], float), query_idx=np.array([[2]], float)),
     r"identit(y is|ies are) in both train and test"),
    (dict(camId=np.array([[1], [3], [1], [2]], float)), r"'camId' must be 1 or 2"),
    (dict(labels=np.array([[1], [2]], float)), r"'labels' has 2 entries but 'filelist' has 4"),
    (dict(filelist=np.array([["a.png"], ["b"], ["c"], ["d"]], dtype=object)), r"not <pair>_<person>_<view>_<image>"),
    (dict(train_idx=np.array([[1.5]], float)), r"'train_idx' holds non-integer values"),
])
def test_cuhk03_bad_protocol_file(tmp_path, override, pattern):
    _config(tmp_path / "cuhk03" / "cuhk03_new_protocol_config_labeled.mat", **override)
    with pytest.raises(DatasetError, match=pattern + r".*person-re-ranking"):
        load_split("cuhk03-l", tmp_path)


def test_cuhk03_layout_errors(tmp_path):
    with pytest.raises(DatasetError, match=r"(?s)no cuhk03/ directory.*Expected layout:\n.*cuhk03/\n.*"
                                           r"cuhk03_new_protocol_config_labeled\.mat.*cuhk-03\.mat.*images_labeled/"):
        load_split("cuhk03-l", tmp_path)
    (tmp_path / "cuhk03").mkdir()
    with pytest.raises(DatasetError, match=r"(?s)cuhk03_new_protocol_config_labeled\.mat does not exist.*"
                                           r"Expected layout.*CUHK_identification"):
        load_split("cuhk03-l", tmp_path)
    _config(tmp_path / "cuhk03" / "cuhk03_new_protocol_config_labeled.mat")
    (tmp_path / "cuhk03" / "cuhk-03.mat").write_bytes(b"MATLAB 5.0 MAT-file, not HDF5")
    with pytest.raises(DatasetError, match=r"cannot open .*cuhk-03\.mat as a MATLAB v7\.3 \(HDF5\) file"):
        load_split("cuhk03-l", tmp_path)


def test_cuhk03_empty_cell_named_by_protocol(cuhk):
    base = cuhk / "cuhk03"
    # person 1 of pair 5 has at most 3 images per view: cell 1_001_1_05 is empty in the writer's file
    _config(base / "cuhk03_new_protocol_config_labeled.mat",
            filelist=np.array([["5_001_1_05.png"], ["1_001_2_06.png"], ["1_002_1_01.png"], ["1_002_2_06.png"]],
                              dtype=object))
    with pytest.raises(DatasetError, match=r"labeled\{5\}\{1,5\} \(image '5_001_1_05\.png' of the protocol\) is empty"):
        load_split("cuhk03-l", cuhk)
    assert not [p for p in os.listdir(base) if p.endswith(".partial")]


# ---------------------------------------------------------------------------
# the synthetic writers


def test_writers_idempotent_refuse_foreign_and_rewrite(tmp_path):
    root = write_all(tmp_path / "all", seed=1, params={"11k": dict(num_subjects=4, image_size=(40, 32)),
                                                       "hd": dict(num_subjects=4, num_extra=2, image_size=(40, 32))})
    for name in BODY:
        assert load_split(name, root).counts()["query_images"] > 0
    bases = {"market1501": "Market-1501-v15.09.15", "dukemtmc": "DukeMTMC-reID", "cuhk03": "cuhk03",
             "msmt17": "MSMT17_V1"}
    stamps = {p: p.stat().st_mtime_ns for b in bases.values() for p in (root / b).rglob("*") if p.is_file()}
    write_all(root, seed=1, params={"11k": dict(num_subjects=4, image_size=(40, 32)),
                                    "hd": dict(num_subjects=4, num_extra=2, image_size=(40, 32))})
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps
    for writer, base in ((write_market1501, "Market-1501-v15.09.15"), (write_dukemtmc, "DukeMTMC-reID"),
                         (write_msmt17, "MSMT17_V1"), (write_cuhk03, "cuhk03")):
        record = json.loads((root / base / PARAMS_FILE).read_text())
        assert record["complete"] is True and record["params"]["seed"] == 1
        foreign = tmp_path / f"foreign_{base}"
        shutil.copytree(root / base, foreign / base)
        (foreign / base / PARAMS_FILE).unlink()
        with pytest.raises(FileExistsError, match="not written by handreid.data.synthetic"):
            writer(foreign)
    # other parameters: the tree is replaced, derived CUHK03 images included
    assert (root / "cuhk03" / "images_labeled").is_dir()
    write_cuhk03(root, persons_per_pair=(2, 1, 1, 1, 1), seed=1)
    assert not (root / "cuhk03" / "images_labeled").exists()
    assert load_split("cuhk03-l", root).counts()["train_ids"] == 3
    write_market1501(root, num_train_ids=3, num_test_ids=2, seed=1)
    assert load_split("market1501", root).counts()["train_ids"] == 3


def test_body_identity_signal(market):
    split = load_split("market1501", market)

    def feature(p):  # colour of the middle of the torso
        a = np.asarray(Image.open(p).convert("RGB"), np.float32)
        h, w = a.shape[:2]
        return np.median(a[int(h * .34):int(h * .45), int(w * .45):int(w * .55)].reshape(-1, 3), 0)

    feats = {pid: [feature(p) for p in split.image_paths(g)] for pid, g in split.train.groupby("pid")}
    within = np.mean([np.linalg.norm(f[0] - f[1]) for f in feats.values()])
    keys = list(feats)
    between = np.mean([np.linalg.norm(feats[a][0] - feats[b][0]) for i, a in enumerate(keys) for b in keys[:i]])
    assert within < 0.75 * between


@pytest.mark.parametrize("writer, kwargs", [
    (write_market1501, dict(num_train_ids=0)), (write_market1501, dict(images_per_camera=(1, 2))),
    (write_market1501, dict(cameras_per_id=(2, 7))), (write_dukemtmc, dict(cameras_per_id=(1, 2))),
    (write_msmt17, dict(val_fraction=0)), (write_cuhk03, dict(persons_per_pair=(1, 1, 1))),
    (write_cuhk03, dict(images_per_view=(1, 2))), (write_cuhk03, dict(num_train_ids=9, persons_per_pair=(2, 1, 1, 1, 1))),
])
def test_writers_bad_parameters(tmp_path, writer, kwargs):
    with pytest.raises(ValueError):
        writer(tmp_path, **kwargs)


def test_cli_dataset_option(tmp_path, capsys):
    assert main(["--out", str(tmp_path), "--dataset", "msmt17", "--seed", "2"]) == 0
    assert "msmt17 data ready" in capsys.readouterr().out
    assert load_split("msmt17", tmp_path).counts()["train_ids"] == 16
    assert set(WRITERS) == {"11k", "hd", "market1501", "dukemtmc", "cuhk03", "msmt17"}
