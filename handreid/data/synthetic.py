"""Synthetic datasets in the exact on-disk format of the real ones (tests and the demo profile).

:func:`write_11k` writes ``<root>/11k/HandInfo.csv`` (nine columns, quoted and
CRLF-terminated like the shipped file) and ``<root>/11k/Hands/Hand_XXXXXXX.jpg``.

Every image shows a hand-like figure (palm ellipse, five rounded finger bars,
wrist) whose look is fixed by its identity -- skin colour, palm proportions,
finger lengths, widths and spread, and a set of dark marks at fixed positions
on the hand (moles and veins on the dorsal side, creases and moles on the
palmar side) -- while each image varies position, rotation, scale, finger
posture, lighting, background and noise. So images of one identity are similar
but not identical, and what separates identities is a small set of continuous
attributes a CNN can learn to embed and apply to identities it never saw.
One identity is one (aspect, subject) pair, as in the protocol: the left hand is
drawn with its own geometry jitter and marks and mirrored; the palmar side has
creases and a paler palm instead of nails and veins; right-dorsal and
left-palmar views put the thumb on the left, the other two on the right.

Like the real data, subject ids are 7-digit zero-padded and not contiguous
(small gaps with occasional large jumps), subjects appear in shuffled capture
order, not every subject has every aspect, image numbers run with occasional
gaps, and some images have ``accessories = 1`` (they show a ring or a
bracelet). Each (subject, aspect) has at least two accessory-free images, so
every identity can give one image to validation or the gallery and keep one.

The other datasets of DESIGN §1 have writers too, each in its real layout and
file formats: :func:`write_hd` (PolyU HD, dorsal hands from the same generator),
:func:`write_market1501`, :func:`write_dukemtmc`, :func:`write_msmt17` (JPEG
pedestrians: clothes colours, pattern, build and bag fixed per identity, pose,
scale, side and lighting per image, background and colour cast per camera) and
:func:`write_cuhk03` (real MATLAB files: the v5 new-protocol configs written with
scipy, ``cuhk-03.mat`` as HDF5 cell arrays of object references like MATLAB
v7.3). :func:`write_all` writes all six under one root at demo size.

CLI::

    python -m handreid.data.synthetic --out DIR [--subjects N] [--seed S]
    python -m handreid.data.synthetic --out DIR --dataset {hd,market1501,dukemtmc,cuhk03,msmt17,all} [--seed S]

The parameters are recorded in ``<root>/11k/synthetic.json`` (``<root>/HD/``,
``<root>/Market-1501-v15.09.15/`` ... for the others); rerunning with the same
parameters finds the complete tree and skips the work.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from PIL import Image, ImageDraw

from .hands11k import ASPECTS, COLUMNS

__all__ = [
    "FORMAT_VERSION",
    "PARAMS_FILE",
    "WRITERS",
    "main",
    "write_11k",
    "write_all",
    "write_cuhk03",
    "write_dukemtmc",
    "write_hd",
    "write_market1501",
    "write_msmt17",
]

#: Bump when the generator's output changes, so existing trees are rewritten.
FORMAT_VERSION = 1
#: Parameter record, next to HandInfo.csv.
PARAMS_FILE = "synthetic.json"

_IMAGE_NAME = re.compile(r"Hand_\d{7}\.jpg")

_SKIN_BASE = {
    "very fair": (238, 204, 184),
    "fair": (224, 180, 150),
    "medium": (192, 142, 106),
    "dark": (118, 80, 58),
}
# frequencies of the real 11k metadata (per image)
_SKIN_NAMES = ("medium", "fair", "dark", "very fair")
_SKIN_P = (0.59, 0.31, 0.07, 0.03)

# mirror factor per aspect: +1 draws the thumb on the left of the image
_MIRROR = {"dr": 1.0, "dl": -1.0, "pr": -1.0, "pl": 1.0}
_HAND = {"dr": "right", "pr": "right", "dl": "left", "pl": "left"}
_ASPECT_INDEX = {c: i for i, c in enumerate(ASPECTS)}

# finger order: thumb, index, middle, ring, little
_BASE_LEN = np.array([0.62, 0.86, 0.96, 0.89, 0.70])
_BASE_ANGLE = np.array([-58.0, -9.0, -2.0, 5.0, 13.0])  # degrees from vertical, + towards the little finger
_BASE_WIDTH = np.array([0.25, 0.19, 0.20, 0.19, 0.16])


# ---------------------------------------------------------------------------
# identities


@dataclass
class _Subject:
    sid: str
    age: int
    gender: str
    skin_name: str
    skin: np.ndarray  # RGB float
    nail_polish: int
    polish_color: np.ndarray
    irregular: int
    palm_w: float
    palm_h: float
    lengths: np.ndarray
    widths: np.ndarray
    spread: float


@dataclass
class _Identity:
    """Everything that makes one (subject, aspect) look like itself."""

    code: str
    skin: np.ndarray
    palm_w: float
    palm_h: float
    lengths: np.ndarray
    widths: np.ndarray
    angles: np.ndarray
    moles: np.ndarray  # (k, 4): u, v, radius, darkness
    lines: list  # list of (points (n, 2) in hand units, darkness)
    line_width: float
    nail_polish: int
    polish_color: np.ndarray


def _sample_subject(rng: np.random.Generator, sid: str) -> _Subject:
    gender = "female" if rng.random() < 0.64 else "male"
    skin_name = str(rng.choice(_SKIN_NAMES, p=_SKIN_P))
    skin = np.clip(np.array(_SKIN_BASE[skin_name], float) + rng.normal(0, 18, 3), 40, 250)
    polish = int(gender == "female" and rng.random() < 0.25)
    return _Subject(
        sid=sid,
        age=int(rng.integers(18, 76)),
        gender=gender,
        skin_name=skin_name,
        skin=skin,
        nail_polish=polish,
        polish_color=np.array([rng.uniform(150, 230), rng.uniform(10, 70), rng.uniform(40, 140)]),
        irregular=int(rng.random() < 0.015),
        palm_w=float(rng.uniform(0.82, 1.12)),
        palm_h=float(rng.uniform(0.98, 1.32)),
        lengths=_BASE_LEN * rng.uniform(0.82, 1.18, 5),
        widths=_BASE_WIDTH * rng.uniform(0.8, 1.2) * rng.uniform(0.9, 1.1, 5),
        spread=float(rng.uniform(0.55, 1.5)),
    )


def _inside_palm(rng: np.random.Generator, k: int, r: float = 0.8) -> np.ndarray:
    ang = rng.uniform(0, 2 * np.pi, k)
    rad = r * np.sqrt(rng.uniform(0, 1, k))
    return np.stack([rad * np.cos(ang), rad * np.sin(ang)], axis=1)


def _curve(p0, p1, bend: float, n: int = 6) -> np.ndarray:
    """Quadratic curve from p0 to p1 bulging by ``bend`` (hand units) to the left of the chord."""
    p0, p1 = np.asarray(p0, float), np.asarray(p1, float)
    mid = (p0 + p1) / 2
    d = p1 - p0
    normal = np.array([-d[1], d[0]]) / (np.hypot(*d) + 1e-9)
    ctrl = mid + normal * bend * 2
    t = np.linspace(0, 1, n)[:, None]
    return (1 - t) ** 2 * p0 + 2 * (1 - t) * t * ctrl + t**2 * p1


def _sample_identity(rng: np.random.Generator, subj: _Subject, code: str, hand_rng: np.random.Generator) -> _Identity:
    # the two hands of a person share skin and proportions up to a small per-hand jitter
    palm_w = subj.palm_w * hand_rng.uniform(0.96, 1.04)
    palm_h = subj.palm_h * hand_rng.uniform(0.96, 1.04)
    lengths = subj.lengths * hand_rng.uniform(0.95, 1.05, 5)
    widths = subj.widths * hand_rng.uniform(0.95, 1.05, 5)
    angles = _BASE_ANGLE * subj.spread * hand_rng.uniform(0.85, 1.15, 5)
    a, b = palm_w / 2, palm_h / 2
    dorsal = code[0] == "d"
    if dorsal:
        skin = subj.skin
        k = int(rng.integers(3, 7))
        uv = _inside_palm(rng, k)
        moles = np.column_stack([uv[:, 0] * a, uv[:, 1] * b, rng.uniform(0.06, 0.11, k), rng.uniform(0.25, 0.55, k)])
        lines = []
        for _ in range(int(rng.integers(2, 4))):  # veins from the wrist towards the knuckles
            p0 = (rng.uniform(-0.45, 0.45) * a, -0.95 * b)
            p1 = (rng.uniform(-0.6, 0.6) * a, rng.uniform(0.35, 0.7) * b)
            lines.append((_curve(p0, p1, rng.uniform(-0.15, 0.15)), rng.uniform(0.62, 0.8)))
        line_width = float(rng.uniform(0.05, 0.08))
    else:
        skin = subj.skin + (255 - subj.skin) * 0.28  # paler palm
        k = int(rng.integers(1, 4))
        uv = _inside_palm(rng, k, 0.7)
        moles = np.column_stack([uv[:, 0] * a, uv[:, 1] * b, rng.uniform(0.05, 0.09, k), rng.uniform(0.3, 0.55, k)])
        # heart, head and life lines: (start u, v), (end u, v), bend; jittered per identity
        # (hand frame in palm half-axes, thumb towards -u)
        creases = (
            ((0.95, 0.42), (-0.45, 0.62), 0.0),
            ((-0.85, 0.28), (0.75, 0.05), 0.0),
            ((-0.55, 0.32), (-0.15, -0.95), 0.12),
        )
        lines = []
        for (u0, v0), (u1, v1), bend in creases:
            du0, dv0, du1, dv1 = rng.uniform(-0.08, 0.08, 4)
            p0 = ((u0 + du0) * a, (v0 + dv0) * b)
            p1 = ((u1 + du1) * a, (v1 + dv1) * b)
            lines.append((_curve(p0, p1, bend + rng.uniform(-0.12, 0.12)), rng.uniform(0.55, 0.72)))
        if rng.random() < 0.6:  # an individual minor crease
            p0 = (rng.uniform(-0.2, 0.5) * a, rng.uniform(-0.8, -0.2) * b)
            p1 = (p0[0] + rng.uniform(-0.1, 0.3) * a, p0[1] + rng.uniform(0.4, 0.9) * b)
            lines.append((_curve(p0, p1, rng.uniform(-0.1, 0.1)), rng.uniform(0.65, 0.8)))
        line_width = float(rng.uniform(0.03, 0.05))
    return _Identity(
        code=code,
        skin=skin,
        palm_w=palm_w,
        palm_h=palm_h,
        lengths=lengths,
        widths=widths,
        angles=angles,
        moles=moles,
        lines=lines,
        line_width=line_width,
        nail_polish=subj.nail_polish,
        polish_color=subj.polish_color,
    )


# ---------------------------------------------------------------------------
# rendering


def _finger_geometry(ident: _Identity, jitter: np.ndarray):
    """Base point, unit direction, unit normal, length and width of each finger (hand frame)."""
    a, b = ident.palm_w / 2, ident.palm_h / 2
    out = []
    for f in range(5):
        if f == 0:
            base = np.array([-0.8 * a, 0.05 * b])
        else:
            x = a * (-0.62 + 0.413 * (f - 1))
            base = np.array([x, b * math.sqrt(max(0.0, 1 - (x / a) ** 2)) * 0.88])
        th = math.radians(ident.angles[f] + jitter[f])
        d = np.array([math.sin(th), math.cos(th)])
        n = np.array([d[1], -d[0]])
        out.append((base, d, n, float(ident.lengths[f]), float(ident.widths[f])))
    return out


def _finger_polygon(base, d, n, length, width) -> np.ndarray:
    r = width / 2
    start = base - d * 0.2
    tip_c = base + d * max(length - r, r)
    t = np.linspace(0, np.pi, 7)[:, None]
    arc = tip_c + r * (n * np.cos(t) + d * np.sin(t))
    return np.vstack([start + n * r, arc, start - n * r])


def _band(center, d, n, half_len, half_w) -> np.ndarray:
    return np.array([center + n * half_w + d * half_len, center - n * half_w + d * half_len,
                     center - n * half_w - d * half_len, center + n * half_w - d * half_len])


def _render(ident: _Identity, rng: np.random.Generator, size: tuple[int, int], accessory: bool) -> Image.Image:
    W, H = size
    bg = np.clip(rng.uniform(195, 250) + rng.normal(0, 6, 3), 0, 255)
    img = Image.new("RGB", (W, H), tuple(int(v) for v in bg))
    draw = ImageDraw.Draw(img)

    mirror = _MIRROR[ident.code]
    phi = math.radians(rng.uniform(-8, 8))
    cos_p, sin_p = math.cos(phi), math.sin(phi)
    s = 0.29 * min(H, W) * rng.uniform(0.92, 1.08)
    cx = W / 2 + rng.uniform(-0.08, 0.08) * W
    cy = 0.56 * H + rng.uniform(-0.05, 0.05) * H

    def tf(p) -> list[tuple[float, float]]:
        p = np.atleast_2d(np.asarray(p, float))
        x, y = mirror * p[:, 0], p[:, 1]
        xr, yr = x * cos_p - y * sin_p, x * sin_p + y * cos_p
        return list(zip((cx + s * xr).tolist(), (cy - s * yr).tolist()))

    def col(c) -> tuple[int, int, int]:
        return tuple(int(v) for v in np.clip(c, 0, 255))

    def dot(center, radius, fill):
        (x, y), r = tf(center)[0], max(0.8, radius * s)
        draw.ellipse([x - r, y - r, x + r, y + r], fill=fill)

    skin = ident.skin
    a, b = ident.palm_w / 2, ident.palm_h / 2
    skin_c = col(skin)
    shade_c = col(skin * 0.9)
    # wrist, palm, fingers
    wrist = np.array([[-0.68 * a, -0.5 * b], [0.68 * a, -0.5 * b], [0.8 * a, -4 * b], [-0.8 * a, -4 * b]])
    draw.polygon(tf(wrist), fill=shade_c)
    t = np.linspace(0, 2 * np.pi, 28, endpoint=False)
    draw.polygon(tf(np.column_stack([a * np.cos(t), b * np.sin(t)])), fill=skin_c)
    fingers = _finger_geometry(ident, rng.uniform(-3, 3, 5))
    for base, d, n, length, width in fingers:
        draw.polygon(tf(_finger_polygon(base, d, n, length, width)), fill=skin_c)

    dorsal = ident.code[0] == "d"
    if dorsal:  # nails
        nail_c = col(ident.polish_color) if ident.nail_polish else col(skin + (255 - skin) * 0.35)
        for base, d, n, length, width in fingers:
            center = base + d * (length - 0.16)
            draw.polygon(tf(_band(center, d, n, 0.11, width * 0.33)), fill=nail_c)
    else:  # finger joint creases
        for base, d, n, length, width in fingers[1:]:
            for frac in (0.3, 0.6):
                c = base + d * (length * frac)
                draw.line(tf([c - n * width * 0.4, c + n * width * 0.4]), fill=col(skin * 0.78), width=1)

    lw = max(1, int(round(ident.line_width * s)))
    for pts, dark in ident.lines:
        color = col(skin * dark * (np.array([0.95, 0.97, 1.12]) if dorsal else 1.0))
        draw.line(tf(pts), fill=color, width=lw)
    for u, v, r, dark in ident.moles:
        dot((u, v), r, col(skin * dark))

    if accessory:
        if rng.random() < 0.6:  # a ring on one of the four fingers
            base, d, n, length, width = fingers[int(rng.integers(1, 5))]
            metal = (212, 175, 55) if rng.random() < 0.5 else (190, 192, 200)
            draw.polygon(tf(_band(base + d * 0.2, d, n, 0.05, width * 0.62)), fill=metal)
        else:  # a bracelet or watch strap across the wrist
            strap = col(rng.uniform(20, 120, 3))
            y0 = -b * rng.uniform(1.15, 1.45)
            draw.polygon(tf([[-0.9 * a, y0], [0.9 * a, y0], [0.9 * a, y0 - 0.22], [-0.9 * a, y0 - 0.22]]), fill=strap)

    arr = np.asarray(img, dtype=np.float32)
    gain = rng.uniform(0.9, 1.1) * rng.uniform(0.97, 1.03, 3).astype(np.float32)
    arr = arr * gain + rng.normal(0.0, rng.uniform(3, 8), arr.shape).astype(np.float32)
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")


# ---------------------------------------------------------------------------
# the tree


def _check_params(num_subjects, images_per_aspect, image_size, accessory_fraction, seed) -> dict[str, Any]:
    def is_int(v):
        return isinstance(v, (int, np.integer)) and not isinstance(v, bool)

    if not is_int(num_subjects) or not 2 <= num_subjects <= 100_000:
        raise ValueError(
            f"num_subjects={num_subjects!r}: expected an int in 2..100000 (the protocol needs >= 2 per aspect)."
        )
    ipa = tuple(images_per_aspect)
    if len(ipa) != 2 or not all(is_int(v) for v in ipa) or not 2 <= ipa[0] <= ipa[1]:
        raise ValueError(
            f"images_per_aspect={images_per_aspect!r}: expected (min, max) ints with 2 <= min <= max "
            "(each identity needs one image for validation/gallery and one more)."
        )
    size = tuple(image_size)
    if len(size) != 2 or not all(is_int(v) and 32 <= v <= 4096 for v in size):
        raise ValueError(f"image_size={image_size!r}: expected (width, height) ints in 32..4096.")
    if not isinstance(accessory_fraction, (int, float)) or not 0 <= accessory_fraction < 1:
        raise ValueError(f"accessory_fraction={accessory_fraction!r}: expected a number in [0, 1).")
    if not is_int(seed) or seed < 0:
        raise ValueError(f"seed={seed!r}: expected a non-negative int.")
    return {
        "generator": "handreid.data.synthetic.write_11k",
        "format_version": FORMAT_VERSION,
        "num_subjects": int(num_subjects),
        "images_per_aspect": [int(ipa[0]), int(ipa[1])],
        "image_size": [int(size[0]), int(size[1])],
        "accessory_fraction": float(accessory_fraction),
        "seed": int(seed),
    }


def _plan(params: dict[str, Any]) -> tuple[list[_Subject], list[tuple[_Subject, str, int, int]]]:
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
    subjects = [_sample_subject(np.random.default_rng([seed, 1, i]), f"{int(v):07d}") for i, v in enumerate(ids)]

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


def _csv_line(subj: _Subject, code: str, name: str, accessories: int) -> str:
    return (
        f'"{subj.sid}",{subj.age},"{subj.gender}","{subj.skin_name}",{accessories},{subj.nail_polish},'
        f'"{ASPECTS[code]}","{name}",{subj.irregular}'
    )


def _tree_complete(base: Path, params: dict[str, Any]) -> bool:
    try:
        record = json.loads((base / PARAMS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if record.get("complete") is not True or record.get("params") != params:
        return False
    csv_path, hands = base / "HandInfo.csv", base / "Hands"
    if not csv_path.is_file() or not hands.is_dir():
        return False
    lines = csv_path.read_text(encoding="utf-8").splitlines()[1:]
    names = {line.rsplit(",", 2)[1].strip('"') for line in lines if line}
    return len(names) == record.get("num_images") and names <= set(os.listdir(hands))


def _write_json(path: Path, obj: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)


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
    without. The defaults give about 1,000 images (160x120), written in about two seconds.

    Idempotent: when the same parameters were written completely before, nothing is done (pass
    ``force=True`` to rewrite). A synthetic tree with other parameters is replaced. A tree without
    ``synthetic.json`` (e.g. the real dataset) is never touched: :class:`FileExistsError`.
    """
    params = _check_params(num_subjects, images_per_aspect, image_size, accessory_fraction, seed)
    root = Path(root).expanduser()
    base = root / "11k"
    hands = base / "Hands"
    record_path = base / PARAMS_FILE
    if not force and _tree_complete(base, params):
        return root.resolve()
    if not record_path.is_file() and ((base / "HandInfo.csv").exists() or (hands.is_dir() and any(hands.iterdir()))):
        raise FileExistsError(
            f"{base} already holds an 11k tree that was not written by handreid.data.synthetic "
            f"(no {PARAMS_FILE}); refusing to overwrite it. Choose another --out directory."
        )
    hands.mkdir(parents=True, exist_ok=True)
    _write_json(record_path, {"complete": False, "params": params})
    for old in hands.iterdir():  # ours (the record proves it): clear previous images
        if _IMAGE_NAME.fullmatch(old.name):
            old.unlink()

    _, rows = _plan(params)
    lines = [",".join(COLUMNS)]
    identities: dict[tuple[str, str], _Identity] = {}
    size = tuple(params["image_size"])
    seed = params["seed"]
    for subj, code, number, acc in rows:
        name = f"Hand_{number:07d}.jpg"
        key = (subj.sid, code)
        if key not in identities:
            sub_i = int(subj.sid)
            hand_rng = np.random.default_rng([seed, 2, sub_i, 0 if _HAND[code] == "right" else 1])
            mark_rng = np.random.default_rng([seed, 3, sub_i, _ASPECT_INDEX[code]])
            identities[key] = _sample_identity(mark_rng, subj, code, hand_rng)
        img = _render(identities[key], np.random.default_rng([seed, 4, number]), size, bool(acc))
        img.save(hands / name, format="JPEG", quality=90)
        lines.append(_csv_line(subj, code, name, acc))
    csv_tmp = base / ".HandInfo.csv.tmp"
    with open(csv_tmp, "w", encoding="utf-8", newline="") as f:
        f.write("\r\n".join(lines) + "\r\n")
    os.replace(csv_tmp, base / "HandInfo.csv")
    _write_json(record_path, {"complete": True, "params": params, "num_images": len(rows)})
    return root.resolve()


