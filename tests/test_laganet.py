"""LAGA-Net / MBA-Net: registry, branch subsets (Table III), descriptor sizes, training output,
independent vs shared layer4, parameter groups."""

from __future__ import annotations

import re

import pytest
import torch

from handreid.models import ReIDOutput, available_models, build_model, model_options
from handreid.models.attention import ChannelAttention, SpatialAttentionRPE
from handreid.models.laganet import LAGANet

NUM_CLASSES = 5
B = 2
HAND, BODY = (96, 96), (96, 32)        # 324x324 and 384x128 scaled down (maps 6x6 and 6x2)
FULL = ("global", "local", "cam", "sam")

# (factory, options) -> (descriptor_dim, names)
CASES = {
    ("laganet", ("global",)): (2048, ("global",)),
    ("laganet", ("global", "local")): (8192, ("global", "part_1", "part_2", "part_3")),
    ("laganet", ("global", "local", "cam")): (10240, ("cam", "global", "part_1", "part_2", "part_3")),
    ("laganet", FULL):
        (12288, ("sam", "cam", "global", "part_1", "part_2", "part_3")),
    ("mbanet", None): (6144, ("sam", "cam", "global")),
}

_MODELS: dict = {}


def _model(name, branches=None, **options):
    key = (name, branches, tuple(sorted(options.items())))
    if key not in _MODELS:
        torch.manual_seed(0)
        if branches is not None:
            options["branches"] = branches
        _MODELS[key] = build_model(name, NUM_CLASSES, **options)
    return _MODELS[key]


def test_registered():
    assert {"laganet", "mbanet"} <= set(available_models())
    assert model_options("laganet") == {
        "pretrained": False, "branches": ("global", "local", "cam", "sam"), "shared_layer4": False,
        "last_stride": 1, "num_stripes": 3, "reduction_dim": 1024, "dropout": 0.5,
        "cam_energy": "paper", "sam_rpe": "axial",
    }
    assert "branches" not in model_options("mbanet")


@pytest.mark.parametrize("case", list(CASES), ids=lambda c: f"{c[0]}-{'+'.join(c[1] or ())}")
def test_descriptor_sizes_and_classifiers(case):
    dim, names = CASES[case]
    m = _model(*case).eval()
    assert m.descriptor_dim == dim
    assert m.num_classifiers == len(names) and m.names == names
    with torch.no_grad():
        for hw in (HAND, BODY):
            f = m(torch.randn(B, 3, *hw))
            assert f.shape == (B, dim) and torch.isfinite(f).all()


def test_training_output_order_and_shapes():
    m = _model("laganet", FULL).train()
    torch.manual_seed(1)
    x = torch.randn(B, 3, *BODY)
    out = m(x)
    assert isinstance(out, ReIDOutput)
    assert out.names == ("sam", "cam", "global", "part_1", "part_2", "part_3")
    assert [tuple(z.shape) for z in out.logits] == [(B, NUM_CLASSES)] * 6
    assert [tuple(e.shape) for e in out.embeddings] == [(B, 1024)] * 6          # reduced, for triplet
    assert [tuple(f.shape) for f in out.features] == [(B, 2048)] * 6
    # embeddings: FC -> BN -> LeakyReLU of each pooled feature (dropout only before the classifier)
    for head, e in zip(m.heads, out.embeddings):
        assert isinstance(head.act, torch.nn.LeakyReLU) and head.dropout.p == 0.5
        assert (e < 0).any()                                   # leaky, not ReLU
    # eval descriptor = the pooled features concatenated in the same order
    m.eval()
    with torch.no_grad():
        feats = m.extract(x)
        assert torch.equal(m(x), torch.cat(feats, dim=1))


