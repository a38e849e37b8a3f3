"""The pedestrian renderer of the synthetic body benchmarks (docs/DESIGN.md §1).

Clothes colours, pattern, build and bag are fixed per identity; pose, scale, side and lighting
vary per image; background and colour cast are fixed per camera.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw

from .hands import SKIN_BASE, SKIN_NAMES, SKIN_P

__all__ = ["Person", "camera_look", "render_person", "sample_person"]


@dataclass
class Person:
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


def sample_person(rng: np.random.Generator) -> Person:
    def colour(lo=15, hi=240):
        return rng.uniform(lo, hi, 3)

    skin_name = str(rng.choice(SKIN_NAMES, p=SKIN_P))
    return Person(
        top=colour(), bottom=colour(10, 200), accent=colour(), shoes=colour(10, 120),
        skin=np.clip(np.array(SKIN_BASE[skin_name], float) + rng.normal(0, 12, 3), 30, 250),
        hair=colour(10, 90),
        pattern=int(rng.integers(0, 3)), bag=int(rng.choice(3, p=(0.5, 0.25, 0.25))),
        width=float(rng.uniform(0.85, 1.2)), legs=float(rng.uniform(0.4, 0.5)), hat=bool(rng.random() < 0.15),
    )


def camera_look(camera: int) -> tuple[np.ndarray, np.ndarray]:
    """Background colour and colour cast of one camera (fixed, the same in every dataset)."""
    r = np.random.default_rng([7919, camera])
    return r.uniform(70, 200, 3), r.uniform(0.88, 1.12, 3)


def render_person(p: Person, rng: np.random.Generator, size: Sequence[int], camera: int,
                   partial: bool = False) -> Image.Image:
    W, H = int(size[0]), int(size[1])
    bg0, cast = camera_look(camera)
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
