"""The readable reference (handreid.metrics.reference) and mAP_trapezoid (issue 13, part 1):
hand-made cases, a line-by-line transcription of the Market-1501 official AP, and the identity
between the two mAPs with one true match per query."""

from __future__ import annotations

import numpy as np
import pytest

from handreid.metrics import evaluate_features, rank_metrics, reference
from handreid.metrics.reference import (average_precision, average_precision_trapezoid,
                                        inverse_negative_penalty, match_positions, reference_metrics)


def official_compute_mAP(index, good_index, junk_index):
    """The Market-1501 official ``compute_mAP`` (as in the authors' MBA-Net
    ``utils/evaluation_metrics.py``), transcribed line by line in numpy. ``index``: gallery indices
    ranked best first; ``good_index``: true matches; ``junk_index``: items removed (the camera rule)."""
    ap = 0.0
    cmc = np.zeros(len(index), dtype=np.int64)
    if good_index.size == 0:  # if empty
        cmc[0] = -1
        return ap, cmc
    mask = np.isin(index, junk_index, invert=True)  # remove junk_index
    index = index[mask]
    ngood = len(good_index)  # find good_index index
    mask = np.isin(index, good_index)
    rows_good = np.argwhere(mask).flatten()  # 0-based rows of the true matches
    cmc[rows_good[0]:] = 1
    for i in range(ngood):
        d_recall = 1.0 / ngood
        precision = (i + 1) * 1.0 / (rows_good[i] + 1)
        if rows_good[i] != 0:
            old_precision = i * 1.0 / rows_good[i]
        else:
            old_precision = 1.0
        ap = ap + d_recall * (old_precision + precision) / 2
    return ap, cmc


def official_mean_ap(dist, q_pids, g_pids, q_camids=None, g_camids=None):
    """Mean official AP over the queries that have a true match (stable ranking, as handreid)."""
    aps = []
    for i in range(len(q_pids)):
        index = np.argsort(dist[i], kind="stable")
        same = g_pids == q_pids[i]
        junk = np.flatnonzero(same & (g_camids == q_camids[i])) if q_camids is not None else np.array([], int)
        good = np.setdiff1d(np.flatnonzero(same), junk)
        if good.size:
            aps.append(official_compute_mAP(index, good, junk)[0])
    return float(np.mean(aps))


# --------------------------------------------------------------------------------------------
# hand-made cases
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("r", [1, 2, 3, 7, 40])
def test_one_true_match_at_rank_r(r):
    assert average_precision_trapezoid([r]) == (1.0 if r == 1 else 1 / (2 * r))
    assert average_precision([r]) == 1 / r
    dist = np.arange(50, dtype=np.float64)[None]
    g_pids = np.zeros(50, int)
    g_pids[r - 1] = 1
    out = rank_metrics(dist, [1], g_pids)
    assert out["mAP_trapezoid"] == pytest.approx(1.0 if r == 1 else 1 / (2 * r), abs=1e-15)
    assert out["mAP"] == pytest.approx(1 / r, abs=1e-15)


def test_several_true_matches_by_hand():
    # matches at ranks 1, 3, 4: p = 1, 2/3, 3/4; p_old = 1 (rank 1), 1/2, 2/3
    positions = [1, 3, 4]
    expected = ((1 + 1) / 2 + (1 / 2 + 2 / 3) / 2 + (2 / 3 + 3 / 4) / 2) / 3
    assert average_precision_trapezoid(positions) == pytest.approx(expected, abs=1e-15)
    assert average_precision(positions) == pytest.approx((1 + 2 / 3 + 3 / 4) / 3, abs=1e-15)
    assert inverse_negative_penalty(positions) == 3 / 4
    out = rank_metrics(np.array([[0.1, 0.2, 0.3, 0.4, 0.5]]), [7], [7, 1, 7, 7, 2])
    assert out["mAP_trapezoid"] == pytest.approx(expected, abs=1e-15)


def test_camera_rule_removes_same_camera_matches_before_ranking():
    # gallery by distance: g0 (pid 1, cam 0) g1 (pid 2) g2 (pid 1, cam 1) g3 (pid 1, cam 0)
    dist = np.array([[0.1, 0.2, 0.3, 0.4]])
    g_pids, g_cams = np.array([1, 2, 1, 1]), np.array([0, 1, 1, 0])
    assert match_positions([0, 1, 2, 3], 1, g_pids, 0, g_cams) == [2]  # g0 and g3 are junk
    out = rank_metrics(dist, [1], g_pids, [0], g_cams)
    assert out["mAP_trapezoid"] == pytest.approx(1 / 4) and out["mAP"] == pytest.approx(1 / 2)
    ap, _ = official_compute_mAP(np.array([0, 1, 2, 3]), np.array([2]), np.array([0, 3]))
    assert ap == pytest.approx(1 / 4)
    # without camids nothing is removed: matches at 1, 3, 4
    out = rank_metrics(dist, [1], g_pids)
    assert out["mAP_trapezoid"] == pytest.approx(average_precision_trapezoid([1, 3, 4]))


