"""handreid.data.synthetic writes 11k trees in the real on-disk format."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import REAL_CSV
from handreid.data import hands11k, load_split
from handreid.data.synthetic import PARAMS_FILE, main, write_11k

HEADER = "id,age,gender,skinColor,accessories,nailPolish,aspectOfHand,imageName,irregularities"
ROW = re.compile(
    r'"\d{7}",\d+,"(male|female)","(very fair|fair|medium|dark)",[01],[01],'
    r'"(dorsal right|dorsal left|palmar right|palmar left)","Hand_\d{7}\.jpg",[01]'
)
SMALL = dict(num_subjects=12, images_per_aspect=(2, 5), image_size=(64, 48), accessory_fraction=0.15, seed=1)


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    return write_11k(tmp_path_factory.mktemp("syn") / "root", **SMALL)


def _lines(root: Path) -> list[str]:
    raw = (root / "11k" / "HandInfo.csv").read_bytes()
    assert raw.endswith(b"\r\n") and raw.count(b"\r\n") == raw.count(b"\n")  # CRLF like the shipped file
    return raw.decode("utf-8").split("\r\n")[:-1]


def test_csv_format_matches_real_file(tree):
    lines = _lines(tree)
    assert lines[0] == HEADER
    if REAL_CSV.is_file():
        real = REAL_CSV.read_bytes().split(b"\r\n")
        assert real[0].decode() == HEADER and ROW.fullmatch(real[1].decode())
    assert all(ROW.fullmatch(line) for line in lines[1:]), [l for l in lines[1:] if not ROW.fullmatch(l)][:3]
    meta = hands11k.read_metadata(tree / "11k" / "HandInfo.csv")
    assert list(meta.columns) == list(hands11k.COLUMNS)


def test_subjects_like_real_data(tree):
    meta = hands11k.read_metadata(tree / "11k" / "HandInfo.csv")
    ids = sorted(meta["id"].unique(), key=int)
    assert len(ids) == SMALL["num_subjects"]
    assert any(int(b) - int(a) > 1 for a, b in zip(ids, ids[1:]))  # not contiguous
    first_seen = list(dict.fromkeys(meta["id"]))
    assert first_seen != ids  # capture order is not id order
    aspects = meta.groupby("id")["aspectOfHand"].nunique()
    assert (aspects < 4).any() and (aspects >= 1).all()  # not every subject has every aspect
    numbers = meta["imageName"].str[5:12].astype(int)
    assert numbers.is_monotonic_increasing and numbers.is_unique
    assert (meta["accessories"] == 1).any()
    clean = meta[meta["accessories"] == 0].groupby(["id", "aspectOfHand"]).size()
    assert clean.min() >= 2
    per_aspect = meta.groupby(["id", "aspectOfHand"]).size()
    assert 2 <= per_aspect.min() and per_aspect.max() <= 5


def test_images_decode_at_requested_size(tree):
    meta = hands11k.read_metadata(tree / "11k" / "HandInfo.csv")
    hands = tree / "11k" / "Hands"
    assert sorted(p.name for p in hands.iterdir()) == sorted(meta["imageName"])
    for name in meta["imageName"]:
        assert re.fullmatch(r"Hand_\d{7}\.jpg", name)
        with Image.open(hands / name) as im:
            assert im.format == "JPEG" and im.mode == "RGB" and im.size == SMALL["image_size"]


def test_identity_signal(tree):
    """Images of one identity are alike but not identical, and closer to each other than to others."""
    meta = hands11k.read_metadata(tree / "11k" / "HandInfo.csv")
    clean = meta[meta["accessories"] == 0]
    hands = tree / "11k" / "Hands"

    def feature(name):  # mean colour of the hand pixels relative to the background
        a = np.asarray(Image.open(hands / name), np.float32)
        bg = np.median(np.concatenate([a[0], a[:, 0], a[:, -1]]), axis=0)
        mask = np.abs(a - bg).sum(-1) > 60
        return a[mask].mean(0) / bg

    groups = [g["imageName"].tolist() for _, g in clean.groupby(["id", "aspectOfHand"])]
    feats = [[feature(n) for n in g] for g in groups]
    pixels = [np.asarray(Image.open(hands / g[0]), np.float32) for g in groups[:3]]
    other = [np.asarray(Image.open(hands / g[1]), np.float32) for g in groups[:3]]
    assert all(np.abs(p - o).mean() > 2 for p, o in zip(pixels, other))  # not identical
    within = np.mean([np.linalg.norm(f[0] - f[1]) for f in feats])
    between = np.mean([np.linalg.norm(feats[i][0] - feats[j][0]) for i in range(len(feats)) for j in range(i)])
    assert within < 0.75 * between  # colour alone; geometry and marks add more (a small CNN learns them)


def test_loads_end_to_end(tree):
    for name in ("11k-dr", "11k-dl", "11k-pr", "11k-pl"):
        split = load_split(name, root=tree)
        assert split.num_classes >= 1 and len(split.query) > 0
        assert all(p.is_file() for p in split.image_paths(split.gallery))


def test_rerun_is_idempotent(tree, capsys):
    csv_path = tree / "11k" / "HandInfo.csv"
    images = sorted((tree / "11k" / "Hands").iterdir())
    before = {p: p.stat().st_mtime_ns for p in [csv_path, *images]}
    assert write_11k(tree, **SMALL) == tree
    assert {p: p.stat().st_mtime_ns for p in [csv_path, *images]} == before
    record = json.loads((tree / "11k" / PARAMS_FILE).read_text())
    assert record["complete"] is True and record["params"]["seed"] == SMALL["seed"]
    assert record["num_images"] == len(images)
    argv = ["--out", str(tree), "--subjects", "12", "--seed", "1", "--images-per-aspect", "2", "5",
            "--size", "64", "48", "--accessory-fraction", "0.15"]
    assert main(argv) == 0
    assert "skipped" in capsys.readouterr().out
    assert {p: p.stat().st_mtime_ns for p in [csv_path, *images]} == before


def test_deterministic_and_parameter_change_rewrites(tmp_path):
    params = dict(SMALL, num_subjects=4, image_size=(40, 32))
    a, b = write_11k(tmp_path / "a", **params), write_11k(tmp_path / "b", **params)
    assert (a / "11k/HandInfo.csv").read_bytes() == (b / "11k/HandInfo.csv").read_bytes()
    first = (a / "11k/HandInfo.csv").read_bytes()
    write_11k(tmp_path / "a", **dict(params, seed=2))
    assert (a / "11k/HandInfo.csv").read_bytes() != first
    listed = set(hands11k.read_metadata(a / "11k/HandInfo.csv")["imageName"])
    assert {p.name for p in (a / "11k/Hands").iterdir()} == listed  # stale images removed


def test_cli_writes_tree(tmp_path, capsys):
    assert main(["--out", str(tmp_path), "--subjects", "3", "--seed", "5", "--size", "40", "32"]) == 0
    assert "wrote HandInfo.csv" in capsys.readouterr().out
    assert len(hands11k.read_metadata(tmp_path / "11k/HandInfo.csv")) > 0
    assert main(["--out", str(tmp_path), "--subjects", "1"]) == 2
    assert "num_subjects" in capsys.readouterr().err


def test_refuses_to_overwrite_a_foreign_tree(tmp_path):
    (tmp_path / "11k" / "Hands").mkdir(parents=True)
    (tmp_path / "11k" / "HandInfo.csv").write_text(HEADER + "\r\n")
    with pytest.raises(FileExistsError, match="not written by handreid.data.synthetic"):
        write_11k(tmp_path, num_subjects=3)


@pytest.mark.parametrize(
    "kwargs",
    [dict(num_subjects=1), dict(images_per_aspect=(1, 3)), dict(images_per_aspect=(5, 3)),
     dict(image_size=(8, 8)), dict(accessory_fraction=1.0), dict(seed=-1)],
)
def test_bad_parameters(tmp_path, kwargs):
    with pytest.raises(ValueError):
        write_11k(tmp_path, **kwargs)
