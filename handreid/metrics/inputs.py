"""Input conversion and validation shared by :func:`rank_metrics` and :func:`evaluate_features`."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor


def shape_of(x: Any) -> tuple[int, ...]:
    return tuple(int(s) for s in x.shape)


def as_tensor(x: Any, name: str) -> Tensor:
    if isinstance(x, Tensor):
        return x.detach()
    try:
        return torch.as_tensor(np.asarray(x))
    except (TypeError, ValueError, RuntimeError) as exc:
        raise ValueError(f"{name} must be a numeric array or tensor; got {type(x).__name__}") from exc


def _as_labels_1d(x: Any, name: str) -> Any:
    """Return a 1-D torch int tensor or, for non-integer labels (strings...), a 1-D numpy array."""
    if isinstance(x, Tensor):
        x = x.detach()
        if x.dim() != 1:
            raise ValueError(f"{name} must be 1-D; got shape {shape_of(x)}")
        if x.dtype.is_floating_point or x.dtype.is_complex:
            return x.cpu().numpy()
        return x.to(torch.int64)
    arr = np.asarray(x)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D; got shape {arr.shape}")
    if arr.dtype.kind in "iub":
        return torch.from_numpy(np.array(arr, dtype=np.int64))  # a writable copy
    return arr


def _encode_pair(q: Any, g: Any) -> tuple[Tensor, Tensor]:
    """Integer codes for two label vectors (ints pass through; other labels are factorised
    jointly so equal labels get equal codes)."""
    if isinstance(q, Tensor) and isinstance(g, Tensor):
        return q.cpu(), g.cpu()
    qa = q.cpu().numpy() if isinstance(q, Tensor) else q
    ga = g.cpu().numpy() if isinstance(g, Tensor) else g
    _, codes = np.unique(np.concatenate([qa.astype(object), ga.astype(object)]), return_inverse=True)
    codes = torch.as_tensor(codes.astype(np.int64).reshape(-1))
    return codes[: len(qa)], codes[len(qa):]


def labels(
    num_query: int,
    num_gallery: int,
    q_pids: Any,
    g_pids: Any,
    q_camids: Any,
    g_camids: Any,
    what: str,
) -> tuple[Tensor, Tensor, Tensor | None, Tensor | None]:
    """Validate pid / camid vectors against ``num_query`` rows and ``num_gallery`` columns."""
    if (q_camids is None) != (g_camids is None):
        raise ValueError(
            "give both q_camids and g_camids (same-camera rule) or neither; got only "
            + ("q_camids" if g_camids is None else "g_camids")
        )
    vecs = {"q_pids": q_pids, "g_pids": g_pids}
    if q_camids is not None:
        vecs.update(q_camids=q_camids, g_camids=g_camids)
    out = {}
    for name, v in vecs.items():
        v = _as_labels_1d(v, name)
        n, per = (num_query, "query row") if name.startswith("q") else (num_gallery, "gallery column")
        if len(v) != n:
            kind = "pid" if "pid" in name else "camid"
            raise ValueError(f"{what} but {name} has {len(v)} entries; expected one {kind} per {per}")
        out[name] = v
    qp, gp = _encode_pair(out["q_pids"], out["g_pids"])
    qc = gc = None
    if q_camids is not None:
        qc, gc = _encode_pair(out["q_camids"], out["g_camids"])
    return qp, gp, qc, gc
