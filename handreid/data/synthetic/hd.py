"""Synthetic PolyU HD trees (docs/DESIGN.md §1): dorsal hands of the 11k generator's identities in
``<root>/HD/Original Images/{1-501,502-712}/<id>_<k>.jpg``, folder names from :mod:`handreid.data.hd`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..hd import EXTRA_DIRNAME, HD_DIRNAME, IMAGES_DIRNAMES, MAIN_DIRNAME
from ._tree import FORMAT_VERSION, finish_tree, int_param, range_param, save_jpeg, size_param, start_tree
from .hands import RENDERER_VERSION, render_hand, sample_identity, sample_subject

__all__ = ["write_hd"]


def _hd_params(num_subjects, num_extra, images_per_subject, image_size, seed) -> dict[str, Any]:
    return {
        "generator": "handreid.data.synthetic.write_hd",
        "format_version": FORMAT_VERSION,
        "renderer": RENDERER_VERSION,
        "num_subjects": int_param("num_subjects", num_subjects, 2, 100_000),
        "num_extra": int_param("num_extra", num_extra, 1, 100_000),
        "images_per_subject": range_param("images_per_subject", images_per_subject, 2, 100,
                                           " (one image goes to validation or the gallery, one more stays)"),
        "image_size": size_param(image_size, 32),
        "seed": int_param("seed", seed, 0, 2**63 - 1),
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
    base = root / HD_DIRNAME
    images = IMAGES_DIRNAMES[0]
    owned = [f"{images}/{MAIN_DIRNAME}", f"{images}/{EXTRA_DIRNAME}"]
    if start_tree(base, params, owned, owned, force, "HD"):
        return root.resolve()
    seed, size = params["seed"], tuple(params["image_size"])
    lo, hi = params["images_per_subject"]
    n, m = params["num_subjects"], params["num_extra"]
    rng = np.random.default_rng([seed, 20])
    for folder, ids, blur in ((MAIN_DIRNAME, range(1, n + 1), False), (EXTRA_DIRNAME, range(n, n + m), True)):
        out = base / images / folder
        out.mkdir(parents=True, exist_ok=True)
        f_idx = 0 if folder == MAIN_DIRNAME else 1
        for sid in ids:
            ext = ".JPG" if rng.random() < 0.25 else ".jpg"
            count = int(rng.integers(lo, hi + 1))
            subj = sample_subject(np.random.default_rng([seed, 21, f_idx, sid]), f"{sid:07d}")
            ident = sample_identity(np.random.default_rng([seed, 22, f_idx, sid]), subj, "dr",
                                     np.random.default_rng([seed, 23, f_idx, sid]))
            for k in range(1, count + 1):
                img = render_hand(ident, np.random.default_rng([seed, 24, f_idx, sid, k]), size, False)
                if blur:
                    img = img.filter(ImageFilter.GaussianBlur(radius=1.2))
                save_jpeg(img, out / f"{sid}_{k}{ext}")
    finish_tree(base, params, owned)
    return root.resolve()
