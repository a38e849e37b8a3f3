"""Tests for handreid.metrics: the fast kernel against the library's per-query reference
(:mod:`handreid.metrics.reference`, tested on its own in test_metrics_reference.py)."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from handreid import metrics
from handreid.metrics import distance, evaluate_features, fused, kernel, pairwise_distance, rank_metrics


def reference_metrics(dist, q_pids, g_pids, q_camids=None, g_camids=None):
    """The library's reference, or None when no query has a true match."""
    try:
        return metrics.reference_metrics(dist, q_pids, g_pids, q_camids, g_camids)
    except ValueError as e:
        assert "no query has a true match" in str(e)
        return None


def assert_same(out, ref):
    assert list(out) == ["cmc", "mAP", "mAP_trapezoid", "mINP", "num_valid"]
    assert isinstance(out["cmc"], np.ndarray) and out["cmc"].dtype == np.float64
    assert all(isinstance(out[k], float) for k in ("mAP", "mAP_trapezoid", "mINP"))
    assert isinstance(out["num_valid"], int)
    assert out["num_valid"] == ref["num_valid"]
    np.testing.assert_allclose(out["cmc"], ref["cmc"], rtol=0, atol=1e-12)
    assert out["mAP"] == pytest.approx(ref["mAP"], abs=1e-12)
    assert out["mINP"] == pytest.approx(ref["mINP"], abs=1e-12)
    assert out["mAP_trapezoid"] == pytest.approx(ref["mAP_trapezoid"], abs=1e-12)


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


# Kernel routes: the fused counting pass (numba), bucket counting with various resolutions
# (1 bucket = every item compared exactly), and the stable-sort fallback. All must give identical
# answers. Small inputs take the bucketed route by default.
ROUTES = {
    "default": [],
    "fused": [(fused, "MIN_ELEMENTS", 0)],
    "buckets=1": [(kernel, "_USE_FUSED", False), (kernel, "_BUCKETS", 1), (kernel, "_TIE_LIMIT", float("inf"))],
    "buckets=3": [(kernel, "_USE_FUSED", False), (kernel, "_BUCKETS", 3), (kernel, "_TIE_LIMIT", float("inf"))],
    "buckets=64,small-tie-blocks": [(kernel, "_USE_FUSED", False), (kernel, "_BUCKETS", 64),
                                    (kernel, "_TIE_LIMIT", float("inf")), (kernel, "_TIE_BLOCK", 300)],
    "sort": [(kernel, "_USE_FUSED", False), (kernel, "_TIE_LIMIT", -1.0)],
    "sort,one-row-slices": [(kernel, "_USE_FUSED", False), (kernel, "_TIE_LIMIT", -1.0),
                            (kernel, "CHUNK_BYTES", 1)],
}


def use_route(monkeypatch, name):
    if name == "fused":
        pytest.importorskip("numba")
    for module, attr, value in ROUTES[name]:
        monkeypatch.setattr(module, attr, value)


@pytest.fixture(params=list(ROUTES))
def route(request, monkeypatch):
    use_route(monkeypatch, request.param)
    yield request.param
    if request.param == "fused":
        assert fused._kernel, "the fused route was not taken"


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
    monkeypatch.setattr(kernel, "_USE_FUSED", False)
    monkeypatch.setattr(kernel, "_BUCKETS", buckets)
    monkeypatch.setattr(kernel, "_TIE_LIMIT", float("inf"))
    fast = rank_metrics(dist, qp, gp, qc, gc)
    monkeypatch.setattr(kernel, "_TIE_LIMIT", -1.0)
    slow = rank_metrics(dist, qp, gp, qc, gc)
    assert fast["num_valid"] == slow["num_valid"] > 0
    np.testing.assert_array_equal(fast["cmc"], slow["cmc"])
    assert (fast["mAP"], fast["mAP_trapezoid"], fast["mINP"]) == (slow["mAP"], slow["mAP_trapezoid"], slow["mINP"])


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


def test_chunks_bound_the_block_plus_scratch():
    # MSMT17 and Market-1501 scale: the distance block plus the route's scratch fit CHUNK_BYTES
    for nq, ng in ((11659, 82161), (3368, 15913)):
        rows = kernel.chunk_rows(nq, ng, 4, fused_kernel=False)
        assert rows * (4 * ng + kernel._bucket_scratch_per_row(ng, 4)) <= kernel.CHUNK_BYTES
        assert kernel.chunk_rows(nq, ng, 4, fused_kernel=True) * 4 * ng <= kernel.CHUNK_BYTES
    assert kernel.chunk_rows(3368, 15913, 4) < 3368  # Market scale no longer takes one chunk
    assert kernel.chunk_rows(5, 10) == 5
    assert kernel.chunk_rows(10, 10**9) == 1