# ---------------------------------------------------------------------------
# HD and the body benchmarks
#
# Every writer below follows write_11k's contract: it returns the data root, records
# its parameters in ``<dataset folder>/synthetic.json``, does nothing when a complete
# tree with the same parameters is there, replaces a synthetic tree written with other
# parameters, and refuses (FileExistsError) to touch a tree it did not write.


def _is_count(v: Any) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def _int_param(name: str, v: Any, lo: int, hi: int = 1_000_000) -> int:
    if not _is_count(v) or not lo <= v <= hi:
        raise ValueError(f"{name}={v!r}: expected an int in {lo}..{hi}.")
    return int(v)


def _range_param(name: str, v: Any, lo: int, hi: int = 1_000, why: str = "") -> list[int]:
    t = tuple(v) if isinstance(v, (tuple, list)) else None
    if t is None or len(t) != 2 or not all(_is_count(x) for x in t) or not lo <= t[0] <= t[1] <= hi:
        raise ValueError(f"{name}={v!r}: expected (min, max) ints with {lo} <= min <= max <= {hi}{why}.")
    return [int(t[0]), int(t[1])]


def _size_param(v: Any, lo: int = 16) -> list[int]:
    t = tuple(v) if isinstance(v, (tuple, list)) else None
    if t is None or len(t) != 2 or not all(_is_count(x) and lo <= x <= 4096 for x in t):
        raise ValueError(f"image_size={v!r}: expected (width, height) ints in {lo}..4096.")
    return [int(t[0]), int(t[1])]


