"""VGG19-bn baseline (GPA-Net §3.2).

torchvision's VGG19-bn (ImageNet) with its last layer (fc8, 4096 -> 1000) replaced by a
4096 -> ``num_classes`` FC. Descriptor: the 4096-d output of fc7.

"Output of fc7" is taken after fc7's ReLU: in eval mode (dropout off) that is exactly the vector
the new classifier sees, and it is what Caffe's fc7 blob holds (relu7 acts in place on it).
``fc7_relu=False`` gives the pre-activation fc7 output as descriptor instead (the classifier
still sees ReLU(fc7), as in torchvision).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .registry import register_model
from .backbone import build_vgg19bn
from .heads import ReIDModel, init_classifier

__all__ = ["VGG19BNBaseline", "vgg19bn"]


class _FC8Head(nn.Module):
    """ReLU -> Dropout -> new classifier FC (4096 -> num_classes), the rest of torchvision's
    classifier after fc7. ``forward(f)`` returns ``(f, logits)``."""

    def __init__(self, in_dim: int, num_classes: int, dropout: float = 0.5):
        super().__init__()
        self.in_dim, self.out_dim, self.num_classes = in_dim, in_dim, num_classes
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(in_dim, num_classes)
        init_classifier(self.classifier)

    def forward(self, f: Tensor) -> tuple[Tensor, Tensor]:
        # not in place: f is also returned as the embedding
        return f, self.classifier(self.dropout(F.relu(f)))


class VGG19BNBaseline(ReIDModel):
    """``features`` -> adaptive avgpool 7x7 -> fc6 -> ReLU -> Dropout -> fc7 [-> ReLU] = descriptor;
    then (ReLU) -> Dropout -> new classifier. The pretrained part (``backbone_parameters``) is
    ``features`` + fc6 + fc7; the new part is the classifier.

    Any input size works: torchvision's adaptive 7x7 pooling feeds fc6 (for inputs below 224 it
    replicates cells rather than averaging them, exactly as torchvision does)."""

    backbone_modules = ("features", "fc67")

    def __init__(self, num_classes: int, pretrained: bool = False, fc7_relu: bool = True,
                 dropout: float = 0.5):
        super().__init__()
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"vgg19bn: dropout must be in [0, 1), got {dropout!r}")
        vgg = build_vgg19bn(pretrained)
        self.features = vgg.features
        self.avgpool = vgg.avgpool
        fc6, relu6, drop6, fc7, relu7, drop7, _fc8 = vgg.classifier.children()
        drop6.p = drop7.p = float(dropout)  # torchvision's: 0.5 after fc6 and after fc7
        layers = [fc6, relu6, drop6, fc7] + ([nn.ReLU(inplace=True)] if fc7_relu else [])
        self.fc67 = nn.Sequential(*layers)
        dim = fc7.out_features
        self.names = ("global",)
        self.heads = nn.ModuleList([_FC8Head(dim, num_classes, dropout=float(dropout))])
        self.descriptor_dim = dim
        self.num_classes = num_classes
        self.fc7_relu = bool(fc7_relu)

    def extract(self, x: Tensor) -> list[Tensor]:
        x = torch.flatten(self.avgpool(self.features(x)), 1)
        return [self.fc67(x)]


@register_model
def vgg19bn(num_classes: int, pretrained: bool = False, fc7_relu: bool = True,
            dropout: float = 0.5) -> VGG19BNBaseline:
    """VGG19-bn baseline: fc7 (4096-d) descriptor, last layer replaced by 4096 -> num_classes;
    ``dropout``: p of the two dropout layers after fc6 and fc7 (torchvision's 0.5)."""
    return VGG19BNBaseline(num_classes, pretrained, fc7_relu, dropout)
