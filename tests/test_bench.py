"""The benchmarks run at small scale and print their ratios; the reference agrees with the fast path."""

import numpy as np
import pytest

from handreid import bench
from handreid.metrics import evaluate_features


def test_reference_evaluation_matches_fast_path_with_camera_rule():
    qf, gf, qp, gp, qc, gc = bench.random_features(50, 300, 20, 3, 16, seed=1)
    ref = bench.reference_metrics(qf.numpy(), gf.numpy(), qp, gp, qc, gc, chunk=7)
    fast = evaluate_features(qf, gf, qp, gp, qc, gc)
    assert ref["num_valid"] == fast["num_valid"]
    assert ref["mAP"] == pytest.approx(fast["mAP"], abs=1e-6)
    assert ref["mINP"] == pytest.approx(fast["mINP"], abs=1e-6)
    np.testing.assert_allclose(ref["cmc"], fast["cmc"], atol=1e-9)


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
