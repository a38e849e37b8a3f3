"""Backbone trunks (ResNet50, VGG19-bn), their small demo shapes (:class:`TrunkShape`) and their
ImageNet weights.

The small demo trunks have no ImageNet weights; the demo profile pretrains its own on a synthetic
world of other identities (:mod:`handreid.engine.pretrain`) and hands them to the builders here
through :func:`small_trunk_weights`.

ImageNet weights come from torchvision's own weight enums (``ResNet50_Weights.IMAGENET1K_V1``,
``VGG19_BN_Weights.IMAGENET1K_V1``), kept in torch's hub cache,
``torch.hub.get_dir()/checkpoints/<file>``. When the file is not there, :func:`require_weights`
downloads it (:func:`handreid.models.weights.download`: a few seconds' timeout, the SHA-256 checked
against the prefix in the file name, as torchvision does); when that fails, a ``RuntimeError``
says which file to put where, where it comes from and why the download failed, so an offline
machine fails in seconds instead of hanging.
"""

from __future__ import annotations

import math
import os
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Iterator

import torch
from torch import Tensor, nn
from torchvision import models as tvm

from . import weights as fetcher

__all__ = [
    "FULL_TRUNK",
    "ResNet50Trunk",
    "TrunkShape",
    "current_trunk",
    "build_vgg19bn",
    "checkpoint_path",
    "recording_weights",
    "require_weights",
    "resnet50_trunk",
    "small_trunk_weights",
    "trunk_shape",
]


def checkpoint_path(weights: tvm.WeightsEnum) -> str:
    """Where torchvision's ``load_state_dict_from_url`` looks for ``weights``' file."""
    return os.path.join(torch.hub.get_dir(), "checkpoints", fetcher.file_name(weights))


_RECORDED: ContextVar[list | None] = ContextVar("handreid_recorded_weights", default=None)


@contextmanager
def recording_weights() -> Iterator[list]:
    """Within the block, :func:`require_weights` appends each enum asked for to the yielded list
    and returns None (random initialisation, no file access): which weights a model uses.

    >>> with recording_weights() as asked, torch.device("meta"):      # doctest: +SKIP
    ...     build_model("gpanet", 2, pretrained=True)
    >>> asked                                                          # doctest: +SKIP
    [ResNet50_Weights.IMAGENET1K_V1]
    """
    asked: list = []
    token = _RECORDED.set(asked)
    try:
        yield asked
    finally:
        _RECORDED.reset(token)


def require_weights(weights: tvm.WeightsEnum) -> tvm.WeightsEnum | None:
    """Return ``weights`` once its file is in the hub cache, downloading it if needed.

    When the download fails (offline, timeout, wrong hash), raise a ``RuntimeError`` saying which
    file to place in which directory, the URL it comes from, the ``pretrained=False``
    alternative and the cause. Inside :func:`recording_weights`: record it and return None.
    """
    asked = _RECORDED.get()
    if asked is not None:
        asked.append(weights)
        return None
    path = checkpoint_path(weights)
    if os.path.isfile(path):
        return weights
    try:
        fetcher.download(weights, os.path.dirname(path))
    except Exception as e:  # noqa: BLE001 - any failure gets the same instructions, with its cause
        directory, filename = os.path.split(path)
        raise RuntimeError(
            f"ImageNet weights {type(weights).__name__}.{weights.name} are not available: "
            f"place the file '{filename}' in the directory '{directory}' "
            f"(that is torch.hub.get_dir()/checkpoints; set TORCH_HOME to use another cache). "
            f"Download it from {weights.url} on a machine with internet access "
            f"(there `python -m handreid weights --dest DIR` fetches and verifies every file the tables need). "
            f"Or pass pretrained=False to train from scratch (random initialisation). "
            f"The download from {fetcher.url_of(weights)} failed: {type(e).__name__}: {e}"
        ) from e
    return weights


