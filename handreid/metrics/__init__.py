"""Person re-identification ranking metrics: CMC, mAP (two rules) and mINP.

The definitions, one query at a time, are :mod:`handreid.metrics.reference` (read it first): a
stable ranking (ties in gallery order), the same-camera rule, queries without a true match
skipped, and

* ``cmc[k]``: fraction of valid queries with a true match within the top ``k + 1``;
* ``mAP``: mean over valid queries of ``(1/n) sum_k k / r_k`` (torchreid, fast-reid);
* ``mAP_trapezoid``: mean of ``(1/n) sum_k (p_old_k + p_k) / 2`` with ``p_k = k / r_k`` and
  ``p_old_k = (k - 1) / (r_k - 1)`` (1 at ``r_k = 1``): the Market-1501 official rule, which the
  authors' code uses (``nathanlem1/MBA-Net``, ``utils/evaluation_metrics.py``, ``compute_mAP``)
  and so the mAP of the papers' hand tables. With one true match at rank ``r`` it is 1 at
  ``r = 1`` and ``1 / (2 r)`` after, so ``mAP - mAP_trapezoid = mean over queries missed at
  rank 1 of 1 / (2 r)``. Two differences from the authors' script, both kept out of handreid on
  purpose: it divides the summed AP by *all* queries, counting a query with no true match as 0
  (here: by valid queries; the same whenever every query has a match, as in the hand protocol),
  and it ranks by ``np.argsort(score)[::-1]`` (not stable, ties in reverse order);
* ``mINP``: mean of ``n / r_n`` (Ye et al., 2021).

All are fractions in ``[0, 1]``. The ranking is the stable one: numpy's default argsort
(quicksort, used by torchreid's Python evaluator) is not stable, so with the exact ties fp32
distances have in large galleries (thousands per row at MSMT17 scale) its results depend on the
sort's internals; handreid's order (lower gallery index first) is the deterministic, right one.

:func:`rank_metrics` and :func:`evaluate_features` compute the same numbers without a loop over
queries and without sorting rows (:mod:`handreid.metrics.kernel`, :mod:`handreid.metrics.fused`),
chunk by chunk with memory bounded by ``CHUNK_BYTES``; distances are
:mod:`handreid.metrics.distance`. Everything is torch, so ``device="cuda"`` works.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from . import fused, kernel
from .distance import Gallery, check_metric, features, gemm_path, pairwise_distance
from .inputs import as_tensor, labels, shape_of
from .kernel import CHUNK_BYTES
from .reference import reference_metrics

__all__ = ["CHUNK_BYTES", "evaluate_features", "gemm_path", "pairwise_distance", "rank_metrics",
           "reference_metrics"]


def _chunk(num_query: int, num_gallery: int, chunk_size: Any, device, dtype) -> int:
    if chunk_size is None:
        rows = kernel.chunk_rows(num_query, num_gallery, dtype.itemsize, fused_kernel=True)
        if kernel.uses_fused(device, dtype, rows * num_gallery, wait=False):
            return rows
        return kernel.chunk_rows(num_query, num_gallery, dtype.itemsize, fused_kernel=False)
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, (int, np.integer)) or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive integer or None; got {chunk_size!r}")
    return int(chunk_size)


def rank_metrics(
    dist: Any,
    q_pids: Any,
    g_pids: Any,
    q_camids: Any = None,
    g_camids: Any = None,
) -> dict:
    """CMC, mAP, mAP_trapezoid and mINP from a (num_query, num_gallery) distance matrix.

    ``dist`` (smaller = closer) may be a numpy array or torch tensor (any device). Pids / camids
    are 1-D (ints, or any hashable labels); with camids the same-camera rule applies. Returns
    ``{"cmc": float64 ndarray (num_gallery,), "mAP": float, "mAP_trapezoid": float,
    "mINP": float, "num_valid": int}``, equal to :func:`reference_metrics`. Raises
    ``ValueError`` on malformed input or when no query has a true match.
    """
    d = as_tensor(dist, "dist")
    if d.dim() != 2:
        raise ValueError(f"dist must be a 2-D (num_query, num_gallery) matrix; got shape {shape_of(d)}")
    Q, G = shape_of(d)
    if G == 0:
        raise ValueError(f"gallery is empty (dist has shape {(Q, G)}); need at least one gallery item")
    if Q == 0:
        raise ValueError(f"no queries (dist has shape {(Q, G)}); need at least one query row")
    qp, gp, qc, gc = labels(Q, G, q_pids, g_pids, q_camids, g_camids, f"dist has shape {(Q, G)}")
    if not d.dtype.is_floating_point:
        d = d.to(torch.float64)
    elif d.device.type == "cpu" and d.dtype in (torch.float16, torch.bfloat16):
        d = d.to(torch.float32)
    dev = d.device
    gl = kernel.GalleryLabels.build(gp, gc, dev)
    qp = qp.to(dev)
    qc = None if qc is None else qc.to(dev)
    acc = kernel.Acc(torch.zeros(G + 1, dtype=torch.int64, device=dev))
    step = _chunk(Q, G, None, dev, d.dtype)
    with torch.no_grad():
        for s in range(0, Q, step):
            kernel.accumulate(acc, d[s:s + step], qp[s:s + step], None if qc is None else qc[s:s + step], gl)
    return acc.result()


def evaluate_features(
    qf: Any,
    gf: Any,
    q_pids: Any,
    g_pids: Any,
    q_camids: Any = None,
    g_camids: Any = None,
    metric: str = "cosine",
    chunk_size: int | None = None,
    device: Any = None,
) -> dict:
    """:func:`rank_metrics` of ``pairwise_distance(qf, gf, metric)`` without the full matrix.

    Queries are processed ``chunk_size`` rows at a time (default: as many as keep one chunk's
    distance block plus the kernel's scratch within ``CHUNK_BYTES`` = 256 MiB); per chunk only
    first-match-rank counts and per-query AP / INP are kept. ``device`` (e.g. ``"cuda"``)
    defaults to ``qf``'s device.
    """
    check_metric(metric)
    qf, gf = features(qf, gf, device)
    Q, G = qf.shape[0], gf.shape[0]
    if Q == 0:
        raise ValueError(f"no queries (qf has shape {shape_of(qf)}); need at least one query row")
    qp, gp, qc, gc = labels(Q, G, q_pids, g_pids, q_camids, g_camids, f"qf has {Q} rows and gf has {G} rows")
    dev = qf.device
    step = _chunk(Q, G, chunk_size, dev, qf.dtype)
    if kernel._USE_FUSED:
        fused.load_in_background(dev, qf.dtype, min(step, Q) * G)  # while the first block is computed
    gl = kernel.GalleryLabels.build(gp, gc, dev)
    qp = qp.to(dev)
    qc = None if qc is None else qc.to(dev)
    acc = kernel.Acc(torch.zeros(G + 1, dtype=torch.int64, device=dev), what="the distance matrix")
    with torch.no_grad():
        gal = Gallery.prepare(gf, metric)
        for s in range(0, Q, step):
            d = gal.distances(qf[s:s + step])
            kernel.accumulate(acc, d, qp[s:s + step], None if qc is None else qc[s:s + step], gl)
            del d
    return acc.result()
