"""ABD-Net (Chen et al., "ABD-Net: Attentive but Diverse Person Re-Identification", ICCV 2019).

ResNet50 (last stride 1) with, in the configuration of the authors' training guide
(``--branches global abd --abd-dan cam pam --abd-np 2 --shallow-cam --use-of --use-ow``):

- a shallow CAM after res_conv_2 (layer1), the channel attention of DANet (§3.1);
- layer2, layer3 shared; after res_conv_4 (layer3) two branches, each with its own copy of layer4:
  - global: GAP -> FC 2048 -> 1024 + BN + ReLU + dropout 0.5 -> classifier;
  - attentive: 1x1 conv 2048 -> 1024 + BN + ReLU, the map cut into ``num_parts`` = 2 horizontal parts;
    on each part three DANet heads (identity, CAM, PAM: 3x3 conv 1024 -> 512 + BN + ReLU, the
    attention, 3x3 conv 512 -> 512 + BN + ReLU, dropout2d 0.1 + 1x1 conv 512 -> 1024) are summed,
    then dropout2d 0.1 + 1x1 conv 1024 -> 1024, GAP -> a 1024-d part vector -> classifier.
- test descriptor: [global, part_1, part_2] = 3072-d. The triplet loss sees the same vectors (the
  global one after dropout, as in the authors' code), the cross-entropy the three classifiers.

CAM (Eq. 1-2, DANet): ``A = softmax(max(E) - E)``, ``E = X X^T`` (C x C), ``out = gamma A X + X``; this is
:class:`~handreid.models.attention.ChannelAttention` with ``invert_energy=True`` (softmax is shift
invariant). PAM (Eq. 3-4): :class:`PositionAttention`. The training-mode output carries the feature
maps the O.F. regularizer reads (``maps``: "intermediate" = the shallow CAM's output, "before",
"cam", "pam", "after" per part), and :meth:`ABDNet.extra_losses` returns the O.F./O.W. term
(:class:`handreid.losses.ABDNetRegularizers`) with the guide's weights and start epoch.

Differences from the authors' code (parameter count and descriptor size equal at 384 x 128):
- the parts: the reference asserts that the map height divides by ``num_parts`` (384 x 128 -> 24 rows,
  two 12-row parts) and fails at 324 x 324 (21 rows); here parts are PyTorch's adaptive bins, the
  same as the reference's slices when the height divides, otherwise rows [floor(iH/n), ceil((i+1)H/n))
  (21 rows: 0-10 and 10-20, sharing row 10), as the local branches of GPA-Net and LAGA-Net do;
- the descriptor order is fixed (global, part_1, part_2); the reference's branch order comes from
  iterating a ``frozenset`` of branch names, so it can change from one Python process to the next;
- ``backbone_parameters()`` = the ResNet50 layers (stem .. layer3, both layer4 copies); the reference
  trains every parameter at one learning rate (the ``abd`` recipe does too).
"""

from __future__ import annotations

import copy
from collections import OrderedDict
import torch
from torch import Tensor, nn

from .attention import ChannelAttention
from .backbone import current_trunk, resnet50_trunk
from .heads import ReIDModel, ReIDOutput
from .registry import register_model

__all__ = ["ABDNet", "DANetHead", "PositionAttention", "abdnet", "part_bounds"]

OF_POSITIONS = ("intermediate", "before", "cam", "pam", "after")


