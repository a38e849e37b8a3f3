"""GPA-Net (IPTA 2022, §2) and the ResNet50 baseline (§3.2).

GPA-Net: a ResNet50 trunk (last stride 1) gives the activation tensor T (B, 2048, M, N).
- Global branch: global average pooling of T -> f_g (2048-d).
- Local branch: average pooling of T into an ``hp`` x ``vp`` grid -> f_1 ... f_p (p = hp * vp),
  ``hp`` = horizontal partitions = stripes stacked along the HEIGHT, ``vp`` = partitions along the
  WIDTH, numbered row-major (``part_1_1, part_1_2, ..., part_hp_vp``).
Each f gets its own :class:`ReductionHead` (FC 2048 -> 512, BN, dropout 0.5, classifier).
Test descriptor: F = [f_g, f_1, ..., f_p] (8192-d for hp=3, vp=1), not normalised.

The grid uses adaptive average pooling: when M (or N) is divisible by hp (vp) the cells are exactly
the uniform blocks of the paper (384x384 input: T is 24x24, hp=3 -> three 8x24 stripes); otherwise
PyTorch's adaptive bins (floor/ceil bounds, possibly overlapping by one row) are used.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from .registry import register_model
from .backbone import ResNet50Trunk, current_trunk, resnet50_trunk
from .heads import ClassifierHead, ReductionHead, ReIDModel

__all__ = ["GPANet", "ResNet50Baseline", "gpanet", "resnet50"]


def _positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


class GPANet(ReIDModel):
    """Global and Part-Aware network. See the module docstring; options as in :func:`gpanet`."""

    def __init__(
        self,
        num_classes: int,
        pretrained: bool = False,
        hp: int = 3,
        vp: int = 1,
        use_global: bool = True,
        use_local: bool = True,
        last_stride: int = 1,
        reduction_dim: int = 512,
        dropout: float = 0.5,
    ):
        super().__init__()
        self.hp, self.vp = _positive_int("hp", hp), _positive_int("vp", vp)
        _positive_int("reduction_dim", reduction_dim)
        if not (use_global or use_local):
            raise ValueError("gpanet: use_global and use_local cannot both be False (no branch left)")
        if hp * vp == 1:
            # GPA-Net Table 3: Hp = Vp = 1 is the global component alone (only 1 classifier).
            # A 1x1 "grid" would duplicate f_g, so the local branch is off.
            if not use_global:
                raise ValueError(
                    "gpanet: hp=vp=1 with use_global=False: a 1x1 grid is the global component; "
                    "use use_global=True (and hp=vp=1) for 'Global only'"
                )
            use_local = False
        self.use_global, self.use_local = bool(use_global), bool(use_local)

        self.backbone: ResNet50Trunk = resnet50_trunk(pretrained, last_stride)
        c = self.backbone.out_channels
        reduction_dim = current_trunk().channels(reduction_dim)  # the heads scale with the trunk
        names: list[str] = []
        if self.use_global:
            names.append("global")
        if self.use_local:
            names += [f"part_{i + 1}_{j + 1}" for i in range(hp) for j in range(vp)]
        self.names = tuple(names)
        self.heads = nn.ModuleList(
            ReductionHead(c, reduction_dim, num_classes, activation=None, dropout=dropout) for _ in names
        )
        self.descriptor_dim = c * len(names)
        self.num_classes = num_classes

    def extract(self, x: Tensor) -> list[Tensor]:
        t = self.backbone(x)
        feats: list[Tensor] = []
        if self.use_global:
            feats.append(t.mean(dim=(2, 3)))                       # GAP -> f_g
        if self.use_local:
            grid = F.adaptive_avg_pool2d(t, (self.hp, self.vp))    # (B, C, hp, vp)
            feats.extend(grid.flatten(2).unbind(dim=2))            # row-major f_1 ... f_p
        return feats

    def extra_repr(self) -> str:
        return f"hp={self.hp}, vp={self.vp}, use_global={self.use_global}, use_local={self.use_local}"


class ResNet50Baseline(ReIDModel):
    """ImageNet ResNet50 with its 1000-way FC replaced by a ``num_classes``-way FC (GPA-Net §3.2:
    "changing the number of classes"). Descriptor: the 2048-d GAP vector.

    Deliberately no reduction/BN/dropout head: the paper's baseline only changes the number of
    classes. The new FC is initialised normal(0, 0.001), bias 0, like every classifier here.
    ``last_stride=2`` (the original ResNet50) by default.
    """

    def __init__(self, num_classes: int, pretrained: bool = False, last_stride: int = 2):
        super().__init__()
        self.backbone: ResNet50Trunk = resnet50_trunk(pretrained, last_stride)
        c = self.backbone.out_channels
        self.names = ("global",)
        self.heads = nn.ModuleList([ClassifierHead(c, num_classes)])
        self.descriptor_dim = c
        self.num_classes = num_classes

    def extract(self, x: Tensor) -> list[Tensor]:
        return [self.backbone(x).mean(dim=(2, 3))]


@register_model
def gpanet(
    num_classes: int,
    pretrained: bool = False,
    hp: int = 3,
    vp: int = 1,
    use_global: bool = True,
    use_local: bool = True,
    last_stride: int = 1,
    reduction_dim: int = 512,
    dropout: float = 0.5,
) -> GPANet:
    """GPA-Net. ``hp``/``vp``: partitions along height/width (Table 3; hp=vp=1 = global component
    alone, one classifier). ``use_global=False``: "Local only"; ``use_local=False``: "Global only"
    (Table 4). ``last_stride=1`` as in the paper."""
    return GPANet(num_classes, pretrained, hp, vp, use_global, use_local, last_stride, reduction_dim, dropout)


@register_model
def resnet50(num_classes: int, pretrained: bool = False, last_stride: int = 2) -> ResNet50Baseline:
    """ResNet50 baseline (GPA-Net §3.2): GAP 2048-d descriptor, one plain classifier FC."""
    return ResNet50Baseline(num_classes, pretrained, last_stride)
