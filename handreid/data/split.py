"""The :class:`Split` every dataset loader returns, the deterministic draws and the hand protocol
(docs/DESIGN.md §1).

A split is four pandas DataFrames (``train``, ``val``, ``query``, ``gallery``)
with at least the columns

* ``path``  -- str, relative to :attr:`Split.root`, posix separators
  (``"11k/Hands/Hand_0000002.jpg"``);
* ``pid``   -- int, person/identity id, unique across the whole split
  (a query pid never names a gallery distractor by accident);
* ``camid`` -- int, camera id (0 for the single-camera hand datasets);
* ``label`` -- int in ``0..num_classes-1`` (``train`` and ``val`` only),
  contiguous, in identity order;

plus dataset-specific extras (e.g. ``subject`` and ``aspect`` for 11k).

"One random image" of an identity is drawn without any RNG stream: it is the
image whose :func:`draw_key` is smallest.  The draw for one identity therefore
depends only on ``seed``, ``repeat``, the purpose of the draw and that
identity's file names -- not on numpy's generator, the Python version, the row
order of the metadata or the other identities.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
import numbers
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Mapping

import pandas as pd

__all__ = [
    "DatasetError",
    "Split",
    "NUM_REPEATS",
    "SUBSETS",
    "check_body_repeat",
    "check_repeat",
    "check_seed",
    "draw_key",
    "draw_one_per_identity",
    "finish_subset",
    "hand_protocol",
    "table_ii_counts",
]

#: Monte-Carlo query/gallery draws of the hand protocol (GPA-Net §3.1: "repeated for 10 times").
NUM_REPEATS = 10

#: The four subsets of a split, in manifest order.
SUBSETS = ("train", "val", "query", "gallery")


class DatasetError(ValueError):
    """A dataset is missing, malformed, or asked for with invalid arguments.

    The message names the offending path or value, what was expected, and how
    to fix it.
    """


# ---------------------------------------------------------------------------
# argument checks


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_seed(seed: Any) -> int:
    """Return ``seed`` as an int, or raise :class:`DatasetError` unless it is a non-negative int."""
    if not _is_int(seed) or seed < 0:
        raise DatasetError(
            f"seed={seed!r} is invalid: expected a non-negative int (e.g. seed=0). "
            "The seed fixes the validation draw and, with `repeat`, the query/gallery draw."
        )
    return int(seed)


def check_repeat(repeat: Any, num_repeats: int = NUM_REPEATS) -> int:
    """Return ``repeat`` as an int, or raise :class:`DatasetError`.

    ``repeat`` must be an int in ``range(num_repeats)``; the hand protocol has
    ``NUM_REPEATS = 10`` Monte-Carlo query/gallery draws. Pass a larger
    ``num_repeats`` to allow more draws.
    """
    if not _is_int(num_repeats) or num_repeats < 1:
        raise DatasetError(
            f"num_repeats={num_repeats!r} is invalid: expected a positive int (the protocol uses {NUM_REPEATS})."
        )
    if not _is_int(repeat) or repeat < 0:
        raise DatasetError(
            f"repeat={repeat!r} is invalid: expected a non-negative int in range({num_repeats}) "
            "selecting one Monte-Carlo query/gallery draw (e.g. repeat=0)."
        )
    if repeat >= num_repeats:
        raise DatasetError(
            f"repeat={repeat} is out of range: the protocol has {num_repeats} query/gallery draws "
            f"(repeat in 0..{num_repeats - 1}). Pass num_repeats={repeat + 1} or more to allow further draws."
        )
    return int(repeat)


def check_body_repeat(repeat: Any, name: str) -> int:
    """Return 0, or raise :class:`DatasetError`: body benchmarks have a single fixed split."""
    if not _is_int(repeat) or repeat != 0:
        raise DatasetError(
            f"repeat={repeat!r} is invalid for {name!r}: the body protocols have a single fixed "
            "query/gallery split, so only repeat=0 exists (the 10 Monte-Carlo draws belong to the "
            "hand protocol of 11k and HD)."
        )
    return 0


# ---------------------------------------------------------------------------
# deterministic draws


def draw_key(seed: int, purpose: str, name: str, repeat: int | None = None) -> str:
    """The sort key of one image in a "one random image per identity" draw.

    ``sha256(f"{seed}|{repeat}|{purpose}|{name}")`` as hex, where ``name`` is
    the image's file name (no directory). With ``repeat=None`` (draws that must
    not change between repeats, e.g. the validation hold-out) the key is
    ``sha256(f"{seed}|{purpose}|{name}")``.
    """
    text = f"{seed}|{purpose}|{name}" if repeat is None else f"{seed}|{repeat}|{purpose}|{name}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def draw_one_per_identity(
    df: pd.DataFrame,
    *,
    seed: int,
    purpose: str,
    repeat: int | None = None,
    id_col: str = "pid",
    path_col: str = "path",
) -> pd.Series:
    """Boolean mask (aligned with ``df``) selecting one image per identity.

    Of each identity's images the one with the smallest :func:`draw_key` of its
    file name (the part of ``path_col`` after the last ``/``) is selected. File names are
    unique within a dataset, so there are no ties.
    """
    if df.empty:
        return pd.Series(False, index=df.index, dtype=bool)
    keys = [draw_key(seed, purpose, str(p).rsplit("/", 1)[-1], repeat) for p in df[path_col].tolist()]
    order = pd.DataFrame({"id": df[id_col].to_numpy(), "key": keys}, index=df.index)
    order = order.sort_values(["id", "key"], kind="mergesort")
    chosen = order.index[~order["id"].duplicated(keep="first")]
    mask = pd.Series(False, index=df.index, dtype=bool)
    mask.loc[chosen] = True
    return mask


# ---------------------------------------------------------------------------
# the hand protocol


def hand_protocol(
    records: pd.DataFrame,
    *,
    repeat: int,
    seed: int,
    key_col: str = "path",
) -> dict[str, pd.DataFrame]:
    """The hand Re-Id protocol on one set of identities (GPA-Net §3.1, LAGA-Net §IV-A; docs/DESIGN.md §1).

    ``records`` has one row per image with at least ``pid`` and ``key_col`` (the file name the
    draws use: the part after the last ``/``). The identities in increasing ``pid`` order; the
    first half, rounded up, trains, the rest tests. One image per training identity is held out
    for validation (purpose ``"val"``, ``seed`` only: the same for every repeat); per ``repeat``
    one image per test identity goes to the gallery (purpose ``"gallery"``), the rest to the query
    set. Returns ``{"train", "val", "query", "gallery"}`` in the row order of ``records``;
    ``train`` and ``val`` get ``label`` (0.. in pid order). Dataset-specific additions (11k's
    common gallery of four aspects, HD's distractor subjects) are the caller's.
    """
    pids = sorted(records["pid"].unique())
    if len(pids) < 2:
        raise DatasetError(
            f"{len(pids)} identit{'y' if len(pids) == 1 else 'ies'}; the hand protocol needs at least 2 "
            "(the first half trains, the rest tests)."
        )
    train_pids = pids[: math.ceil(len(pids) / 2)]
    is_train = records["pid"].isin(train_pids)
    train_all = records[is_train].copy()
    train_all["label"] = train_all["pid"].map({p: i for i, p in enumerate(train_pids)}).astype("int64")
    in_val = draw_one_per_identity(train_all, seed=seed, purpose="val", path_col=key_col)
    test = records[~is_train]
    in_gallery = draw_one_per_identity(test, seed=seed, purpose="gallery", repeat=repeat, path_col=key_col)
    return {"train": train_all[~in_val], "val": train_all[in_val], "query": test[~in_gallery],
            "gallery": test[in_gallery]}


def finish_subset(df: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """A subset as a :class:`Split` holds it: rows sorted by ``(pid, path)``, ``columns`` only, index 0..n-1."""
    return df.sort_values(["pid", "path"], kind="mergesort")[columns].reset_index(drop=True)


# ---------------------------------------------------------------------------
# the split


def _fmt(value: Any) -> str:
    """Stable text for one manifest cell (ints without decimals, missing as empty)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        f = float(value)
        if math.isnan(f):
            return ""
        return str(int(f)) if f.is_integer() else repr(f)
    try:
        if pd.isna(value):
            return ""
    except (TypeError, ValueError):
        pass
    return str(value)


def table_ii_counts(split: "Split | Mapping[str, pd.DataFrame]") -> dict[str, int]:
    """The Table II row values of a split (LAGA-Net Table II, GPA-Net §3.1).

    ``split`` is a :class:`Split` or a mapping with the four subsets (e.g. the
    result of :func:`handreid.data.hands11k.protocol`).

    Keys: ``train_ids``, ``train_images``, ``query_ids``, ``query_images``,
    ``gallery_ids``, ``gallery_images``. The papers count the held-out
    validation images as training images (D-r: 962 = train + val), so
    ``train_images = len(split.train) + len(split.val)`` and ``train_ids`` are
    the identities of train and val together.
    """
    parts = split.subsets() if isinstance(split, Split) else split
    train, val, query, gallery = (parts[s] for s in SUBSETS)
    return {
        "train_ids": len(set(train["pid"]) | set(val["pid"])),
        "train_images": len(train) + len(val),
        "query_ids": int(query["pid"].nunique()),
        "query_images": len(query),
        "gallery_ids": int(gallery["pid"].nunique()),
        "gallery_images": len(gallery),
    }


@dataclass(frozen=True, eq=False)
class Split:
    """One evaluation split of a dataset: train/val/query/gallery DataFrames.

    Attributes:
        name: registered dataset name, e.g. ``"11k-dr"``.
        root: absolute :class:`~pathlib.Path` of the data root; every ``path``
            column is relative to it.
        repeat: which Monte-Carlo query/gallery draw (0..9 for the hand protocol).
        seed: seed of the deterministic draws.
        train, val, query, gallery: the subsets (columns: see module docstring).
        num_classes: number of training identities (``label`` runs over ``0..num_classes-1``).
        camera_rule: True when a gallery image with the query's pid *and* camid
            must be ignored in evaluation (body datasets); False for hand data.
        info: free-form provenance (protocol, source file, notes).
    """

    name: str
    root: Path
    repeat: int
    seed: int
    train: pd.DataFrame
    val: pd.DataFrame
    query: pd.DataFrame
    gallery: pd.DataFrame
    num_classes: int
    camera_rule: bool = False
    info: dict = field(default_factory=dict)

    def subsets(self) -> dict[str, pd.DataFrame]:
        """The four subsets by name, in manifest order."""
        return {s: getattr(self, s) for s in SUBSETS}

    def image_paths(self, df: pd.DataFrame | pd.Series) -> list[Path]:
        """Absolute paths of the images of ``df`` (a subset DataFrame or its ``path`` column)."""
        paths = df["path"] if isinstance(df, pd.DataFrame) else df
        return [self.root.joinpath(*PurePosixPath(str(p)).parts) for p in paths]

    def counts(self) -> dict[str, int]:
        """Table II row values; train images include the validation hold-out (see :func:`table_ii_counts`)."""
        return table_ii_counts(self)

    def manifest(self) -> str:
        """CSV text of all four subsets, one row per image, with a leading ``subset`` column.

        Rows come in the order train, val, query, gallery, each subset in its
        own (deterministic) row order; columns are ``subset``, ``path``,
        ``pid``, ``camid``, ``label`` and then the remaining columns in order
        of first appearance. Missing values (``label`` of query and gallery)
        are empty. Lines end with ``\\n``. The text is byte-identical for the
        same (name, repeat, seed) and data on every machine.
        """
        frames = self.subsets()
        columns = ["path", "pid", "camid", "label"]
        for df in frames.values():
            columns += [c for c in df.columns if c not in columns]
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(["subset", *columns])
        for subset, df in frames.items():
            present = [c for c in columns if c in df.columns]
            records = df[present].to_dict("records")
            for rec in records:
                writer.writerow([subset, *(_fmt(rec.get(c)) for c in columns)])
        return buf.getvalue()

    def fingerprint(self) -> str:
        """sha256 hex digest of :meth:`manifest` (short identity of the split for run records)."""
        return hashlib.sha256(self.manifest().encode("utf-8")).hexdigest()

    def __repr__(self) -> str:  # DataFrames would flood the repr
        c = self.counts()
        return (
            f"Split(name={self.name!r}, repeat={self.repeat}, seed={self.seed}, root={str(self.root)!r}, "
            f"num_classes={self.num_classes}, train={len(self.train)}, val={len(self.val)}, "
            f"query={c['query_images']} ({c['query_ids']} ids), "
            f"gallery={c['gallery_images']} ({c['gallery_ids']} ids), camera_rule={self.camera_rule})"
        )
