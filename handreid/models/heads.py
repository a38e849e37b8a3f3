"""Pieces shared by every model: the forward contract, the model base class and the heads.

Forward contract
----------------
``model.train(); model(x)`` returns a :class:`ReIDOutput` with one entry per classifier;
``model.eval(); model(x)`` returns the paper's test descriptor, a (B, ``model.descriptor_dim``)
tensor (not normalised: the cosine distance is computed by the evaluation code).
"""

from __future__ import annotations

from typing import Iterator, NamedTuple, Sequence

import torch
from torch import Tensor, nn

__all__ = ["ClassifierHead", "ReIDModel", "ReIDOutput", "ReductionHead", "init_classifier", "init_fc", "init_bn"]


class ReIDOutput(NamedTuple):
    """What a model returns in training mode. All lists have one entry per classifier, in the
    same order, except ``features`` which follows the descriptor order (for the models here the
    two orders coincide)."""

    logits: list[Tensor]        # (B, num_classes) per classifier
    embeddings: list[Tensor]    # the vector each classifier sees (e.g. reduced r, (B, 512)): for triplet losses
    features: list[Tensor]      # pooled backbone vectors (e.g. (B, 2048) each), concatenated at test time
    names: tuple[str, ...]      # "global", "part_1_1", ...: which classifier is which
    # Named intermediate feature maps a model-specific loss term needs (ABD-Net's O.F. reads
    # "intermediate", "before", "cam", "pam", "after"); None for models without such terms.
    maps: dict[str, list[Tensor]] | None = None


# ---------------------------------------------------------------------------- initialisation
def init_fc(fc: nn.Linear) -> None:
    """Kaiming-normal (fan_out, ReLU gain) weights, zero bias: the newly added reduction FCs."""
    nn.init.kaiming_normal_(fc.weight, a=0.0, mode="fan_out", nonlinearity="relu")
    if fc.bias is not None:
        nn.init.zeros_(fc.bias)


def init_bn(bn: nn.modules.batchnorm._BatchNorm) -> None:
    """BatchNorm: weight 1, bias 0."""
    nn.init.ones_(bn.weight)
    nn.init.zeros_(bn.bias)


def init_classifier(fc: nn.Linear, std: float = 0.001) -> None:
    """Classification layer: normal(0, std) weights, zero bias."""
    nn.init.normal_(fc.weight, mean=0.0, std=std)
    if fc.bias is not None:
        nn.init.zeros_(fc.bias)


def _activation(activation: str | nn.Module | None, negative_slope: float) -> nn.Module:
    if activation is None or activation == "none":
        return nn.Identity()
    if isinstance(activation, nn.Module):
        return activation
    if activation in ("leaky_relu", "lrelu"):
        return nn.LeakyReLU(negative_slope, inplace=True)
    if activation == "relu":
        return nn.ReLU(inplace=True)
    raise ValueError(
        f"unknown activation {activation!r}; use None, 'leaky_relu', 'relu' or an nn.Module"
    )


# ---------------------------------------------------------------------------- heads
class ReductionHead(nn.Module):
    """FC(in -> out) -> BatchNorm1d -> [activation] -> Dropout -> classifier FC(out -> num_classes).

    GPA-Net §2: 2048 -> 512, BN, dropout 0.5, no activation (``activation=None``).
    LAGA-Net §III: 2048 -> 1024, BN, LeakyReLU, dropout 0.5 (``activation="leaky_relu"``; the paper
    gives no slope, ``negative_slope`` defaults to 0.1).

    ``forward(f)`` returns ``(r, logits)``; ``r`` is the reduced vector after BN (and activation)
    and *before* dropout. Dropout is the only operation between ``r`` and the classifier, so in
    eval mode ``r`` is exactly the classifier's input; in training mode the triplet loss sees the
    un-dropped vector, as is usual for metric learning.
    """

    def __init__(
        self,
        in_dim: int,
        out_dim: int,
        num_classes: int,
        activation: str | nn.Module | None = None,
        dropout: float = 0.5,
        negative_slope: float = 0.1,
    ):
        super().__init__()
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
        self.in_dim, self.out_dim, self.num_classes = in_dim, out_dim, num_classes
        self.fc = nn.Linear(in_dim, out_dim)
        self.bn = nn.BatchNorm1d(out_dim)
        self.act = _activation(activation, negative_slope)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(out_dim, num_classes)
        init_fc(self.fc)
        init_bn(self.bn)
        init_classifier(self.classifier)

    def forward(self, f: Tensor) -> tuple[Tensor, Tensor]:
        r = self.act(self.bn(self.fc(f)))
        return r, self.classifier(self.dropout(r))


