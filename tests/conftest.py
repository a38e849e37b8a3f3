"""Fixtures shared by the data tests: the real 11k metadata, empty-file trees and tiny synthetic trees."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

#: The real 11k metadata: CI clones the repository next to shared/ (shared/data/11k/HandInfo.csv).
REAL_CSV = Path(__file__).resolve().parents[1].parent / "shared/data/11k/HandInfo.csv"

#: Tiny keyword arguments of every synthetic writer (handreid.data.synthetic.WRITERS), seed 0 added by
#: :func:`tiny_root`. The digests in test_split.py and test_synthetic_writers.py were computed on these.
TINY = {
    "11k": dict(num_subjects=8, images_per_aspect=(2, 4), image_size=(48, 36)),
    "hd": dict(num_subjects=6, num_extra=3, images_per_subject=(2, 4), image_size=(40, 32)),
    "market1501": dict(num_train_ids=3, num_test_ids=3, num_distractors=2, num_junk=2, image_size=(24, 48)),
    "dukemtmc": dict(num_train_ids=3, num_test_ids=3, num_distractors=2, image_size=(24, 48)),
    "cuhk03": dict(persons_per_pair=(2, 1, 1, 1, 1), image_size=(20, 40)),
    "msmt17": dict(num_train_ids=3, num_test_ids=3, image_size=(24, 48)),
}


def touch_files(folder: Path, names) -> None:
    """Create empty files (os.open/os.close: the cheapest way to make tens of thousands)."""
    folder.mkdir(parents=True, exist_ok=True)
    flags = os.O_CREAT | os.O_WRONLY
    for n in names:
        os.close(os.open(os.path.join(folder, n), flags, 0o644))


@pytest.fixture(scope="session")
def real_csv() -> Path:
    """Path of the real HandInfo.csv; the test is skipped where it is absent."""
    if not REAL_CSV.is_file():
        pytest.skip(f"real 11k metadata not found at {REAL_CSV} (clone the repository next to shared/)")
    return REAL_CSV


@pytest.fixture(scope="session")
def tiny_root(tmp_path_factory) -> Path:
    """Every synthetic dataset at :data:`TINY` size, seed 0, under one data root (about 3 s)."""
    from handreid.data.synthetic import WRITERS

    root = tmp_path_factory.mktemp("tiny") / "data"
    for name, writer in WRITERS.items():
        writer(root, seed=0, **TINY[name])
    return root
