"""Tables I and II counted from the manifests (handreid.data.overview), the counts' one home."""

from __future__ import annotations

import pandas as pd

from handreid.data import load_split
from handreid.data.overview import (TABLE_SUBSETS, dataset_counts, split_statistics, statistics_table, table_counts,
                                    table_i_counts)

HAND = ("11k-dr", "11k-dl", "11k-pr", "11k-pl", "hd")
BODY = ("market1501", "dukemtmc", "cuhk03-l", "msmt17")


def _by_hand(split) -> dict[tuple[str, str], int]:
    """The counts as the papers define them, computed here directly from the four subsets."""
    train = pd.concat([split.train, split.val])
    frames = {"train": train, "query": split.query, "gallery": split.gallery}
    out = {}
    for s, df in frames.items():
        out[(s, "ids")] = len(set(df["pid"]))
        out[(s, "images")] = len(df)
        out[(s, "cameras")] = len(set(df["camid"]))
    return out


def test_dataset_counts_match_a_direct_count(tiny_root):
    for name in HAND + BODY:
        split = load_split(name, tiny_root)
        expected = _by_hand(split)
        if name in HAND:  # Table II has no camera column
            expected = {k: v for k, v in expected.items() if k[1] != "cameras"}
        assert dataset_counts(name, tiny_root) == expected, name
        assert table_counts(split) == {f"{s}_{m}": v for (s, m), v in expected.items()}
        assert table_i_counts(split) == {f"{s}_{m}": v for (s, m), v in _by_hand(split).items()}
        assert split_statistics(split) == {s: {m: _by_hand(split)[(s, m)] for m in ("ids", "images", "cameras")}
                                           for s in TABLE_SUBSETS}


def test_dataset_counts_none_without_data(tmp_path):
    assert dataset_counts("hd", tmp_path / "nothing") is None
    assert dataset_counts("market1501", tmp_path) is None


def test_statistics_table_flags_and_reasons(tiny_root, tmp_path):
    df = statistics_table(tiny_root, ["11k-dr", "market1501"])
    assert list(df["dataset"]) == ["11k-dr"] * 3 + ["market1501"] * 3
    assert list(df["subset"]) == list(TABLE_SUBSETS) * 2
    hand, body = df[df["dataset"] == "11k-dr"], df[df["dataset"] == "market1501"]
    assert hand["cameras"].isna().all() and body["cameras"].notna().all()  # cameras only in Table I
    assert list(hand["images (paper)"]) == [962, 971, 290]  # LAGA-Net Table II, D-r
    assert (df["check"] == "DIFFERS from paper").all()  # the tiny trees are far smaller than the real data
    missing = statistics_table(tmp_path, ["hd"])
    reason = r"not loaded: .*/HD does not exist: the data root .* has no HD/ directory\. Expected layout:"
    assert missing["check"].str.fullmatch(reason).all()