class PositionAttention(nn.Module):
    """PAM (ABD-Net Eq. 3-4, DANet's position attention): B = W_q X, C = W_k X (1x1 convs, C -> C/8,
    with bias), D = W_v X (C -> C); ``S = softmax_j(B_i . C_j)`` (N x N, one row per query position i);
    ``out_i = gamma * sum_j S[i, j] D_j + X_i``; gamma starts at 0."""

    def __init__(self, channels: int):
        super().__init__()
        if channels < 8:
            raise ValueError(f"PositionAttention: channels must be >= 8, got {channels}")
        self.query = nn.Conv2d(channels, channels // 8, 1)
        self.key = nn.Conv2d(channels, channels // 8, 1)
        self.value = nn.Conv2d(channels, channels, 1)
        self.gamma = nn.Parameter(torch.zeros(1))

    def attention(self, x: Tensor) -> Tensor:
        """S (B, N, N): row i = query position i, softmax over the key positions j."""
        q = self.query(x).flatten(2)                                 # (B, C/8, N)
        k = self.key(x).flatten(2)
        return torch.softmax(torch.bmm(q.transpose(1, 2), k), dim=-1)

    def forward(self, x: Tensor) -> Tensor:
        s = self.attention(x)
        out = torch.bmm(self.value(x).flatten(2), s.transpose(1, 2))  # D S^T: column i = sum_j S[i,j] D_j
        return self.gamma * out.view_as(x) + x


class DANetHead(nn.Module):
    """3x3 conv (C -> C/2) + BN + ReLU, ``attention`` (identity, CAM or PAM on C/2 channels),
    3x3 conv + BN + ReLU, dropout2d 0.1 + 1x1 conv (C/2 -> out, with bias)."""

    def __init__(self, in_channels: int, out_channels: int, attention: str):
        super().__init__()
        mid = in_channels // 2
        self.conv_in = nn.Sequential(nn.Conv2d(in_channels, mid, 3, padding=1, bias=False),
                                     nn.BatchNorm2d(mid), nn.ReLU())
        if attention == "identity":
            self.attention = nn.Identity()
        elif attention == "cam":
            self.attention = ChannelAttention(energy="authors")
        elif attention == "pam":
            self.attention = PositionAttention(mid)
        else:
            raise ValueError(f"DANetHead: attention must be 'identity', 'cam' or 'pam', got {attention!r}")
        self.conv_mid = nn.Sequential(nn.Conv2d(mid, mid, 3, padding=1, bias=False),
                                      nn.BatchNorm2d(mid), nn.ReLU())
        self.conv_out = nn.Sequential(nn.Dropout2d(0.1), nn.Conv2d(mid, out_channels, 1))

    def forward(self, x: Tensor) -> Tensor:
        return self.conv_out(self.conv_mid(self.attention(self.conv_in(x))))


def init_params(module: nn.Module) -> None:
    """The authors' initialisation of the new layers: convs Kaiming-normal (fan_out, ReLU), BN weight
    ~ N(1, 0.02), linear weights ~ N(0, 0.01), biases 0."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0.0, 0.01)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def part_bounds(height: int, num_parts: int) -> list[tuple[int, int]]:
    """Row ranges of the horizontal parts: PyTorch's adaptive-pooling bins
    ``[floor(i H / n), ceil((i + 1) H / n))``; equal slices when ``n`` divides ``H``."""
    if height < num_parts:
        raise ValueError(f"ABD-Net: a {height}-row feature map cannot be cut into {num_parts} parts")
    return [(i * height // num_parts, -(-(i + 1) * height // num_parts)) for i in range(num_parts)]


class ABDNet(ReIDModel):
    """ABD-Net; see the module docstring and :func:`abdnet` for the options."""

    backbone_modules = ("backbone", "layer4")

    def __init__(self, num_classes: int, pretrained: bool = False, num_parts: int = 2, global_dim: int = 1024,
                 part_dim: int = 1024, dropout: float = 0.5, of_beta: float = 1e-6, of_start_epoch: int = 23,
                 ow_beta: float = 1e-3, ow_layers: str = "stem"):
        super().__init__()
        if isinstance(num_parts, bool) or not isinstance(num_parts, int) or num_parts < 1:
            raise ValueError(f"abdnet: num_parts must be a positive int, got {num_parts!r}")
        if ow_layers not in ("stem", "backbone"):
            raise ValueError(f"abdnet: ow_layers must be 'stem' or 'backbone', got {ow_layers!r}")
        self.num_parts = num_parts
        self.regularizer_options = {"of_beta": float(of_beta), "of_start_epoch": int(of_start_epoch),
                                    "ow_beta": float(ow_beta), "ow_layers": ow_layers}
        trunk = resnet50_trunk(pretrained, last_stride=1)
        self.backbone = nn.ModuleDict(OrderedDict(
            stem=nn.Sequential(trunk.conv1, trunk.bn1, trunk.relu, trunk.maxpool, trunk.layer1),
            middle=nn.Sequential(trunk.layer2, trunk.layer3),
        ))
        self.layer4 = nn.ModuleDict(OrderedDict(
            [("global", trunk.layer4), ("attentive", copy.deepcopy(trunk.layer4))]))
        self.shallow_cam = ChannelAttention(energy="authors")
        c4 = trunk.out_channels
        global_dim, part_dim = (current_trunk().channels(d) for d in (global_dim, part_dim))  # scale with the trunk
        self.global_fc = nn.Sequential(nn.Linear(c4, global_dim), nn.BatchNorm1d(global_dim), nn.ReLU(),
                                       nn.Dropout(dropout))
        self.reduction = nn.Sequential(nn.Conv2d(c4, part_dim, 1, bias=False), nn.BatchNorm2d(part_dim), nn.ReLU())
        self.part_heads = nn.ModuleDict(
            (name, DANetHead(part_dim, part_dim, att))
            for name, att in (("before", "identity"), ("cam", "cam"), ("pam", "pam")))
        self.sum_conv = nn.Sequential(nn.Dropout2d(0.1), nn.Conv2d(part_dim, part_dim, 1))
        self.names = ("global",) + tuple(f"part_{i + 1}" for i in range(num_parts))
        self.heads = nn.ModuleList(
            [nn.Linear(global_dim, num_classes)] + [nn.Linear(part_dim, num_classes) for _ in range(num_parts)])
        for m in (self.global_fc, self.reduction, self.part_heads, self.sum_conv, self.heads):
            init_params(m)
        self.descriptor_dim = global_dim + num_parts * part_dim
        self.num_classes = num_classes

    def forward_output(self, x: Tensor) -> ReIDOutput:
        maps: dict[str, list[Tensor]] = {k: [] for k in OF_POSITIONS}
        x1 = self.shallow_cam(self.backbone["stem"](x))
        maps["intermediate"].append(x1)
        x3 = self.backbone["middle"](x1)
        g = self.global_fc(self.layer4["global"](x3).mean(dim=(2, 3)))
        vectors = [g]
        t = self.reduction(self.layer4["attentive"](x3))
        for top, bottom in part_bounds(t.shape[2], self.num_parts):
            part = t[:, :, top:bottom]
            outs = {k: head(part) for k, head in self.part_heads.items()}
            after = self.sum_conv(outs["before"] + outs["cam"] + outs["pam"])
            for k, v in outs.items():
                maps[k].append(v)
            maps["after"].append(after)
            vectors.append(after.mean(dim=(2, 3)))
        logits = [head(v) for head, v in zip(self.heads, vectors)]
        return ReIDOutput(logits, vectors, vectors, self.names, maps)

    def forward_descriptor(self, x: Tensor) -> Tensor:
        """[global, part_1, ..., part_n] (3072-d with two parts)."""
        return torch.cat(self.forward_output(x).features, dim=1)

    def ow_weights(self) -> list[Tensor]:
        """The conv weights O.W. regularises: ``ow_layers="stem"`` = the first conv (64 x 3 x 7 x 7), the
        only one the reference's layer walk reaches (it recurses into ``nn.Sequential`` only, not into
        the ResNet bottlenecks); ``"backbone"`` = every conv of the ResNet50 layers, as the reference
        intends (``backbone_modules``)."""
        if self.regularizer_options["ow_layers"] == "stem":
            return [self.backbone["stem"][0].weight]
        return [m.weight for name in self.backbone_modules for m in getattr(self, name).modules()
                if isinstance(m, nn.Conv2d)]

    def extra_losses(self) -> list:
        from ..losses import ABDNetRegularizers

        o = self.regularizer_options
        return [ABDNetRegularizers(self.ow_weights, of_beta=o["of_beta"], of_start_epoch=o["of_start_epoch"],
                                   ow_beta=o["ow_beta"])]

    def extra_repr(self) -> str:
        return f"num_parts={self.num_parts}, descriptor_dim={self.descriptor_dim}, {self.regularizer_options}"


@register_model
def abdnet(num_classes: int, pretrained: bool = False, num_parts: int = 2, global_dim: int = 1024,
           part_dim: int = 1024, dropout: float = 0.5, of_beta: float = 1e-6, of_start_epoch: int = 23,
           ow_beta: float = 1e-3, ow_layers: str = "stem") -> ABDNet:
    """ABD-Net as in its training guide: global (1024-d) + attentive branch with CAM + PAM on
    ``num_parts`` = 2 parts (1024-d each) = 3072-d, shallow CAM. Regularizers (the guide's defaults):
    O.F. weight ``of_beta`` = 1e-6 from epoch ``of_start_epoch`` = 23 (0-based), O.W. weight
    ``ow_beta`` = 1e-3 from the start, on ``ow_layers`` ("stem": what the reference regularises,
    "backbone": every ResNet conv)."""
    return ABDNet(num_classes, pretrained, num_parts, global_dim, part_dim, dropout, of_beta, of_start_epoch,
                  ow_beta, ow_layers)
