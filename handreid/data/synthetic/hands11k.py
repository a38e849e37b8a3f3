"""Synthetic 11k Hands trees in the shipped format (docs/DESIGN.md §1).

:func:`write_11k` writes ``<root>/11k/HandInfo.csv`` (nine columns, quoted and CRLF-terminated
like the shipped file) and ``<root>/11k/Hands/Hand_XXXXXXX.jpg``, with the folder and file
names of the reader, :mod:`handreid.data.hands11k`; images by :mod:`.hands`.

Like the real data, subject ids are 7-digit zero-padded and not contiguous (small gaps with
occasional large jumps), subjects appear in shuffled capture order, not every subject has every
aspect, image numbers run with occasional gaps, and some images have ``accessories = 1`` (they
show a ring or a bracelet). Each (subject, aspect) has at least two accessory-free images, so
every identity can give one image to validation or the gallery and keep one.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..hands11k import ASPECTS, COLUMNS, DIRNAME, IMAGE_NAME_FORMAT, IMAGES_DIRNAME, META_NAME
from ._tree import FORMAT_VERSION, PARAMS_FILE, is_count, write_json
from .hands import (ASPECT_INDEX, HAND_SIDE, RENDERER_VERSION, Identity, Subject, render_hand, sample_identity,
                    sample_subject)

__all__ = ["check_params", "tree_complete", "write_11k"]

_IMAGE_NAME = re.compile(r"Hand_\d{7}\.jpg")


def check_params(num_subjects, images_per_aspect, image_size, accessory_fraction, seed) -> dict[str, Any]:
    """The parameter record of :func:`write_11k` (ValueError naming a bad value)."""
    if not is_count(num_subjects) or not 2 <= num_subjects <= 100_000:
        raise ValueError(
            f"num_subjects={num_subjects!r}: expected an int in 2..100000 (the protocol needs >= 2 per aspect)."
        )
    ipa = tuple(images_per_aspect)
    if len(ipa) != 2 or not all(is_count(v) for v in ipa) or not 2 <= ipa[0] <= ipa[1]:
        raise ValueError(
            f"images_per_aspect={images_per_aspect!r}: expected (min, max) ints with 2 <= min <= max "
            "(each identity needs one image for validation/gallery and one more)."
        )
    size = tuple(image_size)
    if len(size) != 2 or not all(is_count(v) and 32 <= v <= 4096 for v in size):
        raise ValueError(f"image_size={image_size!r}: expected (width, height) ints in 32..4096.")
    if not isinstance(accessory_fraction, (int, float)) or not 0 <= accessory_fraction < 1:
        raise ValueError(f"accessory_fraction={accessory_fraction!r}: expected a number in [0, 1).")
    if not is_count(seed) or seed < 0:
        raise ValueError(f"seed={seed!r}: expected a non-negative int.")
    return {
        "generator": "handreid.data.synthetic.write_11k",
        "format_version": FORMAT_VERSION,
        "renderer": RENDERER_VERSION,
        "num_subjects": int(num_subjects),
        "images_per_aspect": [int(ipa[0]), int(ipa[1])],
        "image_size": [int(size[0]), int(size[1])],
        "accessory_fraction": float(accessory_fraction),
        "seed": int(seed),
    }


def _plan(params: dict[str, Any]) -> tuple[list[Subject], list[tuple[Subject, str, int, int]]]:
    """Subjects and the rows (subject, aspect code, image number, accessories) in capture order."""
    seed, n = params["seed"], params["num_subjects"]
    lo, hi = params["images_per_aspect"]
    frac = params["accessory_fraction"]
    rng = np.random.default_rng([seed, 0])

    # 7-digit ids: small gaps with occasional large jumps (like 0001593 -> 1200000 in the real file)
    big_max = max(1001, 9_000_000 // n)
    gaps = np.where(rng.random(n) < 0.9, rng.integers(1, 41, n), rng.integers(1000, big_max, n))
    gaps[0] = rng.integers(0, 20)
    ids = np.cumsum(gaps)
    assert ids[-1] < 10_000_000
    subjects = [sample_subject(np.random.default_rng([seed, 1, i]), f"{int(v):07d}") for i, v in enumerate(ids)]

    codes = list(ASPECTS)
    has = rng.random((n, 4)) < 0.85
    has[~has.any(axis=1), int(rng.integers(0, 4))] = True
    for k in range(4):  # every aspect needs >= 2 identities
        while has[:, k].sum() < 2:
            has[int(rng.choice(np.flatnonzero(~has[:, k]))), k] = True

    rows = []
    number = int(rng.integers(0, 5))
    for i in rng.permutation(n):  # capture order is not id order
        for k in rng.permutation(4):
            if not has[i, k]:
                continue
            total = int(rng.integers(lo, hi + 1))
            n_acc = min(int(rng.binomial(total, frac)), total - 2)
            acc = np.zeros(total, dtype=int)
            acc[rng.choice(total, n_acc, replace=False)] = 1
            for flag in acc:
                number += 1 if rng.random() < 0.95 else int(rng.integers(2, 4))
                rows.append((subjects[i], codes[k], number, int(flag)))
    if frac > 0 and not any(r[3] for r in rows):  # at least one accessories row: add one extra image
        subj, code, _, _ = rows[-1]
        rows.append((subj, code, number + 1, 1))
    return subjects, rows


def _csv_line(subj: Subject, code: str, name: str, accessories: int) -> str:
    return (
        f'"{subj.sid}",{subj.age},"{subj.gender}","{subj.skin_name}",{accessories},{subj.nail_polish},'
        f'"{ASPECTS[code]}","{name}",{subj.irregular}'
    )


def tree_complete(base: Path, params: dict[str, Any]) -> bool:
    try:
        record = json.loads((base / PARAMS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if record.get("complete") is not True or record.get("params") != params:
        return False
    csv_path, hands = base / META_NAME, base / IMAGES_DIRNAME
    if not csv_path.is_file() or not hands.is_dir():
        return False
    lines = csv_path.read_text(encoding="utf-8").splitlines()[1:]
    names = {line.rsplit(",", 2)[1].strip('"') for line in lines if line}
    return len(names) == record.get("num_images") and names <= set(os.listdir(hands))


def write_11k(
    root: str | os.PathLike,
    num_subjects: int = 50,
    images_per_aspect: Sequence[int] = (4, 8),
    image_size: Sequence[int] = (160, 120),
    accessory_fraction: float = 0.1,
    seed: int = 0,
    *,
    force: bool = False,
) -> Path:
    """Write a synthetic 11k tree under ``root`` and return ``root`` (a DATA_ROOT for ``load_split``).

    Writes ``root/11k/HandInfo.csv``, ``root/11k/Hands/Hand_XXXXXXX.jpg`` (JPEG, ``image_size`` =
    (width, height)) and ``root/11k/synthetic.json`` (the parameters). ``num_subjects`` subjects
    get 1-4 aspects each; each (subject, aspect) gets ``images_per_aspect = (min, max)`` images
    (min >= 2) of which about ``accessory_fraction`` have ``accessories = 1``, keeping at least two
    without. The defaults give about 1,000 images (160x120); BENCHMARKS.md says how long they take.

    Idempotent: when the same parameters were written completely before, nothing is done (pass
    ``force=True`` to rewrite). A synthetic tree with other parameters is replaced. A tree without
    ``synthetic.json`` (e.g. the real dataset) is never touched: :class:`FileExistsError`.
    """
    params = check_params(num_subjects, images_per_aspect, image_size, accessory_fraction, seed)
    root = Path(root).expanduser()
    base = root / DIRNAME
    hands = base / IMAGES_DIRNAME
    record_path = base / PARAMS_FILE
    if not force and tree_complete(base, params):
        return root.resolve()
    if not record_path.is_file() and ((base / META_NAME).exists() or (hands.is_dir() and any(hands.iterdir()))):
        raise FileExistsError(
            f"{base} already holds an 11k tree that was not written by handreid.data.synthetic "
            f"(no {PARAMS_FILE}); refusing to overwrite it. Choose another --out directory."
        )
    hands.mkdir(parents=True, exist_ok=True)
    write_json(record_path, {"complete": False, "params": params})
    for old in hands.iterdir():  # ours (the record proves it): clear previous images
        if _IMAGE_NAME.fullmatch(old.name):
            old.unlink()

    _, rows = _plan(params)
    lines = [",".join(COLUMNS)]
    identities: dict[tuple[str, str], Identity] = {}
    size = tuple(params["image_size"])
    seed = params["seed"]
    for subj, code, number, acc in rows:
        name = IMAGE_NAME_FORMAT.format(number)
        key = (subj.sid, code)
        if key not in identities:
            sub_i = int(subj.sid)
            hand_rng = np.random.default_rng([seed, 2, sub_i, 0 if HAND_SIDE[code] == "right" else 1])
            mark_rng = np.random.default_rng([seed, 3, sub_i, ASPECT_INDEX[code]])
            identities[key] = sample_identity(mark_rng, subj, code, hand_rng)
        img = render_hand(identities[key], np.random.default_rng([seed, 4, number]), size, bool(acc))
        img.save(hands / name, format="JPEG", quality=90)
        lines.append(_csv_line(subj, code, name, acc))
    csv_tmp = base / f".{META_NAME}.tmp"
    with open(csv_tmp, "w", encoding="utf-8", newline="") as f:
        f.write("\r\n".join(lines) + "\r\n")
    os.replace(csv_tmp, base / META_NAME)
    write_json(record_path, {"complete": True, "params": params, "num_images": len(rows)})
    return root.resolve()