class ClassifierHead(nn.Module):
    """A plain classification FC (in -> num_classes): the baselines' "changed number of classes".
    ``forward(f)`` returns ``(f, logits)``: the embedding is the input itself."""

    def __init__(self, in_dim: int, num_classes: int, std: float = 0.001):
        super().__init__()
        self.in_dim, self.out_dim, self.num_classes = in_dim, in_dim, num_classes
        self.classifier = nn.Linear(in_dim, num_classes)
        init_classifier(self.classifier, std)

    def forward(self, f: Tensor) -> tuple[Tensor, Tensor]:
        return f, self.classifier(f)


# ---------------------------------------------------------------------------- model base
class ReIDModel(nn.Module):
    """Base class of every handreid model.

    A subclass sets ``self.heads`` (an ``nn.ModuleList``, one head per classifier returning
    ``(embedding, logits)``), ``self.names`` (one name per head), ``self.descriptor_dim`` and
    implements :meth:`extract`, which returns the pooled vectors in descriptor order, one per head.
    The modules holding pretrained (backbone) weights are named in ``backbone_modules``; every
    other parameter is "new". Subclasses with a different structure override :meth:`forward`.
    """

    backbone_modules: Sequence[str] = ("backbone",)
    descriptor_dim: int
    names: tuple[str, ...]
    heads: nn.ModuleList

    def extract(self, x: Tensor) -> list[Tensor]:  # pragma: no cover - abstract
        raise NotImplementedError

    def forward_output(self, x: Tensor) -> ReIDOutput:
        """Per-classifier logits and embeddings, whatever the mode (eval: BN running stats, no dropout)."""
        feats = self.extract(x)
        embeddings, logits = [], []
        for head, f in zip(self.heads, feats, strict=True):
            e, z = head(f)
            embeddings.append(e)
            logits.append(z)
        return ReIDOutput(logits, embeddings, feats, tuple(self.names))

    def forward_descriptor(self, x: Tensor) -> Tensor:
        """The test descriptor (B, descriptor_dim): the pooled vectors concatenated."""
        return torch.cat(self.extract(x), dim=1)

    def forward(self, x: Tensor) -> ReIDOutput | Tensor:
        return self.forward_output(x) if self.training else self.forward_descriptor(x)

    # -- parameter groups (the recipes give the backbone 0.1x the learning rate)
    def backbone_parameters(self) -> Iterator[nn.Parameter]:
        """Parameters of the pretrained trunk (``backbone_modules``)."""
        seen: set[int] = set()
        for name in self.backbone_modules:
            for p in getattr(self, name).parameters():
                if id(p) not in seen:
                    seen.add(id(p))
                    yield p

    def new_parameters(self) -> Iterator[nn.Parameter]:
        """Every other parameter: the newly added heads, classifiers, attention modules, ..."""
        backbone = {id(p) for p in self.backbone_parameters()}
        for p in self.parameters():
            if id(p) not in backbone:
                yield p

    def extra_losses(self) -> list:
        """Model-specific loss terms the training loop adds to the recipe's loss (default: none).

        Each term is called as ``term(output, epoch)`` with this model's training-mode
        :class:`ReIDOutput` and the 0-based epoch and returns a scalar tensor; it knows its own
        weight and start epoch (e.g. ABD-Net's O.F./O.W., :class:`handreid.losses.ABDNetRegularizers`)."""
        return []

    @property
    def num_classifiers(self) -> int:
        return len(self.heads)
