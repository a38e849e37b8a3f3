"""Backbone trunks (ResNet50, VGG19-bn) and their ImageNet weights.

ImageNet weights come from torchvision's own weight enums (``ResNet50_Weights.IMAGENET1K_V1``,
``VGG19_BN_Weights.IMAGENET1K_V1``), kept in torch's hub cache,
``torch.hub.get_dir()/checkpoints/<file>``. When the file is not there, :func:`require_weights`
downloads it (:func:`handreid.models.weights.download`: a few seconds' timeout, the SHA-256 checked
against the prefix in the file name, as torchvision does); when that fails, a ``RuntimeError``
says which file to put where, where it comes from and why the download failed, so an offline
machine fails in seconds instead of hanging.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Iterator

import torch
from torch import Tensor, nn
from torchvision import models as tvm

from . import weights as fetcher

__all__ = [
    "ResNet50Trunk",
    "build_vgg19bn",
    "checkpoint_path",
    "recording_weights",
    "require_weights",
    "resnet50_trunk",
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


class ResNet50Trunk(nn.Module):
    """ResNet50 without its GAP and FC: ``forward(x)`` returns the activation tensor T
    (B, 2048, M, N) of layer4.

    ``last_stride=1`` removes the last spatial down-sampling (stride of ``layer4[0].conv2`` and of
    its shortcut ``layer4[0].downsample[0]`` set to 1), so M, N = ceil(H/16), ceil(W/16) instead of
    ceil(H/32), ceil(W/32): a 384x384 input gives T of 24x24 instead of 12x12. Parameter names equal
    torchvision's (``conv1.weight``, ``layer4.0.conv2.weight``, ...), so torchvision state dicts load.
    """

    out_channels = 2048

    def __init__(self, resnet: tvm.ResNet, last_stride: int = 1):
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
        block = self.layer4[0]
        block.conv2.stride = (last_stride, last_stride)
        block.downsample[0].stride = (last_stride, last_stride)

    def forward(self, x: Tensor) -> Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))


def resnet50_trunk(pretrained: bool = False, last_stride: int = 1) -> ResNet50Trunk:
    """ResNet50 trunk, ImageNet (``ResNet50_Weights.IMAGENET1K_V1``) or randomly initialised."""
    if last_stride not in (1, 2):
        raise ValueError(f"last_stride must be 1 or 2, got {last_stride!r}")
    weights = require_weights(tvm.ResNet50_Weights.IMAGENET1K_V1) if pretrained else None
    return ResNet50Trunk(tvm.resnet50(weights=weights), last_stride=last_stride)


def build_vgg19bn(pretrained: bool = False) -> tvm.VGG:
    """torchvision's VGG19-bn, ImageNet (``VGG19_BN_Weights.IMAGENET1K_V1``) or random."""
    weights = require_weights(tvm.VGG19_BN_Weights.IMAGENET1K_V1) if pretrained else None
    return tvm.vgg19_bn(weights=weights)
