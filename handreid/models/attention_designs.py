"""Three attention designs side by side (teaching notebook ``02_laga_net``): LAGA-Net's CAM and
SAM-RPE, RGA-Net's relation-aware attention (RGA-S, RGA-C) and ABD-Net's CAM and PAM.

:func:`attention_design_table` builds every attention module each network has, at the sizes its
feature maps take for one input size (LAGA-Net's hand size 324 x 324 by default), and measures
what it attends over, its parameters and its forward GFLOPs for one image
(``torch.utils.flop_counter``: matrix products and convolutions; softmax and BatchNorm are not
counted). RGA modules are measured on the meta device (nothing is computed: at 324 x 324 RGA-S
after layer1 relates 6561 positions); the others run on zeros on the CPU (their autocast guard
does not run on the meta device). :func:`model_parameters` counts the three whole networks.
"""

from __future__ import annotations

from typing import Sequence

import pandas as pd
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from .abdnet import PositionAttention, part_bounds
from .attention import ChannelAttention, SpatialAttentionRPE
from .rganet import STAGE_CHANNELS, RGAChannel, RGASpatial, stage_sizes

__all__ = ["attention_design_table", "model_parameters", "module_gflops"]


def module_gflops(module: nn.Module, shape: Sequence[int], device: str = "cpu") -> float:
    """Forward GFLOPs of ``module`` on one input of ``shape`` (C, H, W), batch 1."""
    module = module.to(device).eval()
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        module(torch.zeros(1, *shape, device=device))
    return counter.get_total_flops() / 1e9


def _row(design, name, where, over, modules_and_shapes, device="cpu") -> dict:
    params = sum(p.numel() for m, _ in modules_and_shapes for p in m.parameters())
    gflops = sum(module_gflops(m, s, device) for m, s in modules_and_shapes)
    return {"design": design, "module": name, "where": where, "attends over": over,
            "instances": len(modules_and_shapes), "params": params, "GFLOPs": round(gflops, 3)}


def attention_design_table(image_size: Sequence[int] = (324, 324)) -> pd.DataFrame:
    """One row per attention module type of LAGA-Net, RGA-Net and ABD-Net at ``image_size``:
    where it sits, what it attends over (with the sizes at this input), how many instances the
    network has, their parameters and forward GFLOPs (one image, all instances together)."""
    (h1, w1), (h2, w2), (h3, w3), _ = stage_sizes(image_size)
    n3 = h3 * w3
    rows = [
        _row("LAGA-Net", "CAM", "after layer3 and layer4 (CAM branch)",
             f"channels: C x C affinities (C = 1024, 2048) of {h3}x{w3} maps",
             [(ChannelAttention(), (1024, h3, w3)), (ChannelAttention(), (2048, h3, w3))]),
        _row("LAGA-Net", "SAM-RPE", "after layer3 and layer4 (SAM branch)",
             f"positions: N x N = {n3} x {n3} content + relative row/column offsets",
             [(SpatialAttentionRPE(1024), (1024, h3, w3)), (SpatialAttentionRPE(2048), (2048, h3, w3))]),
    ]
    sizes = list(zip(STAGE_CHANNELS, stage_sizes(image_size)))
    nodes = ", ".join(str(h * w) for _, (h, w) in sizes)
    with torch.device("meta"):
        spatial = [(RGASpatial(c, h, w), (c, h, w)) for c, (h, w) in sizes]
        channel = [(RGAChannel(c, h, w), (c, h, w)) for c, (h, w) in sizes]
    rows += [
        _row("RGA-Net", "RGA-S", "after layer1, 2, 3, 4",
             f"positions: each one's 2N relations to all N positions (N = {nodes}) -> conv -> 1 weight",
             spatial, "meta"),
        _row("RGA-Net", "RGA-C", "after layer1, 2, 3, 4 (after RGA-S)",
             "channels: each one's 2C relations to all C channels (C = 256 .. 2048) -> conv -> 1 weight",
             channel, "meta"),
    ]
    parts = part_bounds(h3, 2)
    ph = parts[0][1] - parts[0][0]
    rows += [
        _row("ABD-Net", "CAM (shallow)", "after layer1",
             f"channels: 256 x 256 affinities of {h1}x{w1} maps", [(ChannelAttention(energy="authors"), (256, h1, w1))]),
        _row("ABD-Net", "CAM (attentive branch)", "in each part's DANet head (2 parts)",
             f"channels: 512 x 512 affinities of a {ph}x{w3} part", [(ChannelAttention(energy="authors"), (512, ph, w3))] * 2),
        _row("ABD-Net", "PAM (attentive branch)", "in each part's DANet head (2 parts)",
             f"positions within a part: {ph * w3} x {ph * w3}", [(PositionAttention(512), (512, ph, w3))] * 2),
    ]
    return pd.DataFrame(rows).set_index(["design", "module"])


def model_parameters(image_size: Sequence[int] = (324, 324), num_classes: int = 100) -> pd.Series:
    """Parameters (millions) of the whole LAGA-Net, RGA-Net (built for ``image_size``) and ABD-Net
    with ``num_classes`` identities (built on the meta device: nothing is allocated)."""
    from . import build_model

    counts = {}
    with torch.device("meta"):
        for label, name, options in (("LAGA-Net", "laganet", {}),
                                     ("RGA-Net", "rganet", {"image_size": tuple(image_size)}),
                                     ("ABD-Net", "abdnet", {})):
            model = build_model(name, num_classes, **options)
            counts[label] = round(sum(p.numel() for p in model.parameters()) / 1e6, 2)
    return pd.Series(counts, name="params_M")