def _count_files(path: Path) -> int:
    if path.is_file():
        return 1
    if not path.is_dir():
        return 0
    return sum(len(files) for _, _, files in os.walk(path))


def _tree_ready(base: Path, params: dict[str, Any], counted: Sequence[str]) -> bool:
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
    return all(_count_files(base / rel) == n for rel, n in files.items())


def _start_tree(base: Path, params: dict[str, Any], owned: Sequence[str], counted: Sequence[str],
                force: bool, what: str) -> bool:
    """Prepare ``base`` for writing; True when an identical complete tree is there (nothing to do).

    ``owned``: paths under ``base`` this writer creates (or its loader derives, e.g. extracted
    images), cleared before a rewrite; ``counted``: those whose file counts prove completeness.
    """
    if not force and _tree_ready(base, params, counted):
        return True
    record = base / PARAMS_FILE
    if not record.is_file() and any((base / o).exists() for o in owned):
        raise FileExistsError(
            f"{base} already holds a {what} tree that was not written by handreid.data.synthetic "
            f"(no {PARAMS_FILE}); refusing to overwrite it. Choose another root."
        )
    base.mkdir(parents=True, exist_ok=True)
    _write_json(record, {"complete": False, "params": params})
    for rel in owned:  # ours (the record proves it)
        p = base / rel
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p)
        elif p.exists() or p.is_symlink():
            p.unlink()
    return False