@pytest.mark.parametrize("name", ["fused", "buckets=3", "sort"])
def test_results_do_not_depend_on_chunking(monkeypatch, name):
    """Any chunking gives the same ranks and the same metrics up to float summation order."""
    use_route(monkeypatch, name)
    rng = np.random.default_rng(2)
    qf, gf = rng.standard_normal((40, 4)), rng.standard_normal((300, 4))
    qp, gp = rng.integers(0, 9, 40), rng.integers(0, 9, 300)
    qc, gc = rng.integers(0, 3, 40), rng.integers(0, 3, 300)
    whole = evaluate_features(qf, gf, qp, gp, qc, gc)
    monkeypatch.setattr(kernel, "CHUNK_BYTES", 8 * 300 * 3)  # a tiny budget: many automatic chunks
    for out in (evaluate_features(qf, gf, qp, gp, qc, gc), evaluate_features(qf, gf, qp, gp, qc, gc, chunk_size=7)):
        for key in ("mAP", "mAP_trapezoid", "mINP"):
            assert out[key] == pytest.approx(whole[key], rel=1e-14, abs=0)
        np.testing.assert_array_equal(out["cmc"], whole["cmc"])
    dist = pairwise_distance(qf, gf).numpy()
    assert_same(whole, reference_metrics(dist, qp, gp, qc, gc))


def test_without_numba_or_when_the_kernel_fails_the_bucketed_kernel_answers(monkeypatch):
    pytest.importorskip("numba")
    rng = np.random.default_rng(4)
    dist, qp, gp, qc, gc = random_problem(rng, 30, 500, 12, 3)
    ref = reference_metrics(dist, qp, gp, qc, gc)
    monkeypatch.setattr(fused, "MIN_ELEMENTS", 0)

    def no_numba():
        raise ImportError("No module named 'numba'")

    monkeypatch.setattr(fused, "_kernel", None)
    monkeypatch.setattr(fused, "_build", no_numba)
    assert_same(rank_metrics(dist, qp, gp, qc, gc), ref)
    assert fused._kernel is False
    monkeypatch.setattr(fused, "_kernel", lambda *args: 1 / 0)  # loaded, then fails when called
    with pytest.warns(RuntimeWarning, match=r"the fused kernel failed \(ZeroDivisionError: .*using the bucketed"):
        assert_same(rank_metrics(dist, qp, gp, qc, gc), ref)
    assert fused._kernel is False


# Recorded from handreid/metrics.py before it became a package (commit f0d4c76), as float.hex:
# (mAP, mINP, num_valid, cmc at ranks 1, 5, 10). Committed run records depend on these bits.
GOLDEN = {
    "features": ("0x1.beb688564abe4p-1", "0x1.beb688564abe4p-1", 95,
                 ["0x1.9efd4e25b9efdp-1", "0x1.ea712dcf7ea71p-1", "0x1.fa9c4b73dfa9cp-1"]),
    "features+cams": ("0x1.ba21556b95b27p-1", "0x1.ba21556b95b27p-1", 66,
                      ["0x1.9b26c9b26c9b2p-1", "0x1.e8ba2e8ba2e8cp-1", "0x1.f83e0f83e0f84p-1"]),
    "dist+cams": ("0x1.8283e461be4a5p-7", "0x1.0cdb737ca4cc0p-7", 300,
                  ["0x1.b4e81b4e81b4fp-7", "0x1.d0369d0369d03p-5", "0x1.47ae147ae147bp-4"]),
}


def golden_problems():
    rng = np.random.default_rng(2026)
    centers = rng.standard_normal((95, 64)).astype(np.float32)
    qp, gp = rng.permutation(95), np.arange(97) % 95
    qf = centers[qp] + 1.2 * rng.standard_normal((95, 64)).astype(np.float32)
    gf = centers[gp] + 1.2 * rng.standard_normal((97, 64)).astype(np.float32)
    qc, gc = rng.integers(0, 3, 95), rng.integers(0, 3, 97)
    yield "features", (qf, gf, qp, gp, None, None)
    yield "features+cams", (qf, gf, qp, gp, qc, gc)
    dist = rng.random((300, 2000), dtype=np.float32)
    dist[:, ::3] = np.round(dist[:, ::3], 2)
    yield "dist+cams", (dist, rng.integers(0, 100, 300), rng.integers(0, 100, 2000),
                        rng.integers(0, 4, 300), rng.integers(0, 4, 2000))


