"""Losses of GPA-Net and LAGA-Net.

- :func:`label_smoothed_cross_entropy`: GPA-Net Eq. (2) / LAGA-Net Eq. (10).
- :class:`GPANetLoss`: GPA-Net Eq. (1), global CE + lambda * sum of the part CEs.
- :func:`batch_hard_triplet`: batch-hard triplet loss (Hermans et al. 2017; LAGA-Net Eq. (11)).
- :class:`LAGANetLoss`: LAGA-Net Eq. (8), the CE of every classifier + beta * the triplet of every embedding.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["GPANetLoss", "LAGANetLoss", "batch_hard_triplet", "label_smoothed_cross_entropy", "pairwise_euclidean"]


def _check_targets(n: int, targets: Tensor, what: str) -> None:
    if targets.dim() != 1 or targets.shape[0] != n:
        raise ValueError(f"{what}: targets must have shape ({n},), got {tuple(targets.shape)}")
    if targets.dtype not in (torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8):
        raise TypeError(f"{what}: targets must be integer class indices, got dtype {targets.dtype}")


def label_smoothed_cross_entropy(logits: Tensor, targets: Tensor, epsilon: float = 0.1) -> Tensor:
    """Cross-entropy with label smoothing, averaged over the batch.

    With K classes and true class y, the target distribution is (GPA-Net Eq. 2)
    ``q_i = 1 - (K-1)/K * eps`` if ``i == y`` else ``eps / K``, and the loss is
    ``-sum_i q_i log p_i`` with ``p = softmax(logits)``. ``epsilon=0`` is the plain cross-entropy.
    Computed in float32 (safe under bf16 autocast).
    """
    if logits.dim() != 2:
        raise ValueError(f"label_smoothed_cross_entropy: logits must be (B, K), got {tuple(logits.shape)}")
    if not 0.0 <= epsilon <= 1.0:
        raise ValueError(f"label_smoothed_cross_entropy: epsilon must be in [0, 1], got {epsilon!r}")
    _check_targets(logits.shape[0], targets, "label_smoothed_cross_entropy")
    log_p = F.log_softmax(logits.float(), dim=1)
    nll = -log_p.gather(1, targets.long().unsqueeze(1)).squeeze(1)      # -log p_y
    uniform = -log_p.mean(dim=1)                                        # -(1/K) sum_i log p_i
    # q = (1 - eps) * onehot(y) + eps / K  <=>  q_y = 1 - (K-1)/K eps, q_i = eps/K otherwise
    loss = (1.0 - epsilon) * nll + epsilon * uniform
    return loss.mean()


class GPANetLoss(nn.Module):
    """GPA-Net Eq. (1): ``L = CE(global) + lam * sum_l CE(part_l)``, each CE label-smoothed (Eq. 2).

    Which logits are global and which are parts comes from ``output.names``: ``"global"`` is the
    global term, names starting with ``"part"`` are parts. A "Local only" model has no global
    term, a "Global only" (or hp=vp=1) model no part term. ``lam=1`` is the paper's choice
    (``lam=1/p`` is the variant it reports as worse).

    ``forward(output, targets)`` returns the scalar total; :meth:`terms` also returns the two
    components (``"global"``, ``"local"``) for logging.
    """

    def __init__(self, lam: float = 1.0, epsilon: float = 0.1):
        super().__init__()
        self.lam = float(lam)
        self.epsilon = float(epsilon)

    def terms(self, output, targets: Tensor) -> dict[str, Tensor]:
        logits: Sequence[Tensor] = output.logits
        names: Sequence[str] = output.names
        if len(logits) != len(names) or not logits:
            raise ValueError(f"GPANetLoss: got {len(logits)} logits for {len(names)} names")
        glob, local = None, None
        for name, z in zip(names, logits):
            ce = label_smoothed_cross_entropy(z, targets, self.epsilon)
            if name == "global":
                glob = ce if glob is None else glob + ce
            elif name.startswith("part"):
                local = ce if local is None else local + ce
            else:
                raise ValueError(
                    f"GPANetLoss: classifier name {name!r} is neither 'global' nor 'part_*'"
                )
        zero = logits[0].new_zeros((), dtype=torch.float32)
        glob = zero if glob is None else glob
        local = zero if local is None else local
        return {"global": glob, "local": local, "total": glob + self.lam * local}

    def forward(self, output, targets: Tensor) -> Tensor:
        return self.terms(output, targets)["total"]

    def extra_repr(self) -> str:
        return f"lam={self.lam}, epsilon={self.epsilon}"


def pairwise_euclidean(x: Tensor) -> Tensor:
    """(B, B) Euclidean distances between the rows of ``x``; differentiable (sqrt clamped at 1e-12)."""
    x = x.float()
    sq = (x * x).sum(dim=1)
    d2 = sq.unsqueeze(1) + sq.unsqueeze(0) - 2.0 * (x @ x.t())
    return d2.clamp_min(1e-12).sqrt()


def batch_hard_triplet(
    embeddings: Tensor, targets: Tensor, margin: float = 1.2, reduction: str = "mean"
) -> Tensor:
    """Batch-hard triplet loss (Hermans et al. 2017; LAGA-Net Eq. 11).

    For each anchor a: hardest positive = max Euclidean distance to another sample of the same
    identity, hardest negative = min distance to a sample of another identity; loss_a =
    ``max(0, margin + d_pos - d_neg)``. ``reduction="mean"`` averages over anchors (the usual
    implementation; Eq. 11 is written as a sum over the P*K anchors, which is ``reduction="sum"``
    and only rescales the loss by P*K).

    Anchors without any positive (identity appears once in the batch) or without any negative
    (single-identity batch) have no valid triplet and are excluded; when no anchor is valid the
    loss is 0 (still connected to the graph). The anchor itself never counts as its own positive.
    """
    if embeddings.dim() != 2:
        raise ValueError(f"batch_hard_triplet: embeddings must be (B, D), got {tuple(embeddings.shape)}")
    if reduction not in ("mean", "sum"):
        raise ValueError(f"batch_hard_triplet: reduction must be 'mean' or 'sum', got {reduction!r}")
    n = embeddings.shape[0]
    _check_targets(n, targets, "batch_hard_triplet")
    dist = pairwise_euclidean(embeddings)
    same = targets.unsqueeze(0) == targets.unsqueeze(1)
    eye = torch.eye(n, dtype=torch.bool, device=embeddings.device)
    pos_mask = same & ~eye
    neg_mask = ~same
    d_pos = dist.masked_fill(~pos_mask, float("-inf")).amax(dim=1)
    d_neg = dist.masked_fill(~neg_mask, float("inf")).amin(dim=1)
    valid = pos_mask.any(dim=1) & neg_mask.any(dim=1)
    # Masked, not indexed: no shape depends on the data, so the GPU never waits for the host.
    losses = torch.where(valid, F.relu(margin + d_pos - d_neg), 0.0)
    total = losses.sum()
    return total / valid.sum().clamp_min(1) if reduction == "mean" else total


class LAGANetLoss(nn.Module):
    """LAGA-Net Eq. (8): ``L = sum_b CE(logits_b) + beta * sum_b L_tri(embedding_b)``.

    One label-smoothed cross-entropy (Eq. 10) per classifier and one batch-hard triplet
    (Eq. 11, margin ``alpha``) per embedding of the model's
    :class:`~handreid.models.heads.ReIDOutput`; LAGA-Net §IV-B uses ``beta = 0.1``,
    ``alpha = 1.2``, ``epsilon = 0.1``. ``reduction``: ``"mean"`` over the valid anchors (default,
    as the usual implementations) or ``"sum"`` over them (Eq. 11 as written); beta is the same for
    both, so "sum" weighs the triplet term P*K times more on full P x K batches.
    :meth:`terms` returns ``"ce"``, ``"triplet"`` and ``"total"`` for logging, like :class:`GPANetLoss`.
    """

    def __init__(self, beta: float = 0.1, margin: float = 1.2, epsilon: float = 0.1,
                 reduction: str = "mean"):
        super().__init__()
        if reduction not in ("mean", "sum"):
            raise ValueError(f"LAGANetLoss: reduction must be 'mean' or 'sum', got {reduction!r}")
        self.beta = float(beta)
        self.margin = float(margin)
        self.epsilon = float(epsilon)
        self.reduction = reduction

    def terms(self, output, targets: Tensor) -> dict[str, Tensor]:
        if not output.logits:
            raise ValueError("LAGANetLoss: the model output has no logits")
        ce = sum(label_smoothed_cross_entropy(z, targets, self.epsilon) for z in output.logits)
        tri = sum((batch_hard_triplet(e, targets, self.margin, self.reduction) for e in output.embeddings),
                  ce.new_zeros(()))
        return {"ce": ce, "triplet": tri, "total": ce + self.beta * tri}

    def forward(self, output, targets: Tensor) -> Tensor:
        return self.terms(output, targets)["total"]

    def extra_repr(self) -> str:
        return f"beta={self.beta}, margin={self.margin}, epsilon={self.epsilon}, reduction={self.reduction!r}"
