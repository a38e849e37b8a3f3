"""LAGA-Net (§III-C, Fig. 2) and MBA-Net (LAGA-Net ref. [39]).

ResNet50 (ImageNet) up to layer3 is shared; after layer3 the network splits into independent
branches, each with its own copy of layer4 (last stride 1; every copy starts from the same
pretrained layer4 weights):

- ``sam`` (spatial attention): S3 -> layer4 -> S4 -> GAP -> s     (S = :class:`SpatialAttentionRPE`)
- ``cam`` (channel attention): C3 -> layer4 -> C4 -> GAP -> c     (C = :class:`ChannelAttention`)
- ``global``: layer4 -> GAP -> g
- ``local``: layer4 -> average pooling into ``num_stripes`` horizontal stripes (along the height)
  -> p_1 .. p_n

Each 2048-d vector gets a :class:`ReductionHead` (FC 2048 -> 1024, BN, LeakyReLU, dropout 0.5,
classifier). Training output (:class:`ReIDOutput`): logits, reduced embeddings (for the triplet
loss) and pooled features in the order [s, c, g, p_1, p_2, p_3], names ``("sam", "cam", "global",
"part_1", "part_2", "part_3")``. Test descriptor: F = [s, c, g, p_1, p_2, p_3] concatenated
(12288-d); the engine averages it with the flipped image's (the ``laga`` recipe's flip_test).

Branch subsets give the ablations of Table III, always in the order above: ``("global",)`` 2048-d,
``("global", "local")`` 8192-d, ``("global", "local", "cam")`` 10240-d, all four 12288-d.
MBA-Net = ``("sam", "cam", "global")``, 6144-d.

Paper vs. the authors' public code: the paper creates "4 independent branches just after layer 3"
(our default); the authors' code runs every branch through one shared layer4
(``shared_layer4=True``; then global and local share one layer4 output). The code's reduction is
2048 -> 2048 while the paper says 1024 (``reduction_dim``, default 1024). The public MBA-Net code
also has the 3-stripe local branch; :func:`mbanet` follows the MBA-Net description (global + CAM +
SAM-RPE) - the same network with the local branch is ``laganet``.

The attention modules' ``cam_energy`` ("paper": Eq. 1; "authors": the code's softmax(max - E)) and
``sam_rpe`` ("axial": our reading of Eq. 4-7; "literal": the code's, square maps only) are the
other paper/code switches (see :mod:`handreid.models.attention`). The public MBA-Net code, read
for :func:`mbanet`: ResNet50 (last stride 1) with ONE layer4 run by all three branches
(``shared_layer4=True``), FC 2048 -> 2048 + BN + LeakyReLU(0.1) + dropout 0.5 heads
(``reduction_dim=2048``), CAM with softmax(max - E) and the literal SAM-RPE on the 21 x 21 maps of
324 x 324 inputs; the ``mba`` recipe (``handreid.engine.recipes``) builds it that way.

Learning rates (§IV-B): ``backbone_parameters()`` = stem .. layer3 and every layer4 copy (the
pretrained layers, 0.1x lr); the attention modules and the heads are new (full lr).
Stripes use adaptive average pooling: uniform when the map height is divisible by ``num_stripes``
(384x128 -> 24x8 -> three 8-row stripes; 324x324 -> 21x21 -> three 7-row stripes), PyTorch's
adaptive bins otherwise.
"""

from __future__ import annotations

import copy
from collections import OrderedDict
from typing import Iterable

import torch.nn.functional as F
from torch import Tensor, nn

from .registry import register_model
from .attention import CAM_ENERGIES, SAM_RPE_READINGS, ChannelAttention, SpatialAttentionRPE
from .backbone import current_trunk, resnet50_trunk
from .heads import ReductionHead, ReIDModel

__all__ = ["BRANCHES", "LAGANet", "laganet", "mbanet"]

BRANCHES = ("sam", "cam", "global", "local")   # descriptor order


def _positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


