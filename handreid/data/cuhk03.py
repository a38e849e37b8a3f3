"""CUHK03 with the new 767/700 protocol (Zhong et al., CVPR 2017; docs/DESIGN.md §1): ``cuhk03-l``.

Layout under the data root::

    <root>/cuhk03/
        cuhk03_new_protocol_config_labeled.mat    the protocol (MATLAB v5; from person-re-ranking)
        cuhk03_new_protocol_config_detected.mat   (only for boxes="detected")
        cuhk-03.mat                               the images (MATLAB v7.3 = HDF5; also accepted
                                                  in cuhk03_release/cuhk-03.mat, torchreid's place)
        images_labeled/1_001_1_01.png ...         extracted from cuhk-03.mat on first use

The protocol file holds ``filelist`` (a cell of image names), ``labels`` (pid of
each), ``camId`` (1 or 2) and ``train_idx``, ``query_idx``, ``gallery_idx``
(1-based MATLAB indices into ``filelist``). ``cuhk-03.mat`` holds ``labeled``
and ``detected``: cell arrays of the 5 camera pairs, each a (persons x 10) cell
of uint8 H x W x 3 images (columns 1-5 one camera, 6-10 the other; some cells
empty), stored the MATLAB v7.3 way -- HDF5 object references, arrays transposed.
An image is named ``<pair>_<person:03d>_<view>_<image:02d>.png`` (e.g.
``1_001_1_01.png``: pair 1, person 1, view 1, image 1), the names the protocol's
``filelist`` uses.

Extraction writes only the images the protocol names that are not on disk yet
(idempotent), each to a temporary folder first and then moved into place, so a
reader never sees a half-written image or folder (atomic). After that
``cuhk-03.mat`` is no longer needed.

The split: train / query / gallery exactly as the protocol file lists them,
``pid`` = ``labels``, ``camid`` = ``camId - 1``, labels contiguous in pid order,
the body camera rule, no repeats (``repeat=0`` only).

Counts (Zhong et al.'s CUHK03-NP README): labeled boxes train 767 ids / 7,368
images, query 700 / 1,400, gallery 700 / 5,328; detected boxes 7,365 / 1,400 /
5,332. LAGA-Net Table I ("CUHK03 (L)": 767/7,365, 700/1,400, 700/5,332) prints
the *detected* counts under the labeled heading; the text says labeled boxes,
so ``cuhk03-l`` loads the labeled ones, and ``boxes="detected"`` gives the split
whose counts Table I shows.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pandas as pd

from ._common import check_root, expected_layout, fill_hint
from .body import body_split
from .split import DatasetError, Split, check_body_repeat, check_seed

__all__ = [
    "BOXES",
    "CONFIG_NAME",
    "DIRNAMES",
    "DOWNLOAD_HINT",
    "IMAGES_DIRNAME",
    "IMAGE_NAME",
    "RAW_MAT_NAMES",
    "extract_images",
    "find_raw_mat",
    "load",
    "read_protocol",
]

#: Kinds of bounding boxes in cuhk-03.mat.
BOXES = ("labeled", "detected")
#: Protocol file name per kind of boxes.
CONFIG_NAME = "cuhk03_new_protocol_config_{boxes}.mat"
#: Where cuhk-03.mat may be, relative to the cuhk03 folder.
RAW_MAT_NAMES = ("cuhk-03.mat", "cuhk03_release/cuhk-03.mat")
#: Dataset folder names under the data root.
DIRNAMES = ("cuhk03", "CUHK03")
#: Folder the images of one kind of boxes are extracted to, in the dataset folder.
IMAGES_DIRNAME = "images_{boxes}"
#: An extracted image: pair _ person _ view _ image.
IMAGE_NAME = re.compile(r"(?P<pair>[1-9])_(?P<person>\d{3})_(?P<view>[12])_(?P<image>\d{2})\.png")

DOWNLOAD_HINT = (
    "Get cuhk-03.mat (CUHK03 release, http://www.ee.cuhk.edu.hk/~xgwang/CUHK_identification.html) and "
    "cuhk03_new_protocol_config_labeled.mat / _detected.mat (https://github.com/zhunzhong07/person-re-ranking, "
    "folder evaluation/data/CUHK03) and put them in {root}/cuhk03/; the images are extracted to "
    "{root}/cuhk03/images_labeled/ on first use. For a small synthetic tree in the same format run "
    "`python -m handreid.data.synthetic --out {root} --dataset cuhk03`."
)
_TREE = (
    "    {root}/cuhk03/\n"
    "        cuhk03_new_protocol_config_labeled.mat\n"
    "        cuhk-03.mat                      (or cuhk03_release/cuhk-03.mat)\n"
    "        images_labeled/                  1_001_1_01.png ... (written on first use)"
)
_KEYS = ("filelist", "labels", "camId", "train_idx", "query_idx", "gallery_idx")


def download_hint(root: str | os.PathLike | None = None) -> str:
    """Where CUHK03 and its new-protocol files come from and where they go under ``root``."""
    return fill_hint(DOWNLOAD_HINT, root)


def _expected(root) -> str:
    return expected_layout(_TREE, root)


def _check_boxes(boxes: Any) -> str:
    if boxes not in BOXES:
        raise DatasetError(f"boxes={boxes!r} is invalid: expected one of {BOXES} (cuhk03-l uses 'labeled').")
    return boxes


# ---------------------------------------------------------------------------
# the protocol file


def _names(value: Any, path: Path, hint: str) -> list[str]:
    arr = value if isinstance(value, np.ndarray) else np.asarray(value, dtype=object)
    if arr.dtype.kind == "U":  # a char matrix
        return [str(s).strip() for s in arr.ravel()]
    out = []
    for el in arr.ravel():
        e = np.asarray(el)
        if e.dtype.kind == "U" and e.size == 1:
            out.append(str(e.ravel()[0]).strip())
        elif isinstance(el, str):
            out.append(el.strip())
        else:
            raise DatasetError(
                f"{path}: 'filelist' entry {el!r} is not a string; expected a cell array of image names "
                f"such as '1_001_1_01.png'. {hint}"
            )
    return out


def _ints(m: dict, key: str, path: Path, hint: str) -> np.ndarray:
    arr = np.asarray(m[key])
    if arr.dtype.kind not in "iuf" or arr.size == 0:
        raise DatasetError(f"{path}: {key!r} is not a non-empty numeric array (got {arr.dtype}, shape {arr.shape}). {hint}")
    flat = arr.ravel()
    if arr.dtype.kind == "f" and not np.all(np.isfinite(flat) & (flat == np.round(flat))):
        raise DatasetError(f"{path}: {key!r} holds non-integer values. {hint}")
    return flat.astype(np.int64)


def read_protocol(path: str | os.PathLike) -> dict[str, pd.DataFrame]:
    """Read a ``cuhk03_new_protocol_config_*.mat``: ``{"train", "query", "gallery"}`` frames.

    Each frame has the columns ``name`` (image file name), ``pid`` and ``camid`` (0-based),
    in the file's index order. Raises :class:`DatasetError` when the file is missing,
    unreadable, lacks a field, or its indices, cameras or names are inconsistent
    (1-based indices out of range, repeated or shared between sets; train and test
    identities overlapping; names not ``<pair>_<person>_<view>_<image>.png``).
    """
    from scipy.io import loadmat

    path = Path(path)
    root = path.parent.parent
    hint = download_hint(root)
    if not path.is_file():
        raise DatasetError(f"CUHK03 protocol file {path} does not exist. {_expected(root)}{hint}")
    try:
        m = loadmat(str(path))
    except NotImplementedError:
        raise DatasetError(
            f"{path} is a MATLAB v7.3 (HDF5) file; expected the MATLAB v5 protocol file as published "
            f"with person-re-ranking. {hint}"
        ) from None
    except Exception as e:  # scipy raises ValueError/TypeError/OSError variants for damaged files
        raise DatasetError(f"cannot read CUHK03 protocol file {path}: {e}. {hint}") from None
    missing = [k for k in _KEYS if k not in m]
    if missing:
        found = sorted(k for k in m if not k.startswith("__"))
        raise DatasetError(
            f"{path}: missing field(s) {missing}; expected {list(_KEYS)} (found {found}). "
            f"This is not a new-protocol config file. {hint}"
        )
    names = _names(m["filelist"], path, hint)
    n = len(names)
    pids = _ints(m, "labels", path, hint)
    cams = _ints(m, "camId", path, hint)
    for key, arr in (("labels", pids), ("camId", cams)):
        if len(arr) != n:
            raise DatasetError(f"{path}: {key!r} has {len(arr)} entries but 'filelist' has {n}. {hint}")
    bad_cam = ~np.isin(cams, (1, 2))
    if bad_cam.any():
        raise DatasetError(f"{path}: 'camId' must be 1 or 2; found {sorted(set(cams[bad_cam].tolist()))[:5]}. {hint}")
    bad_names = [s for s in names if not IMAGE_NAME.fullmatch(s)]
    if bad_names:
        raise DatasetError(
            f"{path}: {len(bad_names)} 'filelist' name(s) are not <pair>_<person>_<view>_<image>.png "
            f"(e.g. 1_001_1_01.png): {bad_names[:5]}. {hint}"
        )
    if len(set(names)) != n:
        raise DatasetError(f"{path}: 'filelist' names some images twice. {hint}")
    sets, seen = {}, {}
    for subset in ("train", "query", "gallery"):
        idx = _ints(m, f"{subset}_idx", path, hint)
        bad = (idx < 1) | (idx > n)
        if bad.any():
            raise DatasetError(
                f"{path}: '{subset}_idx' has {int(bad.sum())} value(s) outside 1..{n} (1-based indices into "
                f"'filelist'), e.g. {int(idx[bad][0])}. {hint}"
            )
        idx = idx - 1
        if len(np.unique(idx)) != len(idx):
            raise DatasetError(f"{path}: '{subset}_idx' lists an image twice. {hint}")
        for other, prev in seen.items():
            shared = np.intersect1d(prev, idx)
            if len(shared):
                raise DatasetError(
                    f"{path}: '{subset}_idx' and '{other}_idx' share {len(shared)} image(s), e.g. "
                    f"{names[int(shared[0])]}. {hint}"
                )
        seen[subset] = idx
        sets[subset] = pd.DataFrame({"name": [names[i] for i in idx], "pid": pids[idx], "camid": cams[idx] - 1})
    overlap = set(sets["train"]["pid"]) & (set(sets["query"]["pid"]) | set(sets["gallery"]["pid"]))
    if overlap:
        raise DatasetError(
            f"{path}: {len(overlap)} identit{'y is' if len(overlap) == 1 else 'ies are'} in both train and "
            f"test (e.g. pid {min(overlap)}); the 767/700 protocol keeps them apart. {hint}"
        )
    return sets


# ---------------------------------------------------------------------------
# extraction from cuhk-03.mat


def find_raw_mat(base: str | os.PathLike) -> Path | None:
    """``cuhk-03.mat`` in the cuhk03 folder ``base`` (or its cuhk03_release/), or None."""
    for rel in RAW_MAT_NAMES:
        p = Path(base) / rel
        if p.is_file():
            return p
    return None


def _read_images(raw_mat: Path, names: Iterable[str], boxes: str, hint: str):
    """Yield ``(name, H x W x 3 uint8 array)`` for each name, read from the v7.3 cell arrays."""
    import h5py

    try:
        f = h5py.File(raw_mat, "r")
    except OSError as e:
        raise DatasetError(
            f"cannot open {raw_mat} as a MATLAB v7.3 (HDF5) file: {e}. The CUHK03 release ships cuhk-03.mat "
            f"in that format; the download may be damaged. {hint}"
        ) from None
    with f:
        if boxes not in f:
            raise DatasetError(
                f"{raw_mat} has no {boxes!r} cell array (found {sorted(f.keys())}); expected 'labeled' and "
                f"'detected', each 5 camera pairs. {hint}"
            )
        pairs = np.asarray(f[boxes][()]).ravel()
        cache: dict[int, np.ndarray] = {}
        for name in names:
            m = IMAGE_NAME.fullmatch(name)
            pair, person, image = int(m["pair"]) - 1, int(m["person"]) - 1, int(m["image"]) - 1
            where = f"{raw_mat}:{boxes}{{{pair + 1}}}{{{person + 1},{image + 1}}}"
            if int(m["view"]) != (1 if image < 5 else 2) or not 0 <= image < 10:
                raise DatasetError(
                    f"image name {name!r}: view {m['view']} does not fit image {image + 1} (images 1-5 are "
                    f"view 1, 6-10 view 2). {hint}"
                )
            if pair >= len(pairs):
                raise DatasetError(f"{name!r} names camera pair {pair + 1}, but {raw_mat}:{boxes} has {len(pairs)}. {hint}")
            if pair not in cache:
                cache[pair] = np.asarray(f[pairs[pair]][()])  # HDF5 (10, persons) = MATLAB (persons x 10)
            camp = cache[pair]
            if camp.ndim != 2 or camp.shape[0] != 10 or person >= camp.shape[1]:
                raise DatasetError(
                    f"{name!r} names person {person + 1} of camera pair {pair + 1}, but that cell is "
                    f"{camp.shape[::-1]} (MATLAB persons x 10). {hint}"
                )
            img = np.asarray(f[camp[image, person]][()]).T  # stored transposed: (3, W, H) -> (H, W, 3)
            if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8 or img.size == 0:
                raise DatasetError(
                    f"{where} (image {name!r} of the protocol) is empty or not an H x W x 3 uint8 image "
                    f"(shape {img.shape}, {img.dtype}). {hint}"
                )
            yield name, img


def extract_images(
    raw_mat: str | os.PathLike,
    names: Iterable[str],
    out_dir: str | os.PathLike,
    boxes: str = "labeled",
) -> int:
    """Write the images ``names`` (``1_001_1_01.png`` ...) from ``raw_mat`` into ``out_dir``.

    Only names not yet in ``out_dir`` are written (idempotent); they are decoded from the
    ``boxes`` cell array into a temporary folder next to ``out_dir`` and moved in with
    atomic renames (the whole folder when ``out_dir`` does not exist yet). Returns the
    number of images written.
    """
    from PIL import Image

    boxes = _check_boxes(boxes)
    raw_mat, out_dir = Path(raw_mat), Path(out_dir)
    hint = download_hint(out_dir.parent.parent)
    names = list(dict.fromkeys(names))
    bad = [n for n in names if not IMAGE_NAME.fullmatch(n)]
    if bad:
        raise DatasetError(f"not CUHK03 image names (<pair>_<person>_<view>_<image>.png): {bad[:5]}")
    present = set(os.listdir(out_dir)) if out_dir.is_dir() else set()
    missing = [n for n in names if n not in present]
    if not missing:
        return 0
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".partial", dir=out_dir.parent))
    try:
        for name, img in _read_images(raw_mat, missing, boxes, hint):
            Image.fromarray(img, "RGB").save(tmp / name, format="PNG")
        os.chmod(tmp, 0o755)
        if not out_dir.exists():
            try:
                os.rename(tmp, out_dir)  # the whole folder appears at once
                return len(missing)
            except OSError:
                pass  # another process created it meanwhile: move the files one by one
        out_dir.mkdir(exist_ok=True)
        for name in missing:
            os.replace(tmp / name, out_dir / name)
        return len(missing)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# ---------------------------------------------------------------------------
# loader


def _base(root: Path) -> Path:
    check_root(root, f"{DIRNAMES[0]}/", download_hint(root), _expected(root))
    for d in DIRNAMES:
        if (root / d).is_dir():
            return root / d
    raise DatasetError(f"CUHK03 not found under {root}: no cuhk03/ directory. {_expected(root)}{download_hint(root)}")


def load(root: str | os.PathLike, repeat: int = 0, seed: int = 0, *, boxes: str = "labeled") -> Split:
    """CUHK03 new protocol (see the module docstring); extracts the images on first use."""
    boxes = _check_boxes(boxes)
    name = "cuhk03-l" if boxes == "labeled" else "cuhk03-d"
    repeat = check_body_repeat(repeat, name)
    seed = check_seed(seed)
    root = Path(root).expanduser()
    hint = download_hint(root)
    base = _base(root)
    config = base / CONFIG_NAME.format(boxes=boxes)
    if not config.is_file():
        raise DatasetError(
            f"CUHK03 protocol file {config} does not exist (found in {base}: "
            f"{', '.join(sorted(os.listdir(base))[:10]) or 'nothing'}). {_expected(root)}{hint}"
        )
    sets = read_protocol(config)
    images = base / IMAGES_DIRNAME.format(boxes=boxes)
    needed = [n for df in sets.values() for n in df["name"]]
    present = set(os.listdir(images)) if images.is_dir() else set()
    missing = [n for n in needed if n not in present]
    written = 0
    if missing:
        raw = find_raw_mat(base)
        if raw is None:
            raise DatasetError(
                f"{len(missing)} of {len(needed)} CUHK03 images named by {config.name} are not in {images} "
                f"(e.g. {missing[0]}), and there is no cuhk-03.mat to extract them from (looked for "
                f"{', '.join(str(base / r) for r in RAW_MAT_NAMES)}). {_expected(root)}{hint}"
            )
        written = extract_images(raw, missing, images, boxes)
    rel = images.relative_to(root).as_posix()
    frames = []
    for df in sets.values():
        frames.append(pd.DataFrame({"path": rel + "/" + df["name"], "pid": df["pid"], "camid": df["camid"]}))
    info = {
        "dataset": name,
        "boxes": boxes,
        "config": str(config.resolve()),
        "images": str(images.resolve()),
        "extracted_now": written,
        "protocol": "CUHK03 new protocol (Zhong et al. CVPR 2017, 767/700): train/query/gallery as listed "
        "in the config; same pid+camera gallery images ignored",
        "pid_rule": "pid = labels; camid = camId - 1",
    }
    return body_split(name, root, *frames, seed=seed, info=info)
