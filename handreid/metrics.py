"""Person re-identification ranking metrics: CMC, mAP and mINP.

Definitions (the Market-1501 protocol as implemented by torchreid / fast-reid, written anew):

* **Ranking.** For each query the gallery is sorted by ascending distance. The sort is *stable*:
  equal distances are broken by gallery index (the lower column index ranks first), so results
  are deterministic even with many ties.
* **Same-camera rule.** When both ``q_camids`` and ``g_camids`` are given, gallery items with the
  query's pid *and* the query's camid are removed from that query's ranking (body datasets, where
  same-camera matches are trivial). When camids are ``None`` nothing is removed (hand datasets).
* **Valid queries.** A query with no true match left in the gallery is skipped (it counts in
  neither CMC, AP nor INP); ``num_valid`` reports how many queries were used.
* **CMC.** ``cmc[k]`` = fraction of valid queries with a true match within the top ``k + 1``;
  the full curve has length ``num_gallery`` and rank-1 is ``cmc[0]``.
* **AP.** With true matches at 1-based positions ``r_1 < ... < r_n`` of the (filtered) ranking,
  ``AP = (1/n) * sum_i i / r_i`` (mean precision at each true match). ``mAP`` = mean over valid
  queries.
* **INP** (Ye et al., "Deep Learning for Person Re-identification: A Survey and Outlook", 2021):
  ``INP = n / r_n``, the precision at the hardest (last) true match. ``mINP`` = mean over valid
  queries.

All metrics are fractions in ``[0, 1]``.

Implementation. Queries are processed in chunks of rows and no row is ever fully sorted: only the
positions of each query's own-pid gallery items matter. Per chunk we (a) map every distance to one
of ``_BUCKETS`` equal-width buckets of its row (a monotone map: rounding via the float
magic-number trick, a few in-place passes), (b) count items per bucket (one ``index_add_``) and
prefix-sum the counts, and (c) compare exactly, by ``(distance, gallery index)``, only the few
items that share a bucket with an own-pid item. This reproduces the stable-sort positions exactly
(tests check it against a per-query ``argsort`` reference). Rows holding ``+-inf``, and chunks with
massive exact ties, fall back to a stable ``torch.sort``. All torch, so ``device="cuda"`` works.
On CPU, float32 distance blocks use oneDNN's fp32 GEMM (about 2x MKL's speed on AMD CPUs).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor

__all__ = ["evaluate_features", "pairwise_distance", "rank_metrics"]

#: Target size in bytes of one chunk's float32 (chunk, num_gallery) distance matrix.
CHUNK_BYTES = 256 * 2**20
#: Buckets per query row for the counting kernel (any value >= 1 gives identical results).
_BUCKETS = 1 << 14
#: Bound on the (ambiguous items x own-pid items) comparison block, in elements.
_TIE_BLOCK = 1 << 22
#: Above (ambiguous items x own-pid items per bucket) / (B x G), a chunk is sorted instead.
_TIE_LIMIT = 2.0
#: Use oneDNN's fp32 GEMM on CPU (about 2x MKL's speed on AMD CPUs); falls back to ``@``.
_USE_ONEDNN = True

_NO_MATCH_MSG = (
    "no query has a true match in the gallery: check that query and gallery pids overlap "
    "(and, when camids are given, that some true match lies in a camera other than the query's)"
)


# --------------------------------------------------------------------------------------------
# input conversion and validation
# --------------------------------------------------------------------------------------------


def _shape(x: Any) -> tuple[int, ...]:
    return tuple(int(s) for s in x.shape)


def _as_tensor(x: Any, name: str) -> Tensor:
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
            raise ValueError(f"{name} must be 1-D; got shape {_shape(x)}")
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


def _labels(
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


def _auto_chunk(num_query: int, num_gallery: int, chunk_size: int | None) -> int:
    if chunk_size is None:
        return max(1, min(num_query, CHUNK_BYTES // (4 * max(num_gallery, 1))))
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, (int, np.integer)) or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive integer or None; got {chunk_size!r}")
    return int(chunk_size)


# --------------------------------------------------------------------------------------------
# distances
# --------------------------------------------------------------------------------------------

_METRICS = ("cosine", "euclidean")


def _check_metric(metric: str) -> None:
    if metric not in _METRICS:
        raise ValueError(f"metric must be 'cosine' or 'euclidean'; got {metric!r}")


def _features(qf: Any, gf: Any, device: Any = None) -> tuple[Tensor, Tensor]:
    qf, gf = _as_tensor(qf, "qf"), _as_tensor(gf, "gf")
    for name, f in (("qf", qf), ("gf", gf)):
        if f.dim() != 2:
            raise ValueError(f"{name} must be a 2-D (num_{'query' if name == 'qf' else 'gallery'}, dim) "
                             f"feature matrix; got shape {_shape(f)}")
    if qf.shape[1] != gf.shape[1]:
        raise ValueError(
            f"feature dims differ: qf has shape {_shape(qf)} (dim {qf.shape[1]}) but gf has shape "
            f"{_shape(gf)} (dim {gf.shape[1]}); expected the same feature dim"
        )
    if gf.shape[0] == 0:
        raise ValueError(f"gallery is empty (gf has shape {_shape(gf)}); need at least one gallery item")
    dev = torch.device(device) if device is not None else qf.device
    dtype = torch.promote_types(qf.dtype, gf.dtype)
    if not dtype.is_floating_point or (dev.type == "cpu" and dtype in (torch.float16, torch.bfloat16)):
        dtype = torch.float32
    qf, gf = qf.to(dev, dtype), gf.to(dev, dtype).contiguous()
    for name, f in (("qf", qf), ("gf", gf)):
        if not bool(torch.isfinite(f).all()):
            raise ValueError(f"{name} contains non-finite values (NaN or inf)")
    return qf, gf


def _mm_nt(a: Tensor, b: Tensor) -> Tensor:
    """``a @ b.T``; on CPU float32 through oneDNN's GEMM when available (plain fp32, not bf16)."""
    global _USE_ONEDNN
    if (_USE_ONEDNN and a.device.type == "cpu" and a.dtype == torch.float32 == b.dtype
            and not (a.requires_grad or b.requires_grad) and a.shape[0] > 0):
        try:
            return torch.ops.mkldnn._linear_pointwise(a.contiguous(), b.contiguous(), None, "none", [], "")
        except Exception:  # op missing or unsupported on this build: use the standard path
            _USE_ONEDNN = False
    return a @ b.T