@pytest.mark.parametrize("name", ["default", "fused", "buckets=3", "sort"])
def test_values_bit_identical_to_before_the_package(monkeypatch, name):
    use_route(monkeypatch, name)
    for problem, args in golden_problems():
        out = evaluate_features(*args) if problem.startswith("features") else rank_metrics(*args)
        m_ap, m_inp, valid, cmc = GOLDEN[problem]
        assert (out["mAP"].hex(), out["mINP"].hex(), out["num_valid"]) == (m_ap, m_inp, valid), problem
        assert [float(out["cmc"][k]).hex() for k in (0, 4, 9)] == cmc, problem


@pytest.mark.parametrize("name", ["fused", "buckets=64,small-tie-blocks", "sort"])
@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_exact_on_tie_heavy_features(monkeypatch, name, metric):
    """Quantised features: many exact equal distances, own-pid items tied with others."""
    use_route(monkeypatch, name)
    rng = np.random.default_rng(12)
    qp, gp = rng.integers(0, 40, 60), rng.integers(0, 40, 4000)
    centers = rng.integers(-2, 3, (40, 8))
    qf = np.clip(centers[qp] + rng.integers(-1, 2, (60, 8)), -2, 2).astype(np.float32)
    gf = np.clip(centers[gp] + rng.integers(-1, 2, (4000, 8)), -2, 2).astype(np.float32)
    qc, gc = rng.integers(0, 4, 60), rng.integers(0, 4, 4000)
    dist = pairwise_distance(qf, gf, metric).numpy()
    tie_groups = np.mean([len(row) - len(np.unique(row)) for row in dist])
    assert tie_groups > 3000  # nearly every distance is tied with another
    ref = reference_metrics(dist, qp, gp, qc, gc)
    assert 0.05 < ref["mAP"] < 0.95
    assert_same(evaluate_features(qf, gf, qp, gp, qc, gc, metric=metric), ref)
    assert_same(rank_metrics(dist, qp, gp, qc, gc), ref)


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
    monkeypatch.setattr(distance, "_SMALL_ONEDNN", False)
    plain = pairwise_distance(qf, gf).numpy()
    np.testing.assert_allclose(fast, plain, atol=1e-5)
    # above the measuring threshold the path comes from gemm_path(); both agree too
    monkeypatch.setattr(distance, "_MEASURE_ABOVE_FLOPS", 0)
    for use in (True, False):
        monkeypatch.setattr(distance, "_USE_ONEDNN", use)
        assert distance.gemm_path() == ("onednn" if use else "mm")
        np.testing.assert_allclose(pairwise_distance(qf, gf).numpy(), plain, atol=1e-5)


def test_gemm_path_is_measured_once_or_pinned(monkeypatch):
    calls = []
    monkeypatch.setattr(distance, "_measure_gemm", lambda dim: calls.append(dim) or False)
    monkeypatch.setattr(distance, "_USE_ONEDNN", None)
    monkeypatch.delenv("HANDREID_GEMM", raising=False)
    assert distance.gemm_path(64) == "mm" and distance.gemm_path(64) == "mm"
    assert calls == [64]  # measured once, then cached
    monkeypatch.setattr(distance, "_USE_ONEDNN", None)
    monkeypatch.setenv("HANDREID_GEMM", "onednn")
    assert distance.gemm_path() == "onednn" and calls == [64]
    monkeypatch.setattr(distance, "_USE_ONEDNN", None)
    monkeypatch.setenv("HANDREID_GEMM", "blas")
    with pytest.raises(ValueError, match=re.escape(
            "HANDREID_GEMM must be 'onednn' or 'mm' (or unset: measure); got 'blas'")):
        distance.gemm_path()


def test_huge_finite_features_are_not_mistaken_for_inf():
    qf, gf = np.full((2, 3), 1e30, np.float32), np.full((4, 3), 1e30, np.float32)
    with np.errstate(over="ignore"):
        assert not np.isfinite(np.linalg.norm(gf, axis=1)).any()  # the norm overflows; the values do not
    out = evaluate_features(qf, gf, [0, 1], [0, 1, 0, 1])
    assert out["num_valid"] == 2


def test_gemm_measurement_runs_here():
    assert distance._measure_gemm(32) in (True, False)


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
