"""What every synthetic writer shares (docs/DESIGN.md §1): parameter checks, the parameter record
``synthetic.json`` and the idempotent start/finish of a tree, JPEG saving.

Every writer follows one contract: it returns the data root, records its parameters in
``<dataset folder>/synthetic.json``, does nothing when a complete tree with the same parameters
is there, replaces a synthetic tree written with other parameters, and refuses
(FileExistsError) to touch a tree it did not write.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from PIL import Image

#: Bump when the generator's output changes, so existing trees are rewritten.
FORMAT_VERSION = 1
#: Parameter record, in the dataset folder (next to HandInfo.csv for 11k).
PARAMS_FILE = "synthetic.json"


def write_json(path: Path, obj: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def is_count(v: Any) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def int_param(name: str, v: Any, lo: int, hi: int = 1_000_000) -> int:
    if not is_count(v) or not lo <= v <= hi:
        raise ValueError(f"{name}={v!r}: expected an int in {lo}..{hi}.")
    return int(v)


def range_param(name: str, v: Any, lo: int, hi: int = 1_000, why: str = "") -> list[int]:
    t = tuple(v) if isinstance(v, (tuple, list)) else None
    if t is None or len(t) != 2 or not all(is_count(x) for x in t) or not lo <= t[0] <= t[1] <= hi:
        raise ValueError(f"{name}={v!r}: expected (min, max) ints with {lo} <= min <= max <= {hi}{why}.")
    return [int(t[0]), int(t[1])]


def size_param(v: Any, lo: int = 16) -> list[int]:
    t = tuple(v) if isinstance(v, (tuple, list)) else None
    if t is None or len(t) != 2 or not all(is_count(x) and lo <= x <= 4096 for x in t):
        raise ValueError(f"image_size={v!r}: expected (width, height) ints in {lo}..4096.")
    return [int(t[0]), int(t[1])]


def count_files(path: Path) -> int:
    if path.is_file():
        return 1
    if not path.is_dir():
        return 0
    return sum(len(files) for _, _, files in os.walk(path))


def tree_ready(base: Path, params: dict[str, Any], counted: Sequence[str]) -> bool:
    """True when ``base`` holds a complete synthetic tree written with ``params``."""
    try:
        record = json.loads((base / PARAMS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    files = record.get("files")
    if record.get("complete") is not True or record.get("params") != params or not isinstance(files, dict):
        return False
    if set(files) != set(counted):
        return False
    return all(count_files(base / rel) == n for rel, n in files.items())


def start_tree(base: Path, params: dict[str, Any], owned: Sequence[str], counted: Sequence[str],
                force: bool, what: str) -> bool:
    """Prepare ``base`` for writing; True when an identical complete tree is there (nothing to do).

    ``owned``: paths under ``base`` this writer creates (or its loader derives, e.g. extracted
    images), cleared before a rewrite; ``counted``: those whose file counts prove completeness.
    """
    if not force and tree_ready(base, params, counted):
        return True
    record = base / PARAMS_FILE
    if not record.is_file() and any((base / o).exists() for o in owned):
        raise FileExistsError(
            f"{base} already holds a {what} tree that was not written by handreid.data.synthetic "
            f"(no {PARAMS_FILE}); refusing to overwrite it. Choose another root."
        )
    base.mkdir(parents=True, exist_ok=True)
    write_json(record, {"complete": False, "params": params})
    for rel in owned:  # ours (the record proves it)
        p = base / rel
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p)
        elif p.exists() or p.is_symlink():
            p.unlink()
    return False


def finish_tree(base: Path, params: dict[str, Any], counted: Sequence[str]) -> None:
    files = {rel: count_files(base / rel) for rel in counted}
    write_json(base / PARAMS_FILE, {"complete": True, "params": params, "files": files})


def save_jpeg(img: Image.Image, path: Path) -> None:
    img.save(path, format="JPEG", quality=90)
