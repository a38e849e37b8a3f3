"""What a result was made on: the machine, the libraries and the exact training pixels (docs/DESIGN.md §3).

CPU float results depend on the CPU kind (the vector instructions torch dispatches to: AVX2,
AVX-512, ...; and the CPU itself: an AMD EPYC and an Intel Xeon, both AVX-512, give different
demo numbers from the same code) and the number of threads (the order of float reductions). A
rerun is bit-identical only when :func:`machine` says the same CPU model, capability, threads and
versions, and :func:`image_fingerprint` says the same decoded training images.
"""

from __future__ import annotations

import hashlib
import platform

import numpy as np
import torch

__all__ = ["cpu_model", "image_fingerprint", "machine", "same_kind"]


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux, ``platform.processor()`` elsewhere)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine(device: torch.device | str = "cpu") -> dict:
    """CPU model and capability, threads, GPU (when ``device`` is CUDA) and library versions."""
    import torchvision

    from .. import __version__

    device = torch.device(device)
    info = {"cpu": cpu_model(), "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "threads": torch.get_num_threads(), "gpu": None,
            "versions": {"handreid": __version__, "torch": torch.__version__,
                         "torchvision": torchvision.__version__, "numpy": np.__version__,
                         "python": platform.python_version()}}
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def image_fingerprint(images: np.ndarray, chunk: int = 256) -> str:
    """sha256 (16 hex) of decoded images (N, H, W, 3), read ``chunk`` images at a time (memory maps welcome)."""
    h = hashlib.sha256(repr((images.shape, str(images.dtype))).encode())
    for s in range(0, len(images), chunk):
        h.update(np.ascontiguousarray(images[s:s + chunk]).tobytes())
    return h.hexdigest()[:16]


def same_kind(a: dict, b: dict) -> list[str]:
    """Why two :func:`machine` records may give different floats: the differing items (empty: none)."""
    reasons = []
    for key, what in (("cpu", "CPU"), ("cpu_capability", "CPU capability"), ("threads", "threads"),
                      ("gpu", "GPU")):
        if a.get(key) != b.get(key):
            reasons.append(f"{what} {a.get(key)!r} vs {b.get(key)!r}")
    va, vb = a.get("versions", {}), b.get("versions", {})
    for lib in ("torch", "torchvision", "numpy"):
        if va.get(lib) != vb.get(lib):
            reasons.append(f"{lib} {va.get(lib)} vs {vb.get(lib)}")
    return reasons
