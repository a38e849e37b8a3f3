"""Tests for handreid.metrics: CMC / mAP / mINP against a plain per-query reference."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from handreid import metrics
from handreid.metrics import evaluate_features, pairwise_distance, rank_metrics


# --------------------------------------------------------------------------------------------
# brute-force reference: one query at a time, written as plainly as possible
# --------------------------------------------------------------------------------------------


def reference_metrics(dist, q_pids, g_pids, q_camids=None, g_camids=None):
    dist = np.asarray(dist, dtype=np.float64)
    num_query, num_gallery = dist.shape
    first_match_counts = np.zeros(num_gallery)
    aps, inps = [], []
    for i in range(num_query):
        order = np.argsort(dist[i], kind="stable")  # ties: lower gallery index first
        ranked_matches = []
        for j in order:
            same_pid = g_pids[j] == q_pids[i]
            if q_camids is not None and same_pid and g_camids[j] == q_camids[i]:
                continue  # same pid, same camera: removed from this query's ranking
            ranked_matches.append(bool(same_pid))
        positions = [p + 1 for p, is_match in enumerate(ranked_matches) if is_match]
        if not positions:
            continue  # no true match: query skipped
        first_match_counts[positions[0] - 1] += 1
        aps.append(sum((k + 1) / p for k, p in enumerate(positions)) / len(positions))
        inps.append(len(positions) / positions[-1])
    num_valid = len(aps)
    if num_valid == 0:
        return None
    return {
        "cmc": np.cumsum(first_match_counts) / num_valid,
        "mAP": float(np.mean(aps)),
        "mINP": float(np.mean(inps)),
        "num_valid": num_valid,
    }


def assert_same(out, ref):
    assert set(out) == {"cmc", "mAP", "mINP", "num_valid"}
    assert isinstance(out["cmc"], np.ndarray) and out["cmc"].dtype == np.float64
    assert isinstance(out["mAP"], float) and isinstance(out["mINP"], float)
    assert isinstance(out["num_valid"], int)
    assert out["num_valid"] == ref["num_valid"]
    np.testing.assert_allclose(out["cmc"], ref["cmc"], rtol=0, atol=1e-12)
    assert out["mAP"] == pytest.approx(ref["mAP"], abs=1e-12)
    assert out["mINP"] == pytest.approx(ref["mINP"], abs=1e-12)


def random_problem(rng, num_query, num_gallery, num_ids, num_cams, tie_levels=None):
    if tie_levels:
        dist = rng.integers(0, tie_levels, size=(num_query, num_gallery)).astype(np.float32)
    else:
        dist = rng.random((num_query, num_gallery), dtype=np.float32)
    q_pids = rng.integers(0, num_ids, num_query)
    g_pids = rng.integers(0, num_ids, num_gallery)
    q_cams = rng.integers(0, num_cams, num_query)
    g_cams = rng.integers(0, num_cams, num_gallery)
    return dist, q_pids, g_pids, q_cams, g_cams


# Kernel routes: bucket counting with various resolutions (1 bucket = every item compared
# exactly), and the stable-sort fallback. All must give identical answers.
ROUTES = {
    "default": {},
    "buckets=1": {"_BUCKETS": 1, "_TIE_LIMIT": float("inf")},
    "buckets=3": {"_BUCKETS": 3, "_TIE_LIMIT": float("inf")},
    "buckets=64,small-tie-blocks": {"_BUCKETS": 64, "_TIE_LIMIT": float("inf"), "_TIE_BLOCK": 300},
    "sort": {"_TIE_LIMIT": -1.0},
}


@pytest.fixture(params=list(ROUTES))
def route(request, monkeypatch):
    for name, value in ROUTES[request.param].items():
        monkeypatch.setattr(metrics, name, value)
    return request.param


# --------------------------------------------------------------------------------------------
# hand-made cases (answers worked out by hand)
# --------------------------------------------------------------------------------------------


def test_two_queries_four_gallery_by_hand(route):
    g_pids = [2, 1, 2, 1]
    q_pids = [1, 2]
    dist = [
        # ranking g0(2) g1(1) g2(2) g3(1): matches at 2, 4 -> AP = (1/2 + 2/4) / 2, INP = 2/4
        [0.1, 0.2, 0.3, 0.4],
        # ranking g1(1) g3(1) g2(2) g0(2): matches at 3, 4 -> AP = (1/3 + 2/4) / 2, INP = 2/4
        [0.9, 0.1, 0.8, 0.2],
    ]
    out = rank_metrics(np.array(dist), q_pids, g_pids)
    np.testing.assert_allclose(out["cmc"], [0.0, 0.5, 1.0, 1.0])  # first matches at 2 and 3
    assert out["mAP"] == pytest.approx(((1 / 2 + 2 / 4) / 2 + (1 / 3 + 2 / 4) / 2) / 2)
    assert out["mINP"] == pytest.approx((2 / 4 + 2 / 4) / 2)
    assert out["num_valid"] == 2


def test_single_query_ap_inp_by_hand(route):
    # ranking pids 1 2 1 2 1 (already sorted): matches at 1, 3, 5
    out = rank_metrics(np.array([[0.0, 1.0, 2.0, 3.0, 4.0]]), [1], [1, 2, 1, 2, 1])
    assert out["mAP"] == pytest.approx((1 / 1 + 2 / 3 + 3 / 5) / 3)
    assert out["mINP"] == pytest.approx(3 / 5)
    np.testing.assert_allclose(out["cmc"], [1, 1, 1, 1, 1])


def test_ties_broken_by_gallery_index(route):
    # all distances equal: ranking is gallery order 0 1 2 3; matches (pid 1) at 2, 3
    out = rank_metrics(np.zeros((1, 4)), [1], [2, 1, 1, 2])
    assert out["mAP"] == pytest.approx((1 / 2 + 2 / 3) / 2)
    assert out["mINP"] == pytest.approx(2 / 3)
    np.testing.assert_allclose(out["cmc"], [0, 1, 1, 1])
    # partial tie: g2 (non-match) ties with g1 (match) and g3 (match); index order g1 g2 g3
    out = rank_metrics(np.array([[0.0, 0.5, 0.5, 0.5]]), [1], [2, 1, 2, 1])
    assert out["mAP"] == pytest.approx((1 / 2 + 2 / 4) / 2)
    assert out["mINP"] == pytest.approx(2 / 4)


def test_same_camera_rule_by_hand(route):
    dist = np.array([[0.1, 0.2, 0.3, 0.4]])
    g_pids, g_cams = [1, 1, 2, 1], [0, 1, 0, 0]
    # camera rule: g0 and g3 (pid 1, camera 0) removed -> ranking g1(1) g2(2): match at 1
    out = rank_metrics(dist, [1], g_pids, [0], g_cams)
    assert (out["mAP"], out["mINP"]) == pytest.approx((1.0, 1.0))
    np.testing.assert_allclose(out["cmc"], [1, 1, 1, 1])  # still num_gallery long
    # g2 has the query's camera but another pid: kept; moving it first pushes the match to 2
    out = rank_metrics(np.array([[0.1, 0.2, 0.05, 0.4]]), [1], g_pids, [0], g_cams)
    assert (out["mAP"], out["mINP"]) == pytest.approx((1 / 2, 1 / 2))
    np.testing.assert_allclose(out["cmc"], [0, 1, 1, 1])
    # no camids: nothing removed -> matches at 1, 2, 4
    out = rank_metrics(dist, [1], g_pids)
    assert out["mAP"] == pytest.approx((1 + 2 / 2 + 3 / 4) / 3)
    assert out["mINP"] == pytest.approx(3 / 4)


def test_queries_without_match_are_skipped(route):
    dist = np.array([
        [0.3, 0.1, 0.2],  # pid 7: not in the gallery -> skipped
        [0.3, 0.1, 0.2],  # pid 1, cam 0: its only match (g0) is in camera 0 -> skipped
        [0.3, 0.1, 0.2],  # pid 2, cam 0: match g1 in camera 1 at rank 1
        [0.1, 0.3, 0.2],  # pid 2, cam 1: g1 removed (same camera); no match left -> skipped
    ])
    q_pids, q_cams = [7, 1, 2, 2], [0, 0, 0, 1]
    g_pids, g_cams = [1, 2, 3], [0, 1, 0]
    out = rank_metrics(dist, q_pids, g_pids, q_cams, g_cams)
    assert out["num_valid"] == 1
    assert (out["mAP"], out["mINP"]) == pytest.approx((1.0, 1.0))
    np.testing.assert_allclose(out["cmc"], [1, 1, 1])
    # without the camera rule queries 2, 3 and 4 are valid
    out = rank_metrics(dist, q_pids, g_pids)
    assert out["num_valid"] == 3
    assert_same(out, reference_metrics(dist, q_pids, g_pids))


def test_all_queries_invalid_raises():
    msg = ("no query has a true match in the gallery: check that query and gallery pids overlap "
           "(and, when camids are given, that some true match lies in a camera other than the "
           "query's)")
    with pytest.raises(ValueError, match="^" + re.escape(msg) + "$"):
        rank_metrics(np.zeros((2, 3)), [5, 6], [1, 2, 3])
    with pytest.raises(ValueError, match=re.escape(msg)):  # only same-camera matches
        rank_metrics(np.zeros((1, 2)), [1], [1, 1], [0], [0, 0])
    with pytest.raises(ValueError, match=re.escape(msg)):
        evaluate_features(np.ones((2, 3)), np.ones((4, 3)), [0, 0], [1, 1, 1, 1])


# --------------------------------------------------------------------------------------------
# random data vs the reference
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("cams", [False, True])
@pytest.mark.parametrize("ties", [None, 2, 5])
def test_rank_metrics_matches_reference(route, cams, ties):
    rng = np.random.default_rng(1000 + 7 * (ties or 0) + cams)
    for _ in range(6):
        nq, ng = int(rng.integers(1, 25)), int(rng.integers(1, 60))
        dist, qp, gp, qc, gc = random_problem(rng, nq, ng, int(rng.integers(1, 8)), 3, ties)
        if not cams:
            qc = gc = None
        ref = reference_metrics(dist, qp, gp, qc, gc)
        if ref is None:
            with pytest.raises(ValueError, match="no query has a true match"):
                rank_metrics(dist, qp, gp, qc, gc)
            continue
        assert_same(rank_metrics(dist, qp, gp, qc, gc), ref)
        assert_same(rank_metrics(torch.from_numpy(dist), torch.from_numpy(qp), gp,
                                 None if qc is None else torch.from_numpy(qc), gc), ref)


def test_rank_metrics_bigger_random_problem(route):
    rng = np.random.default_rng(5)
    dist, qp, gp, qc, gc = random_problem(rng, 40, 700, 30, 6)
    dist[:, ::3] = np.round(dist[:, ::3], 2)  # a mix of distinct values and ties
    assert_same(rank_metrics(dist, qp, gp, qc, gc), reference_metrics(dist, qp, gp, qc, gc))
    assert_same(rank_metrics(dist, qp, gp), reference_metrics(dist, qp, gp))


@pytest.mark.parametrize("buckets", [16384, 512])
def test_bucket_kernel_equals_sort_kernel_on_medium_problem(monkeypatch, buckets):
    rng = np.random.default_rng(8)
    dist, qp, gp, qc, gc = random_problem(rng, 40, 3000, 80, 6)
    dist[:, 1::2] = np.round(dist[:, 1::2], 3)  # many exact ties with distinct values around
    monkeypatch.setattr(metrics, "_BUCKETS", buckets)
    monkeypatch.setattr(metrics, "_TIE_LIMIT", float("inf"))
    fast = rank_metrics(dist, qp, gp, qc, gc)
    monkeypatch.setattr(metrics, "_TIE_LIMIT", -1.0)
    slow = rank_metrics(dist, qp, gp, qc, gc)
    assert fast["num_valid"] == slow["num_valid"] > 0
    np.testing.assert_array_equal(fast["cmc"], slow["cmc"])
    assert (fast["mAP"], fast["mINP"]) == (slow["mAP"], slow["mINP"])


def test_infinite_distances():
    rng = np.random.default_rng(3)
    dist, qp, gp, qc, gc = random_problem(rng, 12, 30, 4, 3, tie_levels=4)
    dist[rng.random(dist.shape) < 0.2] = np.inf
    dist[0, :5] = -np.inf
    assert_same(rank_metrics(dist, qp, gp, qc, gc), reference_metrics(dist, qp, gp, qc, gc))


@pytest.mark.parametrize("dtype", [np.float64, np.float16, np.int64])
def test_other_dist_dtypes(dtype):
    rng = np.random.default_rng(4)
    dist, qp, gp, qc, gc = random_problem(rng, 15, 40, 5, 3, tie_levels=50)
    dist = dist.astype(dtype)
    assert_same(rank_metrics(dist, qp, gp, qc, gc), reference_metrics(dist, qp, gp, qc, gc))


def test_string_labels():
    rng = np.random.default_rng(6)
    dist, qp, gp, qc, gc = random_problem(rng, 10, 30, 4, 3, tie_levels=3)
    names = np.array(["ann", "bob", "cy", "dee"])
    cams = np.array(["left", "right", "top"])
    out = rank_metrics(dist, names[qp], list(names[gp]), cams[qc], cams[gc])
    assert_same(out, reference_metrics(dist, qp, gp, qc, gc))


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
@pytest.mark.parametrize("chunk_size", [1, 3, 7, 30, None])
@pytest.mark.parametrize("cams", [False, True])
def test_evaluate_features_matches_reference(metric, chunk_size, cams):
    rng = np.random.default_rng(11)
    nq, ng, dim = 30, 120, 6
    if metric == "euclidean":
        # small integer features: float32 distances are exact, with plenty of exact ties
        qf = rng.integers(-1, 2, (nq, dim)).astype(np.float32)
        gf = rng.integers(-1, 2, (ng, dim)).astype(np.float32)
    else:
        qf = rng.standard_normal((nq, dim), dtype=np.float32)
        gf = rng.standard_normal((ng, dim), dtype=np.float32)
    qp, gp = rng.integers(0, 9, nq), rng.integers(0, 9, ng)
    qc, gc = (rng.integers(0, 3, nq), rng.integers(0, 3, ng)) if cams else (None, None)
    dist = pairwise_distance(qf, gf, metric).numpy()
    ref = reference_metrics(dist, qp, gp, qc, gc)
    out = evaluate_features(qf, gf, qp, gp, qc, gc, metric=metric, chunk_size=chunk_size)
    assert_same(out, ref)
    assert_same(rank_metrics(dist, qp, gp, qc, gc), ref)


def test_evaluate_features_torch_inputs_and_routes(route):
    torch.manual_seed(0)
    qf, gf = torch.randint(-2, 3, (17, 5)).float(), torch.randint(-2, 3, (90, 5)).float()
    qp, gp = torch.randint(0, 6, (17,)), torch.randint(0, 6, (90,))
    qc, gc = torch.randint(0, 2, (17,)), torch.randint(0, 2, (90,))
    dist = pairwise_distance(qf, gf, "euclidean").numpy()
    ref = reference_metrics(dist, qp.numpy(), gp.numpy(), qc.numpy(), gc.numpy())
    for chunk in (1, 4, None):
        out = evaluate_features(qf, gf, qp, gp, qc, gc, metric="euclidean", chunk_size=chunk,
                                device="cpu")
        assert_same(out, ref)


def test_auto_chunk_bounds_memory(monkeypatch):
    assert metrics._auto_chunk(11659, 82161, None) * 82161 * 4 <= metrics.CHUNK_BYTES
    assert metrics._auto_chunk(5, 10, None) == 5
    assert metrics._auto_chunk(10, 10**9, None) == 1
    # a tiny budget forces many automatic chunks; results unchanged
    monkeypatch.setattr(metrics, "CHUNK_BYTES", 4 * 50 * 3)
    rng = np.random.default_rng(2)
    qf, gf = rng.standard_normal((10, 4)), rng.standard_normal((50, 4))
    qp, gp = rng.integers(0, 3, 10), rng.integers(0, 3, 50)
    dist = pairwise_distance(qf, gf).numpy()
    assert_same(evaluate_features(qf, gf, qp, gp), reference_metrics(dist, qp, gp))


# --------------------------------------------------------------------------------------------
# distances
# --------------------------------------------------------------------------------------------


def test_cosine_distance_is_one_minus_cosine_similarity():
    rng = np.random.default_rng(0)
    qf = rng.standard_normal((7, 16)).astype(np.float32) * 3
    gf = rng.standard_normal((9, 16)).astype(np.float32)
    q64, g64 = qf.astype(np.float64), gf.astype(np.float64)
    cos = (q64 @ g64.T) / np.linalg.norm(q64, axis=1)[:, None] / np.linalg.norm(g64, axis=1)[None]
    dist = pairwise_distance(qf, gf)  # cosine is the default
    assert isinstance(dist, torch.Tensor) and dist.shape == (7, 9) and dist.dtype == torch.float32
    np.testing.assert_allclose(dist.numpy(), 1.0 - cos, atol=1e-6)
    # a zero feature has cosine similarity 0 with everything (distance 1), as F.normalize gives
    gf[0] = 0
    assert np.allclose(pairwise_distance(qf, gf)[:, 0].numpy(), 1.0)


def test_euclidean_distance():
    rng = np.random.default_rng(1)
    qf, gf = rng.standard_normal((5, 8)), rng.standard_normal((6, 8))
    expected = np.linalg.norm(qf[:, None, :] - gf[None, :, :], axis=2)
    dist = pairwise_distance(qf, gf, metric="euclidean")
    assert dist.dtype == torch.float64  # float64 inputs stay float64
    np.testing.assert_allclose(dist.numpy(), expected, atol=1e-9)
    same = pairwise_distance(qf, qf, metric="euclidean").numpy()
    assert np.all(same >= 0) and np.allclose(np.diag(same), 0, atol=1e-6)


def test_fast_cpu_matmul_agrees_with_plain_matmul(monkeypatch):
    rng = np.random.default_rng(2)
    qf = rng.standard_normal((33, 64)).astype(np.float32)
    gf = rng.standard_normal((70, 64)).astype(np.float32)
    fast = pairwise_distance(qf, gf).numpy()
    monkeypatch.setattr(metrics, "_USE_ONEDNN", False)
    plain = pairwise_distance(qf, gf).numpy()
    np.testing.assert_allclose(fast, plain, atol=1e-5)


# --------------------------------------------------------------------------------------------
# input validation
# --------------------------------------------------------------------------------------------


def test_rank_metrics_validation():
    dist = np.zeros((3, 5))
    with pytest.raises(ValueError, match=re.escape(
            "dist has shape (3, 5) but q_pids has 4 entries; expected one pid per query row")):
        rank_metrics(dist, [0, 1, 2, 3], [0] * 5)
    with pytest.raises(ValueError, match=re.escape(
            "dist has shape (3, 5) but g_pids has 2 entries; expected one pid per gallery column")):
        rank_metrics(dist, [0, 1, 2], [0, 1])
    with pytest.raises(ValueError, match=re.escape(
            "dist has shape (3, 5) but q_camids has 1 entries; expected one camid per query row")):
        rank_metrics(dist, [0, 1, 2], [0] * 5, [0], [0] * 5)
    with pytest.raises(ValueError, match=re.escape(
            "but g_camids has 4 entries; expected one camid per gallery column")):
        rank_metrics(dist, [0, 1, 2], [0] * 5, [0] * 3, [0] * 4)
    with pytest.raises(ValueError, match="give both q_camids and g_camids .* got only q_camids"):
        rank_metrics(dist, [0, 1, 2], [0] * 5, q_camids=[0, 0, 0])
    with pytest.raises(ValueError, match=re.escape("dist must be a 2-D (num_query, num_gallery)")):
        rank_metrics(np.zeros(5), [0], [0] * 5)
    with pytest.raises(ValueError, match=re.escape("gallery is empty (dist has shape (3, 0))")):
        rank_metrics(np.zeros((3, 0)), [0, 1, 2], [])
    with pytest.raises(ValueError, match=re.escape("no queries (dist has shape (0, 4))")):
        rank_metrics(np.zeros((0, 4)), [], [0] * 4)
    with pytest.raises(ValueError, match=re.escape("q_pids must be 1-D; got shape (3, 1)")):
        rank_metrics(dist, np.zeros((3, 1), int), [0] * 5)
    bad = dist.copy()
    bad[2, 1] = np.nan
    with pytest.raises(ValueError, match="dist contains NaN"):
        rank_metrics(bad, [0, 1, 2], [0] * 5)


def test_evaluate_features_validation():
    qf, gf = np.ones((3, 4)), np.ones((5, 4))
    pids_q, pids_g = [0, 1, 2], [0] * 5
    with pytest.raises(ValueError, match=re.escape(
            "feature dims differ: qf has shape (3, 4) (dim 4) but gf has shape (5, 8) (dim 8)")):
        evaluate_features(qf, np.ones((5, 8)), pids_q, pids_g)
    with pytest.raises(ValueError, match=re.escape("qf must be a 2-D (num_query, dim) feature matrix")):
        evaluate_features(np.ones(4), gf, [0], pids_g)
    with pytest.raises(ValueError, match=re.escape("gallery is empty (gf has shape (0, 4))")):
        evaluate_features(qf, np.ones((0, 4)), pids_q, [])
    with pytest.raises(ValueError, match=re.escape(
            "qf has 3 rows and gf has 5 rows but q_pids has 2 entries; expected one pid per query row")):
        evaluate_features(qf, gf, [0, 1], pids_g)
    with pytest.raises(ValueError, match=re.escape("metric must be 'cosine' or 'euclidean'; got 'l1'")):
        evaluate_features(qf, gf, pids_q, pids_g, metric="l1")
    with pytest.raises(ValueError, match="chunk_size must be a positive integer"):
        evaluate_features(qf, gf, pids_q, pids_g, chunk_size=0)
    bad = gf.copy()
    bad[0, 0] = np.inf
    with pytest.raises(ValueError, match=re.escape("gf contains non-finite values")):
        evaluate_features(qf, bad, pids_q, pids_g)
    with pytest.raises(ValueError, match=re.escape("feature dims differ")):
        pairwise_distance(qf, np.ones((5, 3)))
