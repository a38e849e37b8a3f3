"""Provenance of a run record: what machine and which decoded pixels a result was made on."""

import numpy as np
import torch

from handreid.engine.provenance import image_fingerprint, machine, same_kind


def test_machine_names_cpu_kind_threads_and_versions():
    m = machine("cpu")
    assert m["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert m["threads"] == torch.get_num_threads() and m["gpu"] is None
    assert m["versions"]["torch"] == torch.__version__ and m["cpu"]


def test_image_fingerprint_sees_one_changed_pixel_and_ignores_chunking():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, size=(9, 8, 6, 3), dtype=np.uint8)
    fp = image_fingerprint(a)
    assert image_fingerprint(a, chunk=2) == image_fingerprint(a, chunk=100) == fp
    b = a.copy()
    b[5, 3, 2, 1] ^= 1
    assert image_fingerprint(b) != fp
    assert image_fingerprint(a[:8]) != fp                       # one image fewer
    assert image_fingerprint(a.reshape(9, 6, 8, 3)) != fp       # same bytes, other size


def test_same_kind_lists_what_differs():
    a = machine("cpu")
    assert same_kind(a, dict(a)) == []
    b = {**a, "threads": a["threads"] + 1, "cpu_capability": "AVX2" if a["cpu_capability"] != "AVX2" else "AVX512"}
    reasons = same_kind(a, b)
    assert len(reasons) == 2 and any("threads" in r for r in reasons) and any("CPU capability" in r for r in reasons)
    # Same capability, another CPU (AVX-512 on both: AMD EPYC records differ on an Intel Xeon).
    c = {**a, "cpu": "AMD EPYC" if a["cpu"] != "AMD EPYC" else "Intel(R) Xeon(R) Processor"}
    assert same_kind(a, c) == [f"CPU {a['cpu']!r} vs {c['cpu']!r}"]
