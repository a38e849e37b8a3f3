"""The teaching table of the three attention designs (notebook 02_laga_net): rows, parameters, FLOPs."""

from __future__ import annotations

import pytest
import torch

from handreid.models.attention_designs import attention_design_table, model_parameters, module_gflops
from handreid.models import build_model
from handreid.models.attention import ChannelAttention


@pytest.fixture(scope="module")
def table():
    return attention_design_table(image_size=(64, 64))


def test_rows_and_instances(table):
    assert list(table.index) == [("LAGA-Net", "CAM"), ("LAGA-Net", "SAM-RPE"), ("RGA-Net", "RGA-S"),
                                 ("RGA-Net", "RGA-C"), ("ABD-Net", "CAM (shallow)"),
                                 ("ABD-Net", "CAM (attentive branch)"), ("ABD-Net", "PAM (attentive branch)")]
    assert table["instances"].tolist() == [2, 2, 4, 4, 1, 2, 2]


def test_cam_cost_written_out(table):
    """CAM: E = X X^T and A X, two (C x N)(N x C)-sized products = 4 C^2 N FLOPs; one gamma each."""
    n = 4 * 4                                             # 64 x 64 input -> 4 x 4 layer3/layer4 maps
    assert table.loc[("LAGA-Net", "CAM"), "GFLOPs"] == pytest.approx(round(4 * n * (1024**2 + 2048**2) / 1e9, 3))
    assert table.loc[("LAGA-Net", "CAM"), "params"] == 2
    assert module_gflops(ChannelAttention(), (8, 3, 5)) == pytest.approx(4 * 8**2 * 15 / 1e9)


def test_rga_parameters_are_the_models(table):
    model = build_model("rganet", 3, image_size=(64, 64))
    spatial = sum(p.numel() for m in model.rga for p in m.spatial.parameters())
    channel = sum(p.numel() for m in model.rga for p in m.channel.parameters())
    assert table.loc[("RGA-Net", "RGA-S"), "params"] == spatial
    assert table.loc[("RGA-Net", "RGA-C"), "params"] == channel


def test_model_parameters_match_built_models():
    got = model_parameters(image_size=(64, 64), num_classes=5)
    torch.manual_seed(0)
    for label, name, options in (("RGA-Net", "rganet", {"image_size": (64, 64)}), ("ABD-Net", "abdnet", {})):
        n = sum(p.numel() for p in build_model(name, 5, **options).parameters())
        assert got[label] == round(n / 1e6, 2)
