"""The HD protocol: Table II on an HD-shaped tree, layout variants, the pid rule, draws, errors, the writer."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from conftest import touch_files as _touch
from handreid.data import DATASETS, DatasetError, dataset_repeats, hd, load_split, table_ii_counts
from handreid.data.datasets import kind_of
from handreid.data.split import draw_key
from handreid.data.synthetic import PARAMS_FILE, write_11k, write_hd

# LAGA-Net Table II, HD column (train images include the validation hold-out).
TABLE_II_HD = dict(train_ids=251, train_images=2407, query_ids=251, query_images=1992,
                   gallery_ids=464, gallery_images=1593)
URL = r"www4\.comp\.polyu\.edu\.hk/~csajaykr/knuckleV2\.htm"
IMAGES = "HD/Original Images"


def _ext(sid: int, k: int) -> str:
    return (".jpg", ".JPG", ".jpg", ".jpeg", ".jpg")[(sid + k) % 5]


@pytest.fixture(scope="module")
def table_tree(tmp_path_factory) -> Path:
    """An HD-shaped tree of *empty* files whose counts add up to Table II.

    Main folder: 502 identities numbered 1..503 without 300 (not contiguous; their string order
    differs from the numeric one). The first 251 in numeric order have 2,407 images (148 x 10 +
    103 x 9), the other 251 have 2,243 (235 x 9 + 16 x 8) = 1,992 query + 251 gallery.
    Extra folder: 213 subjects numbered 502..714 (two numbers shared with the main folder) with
    1,342 images (64 x 7 + 149 x 6). Extensions mix .jpg, .JPG and .jpeg.
    """
    root = tmp_path_factory.mktemp("hd_table")
    main_ids = [i for i in range(1, 504) if i != 300]
    assert len(main_ids) == 502
    rng = np.random.default_rng(0)
    train_counts = rng.permutation([10] * 148 + [9] * 103)
    test_counts = rng.permutation([9] * 235 + [8] * 16)
    counts = dict(zip(main_ids, [*train_counts, *test_counts]))
    _touch(root / IMAGES / "1-501", [f"{s}_{k}{_ext(s, k)}" for s, n in counts.items() for k in range(1, n + 1)])
    extra = dict(zip(range(502, 715), rng.permutation([7] * 64 + [6] * 149)))
    _touch(root / IMAGES / "502-712", [f"{s}_{k}{_ext(s, k)}" for s, n in extra.items() for k in range(1, n + 1)])
    (root / IMAGES / "1-501" / "Thumbs.db").touch()  # the OS's own files are ignored
    return root


@pytest.fixture(scope="module")
def table_splits(table_tree):
    return {(r, s): load_split("hd", root=table_tree, repeat=r, seed=s) for r, s in [(0, 0), (1, 0), (9, 0), (4, 7)]}


def test_registered():
    assert "hd" in DATASETS and kind_of("hd") == "hand"
    assert dataset_repeats("hd") == 10


def test_table_ii_counts(table_splits):
    for (repeat, seed), split in table_splits.items():
        assert split.counts() == TABLE_II_HD, (repeat, seed)
        assert table_ii_counts(split) == TABLE_II_HD
        assert split.num_classes == 251 and len(split.val) == 251
        assert split.camera_rule is False


def test_protocol_rules(table_splits):
    split = table_splits[(0, 0)]
    train, val, query, gallery = split.train, split.val, split.query, split.gallery
    # first half in numeric order trains: 1..251
    assert sorted(set(train["subject"])) == list(range(1, 252))
    assert sorted(set(query["subject"])) == [i for i in range(252, 504) if i != 300]
    # labels contiguous in identity order, one val image per training identity
    assert list(val["label"]) == list(range(251))
    assert (train.groupby("pid")["label"].first().to_numpy() == np.arange(251)).all()
    assert set(val["pid"]) == set(train["pid"])
    # one gallery image per test identity, plus every image of the extra subjects
    main_g = gallery[gallery["folder"] == "1-501"]
    extra_g = gallery[gallery["folder"] == "502-712"]
    assert main_g["pid"].is_unique and set(main_g["pid"]) == set(query["pid"])
    assert len(extra_g) == 1342 and extra_g["subject"].nunique() == 213
    # distinct pids: the extra subjects 502 and 503 are not the main subjects 502 and 503
    assert (extra_g["pid"] == hd.EXTRA_PID_OFFSET + extra_g["subject"]).all()
    assert (main_g["pid"] == main_g["subject"]).all()
    assert {502, 503} <= set(query["subject"]) and {502, 503} <= set(extra_g["subject"])
    assert not set(extra_g["pid"]) & (set(query["pid"]) | set(train["pid"]))
    # extra subjects only in the gallery; subsets disjoint; single camera
    for df in (train, val, query):
        assert (df["folder"] == "1-501").all()
    paths = [set(df["path"]) for df in (train, val, query, gallery)]
    assert sum(len(p) for p in paths) == len(set().union(*paths)) == 2407 + 1992 + 1593
    for df in split.subsets().values():
        assert (df["camid"] == 0).all() and df["pid"].dtype == "int64"
        assert all(p.startswith("HD/Original Images/") for p in df["path"])
        assert list(df.columns[:3]) == ["path", "pid", "camid"]


def test_draws_train_val_stable_gallery_varies(table_splits):
    a, b, c = table_splits[(0, 0)], table_splits[(1, 0)], table_splits[(4, 7)]
    pd.testing.assert_frame_equal(a.train, b.train)
    pd.testing.assert_frame_equal(a.val, b.val)
    assert set(a.gallery["path"]) != set(b.gallery["path"])
    assert set(a.query["path"]) != set(b.query["path"])
    assert set(a.val["path"]) != set(c.val["path"])  # another seed, another validation draw
    # the extra subjects are the same in every repeat
    extra = [set(s.gallery.loc[s.gallery["folder"] == "502-712", "path"]) for s in (a, b, c)]
    assert extra[0] == extra[1] == extra[2]
    # the drawn image is the one with the smallest key of its canonical stem <id>_<k>
    one = a.query[a.query["subject"] == 400]
    drawn = a.gallery[(a.gallery["subject"] == 400) & (a.gallery["folder"] == "1-501")]
    stems = [p.rsplit("/", 1)[1].split(".")[0] for p in [*one["path"], *drawn["path"]]]
    assert drawn["path"].iloc[0].rsplit("/", 1)[1].split(".")[0] == min(stems, key=lambda s: draw_key(0, "gallery", s, 0))


def test_load_does_not_decode(table_tree, table_splits):
    # every file of the Table II tree is empty: loading worked without opening an image
    split = table_splits[(0, 0)]
    assert all(p.stat().st_size == 0 for p in split.image_paths(split.gallery.head(20)))


# ---------------------------------------------------------------------------
# layout variants


def _small(root: Path, ext=lambda s, k: ".jpg", images=IMAGES, extra_ids=range(9, 13)) -> Path:
    _touch(root / images / "1-501", [f"{s}_{k}{ext(s, k)}" for s in range(1, 10) for k in range(1, 5)])
    _touch(root / images / "502-712", [f"{s}_{k}{ext(s, k)}" for s in extra_ids for k in range(1, 3)])
    return root


def _stems(df: pd.DataFrame) -> list[tuple[int, int]]:
    return sorted(zip(df["subject"], df["path"].str.rsplit("/", n=1).str[1].str.split(".").str[0]))


def test_extension_case_does_not_change_the_split(tmp_path):
    lower = load_split("hd", _small(tmp_path / "a"), repeat=3, seed=2)
    upper = load_split("hd", _small(tmp_path / "b", ext=lambda s, k: ".JPG" if (s + k) % 2 else ".jpeg"),
                       repeat=3, seed=2)
    assert any(p.endswith(".JPG") for p in upper.query["path"]) and any(p.endswith(".jpeg") for p in upper.gallery["path"])
    for sub in ("train", "val", "query", "gallery"):
        assert _stems(getattr(lower, sub)) == _stems(getattr(upper, sub)), sub
    assert lower.counts() == upper.counts() == dict(train_ids=5, train_images=20, query_ids=4, query_images=12,
                                                   gallery_ids=8, gallery_images=12)
    assert all(p.is_file() for p in upper.image_paths(upper.query))


def test_original_images_underscore_spelling(tmp_path):
    spaced = load_split("hd", _small(tmp_path / "a"), repeat=1)
    under = load_split("hd", _small(tmp_path / "b", images="HD/Original_Images"), repeat=1)
    assert all(p.startswith("HD/Original_Images/") for p in under.gallery["path"])
    assert list(under.query["path"].str.replace("Original_Images", "Original Images")) == list(spaced.query["path"])
    assert under.manifest().replace("Original_Images", "Original Images") == spaced.manifest()


def test_shared_root_with_11k(tmp_path):
    """Cross-domain (GPA-Net Table 2): 11k and HD side by side under one DATA_ROOT."""
    root = write_11k(tmp_path, num_subjects=6, images_per_aspect=(2, 3), image_size=(40, 32), seed=1)
    write_hd(root, num_subjects=6, num_extra=2, images_per_subject=(2, 3), image_size=(40, 32), seed=1)
    a, b = load_split("11k-dr", root), load_split("hd", root)
    assert a.root == b.root
    assert not set(pd.concat([a.query, a.gallery])["pid"]) & set(pd.concat([b.query, b.gallery])["pid"])
    for split in (a, b):
        assert all(p.is_file() for p in split.image_paths(split.gallery))


def test_num_repeats_option(tmp_path):
    root = _small(tmp_path)
    with pytest.raises(DatasetError, match="repeat=10 is out of range"):
        load_split("hd", root, repeat=10)
    assert load_split("hd", root, repeat=12, num_repeats=20).repeat == 12


# ---------------------------------------------------------------------------
# errors


def test_error_root_missing(tmp_path):
    with pytest.raises(DatasetError, match=rf"(?s)data root .*nowhere does not exist.*Original Images/.*1-501/.*{URL}"):
        load_split("hd", tmp_path / "nowhere")


def test_error_no_hd_dir(tmp_path):
    with pytest.raises(DatasetError, match=rf"(?s)no HD/ directory.*Expected layout:.*502-712/.*{URL}"):
        load_split("hd", tmp_path)


def test_error_no_images_folder(tmp_path):
    (tmp_path / "HD" / "Images").mkdir(parents=True)
    with pytest.raises(DatasetError, match=r"(?s)has no 'Original Images' or 'Original_Images' folder.*found: \['Images'\]"):
        load_split("hd", tmp_path)


@pytest.mark.parametrize("folder", ["1-501", "502-712"])
def test_error_missing_subfolder(tmp_path, folder):
    root = _small(tmp_path)
    shutil.rmtree(root / IMAGES / folder)
    with pytest.raises(DatasetError, match=rf"(?s)HD image folder .*{folder} does not exist.*Expected layout.*{URL}"):
        load_split("hd", root)


def test_error_empty_folder(tmp_path):
    root = _small(tmp_path)
    for p in (root / IMAGES / "502-712").iterdir():
        p.unlink()
    with pytest.raises(DatasetError, match=r"502-712 holds no <id>_<k>\.jpg images"):
        load_split("hd", root)


@pytest.mark.parametrize("bad", ["abc.jpg", "1-2.jpg", "3_1.png", "3_1.jpg.bak", "3_x.jpg", "notes.txt"])
def test_error_bad_file_name(tmp_path, bad):
    root = _small(tmp_path)
    (root / IMAGES / "1-501" / bad).touch()
    with pytest.raises(DatasetError, match=rf"(?s)1 entry does not match .*<id>_<k>\.jpg.*'{bad}'.*{URL}"):
        load_split("hd", root)


def test_error_subdirectory_and_many_bad_names(tmp_path):
    root = _small(tmp_path)
    (root / IMAGES / "502-712" / "extra").mkdir()
    for i in range(6):
        (root / IMAGES / "502-712" / f"img{i}.jpg").touch()
    with pytest.raises(DatasetError, match=r"7 entries do not match.*'extra/'.* and 2 more"):
        load_split("hd", root)


def test_error_duplicate_image(tmp_path):
    root = _small(tmp_path)
    (root / IMAGES / "1-501" / "3_1.JPG").touch()
    with pytest.raises(DatasetError, match=r"2 files name the same \(id, image number\) pair: 3_1\.JPG, 3_1\.jpg"):
        load_split("hd", root)


def test_error_too_few_identities(tmp_path):
    root = tmp_path
    _touch(root / IMAGES / "1-501", ["1_1.jpg", "1_2.jpg"])
    _touch(root / IMAGES / "502-712", ["5_1.jpg"])
    with pytest.raises(DatasetError, match="has 1 identity; the protocol needs at least 2"):
        load_split("hd", root)


@pytest.mark.parametrize("kwargs, pattern", [(dict(repeat=-1), "repeat=-1"), (dict(repeat=1.0), "repeat=1.0"),
                                             (dict(seed=-2), "seed=-2"), (dict(seed="1"), "seed='1'")])
def test_error_bad_arguments(tmp_path, kwargs, pattern):
    with pytest.raises(DatasetError, match=pattern):
        load_split("hd", _small(tmp_path), **kwargs)


# ---------------------------------------------------------------------------
# the synthetic writer

SMALL = dict(num_subjects=8, num_extra=3, images_per_subject=(2, 4), image_size=(48, 36), seed=2)


@pytest.fixture(scope="module")
def syn(tmp_path_factory) -> Path:
    return write_hd(tmp_path_factory.mktemp("hd_syn"), **SMALL)


def test_writer_format_and_load(syn):
    main = sorted(os.listdir(syn / IMAGES / "1-501"))
    extra = sorted(os.listdir(syn / IMAGES / "502-712"))
    assert {n.split("_")[0] for n in main} == {str(i) for i in range(1, 9)}
    assert {n.split("_")[0] for n in extra} == {"8", "9", "10"}
    assert {os.path.splitext(n)[1] for n in main + extra} <= {".jpg", ".JPG"}
    for n in main[:5]:
        with Image.open(syn / IMAGES / "1-501" / n) as im:
            assert im.format == "JPEG" and im.size == (48, 36)
    split = load_split("hd", syn, repeat=0, seed=0)
    assert split.num_classes == 4 and split.counts()["gallery_ids"] == 4 + 3
    assert all(p.is_file() for p in split.image_paths(split.gallery))


def test_writer_identity_signal(syn):
    split = load_split("hd", syn)
    df = pd.concat([split.train, split.val])

    def feature(p):
        a = np.asarray(Image.open(p).convert("RGB"), np.float32)
        bg = np.median(np.concatenate([a[0], a[:, 0], a[:, -1]]), axis=0)
        return a[np.abs(a - bg).sum(-1) > 60].mean(0) / bg

    feats = {pid: [feature(p) for p in split.image_paths(g)] for pid, g in df.groupby("pid")}
    within = np.mean([np.linalg.norm(f[0] - f[1]) for f in feats.values()])
    keys = list(feats)
    between = np.mean([np.linalg.norm(feats[a][0] - feats[b][0]) for i, a in enumerate(keys) for b in keys[:i]])
    assert within < 0.75 * between


def test_writer_idempotent_and_rewrites(syn, tmp_path):
    files = sorted((syn / IMAGES).rglob("*.*"))
    before = {p: p.stat().st_mtime_ns for p in files}
    assert write_hd(syn, **SMALL) == syn
    assert {p: p.stat().st_mtime_ns for p in files} == before
    record = json.loads((syn / "HD" / PARAMS_FILE).read_text())
    assert record["complete"] is True and record["params"]["num_subjects"] == 8
    other = write_hd(tmp_path, **SMALL)
    write_hd(other, **dict(SMALL, num_subjects=5))
    assert {n.split("_")[0] for n in os.listdir(other / IMAGES / "1-501")} == {"1", "2", "3", "4", "5"}


def test_writer_refuses_foreign_tree(tmp_path):
    _small(tmp_path)
    with pytest.raises(FileExistsError, match="not written by handreid.data.synthetic"):
        write_hd(tmp_path)


@pytest.mark.parametrize("kwargs", [dict(num_subjects=1), dict(num_extra=0), dict(images_per_subject=(1, 3)),
                                    dict(image_size=(8, 8)), dict(seed=-1)])
def test_writer_bad_parameters(tmp_path, kwargs):
    with pytest.raises(ValueError):
        write_hd(tmp_path, **kwargs)


def test_statistics_table_flags_agreement_with_table_ii(table_tree, tmp_path):
    from handreid.data.overview import statistics_table
    from handreid.data.synthetic import write_11k

    hd = statistics_table(table_tree, ["hd"])
    assert list(hd["subset"]) == ["train", "query", "gallery"]
    assert list(hd["images"]) == [2407, 1992, 1593] and list(hd["ids"]) == [251, 251, 464]
    assert set(hd["check"]) == {"matches paper"}
    small = write_11k(tmp_path / "syn", num_subjects=12, images_per_aspect=(3, 4), image_size=(48, 36))
    t = statistics_table(small, ["11k-dr", "market1501"])
    dr = t[t["dataset"] == "11k-dr"]
    assert set(dr["check"]) == {"DIFFERS from paper"} and list(dr["images (paper)"]) == [962, 971, 290]
    market = t[t["dataset"] == "market1501"]
    assert market["check"].str.startswith("not loaded:").all() and market["images"].isna().all()
    assert list(market["cameras (paper)"]) == [6, 6, 6]
