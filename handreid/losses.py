"""Losses of GPA-Net and LAGA-Net.

- :func:`label_smoothed_cross_entropy`: GPA-Net Eq. (2) / LAGA-Net Eq. (10).
- :class:`GPANetLoss`: GPA-Net Eq. (1), global CE + lambda * sum of the part CEs.
- :func:`batch_hard_triplet`: batch-hard triplet loss (Hermans et al. 2017; LAGA-Net Eq. (11)).
- :class:`LAGANetLoss`: LAGA-Net Eq. (8), the CE of every classifier + beta * the triplet of every embedding.
- :func:`spectral_extremes`, :func:`orthogonal_feature_penalty` (O.F.), :func:`orthogonal_weight_penalty`
  (O.W.) and :class:`ABDNetRegularizers`: ABD-Net's orthogonality regularizers (ICCV 2019, §3.2-3.3).
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["ABDNetRegularizers", "GPANetLoss", "LAGANetLoss", "batch_hard_triplet", "label_smoothed_cross_entropy",
           "orthogonal_feature_penalty", "orthogonal_weight_penalty", "pairwise_euclidean", "spectral_extremes"]


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

    ``average=True`` averages the CEs over the classifiers and the triplets over the embeddings
    instead of summing them: ABD-Net's training code (``lambda_xent`` x mean CE + ``lambda_htri`` x
    mean triplet).
    """

    def __init__(self, beta: float = 0.1, margin: float = 1.2, epsilon: float = 0.1,
                 reduction: str = "mean", average: bool = False):
        super().__init__()
        if reduction not in ("mean", "sum"):
            raise ValueError(f"LAGANetLoss: reduction must be 'mean' or 'sum', got {reduction!r}")
        self.beta = float(beta)
        self.margin = float(margin)
        self.epsilon = float(epsilon)
        self.reduction = reduction
        self.average = bool(average)

    def terms(self, output, targets: Tensor) -> dict[str, Tensor]:
        if not output.logits:
            raise ValueError("LAGANetLoss: the model output has no logits")
        ce = sum(label_smoothed_cross_entropy(z, targets, self.epsilon) for z in output.logits)
        tri = sum((batch_hard_triplet(e, targets, self.margin, self.reduction) for e in output.embeddings),
                  ce.new_zeros(()))
        if self.average:
            ce = ce / len(output.logits)
            tri = tri / max(1, len(output.embeddings))
        return {"ce": ce, "triplet": tri, "total": ce + self.beta * tri}

    def forward(self, output, targets: Tensor) -> Tensor:
        return self.terms(output, targets)["total"]

    def extra_repr(self) -> str:
        return (f"beta={self.beta}, margin={self.margin}, epsilon={self.epsilon}, reduction={self.reduction!r}, "
                f"average={self.average}")


# ---------------------------------------------------------------------------- ABD-Net (O.F., O.W.)
def spectral_extremes(m: Tensor) -> tuple[Tensor, Tensor]:
    """Largest and smallest eigenvalue of ``M M^T`` for a batch of matrices ``m`` (..., R, K), float32.

    Computed exactly (``eigvalsh``) on the smaller Gram matrix: when R > K, ``M M^T`` (R x R) has rank
    <= K, so its smallest eigenvalue is 0 and its largest is that of ``M^T M`` (K x K). These are the
    squared extreme singular values of M. (The authors' code estimates both with one random
    power-iteration step.)"""
    m = m.float()
    rows, cols = m.shape[-2:]
    if rows <= cols:
        ev = torch.linalg.eigvalsh(m @ m.transpose(-1, -2))
        return ev[..., -1], ev[..., 0]
    ev = torch.linalg.eigvalsh(m.transpose(-1, -2) @ m)
    return ev[..., -1], torch.zeros_like(ev[..., 0])