@dataclass
class _Gallery:
    """Gallery features plus what each distance block needs from them."""

    feats: Tensor
    metric: str
    aux: Tensor  # cosine: -1 / ||g|| ; euclidean: ||g||^2


def _prepare_gallery(gf: Tensor, metric: str) -> _Gallery:
    norms = torch.linalg.vector_norm(gf, dim=1)
    if metric == "cosine":
        aux = -1.0 / norms.clamp_min(1e-12)  # F.normalize's eps: a zero vector stays zero
    else:
        aux = norms.square()
    return _Gallery(gf, metric, aux)


def _distance_block(q: Tensor, gal: _Gallery) -> Tensor:
    """Distances of query rows ``q`` to the whole gallery, shape (len(q), num_gallery)."""
    if gal.metric == "cosine":
        qn = q / torch.linalg.vector_norm(q, dim=1, keepdim=True).clamp_min(1e-12)
        d = _mm_nt(qn, gal.feats)
        return d.mul_(gal.aux).add_(1.0)  # 1 - cos(q, g)
    qq = q.square().sum(1, keepdim=True)
    d = _mm_nt(q, gal.feats)
    return d.mul_(-2.0).add_(gal.aux).add_(qq).clamp_min_(0.0).sqrt_()


def pairwise_distance(qf: Any, gf: Any, metric: str = "cosine") -> Tensor:
    """Distance matrix (num_query, num_gallery) between feature rows; smaller = more similar.

    ``"cosine"``: ``1 - cos(q, g)`` (features are L2-normalised inside; range [0, 2]).
    ``"euclidean"``: ``||q - g||_2`` via ``sqrt(max(|q|^2 + |g|^2 - 2 q.g, 0))``.
    Float32 unless the inputs are float64. Same arithmetic as :func:`evaluate_features`.
    """
    _check_metric(metric)
    qf, gf = _features(qf, gf)
    return _distance_block(qf, _prepare_gallery(gf, metric))


