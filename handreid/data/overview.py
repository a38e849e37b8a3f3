"""LAGA-Net Tables I and II regenerated from split manifests, published counts side by side."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import pandas as pd

from ..published import LAGA_TABLE1, LAGA_TABLE2
from . import BODY_DATASETS, DATASETS, DatasetError, load_split, table_ii_counts

SUBSETS = ("train", "query", "gallery")

def split_statistics(split) -> dict[str, dict[str, int]]:
    """{subset: {"ids", "images", "cameras"}} of a split, counted as the papers count them."""
    c = table_ii_counts(split)
    train = pd.concat([split.train, split.val])
    frames = {"train": train, "query": split.query, "gallery": split.gallery}
    return {s: {"ids": c[f"{s}_ids"], "images": c[f"{s}_images"],
                "cameras": int(frames[s]["camid"].nunique())} for s in SUBSETS}


def statistics_table(root: str | Path, names: Iterable[str] | None = None, seed: int = 0,
                     repeat: int = 0) -> pd.DataFrame:
    """One row per (dataset, subset): counts from the manifest, the published counts, and a flag.

    Datasets that cannot be loaded under ``root`` are listed with ``status`` = the reason.
    """
    rows = []
    for name in names or DATASETS:
        published = LAGA_TABLE1.get(name) or LAGA_TABLE2.get(name)
        try:
            stats = split_statistics(load_split(name, root=root, repeat=repeat, seed=seed))
            status = "ok"
        except DatasetError as e:
            stats, status = None, f"not loaded: {str(e).splitlines()[0]}"
        for subset in SUBSETS:
            row = {"dataset": name, "subset": subset}
            pub = published[subset] if published else None
            for i, key in enumerate(("ids", "images", "cameras")):
                if key == "cameras" and name not in BODY_DATASETS:
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
