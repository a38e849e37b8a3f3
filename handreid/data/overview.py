"""LAGA-Net Tables I and II counted from split manifests, the one home of those counts (docs/DESIGN.md §1).

:func:`table_counts` counts one split as the papers do (train includes the validation hold-out,
the body gallery's distractor pid 0 is one identity, cameras for the body benchmarks);
:func:`dataset_counts` loads a dataset and returns them keyed ``(subset, metric)``, the form the
tables use; :func:`statistics_table` puts them beside the published counts (notebook 00).
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import pandas as pd

from ..published import LAGA_TABLE1, LAGA_TABLE2
from .split import DatasetError, Split, table_ii_counts

__all__ = ["TABLE_SUBSETS", "dataset_counts", "plot_samples", "split_statistics", "statistics_table",
           "table_counts", "table_i_counts", "table_ii_counts"]

#: The subsets Tables I and II have rows for (validation images count as training images).
TABLE_SUBSETS = ("train", "query", "gallery")


def table_counts(split: Split, cameras: bool | None = None) -> dict[str, int]:
    """The Table I/II row values of ``split``: ``<subset>_ids``, ``<subset>_images`` for the three
    :data:`TABLE_SUBSETS` (see :func:`handreid.data.split.table_ii_counts`) and, with ``cameras``
    (default: for splits with the body camera rule), ``<subset>_cameras``."""
    out = table_ii_counts(split)
    if split.camera_rule if cameras is None else cameras:
        train = pd.concat([split.train, split.val])
        for subset, df in (("train", train), ("query", split.query), ("gallery", split.gallery)):
            out[f"{subset}_cameras"] = int(df["camid"].nunique())
    return out


def table_i_counts(split: Split) -> dict[str, int]:
    """The LAGA-Net Table I row values of a body split: ids, images and cameras per subset.

    Keys of :func:`handreid.data.split.table_ii_counts` (ids and images; distractor
    pid 0 counts as one gallery identity, as in Table I) plus ``train_cameras``,
    ``query_cameras`` and ``gallery_cameras``.
    """
    return table_counts(split, cameras=True)


def dataset_counts(dataset: str, root: str | Path, repeat: int = 0, seed: int = 0) -> dict[tuple[str, str], int] | None:
    """(subset, "ids"/"images"/"cameras") -> count of ``dataset``'s split under ``root``, None when it
    cannot be loaded there (absent or incomplete data). Cameras for the body datasets only."""
    from . import load_split
    from .datasets import kind_of

    try:
        split = load_split(dataset, root=root, repeat=repeat, seed=seed)
    except Exception:  # noqa: BLE001 - absent or incomplete data: shown as missing
        return None
    c = table_counts(split, cameras=kind_of(dataset) == "body")
    return {(s, m): int(c[f"{s}_{m}"]) for s in TABLE_SUBSETS for m in ("ids", "images", "cameras")
            if f"{s}_{m}" in c}


def split_statistics(split: Split) -> dict[str, dict[str, int]]:
    """{subset: {"ids", "images", "cameras"}} of a split, counted as the papers count them."""
    c = table_counts(split, cameras=True)
    return {s: {m: c[f"{s}_{m}"] for m in ("ids", "images", "cameras")} for s in TABLE_SUBSETS}


def statistics_table(root: str | Path, names: Iterable[str] | None = None, seed: int = 0,
                     repeat: int = 0) -> pd.DataFrame:
    """One row per (dataset, subset): counts from the manifest, the published counts, and a flag.

    Datasets that cannot be loaded under ``root`` are listed with ``status`` = the reason.
    """
    from . import DATASETS, load_split
    from .datasets import body_datasets

    rows = []
    for name in names or DATASETS:
        published = LAGA_TABLE1.get(name) or LAGA_TABLE2.get(name)
        try:
            stats = split_statistics(load_split(name, root=root, repeat=repeat, seed=seed))
            status = "ok"
        except DatasetError as e:
            stats, status = None, f"not loaded: {str(e).splitlines()[0]}"
        for subset in TABLE_SUBSETS:
            row = {"dataset": name, "subset": subset}
            pub = published[subset] if published else None
            for i, key in enumerate(("ids", "images", "cameras")):
                if key == "cameras" and name not in body_datasets():
                    continue
                row[key] = stats[subset][key] if stats else None
                row[f"{key} (paper)"] = pub[i] if pub else None
            if stats is None:
                row["check"] = status
            else:
                same = all(row[k] == row[f"{k} (paper)"] for k in ("ids", "images", "cameras")
                           if k in row and row[f"{k} (paper)"] is not None)
                row["check"] = "matches paper" if same else "DIFFERS from paper"
            rows.append(row)
    df = pd.DataFrame(rows)
    first = ["dataset", "subset"] + [c for c in df.columns if c not in ("dataset", "subset", "check")]
    return df[first + ["check"]]


def plot_samples(split, per_subset: int = 4, seed: int = 0):
    """A grid of images: one row per subset (train, validation, query, gallery), pid in each title."""
    import matplotlib.pyplot as plt
    from PIL import Image

    frames = {"train": split.train, "val": split.val, "query": split.query, "gallery": split.gallery}
    frames = {k: v for k, v in frames.items() if len(v)}
    fig, axes = plt.subplots(len(frames), per_subset, figsize=(1.8 * per_subset, 1.9 * len(frames)),
                             squeeze=False)
    for r, (subset, df) in enumerate(frames.items()):
        pick = df.sample(n=min(per_subset, len(df)), random_state=seed)
        for c in range(per_subset):
            ax = axes[r][c]
            ax.axis("off")
            if c < len(pick):
                row = pick.iloc[c]
                with Image.open(split.root / row["path"]) as im:
                    ax.imshow(im.convert("RGB"))
                ax.set_title(f"{subset}\npid {row['pid']}", fontsize=7)
    fig.suptitle(f"{split.name}: samples per subset", fontsize=9)
    fig.tight_layout()
    return fig
