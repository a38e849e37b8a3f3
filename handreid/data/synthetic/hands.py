"""The hand renderer of the synthetic 11k and HD trees (docs/DESIGN.md §1).

Every image shows a hand-like figure (palm ellipse, five rounded finger bars, wrist) whose look
is fixed by its identity -- skin colour, palm proportions, finger lengths, widths and spread, and
a set of dark marks at fixed positions on the hand (moles and veins on the dorsal side, creases
and moles on the palmar side) and local marks on the fingers (the number of knuckle wrinkles or
flexion creases at each joint, each nail's length, width and tint, the finger and metal of the
ring worn in accessory images), as in real hands -- while each image varies position, rotation, scale, finger
posture, lighting, background and noise. So images of one identity are similar but not
identical, and what separates identities is a small set of continuous attributes a CNN can learn
to embed and apply to identities it never saw. One identity is one (aspect, subject) pair, as in
the protocol: the left hand is drawn with its own geometry jitter and marks and mirrored; the
palmar side has creases and a paler palm instead of nails and veins; right-dorsal and
left-palmar views put the thumb on the left, the other two on the right.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from ..hands11k import ASPECTS

__all__ = ["ASPECT_INDEX", "RENDERER_VERSION", "HAND_SIDE", "SKIN_BASE", "SKIN_NAMES", "SKIN_P", "Identity", "Subject",
           "render_hand", "sample_identity", "sample_subject"]

#: Bumped whenever the renderer draws differently, so demo trees written before are rewritten (it is
#: part of every hand tree's parameter record). 2: local marks (knuckle/crease counts, nail shape
#: and tint, the identity's ring), a larger hand, less background and rotation jitter, a wider
#: spread of skin colours and finger lengths.
RENDERER_VERSION = 2

SKIN_BASE = {
    "very fair": (238, 204, 184),
    "fair": (224, 180, 150),
    "medium": (192, 142, 106),
    "dark": (118, 80, 58),
}
# frequencies of the real 11k metadata (per image)
SKIN_NAMES = ("medium", "fair", "dark", "very fair")
SKIN_P = (0.59, 0.31, 0.07, 0.03)

# mirror factor per aspect: +1 draws the thumb on the left of the image
_MIRROR = {"dr": 1.0, "dl": -1.0, "pr": -1.0, "pl": 1.0}
HAND_SIDE = {"dr": "right", "pr": "right", "dl": "left", "pl": "left"}
ASPECT_INDEX = {c: i for i, c in enumerate(ASPECTS)}

# finger order: thumb, index, middle, ring, little
_BASE_LEN = np.array([0.62, 0.86, 0.96, 0.89, 0.70])
_BASE_ANGLE = np.array([-58.0, -9.0, -2.0, 5.0, 13.0])  # degrees from vertical, + towards the little finger
_BASE_WIDTH = np.array([0.25, 0.19, 0.20, 0.19, 0.16])


# ---------------------------------------------------------------------------
# identities


@dataclass
class Subject:
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
class Identity:
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
    # local marks (finger order thumb .. little): what part-based and attention models can find
    joint_lines: np.ndarray  # (5, 2) int: crease lines at the knuckle (dorsal) / flexion crease (palmar) of joints 1, 2
    nail_shape: np.ndarray  # (5, 2): nail length and width factors (dorsal)
    nail_tint: float  # how much paler than the skin the nails are (dorsal)
    ring: tuple[int, int]  # (finger 1-4, metal 0 gold / 1 silver) of the ring worn in accessory images


def sample_subject(rng: np.random.Generator, sid: str) -> Subject:
    gender = "female" if rng.random() < 0.64 else "male"
    skin_name = str(rng.choice(SKIN_NAMES, p=SKIN_P))
    skin = np.clip(np.array(SKIN_BASE[skin_name], float) + rng.normal(0, 28, 3), 40, 250)
    polish = int(gender == "female" and rng.random() < 0.25)
    return Subject(
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
        lengths=_BASE_LEN * rng.uniform(0.75, 1.2, 5),
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


def sample_identity(rng: np.random.Generator, subj: Subject, code: str, hand_rng: np.random.Generator) -> Identity:
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
        moles = np.column_stack([uv[:, 0] * a, uv[:, 1] * b, rng.uniform(0.08, 0.14, k), rng.uniform(0.2, 0.5, k)])
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
        moles = np.column_stack([uv[:, 0] * a, uv[:, 1] * b, rng.uniform(0.07, 0.12, k), rng.uniform(0.25, 0.5, k)])
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
    # drawn after the marks above, so those stay what they were for the same seed
    joint_lines = rng.integers(0, 4, (5, 2)) if dorsal else rng.integers(1, 4, (5, 2))
    nail_shape = rng.uniform(0.7, 1.35, (5, 2))
    nail_tint = float(rng.uniform(0.15, 0.55))
    ring = (int(rng.integers(1, 5)), int(rng.integers(0, 2)))
    return Identity(
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
        joint_lines=joint_lines,
        nail_shape=nail_shape,
        nail_tint=nail_tint,
        ring=ring,
    )


# ---------------------------------------------------------------------------
# rendering


def _finger_geometry(ident: Identity, jitter: np.ndarray):
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


def render_hand(ident: Identity, rng: np.random.Generator, size: tuple[int, int], accessory: bool) -> Image.Image:
    W, H = size
    bg = np.clip(rng.uniform(215, 245) + rng.normal(0, 3, 3), 0, 255)
    img = Image.new("RGB", (W, H), tuple(int(v) for v in bg))
    draw = ImageDraw.Draw(img)

    mirror = _MIRROR[ident.code]
    phi = math.radians(rng.uniform(-4, 4))
    cos_p, sin_p = math.cos(phi), math.sin(phi)
    s = 0.34 * min(H, W) * rng.uniform(0.92, 1.08)
    cx = W / 2 + rng.uniform(-0.08, 0.08) * W
    cy = 0.62 * H + rng.uniform(-0.04, 0.04) * H

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
    crease_c = col(skin * (0.62 if dorsal else 0.7))
    for f, (base, d, n, length, width) in enumerate(fingers):
        # knuckle wrinkles (dorsal) / flexion creases (palmar): each joint its own number of lines
        for j, frac in enumerate((0.3, 0.62)):
            k = int(ident.joint_lines[f, j])
            for i in range(k):
                c = base + d * (length * frac + (i - (k - 1) / 2) * 0.055)
                draw.line(tf([c - n * width * 0.42, c + n * width * 0.42]), fill=crease_c, width=1)
    if dorsal:  # nails: each identity its own nail shape and tint
        nail_c = col(ident.polish_color) if ident.nail_polish else col(skin + (255 - skin) * ident.nail_tint)
        for (base, d, n, length, width), (ln, wd) in zip(fingers, ident.nail_shape):
            center = base + d * (length - 0.16)
            draw.polygon(tf(_band(center, d, n, 0.11 * ln, width * 0.33 * wd)), fill=nail_c)

    lw = max(1, int(round(ident.line_width * s)))
    for pts, dark in ident.lines:
        color = col(skin * dark * (np.array([0.95, 0.97, 1.12]) if dorsal else 1.0))
        draw.line(tf(pts), fill=color, width=lw)
    for u, v, r, dark in ident.moles:
        dot((u, v), r, col(skin * dark))

    if accessory:
        if rng.random() < 0.6:  # the identity's ring, always on the same finger
            base, d, n, length, width = fingers[ident.ring[0]]
            metal = ((212, 175, 55), (190, 192, 200))[ident.ring[1]]
            draw.polygon(tf(_band(base + d * 0.2, d, n, 0.05, width * 0.62)), fill=metal)
        else:  # a bracelet or watch strap across the wrist
            strap = col(rng.uniform(20, 120, 3))
            y0 = -b * rng.uniform(1.15, 1.45)
            draw.polygon(tf([[-0.9 * a, y0], [0.9 * a, y0], [0.9 * a, y0 - 0.22], [-0.9 * a, y0 - 0.22]]), fill=strap)

    arr = np.asarray(img, dtype=np.float32)
    gain = rng.uniform(0.9, 1.1) * rng.uniform(0.97, 1.03, 3).astype(np.float32)
    arr = arr * gain + rng.normal(0.0, rng.uniform(3, 8), arr.shape).astype(np.float32)
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")
