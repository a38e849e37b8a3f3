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

CLI::

    python -m handreid.data.synthetic --out DIR [--subjects N] [--seed S]

The parameters are recorded in ``<root>/11k/synthetic.json``; rerunning with the
same parameters finds the complete tree and skips the work.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from PIL import Image, ImageDraw

from .hands11k import ASPECTS, COLUMNS

__all__ = ["write_11k", "main", "PARAMS_FILE", "FORMAT_VERSION"]

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
# CLI


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m handreid.data.synthetic",
        description="Write a synthetic 11k Hands tree (HandInfo.csv + Hands/*.jpg) in the real on-disk format.",
    )
    p.add_argument("--out", required=True, type=Path, help="data root; the tree goes to OUT/11k/")
    p.add_argument("--subjects", type=int, default=50, help="number of subjects (default 50)")
    p.add_argument("--seed", type=int, default=0, help="generator seed (default 0)")
    p.add_argument("--images-per-aspect", type=int, nargs=2, default=(4, 8), metavar=("MIN", "MAX"))
    p.add_argument("--size", type=int, nargs=2, default=(160, 120), metavar=("W", "H"), help="image size")
    p.add_argument("--accessory-fraction", type=float, default=0.1)
    p.add_argument("--force", action="store_true", help="rewrite even if an identical tree exists")
    args = p.parse_args(argv)
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