def test_ties_keep_gallery_order():
    # all distances equal: the ranking is gallery order, numpy's default sort is not guaranteed to be
    assert list(reference.ranking(np.zeros(40))) == list(range(40))
    out = reference_metrics(np.zeros((1, 4)), [1], [2, 1, 1, 2])  # matches at ranks 2 and 3
    assert out["mAP_trapezoid"] == pytest.approx(((0 / 1 + 1 / 2) / 2 + (1 / 2 + 2 / 3) / 2) / 2)


def test_no_valid_query_raises_the_library_message():
    with pytest.raises(ValueError, match="^no query has a true match in the gallery"):
        reference_metrics(np.zeros((1, 2)), [1], [1, 1], [0], [0, 0])


# --------------------------------------------------------------------------------------------
# against the official rule, and the identity with one true match per query
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("cams", [False, True])
@pytest.mark.parametrize("ties", [None, 4])
def test_mAP_trapezoid_equals_the_official_rule(cams, ties):
    rng = np.random.default_rng(31 + 2 * cams + (ties or 0))
    nq, ng = 40, 300
    dist = rng.random((nq, ng)) if ties is None else rng.integers(0, ties, (nq, ng)).astype(float)
    qp, gp = rng.integers(0, 12, nq), rng.integers(0, 12, ng)
    qc, gc = (rng.integers(0, 3, nq), rng.integers(0, 3, ng)) if cams else (None, None)
    official = official_mean_ap(dist, qp, gp, qc, gc)
    assert reference_metrics(dist, qp, gp, qc, gc)["mAP_trapezoid"] == pytest.approx(official, abs=1e-12)
    assert rank_metrics(dist, qp, gp, qc, gc)["mAP_trapezoid"] == pytest.approx(official, abs=1e-12)


def test_one_match_per_query_identity():
    """Issue 13: with one true match per query (the hand protocol),
    authors' mAP - rank-1 == handreid's mAP_trapezoid - rank-1 == (handreid's mAP - rank-1) / 2."""
    rng = np.random.default_rng(5)
    ids, dim = 70, 16
    centers = rng.standard_normal((ids, dim))
    qp, gp = rng.permutation(ids), np.arange(ids)  # one gallery image per identity
    qf = centers[qp] + 0.9 * rng.standard_normal((ids, dim))
    gf = centers[gp] + 0.9 * rng.standard_normal((ids, dim))
    out = evaluate_features(qf, gf, qp, gp)
    rank1 = out["cmc"][0]
    assert 0.2 < rank1 < 0.9
    dist = 1 - (qf / np.linalg.norm(qf, axis=1, keepdims=True)) @ (gf / np.linalg.norm(gf, axis=1, keepdims=True)).T
    authors = official_mean_ap(dist, qp, gp)
    assert authors - rank1 == pytest.approx(out["mAP_trapezoid"] - rank1, abs=1e-12)
    assert out["mAP_trapezoid"] - rank1 == pytest.approx((out["mAP"] - rank1) / 2, abs=1e-12)
    assert out["mAP"] - out["mAP_trapezoid"] == pytest.approx(authors - rank1, abs=1e-12) and authors > rank1


def test_run_records_keep_both_mAPs():
    """engine.evaluate passes mAP_trapezoid into each repeat's row and the summary; records
    written before it existed (no mAP_trapezoid) still aggregate."""
    from handreid.engine.evaluate import aggregate, summarize

    # query 1: its match at rank 2; query 2: rankings g1 g2 g0, its matches at ranks 2 and 3
    out = rank_metrics(np.array([[0.1, 0.2, 0.3], [0.3, 0.1, 0.2]]), [1, 2], [2, 1, 2])
    row = summarize(out, 2, 3)
    assert row["mAP"] == pytest.approx(100 * (1 / 2 + (1 / 2 + 2 / 3) / 2) / 2)
    assert row["mAP_trapezoid"] == pytest.approx(100 * (1 / 4 + ((0 + 1 / 2) / 2 + (1 / 2 + 2 / 3) / 2) / 2) / 2)
    summary = aggregate([row, dict(row, mAP_trapezoid=0.0)])
    assert summary["mAP_trapezoid_mean"] == pytest.approx(row["mAP_trapezoid"] / 2)
    old = {k: v for k, v in row.items() if k != "mAP_trapezoid"}
    assert "mAP_trapezoid_mean" not in aggregate([old, row]) and aggregate([old])["mAP_mean"] == row["mAP"]


def test_single_match_maps_from_the_cmc_equal_the_per_query_definitions():
    """Hand protocol: one true match per query, so both mAPs follow from the CMC curve exactly."""
    from handreid.metrics.reference import single_match_maps

    rng = np.random.default_rng(4)
    q, g = 40, 30
    dist = rng.random((q, g))
    q_pids = np.arange(q) % g                                   # every query's identity has one gallery image
    res = rank_metrics(dist, q_pids, np.arange(g))
    m, trap = single_match_maps(100.0 * np.asarray(res["cmc"]))
    assert m == pytest.approx(100.0 * res["mAP"], abs=1e-9)
    assert trap == pytest.approx(100.0 * res["mAP_trapezoid"], abs=1e-9)
    assert single_match_maps([100.0, 100.0]) == (100.0, 100.0)
    assert single_match_maps([0.0, 50.0, 100.0]) == pytest.approx((100 * (0.5 / 2 + 0.5 / 3), 100 * (0.5 / 4 + 0.5 / 6)))