def orthogonal_feature_penalty(feature_map: Tensor, reference_batch: int = 32) -> Tensor:
    """O.F. on one feature map (B, C, H, W), ABD-Net §3.2 (SVDO): with ``M_b`` = sample b's map as a
    C x HW matrix, ``sum_b (lambda_max - lambda_min)(M_b M_b^T) * reference_batch / B`` (the authors'
    code normalises the batch sum to a batch of 32), before the weight beta."""
    if feature_map.dim() != 4:
        raise ValueError(f"orthogonal_feature_penalty: expected (B, C, H, W), got {tuple(feature_map.shape)}")
    with torch.autocast(device_type=feature_map.device.type, enabled=False):
        hi, lo = spectral_extremes(feature_map.flatten(2))
        return (hi - lo).sum() * (reference_batch / feature_map.shape[0])


def orthogonal_weight_penalty(weight: Tensor) -> Tensor:
    """O.W. on one conv weight (S, C, k, k), ABD-Net §3.3 as the authors' code computes it: with
    ``W`` = the weight as a (C k k) x S matrix, ``10 * (lambda_max - lambda_min)(W^T W)^2``, before
    the weight beta (0 for a single filter)."""
    if weight.shape[0] == 1:
        return weight.new_zeros((), dtype=torch.float32)
    with torch.autocast(device_type=weight.device.type, enabled=False):
        hi, lo = spectral_extremes(weight.reshape(weight.shape[0], -1))
        return 10.0 * (hi - lo) ** 2


class ABDNetRegularizers:
    """ABD-Net's extra loss terms, added by the training loop to the recipe's loss
    (:meth:`handreid.models.heads.ReIDModel.extra_losses`): ``term(output, epoch)``.

    - O.F.: ``of_beta * sum_p w_p mean_{maps at p} orthogonal_feature_penalty(map)`` over the positions
      ``of_positions`` of ``output.maps`` (w = 0.01 for "intermediate", 1 otherwise), from the 0-based
      epoch ``of_start_epoch`` on (0 before);
    - O.W.: ``ow_beta * sum_W orthogonal_weight_penalty(W)`` over ``weights()`` (the model's conv
      weights), every epoch.

    Defaults are the training guide's (``--of-beta 1e-6 --of-start-epoch 23 --ow-beta 1e-3``, all five
    O.F. positions).
    """

    def __init__(self, weights, of_beta: float = 1e-6, of_start_epoch: int = 23, ow_beta: float = 1e-3,
                 of_positions=("intermediate", "before", "cam", "pam", "after"), intermediate_scale: float = 0.01):
        self.weights = weights
        self.of_beta, self.of_start_epoch, self.ow_beta = float(of_beta), int(of_start_epoch), float(ow_beta)
        self.of_positions = tuple(of_positions)
        self.intermediate_scale = float(intermediate_scale)

    def terms(self, output, epoch: int) -> dict[str, Tensor]:
        maps = output.maps or {}
        missing = [p for p in self.of_positions if not maps.get(p)]
        if missing:
            raise ValueError(f"ABDNetRegularizers: the model output has no feature maps for O.F. position(s) "
                             f"{missing}; got {sorted(maps)}")
        zero = output.logits[0].new_zeros((), dtype=torch.float32)
        of = zero
        if epoch >= self.of_start_epoch and self.of_beta:
            for p in self.of_positions:
                scale = self.intermediate_scale if p == "intermediate" else 1.0
                of = of + scale * sum(orthogonal_feature_penalty(x) for x in maps[p]) / len(maps[p])
        ow = zero
        if self.ow_beta:
            ow = sum((orthogonal_weight_penalty(w) for w in self.weights()), zero)
        of, ow = self.of_beta * of, self.ow_beta * ow
        return {"of": of, "ow": ow, "total": of + ow}

    def __call__(self, output, epoch: int) -> Tensor:
        return self.terms(output, epoch)["total"]

    def __repr__(self) -> str:
        return (f"ABDNetRegularizers(of_beta={self.of_beta}, of_start_epoch={self.of_start_epoch}, "
                f"ow_beta={self.ow_beta}, of_positions={self.of_positions})")
