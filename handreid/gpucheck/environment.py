"""The ``environment`` part: what the numbers of the other parts were measured on."""

from __future__ import annotations

import os
import platform
import subprocess

from ..engine.provenance import cpu_model

# Dense bf16 tensor-core peaks (TFLOP/s, without sparsity) from the vendors' data sheets,
# matched against the CUDA device name; --peak-tflops overrides. Used for model FLOP utilisation.
PEAK_BF16_TFLOPS = (("H200", 989.0), ("H100", 989.0), ("A100", 312.0), ("L40S", 362.0),
                    ("A10", 125.0), ("L4", 121.0), ("V100", 125.0))


def peak_tflops(gpu_name: str) -> float | None:
    for key, peak in PEAK_BF16_TFLOPS:
        if key in gpu_name:
            return peak
    return None


def nvidia_smi() -> dict:
    """Driver version and memory from ``nvidia-smi`` (empty when it is not there)."""
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total",
                              "--format=csv,noheader"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return {}
    if out.returncode != 0 or not out.stdout.strip():
        return {}
    name, driver, memory = (s.strip() for s in out.stdout.splitlines()[0].split(",")[:3])
    return {"nvidia_smi_name": name, "driver": driver, "memory": memory}


def environment(rec, args) -> None:
    import numpy as np
    import torch
    import torchvision

    rec.result("versions", {"python": platform.python_version(), "torch": torch.__version__,
                            "torchvision": torchvision.__version__, "numpy": np.__version__,
                            "cuda": torch.version.cuda, "cudnn": torch.backends.cudnn.version()})
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    rec.result("cpu", {"model": cpu_model(), "capability": torch.backends.cpu.get_cpu_capability(),
                       "cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                       "load_average_1min": load[0] if load else None, "machine": platform.machine()})
    if args.device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise RuntimeError(f"--device {args.device}: torch {torch.__version__} sees no CUDA device "
                               f"(torch.version.cuda={torch.version.cuda}); check the driver with nvidia-smi")
        dev = torch.device(args.device)
        props = torch.cuda.get_device_properties(dev)
        name = torch.cuda.get_device_name(dev)
        free, total = torch.cuda.mem_get_info(dev)
        peak = args.peak_tflops or peak_tflops(name)
        rec.result("gpu", {"name": name, "capability": f"{props.major}.{props.minor}",
                           "multiprocessors": props.multi_processor_count, "memory_gb": total / 2**30,
                           "free_gb": free / 2**30, "devices": torch.cuda.device_count(),
                           "bf16": torch.cuda.is_bf16_supported(), "peak_bf16_tflops": peak,
                           **nvidia_smi()})
        if peak is None:
            rec.note(f"no data-sheet peak known for {name!r}: pass --peak-tflops to get FLOP utilisation")
    else:
        rec.skip("gpu", f"--device {args.device}: no GPU asked for "
                        f"(torch.cuda.is_available() = {torch.cuda.is_available()})")
