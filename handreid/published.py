"""Numbers published in the papers, for side-by-side comparison (rank-1 and mAP in %).

Sources: GPA-Net (IPTA 2022) Table 1; LAGA-Net Table V (hand data).
"""

from __future__ import annotations

METHOD_LABELS = {"gpanet": "GPA-Net", "resnet50": "ResNet50", "vgg19bn": "VGG19-bn",
                 "laganet": "LAGA-Net", "mbanet": "MBA-Net"}

DATASET_LABELS = {"11k-dr": "D-r of 11k", "11k-dl": "D-l of 11k", "11k-pr": "P-r of 11k",
                  "11k-pl": "P-l of 11k", "hd": "HD"}

# GPA-Net Table 1: same-domain performance, (rank-1, mAP).
GPA_TABLE1 = {
    "vgg19bn": {"11k-dr": (82.70, 84.45), "11k-dl": (88.64, 89.82), "11k-pr": (85.09, 86.88),
                "11k-pl": (89.98, 91.31), "hd": (86.90, 88.04)},
    "resnet50": {"11k-dr": (88.74, 90.20), "11k-dl": (91.08, 92.12), "11k-pr": (91.09, 92.18),
                 "11k-pl": (93.30, 94.02), "hd": (89.67, 90.63)},
    "gpanet": {"11k-dr": (94.80, 95.72), "11k-dl": (94.87, 95.93), "11k-pr": (95.83, 96.31),
               "11k-pl": (95.72, 96.20), "hd": (94.64, 95.08)},
}


# The options of the published configuration of each method (GPA-Net: hp=3, vp=1, §3.2).
PAPER_OPTIONS = {"gpanet": {"hp": 3, "vp": 1}}


def published(method: str, dataset: str, options: dict | None = None,
              table: dict = GPA_TABLE1) -> dict[str, float] | None:
    """Published {"rank1", "mAP"} of ``method`` on ``dataset``, or None when the paper has none.

    ``options`` other than the published configuration's (or the defaults, ``{}``) have none.
    """
    if options and options != PAPER_OPTIONS.get(method, {}):
        return None
    cell = table.get(method, {}).get(dataset)
    return None if cell is None else {"rank1": cell[0], "mAP": cell[1]}