@dataclass(frozen=True)
class TrunkShape:
    """The shape of the trunk every model is built on (GPA-Net §2: any image-classification network
    can be adapted; each method keeps its heads, attention modules and recipe).

    ``width`` scales every channel count of the trunk (ResNet50: the stem's 64, each bottleneck's
    inner width and its 256 .. 2048 outputs; VGG19-bn: every convolution and fc6/fc7), ``blocks``
    is the number of bottleneck blocks per ResNet stage. :data:`FULL_TRUNK` (width 1, blocks
    3-4-6-3) is the papers' ResNet50 and VGG19-bn, the only shape with ImageNet weights. The demo
    profile trains a small one so a CPU core trains a run to a plateau in seconds.
    """

    width: float = 1.0
    blocks: tuple[int, int, int, int] = (3, 4, 6, 3)

    def __post_init__(self):
        w = self.width
        if isinstance(w, bool) or not isinstance(w, (int, float)) or not 0 < w <= 1 or \
                not float(64 * w).is_integer():
            raise ValueError(f"trunk width must be in (0, 1] with 64 x width an integer "
                             f"(1, 0.5, 0.25, 0.125, ...), got {w!r}")
        b = tuple(self.blocks)
        if len(b) != 4 or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in b):
            raise ValueError(f"trunk blocks must be 4 positive ints (ResNet50: 3, 4, 6, 3), got {self.blocks!r}")
        object.__setattr__(self, "width", float(w))
        object.__setattr__(self, "blocks", b)

    @classmethod
    def parse(cls, value: "TrunkShape | dict | None") -> "TrunkShape":
        """A shape from itself, ``{"width": .., "blocks": [..]}`` (a run record's form) or None (full)."""
        if value is None:
            return FULL_TRUNK
        if isinstance(value, TrunkShape):
            return value
        if isinstance(value, dict) and set(value) <= {"width", "blocks"}:
            return cls(**{k: (tuple(v) if k == "blocks" else v) for k, v in value.items()})
        raise ValueError(f"trunk shape must be a TrunkShape or a dict with 'width' and 'blocks', got {value!r}")

    @property
    def full(self) -> bool:
        return self == FULL_TRUNK

    def as_dict(self) -> dict:
        return {"width": self.width, "blocks": list(self.blocks)}

    def channels(self, c: int) -> int:
        """A full-width channel count at this width."""
        return int(c * self.width)


FULL_TRUNK = TrunkShape()

_SHAPE: ContextVar[TrunkShape] = ContextVar("handreid_trunk_shape", default=FULL_TRUNK)


@contextmanager
def trunk_shape(shape: "TrunkShape | dict | None" = None) -> Iterator[TrunkShape]:
    """Within the block, every trunk built here has ``shape`` (None: :data:`FULL_TRUNK`);
    ``build_model(..., trunk=shape)`` is the usual way in."""
    token = _SHAPE.set(TrunkShape.parse(shape))
    try:
        yield _SHAPE.get()
    finally:
        _SHAPE.reset(token)


def current_trunk() -> TrunkShape:
    """The shape :func:`trunk_shape` set (:data:`FULL_TRUNK` outside any such block)."""
    return _SHAPE.get()


_SMALL_WEIGHTS: ContextVar = ContextVar("handreid_small_trunk_weights", default=None)


@contextmanager
def small_trunk_weights(provider) -> Iterator[None]:
    """Within the block, a small trunk built with ``pretrained=True`` starts from
    ``provider(arch, shape)`` (arch ``"resnet50"`` or ``"vgg19bn"``: a state dict in the trunk's own
    parameter names) instead of raising: how the demo profile's pretrained trunks
    (:mod:`handreid.engine.pretrain`) reach every model. The provider is called only for the
    trunks a model builds."""
    token = _SMALL_WEIGHTS.set(provider)
    try:
        yield
    finally:
        _SMALL_WEIGHTS.reset(token)


def _weights_if(pretrained: bool, weights: tvm.WeightsEnum, what: str) -> tvm.WeightsEnum | None:
    shape = _SHAPE.get()
    if pretrained and not shape.full and _SMALL_WEIGHTS.get() is None:
        raise ValueError(f"{what}: ImageNet weights exist for the full trunk only, not for {shape}; "
                         f"use pretrained=False, the full trunk, or a run of the demo profile, whose fit() "
                         f"pretrains the small trunk on its synthetic pretraining world (handreid.engine.pretrain)")
    return require_weights(weights) if pretrained and shape.full else None


def _load_small(net: nn.Module, arch: str, shape: TrunkShape, allowed_missing: str = "") -> nn.Module:
    """``net`` with the small-trunk provider's weights for ``arch`` (every parameter and buffer but
    those whose names start with ``allowed_missing``: VGG19-bn's fc8, which every model replaces);
    a provider that returns None leaves it as initialised (it only wanted to know the arch)."""
    state = _SMALL_WEIGHTS.get()(arch, shape)
    if state is None:
        return net
    missing, unexpected = net.load_state_dict(state, strict=False)
    missing = [k for k in missing if not (allowed_missing and k.startswith(allowed_missing))]
    if missing or unexpected:
        raise ValueError(f"pretrained {arch} trunk at {shape} does not match the network: "
                         f"missing {missing[:5]}, unexpected {unexpected[:5]}")
    return net


def _small_resnet(shape: TrunkShape) -> nn.Module:
    """ResNet50's design at ``shape``: torchvision bottleneck blocks, torchvision's module names
    and initialisation, every channel count times ``shape.width``."""
    Bottleneck = tvm.resnet.Bottleneck
    net = nn.Module()
    c = shape.channels(64)
    net.conv1 = nn.Conv2d(3, c, kernel_size=7, stride=2, padding=3, bias=False)
    net.bn1 = nn.BatchNorm2d(c)
    net.relu = nn.ReLU(inplace=True)
    net.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
    inplanes = c
    for i, (planes, n) in enumerate(zip((64, 128, 256, 512), shape.blocks)):
        planes, stride = shape.channels(planes), 1 if i == 0 else 2
        out = planes * Bottleneck.expansion
        down = nn.Sequential(nn.Conv2d(inplanes, out, 1, stride=stride, bias=False), nn.BatchNorm2d(out))
        blocks = [Bottleneck(inplanes, planes, stride, down)] + [Bottleneck(out, planes) for _ in range(n - 1)]
        setattr(net, f"layer{i + 1}", nn.Sequential(*blocks))
        inplanes = out
    for m in net.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.constant_(m.weight, 1)
            nn.init.constant_(m.bias, 0)
    return net


