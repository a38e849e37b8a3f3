"""Synthetic Market-1501, DukeMTMC-reID and MSMT17_V1 trees (docs/DESIGN.md §1), pedestrians by
:mod:`.persons`, folder, list and file names as :mod:`handreid.data.body` reads them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..body import BBOX_SUBDIRS, DUKE_DIRNAMES, MARKET_DIRNAMES, MSMT_DIRNAMES, MSMT_LISTS
from ._tree import FORMAT_VERSION, finish_tree, int_param, range_param, save_jpeg, size_param, start_tree
from .persons import Person, render_person, sample_person

__all__ = ["write_dukemtmc", "write_market1501", "write_msmt17"]


def _body_params(generator, num_train_ids, num_test_ids, images_per_camera, cameras_per_id, image_size,
                 seed, max_cameras, **extra) -> dict[str, Any]:
    return {
        "generator": f"handreid.data.synthetic.{generator}",
        "format_version": FORMAT_VERSION,
        "num_train_ids": int_param("num_train_ids", num_train_ids, 1, 5_000),
        "num_test_ids": int_param("num_test_ids", num_test_ids, 1, 5_000),
        "images_per_camera": range_param("images_per_camera", images_per_camera, 2, 100,
                                          " (one query image per camera and at least one gallery image)"),
        "cameras_per_id": range_param("cameras_per_id", cameras_per_id, 2, max_cameras,
                                       " (every query needs a gallery match in another camera)"),
        "image_size": size_param(image_size),
        "seed": int_param("seed", seed, 0, 2**63 - 1),
        **extra,
    }


def _appearances(rng: np.random.Generator, pid: int, params: dict[str, Any], cameras: int) -> list[tuple[int, int]]:
    """(camera 1-based, image index in that camera) of one identity, camera by camera."""
    lo, hi = params["cameras_per_id"]
    cams = sorted(int(c) + 1 for c in rng.choice(cameras, int(rng.integers(lo, hi + 1)), replace=False))
    ilo, ihi = params["images_per_camera"]
    return [(c, j) for c in cams for j in range(int(rng.integers(ilo, ihi + 1)))]


def _write_bbox_dataset(root, dirname: str, params: dict[str, Any], force: bool, what: str, cameras: int,
                        name_of, pid_pool: tuple[int, int], distractors: str) -> Path:
    """Market-1501 / DukeMTMC-reID: bounding_box_train, query, bounding_box_test of ``name_of`` files."""
    root = Path(root).expanduser()
    base = root / dirname
    subs = list(BBOX_SUBDIRS)
    train_dir, query_dir, test_dir = BBOX_SUBDIRS
    if start_tree(base, params, subs, subs, force, what):
        return root.resolve()
    seed, size = params["seed"], params["image_size"]
    rng = np.random.default_rng([seed, 30])
    n_train, n_test = params["num_train_ids"], params["num_test_ids"]
    n_dis = params["num_distractors"]
    extra_ids = n_dis if distractors == "ids" else 0
    pool = np.arange(pid_pool[0], pid_pool[1] + 1)
    pids = rng.choice(pool, n_train + n_test + extra_ids, replace=False)
    train_pids = sorted(int(p) for p in pids[:n_train])
    test_pids = sorted(int(p) for p in pids[n_train:n_train + n_test])
    dis_pids = sorted(int(p) for p in pids[n_train + n_test:])
    for s in subs:
        (base / s).mkdir(parents=True, exist_ok=True)
    frame = [int(rng.integers(0, 500))]

    def emit(sub: str, pid: int, cam: int, person: Person, partial: bool = False) -> None:
        frame[0] += int(rng.integers(1, 60))
        name = name_of(pid, cam, frame[0], rng)
        img = render_person(person, np.random.default_rng([seed, 31, frame[0]]), size, cam, partial)
        save_jpeg(img, base / sub / name)

    for pid in train_pids:
        person = sample_person(np.random.default_rng([seed, 32, pid]))
        for cam, _ in _appearances(rng, pid, params, cameras):
            emit(train_dir, pid, cam, person)
    for pid in test_pids:
        person = sample_person(np.random.default_rng([seed, 32, pid]))
        for cam, j in _appearances(rng, pid, params, cameras):
            emit(query_dir if j == 0 else test_dir, pid, cam, person)
    if distractors == "zero":  # Market: pid 0 = distractors, pid -1 = junk, gallery only
        for i in range(n_dis):
            emit(test_dir, 0, int(rng.integers(1, cameras + 1)),
                 sample_person(np.random.default_rng([seed, 33, i])))
        for i in range(params["num_junk"]):
            emit(test_dir, -1, int(rng.integers(1, cameras + 1)),
                 sample_person(np.random.default_rng([seed, 34, i])), partial=True)
    else:  # Duke: distractor identities of their own, seen by one camera, gallery only
        for pid in dis_pids:
            person = sample_person(np.random.default_rng([seed, 32, pid]))
            cam = int(rng.integers(1, cameras + 1))
            for _ in range(int(rng.integers(1, params["images_per_camera"][1] + 1))):
                emit(test_dir, pid, cam, person)
    finish_tree(base, params, subs)
    return root.resolve()


def _market_name(pid: int, cam: int, frame: int, rng: np.random.Generator) -> str:
    pid_text = "-1" if pid == -1 else f"{pid:04d}"
    return f"{pid_text}_c{cam}s{int(rng.integers(1, 7))}_{frame:06d}_{int(rng.integers(0, 9)):02d}.jpg"


def _duke_name(pid: int, cam: int, frame: int, rng: np.random.Generator) -> str:
    return f"{pid:04d}_c{cam}_f{frame:07d}.jpg"


def write_market1501(
    root: str | os.PathLike,
    num_train_ids: int = 16,
    num_test_ids: int = 16,
    images_per_camera: Sequence[int] = (2, 3),
    cameras_per_id: Sequence[int] = (2, 3),
    num_distractors: int = 12,
    num_junk: int = 8,
    image_size: Sequence[int] = (48, 96),
    seed: int = 0,
    *,
    force: bool = False,
) -> Path:
    """Write a synthetic Market-1501 tree under ``root`` and return ``root``.

    ``root/Market-1501-v15.09.15/{bounding_box_train,query,bounding_box_test}/`` with names
    ``0002_c1s1_000451_03.jpg`` (pid, camera 1-6, sequence, frame, box). Train and test
    identities are disjoint pids in 2..1501; each identity is seen by ``cameras_per_id``
    cameras with ``images_per_camera`` images each; of a test identity one image per
    camera is a query, the rest gallery. The gallery also holds ``num_distractors``
    images with pid 0 (other people) and ``num_junk`` with pid -1 (fragments). Images
    (``image_size`` = width, height) show a pedestrian whose clothes, build and bag are
    fixed by the identity; pose, side, scale, lighting and noise vary, and every camera
    has its own background and colour cast. Idempotent like :func:`write_11k`.
    """
    params = _body_params("write_market1501", num_train_ids, num_test_ids, images_per_camera, cameras_per_id,
                          image_size, seed, 6, num_distractors=int_param("num_distractors", num_distractors, 0),
                          num_junk=int_param("num_junk", num_junk, 0))
    if params["num_train_ids"] + params["num_test_ids"] > 1500:
        raise ValueError("num_train_ids + num_test_ids: Market-1501 pids run 2..1501 (at most 1500 identities).")
    return _write_bbox_dataset(root, MARKET_DIRNAMES[0], params, force, "Market-1501", 6, _market_name,
                               (2, 1501), "zero")


def write_dukemtmc(
    root: str | os.PathLike,
    num_train_ids: int = 16,
    num_test_ids: int = 16,
    images_per_camera: Sequence[int] = (2, 3),
    cameras_per_id: Sequence[int] = (2, 3),
    num_distractors: int = 6,
    image_size: Sequence[int] = (48, 96),
    seed: int = 0,
    *,
    force: bool = False,
) -> Path:
    """Write a synthetic DukeMTMC-reID tree under ``root`` and return ``root``.

    ``root/DukeMTMC-reID/{bounding_box_train,query,bounding_box_test}/`` with names
    ``0001_c2_f0046182.jpg`` (pid, camera 1-8, frame). Like :func:`write_market1501`, but
    distractors are ``num_distractors`` identities of their own, each seen by one camera
    and only in the gallery (Duke's 408 single-camera identities), and there is no junk.
    """
    params = _body_params("write_dukemtmc", num_train_ids, num_test_ids, images_per_camera, cameras_per_id,
                          image_size, seed, 8, num_distractors=int_param("num_distractors", num_distractors, 0))
    if params["num_train_ids"] + params["num_test_ids"] + params["num_distractors"] > 7000:
        raise ValueError("too many identities: DukeMTMC-reID pids run 1..7140.")
    return _write_bbox_dataset(root, DUKE_DIRNAMES[0], params, force, "DukeMTMC-reID", 8, _duke_name,
                               (1, 7140), "ids")


# ---------------------------------------------------------------------------
# MSMT17

_SLOTS = ("morning", "noon", "afternoon")


def write_msmt17(
    root: str | os.PathLike,
    num_train_ids: int = 16,
    num_test_ids: int = 16,
    images_per_camera: Sequence[int] = (2, 3),
    cameras_per_id: Sequence[int] = (2, 3),
    val_fraction: float = 0.25,
    image_size: Sequence[int] = (48, 96),
    seed: int = 0,
    *,
    force: bool = False,
) -> Path:
    """Write a synthetic MSMT17_V1 tree under ``root`` and return ``root``.

    ``root/MSMT17_V1/train/<pid>/``, ``test/<pid>/`` with names
    ``0000_000_01_0303morning_0015_0.jpg`` (pid, running index, camera 01-15, date and
    time slot, frame, k) and the lists ``list_train.txt``, ``list_val.txt`` (one image of
    about ``val_fraction`` of the training identities, at least one), ``list_query.txt``
    (one image per camera of each test identity) and ``list_gallery.txt``, lines
    ``<pid dir>/<file> <pid>``. Train and test pids both run from 0, as in the real data.
    """
    if not isinstance(val_fraction, (int, float)) or isinstance(val_fraction, bool) or not 0 < val_fraction <= 1:
        raise ValueError(f"val_fraction={val_fraction!r}: expected a number in (0, 1].")
    params = _body_params("write_msmt17", num_train_ids, num_test_ids, images_per_camera, cameras_per_id,
                          image_size, seed, 15, val_fraction=float(val_fraction))
    root = Path(root).expanduser()
    base = root / MSMT_DIRNAMES[0]
    lists = [MSMT_LISTS[s][0] for s in ("train", "val", "query", "gallery")]
    list_train, list_val, list_query, list_gallery = lists
    train_dir, test_dir = MSMT_LISTS["train"][1], MSMT_LISTS["query"][1]
    owned = [train_dir, test_dir, *lists]
    if start_tree(base, params, owned, owned, force, "MSMT17"):
        return root.resolve()
    seed, size = params["seed"], params["image_size"]
    rng = np.random.default_rng([seed, 40])
    lines: dict[str, list[str]] = {name: [] for name in lists}
    frame = int(rng.integers(0, 100))
    for folder, n, salt in ((train_dir, params["num_train_ids"], 41), (test_dir, params["num_test_ids"], 42)):
        val_ids = set(rng.choice(n, max(1, round(n * params["val_fraction"])), replace=False).tolist()) \
            if folder == train_dir else set()
        for pid in range(n):
            person = sample_person(np.random.default_rng([seed, salt, pid]))
            out = base / folder / f"{pid:04d}"
            out.mkdir(parents=True, exist_ok=True)
            shots = _appearances(rng, pid, params, 15)
            date = f"03{int(rng.integers(1, 32)):02d}"
            for idx, (cam, j) in enumerate(shots):
                frame += int(rng.integers(1, 40))
                name = f"{pid:04d}_{idx:03d}_{cam:02d}_{date}{_SLOTS[int(rng.integers(0, 3))]}_{frame:04d}_{j % 3}.jpg"
                img = render_person(person, np.random.default_rng([seed, 43, salt, pid, idx]), size, cam)
                save_jpeg(img, out / name)
                if folder == train_dir:
                    target = list_val if pid in val_ids and idx == len(shots) - 1 else list_train
                else:
                    target = list_query if j == 0 else list_gallery
                lines[target].append(f"{pid:04d}/{name} {pid}")
    for name, rows in lines.items():
        tmp = base / f".{name}.tmp"
        tmp.write_text("".join(r + "\n" for r in rows), encoding="utf-8")
        os.replace(tmp, base / name)
    finish_tree(base, params, owned)
    return root.resolve()
