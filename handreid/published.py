"""Numbers published in the two papers, transcribed as literal data.

Sources (the two papers, docs/DESIGN.md §4):

- GPA-Net (IPTA 2022): Tables 1-4 (rank-1 and mAP in %).
- LAGA-Net: Tables I-II (dataset statistics), III-V (rank-1 and mAP in %).

Every cell is ``(rank1, mAP)``; ``None`` where the paper prints "-". The values are
typed in exactly as printed (Table IV mixes one and two decimals). :data:`TEXT_CLAIMS`
holds the differences the papers' texts state, which ``tests/test_experiments.py``
checks against the tables, so a transcription slip in either shows up.
:mod:`handreid.repro.experiments` builds the registry of tables and figures from these.
"""

from __future__ import annotations

METHOD_LABELS = {"gpanet": "GPA-Net", "resnet50": "ResNet50", "vgg19bn": "VGG19-bn",
                 "laganet": "LAGA-Net", "mbanet": "MBA-Net"}

# Dataset names, labels as printed and the hand/body columns of the tables live in the dataset
# table, handreid.data.datasets (label_of, hand_datasets, body_datasets).

# ----------------------------------------------------------------------------- GPA-Net
# Table 1: same-domain performance (rank-1, mAP).
GPA_TABLE1 = {
    "vgg19bn": {"11k-dr": (82.70, 84.45), "11k-dl": (88.64, 89.82), "11k-pr": (85.09, 86.88),
                "11k-pl": (89.98, 91.31), "hd": (86.90, 88.04)},
    "resnet50": {"11k-dr": (88.74, 90.20), "11k-dl": (91.08, 92.12), "11k-pr": (91.09, 92.18),
                 "11k-pl": (93.30, 94.02), "hd": (89.67, 90.63)},
    "gpanet": {"11k-dr": (94.80, 95.72), "11k-dl": (94.87, 95.93), "11k-pr": (95.83, 96.31),
               "11k-pl": (95.72, 96.20), "hd": (94.64, 95.08)},
}

# Table 2: cross-domain performance, (train, test) -> (rank-1, mAP).
GPA_TABLE2 = {
    "vgg19bn": {("11k-dr", "hd"): (42.60, 46.83), ("hd", "11k-dr"): (58.87, 62.24)},
    "resnet50": {("11k-dr", "hd"): (58.28, 62.08), ("hd", "11k-dr"): (69.18, 72.68)},
    "gpanet": {("11k-dr", "hd"): (83.02, 84.65), ("hd", "11k-dr"): (86.84, 89.06)},
}

# Table 3: GPA-Net on P-r of 11k for Hp (rows, 1-4) x Vp (columns, 1-3): (rank-1, mAP).
GPA_TABLE3 = {
    (1, 1): (91.19, 92.14), (1, 2): (93.45, 94.40), (1, 3): (92.16, 93.20),
    (2, 1): (93.05, 94.01), (2, 2): (94.06, 94.83), (2, 3): (93.60, 94.21),
    (3, 1): (95.83, 96.31), (3, 2): (95.39, 95.95), (3, 3): (94.07, 94.80),
    (4, 1): (95.42, 95.95), (4, 2): (94.41, 95.08), (4, 3): (93.81, 94.50),
}

# Table 4: components of GPA-Net on P-r of 11k (rank-1, mAP).
GPA_TABLE4 = {"global": (91.19, 92.14), "local": (94.33, 94.91), "gpanet": (95.83, 96.31)}

# ----------------------------------------------------------------------------- LAGA-Net
# Table I: body datasets, subset -> (# ids, # images, # cameras).
LAGA_TABLE1 = {
    "market1501": {"train": (751, 12936, 6), "query": (750, 3368, 6), "gallery": (751, 15913, 6)},
    "dukemtmc": {"train": (702, 16522, 8), "query": (702, 2228, 8), "gallery": (1110, 17661, 8)},
    "cuhk03-l": {"train": (767, 7365, 2), "query": (700, 1400, 2), "gallery": (700, 5332, 2)},
    "msmt17": {"train": (1041, 30248, 15), "query": (3060, 11659, 15), "gallery": (3060, 82161, 15)},
}