class ResNet50Trunk(nn.Module):
    """ResNet50 without its GAP and FC: ``forward(x)`` returns the activation tensor T
    (B, 2048, M, N) of layer4 (``stage_channels``: the outputs of layer1 .. layer4, 256 .. 2048 at
    full width; ``out_channels`` the last).

    ``last_stride=1`` removes the last spatial down-sampling (stride of ``layer4[0].conv2`` and of
    its shortcut ``layer4[0].downsample[0]`` set to 1), so M, N = ceil(H/16), ceil(W/16) instead of
    ceil(H/32), ceil(W/32): a 384x384 input gives T of 24x24 instead of 12x12. Parameter names equal
    torchvision's (``conv1.weight``, ``layer4.0.conv2.weight``, ...), so torchvision state dicts load.
    """

    def __init__(self, resnet: nn.Module, last_stride: int = 1):
        super().__init__()
        if last_stride not in (1, 2):
            raise ValueError(f"last_stride must be 1 or 2, got {last_stride!r}")
        self.conv1 = resnet.conv1
        self.bn1 = resnet.bn1
        self.relu = resnet.relu
        self.maxpool = resnet.maxpool
        self.layer1 = resnet.layer1
        self.layer2 = resnet.layer2
        self.layer3 = resnet.layer3
        self.layer4 = resnet.layer4
        self.last_stride = last_stride
        self.stage_channels = tuple(layer[-1].conv3.out_channels
                                    for layer in (self.layer1, self.layer2, self.layer3, self.layer4))
        self.out_channels = self.stage_channels[-1]
        block = self.layer4[0]
        block.conv2.stride = (last_stride, last_stride)
        block.downsample[0].stride = (last_stride, last_stride)

    def forward(self, x: Tensor) -> Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))


def resnet50_trunk(pretrained: bool = False, last_stride: int = 1) -> ResNet50Trunk:
    """ResNet50 trunk, ImageNet (``ResNet50_Weights.IMAGENET1K_V1``; a small trunk: the
    :func:`small_trunk_weights` provider's) or randomly initialised, at the current :func:`trunk_shape`."""
    if last_stride not in (1, 2):
        raise ValueError(f"last_stride must be 1 or 2, got {last_stride!r}")
    weights = _weights_if(pretrained, tvm.ResNet50_Weights.IMAGENET1K_V1, "resnet50_trunk")
    shape = _SHAPE.get()
    if shape.full:
        resnet = tvm.resnet50(weights=weights)
    else:
        resnet = _small_resnet(shape)
        if pretrained:
            _load_small(resnet, "resnet50", shape)
    return ResNet50Trunk(resnet, last_stride=last_stride)


def build_vgg19bn(pretrained: bool = False) -> tvm.VGG:
    """torchvision's VGG19-bn, ImageNet (``VGG19_BN_Weights.IMAGENET1K_V1``; a small one: the
    :func:`small_trunk_weights` provider's, fc8 left random) or random, at the current
    :func:`trunk_shape`'s width (every convolution and fc6/fc7; the depth is VGG19's)."""
    weights = _weights_if(pretrained, tvm.VGG19_BN_Weights.IMAGENET1K_V1, "build_vgg19bn")
    shape = _SHAPE.get()
    if shape.full:
        return tvm.vgg19_bn(weights=weights)
    cfg = [v if v == "M" else shape.channels(v) for v in tvm.vgg.cfgs["E"]]
    features = tvm.vgg.make_layers(cfg, batch_norm=True)
    with torch.device("meta"):  # torchvision's full-size classifier (123M weights) only as a shell:
        vgg = tvm.VGG(features)  # its init draws nothing for it; the features get torchvision's init
    c, h = cfg[-2], shape.channels(4096)  # last convolution's channels; fc6/fc7 width
    vgg.classifier = nn.Sequential(nn.Linear(c * 7 * 7, h), nn.ReLU(True), nn.Dropout(0.5),
                                   nn.Linear(h, h), nn.ReLU(True), nn.Dropout(0.5), nn.Linear(h, 1000))
    # torchvision's N(0, 0.01) for VGG's linear layers, its std scaled by 1/sqrt(width) so that each
    # layer's output variance is that of the full network (fan-in x variance as at width 1)
    for m in vgg.classifier:
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0, 0.01 / math.sqrt(shape.width))
            nn.init.constant_(m.bias, 0)
    return _load_small(vgg, "vgg19bn", shape, allowed_missing="classifier.6.") if pretrained else vgg
