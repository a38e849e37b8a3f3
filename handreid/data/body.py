"""Body Re-Id benchmarks (LAGA-Net Table I; docs/DESIGN.md §1): Market-1501, DukeMTMC-reID and MSMT17.

CUHK03 (new 767/700 protocol) lives in :mod:`handreid.data.cuhk03`; :func:`body_split`,
shared by all four, lives here (the Table I counts in :mod:`handreid.data.overview`,
the repeat check in :mod:`handreid.data.split`). docs/DESIGN.md §1.

Common rules, as in torchreid and the papers that report Table I:

* each benchmark has **one fixed** train/query/gallery split: ``repeat`` must be 0
  (the Monte-Carlo repeats are a hand-protocol notion); ``seed`` is validated and
  recorded but draws nothing;
* ``val`` is an empty DataFrame with the train columns (nothing is held out);
* ``label`` runs over ``0..num_classes-1`` in increasing pid order;
* ``camid`` is 0-based (file name camera minus 1) and :attr:`Split.camera_rule`
  is True: a gallery image with the query's pid *and* camid is ignored by the
  evaluation (as are junk images, which are dropped here already);
* ``path`` is relative to the data root, posix separators.

No image is decoded: the loaders list directories (and read MSMT17's lists).

Market-1501 (``market1501``)::

    <root>/Market-1501-v15.09.15/       (or market1501/, Market-1501/, market1501/Market-1501-v15.09.15/)
        bounding_box_train/  0002_c1s1_000451_03.jpg   pid _ c<cam>s<seq> _ <frame> _ <box>
        query/               0001_c1s1_001051_00.jpg
        bounding_box_test/   0000_c1s1_000151_01.jpg   pid 0: distractor; -1_c1s1_...: junk

pid ``-1`` (junk) is dropped from every subset (the count is in ``split.info``);
pid ``0`` (distractors) is kept in the gallery, where it counts as one identity.
That is how Table I counts the gallery: 751 ids = 750 test ids + the distractor
class "0", 15,913 images = 19,732 in ``bounding_box_test`` - 3,819 junk (the
15,913 include the 2,793 distractors). Table I: train 751/12,936, query
750/3,368, gallery 751/15,913, 6 cameras.

DukeMTMC-reID (``dukemtmc``)::

    <root>/DukeMTMC-reID/                (or dukemtmc-reid/DukeMTMC-reID/)
        bounding_box_train/  0001_c2_f0046182.jpg       pid _ c<cam> _ f<frame>
        query/               0005_c2_f0046985.jpg
        bounding_box_test/   0002_c1_f0044158.jpg       (408 single-camera distractor ids of their own)

Table I: train 702/16,522, query 702/2,228, gallery 1,110/17,661, 8 cameras.

MSMT17 (``msmt17``)::

    <root>/MSMT17_V1/                    (or MSMT17/, msmt17/MSMT17_V1/)
        train/0000/0000_000_01_0303morning_0015_0.jpg   (images of list_train.txt and list_val.txt)
        test/0000/0000_000_01_0303morning_0008_0.jpg    (images of list_query.txt and list_gallery.txt)
        list_train.txt  list_val.txt  list_query.txt  list_gallery.txt
                        lines "0000/0000_000_01_0303morning_0015_0.jpg 0": path and pid

The camera is the third ``_`` field of the file name (``01``..``15`` -> camid
0..14). Training uses ``list_train.txt`` only (Table I: 1,041/30,248); pass
``combine_val=True`` to add ``list_val.txt`` (2,373 images of the same ids:
32,621, the number LAGA-Net's prose quotes). MSMT17 numbers train and test
identities independently (both start at 0), so test pids are shifted by
``MSMT17_TEST_PID_OFFSET`` (10,000) to keep pids unique across the split.
Table I: query 3,060/11,659, gallery 3,060/82,161, 15 cameras.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Callable, Sequence

import pandas as pd

from ._common import check_root, expected_layout, fill_hint, list_images, preview
from .split import DatasetError, Split, check_body_repeat, check_seed, finish_subset

__all__ = [
    "BASE_COLUMNS",
    "BBOX_SUBDIRS",
    "DUKE_DIRNAMES",
    "MARKET_DIRNAMES",
    "MSMT17_TEST_PID_OFFSET",
    "MSMT_DIRNAMES",
    "MSMT_LISTS",
    "body_split",
    "check_body_repeat",
    "load_dukemtmc",
    "load_market1501",
    "load_msmt17",
    "subset_columns",
]

#: Columns of every body subset (``label`` added in train and val).
BASE_COLUMNS = ("path", "pid", "camid")

#: MSMT17 test pid = this + the pid of list_query/list_gallery.
MSMT17_TEST_PID_OFFSET = 10_000

#: Market-1501 and DukeMTMC-reID: the train, query and gallery folders.
BBOX_SUBDIRS = ("bounding_box_train", "query", "bounding_box_test")


def subset_columns(subset: str) -> list[str]:
    """Column order of a body subset DataFrame: path, pid, camid (+ label for train and val)."""
    return list(BASE_COLUMNS) + (["label"] if subset in ("train", "val") else [])


# ---------------------------------------------------------------------------
# shared helpers


def _finish(df: pd.DataFrame, subset: str) -> pd.DataFrame:
    out = finish_subset(df, subset_columns(subset))
    for c in out.columns:
        if c != "path":
            out[c] = out[c].astype("int64")
    return out


def body_split(
    name: str,
    root: Path,
    train: pd.DataFrame,
    query: pd.DataFrame,
    gallery: pd.DataFrame,
    *,
    seed: int,
    info: dict,
) -> Split:
    """A body :class:`Split` from path/pid/camid frames: labels by pid order, empty val, camera rule on."""
    train = train.copy()
    pids = sorted(train["pid"].unique())
    train["label"] = train["pid"].map({p: i for i, p in enumerate(pids)})
    val = pd.DataFrame({c: pd.Series(dtype="object" if c == "path" else "int64") for c in subset_columns("val")})
    return Split(
        name=name,
        root=root.resolve(),
        repeat=0,
        seed=seed,
        train=_finish(train, "train"),
        val=val,
        query=_finish(query, "query"),
        gallery=_finish(gallery, "gallery"),
        num_classes=len(pids),
        camera_rule=True,
        info=info,
    )


def _find_base(root: Path, candidates: Sequence[str], required: Sequence[str], what: str, tree: str, hint: str) -> Path:
    """The first candidate folder under ``root`` that holds every ``required`` entry."""
    expected = expected_layout(tree, root)
    check_root(root, what, hint, expected)
    found = [root / c for c in candidates if (root / c).is_dir()]
    for base in found:
        if all((base / r).exists() for r in required):
            return base
    if found:
        base = found[0]
        missing = [r for r in required if not (base / r).exists()]
        raise DatasetError(
            f"{base} is incomplete: {', '.join(missing)} missing (found: "
            f"{', '.join(sorted(os.listdir(base))[:10]) or 'nothing'}). {expected}{hint}"
        )
    names = ", ".join(f"{c}/" for c in candidates)
    raise DatasetError(f"{what} not found under {root}: none of {names} exists. {expected}{hint}")


def _parse_folder(
    base: Path,
    root: Path,
    sub: str,
    pattern: re.Pattern,
    example: str,
    num_cams: int,
    hint: str,
    pid_ok: Callable[[int], bool],
    pid_rule: str,
) -> pd.DataFrame:
    """path/pid/camid of one folder of ``pid_c<cam>...`` images (pid -1 kept, for the caller)."""
    folder = base / sub
    rel = folder.relative_to(root).as_posix()
    rows, bad = [], []
    for name, m in list_images(folder, pattern, f"the file name pattern of this dataset (e.g. {example})", hint):
        pid, cam = int(m.group("pid")), int(m.group("cam"))
        if not (1 <= cam <= num_cams) or not pid_ok(pid):
            bad.append(name)
        rows.append((f"{rel}/{name}", pid, cam - 1))
    if bad:
        shown = preview(bad)
        raise DatasetError(
            f"{folder}: {len(bad)} image(s) with a camera outside c1..c{num_cams} or a pid outside "
            f"{pid_rule}: {shown}. {hint}"
        )
    return pd.DataFrame(rows, columns=["path", "pid", "camid"])


# ---------------------------------------------------------------------------
# Market-1501

MARKET_DIRNAMES = ("Market-1501-v15.09.15", "market1501", "Market-1501", "market1501/Market-1501-v15.09.15")
MARKET_HINT = (
    "Get Market-1501-v15.09.15.zip from the Market-1501 project page "
    "(https://zheng-lab.cecs.anu.edu.au/Project/project_reid.html, formerly "
    "http://www.liangzheng.org/Project/project_reid.html) and unzip it into {root}; for a small synthetic "
    "tree in the same format run `python -m handreid.data.synthetic --out {root} --dataset market1501`."
)
_MARKET_TREE = (
    "    {root}/Market-1501-v15.09.15/     (or market1501/, Market-1501/)\n"
    "        bounding_box_train/   0002_c1s1_000451_03.jpg ...\n"
    "        query/                0001_c1s1_001051_00.jpg ...\n"
    "        bounding_box_test/    0000_c1s1_000151_01.jpg, -1_c1s1_000401_03.jpg ..."
)
_MARKET_NAME = re.compile(r"(?P<pid>-1|\d+)_c(?P<cam>\d)s(?P<seq>\d+)_(?P<frame>\d+)_(?P<box>\d+)\.jpg", re.IGNORECASE)


def load_market1501(root: str | os.PathLike, repeat: int = 0, seed: int = 0) -> Split:
    """Market-1501 (see the module docstring): junk -1 dropped, distractors 0 kept in the gallery."""
    repeat = check_body_repeat(repeat, "market1501")
    seed = check_seed(seed)
    root = Path(root).expanduser()
    hint = fill_hint(MARKET_HINT, root)
    subs = BBOX_SUBDIRS
    base = _find_base(root, MARKET_DIRNAMES, subs, "Market-1501", _MARKET_TREE, hint)
    args = dict(pattern=_MARKET_NAME, example="0002_c1s1_000451_03.jpg", num_cams=6, hint=hint,
                pid_ok=lambda p: -1 <= p <= 1501, pid_rule="-1..1501")
    train, query, gallery = (_parse_folder(base, root, s, **args) for s in subs)
    dropped = {}
    for sub, df in zip(subs, (train, query, gallery)):
        dropped[sub] = int((df["pid"] == -1).sum())
    for sub, df in (("bounding_box_train", train), ("query", query)):
        if (df["pid"] == 0).any():
            raise DatasetError(
                f"{base / sub}: {int((df['pid'] == 0).sum())} image(s) with pid 0 (distractor), which belongs "
                f"to bounding_box_test only; this is not the Market-1501 release. {hint}"
            )
    train, query, gallery = (df[df["pid"] != -1] for df in (train, query, gallery))
    info = {
        "dataset": "market1501",
        "base": str(base.resolve()),
        "dropped_junk": dropped,
        "distractors": int((gallery["pid"] == 0).sum()),
        "protocol": "Market-1501 standard: bounding_box_train / query / bounding_box_test; pid -1 (junk) "
        "dropped; pid 0 (distractors) kept in the gallery; same pid+camera gallery images ignored",
        "pid_rule": "pid as in the file name; camid = c<cam> - 1",
    }
    return body_split("market1501", root, train, query, gallery, seed=seed, info=info)


# ---------------------------------------------------------------------------
# DukeMTMC-reID

DUKE_DIRNAMES = ("DukeMTMC-reID", "dukemtmc-reid/DukeMTMC-reID", "dukemtmcreid/DukeMTMC-reID")
DUKE_HINT = (
    "DukeMTMC-reID (DukeMTMC-reID.zip, from https://github.com/layumi/DukeMTMC-reID_evaluation; the "
    "creators have withdrawn DukeMTMC, so use a copy you are entitled to) unzipped into {root}; for a "
    "small synthetic tree in the same format run `python -m handreid.data.synthetic --out {root} --dataset dukemtmc`."
)
_DUKE_TREE = (
    "    {root}/DukeMTMC-reID/\n"
    "        bounding_box_train/   0001_c2_f0046182.jpg ...\n"
    "        query/                0005_c2_f0046985.jpg ...\n"
    "        bounding_box_test/    0002_c1_f0044158.jpg ..."
)
_DUKE_NAME = re.compile(r"(?P<pid>\d+)_c(?P<cam>\d)_f(?P<frame>\d+)\.jpg", re.IGNORECASE)


def load_dukemtmc(root: str | os.PathLike, repeat: int = 0, seed: int = 0) -> Split:
    """DukeMTMC-reID (see the module docstring)."""
    repeat = check_body_repeat(repeat, "dukemtmc")
    seed = check_seed(seed)
    root = Path(root).expanduser()
    hint = fill_hint(DUKE_HINT, root)
    subs = BBOX_SUBDIRS
    base = _find_base(root, DUKE_DIRNAMES, subs, "DukeMTMC-reID", _DUKE_TREE, hint)
    args = dict(pattern=_DUKE_NAME, example="0001_c2_f0046182.jpg", num_cams=8, hint=hint,
                pid_ok=lambda p: p >= 1, pid_rule="1 or more (Duke has no junk or 0 pids)")
    train, query, gallery = (_parse_folder(base, root, s, **args) for s in subs)
    info = {
        "dataset": "dukemtmc",
        "base": str(base.resolve()),
        "protocol": "DukeMTMC-reID standard: bounding_box_train / query / bounding_box_test; "
        "same pid+camera gallery images ignored",
        "pid_rule": "pid as in the file name; camid = c<cam> - 1",
    }
    return body_split("dukemtmc", root, train, query, gallery, seed=seed, info=info)


# ---------------------------------------------------------------------------
# MSMT17

MSMT_DIRNAMES = ("MSMT17_V1", "MSMT17", "msmt17/MSMT17_V1", "msmt17")
MSMT_HINT = (
    "Request MSMT17_V1 from its creators (http://www.pkuvmc.com/publications/msmt17.html) and unpack it "
    "into {root}; for a small synthetic tree in the same format run "
    "`python -m handreid.data.synthetic --out {root} --dataset msmt17`."
)
_MSMT_TREE = (
    "    {root}/MSMT17_V1/                (or MSMT17/)\n"
    "        train/0000/0000_000_01_0303morning_0015_0.jpg ...\n"
    "        test/0000/0000_000_01_0303morning_0008_0.jpg ...\n"
    "        list_train.txt  list_val.txt  list_query.txt  list_gallery.txt\n"
    "                      (lines '0000/0000_000_01_0303morning_0015_0.jpg 0': image path and pid)"
)
_MSMT_PATH = re.compile(r"(?P<dir>[^/\s]+)/(?P<name>[^/_\s]+_[^/_\s]+_(?P<cam>\d+)_[^/\s]*\.jpg)", re.IGNORECASE)
MSMT_LISTS = {"train": ("list_train.txt", "train"), "val": ("list_val.txt", "train"),
              "query": ("list_query.txt", "test"), "gallery": ("list_gallery.txt", "test")}


def _read_msmt_list(base: Path, root: Path, list_name: str, image_dir: str, hint: str) -> pd.DataFrame:
    path = base / list_name
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise DatasetError(f"cannot read MSMT17 list {path}: {e}. {hint}") from None
    rows, bad = [], []
    for lineno, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        fields = line.split()
        m = _MSMT_PATH.fullmatch(fields[0]) if len(fields) == 2 else None
        if m is None or not re.fullmatch(r"\d+", fields[1]) or not 1 <= int(m.group("cam")) <= 15:
            bad.append(f"line {lineno}: {line!r}")
            continue
        rows.append((fields[0], int(fields[1]), int(m.group("cam")) - 1))
    if bad:
        shown = preview(bad, "; ")
        raise DatasetError(
            f"{path}: {len(bad)} malformed line(s) ({shown}); expected '<pid dir>/<file>.jpg <pid>' such as "
            f"'0000/0000_000_01_0303morning_0015_0.jpg 0', the camera (01..15) being the third '_' field "
            f"of the file name. {hint}"
        )
    if not rows:
        raise DatasetError(f"MSMT17 list {path} is empty; expected one '<path> <pid>' line per image. {hint}")
    rel = (base / image_dir).relative_to(root).as_posix()
    df = pd.DataFrame(rows, columns=["list_path", "pid", "camid"])
    dup = df["list_path"].duplicated(keep=False)
    if dup.any():
        raise DatasetError(f"{path}: {int(dup.sum())} lines list the same image, e.g. {df.loc[dup, 'list_path'].iloc[0]}. {hint}")
    df["path"] = rel + "/" + df["list_path"]
    return df


def _check_msmt_files(base: Path, image_dir: str, frames: Sequence[tuple[str, pd.DataFrame]], hint: str) -> None:
    folder = base / image_dir
    listed = pd.concat([df["list_path"] for _, df in frames])
    on_disk: set[str] = set()
    for d in {p.split("/", 1)[0] for p in listed}:
        sub = folder / d
        if sub.is_dir():
            on_disk.update(f"{d}/{n}" for n in os.listdir(sub))
    missing = [p for p in listed if p not in on_disk]
    if missing:
        lists = " and ".join(MSMT_LISTS[s][0] for s, df in frames)
        shown = preview(missing)
        raise DatasetError(
            f"{len(missing)} of {len(listed)} image(s) listed in {lists} are missing from {folder}: {shown} "
            f"(e.g. {folder / missing[0]}). Re-extract the dataset completely. {hint}"
        )


def load_msmt17(root: str | os.PathLike, repeat: int = 0, seed: int = 0, *, combine_val: bool = False) -> Split:
    """MSMT17_V1 (see the module docstring); ``combine_val=True`` adds list_val.txt to training."""
    repeat = check_body_repeat(repeat, "msmt17")
    seed = check_seed(seed)
    if not isinstance(combine_val, bool):
        raise DatasetError(f"combine_val={combine_val!r} is invalid: expected True or False.")
    root = Path(root).expanduser()
    hint = fill_hint(MSMT_HINT, root)
    required = ("train", "test", *(v[0] for v in MSMT_LISTS.values()))
    base = _find_base(root, MSMT_DIRNAMES, required, "MSMT17", _MSMT_TREE, hint)
    frames = {s: _read_msmt_list(base, root, lst, d, hint) for s, (lst, d) in MSMT_LISTS.items()}
    _check_msmt_files(base, "train", [("train", frames["train"]), ("val", frames["val"])], hint)
    _check_msmt_files(base, "test", [("query", frames["query"]), ("gallery", frames["gallery"])], hint)
    train = pd.concat([frames["train"], frames["val"]]) if combine_val else frames["train"]
    query, gallery = frames["query"].copy(), frames["gallery"].copy()
    for df in (query, gallery):
        df["pid"] = df["pid"] + MSMT17_TEST_PID_OFFSET
    info = {
        "dataset": "msmt17",
        "base": str(base.resolve()),
        "combine_val": combine_val,
        "protocol": "MSMT17 official lists: list_train (+ list_val when combine_val) / list_query / "
        "list_gallery; same pid+camera gallery images ignored",
        "pid_rule": f"train pid as listed; query/gallery pid = {MSMT17_TEST_PID_OFFSET} + listed pid; "
        "camid = third '_' field of the file name - 1",
    }
    return body_split("msmt17", root, train, query, gallery, seed=seed, info=info)