def _finish_tree(base: Path, params: dict[str, Any], counted: Sequence[str]) -> None:
    files = {rel: _count_files(base / rel) for rel in counted}
    _write_json(base / PARAMS_FILE, {"complete": True, "params": params, "files": files})


def _save_jpeg(img: Image.Image, path: Path) -> None:
    img.save(path, format="JPEG", quality=90)


# ---------------------------------------------------------------------------
# HD


def _hd_params(num_subjects, num_extra, images_per_subject, image_size, seed) -> dict[str, Any]:
    return {
        "generator": "handreid.data.synthetic.write_hd",
        "format_version": FORMAT_VERSION,
        "num_subjects": _int_param("num_subjects", num_subjects, 2, 100_000),
        "num_extra": _int_param("num_extra", num_extra, 1, 100_000),
        "images_per_subject": _range_param("images_per_subject", images_per_subject, 2, 100,
                                           " (one image goes to validation or the gallery, one more stays)"),
        "image_size": _size_param(image_size, 32),
        "seed": _int_param("seed", seed, 0, 2**63 - 1),
    }


def write_hd(
    root: str | os.PathLike,
    num_subjects: int = 24,
    num_extra: int = 8,
    images_per_subject: Sequence[int] = (3, 6),
    image_size: Sequence[int] = (96, 72),
    seed: int = 0,
    *,
    force: bool = False,
) -> Path:
    """Write a synthetic HD tree under ``root`` and return ``root`` (a DATA_ROOT for ``load_split("hd")``).

    ``root/HD/Original Images/1-501/<id>_<k>.jpg`` for subjects ``1..num_subjects`` and
    ``root/HD/Original Images/502-712/<id>_<k>.jpg`` for ``num_extra`` additional subjects
    numbered from ``num_subjects`` on (the first shares its number with the last main
    subject, as the real folder names suggest; the loader keeps their pids apart). Each
    subject has ``images_per_subject = (min, max)`` images of one dorsal hand (the 11k
    generator's identities); about a quarter of the subjects use the extension ``.JPG``;
    the additional subjects' images are blurred ("lack clarity"). Parameters are recorded
    in ``root/HD/synthetic.json``; idempotent like :func:`write_11k`.
    """
    from PIL import ImageFilter

    params = _hd_params(num_subjects, num_extra, images_per_subject, image_size, seed)
    root = Path(root).expanduser()
    base = root / "HD"
    images = "Original Images"
    owned = [f"{images}/1-501", f"{images}/502-712"]
    if _start_tree(base, params, owned, owned, force, "HD"):
        return root.resolve()
    seed, size = params["seed"], tuple(params["image_size"])
    lo, hi = params["images_per_subject"]
    n, m = params["num_subjects"], params["num_extra"]
    rng = np.random.default_rng([seed, 20])
    for folder, ids, blur in (("1-501", range(1, n + 1), False), ("502-712", range(n, n + m), True)):
        out = base / images / folder
        out.mkdir(parents=True, exist_ok=True)
        f_idx = 0 if folder == "1-501" else 1
        for sid in ids:
            ext = ".JPG" if rng.random() < 0.25 else ".jpg"
            count = int(rng.integers(lo, hi + 1))
            subj = _sample_subject(np.random.default_rng([seed, 21, f_idx, sid]), f"{sid:07d}")
            ident = _sample_identity(np.random.default_rng([seed, 22, f_idx, sid]), subj, "dr",
                                     np.random.default_rng([seed, 23, f_idx, sid]))
            for k in range(1, count + 1):
                img = _render(ident, np.random.default_rng([seed, 24, f_idx, sid, k]), size, False)
                if blur:
                    img = img.filter(ImageFilter.GaussianBlur(radius=1.2))
                _save_jpeg(img, out / f"{sid}_{k}{ext}")
    _finish_tree(base, params, owned)
    return root.resolve()


