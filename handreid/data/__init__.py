"""Data protocols as code (DESIGN §1).

>>> from handreid.data import load_split
>>> split = load_split("11k-dr", root=DATA_ROOT, repeat=0, seed=0)  # doctest: +SKIP
>>> split.train, split.val, split.query, split.gallery              # doctest: +SKIP

``DATASETS`` maps each registered dataset name to its loader, a callable
``loader(root, *, repeat, seed, **options) -> Split``. Further datasets (HD and
the body benchmarks) are added with :func:`register_dataset`.
"""

from __future__ import annotations

import os
from functools import partial
from typing import Callable

from . import hands11k
from .split import NUM_REPEATS, DatasetError, Split, table_ii_counts

__all__ = [
    "DATASETS",
    "PLANNED_DATASETS",
    "NUM_REPEATS",
    "DatasetError",
    "Split",
    "load_split",
    "register_dataset",
    "table_ii_counts",
]

Loader = Callable[..., Split]

#: Registered dataset name -> loader(root, *, repeat, seed, **options) -> Split.
DATASETS: dict[str, Loader] = {
    f"11k-{code}": partial(hands11k.load, aspect=code) for code in hands11k.ASPECTS
}

#: Names DESIGN §1 promises that have no loader yet.
PLANNED_DATASETS = ("hd", "market1501", "dukemtmc", "cuhk03-l", "msmt17")


def register_dataset(name: str, loader: Loader, *, replace: bool = False) -> None:
    """Register ``loader`` under ``name`` (lower case), e.g. ``register_dataset("hd", hd.load)``."""
    key = name.strip().lower()
    if key in DATASETS and not replace:
        raise DatasetError(f"dataset name {key!r} is already registered; pass replace=True to override it.")
    DATASETS[key] = loader


def load_split(
    name: str,
    root: str | os.PathLike,
    repeat: int = 0,
    seed: int = 0,
    **options,
) -> Split:
    """Load the split ``(name, repeat, seed)`` of a registered dataset stored under ``root``.

    ``options`` go to the dataset's loader (11k: ``num_repeats``, default 10, bounds ``repeat``).
    Raises :class:`DatasetError` for unknown names, invalid arguments and missing or malformed data.
    """
    key = name.strip().lower() if isinstance(name, str) else None
    if key not in DATASETS:
        planned = (
            f" {key!r} is planned (DESIGN §1) but has no loader yet."
            if key in PLANNED_DATASETS
            else ""
        )
        raise DatasetError(
            f"unknown dataset name {name!r}.{planned} Known names: {', '.join(sorted(DATASETS))}."
        )
    return DATASETS[key](root, repeat=repeat, seed=seed, **options)
