"""Synthetic CUHK03 trees with real MATLAB files (docs/DESIGN.md §1): the v5 new-protocol configs
written with scipy, ``cuhk-03.mat`` as HDF5 cell arrays of object references like MATLAB v7.3;
file names as :mod:`handreid.data.cuhk03` reads them, pedestrians by :mod:`.persons`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np

from ..cuhk03 import BOXES, CONFIG_NAME, DIRNAMES, IMAGES_DIRNAME, RAW_MAT_NAMES
from ._tree import FORMAT_VERSION, finish_tree, int_param, is_count, range_param, size_param, start_tree
from .persons import render_person, sample_person

__all__ = ["write_cuhk03"]

_MAT73_HEADER = "MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Thu Jan  1 00:00:00 1970 HDF5 schema 1.00 ."


def _write_mat73_cells(path: Path, cells: dict[str, list[list[list[np.ndarray | None]]]]) -> None:
    """Write ``{name: [pair][person][column] -> H x W x 3 uint8 or None]}`` as MATLAB v7.3 cell arrays.

    Mimics MATLAB: a 512-byte user block with the MAT header, arrays stored transposed,
    cells as datasets of object references into ``#refs#``, ``MATLAB_class`` attributes and
    empty cells as ``[0 0]`` uint64 with ``MATLAB_empty = 1``.
    """
    import h5py

    tmp = path.with_name(f".{path.name}.tmp")
    with h5py.File(tmp, "w", userblock_size=512, libver="earliest") as f:
        refs = f.create_group("#refs#")
        counter = [0]

        def put(data: np.ndarray, matlab_class: str, empty: bool = False):
            counter[0] += 1
            ds = refs.create_dataset(f"r{counter[0]}", data=data)
            ds.attrs["MATLAB_class"] = np.bytes_(matlab_class)
            if empty:
                ds.attrs["MATLAB_empty"] = np.uint8(1)
            return ds.ref

        for name, pairs in cells.items():
            pair_refs = []
            for persons in pairs:
                cols = max(len(c) for c in persons)
                grid = np.empty((cols, len(persons)), dtype=h5py.ref_dtype)  # MATLAB (persons x cols), transposed
                for i, columns in enumerate(persons):
                    for j, img in enumerate(columns):
                        if img is None:
                            grid[j, i] = put(np.zeros(2, np.uint64), "double", empty=True)
                        else:
                            grid[j, i] = put(np.ascontiguousarray(img.T), "uint8")
                pair_refs.append(put(grid, "cell"))
            top = f.create_dataset(name, data=np.array([pair_refs], dtype=h5py.ref_dtype))  # MATLAB 5 x 1
            top.attrs["MATLAB_class"] = np.bytes_("cell")
    header = _MAT73_HEADER.encode("ascii").ljust(116, b" ") + b"\x00" * 8 + b"\x00\x02" + b"IM"
    with open(tmp, "r+b") as fh:
        fh.write(header)
    os.replace(tmp, path)


def _write_protocol_mat(path: Path, names: list[str], pids: list[int], cams: list[int],
                        subsets: dict[str, list[int]]) -> None:
    from scipy.io import savemat

    filelist = np.empty((len(names), 1), dtype=object)
    for i, n in enumerate(names):
        filelist[i, 0] = n
    data = {
        "filelist": filelist,
        "labels": np.asarray(pids, dtype=np.float64)[:, None],
        "camId": np.asarray(cams, dtype=np.float64)[:, None],
        **{f"{s}_idx": np.asarray(idx, dtype=np.float64)[:, None] + 1 for s, idx in subsets.items()},
    }
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as fh:
        savemat(fh, data, format="5", do_compression=False)
    os.replace(tmp, path)


def write_cuhk03(
    root: str | os.PathLike,
    persons_per_pair: Sequence[int] = (8, 6, 4, 3, 3),
    images_per_view: Sequence[int] = (2, 4),
    num_train_ids: int | None = None,
    image_size: Sequence[int] = (40, 80),
    seed: int = 0,
    *,
    force: bool = False,
) -> Path:
    """Write a synthetic CUHK03 tree (real .mat files) under ``root`` and return ``root``.

    ``root/cuhk03/cuhk-03.mat``: MATLAB v7.3 (HDF5) with ``labeled`` and ``detected``, each a
    cell array of 5 camera pairs of (persons x 10) cells of H x W x 3 uint8 images (columns
    1-5 view 1, 6-10 view 2; unused cells empty), ``persons_per_pair`` persons per pair with
    ``images_per_view`` images per view; the detected boxes are looser, shifted crops.
    ``root/cuhk03/cuhk03_new_protocol_config_{labeled,detected}.mat`` (MATLAB v5, written
    with scipy.io.savemat): ``filelist`` (``1_001_1_01.png`` ...), ``labels`` (pid = person
    number over all pairs, 1-based), ``camId`` (view), and 1-based ``train_idx`` (every image
    of ``num_train_ids`` random persons, default half, rounded up), ``query_idx`` (one image
    per view of each other person) and ``gallery_idx`` (the rest). The images are extracted
    by the loader on first use, as with the real data. Idempotent like :func:`write_11k`.
    """
    ppp = tuple(persons_per_pair) if isinstance(persons_per_pair, (tuple, list)) else None
    if ppp is None or len(ppp) != 5 or not all(is_count(x) and 1 <= x <= 999 for x in ppp):
        raise ValueError(f"persons_per_pair={persons_per_pair!r}: expected 5 ints in 1..999 (one per camera pair).")
    total = sum(ppp)
    if total < 2:
        raise ValueError("persons_per_pair: at least 2 persons (one trains, one tests).")
    n_train = -(-total // 2) if num_train_ids is None else int_param("num_train_ids", num_train_ids, 1, total - 1)
    params = {
        "generator": "handreid.data.synthetic.write_cuhk03",
        "format_version": FORMAT_VERSION,
        "persons_per_pair": [int(x) for x in ppp],
        "images_per_view": range_param("images_per_view", images_per_view, 2, 5,
                                        " (one query image per view and at least one gallery image)"),
        "num_train_ids": int(n_train),
        "image_size": size_param(image_size),
        "seed": int_param("seed", seed, 0, 2**63 - 1),
    }
    root = Path(root).expanduser()
    base = root / DIRNAMES[0]
    raw_mat = RAW_MAT_NAMES[0]
    counted = [raw_mat, *(CONFIG_NAME.format(boxes=b) for b in BOXES)]
    owned = [*counted, *(IMAGES_DIRNAME.format(boxes=b) for b in BOXES)]  # the extracted images derive from cuhk-03.mat
    if start_tree(base, params, owned, counted, force, "CUHK03"):
        return root.resolve()
    seed, (W, H) = params["seed"], params["image_size"]
    lo, hi = params["images_per_view"]
    rng = np.random.default_rng([seed, 50])
    cells: dict[str, list] = {"labeled": [], "detected": []}
    names, pids, cams = [], [], []
    pid = 0
    for pair, n_persons in enumerate(ppp, 1):
        lab_pair, det_pair = [], []
        for person in range(1, n_persons + 1):
            pid += 1
            look = sample_person(np.random.default_rng([seed, 51, pid]))
            lab_cols: list[np.ndarray | None] = [None] * 10
            det_cols: list[np.ndarray | None] = [None] * 10
            for view in (1, 2):
                cam = 2 * pair - 2 + view  # each pair has its own two cameras (for the backgrounds)
                for j in range(int(rng.integers(lo, hi + 1))):
                    col = (view - 1) * 5 + j
                    size = (W + int(rng.integers(-3, 4)), H + int(rng.integers(-6, 7)))
                    lab_cols[col] = np.asarray(render_person(look, np.random.default_rng([seed, 52, pid, col]), size, cam))
                    loose = render_person(look, np.random.default_rng([seed, 53, pid, col]),
                                           (size[0] + 6, size[1] + 10), cam)
                    dx, dy = int(rng.integers(0, 7)), int(rng.integers(0, 11))
                    det_cols[col] = np.asarray(loose.crop((dx, dy, dx + size[0], dy + size[1])))
                    names.append(f"{pair}_{person:03d}_{view}_{col + 1:02d}.png")
                    pids.append(pid)
                    cams.append(view)
            lab_pair.append(lab_cols)
            det_pair.append(det_cols)
        cells["labeled"].append(lab_pair)
        cells["detected"].append(det_pair)
    base.mkdir(parents=True, exist_ok=True)
    _write_mat73_cells(base / raw_mat, cells)

    train_ids = set(rng.choice(np.arange(1, total + 1), n_train, replace=False).tolist())
    subsets: dict[str, list[int]] = {"train": [], "query": [], "gallery": []}
    for p in range(1, total + 1):
        idx = [i for i, q in enumerate(pids) if q == p]
        if p in train_ids:
            subsets["train"] += idx
            continue
        for view in (1, 2):
            mine = [i for i in idx if cams[i] == view]
            q = int(rng.choice(mine))
            subsets["query"].append(q)
            subsets["gallery"] += [i for i in mine if i != q]
    for boxes in BOXES:
        _write_protocol_mat(base / CONFIG_NAME.format(boxes=boxes), names, pids, cams, subsets)
    finish_tree(base, params, counted)
    return root.resolve()