def test_features_follow_the_branches():
    """s, c, g: GAP of the branch tensors; p_i: mean over the i-th third of the rows of the local
    branch's layer4 output."""
    m = _model("laganet", FULL).eval()
    x = torch.randn(1, 3, *BODY)
    with torch.no_grad():
        x3 = m.backbone(x)
        s = m.sam4(m.layer4["sam"](m.sam3(x3))).mean((2, 3))
        c = m.cam4(m.layer4["cam"](m.cam3(x3))).mean((2, 3))
        g = m.layer4["global"](x3).mean((2, 3))
        t = m.layer4["local"](x3)                                   # (1, 2048, 6, 2)
        parts = [t[:, :, 2 * i:2 * i + 2].mean((2, 3)) for i in range(3)]
        expected = torch.cat([s, c, g, *parts], dim=1)
        torch.testing.assert_close(m(x), expected, rtol=1e-4, atol=1e-5)


def test_independent_layer4_copies_and_shared_option():
    full = _model("laganet", FULL)
    shared = _model("laganet", FULL, shared_layer4=True)
    assert set(full.layer4) == {"sam", "cam", "global", "local"}
    assert set(shared.layer4) == {"shared"}
    p = [dict(full.layer4[b].named_parameters()) for b in full.branches]
    for other in p[1:]:                     # same initial weights, distinct parameters
        for k, w in p[0].items():
            assert other[k] is not w and torch.equal(other[k], w)
    # last stride 1 in every copy
    assert all(full.layer4[b][0].conv2.stride == (1, 1) for b in full.branches)
    n_full = sum(q.numel() for q in full.parameters())
    n_shared = sum(q.numel() for q in shared.parameters())
    n_layer4 = sum(q.numel() for q in shared.layer4.parameters())
    assert n_shared == n_full - 3 * n_layer4
    with torch.no_grad():
        assert shared.eval()(torch.randn(B, 3, *BODY)).shape == (B, 12288)


@pytest.mark.parametrize("case", [("laganet", FULL), ("laganet", ("global", "local", "cam")),
                                  ("laganet", FULL, True), ("mbanet", None)])
def test_parameter_groups_partition(case):
    name, branches, *shared = case
    m = _model(name, branches, **({"shared_layer4": True} if shared else {}))
    backbone = {id(p) for p in m.backbone_parameters()}
    new = {id(p) for p in m.new_parameters()}
    everything = {id(p) for p in m.parameters()}
    assert backbone.isdisjoint(new) and backbone | new == everything
    # pretrained parts: stem .. layer3 and every layer4 copy
    for mod in [m.backbone, *m.layer4.values()]:
        assert {id(p) for p in mod.parameters()} <= backbone
    # new: heads and attention modules (gamma, embeddings, R_H, R_W, their BNs)
    for mod in [*m.heads, *m.attention_modules()]:
        assert {id(p) for p in mod.parameters()} <= new
    attention = [a for a in m.attention_modules()]
    assert len(attention) == 2 * (("sam" in m.branches) + ("cam" in m.branches))
    for a in attention:
        assert isinstance(a, (SpatialAttentionRPE, ChannelAttention))
        assert id(a.gamma) in new


def test_attention_module_channels_and_placement():
    m = _model("laganet", FULL)
    assert m.sam3.channels == 1024 and m.sam4.channels == 2048
    assert m.sam3.key_channels == 128 and m.sam4.key_channels == 256
    assert isinstance(m.cam3, ChannelAttention) and isinstance(m.cam4, ChannelAttention)
    assert not hasattr(_model("laganet", ("global", "local")), "sam3")


def test_bad_options():
    valid = "valid branches: 'global', 'local', 'cam', 'sam'"
    with pytest.raises(ValueError, match=re.escape(f"unknown branch(es) 'spatial'; {valid}")):
        build_model("laganet", 3, branches=("global", "spatial"))
    with pytest.raises(ValueError, match="at least one branch"):
        build_model("laganet", 3, branches=())
    with pytest.raises(ValueError, match="repeated branch"):
        build_model("laganet", 3, branches=("global", "global"))
    with pytest.raises(ValueError, match="num_stripes must be a positive int"):
        build_model("laganet", 3, num_stripes=0)
    with pytest.raises(TypeError, match="unknown option"):
        build_model("mbanet", 3, branches=("global",))


def test_branch_order_is_canonical_and_string_accepted():
    m = LAGANet(3, branches=["local", "global"], num_stripes=2)
    assert m.branches == ("global", "local") and m.names == ("global", "part_1", "part_2")
    assert LAGANet(3, branches="global").names == ("global",)
