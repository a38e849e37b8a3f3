"""Data protocols as code (docs/DESIGN.md §1).

>>> from handreid.data import load_split
>>> split = load_split("11k-dr", root=DATA_ROOT, repeat=0, seed=0)  # doctest: +SKIP
>>> split.train, split.val, split.query, split.gallery              # doctest: +SKIP

The dataset table (:mod:`.datasets`) holds one record per dataset: name, label, kind,
repeats, synthetic writer, loader. ``DATASETS`` maps each registered name to its loader,
a callable ``loader(root, *, repeat, seed, **options) -> Split``: the four 11k aspects and
HD (hand protocol, 10 repeats: :mod:`.hands11k`, :mod:`.hd`), Market-1501,
DukeMTMC-reID, MSMT17 (:mod:`.body`) and CUHK03 (:mod:`.cuhk03`) -- the body
benchmarks have one fixed split (``repeat=0`` only, see :func:`dataset_repeats`).
All of them can share one ``DATA_ROOT`` (``11k/``, ``HD/``, ``Market-1501-v15.09.15/``,
``DukeMTMC-reID/``, ``cuhk03/``, ``MSMT17_V1/`` side by side), which is what the
cross-domain evaluation (GPA-Net Table 2: train on 11k D-r, test on HD and back) needs.
Further datasets are added with :func:`register_dataset`.
"""

from __future__ import annotations

import inspect
import os
from functools import partial
from typing import Callable

from . import body, cuhk03, hands11k, hd
from .datasets import TABLE, Dataset, register
from .split import NUM_REPEATS, DatasetError, Split, table_ii_counts

__all__ = [
    "BODY_DATASETS",
    "DATASETS",
    "NUM_REPEATS",
    "Dataset",
    "DatasetError",
    "Split",
    "dataset_repeats",
    "load_split",
    "register_dataset",
    "table_ii_counts",
]

Loader = Callable[..., Split]

#: Registered dataset name -> loader(root, *, repeat, seed, **options) -> Split (from the dataset table).
DATASETS: dict[str, Loader] = {name: d.loader for name, d in TABLE.items()}

#: Datasets with a single fixed query/gallery split (LAGA-Net Table I): repeat=0 only.
BODY_DATASETS = tuple(name for name, d in TABLE.items() if d.kind == "body")


def register_dataset(name: str, loader: Loader, *, replace: bool = False, label: str | None = None,
                     kind: str = "hand", repeats: int | None = None, writer: str | None = None) -> None:
    """Register ``loader`` under ``name`` (lower case), e.g. ``register_dataset("hd", hd.load)``.

    The record of the dataset table gets ``label`` (default: the name), ``kind`` ("hand" or
    "body"), ``repeats`` (default: 10 for hand data, 1 for bodies) and the synthetic ``writer``.
    """
    key = name.strip().lower()
    if repeats is None:
        repeats = 1 if kind == "body" else NUM_REPEATS
    register(Dataset(key, label or key, kind, repeats, writer, loader), replace=replace)
    DATASETS[key] = loader


def dataset_repeats(name: str) -> int:
    """How many query/gallery draws ``name`` has: 1 for the body benchmarks, NUM_REPEATS (10) for hand data.

    Evaluate ``range(dataset_repeats(name))``; the body loaders reject any repeat but 0.
    """
    key = name.strip().lower() if isinstance(name, str) else None
    if key not in DATASETS:
        raise DatasetError(f"unknown dataset name {name!r}. Known names: {', '.join(sorted(DATASETS))}.")
    return TABLE[key].repeats


def load_split(
    name: str,
    root: str | os.PathLike,
    repeat: int = 0,
    seed: int = 0,
    **options,
) -> Split:
    """Load the split ``(name, repeat, seed)`` of a registered dataset stored under ``root``.

    ``options`` go to the dataset's loader (11k and HD: ``num_repeats``, default 10, bounds
    ``repeat``; ``msmt17``: ``combine_val``; ``cuhk03-l``: ``boxes``). The body benchmarks
    accept ``repeat=0`` only.
    Raises :class:`DatasetError` for unknown names, invalid arguments and missing or malformed data.
    """
    key = name.strip().lower() if isinstance(name, str) else None
    if key not in DATASETS:
        raise DatasetError(f"unknown dataset name {name!r}. Known names: {', '.join(sorted(DATASETS))}.")
    loader = DATASETS[key]
    try:
        inspect.signature(loader).bind(root, repeat=repeat, seed=seed, **options)
    except TypeError:
        accepted = _options(loader)
        raise DatasetError(
            f"{key!r} does not take the option(s) {sorted(options)}; its options: "
            f"{', '.join(accepted) if accepted else 'none'}."
        ) from None
    except ValueError:  # no signature available (e.g. a C callable): let the loader decide
        pass
    return loader(root, repeat=repeat, seed=seed, **options)


def _options(loader: Loader) -> list[str]:
    try:
        params = inspect.signature(loader).parameters.values()
    except ValueError:
        return []
    fixed = {"root", "repeat", "seed", *(loader.keywords if isinstance(loader, partial) else ())}
    return [p.name for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY and p.name not in fixed]
