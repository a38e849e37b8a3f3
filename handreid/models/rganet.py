"""RGA-Net (Zhang et al., "Relation-Aware Global Attention for Person Re-identification", CVPR 2020).

RGA-SC: a ResNet50 (last stride 1) with a relation-aware global attention module after each of its
four stages, spatial (RGA-S) then channel (RGA-C) attention in sequence (§3.4, "RGA-SC"); global
average pooling -> f (2048-d) -> BatchNorm1d (the BN neck, bias frozen) -> classifier (no bias).
Training: the triplet loss sees f, the cross-entropy the classifier's logits; test descriptor:
BN(f), 2048-d.

The relation-aware attention (§3.2-3.3), for a set of N nodes with d-dimensional features
(RGA-S: nodes = the H*W positions, features = the C channels; RGA-C: nodes = the C channels,
features = the H*W values of each channel map):

- pairwise relations ``R = theta(X)^T phi(X)`` (N x N), theta, phi = 1x1 conv (d -> d/s1) + BN + ReLU;
- the relation feature of node i stacks its outgoing and incoming relations, ``r_i = [R(i,:), R(:,i)]``
  (2N values);
- ``y_i = [mean_c(psi(x_i)), varphi(r_i)]``: psi = 1x1 conv (d -> d/s1) + BN + ReLU, averaged over its
  channels (one value), varphi = 1x1 conv (2N -> N/s2) + BN + ReLU;
- ``a_i = sigmoid(W2 ReLU(W1 y_i))``: W1 = conv (1 + N/s2 -> (1 + N/s2)/s3) + BN, W2 = conv (-> 1) + BN;
- the node's features are scaled by a_i.

Embedding ratios ``s1 = s2 = s3 = 8`` as in the authors' code (``cha_ratio = spa_ratio = down_ratio
= 8``); the module sits after layer1, layer2, layer3 and layer4.

Input size. RGA-S has layers with 2N input channels and RGA-C layers with H*W input channels, so the
network's parameters depend on the feature-map sizes. The reference code builds them from
``height // 4 * width // 4`` (and //8, //16), which equals the real maps only when the input sides are
multiples of 16: at 324 x 324 (LAGA-Net's hand size) the maps are 81, 41, 21, 21 rows, not 81, 40,
20, 20, and the reference fails at layer2. Here the sizes come from the real maps: ``image_size``
(the network input, (H, W)) gives each stage's output size through ResNet's own arithmetic
(:func:`stage_sizes`); a forward at another size raises a ``ValueError`` that says so.
:func:`handreid.engine.fit` passes the recipe's input size. Built without ``image_size``, each
module takes its size from the first map it sees (its parameters exist only after one forward).

Differences from the reference code (parameter count and descriptor size are equal at 384 x 128):
1x1 convolutions over a node axis are ``Conv1d`` (same weights, shapes ``(out, in, 1)`` instead of
``(out, in, 1, 1)``, computed as a matrix product: :class:`PointwiseConv1d`); an embedding width
``n // ratio`` is at least 1 (tiny inputs such as the demo's 64 x 64, where the reference would build a 0-channel layer and fail); the test descriptor is the BN-neck vector (the reference evaluates both f and
BN(f)); its learning rates are the same for backbone and new layers (``rga`` recipe).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Sequence

import torch
from torch import Tensor, nn

from .backbone import ResNet50Trunk, resnet50_trunk
from .heads import ReIDModel, init_classifier
from .registry import register_model

__all__ = ["PointwiseConv1d", "RGANet", "RGAChannel", "RGASpatial", "RelationAwareAttention", "rganet", "stage_sizes"]

STAGE_CHANNELS = (256, 512, 1024, 2048)


class PointwiseConv1d(nn.Conv1d):
    """A 1x1 ``Conv1d`` without bias (same weight, shape ``(out, in, 1)``) computed as one matrix
    product: on a CPU, oneDNN's convolution is 2x slower on RGA-S's relation inputs (2N = 512
    channels at N = 256 positions: BENCHMARKS.md, seventh pass)."""

    def __init__(self, in_dim: int, out_dim: int):
        super().__init__(in_dim, out_dim, 1, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        return torch.einsum("oi,bin->bon", self.weight[..., 0], x)


def _embed(in_dim: int, out_dim: int) -> nn.Sequential:
    """1x1 conv over the node axis (no bias) + BN + ReLU: theta, phi, psi and varphi of §3.2."""
    return nn.Sequential(PointwiseConv1d(in_dim, out_dim), nn.BatchNorm1d(out_dim), nn.ReLU())


def _ratio(dim: int, ratio: int) -> int:
    """``dim // ratio``, at least 1 (the reference's would be 0, an error, for tiny maps)."""
    return max(1, dim // ratio)


class RelationAwareAttention(nn.Module):
    """Relation-aware global attention over N nodes with d-dim features (§3.2; see the module docstring).

    ``forward(u)``: u (B, d, N) -> attention a (B, 1, N) in (0, 1). :meth:`relations` returns R.
    """

    def __init__(self, feature_dim: int, num_nodes: int, ratio: int = 8, down_ratio: int = 8):
        super().__init__()
        self.feature_dim, self.num_nodes = int(feature_dim), int(num_nodes)
        d_emb = _ratio(self.feature_dim, ratio)
        n_emb = _ratio(self.num_nodes, ratio)
        self.theta = _embed(self.feature_dim, d_emb)
        self.phi = _embed(self.feature_dim, d_emb)
        self.psi = _embed(self.feature_dim, d_emb)                 # unary (appearance) item
        self.varphi = _embed(2 * self.num_nodes, n_emb)           # relation item
        hidden = _ratio(1 + n_emb, down_ratio)
        self.w = nn.Sequential(                                   # W1, BN, ReLU, W2, BN
            PointwiseConv1d(1 + n_emb, hidden), nn.BatchNorm1d(hidden), nn.ReLU(),
            PointwiseConv1d(hidden, 1), nn.BatchNorm1d(1),
        )

    def relations(self, u: Tensor) -> Tensor:
        """R (B, N, N), ``R[i, j] = theta(x_i) . phi(x_j)``."""
        return torch.bmm(self.theta(u).transpose(1, 2), self.phi(u))

    def forward(self, u: Tensor) -> Tensor:
        if u.dim() != 3 or u.shape[1] != self.feature_dim or u.shape[2] != self.num_nodes:
            raise ValueError(f"RelationAwareAttention: expected (B, {self.feature_dim}, {self.num_nodes}), "
                             f"got {tuple(u.shape)}")
        r = self.relations(u)
        stacked = torch.cat([r.transpose(1, 2), r], dim=1)          # column i = [R(i,:); R(:,i)]
        y = torch.cat([self.psi(u).mean(dim=1, keepdim=True), self.varphi(stacked)], dim=1)
        return torch.sigmoid(self.w(y))


class _RGA(nn.Module):
    """Common part of RGA-S and RGA-C: the relation-aware attention is built for one feature-map
    size, given (``height``, ``width``) or taken from the first input (``None``)."""

    def __init__(self, channels: int, height: int | None = None, width: int | None = None, ratio: int = 8,
                 down_ratio: int = 8):
        super().__init__()
        self.channels, self.ratio, self.down_ratio = int(channels), ratio, down_ratio
        self.size: tuple[int, int] | None = None
        self.attention: RelationAwareAttention | None = None
        if (height is None) != (width is None):
            raise ValueError(f"{self.what}: give both height and width, or neither (built at the first forward)")
        if height is not None:
            self._build(int(height), int(width))

    def _build(self, height: int, width: int) -> None:
        self.size = (height, width)
        d, n = ((self.channels, height * width) if isinstance(self, RGASpatial)
                else (height * width, self.channels))
        self.attention = RelationAwareAttention(d, n, self.ratio, self.down_ratio)

    def _attend(self, x: Tensor) -> Tensor:
        raise NotImplementedError  # pragma: no cover

    def forward(self, x: Tensor) -> Tensor:
        if self.attention is None and x.dim() == 4:           # lazy: sized by the first input
            self._build(x.shape[2], x.shape[3])
            dtype = x.dtype if x.dtype in (torch.float32, torch.float64) else None
            self.attention.to(device=x.device, dtype=dtype).train(self.training)
        _check_size(x, self.size, self.what)
        return self._attend(x)

    def extra_repr(self) -> str:
        return f"channels={self.channels}, size={self.size}"


class RGASpatial(_RGA):
    """RGA-S (§3.2): nodes = the H*W positions (features: C channels); one weight per position."""

    what = "RGA-S"

    def _attend(self, x: Tensor) -> Tensor:
        a = self.attention(x.flatten(2))                            # (B, 1, HW)
        return x * a.view(x.shape[0], 1, *x.shape[2:])


class RGAChannel(_RGA):
    """RGA-C (§3.3): nodes = the C channels (features: each channel's H*W map); one weight per channel."""

    what = "RGA-C"

    def _attend(self, x: Tensor) -> Tensor:
        a = self.attention(x.flatten(2).transpose(1, 2))           # (B, 1, C)
        return x * a.view(x.shape[0], -1, 1, 1)


def _check_size(x: Tensor, size: tuple[int, int] | None, what: str) -> None:
    if x.dim() != 4 or tuple(x.shape[2:]) != size:
        raise ValueError(
            f"{what}: built for {size[0]}x{size[1]} feature maps, got {tuple(x.shape)}; RGA-Net's "
            "layers depend on the input size: build it with image_size=(H, W) of the images it sees")


def stage_sizes(image_size: Sequence[int]) -> list[tuple[int, int]]:
    """Output (H, W) of ResNet50's layer1..layer4 (last stride 1) for an input of ``image_size``:
    every stride-2 layer (conv1, max pool, layer2, layer3) maps n to ceil(n / 2)."""
    h, w = (int(s) for s in image_size)
    halve = lambda n: (n + 1) // 2  # noqa: E731
    h1, w1 = halve(halve(h)), halve(halve(w))
    h2, w2 = halve(h1), halve(w1)
    h3, w3 = halve(h2), halve(w2)
    return [(h1, w1), (h2, w2), (h3, w3), (h3, w3)]


class RGAModule(nn.Sequential):
    """RGA-SC: RGA-S then RGA-C (§3.4)."""

    def __init__(self, channels: int, height: int | None, width: int | None, ratio: int = 8, down_ratio: int = 8):
        super().__init__(OrderedDict(
            spatial=RGASpatial(channels, height, width, ratio, down_ratio),
            channel=RGAChannel(channels, height, width, ratio, down_ratio),
        ))


class BNNeckHead(nn.Module):
    """BN neck (bias frozen at 0) + classifier without bias. ``forward(f)`` returns ``(f, logits)``:
    the triplet loss sees the pooled f, the classifier BN(f)."""

    def __init__(self, in_dim: int, num_classes: int):
        super().__init__()
        self.in_dim, self.out_dim, self.num_classes = in_dim, in_dim, num_classes
        self.bn = nn.BatchNorm1d(in_dim)
        self.bn.bias.requires_grad_(False)
        self.classifier = nn.Linear(in_dim, num_classes, bias=False)
        init_classifier(self.classifier)

    def forward(self, f: Tensor) -> tuple[Tensor, Tensor]:
        return f, self.classifier(self.bn(f))


class RGANet(ReIDModel):
    """RGA-SC on ResNet50; see the module docstring. ``rga`` holds the four RGA modules."""

    def __init__(self, num_classes: int, pretrained: bool = False, image_size: Sequence[int] | None = None,
                 last_stride: int = 1, ratio: int = 8, down_ratio: int = 8):
        super().__init__()
        if image_size is not None and (
                len(tuple(image_size)) != 2
                or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 32 for s in image_size)):
            raise ValueError(f"rganet: image_size must be None or (height, width) with sides >= 32, "
                             f"got {image_size!r}")
        if last_stride != 1:
            raise ValueError(f"rganet: RGA-Net uses last_stride=1 (its stage sizes assume it), got {last_stride!r}")
        self.image_size = None if image_size is None else tuple(image_size)
        self.backbone: ResNet50Trunk = resnet50_trunk(pretrained, last_stride)
        sizes = stage_sizes(self.image_size) if self.image_size else [(None, None)] * 4
        self.rga = nn.ModuleList(
            RGAModule(c, h, w, ratio, down_ratio) for c, (h, w) in zip(self.backbone.stage_channels, sizes))
        self.names = ("global",)
        self.heads = nn.ModuleList([BNNeckHead(self.backbone.out_channels, num_classes)])
        self.descriptor_dim = self.backbone.out_channels
        self.num_classes = num_classes

    def feature_map(self, x: Tensor) -> Tensor:
        """The attended layer4 map (B, 2048, H/16, W/16)."""
        t = self.backbone
        x = t.maxpool(t.relu(t.bn1(t.conv1(x))))
        for layer, rga in zip((t.layer1, t.layer2, t.layer3, t.layer4), self.rga):
            x = rga(layer(x))
        return x

    def extract(self, x: Tensor) -> list[Tensor]:
        return [self.feature_map(x).mean(dim=(2, 3))]            # f (GAP)

    def forward_descriptor(self, x: Tensor) -> Tensor:
        """BN(f), 2048-d (the BN-neck vector)."""
        return self.heads[0].bn(self.extract(x)[0])

    def extra_repr(self) -> str:
        return f"image_size={self.image_size}"


@register_model
def rganet(num_classes: int, pretrained: bool = False, image_size: tuple[int, int] | None = None,
           last_stride: int = 1, ratio: int = 8, down_ratio: int = 8) -> RGANet:
    """RGA-Net (RGA-SC). ``image_size``: the (H, W) input the network is built for (the training
    engine passes the recipe's); ``None`` builds the size-dependent layers at the first forward, so
    create an optimizer only after one. ``ratio`` = s1 = s2, ``down_ratio`` = s3 (both 8)."""
    return RGANet(num_classes, pretrained, image_size, last_stride, ratio, down_ratio)
