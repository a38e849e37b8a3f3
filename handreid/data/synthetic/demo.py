"""The demo profile's data (docs/DESIGN.md §4): synthetic trees in the real on-disk formats under
the demo data root (``HANDREID_DEMO_DATA`` overrides it), written once and found again after.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from ...paths import demo_data_root
from ..datasets import writer_of
from . import WRITERS

__all__ = ["DEMO_DATA", "demo_writer", "ensure_demo_data", "prepare_demo_data"]

#: Synthetic trees of the demo profile: writer (:data:`WRITERS` key) -> its parameters (the rest: defaults).
#: 11k: 100 subjects with 6-10 images per hand side: about 45 training identities per 11k subset with
#: enough images each for GPA-Net on the small demo trunk to pass 60 % rank-1 on identities it never
#: saw (measured on D-r, seed 0: 60 subjects x 4-8 images 39 %, 100 x 4-8 60 %, 100 x 6-10 68 %).
#: HD: 80 subjects with 6-10 images (40 train, as in an 11k subset) and 24 extra gallery subjects;
#: the writer's default 24 subjects x 3-6 images trained on 42 images of 12 identities, too few to
#: learn from (seed 0, rank-1 / fit: GPA-Net 37.7 / 100, RGA-Net 17.0 / 69.0, LAGA-Net 64.5 / 100;
#: with this tree 67.5 / 100, 62.7 / 95.8, 81.1 / 92.2; Intel Xeon, one thread).
DEMO_DATA = {"11k": {"num_subjects": 100, "images_per_aspect": (6, 10), "image_size": (160, 120)},
             "hd": {"num_subjects": 80, "num_extra": 24, "images_per_subject": (6, 10)}}


def demo_writer(dataset: str) -> str:
    """The synthetic writer (:data:`WRITERS` key) behind a dataset name (the dataset table's ``writer``)."""
    return writer_of(dataset)


def ensure_demo_data(root: str | Path | None = None, datasets: tuple[str, ...] | None = None) -> Path:
    """Write the demo profile's synthetic trees of ``datasets`` (default: all) unless already there."""
    root = Path(root) if root is not None else demo_data_root()
    writers = sorted({demo_writer(d) for d in datasets}) if datasets else sorted(WRITERS)
    for w in writers:
        WRITERS[w](root, seed=0, **DEMO_DATA.get(w, {}))
    return root


def prepare_demo_data(datasets: Iterable[str], root: str | Path | None = None) -> Path:
    """Write the synthetic trees of ``datasets`` under the demo data root (or ``root``); idempotent."""
    return ensure_demo_data(root, tuple(sorted(set(datasets))))
