"""The split contract and the hand protocol written once (handreid.data.split).

The manifest digests below were computed with the code of main at commit f0d4c76, before the hand
protocol moved from ``hands11k.py``/``hd.py`` into ``split.hand_protocol``:
``git worktree add /tmp/data-base f0d4c76``, then from this repository
``PYTHONPATH=/tmp/data-base:tests python -c "import test_split as t; t.print_expected()"`` (the helpers
use only ``load_split``, ``hands11k.protocol`` and ``Split``, which both versions have). The synthetic
trees are conftest's ``TINY`` ones (seed 0); the 11k metadata is the real HandInfo.csv.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from handreid.data import DatasetError, hands11k, load_split
from handreid.data.split import Split, hand_protocol

HAND_PAIRS = [(0, 0), (3, 0), (9, 1), (0, 7)]
BODY_PAIRS = [(0, 0), (0, 5)]
HAND = ("11k-dr", "11k-dl", "11k-pr", "11k-pl", "hd")
BODY = ("market1501", "dukemtmc", "cuhk03-l", "msmt17")

#: "<dataset>|<repeat>|<seed>" -> Split.fingerprint() (sha256 of the manifest) on the tiny synthetic trees.
EXPECTED_SYNTHETIC = {
    '11k-dr|0|0': '074570e6aba869023b1f2ea002ee0d17cfe5e0b128e2e538be47613338cf28da',
    '11k-dr|3|0': 'b3acec967a9665ef21ee94edb818972bff3985a3959ad2dcbc069291b3fd2200',
    '11k-dr|9|1': '155be7a70241c5510a6acfb5bf765a56d1cb65609bb089ac7ceec7a034d8be2e',
    '11k-dr|0|7': '6ba676de60f56d2434140ad5f20194344e634396fff88832906d07fef265cbd9',
    '11k-dl|0|0': '1f95df0115b04b269de9b586a99f1f7b7188c49442143840b316ff3be5b6d97c',
    '11k-dl|3|0': '1bdb6ff055f93f53a0e3b6f377bf801698b01a8f5cacc26d7554a1bd5291e41f',
    '11k-dl|9|1': 'a50036091c7f16b745a6baa073cbe4a4333314c76b923fe96b54bdb85f98a3ad',
    '11k-dl|0|7': '908e5054a13ed889504a260106f4ecda636a36c8d355a9d997305bef42e54c21',
    '11k-pr|0|0': 'f7e3c21de7d36fc397b9ea028e17cad6f17e60df1a5588a9633a004ab9e2d838',
    '11k-pr|3|0': '61894b698979fd28f424aae25ebb29b3de674d4044c62d8430995e8ab55c92ad',
    '11k-pr|9|1': '12bfabd134c992a79bffac4cac6fa58968c54bd6e310daaab1ecf76fed555bbb',
    '11k-pr|0|7': 'eba6761090abf7c520d0e527e1244555c21740177aac3f44c0ef19f052220da9',
    '11k-pl|0|0': 'd3d60f510d8759760070121d4185e02fd6651ebadde254050bd9f6657b23b5e6',
    '11k-pl|3|0': 'b7d35249940464b47a788fb796c4aa730b6c44261be48e21a3905edc9698f6d4',
    '11k-pl|9|1': 'd21348e3be3cc68f36fe5aa0157d9b25bb5f4e7633fa70d5a0e2f9f65ebee639',
    '11k-pl|0|7': '7ffc347a52a6788e8805df4eb25eafc56e3638dd98a59c1b643bfe09b6f7c1ba',
    'hd|0|0': '84abcde5f073ea9de910f0ecc1d19229083ce8b704a488e59eb47f7b3944e745',
    'hd|3|0': '44a4158db5c5223c74ab0a7e16804d9f2544189240cd9194030fc5abe95f92fd',
    'hd|9|1': '1bf8e14ea1283ef48b8682885353ab391ed37774259bddba19a6bf03a42544b2',
    'hd|0|7': '255d7b20a5479c266909419482f7787fc674db0a60b19cd10738a9aa77f5e050',
    'market1501|0|0': 'e89de4120f65de225939753f213166e7a2e010c5caca5a54768f2b96e3e4ec6f',
    'market1501|0|5': 'e89de4120f65de225939753f213166e7a2e010c5caca5a54768f2b96e3e4ec6f',
    'dukemtmc|0|0': '46f0651f5154e562aec02c23b2b665c73d9acc7c9954e7edc3db13be6c2c67d6',
    'dukemtmc|0|5': '46f0651f5154e562aec02c23b2b665c73d9acc7c9954e7edc3db13be6c2c67d6',
    'cuhk03-l|0|0': '964f8d3839b0cb3dc4395e123d3fc8e83c3c9773218707948f0be2a83ce9dd7c',
    'cuhk03-l|0|5': '964f8d3839b0cb3dc4395e123d3fc8e83c3c9773218707948f0be2a83ce9dd7c',
    'msmt17|0|0': 'ec2cedbac020096cb500fcdf7d5c0620796eda83f8c4d844f78e59a96e179ca8',
    'msmt17|0|5': 'ec2cedbac020096cb500fcdf7d5c0620796eda83f8c4d844f78e59a96e179ca8',
}

#: "11k-<aspect>|<repeat>|<seed>" -> sha256 of the manifest of hands11k.protocol on the real HandInfo.csv.
EXPECTED_REAL_11K = {
    '11k-dr|0|0': 'a6ddcbf050fad7b4a96c1a880083801c7741bb071c84cfe368af83e7db6445ad',
    '11k-dr|3|0': '7ecd72830d9e6ea7d712833aede0975c20ca4945d788efa695e68f3fd69111e3',
    '11k-dr|9|1': '424e52292eddac401ec1e6a19e12bad3b911acca0db424111aad10a69e18143a',
    '11k-dr|0|7': '4939acd9ac622ea806bbd3fa29bd2e765623361e2a1da57e33be68ba8252b46e',
    '11k-dl|0|0': '2aa6ba610317fe31e42fc9a9cbefd8e2fc2dc54083964406237cebfec6e24d30',
    '11k-dl|3|0': '7414c034c99e4c38fb46831566637f7236716ef8bf29d031138f22f2c354fa48',
    '11k-dl|9|1': '6d3611cbd5456b8277f92fc8715f351e81167bc2d90d76efba54c2e1eca006c4',
    '11k-dl|0|7': '134e08a7f2f443630930b50ceb3c0ee459cbe7546767eb42e95ca2b579ec0ad8',
    '11k-pr|0|0': '5b38ad655122c2f7b7c576597cb89bba1b61b2a2b791148cfde1a05b81f5de5a',
    '11k-pr|3|0': '9795dd99aa46cc93613375ec87f8caa63b6e783e8c888d603ca9bceac53c8c4f',
    '11k-pr|9|1': '6900eab16dba06a8111789007fb39d8b3914905df8a6dae312cec8912f3cb7c5',
    '11k-pr|0|7': '078c0232ab7d2384a0892fc08b026e7eef7d8695e44e55b1e57ebe8cb96fc778',
    '11k-pl|0|0': '60a7b8b88904f400672784083c97c83d8c395b489dda07293112e7a7680474a1',
    '11k-pl|3|0': 'a8f5d8d3ed071f9d37f8fe4a3655f3d9f51854422db7314b66043a0dfc1fbac7',
    '11k-pl|9|1': 'b898ccbf6f586527328c1c751d7168dfc92cf4bf48e54ec5ef7765eefda9a33b',
    '11k-pl|0|7': 'c72785dbae85dfff0494fae14140d1c507badc1db4612c4fbfd2726b12e62f0a',
}


def synthetic_fingerprints(root: Path) -> dict[str, str]:
    out = {}
    for name in HAND + BODY:
        for repeat, seed in HAND_PAIRS if name in HAND else BODY_PAIRS:
            out[f"{name}|{repeat}|{seed}"] = load_split(name, root, repeat=repeat, seed=seed).fingerprint()
    return out


def real_11k_fingerprints(csv_path: Path) -> dict[str, str]:
    meta = hands11k.read_metadata(csv_path)
    out = {}
    for code in hands11k.ASPECTS:
        for repeat, seed in HAND_PAIRS:
            parts = hands11k.protocol(meta, code, repeat, seed)
            split = Split(name=f"11k-{code}", root=Path("/"), repeat=repeat, seed=seed, num_classes=0, **parts)
            out[f"11k-{code}|{repeat}|{seed}"] = split.fingerprint()
    return out


def print_expected() -> None:  # pragma: no cover - how the digests were made (module docstring)
    import tempfile

    from conftest import REAL_CSV, TINY
    from handreid.data.synthetic import WRITERS

    with tempfile.TemporaryDirectory() as tmp:
        for name, writer in WRITERS.items():
            writer(Path(tmp), seed=0, **TINY[name])
        print(synthetic_fingerprints(Path(tmp)))
    print(real_11k_fingerprints(REAL_CSV))


def test_manifests_unchanged_on_synthetic_trees(tiny_root):
    got = synthetic_fingerprints(tiny_root)
    assert {k for k, v in got.items() if v != EXPECTED_SYNTHETIC[k]} == set()
    assert set(got) == set(EXPECTED_SYNTHETIC)


def test_manifests_unchanged_on_real_11k_metadata(real_csv):
    got = real_11k_fingerprints(real_csv)
    assert {k for k, v in got.items() if v != EXPECTED_REAL_11K[k]} == set()
    assert set(got) == set(EXPECTED_REAL_11K)


def _images(pids_images: dict[int, int]) -> pd.DataFrame:
    rows = [(f"img/{pid}_{k}.jpg", pid) for pid, n in pids_images.items() for k in range(n)]
    return pd.DataFrame(rows, columns=["path", "pid"])


def test_hand_protocol_halves_and_draws():
    # five identities: ceil(5 / 2) = 3 train (the smallest pids), 2 test
    records = _images({40: 3, 7: 2, 12: 4, 99: 2, 25: 3})
    parts = hand_protocol(records, repeat=2, seed=3)
    train_ids = {7, 12, 25}
    assert set(parts["train"]["pid"]) == set(parts["val"]["pid"]) == train_ids
    assert parts["val"]["pid"].value_counts().eq(1).all() and len(parts["val"]) == 3
    assert len(parts["train"]) + len(parts["val"]) == 2 + 4 + 3
    labels = dict(zip(parts["val"]["pid"], parts["val"]["label"]))
    assert labels == {7: 0, 12: 1, 25: 2}  # labels in pid order
    assert set(parts["gallery"]["pid"]) == {40, 99} and len(parts["gallery"]) == 2
    assert len(parts["query"]) == 3 + 2 - 2
    assert "label" not in parts["query"] and "label" not in parts["gallery"]
    all_paths = pd.concat(parts.values())["path"]
    assert sorted(all_paths) == sorted(records["path"]) and all_paths.is_unique
    # validation does not depend on the repeat, the gallery does (for some repeat)
    other = hand_protocol(records, repeat=5, seed=3)
    assert list(other["val"]["path"]) == list(parts["val"]["path"])
    galleries = {tuple(hand_protocol(records, repeat=r, seed=3)["gallery"]["path"]) for r in range(10)}
    assert len(galleries) > 1


def test_hand_protocol_draw_key_column():
    # the draw is by the key column's file name, not by the path
    records = _images({1: 3, 2: 3})
    records["key"] = records["path"].str.replace("img/", "other/", regex=False).str.upper()
    by_path = hand_protocol(records, repeat=0, seed=0)
    by_key = hand_protocol(records, repeat=0, seed=0, key_col="key")
    from handreid.data.split import draw_one_per_identity

    expected = records[draw_one_per_identity(records[records["pid"] == 2], seed=0, purpose="gallery", repeat=0,
                                             path_col="key").reindex(records.index, fill_value=False)]
    assert list(by_key["gallery"]["path"]) == list(expected["path"])
    assert len(by_path["gallery"]) == len(by_key["gallery"]) == 1


def test_hand_protocol_needs_two_identities():
    with pytest.raises(DatasetError, match=r"1 identity; the hand protocol needs at least 2"):
        hand_protocol(_images({3: 4}), repeat=0, seed=0)