def _check_branches(branches: Iterable[str] | str) -> tuple[str, ...]:
    """Validate a branch subset; returns it in descriptor order (sam, cam, global, local)."""
    valid = "valid branches: " + ", ".join(repr(b) for b in ("global", "local", "cam", "sam"))
    if isinstance(branches, str):
        branches = (branches,)
    try:
        items = list(branches)
    except TypeError:
        raise ValueError(f"laganet: branches must be a sequence of branch names; {valid}") from None
    unknown = [b for b in items if b not in BRANCHES]
    if unknown:
        raise ValueError(f"laganet: unknown branch(es) {', '.join(map(repr, unknown))}; {valid}")
    if not items:
        raise ValueError(f"laganet: at least one branch is needed; {valid}")
    if len(set(items)) != len(items):
        raise ValueError(f"laganet: repeated branch in {tuple(items)!r}")
    return tuple(b for b in BRANCHES if b in items)


class LAGANet(ReIDModel):
    """Local-Aware Global Attention Network. See the module docstring; options as in :func:`laganet`.

    Attributes: ``branches`` (descriptor order), ``names``, ``descriptor_dim``, ``backbone``
    (stem .. layer3), ``layer4`` (``nn.ModuleDict``: one layer4 per branch, or ``{"shared": ...}``),
    ``sam3``/``sam4`` and ``cam3``/``cam4`` (the attention modules, when those branches are on).
    """

    backbone_modules = ("backbone", "layer4")

    def __init__(
        self,
        num_classes: int,
        pretrained: bool = False,
        branches: Iterable[str] = ("global", "local", "cam", "sam"),
        shared_layer4: bool = False,
        last_stride: int = 1,
        num_stripes: int = 3,
        reduction_dim: int = 1024,
        dropout: float = 0.5,
        cam_energy: str = "paper",
        sam_rpe: str = "axial",
    ):
        super().__init__()
        self.branches = _check_branches(branches)
        self.num_stripes = _positive_int("num_stripes", num_stripes)
        _positive_int("reduction_dim", reduction_dim)
        self.shared_layer4 = bool(shared_layer4)
        if cam_energy not in CAM_ENERGIES:
            raise ValueError(f"laganet: cam_energy must be one of {', '.join(map(repr, CAM_ENERGIES))}, "
                             f"got {cam_energy!r}")
        if sam_rpe not in SAM_RPE_READINGS:
            raise ValueError(f"laganet: sam_rpe must be one of {', '.join(map(repr, SAM_RPE_READINGS))}, "
                             f"got {sam_rpe!r}")
        self.cam_energy, self.sam_rpe = cam_energy, sam_rpe

        trunk = resnet50_trunk(pretrained, last_stride)
        self.backbone = nn.Sequential(OrderedDict(
            (name, getattr(trunk, name))
            for name in ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3")
        ))
        if self.shared_layer4:
            self.layer4 = nn.ModuleDict({"shared": trunk.layer4})
        else:
            # independent copies, all starting from the same (pretrained) weights
            self.layer4 = nn.ModuleDict(
                (b, trunk.layer4 if i == 0 else copy.deepcopy(trunk.layer4))
                for i, b in enumerate(self.branches)
            )
        c3, c4 = trunk.stage_channels[2:]
        reduction_dim = current_trunk().channels(reduction_dim)  # the heads scale with the trunk
        if "sam" in self.branches:
            self.sam3 = SpatialAttentionRPE(c3, rpe=sam_rpe)
            self.sam4 = SpatialAttentionRPE(c4, rpe=sam_rpe)
        if "cam" in self.branches:
            self.cam3 = ChannelAttention(energy=cam_energy)
            self.cam4 = ChannelAttention(energy=cam_energy)

        names: list[str] = []
        for b in self.branches:
            if b == "local":
                names += [f"part_{i + 1}" for i in range(self.num_stripes)]
            else:
                names.append(b)
        self.names = tuple(names)
        self.heads = nn.ModuleList(
            ReductionHead(c4, reduction_dim, num_classes, activation="leaky_relu", dropout=dropout)
            for _ in names
        )
        self.descriptor_dim = c4 * len(names)
        self.num_classes = num_classes

    def _layer4(self, branch: str) -> nn.Module:
        return self.layer4["shared" if self.shared_layer4 else branch]

    def extract(self, x: Tensor) -> list[Tensor]:
        """The pooled 2048-d vectors [s, c, g, p_1 .. p_n] of the branches that are on."""
        x3 = self.backbone(x)
        feats: list[Tensor] = []
        if "sam" in self.branches:
            t = self.sam4(self._layer4("sam")(self.sam3(x3)))
            feats.append(t.mean(dim=(2, 3)))                                   # s
        if "cam" in self.branches:
            t = self.cam4(self._layer4("cam")(self.cam3(x3)))
            feats.append(t.mean(dim=(2, 3)))                                   # c
        t_global = None
        if "global" in self.branches:
            t_global = self._layer4("global")(x3)
            feats.append(t_global.mean(dim=(2, 3)))                            # g
        if "local" in self.branches:
            t = t_global if (self.shared_layer4 and t_global is not None) else self._layer4("local")(x3)
            stripes = F.adaptive_avg_pool2d(t, (self.num_stripes, 1))          # (B, C, n, 1)
            feats.extend(stripes.flatten(2).unbind(dim=2))                     # p_1 .. p_n, top to bottom
        return feats

    def attention_modules(self) -> list[nn.Module]:
        """The attention modules present (S3, S4, C3, C4 order)."""
        return [getattr(self, n) for n in ("sam3", "sam4", "cam3", "cam4") if hasattr(self, n)]

    def extra_repr(self) -> str:
        return (
            f"branches={self.branches}, shared_layer4={self.shared_layer4}, "
            f"num_stripes={self.num_stripes}, descriptor_dim={self.descriptor_dim}, "
            f"cam_energy={self.cam_energy!r}, sam_rpe={self.sam_rpe!r}"
        )


