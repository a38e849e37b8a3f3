"""LAGA-Net Tables I and II regenerated from split manifests, published counts side by side."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import pandas as pd

from . import BODY_DATASETS, DATASETS, DatasetError, load_split, table_ii_counts

SUBSETS = ("train", "query", "gallery")

# LAGA-Net Table II (hand data): (ids, images) per subset; train images include validation.
TABLE_II = {
    "11k-dr": {"train": (72, 962), "query": (71, 971), "gallery": (290, 290)},
    "11k-dl": {"train": (73, 808), "query": (73, 988), "gallery": (290, 290)},
    "11k-pr": {"train": (72, 977), "query": (71, 917), "gallery": (290, 290)},
    "11k-pl": {"train": (76, 1004), "query": (75, 948), "gallery": (290, 290)},
    "hd": {"train": (251, 2407), "query": (251, 1992), "gallery": (464, 1593)},
}

# LAGA-Net Table I (body data): (ids, images, cameras) per subset.
TABLE_I = {
    "market1501": {"train": (751, 12936, 6), "query": (750, 3368, 6), "gallery": (751, 15913, 6)},
    "dukemtmc": {"train": (702, 16522, 8), "query": (702, 2228, 8), "gallery": (1110, 17661, 8)},
    "cuhk03-l": {"train": (767, 7365, 2), "query": (700, 1400, 2), "gallery": (700, 5332, 2)},
    "msmt17": {"train": (1041, 30248, 15), "query": (3060, 11659, 15), "gallery": (3060, 82161, 15)},
}


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
        published = TABLE_I.get(name) or TABLE_II.get(name)
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
