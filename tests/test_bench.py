"""The benchmarks run at small scale and print their ratios; the reference agrees with the fast path."""

import os
import tempfile

import numpy as np
import pytest

from handreid import bench
from handreid.data import load_split
from handreid.data.synthetic import write_11k
from handreid.metrics import evaluate_features, kernel, pairwise_distance, reference_metrics


def test_bench_features_are_not_trivial_and_agree_with_the_library_reference():
    qf, gf, qp, gp, qc, gc = bench.random_features(600, 3000, 150, 6, 256, noise=bench.FEATURE_NOISE["small"])
    fast = evaluate_features(qf, gf, qp, gp, qc, gc)
    assert 0.2 < fast["mAP"] < 0.8  # far from perfect: a wrong ranking shows in the check
    dist = pairwise_distance(qf[:100], gf).numpy()
    ref = reference_metrics(dist, qp[:100], gp, qc[:100], gc)
    sub = evaluate_features(qf[:100], gf, qp[:100], gp, qc[:100], gc)
    assert sub["num_valid"] == ref["num_valid"] and np.array_equal(sub["cmc"], ref["cmc"])
    assert sub["mAP_trapezoid"] == pytest.approx(ref["mAP_trapezoid"], abs=1e-12)


def test_eval_bench_reports_the_gemm_floor_and_catches_a_wrong_ranking(monkeypatch):
    row = bench.bench_eval("small", field=False)
    assert row["vs_gemm"] == pytest.approx(row["seconds"] / row["gemm_s"])
    assert row["cpu_vs_gemm"] == pytest.approx(row["cpu_seconds"] / row["gemm_cpu_s"])
    assert row["gemm_s"] == min(row.get("gemm_mm_s", np.inf), row.get("gemm_onednn_s", np.inf))
    assert row["cold_seconds"] > 0 and row["cold_vs_gemm"] > 0
    assert row["gemm_path"] in ("onednn", "mm") and row["peak_rss_gb"] > 0 and row["subset"] == 200
    assert 0.2 < row["mAP"] < 0.8 and row["mAP_trapezoid"] < row["mAP"]
    # the agreement check can fail: a kernel that mis-ranks one item is caught
    real = kernel._positions_bucket

    def off_by_one(*args):
        pos = real(*args)
        if pos is not None:
            pos[0, 0] += 1
        return pos

    monkeypatch.setattr(kernel, "_USE_FUSED", False)
    monkeypatch.setattr(kernel, "_positions_bucket", off_by_one)
    with pytest.raises(AssertionError, match="differs from the reference"):
        bench.bench_eval("small", field=False)


def test_field_evaluators_are_skipped_when_they_would_not_fit(monkeypatch):
    monkeypatch.setattr(bench, "_available_gb", lambda: 4.0)
    assert bench._field("torchreid", (11659, 82161, 3060, 15, 2048, 3.5)) == {
        "skipped": "needs about 21 GiB, 4 GiB available"}


def test_bench_command_prints_ratios(capsys):
    assert bench.main(["--scale", "small", "--data-images", "4", "--train-size", "32",
                       "--train-batch", "4", "--train-steps", "1"]) == 0
    out = capsys.readouterr().out
    lines = [l for l in out.splitlines() if l.startswith("bench=")]
    assert [l.split(",")[0] for l in lines] == ["bench=eval", "bench=data", "bench=train", "bench=train"]
    assert all("speedup=" in l for l in lines)
    assert "method=laganet" in lines[3]


def test_train_bench_reports_flop_utilisation():
    row = bench.bench_train("resnet50", size=32, batch=2, steps=1, peak_tflops=1.0)
    assert row["fp32_mfu"] == row["fp32_tflops"] and row["train_gflop_per_image"] > 0


def test_fit_bench_times_one_run_then_concurrent_runs(capsys, monkeypatch):
    monkeypatch.setenv("HANDREID_CACHE", "/nonexistent/left/alone")
    assert bench.main(["--only", "fit", "--train-size", "32", "--fit-epochs", "1", "--fit-runs", "2"]) == 0
    lines = [l for l in capsys.readouterr().out.splitlines() if l.startswith("bench=fit")]
    rows = [dict(kv.split("=", 1) for kv in l.split(", ")) for l in lines]
    assert [r["runs"] for r in rows] == ["1", "2"]  # the single run is always measured, as the reference
    assert rows[0]["speedup"] == "1" and float(rows[1]["speedup"]) > 0
    with tempfile.TemporaryDirectory() as tmp:
        root = write_11k(tmp, seed=0, **bench.FIT_SCALES["small"])
        assert rows[0]["train_images"] == str(len(load_split("11k-dr", root=root, repeat=0, seed=0).train))
    assert all(0 <= float(r["rank1"]) <= 100 and float(r["wall_s"]) >= float(r["train_s"]) > 0 for r in rows)
    assert os.environ["HANDREID_CACHE"] == "/nonexistent/left/alone"  # restored after the bench


def test_fit_bench_rejects_a_bad_run_count(capsys):
    with pytest.raises(SystemExit):
        bench.main(["--only", "fit", "--fit-runs", "1,0"])
    assert "expected positive numbers of runs separated by commas, e.g. 1,2,4; got '1,0'" in capsys.readouterr().err


def test_a_failing_benchmark_run_raises_its_error_in_the_parent():
    with pytest.raises(RuntimeError, match=r"a benchmark run failed:\n.*dataset.*'11k-xx'"):
        bench._concurrent_fits([{"dataset": "11k-xx"}, {"dataset": "11k-dr", "device": "cpu"}], 1)
