"""The 11k Hands dataset: layout parser and the hand Re-Id protocol (docs/DESIGN.md §1).

Layout under the data root (the dataset as it ships)::

    <root>/11k/HandInfo.csv     metadata, one row per image (11,076 rows)
    <root>/11k/Hands/*.jpg      Hand_0000002.jpg ... Hand_0011744.jpg

Protocol (GPA-Net §3.1, LAGA-Net §IV-A and Table II):

1. drop images with ``accessories == 1``;
2. split into four sub-datasets by ``aspectOfHand``: D-r ("dorsal right"),
   D-l ("dorsal left"), P-r ("palmar right"), P-l ("palmar left"); one
   identity is one (aspect, subject) pair -- a person's left and right hand
   are different identities;
3. order each sub-dataset's subjects numerically; the first half, rounded up,
   trains (D-r: 143 -> 72), the rest tests;
4. one image per training identity is held out for validation (depends on
   ``seed`` only, so train/val are the same for all repeats);
5. per ``repeat``, one image per test identity goes to the gallery, the rest
   to the query set; the gallery is *common*: the union of the four
   sub-datasets' galleries (71 + 73 + 71 + 75 = 290 images), the other
   aspects' identities acting as distractors.

Steps 3-5 for one aspect are :func:`handreid.data.split.hand_protocol` (shared with HD); the
common gallery is this module's.

"One random image" is the image with the smallest
``sha256(f"{seed}|{repeat}|{purpose}|{file name}")`` (see
:func:`handreid.data.split.draw_key`; purpose ``"val"`` without repeat,
``"gallery"`` with it).

pid rule: ``pid = ASPECT_NUMBER[code] * PID_STRIDE + int(subject)`` with
``PID_STRIDE = 10_000_000`` (subject ids have 7 digits) and aspect numbers
D-r 1, D-l 2, P-r 3, P-l 4; e.g. subject "0000045" is pid 10000045 in D-r and
pid 40000045 in P-l. pids are thus unique per (aspect, subject) and readable.

Metadata normalisation: surrounding whitespace is stripped from every field
(the shipped file has one D-r row with id ``"1200000 "``, which belongs to
subject 1200000: without stripping D-r would have 144 identities instead of
the paper's 143) and ids are zero-padded to 7 digits.

:func:`read_metadata` and :func:`protocol` work from the metadata alone (no
image files needed), so Table II can be checked with just ``HandInfo.csv``.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import pandas as pd

from ._common import check_root, fill_hint, preview
from .split import NUM_REPEATS, DatasetError, Split, check_repeat, check_seed, finish_subset, hand_protocol

__all__ = [
    "ASPECTS",
    "ASPECT_NUMBER",
    "COLUMNS",
    "DIRNAME",
    "DOWNLOAD_HINT",
    "IMAGES_DIRNAME",
    "IMAGES_RELDIR",
    "IMAGE_NAME_FORMAT",
    "META_NAME",
    "META_RELPATH",
    "download_hint",
    "PID_STRIDE",
    "aspect_code",
    "load",
    "normalize_metadata",
    "protocol",
    "read_metadata",
    "subset_columns",
]

#: Sub-dataset code -> ``aspectOfHand`` value, in the papers' order.
ASPECTS: dict[str, str] = {
    "dr": "dorsal right",
    "dl": "dorsal left",
    "pr": "palmar right",
    "pl": "palmar left",
}

#: Sub-dataset code -> leading digit of its pids.
ASPECT_NUMBER: dict[str, int] = {"dr": 1, "dl": 2, "pr": 3, "pl": 4}

#: pid = ASPECT_NUMBER * PID_STRIDE + int(subject); subject ids have at most 7 digits.
PID_STRIDE = 10_000_000

#: The columns of HandInfo.csv, in the order the file ships with.
COLUMNS = (
    "id",
    "age",
    "gender",
    "skinColor",
    "accessories",
    "nailPolish",
    "aspectOfHand",
    "imageName",
    "irregularities",
)

_INT_COLUMNS = ("age", "accessories", "nailPolish", "irregularities")
_FLAG_COLUMNS = ("accessories", "nailPolish", "irregularities")
_EXTRA_COLUMNS = ("age", "gender", "skinColor", "nailPolish", "irregularities")

#: Dataset folder under the data root, and the metadata file and image folder in it.
DIRNAME = "11k"
META_NAME = "HandInfo.csv"
IMAGES_DIRNAME = "Hands"
#: Relative location of the metadata and images under the data root.
META_RELPATH = f"{DIRNAME}/{META_NAME}"
IMAGES_RELDIR = f"{DIRNAME}/{IMAGES_DIRNAME}"
#: File name of the image with number ``n``: ``IMAGE_NAME_FORMAT.format(n)`` -> ``Hand_0000002.jpg``.
IMAGE_NAME_FORMAT = "Hand_{:07d}.jpg"

DOWNLOAD_HINT = (
    "Get the 11k Hands dataset from https://sites.google.com/view/11khands (Hands.zip and "
    "HandInfo.csv) and unpack it so that {root}/11k/Hands/ (the .jpg images) and "
    "{root}/11k/HandInfo.csv exist; for a small synthetic tree in the same format run "
    "`python -m handreid.data.synthetic --out {root}`."
)


def download_hint(root: str | os.PathLike | None = None) -> str:
    """Where the 11k dataset comes from and how to unpack it under ``root``."""
    return fill_hint(DOWNLOAD_HINT, root)


def subset_columns(subset: str) -> list[str]:
    """Column order of an 11k subset DataFrame (``label`` only in train and val)."""
    head = ["path", "pid", "camid"] + (["label"] if subset in ("train", "val") else [])
    return head + ["subject", "aspect", *_EXTRA_COLUMNS]


def aspect_code(aspect: str) -> str:
    """Normalise an aspect to its code: ``"dr"``, ``"dl"``, ``"pr"`` or ``"pl"``.

    Accepts the code, the paper's label (``"D-r"``), the dataset name
    (``"11k-dr"``) or the metadata value (``"dorsal right"``), in any case.
    """
    if isinstance(aspect, str):
        s = aspect.strip().lower()
        if s.startswith("11k-"):
            s = s[4:]
        for code, full in ASPECTS.items():
            if s == full or s.replace("_", " ") == full:
                return code
        s = s.replace("-", "").replace("_", "").replace(" ", "")
        if s in ASPECTS:
            return s
    raise DatasetError(
        f"unknown 11k aspect {aspect!r}: expected one of {list(ASPECTS)} "
        f"(or {[f'11k-{c}' for c in ASPECTS]}, 'D-r', ..., or {list(ASPECTS.values())})."
    )


# ---------------------------------------------------------------------------
# metadata


def _bad_rows(source: str, column: str, mask: pd.Series, values: pd.Series, expected: str, root=None) -> DatasetError:
    rows = list(values.index[mask])
    # file line = position + 2 (line 1 is the header)
    shown = preview(f"line {i + 2}: {str(values.loc[i])!r}" for i in rows)
    return DatasetError(
        f"{source}: column {column!r} has {len(rows)} invalid value(s) ({shown}); "
        f"expected {expected}. The file looks damaged or is not the 11k HandInfo.csv. {download_hint(root)}"
    )


def normalize_metadata(meta: pd.DataFrame, source: str = "HandInfo metadata", root=None) -> pd.DataFrame:
    """Validate and normalise 11k metadata (as read from HandInfo.csv, or any equivalent DataFrame).

    Returns a copy with the nine columns of :data:`COLUMNS` first (extra columns kept after them),
    every field stripped of surrounding whitespace, ``id`` as a 7-digit zero-padded string, and
    ``age``, ``accessories``, ``nailPolish``, ``irregularities`` as ints. The index is reset to
    the row position (``position + 2`` is the line in the CSV file).

    Raises :class:`DatasetError` for missing columns, non-numeric or over-long ids, flags other
    than 0/1, unknown ``aspectOfHand`` values, empty or duplicate image names.
    """
    missing = [c for c in COLUMNS if c not in meta.columns]
    if missing:
        raise DatasetError(
            f"{source}: missing column(s) {missing} (renamed or absent). Expected the columns "
            f"{','.join(COLUMNS)}; found {','.join(map(str, meta.columns))}. "
            f"Use the HandInfo.csv that ships with the dataset, unmodified. {download_hint(root)}"
        )
    extra = [c for c in meta.columns if c not in COLUMNS]
    df = meta[list(COLUMNS) + extra].reset_index(drop=True).copy()
    for c in COLUMNS:
        df[c] = df[c].astype(str).str.strip()

    ids = df["id"]
    bad = ~ids.str.fullmatch(r"\d{1,7}")
    if bad.any():
        raise _bad_rows(source, "id", bad, ids, "a subject id of at most 7 digits, e.g. \"0000045\"", root=root)
    df["id"] = ids.str.zfill(7)

    for c in _INT_COLUMNS:
        bad = ~df[c].str.fullmatch(r"\d+")
        if bad.any():
            raise _bad_rows(source, c, bad, df[c], "a non-negative integer", root=root)
        df[c] = df[c].astype("int64")
    for c in _FLAG_COLUMNS:
        bad = ~df[c].isin([0, 1])
        if bad.any():
            raise _bad_rows(source, c, bad, df[c], "0 or 1", root=root)

    bad = ~df["aspectOfHand"].isin(list(ASPECTS.values()))
    if bad.any():
        raise _bad_rows(source, "aspectOfHand", bad, df["aspectOfHand"], f"one of {list(ASPECTS.values())}", root=root)

    names = df["imageName"]
    bad = (names == "") | names.str.contains(r"[/\\]")
    if bad.any():
        expected = "a bare image file name such as \"Hand_0000002.jpg\""
        raise _bad_rows(source, "imageName", bad, names, expected, root=root)
    bad = names.duplicated(keep=False)
    if bad.any():
        raise _bad_rows(source, "imageName", bad, names, "each image listed once (duplicate rows found)", root=root)
    return df


_READ: dict[tuple[str, str], pd.DataFrame] = {}  # (file, sha1 of its bytes) -> normalised metadata
_PROTOCOL: dict[tuple, dict[str, pd.DataFrame]] = {}  # (file, sha1, aspect, repeat, seed, num_repeats) -> parts


def _content_key(path: Path) -> tuple[str, str]:
    return str(path.resolve()), hashlib.sha1(path.read_bytes()).hexdigest()


def read_metadata(csv_path: str | os.PathLike) -> pd.DataFrame:
    """Read and validate ``HandInfo.csv`` (see :func:`normalize_metadata` for the result).

    A file read before in this process, byte for byte the same, is not parsed again (a copy of the
    earlier result): a training and its 10 evaluation repeats read it 11 times."""
    path = Path(csv_path)
    root = path.parent.parent if path.parent.name == DIRNAME else None
    if not path.is_file():
        raise DatasetError(f"11k metadata file {path} does not exist (expected HandInfo.csv). {download_hint(root)}")
    key = _content_key(path)
    if key in _READ:
        return _READ[key].copy()
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False, encoding="utf-8")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise DatasetError(
            f"cannot parse 11k metadata file {path}: {e}. Expected a comma-separated file with the "
            f"header {','.join(COLUMNS)}. {download_hint(root)}"
        ) from None
    raw.columns = [str(c) for c in raw.columns]
    meta = normalize_metadata(raw, source=str(path), root=root)
    if len(_READ) >= 8:
        _READ.clear()
    _READ[key] = meta
    return meta.copy()


# ---------------------------------------------------------------------------
# protocol


def _records(meta: pd.DataFrame, code: str) -> pd.DataFrame:
    """Rows of one aspect as subset records (no label), accessories already dropped."""
    sub = meta[meta["aspectOfHand"] == ASPECTS[code]]
    subject_num = sub["id"].astype("int64")
    out = pd.DataFrame(
        {
            "path": IMAGES_RELDIR + "/" + sub["imageName"],
            "pid": ASPECT_NUMBER[code] * PID_STRIDE + subject_num,
            "camid": 0,
            "subject": sub["id"],
            "aspect": sub["aspectOfHand"],
            **{c: sub[c] for c in _EXTRA_COLUMNS},
        }
    )
    out["pid"] = out["pid"].astype("int64")
    out["camid"] = out["camid"].astype("int64")
    return out


def _finish(df: pd.DataFrame, subset: str) -> pd.DataFrame:
    return finish_subset(df, subset_columns(subset))


def protocol(
    meta: pd.DataFrame,
    aspect: str,
    repeat: int = 0,
    seed: int = 0,
    *,
    num_repeats: int = NUM_REPEATS,
) -> dict[str, pd.DataFrame]:
    """The hand protocol on 11k metadata alone: ``{"train", "val", "query", "gallery"}`` DataFrames.

    ``meta`` is :func:`read_metadata`'s result (a raw DataFrame with the nine columns is
    normalised first). ``aspect`` is a code accepted by :func:`aspect_code`. Columns:
    :func:`subset_columns`; rows sorted by ``(pid, path)``. ``train`` and ``val`` carry
    ``label`` (0..n_train_ids-1 in numeric subject order); the gallery is common to the
    four aspects. Raises :class:`DatasetError` for invalid ``repeat``/``seed`` or an aspect
    with fewer than two identities.
    """
    repeat = check_repeat(repeat, num_repeats)
    seed = check_seed(seed)
    code = aspect_code(aspect)
    meta = normalize_metadata(meta, source="11k metadata")
    clean = meta[meta["accessories"] == 0]

    galleries = []
    parts: dict[str, pd.DataFrame] = {}
    for c in ASPECTS:
        rec = _records(clean, c)
        n = rec["pid"].nunique()
        if n < 2:
            raise DatasetError(
                f"11k aspect {ASPECTS[c]!r} has {n} identit{'y' if n == 1 else 'ies'} "
                "after dropping images with accessories; the protocol needs at least 2 (the first half "
                "trains, the rest tests, and the common gallery takes one image of each test identity "
                "of all four aspects). The metadata is incomplete. " + download_hint()
            )
        drawn = hand_protocol(rec, repeat=repeat, seed=seed)
        galleries.append(drawn["gallery"])
        if c == code:
            parts = {s: _finish(drawn[s], s) for s in ("train", "val", "query")}
    parts["gallery"] = _finish(pd.concat(galleries), "gallery")
    return {s: parts[s] for s in ("train", "val", "query", "gallery")}


# ---------------------------------------------------------------------------
# loader


def _check_layout(root: Path) -> tuple[Path, Path]:
    check_root(root, f"{META_RELPATH} and {IMAGES_RELDIR}/", download_hint(root), holding_dir=f"{DIRNAME}/")
    base = root / DIRNAME
    csv_path = root / META_RELPATH
    hands = root / IMAGES_RELDIR
    if not base.is_dir():
        raise DatasetError(
            f"{base} does not exist: the data root {root} has no {DIRNAME}/ directory; expected "
            f"{csv_path} and {hands}/. {download_hint(root)}"
        )
    if not csv_path.is_file():
        raise DatasetError(
            f"11k metadata file {csv_path} does not exist (expected HandInfo.csv in {base}). {download_hint(root)}"
        )
    if not hands.is_dir():
        raise DatasetError(
            f"11k image directory {hands} does not exist (expected Hands/ with the .jpg images next to "
            f"{csv_path.name}). {download_hint(root)}"
        )
    return csv_path, hands


def _check_images(meta: pd.DataFrame, hands: Path, csv_path: Path, root: Path) -> None:
    on_disk = set(os.listdir(hands))
    missing = [n for n in meta["imageName"] if n not in on_disk]
    if missing:
        shown = preview(missing)
        raise DatasetError(
            f"{len(missing)} of {len(meta)} image(s) listed in {csv_path} are missing from {hands}: "
            f"{shown} (e.g. {hands / missing[0]}). File names are case-sensitive. Re-extract Hands.zip "
            f"completely into {hands}. {download_hint(root)}"
        )


def load(
    root: str | os.PathLike,
    aspect: str,
    repeat: int = 0,
    seed: int = 0,
    *,
    num_repeats: int = NUM_REPEATS,
) -> Split:
    """Load one 11k sub-dataset split from ``<root>/11k`` (see the module docstring).

    Checks the layout and that every image listed in HandInfo.csv exists (a directory
    listing, no decoding), then applies :func:`protocol`.
    """
    repeat = check_repeat(repeat, num_repeats)
    seed = check_seed(seed)
    code = aspect_code(aspect)
    root = Path(root).expanduser()
    csv_path, hands = _check_layout(root)
    meta = read_metadata(csv_path)
    _check_images(meta, hands, csv_path, root)
    # the same draws for the same file: a sweep worker's runs on one sub-dataset share them
    key = (*_content_key(csv_path), code, repeat, seed, num_repeats)
    if key not in _PROTOCOL:
        if len(_PROTOCOL) >= 256:
            _PROTOCOL.clear()
        _PROTOCOL[key] = protocol(meta, code, repeat, seed, num_repeats=num_repeats)
    parts = {k: v.copy() for k, v in _PROTOCOL[key].items()}
    num_classes = int(pd.concat([parts["train"]["label"], parts["val"]["label"]]).nunique())
    info: dict[str, Any] = {
        "dataset": "11k",
        "aspect": ASPECTS[code],
        "metadata": str(csv_path.resolve()),
        "protocol": "GPA-Net §3.1 / LAGA-Net §IV-A: no accessories; first ceil(n/2) ids train; "
        "1 val image per train id (seed); 1 gallery image per test id (seed, repeat); common 4-aspect gallery",
        "pid_rule": f"pid = aspect_number * {PID_STRIDE} + int(subject); aspect_number {ASPECT_NUMBER}",
    }
    return Split(
        name=f"11k-{code}",
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
