"""Query-gallery distances, one block of query rows at a time, and the CPU GEMM they run on."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from .inputs import as_tensor, shape_of

METRICS = ("cosine", "euclidean")

#: CPU fp32 GEMM of large distance blocks: True = oneDNN's, False = ``torch.mm`` (MKL / OpenBLAS),
#: None = measure both once in this process (:func:`gemm_path`). Neither is faster everywhere:
#: oneDNN's is about 2x MKL's on AMD CPUs and slower on some Intel ones. ``HANDREID_GEMM=onednn``
#: or ``=mm`` pins it.
_USE_ONEDNN: bool | None = None
#: Products below this many FLOPs (every hand dataset) use oneDNN without a measurement (when
#: ``_SMALL_ONEDNN``), so that a rerun of a small evaluation gives the same distances bit for bit.
_MEASURE_ABOVE_FLOPS = 2e10
_SMALL_ONEDNN = True


def check_metric(metric: str) -> None:
    if metric not in METRICS:
        raise ValueError(f"metric must be 'cosine' or 'euclidean'; got {metric!r}")


def features(qf: Any, gf: Any, device: Any = None) -> tuple[Tensor, Tensor]:
    """Validated float feature matrices on ``device`` (default: ``qf``'s)."""
    qf, gf = as_tensor(qf, "qf"), as_tensor(gf, "gf")
    for name, f in (("qf", qf), ("gf", gf)):
        if f.dim() != 2:
            raise ValueError(f"{name} must be a 2-D (num_{'query' if name == 'qf' else 'gallery'}, dim) "
                             f"feature matrix; got shape {shape_of(f)}")
    if qf.shape[1] != gf.shape[1]:
        raise ValueError(
            f"feature dims differ: qf has shape {shape_of(qf)} (dim {qf.shape[1]}) but gf has shape "
            f"{shape_of(gf)} (dim {gf.shape[1]}); expected the same feature dim"
        )
    if gf.shape[0] == 0:
        raise ValueError(f"gallery is empty (gf has shape {shape_of(gf)}); need at least one gallery item")
    dev = torch.device(device) if device is not None else qf.device
    dtype = torch.promote_types(qf.dtype, gf.dtype)
    if not dtype.is_floating_point or (dev.type == "cpu" and dtype in (torch.float16, torch.bfloat16)):
        dtype = torch.float32
    qf, gf = qf.to(dev, dtype), gf.to(dev, dtype).contiguous()
    for name, f in (("qf", qf), ("gf", gf)):
        if not _all_finite(f):
            raise ValueError(f"{name} contains non-finite values (NaN or inf)")
    return qf, gf


def _all_finite(f: Tensor) -> bool:
    """One pass, no temporary of ``f``'s size: a row's norm is finite unless the row holds a NaN
    or inf (or overflows, which the exact check below then tells apart)."""
    if bool(torch.isfinite(torch.linalg.vector_norm(f, dim=1)).all()):
        return True
    step = max(1, (1 << 22) // max(f.shape[1], 1))
    return all(bool(torch.isfinite(f[s:s + step]).all()) for s in range(0, f.shape[0], step))


def _onednn_mm(a: Tensor, b: Tensor) -> Tensor:
    return torch.ops.mkldnn._linear_pointwise(a.contiguous(), b.contiguous(), None, "none", [], "")


def _measure_gemm(dim: int) -> bool:
    """True when oneDNN's fp32 GEMM beats ``torch.mm`` on a (256, dim) x (4096, dim) product here."""
    gen = torch.Generator().manual_seed(0)
    a, b = torch.randn(256, dim, generator=gen), torch.randn(4096, dim, generator=gen)
    best = {True: float("inf"), False: float("inf")}
    for _ in range(3):  # alternate, keep each one's best: robust to other work on the machine
        for onednn in (True, False):
            t0 = time.perf_counter()
            _onednn_mm(a, b) if onednn else a @ b.T
            best[onednn] = min(best[onednn], time.perf_counter() - t0)
    return best[True] < best[False]


def gemm_path(dim: int = 2048) -> str:
    """The CPU fp32 GEMM used for large distance blocks in this process: ``"onednn"`` or ``"mm"``."""
    global _USE_ONEDNN
    if _USE_ONEDNN is None:
        pinned = os.environ.get("HANDREID_GEMM", "").strip().lower()
        if pinned in ("onednn", "mm"):
            _USE_ONEDNN = pinned == "onednn"
        elif pinned:
            raise ValueError(f"HANDREID_GEMM must be 'onednn' or 'mm' (or unset: measure); got {pinned!r}")
        else:
            try:
                _USE_ONEDNN = _measure_gemm(dim)
            except Exception:  # op missing or unsupported on this build
                _USE_ONEDNN = False
    return "onednn" if _USE_ONEDNN else "mm"


def mm_nt(a: Tensor, b: Tensor) -> Tensor:
    """``a @ b.T``; on CPU in float32 through the GEMM :func:`gemm_path` chose (plain fp32, not bf16)."""
    if (a.device.type == "cpu" and a.dtype == torch.float32 == b.dtype
            and not (a.requires_grad or b.requires_grad) and a.shape[0] > 0):
        large = 2.0 * a.shape[0] * b.shape[0] * a.shape[1] >= _MEASURE_ABOVE_FLOPS
        if (gemm_path(a.shape[1]) == "onednn") if large else _SMALL_ONEDNN:
            try:
                return _onednn_mm(a, b)
            except Exception:  # op missing or unsupported on this build: use the standard path
                pass
    return a @ b.T


@dataclass
class Gallery:
    """Gallery features plus what each distance block needs from them."""

    feats: Tensor
    metric: str
    aux: Tensor  # cosine: -1 / ||g|| ; euclidean: ||g||^2

    @classmethod
    def prepare(cls, gf: Tensor, metric: str) -> "Gallery":
        norms = torch.linalg.vector_norm(gf, dim=1)
        if metric == "cosine":
            aux = -1.0 / norms.clamp_min(1e-12)  # F.normalize's eps: a zero vector stays zero
        else:
            aux = norms.square()
        return cls(gf, metric, aux)

    def distances(self, q: Tensor) -> Tensor:
        """Distances of query rows ``q`` to the whole gallery, shape (len(q), num_gallery)."""
        if self.metric == "cosine":
            qn = q / torch.linalg.vector_norm(q, dim=1, keepdim=True).clamp_min(1e-12)
            d = mm_nt(qn, self.feats)
            return d.mul_(self.aux).add_(1.0)  # 1 - cos(q, g)
        qq = q.square().sum(1, keepdim=True)
        d = mm_nt(q, self.feats)
        return d.mul_(-2.0).add_(self.aux).add_(qq).clamp_min_(0.0).sqrt_()


def pairwise_distance(qf: Any, gf: Any, metric: str = "cosine") -> Tensor:
    """Distance matrix (num_query, num_gallery) between feature rows; smaller = more similar.

    ``"cosine"``: ``1 - cos(q, g)`` (features are L2-normalised inside; range [0, 2]).
    ``"euclidean"``: ``||q - g||_2`` via ``sqrt(max(|q|^2 + |g|^2 - 2 q.g, 0))``.
    Float32 unless the inputs are float64. Same arithmetic as
    :func:`handreid.metrics.evaluate_features`.
    """
    check_metric(metric)
    qf, gf = features(qf, gf)
    return Gallery.prepare(gf, metric).distances(qf)