@register_model
def laganet(
    num_classes: int,
    pretrained: bool = False,
    branches: tuple[str, ...] = ("global", "local", "cam", "sam"),
    shared_layer4: bool = False,
    last_stride: int = 1,
    num_stripes: int = 3,
    reduction_dim: int = 1024,
    dropout: float = 0.5,
    cam_energy: str = "paper",
    sam_rpe: str = "axial",
) -> LAGANet:
    """LAGA-Net. ``branches``: any non-empty subset of "global", "local", "cam", "sam" (Table III:
    ("global",), ("global", "local"), ("global", "local", "cam"), all four = LAGA-Net); the outputs
    and the descriptor always follow the order sam, cam, global, local. ``shared_layer4=False``
    follows the paper (independent layer4 per branch); True is the authors' public code (one layer4
    for all branches). ``last_stride=1`` as in the paper. ``cam_energy``: "paper" (Eq. 1) or
    "authors" (softmax(max - E)); ``sam_rpe``: "axial" or "literal" (the code's, square maps)."""
    return LAGANet(num_classes, pretrained, branches, shared_layer4, last_stride, num_stripes,
                   reduction_dim, dropout, cam_energy, sam_rpe)


@register_model
def mbanet(
    num_classes: int,
    pretrained: bool = False,
    shared_layer4: bool = False,
    last_stride: int = 1,
    reduction_dim: int = 1024,
    dropout: float = 0.5,
    cam_energy: str = "paper",
    sam_rpe: str = "axial",
) -> LAGANet:
    """MBA-Net (LAGA-Net ref. [39]): global + CAM + SAM-RPE branches, no local branch; descriptor
    [s, c, g], 6144-d. Options as in :func:`laganet`; the public MBA-Net code is
    ``shared_layer4=True, reduction_dim=2048, cam_energy="authors", sam_rpe="literal"`` (what
    the ``authors`` variant, and so the ``mba`` recipe, selects)."""
    return LAGANet(num_classes, pretrained, ("sam", "cam", "global"), shared_layer4, last_stride,
                   3, reduction_dim, dropout, cam_energy, sam_rpe)
