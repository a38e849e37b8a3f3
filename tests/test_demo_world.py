"""The demo world (README "Two commands"): identity also lives in local marks on the fingers,
and the small demo trunk (handreid.models.backbone.TrunkShape) builds for every registered model."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from handreid.data.synthetic.hands import render_hand, sample_identity, sample_subject
from handreid.engine.config import PROFILES
from handreid.models import available_models, build_model
from handreid.models.backbone import FULL_TRUNK, TrunkShape, current_trunk, trunk_shape

SIZE = (120, 160)  # the demo tree's (width, height)


def _identity(code: str, mark_seed: int):
    subj = sample_subject(np.random.default_rng(7), "0000007")
    return sample_identity(np.random.default_rng(mark_seed), subj, code, np.random.default_rng(8))


def _render(ident, seed=3, accessory=False) -> np.ndarray:
    return np.asarray(render_hand(ident, np.random.default_rng(seed), SIZE, accessory), dtype=np.int16)


def _with_marks_of(ident, other):
    fields = ("joint_lines", "nail_shape", "nail_tint", "ring")
    return dataclasses.replace(ident, **{f: getattr(other, f) for f in fields})


@pytest.mark.parametrize("code", ["dr", "pl"])
def test_local_marks_are_drawn_on_the_fingers(code):
    ident = _identity(code, 1)
    bare = dataclasses.replace(ident, joint_lines=np.zeros((5, 2), int), nail_shape=np.full((5, 2), 1e-3))
    diff = np.abs(_render(ident) - _render(bare)).sum(axis=2) > 30
    rows = np.nonzero(diff.any(axis=1))[0]
    assert diff.sum() >= 20, f"{code}: the knuckle/crease lines and nails change only {diff.sum()} pixels"
    # on the fingers: above the palm centre (the hand is drawn upright, palm centre near 0.56 H)
    assert rows.max() < 0.56 * SIZE[1], f"{code}: marks drawn below the fingers (rows {rows.min()}-{rows.max()})"


@pytest.mark.parametrize("code", ["dr", "pr"])
def test_local_marks_differ_between_identities(code):
    a, b = _identity(code, 1), _identity(code, 2)
    assert not np.array_equal(a.joint_lines, b.joint_lines) or not np.allclose(a.nail_shape, b.nail_shape)
    # same hand, same pose, same photo: only the local marks of another identity
    ia, ib = _render(a), _render(_with_marks_of(a, b))
    assert (np.abs(ia - ib).sum(axis=2) > 30).sum() >= 10
    # and one identity's marks are the same in every photo: the same image twice is identical
    assert np.array_equal(ia, _render(a))


def test_ring_is_the_identitys():
    ident = _identity("dr", 1)
    other = dataclasses.replace(ident, ring=((ident.ring[0] % 4) + 1, 1 - ident.ring[1]))
    # seed 0's first draw after the background picks a ring (not a bracelet) for accessory images
    seeds = [s for s in range(40) if not np.array_equal(_render(ident, s, True), _render(ident, s, False))]
    ringed = [s for s in seeds if not np.array_equal(_render(ident, s, True), _render(other, s, True))]
    assert ringed, "no accessory image shows the identity's ring"
    for s in ringed[:3]:
        d = np.abs(_render(ident, s, True) - _render(other, s, True)).sum(axis=2) > 30
        assert d.sum() >= 5


def test_trunk_shape_checks_its_values():
    for bad in (0, 1.5, 0.3, -1, True):
        with pytest.raises(ValueError, match="trunk width must be in"):
            TrunkShape(width=bad)
    for bad in ((1, 1, 1), (1, 0, 1, 1), (1, 1, 1, 1.5)):
        with pytest.raises(ValueError, match="trunk blocks must be 4 positive ints"):
            TrunkShape(blocks=bad)
    assert current_trunk() == FULL_TRUNK
    small = PROFILES["demo"]["trunk"]
    with trunk_shape(small):
        assert current_trunk() == TrunkShape(small["width"], tuple(small["blocks"]))
        with pytest.raises(ValueError, match="ImageNet weights exist for the full trunk only"):
            build_model("resnet50", 3, pretrained=True, trunk=small)
    assert current_trunk() == FULL_TRUNK


def test_small_trunk_scales_every_channel_and_stage():
    shape = TrunkShape(0.125, (1, 2, 1, 1))
    model = build_model("gpanet", 5, trunk=shape)
    t = model.backbone
    assert t.stage_channels == (32, 64, 128, 256) and t.out_channels == 256
    assert t.conv1.out_channels == 8 and [len(getattr(t, f"layer{i}")) for i in range(1, 5)] == [1, 2, 1, 1]
    assert model.descriptor_dim == 4 * 256  # global + 3 parts of the 256-channel map
    assert model.heads[0].out_dim == 64  # GPA-Net's 512-d reduction at 1/8 width
    full = build_model("gpanet", 5)
    assert full.backbone.stage_channels == (256, 512, 1024, 2048) and full.descriptor_dim == 4 * 2048


def _params(model) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("name", available_models())
def test_demo_trunk_builds_for_every_model(name):
    trunk = PROFILES["demo"]["trunk"]
    size = PROFILES["demo"]["image_size"]
    with torch.device("meta"):
        full = build_model(name, 6)
    torch.manual_seed(0)
    model = build_model(name, 6, trunk=trunk)
    assert _params(model) < 0.2 * _params(full), f"{name}: the demo trunk is not smaller"
    model.train()
    out = model(torch.randn(4, 3, *size))
    assert len(out.logits) == len(model.names) and all(lg.shape == (4, 6) for lg in out.logits)
    model.eval()
    with torch.no_grad():
        d = model(torch.randn(2, 3, *size))
    assert d.shape == (2, model.descriptor_dim) and torch.isfinite(d).all()