# Table II: hand datasets, subset -> (# ids, # images); "train" includes the validation images.
LAGA_TABLE2 = {
    "11k-dr": {"train": (72, 962), "query": (71, 971), "gallery": (290, 290)},
    "11k-dl": {"train": (73, 808), "query": (73, 988), "gallery": (290, 290)},
    "11k-pr": {"train": (72, 977), "query": (71, 917), "gallery": (290, 290)},
    "11k-pl": {"train": (76, 1004), "query": (75, 948), "gallery": (290, 290)},
    "hd": {"train": (251, 2407), "query": (251, 1992), "gallery": (464, 1593)},
}

# Table III: components of LAGA-Net (each row adds a branch), (rank-1, mAP).
LAGA_TABLE3 = {
    "global": {"market1501": (93.92, 83.21), "11k-pr": (95.43, 95.95)},
    "+local": {"market1501": (94.41, 85.30), "11k-pr": (96.52, 96.97)},
    "+cam": {"market1501": (95.12, 86.91), "11k-pr": (97.14, 97.45)},
    "+sam": {"market1501": (96.18, 88.76), "11k-pr": (98.16, 98.54)},
}

# Table IV: body benchmarks; row label -> dataset -> (rank-1, mAP), None for "-".
# "*" marks the unsupervised methods, as in the paper.
LAGA_TABLE4 = {
    "MGCAM": {"market1501": (83.79, 74.33), "dukemtmc": None, "cuhk03-l": (50.14, 50.21), "msmt17": None},
    "DGNet": {"market1501": (94.8, 86.0), "dukemtmc": (86.6, 74.8), "cuhk03-l": None, "msmt17": (77.2, 52.3)},
    "Interpreter-50": {"market1501": (94.74, 87.11), "dukemtmc": (87.84, 75.27), "cuhk03-l": None,
                       "msmt17": None},
    "OSNet": {"market1501": (94.8, 84.9), "dukemtmc": (88.6, 73.5), "cuhk03-l": (72.3, 67.8),
              "msmt17": (78.7, 52.9)},
    "MGN": {"market1501": (95.7, 86.9), "dukemtmc": (88.7, 78.4), "cuhk03-l": (68.0, 67.4), "msmt17": None},
    "PCB+RPP": {"market1501": (93.8, 81.6), "dukemtmc": (83.3, 69.2), "cuhk03-l": None, "msmt17": (68.2, 40.4)},
    "PDC": {"market1501": (84.14, 63.41), "dukemtmc": None, "cuhk03-l": (88.70, None), "msmt17": None},
    "BagTricks": {"market1501": (94.5, 85.9), "dukemtmc": (86.4, 76.4), "cuhk03-l": None, "msmt17": None},
    "ABD-Net": {"market1501": (95.60, 88.28), "dukemtmc": (89.00, 78.59), "cuhk03-l": None,
                "msmt17": (82.30, 60.80)},
    "RGA-Net": {"market1501": (96.10, 88.40), "dukemtmc": None, "cuhk03-l": (81.10, 77.40),
                "msmt17": (80.30, 57.50)},
    "MHN": {"market1501": (95.1, 85.0), "dukemtmc": (89.1, 77.2), "cuhk03-l": (77.2, 72.4), "msmt17": None},
    "IANet": {"market1501": (94.4, 83.1), "dukemtmc": (87.1, 73.4), "cuhk03-l": (92.4, None),
              "msmt17": (75.5, 46.8)},
    "RLCC*": {"market1501": (90.8, 77.7), "dukemtmc": (83.2, 69.2), "cuhk03-l": None, "msmt17": (56.5, 27.9)},
    "IICS*": {"market1501": (88.8, 72.1), "dukemtmc": (80.0, 64.4), "cuhk03-l": None, "msmt17": (56.4, 26.9)},
    "LAGA-Net": {"market1501": (96.18, 88.76), "dukemtmc": (89.71, 78.92), "cuhk03-l": (81.73, 77.94),
                 "msmt17": (82.56, 60.97)},
}

