"""The 11k hand protocol: Table II on the real metadata, determinism, the loader and its errors."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from handreid.data import DATASETS, DatasetError, Split, load_split, table_ii_counts
from handreid.data import hands11k
from handreid.data.split import check_repeat, draw_key
from handreid.data.synthetic import write_11k

REPO = Path(__file__).resolve().parents[1]

NAMES = ("11k-dr", "11k-dl", "11k-pr", "11k-pl")

# LAGA-Net Table II (train images include the validation hold-out).
TABLE_II = {
    "dr": dict(train_ids=72, train_images=962, query_ids=71, query_images=971, gallery_ids=290, gallery_images=290),
    "dl": dict(train_ids=73, train_images=808, query_ids=73, query_images=988, gallery_ids=290, gallery_images=290),
    "pr": dict(train_ids=72, train_images=977, query_ids=71, query_images=917, gallery_ids=290, gallery_images=290),
    "pl": dict(train_ids=76, train_images=1004, query_ids=75, query_images=948, gallery_ids=290, gallery_images=290),
}
TEST_IDS = {"dr": 71, "dl": 73, "pr": 71, "pl": 75}  # GPA-Net §3.1: 71 + 73 + 71 + 75 = 290 gallery images

ASPECT_NUMBER_BY_VALUE = {hands11k.ASPECTS[c]: n for c, n in hands11k.ASPECT_NUMBER.items()}

PAIRS = [(0, 0), (1, 0), (9, 0), (4, 7)]


# ---------------------------------------------------------------------------
# real metadata (no images needed)


@pytest.fixture(scope="module")
def real_meta(real_csv) -> pd.DataFrame:
    return hands11k.read_metadata(real_csv)


@pytest.fixture(scope="module")
def real_parts(real_meta):
    return {(c, r, s): hands11k.protocol(real_meta, c, r, s) for c in hands11k.ASPECTS for r, s in PAIRS}


def _paths(df: pd.DataFrame) -> set[str]:
    return set(df["path"])


def test_table_ii_real_metadata(real_meta, real_parts):
    assert len(real_meta) == 11076
    for (code, repeat, seed), parts in real_parts.items():
        where = f"{code} repeat={repeat} seed={seed}"
        assert table_ii_counts(parts) == TABLE_II[code], where
        train, val, query, gallery = parts["train"], parts["val"], parts["query"], parts["gallery"]
        # one val image per training identity, and it is not in train
        assert len(val) == val["pid"].nunique() == TABLE_II[code]["train_ids"], where
        assert set(val["pid"]) == set(train["pid"]), where
        # labels contiguous 0..n-1 in identity order
        n = TABLE_II[code]["train_ids"]
        assert sorted(val["label"]) == list(range(n)), where
        assert (train.groupby("pid")["label"].first().sort_index().to_numpy() == range(n)).all(), where
        # subsets disjoint
        subsets = [train, val, query, gallery]
        for i in range(4):
            for j in range(i + 1, 4):
                assert not _paths(subsets[i]) & _paths(subsets[j]), where
        assert not set(train["pid"]) & set(query["pid"]), where
        # every query identity is in the gallery, with exactly one gallery image per test identity
        assert set(query["pid"]) <= set(gallery["pid"]), where
        assert gallery["pid"].is_unique, where
        for c, k in TEST_IDS.items():
            assert (gallery["aspect"] == hands11k.ASPECTS[c]).sum() == k, where
        # nothing with accessories
        assert set(real_meta.set_index("imageName").loc[
            [p.rsplit("/", 1)[1] for p in pd.concat(subsets)["path"]], "accessories"]) == {0}, where
        # pid rule: aspect number * 10**7 + subject, the aspect being the row's own
        for df in subsets:
            number = df["aspect"].map(ASPECT_NUMBER_BY_VALUE)
            assert (df["pid"] == number * 10_000_000 + df["subject"].astype(int)).all(), where
        assert set(pd.concat([train, val, query])["aspect"]) == {hands11k.ASPECTS[code]}, where
        assert (query["camid"] == 0).all() and (gallery["camid"] == 0).all()


def test_real_gallery_common_val_fixed_query_varies(real_parts):
    for repeat, seed in PAIRS:
        galleries = [real_parts[(c, repeat, seed)]["gallery"] for c in hands11k.ASPECTS]
        for g in galleries[1:]:
            pd.testing.assert_frame_equal(g, galleries[0])
    for code in hands11k.ASPECTS:
        a, b = real_parts[(code, 0, 0)], real_parts[(code, 1, 0)]
        pd.testing.assert_frame_equal(a["train"], b["train"])
        pd.testing.assert_frame_equal(a["val"], b["val"])
        assert _paths(a["gallery"]) != _paths(b["gallery"])
        assert _paths(a["query"]) != _paths(b["query"])
        # a different seed changes the validation draw
        assert _paths(real_parts[(code, 4, 7)]["val"]) != _paths(a["val"])


def test_real_left_and_right_hands_are_distinct_identities(real_parts):
    g = real_parts[("dr", 0, 0)]["gallery"]
    assert g["pid"].is_unique
    # the same subject appears under several aspects with different pids
    per_subject = g.groupby("subject")["pid"].nunique()
    assert (per_subject > 1).any()
    dr = real_parts[("dr", 0, 0)]
    others = g[g["aspect"] != "dorsal right"]
    assert not set(dr["query"]["pid"]) & set(others["pid"])


def test_real_whitespace_in_id_is_normalised(real_meta):
    # the shipped file has one D-r row with id "1200000 "; it belongs to subject 1200000
    assert real_meta["id"].str.fullmatch(r"\d{7}").all()
    dr = real_meta[(real_meta["aspectOfHand"] == "dorsal right") & (real_meta["accessories"] == 0)]
    assert dr["id"].nunique() == 143


def test_real_draw_is_pinned(real_parts):
    """The draws are a pure function of (seed, repeat, file names): pin them against silent change."""
    parts = real_parts[("dr", 0, 0)]
    digest = hashlib.sha256("\n".join(parts["gallery"]["path"]).encode()).hexdigest()
    val_digest = hashlib.sha256("\n".join(parts["val"]["path"]).encode()).hexdigest()
    assert digest == GALLERY_DR_0_0 and val_digest == VAL_DR_0_0


GALLERY_DR_0_0 = "1e9a99527d5e4239c690dde6ee883dc8d1bf3bf94a5bfaa77ef4687df5c39be7"
VAL_DR_0_0 = "d22fdaacc9b6ce2b0088927e51b72e12a9b97202bff1e9b225af4f26898bb2b8"


# ---------------------------------------------------------------------------
# protocol on hand-made metadata


def _meta(ids_per_aspect: dict[str, list], images: int = 3) -> pd.DataFrame:
    rows, k = [], 0
    for code, ids in ids_per_aspect.items():
        for sid in ids:
            for _ in range(images):
                k += 1
                rows.append(dict(id=sid, age=30, gender="female", skinColor="fair", accessories=0, nailPolish=0,
                                 aspectOfHand=hands11k.ASPECTS[code], imageName=f"Hand_{k:07d}.jpg", irregularities=0))
    return pd.DataFrame(rows, columns=hands11k.COLUMNS)


def test_numeric_order_first_half_rounded_up():
    ids = ["9", "100", "10", "2000", "11"]  # string order 10,100,11,2000,9 -- numeric order 9,10,11,100,2000
    meta = _meta({c: ids for c in hands11k.ASPECTS})
    parts = hands11k.protocol(meta, "dr")
    assert sorted(set(parts["train"]["subject"])) == ["0000009", "0000010", "0000011"]
    assert sorted(set(parts["query"]["subject"])) == ["0000100", "0002000"]
    assert list(parts["val"]["label"]) == [0, 1, 2]
    assert list(parts["val"]["subject"]) == ["0000009", "0000010", "0000011"]
    assert len(parts["gallery"]) == 4 * 2


def test_draw_depends_only_on_own_images():
    meta = _meta({c: list(range(1, 9)) for c in hands11k.ASPECTS}, images=5)
    base = hands11k.protocol(meta, "pl", repeat=3, seed=5)
    # shuffling the rows changes nothing
    shuffled = hands11k.protocol(meta.sample(frac=1.0, random_state=1), "pl", repeat=3, seed=5)
    for s in base:
        pd.testing.assert_frame_equal(base[s], shuffled[s])
    # dropping one test identity of D-r leaves every other gallery choice alone
    smaller = meta[~((meta["id"] == 8) & (meta["aspectOfHand"] == "dorsal right"))]
    g = hands11k.protocol(smaller, "pl", repeat=3, seed=5)["gallery"]
    assert _paths(g) == _paths(base["gallery"]) - _paths(base["gallery"][base["gallery"]["pid"] == 10_000_008])
    # the chosen image is the one with the smallest key
    one = meta[(meta["id"] == 8) & (meta["aspectOfHand"] == "palmar left")]
    best = min(one["imageName"], key=lambda n: draw_key(5, "gallery", n, 3))
    assert f"11k/Hands/{best}" in _paths(base["gallery"])


def test_accessories_dropped_and_aspect_without_identities():
    meta = _meta({c: [1, 2, 3] for c in hands11k.ASPECTS})
    meta.loc[meta["id"] == 1, "accessories"] = 1
    parts = hands11k.protocol(meta, "dl")
    assert "0000001" not in set(pd.concat(parts.values())["subject"])
    no_pl = meta[meta["aspectOfHand"] != "palmar left"]
    with pytest.raises(DatasetError, match="'palmar left' has 0 identities"):
        hands11k.protocol(no_pl, "dr")


@pytest.mark.parametrize("repeat", [-1, 10, 1.0, "0", True, None])
def test_bad_repeat(repeat):
    with pytest.raises(DatasetError, match="repeat"):
        hands11k.protocol(_meta({c: [1, 2] for c in hands11k.ASPECTS}), "dr", repeat=repeat)


def test_more_repeats_allowed_explicitly():
    assert check_repeat(12, num_repeats=20) == 12
    parts = hands11k.protocol(_meta({c: [1, 2] for c in hands11k.ASPECTS}), "dr", repeat=12, num_repeats=20)
    assert len(parts["gallery"]) == 4


@pytest.mark.parametrize("seed", [-1, 0.5, "1", None])
def test_bad_seed(seed):
    with pytest.raises(DatasetError, match="seed"):
        hands11k.protocol(_meta({c: [1, 2] for c in hands11k.ASPECTS}), "dr", seed=seed)


# ---------------------------------------------------------------------------
# loader on a synthetic tree


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    return write_11k(tmp_path_factory.mktemp("data"), num_subjects=10, images_per_aspect=(2, 4),
                     image_size=(48, 36), seed=3)


@pytest.fixture
def broken(tree, tmp_path) -> Path:
    """A private copy of the small tree, to break on purpose."""
    shutil.copytree(tree, tmp_path / "root")
    return tmp_path / "root"


def test_registry_names():
    assert set(NAMES) <= set(DATASETS)


def test_load_split_end_to_end(tree):
    splits = {n: load_split(n, root=tree, repeat=2, seed=1) for n in NAMES}
    for name, split in splits.items():
        assert isinstance(split, Split)
        assert (split.name, split.repeat, split.seed) == (name, 2, 1)
        assert split.root == tree.resolve() and split.root.is_absolute()
        assert split.camera_rule is False
        for sub, df in split.subsets().items():
            assert list(df.columns[:3]) == ["path", "pid", "camid"]
            assert df["pid"].dtype == "int64" and (df["camid"] == 0).all()
            assert all(p.startswith("11k/Hands/Hand_") and "\\" not in p for p in df["path"])
            paths = split.image_paths(df)
            assert all(p.is_absolute() and p.is_file() for p in paths)
            assert list(df.sort_values(["pid", "path"])["path"]) == list(df["path"])
        labels = pd.concat([split.train["label"], split.val["label"]])
        assert sorted(labels.unique()) == list(range(split.num_classes))
        assert split.num_classes == len(split.val) == split.train["pid"].nunique()
        assert "label" not in split.query and "label" not in split.gallery
        c = split.counts()
        assert c["train_images"] == len(split.train) + len(split.val)
        assert set(split.query["pid"]) <= set(split.gallery["pid"])
        pd.testing.assert_frame_equal(split.gallery, splits["11k-dr"].gallery)
    # case-insensitive names, str or Path roots
    assert load_split("11K-DR", root=str(tree), repeat=2, seed=1).manifest() == splits["11k-dr"].manifest()


def test_manifest_byte_identical_and_repeat_sensitive(tree):
    a = load_split("11k-pr", root=tree, repeat=3, seed=0).manifest()
    b = load_split("11k-pr", root=tree, repeat=3, seed=0).manifest()
    assert a == b
    header = "subset,path,pid,camid,label,subject,aspect,age,gender,skinColor,nailPolish,irregularities"
    assert a.splitlines()[0] == header
    assert {line.split(",", 1)[0] for line in a.splitlines()[1:]} == {"train", "val", "query", "gallery"}
    assert "\r" not in a and ".0," not in a
    assert load_split("11k-pr", root=tree, repeat=4, seed=0).manifest() != a
    assert load_split("11k-pr", root=tree, repeat=3, seed=1).manifest() != a
    code = (
        "import sys; from handreid.data import load_split; "
        "sys.stdout.write(load_split('11k-pr', root=sys.argv[1], repeat=3, seed=0).manifest())"
    )
    env = {**os.environ, "PYTHONHASHSEED": "4242" if os.environ.get("PYTHONHASHSEED") != "4242" else "7"}
    out = subprocess.run([sys.executable, "-c", code, str(tree)], capture_output=True, env=env, cwd=REPO, check=True)
    assert out.stdout.decode("utf-8") == a


# ---------------------------------------------------------------------------
# errors


def _csv(root: Path) -> Path:
    return root / "11k" / "HandInfo.csv"


def test_error_root_missing(tmp_path):
    with pytest.raises(DatasetError, match=r"data root .*nowhere does not exist.*11khands"):
        load_split("11k-dr", root=tmp_path / "nowhere")


def test_error_root_is_a_file(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(DatasetError, match="is not a directory"):
        load_split("11k-dr", root=tmp_path / "f")


def test_error_no_11k_dir(tmp_path):
    with pytest.raises(DatasetError, match=r"no 11k/ directory.*HandInfo\.csv"):
        load_split("11k-dr", root=tmp_path)


def test_error_handinfo_missing(broken):
    _csv(broken).unlink()
    with pytest.raises(DatasetError, match=r"HandInfo\.csv does not exist.*sites\.google\.com/view/11khands"):
        load_split("11k-dr", root=broken)


def test_error_hands_dir_missing(broken):
    shutil.rmtree(broken / "11k" / "Hands")
    with pytest.raises(DatasetError, match=r"Hands does not exist.*unpack"):
        load_split("11k-dr", root=broken)


def test_error_renamed_column(broken):
    text = _csv(broken).read_text(encoding="utf-8")
    _csv(broken).write_text(text.replace("aspectOfHand", "aspect", 1).replace("imageName", "image", 1),
                            encoding="utf-8", newline="")
    with pytest.raises(DatasetError, match=r"missing column\(s\) \['aspectOfHand', 'imageName'\].*"
                                           r"id,age,gender,skinColor,accessories,nailPolish,aspectOfHand,imageName,"
                                           r"irregularities"):
        load_split("11k-dr", root=broken)


def test_error_missing_images(broken):
    names = hands11k.read_metadata(_csv(broken))["imageName"]
    (broken / "11k" / "Hands" / names.iloc[5]).unlink()
    with pytest.raises(DatasetError, match=rf"1 of {len(names)} image\(s\).*{names.iloc[5]}"):
        load_split("11k-pl", root=broken)
    for n in names.iloc[6:13]:
        (broken / "11k" / "Hands" / n).unlink()
    with pytest.raises(DatasetError, match=rf"8 of {len(names)} image\(s\) .* and 3 more"):
        load_split("11k-pl", root=broken)


def test_error_bad_metadata_values(broken):
    text = _csv(broken).read_text(encoding="utf-8")
    _csv(broken).write_text(text.replace('"dorsal left"', '"dorsal lft"', 1), encoding="utf-8", newline="")
    with pytest.raises(DatasetError, match=r"aspectOfHand.*line \d+: 'dorsal lft'"):
        load_split("11k-dr", root=broken)


def test_error_aspect_without_identities(broken):
    lines = _csv(broken).read_text(encoding="utf-8").splitlines(keepends=True)
    _csv(broken).write_text("".join(l for l in lines if '"palmar right"' not in l), encoding="utf-8", newline="")
    with pytest.raises(DatasetError, match="'palmar right' has 0 identities"):
        load_split("11k-dr", root=broken)


def test_error_unknown_name(tree):
    known = r"Known names: 11k-dl, 11k-dr, 11k-pl, 11k-pr, cuhk03-l, dukemtmc, hd, market1501, msmt17"
    with pytest.raises(DatasetError, match=rf"unknown dataset name '11k-xx'.*{known}"):
        load_split("11k-xx", root=tree)
    with pytest.raises(DatasetError, match=r"(?s)no HD/ directory.*knuckleV2"):
        load_split("hd", root=tree)


@pytest.mark.parametrize("repeat", [-1, 10, 2.5])
def test_error_bad_repeat_in_loader(tree, repeat):
    with pytest.raises(DatasetError, match=rf"repeat={repeat}"):
        load_split("11k-dr", root=tree, repeat=repeat)


def test_error_bad_seed_in_loader(tree):
    with pytest.raises(DatasetError, match=r"seed=-3 is invalid.*non-negative int"):
        load_split("11k-dr", root=tree, seed=-3)


def test_metadata_read_again_is_not_parsed_again_but_a_changed_file_is(tmp_path):
    """A training and its 10 evaluation repeats read HandInfo.csv 11 times: parsed once per content."""
    from handreid.data import hands11k
    from handreid.data.synthetic import write_11k

    root = write_11k(tmp_path, num_subjects=6, images_per_aspect=(2, 3), image_size=(48, 36), seed=1)
    csv = root / "11k" / "HandInfo.csv"
    first = hands11k.read_metadata(csv)
    first.loc[0, "age"] = -1                                    # the caller's copy, not the cache's
    again = hands11k.read_metadata(csv)
    assert again.loc[0, "age"] != -1
    split_a = load_split("11k-dr", root, repeat=3, seed=0)
    split_a.query.loc[split_a.query.index[0], "path"] = "changed"  # likewise for a split's frames
    split_b = load_split("11k-dr", root, repeat=3, seed=0)
    assert "changed" not in set(split_b.query["path"])
    text = csv.read_text()
    age = text.splitlines()[1].split(",")[1]
    swapped = text.replace("\n" + text.splitlines()[1], "\n" + text.splitlines()[1].replace(f",{age},", ",99,", 1), 1)
    csv.write_text(swapped)                                     # same path, other content
    assert hands11k.read_metadata(csv).loc[0, "age"] == 99
    csv.write_text(text.replace("dorsal right", "dorsal up", 1))  # and a damaged one still fails
    with pytest.raises(DatasetError, match="aspectOfHand"):
        hands11k.read_metadata(csv)
