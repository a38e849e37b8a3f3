"""The chunk kernel: CMC / AP / INP of a block of query rows without sorting any row.

Only the positions of each query's own-pid gallery items matter. They are found by counting:

* **fused** (CPU, numba; :mod:`handreid.metrics.fused`): one compiled pass per row counts the
  items a stable sort puts before each own-pid item.
* **bucketed** (any device, plain torch; the fallback): (a) map every distance to one of
  ``_BUCKETS`` equal-width buckets of its row (a monotone map: rounding via the float
  magic-number trick), (b) count items per bucket (one ``index_add_``) and prefix-sum the counts,
  (c) compare exactly, by ``(distance, gallery index)``, only the items that share a bucket with
  an own-pid item. Rows holding ``+-inf``, and chunks with massive exact ties, are sorted.

Every route gives the positions of a stable sort exactly (tests compare them with
:mod:`handreid.metrics.reference`). Scratch memory is bounded: :func:`chunk_rows` sizes chunks so
that the distance block plus the route's scratch stay within ``CHUNK_BYTES``, and the sort runs
on as many rows at a time as the rest of that budget allows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from . import fused
from .reference import NO_MATCH_MSG

#: Bound in bytes on one chunk's distance block plus the kernel's scratch buffers.
CHUNK_BYTES = 256 * 2**20
#: Buckets per query row for the bucketed kernel (any value >= 1 gives identical results).
_BUCKETS = 1 << 14
#: Bound on the (ambiguous items x own-pid items) comparison block, in elements.
_TIE_BLOCK = 1 << 22
#: Above (ambiguous items x own-pid items per bucket) / (B x G), a chunk is sorted instead.
_TIE_LIMIT = 2.0
#: Use the fused kernel where it is available (tests switch it off to check the others).
_USE_FUSED = True
# bytes per (row, bucket) of the bucketed kernel's tables: hist, csum (int64), tab_s, tab_n
# (int32), mark_tab (bool); per distance: the bucket ids (4 or 8) and the ambiguity mask (1)
_BUCKET_TABLE_BYTES = 8 + 8 + 4 + 4 + 1
# bytes per distance of a stable sort: sorted values (<= 8), indices (8), positions (8)
_SORT_BYTES = 24


def _bucket_scratch_per_row(num_gallery: int, itemsize: int) -> int:
    return (itemsize + 1) * num_gallery + _BUCKET_TABLE_BYTES * min(_BUCKETS, num_gallery)


def uses_fused(device: torch.device, dtype: torch.dtype, numel: int, wait: bool = True) -> bool:
    """Whether a block of ``numel`` distances is ranked by the fused kernel (``wait=False``: will
    be, if the kernel loads)."""
    return _USE_FUSED and (fused.available if wait else fused.expected)(device, dtype, numel)


def chunk_rows(num_query: int, num_gallery: int, itemsize: int = 4, fused_kernel: bool = False) -> int:
    """Query rows per chunk: the (rows, num_gallery) distance block plus the kernel's scratch
    fit in ``CHUNK_BYTES`` (the fused kernel needs no per-distance scratch)."""
    per_row = itemsize * num_gallery
    if not fused_kernel:
        per_row += _bucket_scratch_per_row(num_gallery, itemsize)
    return max(1, min(num_query, CHUNK_BYTES // max(per_row, 1)))



@dataclass
class GalleryLabels:
    """Gallery items grouped by pid (CSR layout) so a query finds its own-pid items directly."""

    num: int
    pids: Tensor      # (U,) sorted unique gallery pids
    starts: Tensor    # (U,) offset of each pid's run in ``order``
    counts: Tensor    # (U,) number of gallery items with that pid
    order: Tensor     # (G,) gallery indices grouped by pid, ascending index within a pid
    camids: Tensor | None

    @classmethod
    def build(cls, g_pids: Tensor, g_camids: Tensor | None, device: torch.device) -> "GalleryLabels":
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
class Acc:
    """Per-query AP / trapezoid AP / INP of the valid queries, chunk by chunk, and the histogram
    of first-match ranks. Sums are taken once at the end, so results do not depend on chunking."""

    first_hist: Tensor  # (G + 1,) int64: number of valid queries whose first true match is at rank r
    aps: list = field(default_factory=list)
    aps_trapezoid: list = field(default_factory=list)
    inps: list = field(default_factory=list)
    num_valid: int = 0
    what: str = "dist"  # for error messages
    ws: "_Workspace" = field(default_factory=lambda: _Workspace())

    def result(self) -> dict:
        if self.num_valid == 0:
            raise ValueError(NO_MATCH_MSG)
        cmc = torch.cumsum(self.first_hist[1:], 0).cpu().numpy().astype(np.float64) / self.num_valid
        return {
            "cmc": cmc,
            "mAP": float(torch.cat(self.aps).sum()) / self.num_valid,
            "mAP_trapezoid": float(torch.cat(self.aps_trapezoid).sum()) / self.num_valid,
            "mINP": float(torch.cat(self.inps).sum()) / self.num_valid,
            "num_valid": self.num_valid,
        }


def _positions_sort(d: Tensor, pidx: Tensor, rows: Tensor | None = None) -> Tensor:
    """1-based stable-sort positions of the gallery items ``pidx`` (R, M) in the rows ``rows``
    (default: all) of ``d``, sorting as many rows at a time as ``CHUNK_BYTES`` leaves room for
    beside the block ``d``."""
    G = d.shape[1]
    rows = torch.arange(d.shape[0], device=d.device) if rows is None else rows
    room = CHUNK_BYTES - d.numel() * d.element_size()
    step = max(1, room // ((_SORT_BYTES + d.element_size()) * G))
    out = torch.empty_like(pidx)
    ranks = torch.arange(1, G + 1, device=d.device)
    for s in range(0, rows.numel(), step):
        block = d.index_select(0, rows[s:s + step])
        order = torch.sort(block, dim=1, stable=True).indices
        del block
        pos = torch.empty_like(order)
        pos.scatter_(1, order, ranks.expand_as(order))
        del order
        out[s:s + step] = pos.gather(1, pidx[s:s + step])
    return out


def _positions_fused(d: Tensor, pidx: Tensor, dP: Tensor, real: Tensor, what: str) -> Tensor | None:
    """Same as :func:`_positions_sort` for the real (non-padding) items, which come first in each
    row, by one counting pass (:mod:`handreid.metrics.fused`); ``None`` if the kernel failed."""
    counts = fused.items_before(d, dP, pidx, real.sum(1))
    if counts is None:
        return None
    before, has_nan = counts
    if has_nan:
        raise ValueError(f"{what} contains NaN")
    return before + 1


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


def accumulate(acc: Acc, d: Tensor, q_pids: Tensor, q_camids: Tensor | None, gl: GalleryLabels) -> None:
    """Add the metrics of the query rows ``d`` (B, G) to ``acc``. No Python loop over queries."""
    B, G = d.shape
    dev = d.device
    d = d.contiguous()
    use_fused = uses_fused(dev, d.dtype, d.numel())
    if not use_fused:
        lo, hi = d.amin(1), d.amax(1)  # (aminmax is several times slower on CPU)
        finite = bool(torch.isfinite(lo).all() & torch.isfinite(hi).all())
        if not finite and bool(torch.isnan(lo).any() | torch.isnan(hi).any()):
            raise ValueError(f"{acc.what} contains NaN")
    grp, cnt = gl.group_of(q_pids)
    M = int(cnt.max()) if B else 0
    if M == 0:
        if use_fused and bool(torch.isnan(d).any()):
            raise ValueError(f"{acc.what} contains NaN")
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
        if use_fused and bool(torch.isnan(d).any()):
            raise ValueError(f"{acc.what} contains NaN")
        return

    pos = None
    if use_fused:
        pos = _positions_fused(d, pidx, dP, real, acc.what)
        if pos is None:  # the kernel failed on this machine: check what the bucketed kernel needs
            lo, hi = d.amin(1), d.amax(1)
            finite = bool(torch.isfinite(lo).all() & torch.isfinite(hi).all())
    if pos is None and finite:
        pos = _positions_bucket(d, pidx, dP, real, lo, hi, acc.ws)
    if pos is None:  # +-inf present, or massive ties
        pos = _positions_sort(d, pidx)
    # positions in the filtered ranking: drop removed (same pid, same camera) items before each
    rank = pos - torch.cumsum(removed, 1)
    order_in_matches = torch.cumsum(kept, 1)
    rank_f = rank.to(torch.float64)
    zero = torch.zeros_like(rank_f)
    precision = order_in_matches / rank_f
    ap = torch.where(kept, precision, zero).sum(1) / n.clamp_min(1)
    # the precision just before each true match (Market-1501 official AP; 1 at rank 1)
    old_precision = torch.where(rank > 1, (order_in_matches - 1) / (rank_f - 1).clamp_min(1), 1.0)
    ap_trapezoid = torch.where(kept, (old_precision + precision) / 2, zero).sum(1) / n.clamp_min(1)
    big = torch.full_like(rank, G + 1)
    last = torch.where(kept, rank, torch.zeros_like(rank)).amax(1)
    first = torch.where(kept, rank, big).amin(1)
    inp = n / last.clamp_min(1).to(torch.float64)
    acc.first_hist += torch.bincount(first[valid], minlength=G + 1)[: G + 1]
    acc.aps.append(ap[valid])
    acc.aps_trapezoid.append(ap_trapezoid[valid])
    acc.inps.append(inp[valid])
    acc.num_valid += int(valid.sum())