# Table V: hand datasets; row label -> dataset -> (rank-1, mAP).
LAGA_TABLE5 = {
    "GPA-Net": {"11k-dr": (94.80, 95.72), "11k-dl": (94.87, 95.93), "11k-pr": (95.83, 96.31),
                "11k-pl": (95.72, 96.20), "hd": (94.64, 95.08)},
    "MBA-Net": {"11k-dr": (97.45, 97.98), "11k-dl": (96.71, 97.41), "11k-pr": (98.05, 98.42),
                "11k-pl": (97.42, 97.84), "hd": (95.12, 95.54)},
    "RGA-Net": {"11k-dr": (94.77, 95.67), "11k-dl": (95.30, 95.98), "11k-pr": (92.66, 93.58),
                "11k-pl": (94.95, 95.67), "hd": (95.06, 95.39)},
    "ABD-Net": {"11k-dr": (95.89, 96.76), "11k-dl": (94.26, 95.34), "11k-pr": (96.21, 96.91),
                "11k-pl": (95.54, 96.01), "hd": (94.93, 95.38)},
    "LAGA-Net": {"11k-dr": (97.56, 98.11), "11k-dl": (96.82, 97.53), "11k-pr": (98.16, 98.54),
                 "11k-pl": (97.56, 97.95), "hd": (95.93, 96.27)},
}

# Differences stated in the texts: (table, better row, worse row, column, metric, stated difference).
TEXT_CLAIMS = [
    # GPA-Net §3.2 (same-domain, D-r): "outperforms ResNet50 by 6.06% rank-1 and 5.52% mAP, VGG-bn by 12.10% / 11.27%"
    ("GPA_TABLE1", "gpanet", "resnet50", "11k-dr", "rank1", 6.06),
    ("GPA_TABLE1", "gpanet", "resnet50", "11k-dr", "mAP", 5.52),
    ("GPA_TABLE1", "gpanet", "vgg19bn", "11k-dr", "rank1", 12.10),
    ("GPA_TABLE1", "gpanet", "vgg19bn", "11k-dr", "mAP", 11.27),
    # GPA-Net §3.2 (cross-domain, D-r -> HD): 24.74 / 22.57 over ResNet50, 40.42 / 37.82 over VGG-bn
    ("GPA_TABLE2", "gpanet", "resnet50", ("11k-dr", "hd"), "rank1", 24.74),
    ("GPA_TABLE2", "gpanet", "resnet50", ("11k-dr", "hd"), "mAP", 22.57),
    ("GPA_TABLE2", "gpanet", "vgg19bn", ("11k-dr", "hd"), "rank1", 40.42),
    ("GPA_TABLE2", "gpanet", "vgg19bn", ("11k-dr", "hd"), "mAP", 37.82),
    # LAGA-Net §IV-E: MGN on CUHK03 by 13.73 / 10.54; RGA-Net on MSMT17 by 2.26 / 3.47
    ("LAGA_TABLE4", "LAGA-Net", "MGN", "cuhk03-l", "rank1", 13.73),
    ("LAGA_TABLE4", "LAGA-Net", "MGN", "cuhk03-l", "mAP", 10.54),
    ("LAGA_TABLE4", "LAGA-Net", "RGA-Net", "msmt17", "rank1", 2.26),
    ("LAGA_TABLE4", "LAGA-Net", "RGA-Net", "msmt17", "mAP", 3.47),
    # LAGA-Net §IV-E: MBA-Net on HD by 0.81 / 0.73; RGA-Net on P-r by 5.50 / 4.96
    ("LAGA_TABLE5", "LAGA-Net", "MBA-Net", "hd", "rank1", 0.81),
    ("LAGA_TABLE5", "LAGA-Net", "MBA-Net", "hd", "mAP", 0.73),
    ("LAGA_TABLE5", "LAGA-Net", "RGA-Net", "11k-pr", "rank1", 5.50),
    ("LAGA_TABLE5", "LAGA-Net", "RGA-Net", "11k-pr", "mAP", 4.96),
]

# Values the texts quote directly: (table, row, column, (rank-1, mAP)).
TEXT_VALUES = [
    ("GPA_TABLE3", (1, 1), None, (91.19, 92.14)),     # §3.3 "Hp = 1 and Vp = 1 (rank-1 91.19%, mAP 92.14%)"
    ("GPA_TABLE3", (3, 1), None, (95.83, 96.31)),     # §3.3 "Hp = 3 ... 95.83% rank-1 and 96.31% mAP"
    ("GPA_TABLE4", "global", None, (91.19, 92.14)),
    ("GPA_TABLE4", "local", None, (94.33, 94.91)),
    ("GPA_TABLE4", "gpanet", None, (95.83, 96.31)),
    ("LAGA_TABLE3", "global", "market1501", (93.92, 83.21)),
    ("LAGA_TABLE3", "+local", "market1501", (94.41, 85.30)),
    ("LAGA_TABLE3", "+cam", "market1501", (95.12, 86.91)),
    ("LAGA_TABLE3", "+sam", "market1501", (96.18, 88.76)),
]