# --------------------------------------------------------------------------------------------
# the chunk kernel
# --------------------------------------------------------------------------------------------


@dataclass
class _GalleryLabels:
    """Gallery items grouped by pid (CSR layout) so a query finds its own-pid items directly."""

    num: int
    pids: Tensor      # (U,) sorted unique gallery pids
    starts: Tensor    # (U,) offset of each pid's run in ``order``
    counts: Tensor    # (U,) number of gallery items with that pid
    order: Tensor     # (G,) gallery indices grouped by pid, ascending index within a pid
    camids: Tensor | None

    @classmethod
    def build(cls, g_pids: Tensor, g_camids: Tensor | None, device: torch.device) -> "_GalleryLabels":
        g_pids = g_pids.to(device)
        pids, inverse, counts = torch.unique(g_pids, return_inverse=True, return_counts=True)
        order = torch.sort(inverse, stable=True).indices
        starts = torch.cumsum(counts, 0) - counts
        cams = None if g_camids is None else g_camids.to(device)
        return cls(int(g_pids.numel()), pids, starts, counts, order, cams)

    def group_of(self, q_pids: Tensor) -> tuple[Tensor, Tensor]:
        """(group index clamped to >= 0, own-pid item count) for each query pid."""
        pos = torch.searchsorted(self.pids, q_pids).clamp_max(self.pids.numel() - 1)
        found = self.pids[pos] == q_pids
        return pos, torch.where(found, self.counts[pos], torch.zeros_like(pos))


class _Workspace:
    """Reusable scratch buffers. Fresh large allocations are page-faulted in on every chunk
    (about 0.1 s per 256 MB on CPU), so the per-element buffers are allocated once per call."""

    def __init__(self) -> None:
        self._bufs: dict[str, Tensor] = {}
        self._fresh: set[str] = set()

    def get(self, name: str, numel: int, dtype: torch.dtype, device: torch.device) -> Tensor:
        buf = self._bufs.get(name)
        if buf is None or buf.numel() < numel or buf.dtype != dtype or buf.device != device:
            self._bufs.pop(name, None)
            buf = torch.empty(numel, dtype=dtype, device=device)
            self._bufs[name] = buf
            self._fresh.add(name)
        return buf[:numel]

    def fresh(self, name: str) -> bool:
        """True once after ``name`` was (re)allocated."""
        if name in self._fresh:
            self._fresh.discard(name)
            return True
        return False


@dataclass
class _Acc:
    """Running sums over chunks."""

    first_hist: Tensor  # (G + 1,) int64: number of valid queries whose first true match is at rank r
    ap_sum: float = 0.0
    inp_sum: float = 0.0
    num_valid: int = 0
    what: str = "dist"  # for error messages
    ws: _Workspace = field(default_factory=_Workspace)

    def result(self) -> dict:
        if self.num_valid == 0:
            raise ValueError(_NO_MATCH_MSG)
        cmc = torch.cumsum(self.first_hist[1:], 0).cpu().numpy().astype(np.float64) / self.num_valid
        return {
            "cmc": cmc,
            "mAP": self.ap_sum / self.num_valid,
            "mINP": self.inp_sum / self.num_valid,
            "num_valid": self.num_valid,
        }


def _positions_sort(d: Tensor, pidx: Tensor) -> Tensor:
    """1-based stable-sort positions of the gallery items ``pidx`` (B, M) in each row of ``d``."""
    order = torch.sort(d, dim=1, stable=True).indices
    pos = torch.empty_like(order)
    pos.scatter_(1, order, torch.arange(1, d.shape[1] + 1, device=d.device).expand_as(order))
    return pos.gather(1, pidx)