# ---------------------------------------------------------------------------
# people for the body benchmarks


@dataclass
class _Person:
    """What makes one pedestrian look like itself in every camera."""

    top: np.ndarray
    bottom: np.ndarray
    accent: np.ndarray
    skin: np.ndarray
    hair: np.ndarray
    shoes: np.ndarray
    pattern: int  # 0 plain top, 1 horizontal stripe, 2 two-tone
    bag: int  # 0 none, 1 hand bag, 2 backpack strap
    width: float
    legs: float  # share of the height below the waist
    hat: bool


def _sample_person(rng: np.random.Generator) -> _Person:
    def colour(lo=15, hi=240):
        return rng.uniform(lo, hi, 3)

    skin_name = str(rng.choice(_SKIN_NAMES, p=_SKIN_P))
    return _Person(
        top=colour(), bottom=colour(10, 200), accent=colour(), shoes=colour(10, 120),
        skin=np.clip(np.array(_SKIN_BASE[skin_name], float) + rng.normal(0, 12, 3), 30, 250),
        hair=colour(10, 90),
        pattern=int(rng.integers(0, 3)), bag=int(rng.choice(3, p=(0.5, 0.25, 0.25))),
        width=float(rng.uniform(0.85, 1.2)), legs=float(rng.uniform(0.4, 0.5)), hat=bool(rng.random() < 0.15),
    )


