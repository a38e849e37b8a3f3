"""The metrics written plainly, one query at a time: the definitions a reader can check.

This is the reference the fast kernel (:mod:`handreid.metrics.kernel`) is tested against, and what
``python -m handreid.bench`` checks it against. It is O(num_query x num_gallery log num_gallery)
with a Python loop over queries: use it on small problems only.

For one query:

1. **Ranking.** The gallery sorted by ascending distance with a *stable* sort: equal distances
   keep gallery order (lower column index first). ``np.argsort``'s default (quicksort) is not
   stable, so with exact ties (common with fp32 distances and large galleries) it gives an order
   that depends on the sort's internals; the stable order is the deterministic, right one.
2. **Camera rule.** With camids, gallery items of the query's pid *and* camera are removed from
   the ranking (the Market-1501 protocol); without camids nothing is removed (hand datasets).
3. **True matches** at 1-based positions ``r_1 < ... < r_n`` of what is left. A query with
   ``n = 0`` is not valid and counts in no metric.
4. **CMC**: the query's curve is 0 before ``r_1`` and 1 from ``r_1`` on.
5. **AP** (torchreid / fast-reid): ``(1/n) sum_k k / r_k``, the mean precision at each true match.
6. **AP, trapezoid** (the Market-1501 official code, used by the authors of MBA-Net, GPA-Net and
   LAGA-Net): ``(1/n) sum_k (p_old_k + p_k) / 2`` with ``p_k = k / r_k`` and
   ``p_old_k = (k - 1) / (r_k - 1)`` (1 when ``r_k = 1``): each precision averaged with the one
   just before the match. With one true match at rank ``r`` it is 1 for ``r = 1`` and
   ``1 / (2 r)`` otherwise.
7. **INP** (Ye et al., 2021): ``n / r_n``, the precision at the last true match.

Means are over valid queries. The authors' code divides the summed AP by *all* queries (a query
without a true match adds 0); that differs only when some query has no true match.
"""

from __future__ import annotations

import numpy as np

NO_MATCH_MSG = (
    "no query has a true match in the gallery: check that query and gallery pids overlap "
    "(and, when camids are given, that some true match lies in a camera other than the query's)"
)


def ranking(dist_row: np.ndarray) -> np.ndarray:
    """Gallery indices by ascending distance; ties in gallery order (a stable sort)."""
    return np.argsort(dist_row, kind="stable")


def match_positions(order, q_pid, g_pids, q_camid=None, g_camids=None) -> list[int]:
    """1-based positions of the true matches in the ranking ``order`` after the camera rule."""
    g_pids = np.asarray(g_pids)[order]
    same_pid = g_pids == q_pid
    if q_camid is not None:
        junk = same_pid & (np.asarray(g_camids)[order] == q_camid)  # same pid and same camera
        same_pid = same_pid[~junk]  # removed from this query's ranking
    return [int(p) + 1 for p in np.flatnonzero(same_pid)]


def average_precision(positions: list[int]) -> float:
    """Mean of the precisions ``k / r_k`` at the true matches (torchreid, fast-reid)."""
    return sum(k / r for k, r in enumerate(positions, start=1)) / len(positions)


def average_precision_trapezoid(positions: list[int]) -> float:
    """Market-1501 official AP: each precision averaged with the precision just before the match."""
    total = 0.0
    for k, r in enumerate(positions, start=1):
        precision = k / r
        old_precision = (k - 1) / (r - 1) if r > 1 else 1.0
        total += (old_precision + precision) / 2
    return total / len(positions)


def inverse_negative_penalty(positions: list[int]) -> float:
    """INP: the precision at the last (hardest) true match."""
    return len(positions) / positions[-1]


def reference_metrics(dist, q_pids, g_pids, q_camids=None, g_camids=None) -> dict:
    """The result of :func:`handreid.metrics.rank_metrics`, one query at a time."""
    dist = np.asarray(dist)
    num_query, num_gallery = dist.shape
    first_match = np.zeros(num_gallery)
    aps, aps_trapezoid, inps = [], [], []
    for i in range(num_query):
        camid = None if q_camids is None else q_camids[i]
        positions = match_positions(ranking(dist[i]), q_pids[i], g_pids, camid, g_camids)
        if not positions:
            continue  # no true match left: not a valid query
        first_match[positions[0] - 1] += 1
        aps.append(average_precision(positions))
        aps_trapezoid.append(average_precision_trapezoid(positions))
        inps.append(inverse_negative_penalty(positions))
    if not aps:
        raise ValueError(NO_MATCH_MSG)
    return {
        "cmc": np.cumsum(first_match) / len(aps),
        "mAP": float(np.mean(aps)),
        "mAP_trapezoid": float(np.mean(aps_trapezoid)),
        "mINP": float(np.mean(inps)),
        "num_valid": len(aps),
    }


def single_match_maps(cmc_percent) -> tuple[float, float]:
    """(mAP, mAP_trapezoid) in % from a CMC curve in %, when every query has exactly one true match.

    With one true match per query (the hand protocol: one gallery image per test identity), a
    query found first at rank ``r`` has AP = ``1 / r`` and AP_trapezoid = 1 at ``r = 1`` and
    ``1 / (2 r)`` after; the CMC curve gives the share of queries at each ``r`` (its steps), so both
    means follow exactly from it. Used for run records written before ``mAP_trapezoid`` was recorded.
    """
    cmc = np.asarray(cmc_percent, dtype=np.float64) / 100.0
    share = np.diff(np.concatenate([[0.0], cmc]))          # share of queries whose match is at rank r
    r = np.arange(1, len(cmc) + 1, dtype=np.float64)
    trapezoid = np.where(r == 1, 1.0, 1.0 / (2 * r))
    return 100.0 * float((share / r).sum()), 100.0 * float((share * trapezoid).sum())