# float dtype -> (int view dtype, magic 2**mantissa_bits, bit pattern of that magic): for
# 0 <= u < magic, the bits of fl(u + magic) are pattern + round(u), a monotone integer map.
_MAGIC = {
    torch.float32: (torch.int32, 2.0**23, 0x4B000000),
    torch.float64: (torch.int64, 2.0**52, 0x4330000000000000),
}


def _positions_bucket(
    d: Tensor, pidx: Tensor, dP: Tensor, real: Tensor, lo: Tensor, hi: Tensor, ws: _Workspace
) -> Tensor | None:
    """Same as :func:`_positions_sort` for the real (non-padding) items, without sorting
    (``None`` when ties are so massive that :func:`_positions_sort` is the cheaper route).

    ``pidx``/``dP`` (B, M) are each row's own-pid gallery indices / distances sorted by
    (distance, index); ``real`` marks non-padding entries; ``lo``/``hi`` are the row minima /
    maxima (finite). Correctness needs only that the bucket map is monotone within a row and
    keeps rows apart; the bucket resolution only affects speed.
    """
    B, G = d.shape
    M = pidx.shape[1]
    dev = d.device
    nb = max(1, min(_BUCKETS, G, (2**31 - 1) // B))  # flat bucket ids fit in int32
    # (a) bucket(x) = row * nb + round(clamp((d - lo) * (nb - 1) / (hi - lo), 0, nb - 1))
    span = (hi - lo).to(torch.float64)
    scale = torch.where(span > 0, (nb - 1) / span, torch.zeros_like(span))
    extreme = float(torch.maximum(span, scale).max())
    tdtype = torch.float64 if d.dtype == torch.float64 or extreme > 1e30 else torch.float32
    if not extreme < 1e300:
        return None  # ranges near overflow: let the sort path handle them
    idtype, magic, pattern = _MAGIC[tdtype]
    t = ws.get("t", B * G, tdtype, dev).view(B, G)
    if d.dtype == tdtype:
        torch.sub(d, lo[:, None], out=t)
    else:
        t.copy_(d).sub_(lo[:, None].to(tdtype))
    t.mul_(scale.to(tdtype)[:, None]).add_(magic).clamp_(magic, magic + (nb - 1))
    bkt = t.view(idtype)
    bkt.add_((torch.arange(B, device=dev, dtype=idtype) * nb - pattern)[:, None])
    flat = bkt.view(-1)
    # (b) items per bucket; items in strictly lower buckets of the row, at each own-pid item
    hist = ws.get("hist", B * nb, torch.int64, dev).zero_()
    hist.index_add_(0, flat, torch.ones(1, dtype=torch.int64, device=dev).expand(flat.numel()))
    csum = torch.cumsum(hist, 0, out=ws.get("csum", B * nb, torch.int64, dev))
    bPl = torch.where(real, bkt.gather(1, pidx).long(), torch.full_like(pidx, -1))
    bP0 = bPl.clamp_min(0)
    row0 = torch.arange(B, device=dev) * nb
    first = (csum[bP0] - hist[bP0]) - (csum[row0] - hist[row0])[:, None]
    del hist
    # runs of equal buckets among a row's sorted own-pid items: start index and length
    j = torch.arange(M, device=dev).expand(B, M)
    run_start = real.clone()
    run_start[:, 1:] &= bPl[:, 1:] != bPl[:, :-1]
    s_j = torch.cummax(torch.where(run_start, j, torch.zeros_like(j)), 1).values
    run_len = torch.zeros(B, M + 1, dtype=torch.int64, device=dev)
    run_len.scatter_add_(1, torch.where(real, s_j, torch.full_like(s_j, M)), torch.ones_like(s_j))
    starts_b = bPl[run_start]
    # bucket -> (first own-pid item, number of own-pid items) tables, written and read sparsely
    tab_s = ws.get("tab_s", B * nb, torch.int32, dev)
    tab_n = ws.get("tab_n", B * nb, torch.int32, dev)
    tab_s[starts_b] = j[run_start].to(torch.int32)
    tab_n[starts_b] = run_len[:, :M][run_start].to(torch.int32)
    kmax = int(run_len[:, :M].max())
    mark = ws.get("mark_tab", B * nb, torch.bool, dev)
    if ws.fresh("mark_tab"):
        mark.zero_()
    mark[starts_b] = True
    # (c) items sharing a bucket with an own-pid item: exact (distance, index) comparisons
    amb_mask = torch.index_select(mark, 0, flat, out=ws.get("mark", B * G, torch.bool, dev))
    amb = amb_mask.nonzero().squeeze(1)
    mark[starts_b] = False  # leave the table all-False for the next chunk
    del amb_mask
    if amb.numel() * kmax > _TIE_LIMIT * B * G:
        return None  # massive ties (e.g. integer distances): sorting is cheaper
    counts = torch.zeros(B * M, dtype=torch.int64, device=dev)
    ks = torch.arange(kmax, device=dev)
    dflat, dPf, iPf = d.reshape(-1), dP.reshape(-1), pidx.reshape(-1)
    step = max(1, _TIE_BLOCK // kmax)
    for s in range(0, amb.numel(), step):
        a = amb[s:s + step]
        fb = flat[a].long()
        row = a // G
        col = (a - row * G)[:, None]
        da = dflat[a][:, None]
        st, n = tab_s[fb].long(), tab_n[fb].long()
        k = row[:, None] * M + (st[:, None] + ks).clamp_max(M - 1)
        dk, ik = dPf[k], iPf[k]
        lt = (dk < da) | ((dk == da) & (ik < col))
        lt &= ks < n[:, None]
        nlt = lt.sum(1)
        ok = nlt < n  # else x lies after every own-pid item of its bucket: counted in `first`
        counts += torch.bincount((row * M + st + nlt)[ok], minlength=B * M)
    cum = torch.cumsum(counts.view(B, M), 1)
    before_run = torch.where(s_j > 0, cum.gather(1, (s_j - 1).clamp_min(0)), torch.zeros_like(cum))
    return first + (cum - before_run)


def _accumulate(
    acc: _Acc, d: Tensor, q_pids: Tensor, q_camids: Tensor | None, gl: _GalleryLabels
) -> None:
    """Add the metrics of the query rows ``d`` (B, G) to ``acc``. No Python loop over queries."""
    B, G = d.shape
    dev = d.device
    d = d.contiguous()
    lo, hi = d.amin(1), d.amax(1)  # (aminmax is several times slower on CPU)
    finite = bool(torch.isfinite(lo).all() & torch.isfinite(hi).all())
    if not finite and bool(torch.isnan(lo).any() | torch.isnan(hi).any()):
        raise ValueError(f"{acc.what} contains NaN")
    grp, cnt = gl.group_of(q_pids)
    M = int(cnt.max()) if B else 0
    if M == 0:
        return
    ar = torch.arange(M, device=dev)
    real = ar[None, :] < cnt[:, None]
    pidx = gl.order[(gl.starts[grp][:, None] + ar).clamp_max(G - 1)]
    pidx = torch.where(real, pidx, torch.zeros_like(pidx))
    # sort each row's own-pid items by (distance, gallery index); padding goes last
    dP = d.gather(1, pidx)
    key = torch.where(real, dP, torch.full_like(dP, float("inf")))
    perm = torch.sort(key, dim=1, stable=True).indices
    pidx, dP, real = pidx.gather(1, perm), dP.gather(1, perm), real.gather(1, perm)
    if q_camids is not None:
        removed = real & (gl.camids[pidx] == q_camids[:, None])
    else:
        removed = torch.zeros_like(real)
    kept = real & ~removed
    n = kept.sum(1)
    valid = n > 0
    if not bool(valid.any()):
        return

    pos = _positions_bucket(d, pidx, dP, real, lo, hi, acc.ws) if finite else None
    if pos is None:  # +-inf present, or massive ties
        pos = _positions_sort(d, pidx)
    # positions in the filtered ranking: drop removed (same pid, same camera) items before each
    rank = pos - torch.cumsum(removed, 1)
    order_in_matches = torch.cumsum(kept, 1)
    rank_f = rank.to(torch.float64)
    ap = torch.where(kept, order_in_matches / rank_f, torch.zeros_like(rank_f)).sum(1) / n.clamp_min(1)
    big = torch.full_like(rank, G + 1)
    last = torch.where(kept, rank, torch.zeros_like(rank)).amax(1)
    first = torch.where(kept, rank, big).amin(1)
    inp = n / last.clamp_min(1).to(torch.float64)
    acc.first_hist += torch.bincount(first[valid], minlength=G + 1)[: G + 1]
    acc.ap_sum += float(ap[valid].sum())
    acc.inp_sum += float(inp[valid].sum())
    acc.num_valid += int(valid.sum())


# --------------------------------------------------------------------------------------------
# public API
# --------------------------------------------------------------------------------------------


def rank_metrics(
    dist: Any,
    q_pids: Any,
    g_pids: Any,
    q_camids: Any = None,
    g_camids: Any = None,
) -> dict:
    """CMC, mAP and mINP from a (num_query, num_gallery) distance matrix (smaller = closer).

    ``dist`` may be a numpy array or torch tensor (any device). Pids / camids are 1-D (ints, or
    any hashable labels). Camera rule, tie breaking and skipped queries as in the module docstring.
    Returns ``{"cmc": float64 ndarray (num_gallery,), "mAP": float, "mINP": float,
    "num_valid": int}``. Raises ``ValueError`` on malformed input or when no query has a match.
    """
    d = _as_tensor(dist, "dist")
    if d.dim() != 2:
        raise ValueError(f"dist must be a 2-D (num_query, num_gallery) matrix; got shape {_shape(d)}")
    Q, G = _shape(d)
    if G == 0:
        raise ValueError(f"gallery is empty (dist has shape {(Q, G)}); need at least one gallery item")
    if Q == 0:
        raise ValueError(f"no queries (dist has shape {(Q, G)}); need at least one query row")
    qp, gp, qc, gc = _labels(Q, G, q_pids, g_pids, q_camids, g_camids, f"dist has shape {(Q, G)}")
    if not d.dtype.is_floating_point:
        d = d.to(torch.float64)
    elif d.device.type == "cpu" and d.dtype in (torch.float16, torch.bfloat16):
        d = d.to(torch.float32)
    dev = d.device
    gl = _GalleryLabels.build(gp, gc, dev)
    qp = qp.to(dev)
    qc = None if qc is None else qc.to(dev)
    acc = _Acc(torch.zeros(G + 1, dtype=torch.int64, device=dev))
    step = _auto_chunk(Q, G, None)
    with torch.no_grad():
        for s in range(0, Q, step):
            _accumulate(acc, d[s:s + step], qp[s:s + step], None if qc is None else qc[s:s + step], gl)
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
    float32 distance block near ``CHUNK_BYTES`` = 256 MB); per chunk only first-match-rank counts
    and AP / INP sums are kept. ``device`` (e.g. ``"cuda"``) defaults to ``qf``'s device.
    """
    _check_metric(metric)
    qf, gf = _features(qf, gf, device)
    Q, G = qf.shape[0], gf.shape[0]
    if Q == 0:
        raise ValueError(f"no queries (qf has shape {_shape(qf)}); need at least one query row")
    qp, gp, qc, gc = _labels(Q, G, q_pids, g_pids, q_camids, g_camids,
                             f"qf has {Q} rows and gf has {G} rows")
    step = _auto_chunk(Q, G, chunk_size)
    dev = qf.device
    gl = _GalleryLabels.build(gp, gc, dev)
    qp = qp.to(dev)
    qc = None if qc is None else qc.to(dev)
    acc = _Acc(torch.zeros(G + 1, dtype=torch.int64, device=dev), what="the distance matrix")
    with torch.no_grad():
        gal = _prepare_gallery(gf, metric)
        for s in range(0, Q, step):
            d = _distance_block(qf[s:s + step], gal)
            _accumulate(acc, d, qp[s:s + step], None if qc is None else qc[s:s + step], gl)
            del d
    return acc.result()