def _camera_look(camera: int) -> tuple[np.ndarray, np.ndarray]:
    """Background colour and colour cast of one camera (fixed, the same in every dataset)."""
    r = np.random.default_rng([7919, camera])
    return r.uniform(70, 200, 3), r.uniform(0.88, 1.12, 3)


def _render_person(p: _Person, rng: np.random.Generator, size: Sequence[int], camera: int,
                   partial: bool = False) -> Image.Image:
    W, H = int(size[0]), int(size[1])
    bg0, cast = _camera_look(camera)
    bg = np.clip(bg0 + rng.normal(0, 10, 3), 0, 255)

    def col(c) -> tuple[int, int, int]:
        return tuple(int(v) for v in np.clip(c, 0, 255))

    img = Image.new("RGB", (W, H), col(bg))
    d = ImageDraw.Draw(img)
    d.rectangle([0, int(H * rng.uniform(0.8, 0.9)), W, H], fill=col(bg * 0.75))  # floor
    s = rng.uniform(0.86, 1.0)
    h = H * 0.92 * s
    top = H * 0.03 + rng.uniform(0, H - h - H * 0.03)
    cx = W / 2 + rng.uniform(-0.08, 0.08) * W
    bw = W * 0.40 * p.width * s
    hr = h * 0.07
    d.ellipse([cx - hr * 0.85, top, cx + hr * 0.85, top + 2 * hr], fill=col(p.skin))
    d.chord([cx - hr * 0.9, top - 1, cx + hr * 0.9, top + 1.4 * hr], 180, 360, fill=col(p.hair))
    if p.hat:
        d.rectangle([cx - hr, top - 1, cx + hr, top + 0.55 * hr], fill=col(p.accent))
    t0, t1 = top + 2 * hr, top + h * (1 - p.legs)
    arm = bw * 0.17
    d.rectangle([cx - bw / 2 - arm, t0 + 1, cx - bw / 2, t1 - (t1 - t0) * 0.08], fill=col(p.top * 0.85))
    d.rectangle([cx + bw / 2, t0 + 1, cx + bw / 2 + arm, t1 - (t1 - t0) * 0.08], fill=col(p.top * 0.85))
    d.rectangle([cx - bw / 2, t0, cx + bw / 2, t1], fill=col(p.top))
    if p.pattern == 1:
        d.rectangle([cx - bw / 2, t0 + (t1 - t0) * 0.4, cx + bw / 2, t0 + (t1 - t0) * 0.58], fill=col(p.accent))
    elif p.pattern == 2:
        d.rectangle([cx - bw / 2, t0 + (t1 - t0) * 0.55, cx + bw / 2, t1], fill=col(p.accent))
    foot = top + h
    lw, gap = bw * 0.42, bw * 0.07
    stride = rng.uniform(0, 0.1) * bw
    for sign in (-1, 1):
        x0 = cx + sign * (gap / 2 + stride / 2) - (lw if sign < 0 else 0)
        d.rectangle([x0, t1, x0 + lw, foot - h * 0.04], fill=col(p.bottom))
        d.rectangle([x0 - 1, foot - h * 0.04, x0 + lw + 1, foot], fill=col(p.shoes))
    if p.bag == 1:
        d.rectangle([cx + bw / 2, t1 - (t1 - t0) * 0.15, cx + bw / 2 + bw * 0.35, t1 + (t1 - t0) * 0.3],
                    fill=col(p.accent * 0.7))
    elif p.bag == 2:
        d.line([cx - bw / 2, t0, cx + bw / 2, t1], fill=col(p.accent * 0.5), width=max(1, int(bw * 0.12)))
    if rng.random() < 0.5:  # seen from the other side
        img = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    if partial:  # junk: a fragment of a detection, blown up
        y0 = int(rng.uniform(0.3, 0.6) * H)
        img = img.crop((0, y0, W, min(H, y0 + H // 3))).resize((W, H), Image.Resampling.BILINEAR)
    arr = np.asarray(img, dtype=np.float32) * cast.astype(np.float32) * np.float32(rng.uniform(0.85, 1.15))
    arr = arr + rng.normal(0.0, rng.uniform(3, 7), arr.shape).astype(np.float32)
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")


def _body_params(generator, num_train_ids, num_test_ids, images_per_camera, cameras_per_id, image_size,
                 seed, max_cameras, **extra) -> dict[str, Any]:
    return {
        "generator": f"handreid.data.synthetic.{generator}",
        "format_version": FORMAT_VERSION,
        "num_train_ids": _int_param("num_train_ids", num_train_ids, 1, 5_000),
        "num_test_ids": _int_param("num_test_ids", num_test_ids, 1, 5_000),
        "images_per_camera": _range_param("images_per_camera", images_per_camera, 2, 100,
                                          " (one query image per camera and at least one gallery image)"),
        "cameras_per_id": _range_param("cameras_per_id", cameras_per_id, 2, max_cameras,
                                       " (every query needs a gallery match in another camera)"),
        "image_size": _size_param(image_size),
        "seed": _int_param("seed", seed, 0, 2**63 - 1),
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
    subs = ["bounding_box_train", "query", "bounding_box_test"]
    if _start_tree(base, params, subs, subs, force, what):
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

    def emit(sub: str, pid: int, cam: int, person: _Person, partial: bool = False) -> None:
        frame[0] += int(rng.integers(1, 60))
        name = name_of(pid, cam, frame[0], rng)
        img = _render_person(person, np.random.default_rng([seed, 31, frame[0]]), size, cam, partial)
        _save_jpeg(img, base / sub / name)

    for pid in train_pids:
        person = _sample_person(np.random.default_rng([seed, 32, pid]))
        for cam, _ in _appearances(rng, pid, params, cameras):
            emit("bounding_box_train", pid, cam, person)
    for pid in test_pids:
        person = _sample_person(np.random.default_rng([seed, 32, pid]))
        for cam, j in _appearances(rng, pid, params, cameras):
            emit("query" if j == 0 else "bounding_box_test", pid, cam, person)
    if distractors == "zero":  # Market: pid 0 = distractors, pid -1 = junk, gallery only
        for i in range(n_dis):
            emit("bounding_box_test", 0, int(rng.integers(1, cameras + 1)),
                 _sample_person(np.random.default_rng([seed, 33, i])))
        for i in range(params["num_junk"]):
            emit("bounding_box_test", -1, int(rng.integers(1, cameras + 1)),
                 _sample_person(np.random.default_rng([seed, 34, i])), partial=True)
    else:  # Duke: distractor identities of their own, seen by one camera, gallery only
        for pid in dis_pids:
            person = _sample_person(np.random.default_rng([seed, 32, pid]))
            cam = int(rng.integers(1, cameras + 1))
            for _ in range(int(rng.integers(1, params["images_per_camera"][1] + 1))):
                emit("bounding_box_test", pid, cam, person)
    _finish_tree(base, params, subs)
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
                          image_size, seed, 6, num_distractors=_int_param("num_distractors", num_distractors, 0),
                          num_junk=_int_param("num_junk", num_junk, 0))
    if params["num_train_ids"] + params["num_test_ids"] > 1500:
        raise ValueError("num_train_ids + num_test_ids: Market-1501 pids run 2..1501 (at most 1500 identities).")
    return _write_bbox_dataset(root, "Market-1501-v15.09.15", params, force, "Market-1501", 6, _market_name,
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
                          image_size, seed, 8, num_distractors=_int_param("num_distractors", num_distractors, 0))
    if params["num_train_ids"] + params["num_test_ids"] + params["num_distractors"] > 7000:
        raise ValueError("too many identities: DukeMTMC-reID pids run 1..7140.")
    return _write_bbox_dataset(root, "DukeMTMC-reID", params, force, "DukeMTMC-reID", 8, _duke_name,
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
    base = root / "MSMT17_V1"
    lists = ["list_train.txt", "list_val.txt", "list_query.txt", "list_gallery.txt"]
    owned = ["train", "test", *lists]
    if _start_tree(base, params, owned, owned, force, "MSMT17"):
        return root.resolve()
    seed, size = params["seed"], params["image_size"]
    rng = np.random.default_rng([seed, 40])
    lines: dict[str, list[str]] = {name: [] for name in lists}
    frame = int(rng.integers(0, 100))
    for folder, n, salt in (("train", params["num_train_ids"], 41), ("test", params["num_test_ids"], 42)):
        val_ids = set(rng.choice(n, max(1, round(n * params["val_fraction"])), replace=False).tolist()) \
            if folder == "train" else set()
        for pid in range(n):
            person = _sample_person(np.random.default_rng([seed, salt, pid]))
            out = base / folder / f"{pid:04d}"
            out.mkdir(parents=True, exist_ok=True)
            shots = _appearances(rng, pid, params, 15)
            date = f"03{int(rng.integers(1, 32)):02d}"
            for idx, (cam, j) in enumerate(shots):
                frame += int(rng.integers(1, 40))
                name = f"{pid:04d}_{idx:03d}_{cam:02d}_{date}{_SLOTS[int(rng.integers(0, 3))]}_{frame:04d}_{j % 3}.jpg"
                img = _render_person(person, np.random.default_rng([seed, 43, salt, pid, idx]), size, cam)
                _save_jpeg(img, out / name)
                if folder == "train":
                    target = "list_val.txt" if pid in val_ids and idx == len(shots) - 1 else "list_train.txt"
                else:
                    target = "list_query.txt" if j == 0 else "list_gallery.txt"
                lines[target].append(f"{pid:04d}/{name} {pid}")
    for name, rows in lines.items():
        tmp = base / f".{name}.tmp"
        tmp.write_text("".join(r + "\n" for r in rows), encoding="utf-8")
        os.replace(tmp, base / name)
    _finish_tree(base, params, owned)
    return root.resolve()


# ---------------------------------------------------------------------------
# CUHK03 (MATLAB files)

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
    if ppp is None or len(ppp) != 5 or not all(_is_count(x) and 1 <= x <= 999 for x in ppp):
        raise ValueError(f"persons_per_pair={persons_per_pair!r}: expected 5 ints in 1..999 (one per camera pair).")
    total = sum(ppp)
    if total < 2:
        raise ValueError("persons_per_pair: at least 2 persons (one trains, one tests).")
    n_train = -(-total // 2) if num_train_ids is None else _int_param("num_train_ids", num_train_ids, 1, total - 1)
    params = {
        "generator": "handreid.data.synthetic.write_cuhk03",
        "format_version": FORMAT_VERSION,
        "persons_per_pair": [int(x) for x in ppp],
        "images_per_view": _range_param("images_per_view", images_per_view, 2, 5,
                                        " (one query image per view and at least one gallery image)"),
        "num_train_ids": int(n_train),
        "image_size": _size_param(image_size),
        "seed": _int_param("seed", seed, 0, 2**63 - 1),
    }
    root = Path(root).expanduser()
    base = root / "cuhk03"
    counted = ["cuhk-03.mat", "cuhk03_new_protocol_config_labeled.mat", "cuhk03_new_protocol_config_detected.mat"]
    owned = [*counted, "images_labeled", "images_detected"]  # the extracted images derive from cuhk-03.mat
    if _start_tree(base, params, owned, counted, force, "CUHK03"):
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
            look = _sample_person(np.random.default_rng([seed, 51, pid]))
            lab_cols: list[np.ndarray | None] = [None] * 10
            det_cols: list[np.ndarray | None] = [None] * 10
            for view in (1, 2):
                cam = 2 * pair - 2 + view  # each pair has its own two cameras (for the backgrounds)
                for j in range(int(rng.integers(lo, hi + 1))):
                    col = (view - 1) * 5 + j
                    size = (W + int(rng.integers(-3, 4)), H + int(rng.integers(-6, 7)))
                    lab_cols[col] = np.asarray(_render_person(look, np.random.default_rng([seed, 52, pid, col]), size, cam))
                    loose = _render_person(look, np.random.default_rng([seed, 53, pid, col]),
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
    _write_mat73_cells(base / "cuhk-03.mat", cells)

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
    for boxes in ("labeled", "detected"):
        _write_protocol_mat(base / f"cuhk03_new_protocol_config_{boxes}.mat", names, pids, cams, subsets)
    _finish_tree(base, params, counted)
    return root.resolve()


# ---------------------------------------------------------------------------
# all of them

#: Dataset -> writer, as the CLI's --dataset names them.
WRITERS = {
    "11k": write_11k,
    "hd": write_hd,
    "market1501": write_market1501,
    "dukemtmc": write_dukemtmc,
    "cuhk03": write_cuhk03,
    "msmt17": write_msmt17,
}


def write_all(root: str | os.PathLike, seed: int = 0, params: dict[str, dict[str, Any]] | None = None,
              *, force: bool = False) -> Path:
    """Write every synthetic dataset at demo size under one data root and return it.

    ``params`` maps a :data:`WRITERS` name to keyword arguments overriding that writer's
    defaults (e.g. ``{"11k": {"num_subjects": 40}}``). Each writer is idempotent, so a
    rerun with the same arguments only checks the trees.
    """
    params = dict(params or {})
    unknown = sorted(set(params) - set(WRITERS))
    if unknown:
        raise ValueError(f"params: unknown dataset(s) {unknown}; expected some of {sorted(WRITERS)}.")
    root = Path(root).expanduser()
    for name, writer in WRITERS.items():
        kwargs = {"seed": seed, **params.get(name, {})}
        writer(root, force=force, **kwargs)
    return root.resolve()


# ---------------------------------------------------------------------------
# CLI


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m handreid.data.synthetic",
        description="Write synthetic datasets in their real on-disk formats (default: an 11k Hands tree, "
        "HandInfo.csv + Hands/*.jpg).",
    )
    p.add_argument("--out", required=True, type=Path, help="data root; the tree goes to OUT/11k/")
    p.add_argument("--subjects", type=int, default=50, help="number of subjects (default 50)")
    p.add_argument("--seed", type=int, default=0, help="generator seed (default 0)")
    p.add_argument("--images-per-aspect", type=int, nargs=2, default=(4, 8), metavar=("MIN", "MAX"))
    p.add_argument("--size", type=int, nargs=2, default=(160, 120), metavar=("W", "H"), help="image size")
    p.add_argument("--accessory-fraction", type=float, default=0.1)
    p.add_argument("--force", action="store_true", help="rewrite even if an identical tree exists")
    p.add_argument("--dataset", choices=[*WRITERS, "all"], default="11k",
                   help="which dataset to write (default 11k); the others take their default sizes and --seed")
    args = p.parse_args(argv)
    if args.dataset != "11k":
        try:
            if args.dataset == "all":
                write_all(args.out, seed=args.seed, force=args.force)
            else:
                WRITERS[args.dataset](args.out, seed=args.seed, force=args.force)
        except (FileExistsError, ValueError) as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        print(f"{args.out}: synthetic {args.dataset} data ready.")
        return 0
    base = args.out / "11k"
    try:
        params = _check_params(args.subjects, args.images_per_aspect, args.size, args.accessory_fraction, args.seed)
        if not args.force and _tree_complete(base, params):
            print(f"{base}: synthetic 11k tree with these parameters exists; skipped.")
            return 0
        write_11k(args.out, args.subjects, args.images_per_aspect, args.size, args.accessory_fraction, args.seed,
                  force=args.force)
    except (FileExistsError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    n = json.loads((base / PARAMS_FILE).read_text(encoding="utf-8"))["num_images"]
    print(f"{base}: wrote HandInfo.csv and {n} images.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
