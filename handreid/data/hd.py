"""The PolyU Hand Dorsal (HD) dataset: layout parser and the hand Re-Id protocol (docs/DESIGN.md §1).

Layout under the data root (the dataset as it ships)::

    <root>/HD/Original Images/1-501/<id>_<k>.jpg      the main subjects
    <root>/HD/Original Images/502-712/<id>_<k>.jpg    the additional subjects

``<id>`` is the subject number and ``<k>`` the image number; the extension is
``.jpg`` in either case (``.JPG`` too; ``.jpeg`` is accepted as well). The
folder ``Original Images`` may also be spelled ``Original_Images``. Despite its
name, the real ``1-501`` folder holds 502 identities (GPA-Net §3.1, LAGA-Net
§IV-A), and ``502-712`` holds 213 additional subjects whose images "lack clarity
or do not have second minor knuckle patterns": nothing here hard-codes either
number, everything is derived from the files.

Protocol (GPA-Net §3.1, LAGA-Net §IV-A and Table II):

1. the identities of ``1-501`` in numeric order; the first half, rounded up,
   trains (502 -> 251), the rest tests;
2. one image per training identity is held out for validation (depends on
   ``seed`` only, so train/val are the same for all repeats);
3. per ``repeat``, one image per test identity goes to the gallery, the rest
   to the query set;
4. every image of the additional subjects (``502-712``) joins the gallery as
   distractors, with pids of their own.

Steps 1-3 are :func:`handreid.data.split.hand_protocol` (shared with 11k); step 4 is this module's.

Table II (train counts the validation images): train 251 ids / 2,407 images,
query 251 / 1,992, gallery 464 / 1,593 (251 drawn + 1,342 of 213 additional
subjects).

"One random image" is the image with the smallest
``sha256(f"{seed}|{repeat}|{purpose}|{id}_{k}")`` (see
:func:`handreid.data.split.draw_key`; purpose ``"val"`` without repeat,
``"gallery"`` with it). The key is the canonical stem ``<id>_<k>`` (numbers
without leading zeros, no extension), so the draw does not depend on the
extension's case or the spelling of the ``Original Images`` folder.

pid rule: main subjects keep their number (``pid = id``); additional subjects
get ``pid = EXTRA_PID_OFFSET + id`` (``1_000_000 + id``), so they never collide
with a main subject even where the two folders share a number. The 11k pids
start at 10,000,000, so HD and 11k splits can also be pooled without clashes.
Single camera: ``camid`` is 0 everywhere and there is no same-camera rule.

Files that are not images are reported, not skipped, except the operating
system's own (``Thumbs.db``, ``desktop.ini``, ``.DS_Store`` and other hidden
files), which are ignored. No image is decoded.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pandas as pd

from ._common import check_root, expected_layout, fill_hint, list_images
from .split import NUM_REPEATS, DatasetError, Split, check_repeat, check_seed, finish_subset, hand_protocol

__all__ = [
    "DOWNLOAD_HINT",
    "EXTRA_DIRNAME",
    "EXTRA_PID_OFFSET",
    "HD_DIRNAME",
    "IMAGES_DIRNAMES",
    "MAIN_DIRNAME",
    "download_hint",
    "load",
    "protocol",
    "scan",
    "subset_columns",
]

#: Dataset folder under the data root.
HD_DIRNAME = "HD"
#: Accepted spellings of the image folder, in order of preference.
IMAGES_DIRNAMES = ("Original Images", "Original_Images")
#: Folder of the main subjects (train/test identities).
MAIN_DIRNAME = "1-501"
#: Folder of the additional subjects (gallery distractors).
EXTRA_DIRNAME = "502-712"
#: pid of an additional subject = EXTRA_PID_OFFSET + its number.
EXTRA_PID_OFFSET = 1_000_000

_IMAGE_NAME = re.compile(r"(\d+)_(\d+)\.(jpe?g)", re.IGNORECASE)

DOWNLOAD_HINT = (
    "Get the PolyU Hand Dorsal (HD) dataset from http://www4.comp.polyu.edu.hk/~csajaykr/knuckleV2.htm "
    "and unpack it so that {root}/HD/Original Images/1-501/ and {root}/HD/Original Images/502-712/ "
    "hold the <id>_<k>.jpg images; for a small synthetic tree in the same format run "
    "`python -m handreid.data.synthetic --out {root} --dataset hd`."
)

_EXPECTED_TREE = (
    "    {root}/HD/\n"
    "        Original Images/          (or Original_Images/)\n"
    "            1-501/                1_1.jpg, 1_2.jpg, ..., <id>_<k>.jpg  (main subjects)\n"
    "            502-712/              502_1.jpg, ...                       (additional subjects)"
)


def download_hint(root: str | os.PathLike | None = None) -> str:
    """Where the HD dataset comes from and how to unpack it under ``root``."""
    return fill_hint(DOWNLOAD_HINT, root)


def _expected_tree(root) -> str:
    return expected_layout(_EXPECTED_TREE, root)


def subset_columns(subset: str) -> list[str]:
    """Column order of an HD subset DataFrame (``label`` only in train and val)."""
    head = ["path", "pid", "camid"] + (["label"] if subset in ("train", "val") else [])
    return head + ["subject", "folder"]


# ---------------------------------------------------------------------------
# layout


def _images_dir(root: Path) -> Path:
    check_root(root, f"{HD_DIRNAME}/", download_hint(root), _expected_tree(root))
    base = root / HD_DIRNAME
    if not base.is_dir():
        raise DatasetError(
            f"{base} does not exist: the data root {root} has no {HD_DIRNAME}/ directory. "
            f"{_expected_tree(root)}{download_hint(root)}"
        )
    for name in IMAGES_DIRNAMES:
        if (base / name).is_dir():
            return base / name
    raise DatasetError(
        f"{base} has no {' or '.join(repr(n) for n in IMAGES_DIRNAMES)} folder "
        f"(found: {sorted(os.listdir(base))[:8]}). {_expected_tree(root)}{download_hint(root)}"
    )


def _scan_folder(folder: Path, rel: str, root: Path) -> pd.DataFrame:
    """Records (path, subject, k, folder) of one image folder; strict about names."""
    if not folder.is_dir():
        raise DatasetError(
            f"HD image folder {folder} does not exist (expected the {folder.name}/ folder of <id>_<k>.jpg "
            f"images next to the other one). {_expected_tree(root)}{download_hint(root)}"
        )
    what = "the HD file name pattern <id>_<k>.jpg (e.g. 12_3.jpg; extension .jpg/.JPG/.jpeg)"
    rows = [(f"{rel}/{name}", int(m.group(1)), int(m.group(2)))
            for name, m in list_images(folder, _IMAGE_NAME, what, download_hint(root))]
    if not rows:
        raise DatasetError(
            f"HD image folder {folder} holds no <id>_<k>.jpg images. {_expected_tree(root)}{download_hint(root)}"
        )
    df = pd.DataFrame(rows, columns=["path", "subject", "k"])
    df["folder"] = folder.name
    dup = df.duplicated(["subject", "k"], keep=False)
    if dup.any():
        shown = ", ".join(df.loc[dup, "path"].str.rsplit("/", n=1).str[-1].head(6))
        raise DatasetError(
            f"{folder}: {int(dup.sum())} files name the same (id, image number) pair: {shown}. "
            "Each <id>_<k> must appear once (e.g. not both 3_1.jpg and 3_1.JPG, or 3_1.jpg and 03_1.jpg). "
            + download_hint(root)
        )
    return df


def scan(root: str | os.PathLike) -> pd.DataFrame:
    """List the HD images under ``root`` (a directory listing, no decoding).

    Returns one row per image with ``path`` (relative to ``root``, posix), ``subject``
    (int), ``k`` (image number, int) and ``folder`` (``"1-501"`` or ``"502-712"``),
    sorted by folder then file name. Raises :class:`DatasetError` for a missing folder,
    an empty one, a file name that is not ``<id>_<k>.jpg`` or a repeated ``(id, k)``.
    """
    root = Path(root).expanduser()
    images = _images_dir(root)
    rel = f"{HD_DIRNAME}/{images.name}"
    main = _scan_folder(images / MAIN_DIRNAME, f"{rel}/{MAIN_DIRNAME}", root)
    extra = _scan_folder(images / EXTRA_DIRNAME, f"{rel}/{EXTRA_DIRNAME}", root)
    return pd.concat([main, extra], ignore_index=True)


# ---------------------------------------------------------------------------
# protocol


def _finish(df: pd.DataFrame, subset: str) -> pd.DataFrame:
    return finish_subset(df, subset_columns(subset))


def protocol(
    records: pd.DataFrame,
    repeat: int = 0,
    seed: int = 0,
    *,
    num_repeats: int = NUM_REPEATS,
) -> dict[str, pd.DataFrame]:
    """The hand protocol on an HD listing: ``{"train", "val", "query", "gallery"}`` DataFrames.

    ``records`` is :func:`scan`'s result (columns ``path``, ``subject``, ``k``, ``folder``;
    ``folder`` is :data:`MAIN_DIRNAME` or :data:`EXTRA_DIRNAME`). Columns of the result:
    :func:`subset_columns`; rows sorted by ``(pid, path)``. Raises :class:`DatasetError`
    for invalid ``repeat``/``seed``, fewer than two main identities, no additional
    subjects, or subject numbers too large for the pid rule.
    """
    repeat = check_repeat(repeat, num_repeats)
    seed = check_seed(seed)
    missing = [c for c in ("path", "subject", "k", "folder") if c not in records.columns]
    if missing:
        raise DatasetError(f"HD records lack the column(s) {missing}; pass the result of handreid.data.hd.scan().")
    df = records.copy()
    df["subject"] = df["subject"].astype("int64")
    df["k"] = df["k"].astype("int64")
    if (df["subject"] >= EXTRA_PID_OFFSET).any():
        big = int(df["subject"].max())
        raise DatasetError(
            f"HD subject number {big} is too large: the pid rule (additional subjects get "
            f"{EXTRA_PID_OFFSET:,} + id) needs ids below {EXTRA_PID_OFFSET:,}. " + download_hint()
        )
    is_main = df["folder"] == MAIN_DIRNAME
    is_extra = df["folder"] == EXTRA_DIRNAME
    if not (is_main | is_extra).all():
        other = sorted(set(df.loc[~(is_main | is_extra), "folder"]))
        raise DatasetError(f"HD records have unknown folder(s) {other}; expected {MAIN_DIRNAME!r} or {EXTRA_DIRNAME!r}.")
    df["pid"] = df["subject"].where(is_main, EXTRA_PID_OFFSET + df["subject"]).astype("int64")
    df["camid"] = 0
    df["camid"] = df["camid"].astype("int64")
    df["_key"] = df["subject"].astype(str) + "_" + df["k"].astype(str)  # canonical stem for the draws

    main, extra = df[is_main], df[is_extra]
    pids = sorted(main["pid"].unique())
    if len(pids) < 2:
        raise DatasetError(
            f"HD folder {MAIN_DIRNAME}/ has {len(pids)} identit{'y' if len(pids) == 1 else 'ies'}; the protocol "
            "needs at least 2 (the first half trains, the rest tests). " + download_hint()
        )
    if extra.empty:
        raise DatasetError(
            f"HD folder {EXTRA_DIRNAME}/ has no images; the protocol adds every image of the additional "
            "subjects to the gallery (Table II: 1,342 images of 213 subjects). " + download_hint()
        )
    drawn = hand_protocol(main, repeat=repeat, seed=seed, key_col="_key")
    return {
        "train": _finish(drawn["train"], "train"),
        "val": _finish(drawn["val"], "val"),
        "query": _finish(drawn["query"], "query"),
        "gallery": _finish(pd.concat([drawn["gallery"], extra]), "gallery"),
    }


# ---------------------------------------------------------------------------
# loader


def load(
    root: str | os.PathLike,
    repeat: int = 0,
    seed: int = 0,
    *,
    num_repeats: int = NUM_REPEATS,
) -> Split:
    """Load the HD split ``(repeat, seed)`` from ``<root>/HD`` (see the module docstring).

    Lists the two image folders (no decoding) and applies :func:`protocol`.
    """
    repeat = check_repeat(repeat, num_repeats)
    seed = check_seed(seed)
    root = Path(root).expanduser()
    records = scan(root)
    parts = protocol(records, repeat, seed, num_repeats=num_repeats)
    num_classes = int(pd.concat([parts["train"]["label"], parts["val"]["label"]]).nunique())
    images_dir = records["path"].iloc[0].split("/")[1]
    is_main = records["folder"] == MAIN_DIRNAME
    info: dict[str, Any] = {
        "dataset": "hd",
        "images": str((root / HD_DIRNAME / images_dir).resolve()),
        "main_identities": int(records.loc[is_main, "subject"].nunique()),
        "extra_identities": int(records.loc[~is_main, "subject"].nunique()),
        "protocol": "GPA-Net §3.1 / LAGA-Net §IV-A: ids of 1-501 in numeric order; first ceil(n/2) train; "
        "1 val image per train id (seed); 1 gallery image per test id (seed, repeat); "
        "every image of 502-712 in the gallery",
        "pid_rule": f"main: pid = id; additional subjects: pid = {EXTRA_PID_OFFSET} + id",
    }
    return Split(
        name="hd",
        root=root.resolve(),
        repeat=repeat,
        seed=seed,
        train=parts["train"],
        val=parts["val"],
        query=parts["query"],
        gallery=parts["gallery"],
        num_classes=num_classes,
        camera_rule=False,
        info=info,
    )
