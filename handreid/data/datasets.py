"""The dataset table: one frozen record per dataset (docs/DESIGN.md §1).

Each :class:`Dataset` says the registered name, the label the papers print, whether it is a
hand or a body dataset, how many query/gallery draws its protocol has (10 for the hand
protocol, GPA-Net §3.1; 1 for the body benchmarks' fixed splits), which synthetic writer
(:data:`handreid.data.synthetic.WRITERS` key) writes it in its real format, and its loader
``loader(root, *, repeat, seed, **options) -> Split``. Everything that needs one of these
facts reads it here: :data:`handreid.data.DATASETS`, :func:`handreid.data.dataset_repeats`,
the recipes (hand vs body), the demo data, notebook 00, the tables' columns and labels
(:mod:`handreid.repro.experiments`). :mod:`handreid.published` holds the papers' numbers only.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Callable

from .body import load_dukemtmc, load_market1501, load_msmt17
from .cuhk03 import load as load_cuhk03
from .hands11k import ASPECTS
from .hands11k import load as load_11k
from .hd import load as load_hd
from .split import NUM_REPEATS, DatasetError, Split

__all__ = [
    "KINDS",
    "TABLE",
    "Dataset",
    "body_datasets",
    "get",
    "hand_datasets",
    "kind_of",
    "label_of",
    "register",
    "repeats_of",
    "writer_of",
]

Loader = Callable[..., Split]

#: The two kinds of data: hands (GPA-Net, LAGA-Net Table II) and bodies (LAGA-Net Table I).
KINDS = ("hand", "body")


@dataclass(frozen=True)
class Dataset:
    """One dataset: ``name`` (registered, lower case), ``label`` (as the papers print it),
    ``kind`` (``"hand"`` or ``"body"``), ``repeats`` (query/gallery draws), ``writer`` (synthetic
    writer key, or None) and ``loader``."""

    name: str
    label: str
    kind: str
    repeats: int
    writer: str | None
    loader: Loader


def _hand(name: str, label: str, writer: str, loader: Loader) -> Dataset:
    return Dataset(name, label, "hand", NUM_REPEATS, writer, loader)


def _body(name: str, label: str, writer: str, loader: Loader) -> Dataset:
    return Dataset(name, label, "body", 1, writer, loader)


_ASPECT_LABELS = {"dr": "D-r of 11k", "dl": "D-l of 11k", "pr": "P-r of 11k", "pl": "P-l of 11k"}

#: Registered name -> record, in the papers' column order (hand: GPA-Net Table 1, LAGA-Net Tables II
#: and V; body: LAGA-Net Tables I and IV): the four 11k aspects and HD, then Market-1501,
#: DukeMTMC-reID, CUHK03 (option boxes="detected") and MSMT17 (option combine_val=True).
TABLE: dict[str, Dataset] = {
    d.name: d
    for d in (
        *(_hand(f"11k-{c}", _ASPECT_LABELS[c], "11k", partial(load_11k, aspect=c)) for c in ASPECTS),
        _hand("hd", "HD", "hd", load_hd),
        _body("market1501", "Market-1501", "market1501", load_market1501),
        _body("dukemtmc", "DukeMTMC", "dukemtmc", load_dukemtmc),
        _body("cuhk03-l", "CUHK03 (L)", "cuhk03", load_cuhk03),
        _body("msmt17", "MSMT17", "msmt17", load_msmt17),
    )
}


def _key(name: object) -> str | None:
    return name.strip().lower() if isinstance(name, str) else None


def get(name: str) -> Dataset:
    """The record of ``name`` (any case); :class:`DatasetError` naming the known names otherwise."""
    key = _key(name)
    if key not in TABLE:
        raise DatasetError(f"unknown dataset name {name!r}. Known names: {', '.join(sorted(TABLE))}.")
    return TABLE[key]


def kind_of(name: str) -> str:
    """``"hand"`` or ``"body"``."""
    return get(name).kind


def repeats_of(name: str) -> int:
    """Query/gallery draws of ``name``'s protocol: 10 for hand data, 1 for the body benchmarks."""
    return get(name).repeats


def label_of(name: str) -> str:
    """The dataset's name as the papers print it, e.g. ``"D-r of 11k"``."""
    return get(name).label


def writer_of(name: str) -> str:
    """The synthetic writer (:data:`handreid.data.synthetic.WRITERS` key) of ``name``."""
    d = get(name)
    if d.writer is None:
        raise DatasetError(f"dataset {d.name!r} has no synthetic writer; pass the folder of the real data.")
    return d.writer


def hand_datasets() -> tuple[str, ...]:
    """Names of the hand datasets, in table order (GPA-Net Table 1, LAGA-Net Table II/V columns)."""
    return tuple(n for n, d in TABLE.items() if d.kind == "hand")


def body_datasets() -> tuple[str, ...]:
    """Names of the body datasets, in table order (LAGA-Net Table I/IV columns)."""
    return tuple(n for n, d in TABLE.items() if d.kind == "body")


def register(dataset: Dataset, *, replace: bool = False) -> None:
    """Add ``dataset`` to the table (its name lower case); :class:`DatasetError` if the name is taken."""
    if dataset.kind not in KINDS:
        raise DatasetError(f"kind={dataset.kind!r} is invalid: expected one of {KINDS}.")
    key = _key(dataset.name)
    if key in TABLE and not replace:
        raise DatasetError(f"dataset name {key!r} is already registered; pass replace=True to override it.")
    TABLE[key] = dataset
