"""The ``train``, ``eval``, ``data`` and ``fit`` parts: :mod:`handreid.bench` at the papers' sizes.

Each measures its most important numbers first and starts an optional one (``torch.compile``,
the CPU reference, more runs at once) only when the part's budget has room for it; what it
leaves out is listed as skipped, with the reason.
"""

from __future__ import annotations

import os
import platform
import tempfile
import time
from pathlib import Path

from .. import bench
from .report import SkipPart

TRAIN = {  # input sizes as in the recipes (GPA-Net 384, LAGA-Net 324); batch as in them, and larger
    "full": {"sizes": {"gpanet": 384, "laganet": 324}, "batches": (20, 64), "steps": 10, "compile": True},
    "tiny": {"sizes": {"gpanet": 32, "laganet": 32}, "batches": (2,), "steps": 1, "compile": False},
}
#: Seconds a part must have left to start one torch.compile measurement (an estimate; not measured).
COMPILE_MIN_S = 60.0
EVAL = {"full": "msmt17", "tiny": "small"}  # handreid.bench.SCALES
DATA = {"full": {"images": 128, "size": (384, 384), "bench_images": 64},
        "tiny": {"images": 6, "size": (64, 64), "bench_images": 4}}
#: Mean absolute difference (uint8 levels) allowed between the GPU and the PIL decoder's caches.
DECODE_MEAN_ABS = 1.0
FIT = {  # the issue-6 target: 60 epochs of GPA-Net at 384 x 384 on an 11k D-r of the real size in 60 s
    "full": {"scale": "11k", "size": 384, "epochs": 60, "runs": (2, 4), "target_s": 60.0, "warm_up": True},
    "tiny": {"scale": "small", "size": 32, "epochs": 1, "runs": (2,), "target_s": None, "warm_up": False},
}


def _device(args):
    import torch

    dev = torch.device(args.device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"--device {args.device}: torch {torch.__version__} sees no CUDA device")
    return dev


def _peak(args) -> float | None:
    import torch

    from .environment import peak_tflops

    if args.peak_tflops or not args.device.startswith("cuda"):
        return args.peak_tflops
    return peak_tflops(torch.cuda.get_device_name(torch.device(args.device)))


def part_train(rec, args) -> None:
    """Images/s and FLOP utilisation: fp32 against bf16 + channels_last against + compile."""
    import torch

    dev = _device(args)
    s = TRAIN[args.scale]
    torch.backends.cudnn.benchmark = dev.type == "cuda"  # as fit does
    peak = _peak(args)
    rec.result("peak_bf16_tflops", peak)
    if peak is None:
        rec.skip("FLOP utilisation", "no peak known for this device (pass --peak-tflops)")
    rows: list[dict] = []
    options = {"gpanet": {"hp": 3, "vp": 1}, "laganet": {}}
    plan = [(m, b, ("fp32", "bf16+channels_last")) for b in s["batches"] for m in ("gpanet", "laganet")]
    if s["compile"]:
        plan += [(m, s["batches"][0], ("bf16+channels_last", "bf16+channels_last+compile"))
                 for m in ("gpanet", "laganet")]
    else:
        rec.skip("torch.compile", "measured at full scale only (on a CPU, compiling takes minutes)")
    for method, batch, variants in plan:
        name = f"{method} {s['sizes'][method]}px batch {batch} {' vs '.join(variants)}"
        if "compile" in variants[-1] and rec.left() < COMPILE_MIN_S:
            rec.skip(name, f"budget: {rec.left():.0f} s left, a compile needs about {COMPILE_MIN_S:.0f} s")
            continue
        with rec.item(name):
            row = bench.bench_train(method, s["sizes"][method], batch, s["steps"], str(dev), peak_tflops=peak,
                                    variants=variants, **options[method])
            if dev.type == "cuda":
                row["peak_gpu_gb"] = torch.cuda.max_memory_allocated(dev) / 2**30
                torch.cuda.reset_peak_memory_stats(dev)
            rows.append({k: v for k, v in row.items() if k != "bench"})
            rec.result("train", rows)


def part_eval(rec, args) -> None:
    """MSMT17-scale evaluation from features on the device, against the CPU in the same run."""
    import torch

    dev = _device(args)
    scale = EVAL[args.scale]
    cuda = dev.type == "cuda"
    row = bench.bench_eval(scale, device=str(dev), with_reference=not cuda)
    if cuda:
        row["peak_gpu_gb"] = torch.cuda.max_memory_allocated(dev) / 2**30
    rec.result("eval", {k: v for k, v in row.items() if k != "bench"})
    if not cuda:
        rec.note("on a CPU the reference is the plain numpy path of handreid.bench (speedup = its time / ours)")
        return
    if rec.left() < 25:
        rec.skip("CPU reference", f"budget: {rec.left():.0f} s left")
        return
    with rec.item("CPU reference"):
        ref = bench.bench_eval(scale, device="cpu", with_reference=False)
        rec.result("cpu_reference", {"seconds": ref["seconds"], "threads": torch.get_num_threads(),
                                     "gpu_speedup": ref["seconds"] / row["seconds"]})


def part_data(rec, args) -> None:
    """Cache build from 1600 x 1200 JPEGs: PIL on CPU threads against nvJPEG; the faster one is recorded."""
    import numpy as np
    import torch

    from ..data.cache import DECODER_RECORD, ImageCache, decode_resized_torch
    from ..io import write_json
    from ..paths import cache_dir

    dev = _device(args)
    s = DATA[args.scale]
    cuda = dev.type == "cuda"
    with tempfile.TemporaryDirectory(dir=args.work) as tmp:
        paths = bench.write_jpegs(Path(tmp), s["images"], (1200, 1600))
        t0 = time.perf_counter()
        cpu = ImageCache(paths, s["size"], cache_dir=Path(tmp) / "cpu", decoder="cpu")
        t_cpu = time.perf_counter() - t0
        res = {"images": len(paths), "source": [1200, 1600], "size": list(s["size"]),
               "cpu_workers": min(8, os.cpu_count() or 1), "cpu_images_per_s": len(paths) / t_cpu}
        rec.result("cache_build", res)
        if cuda:
            decode_resized_torch(paths[:1], s["size"], dev, np.empty((1, *s["size"], 3), np.uint8))  # nvJPEG init
            torch.cuda.synchronize(dev)
            t0 = time.perf_counter()
            gpu = ImageCache(paths, s["size"], cache_dir=Path(tmp) / "gpu", decoder="cuda")
            res["cuda_images_per_s"] = len(paths) / (time.perf_counter() - t0)
            other, what = np.asarray(gpu.array), "nvJPEG + resize on CUDA"
        else:
            rec.skip("GPU decoder", "needs CUDA; its code path ran on the CPU instead (torchvision decoder)")
            other, what = np.empty_like(cpu.array), "torchvision decoder on the CPU"
            decode_resized_torch(paths, s["size"], "cpu", other)
        diff = np.abs(other.astype(np.int16) - np.asarray(cpu.array).astype(np.int16))
        rec.check(f"{what} vs PIL decoder: same images", float(diff.mean()) <= DECODE_MEAN_ABS,
                  {"mean_abs_levels": float(diff.mean()), "max_abs_levels": int(diff.max())},
                  f"mean absolute difference <= {DECODE_MEAN_ABS} uint8 level (JPEG IDCTs and resize rounding differ)")
        if cuda:
            choice = "cuda" if res["cuda_images_per_s"] >= res["cpu_images_per_s"] else "cpu"
            res["decoder"] = choice
            rec.result("cache_build", res)
            record = cache_dir() / DECODER_RECORD
            write_json(record, {"decoder": choice, "gpu": torch.cuda.get_device_name(dev), **res,
                                "torch": torch.__version__, "measured": time.strftime("%Y-%m-%d %H:%M:%S")})
            rec.note(f"ImageCache on this machine now decodes with {choice!r} (recorded in {record})")
        else:
            rec.skip("decoder choice", "no GPU: ImageCache keeps the CPU decoder")
    with rec.item("data path (handreid.bench data)"):
        row = bench.bench_data(s["bench_images"], size=s["size"], device=str(dev))
        rec.result("data_path", {k: v for k, v in row.items() if k != "bench"})


def prepare_fit_data(work: Path, scale: str) -> Path:
    """The fit part's synthetic 11k tree (written while the parts before it run)."""
    from ..data.synthetic import write_11k

    return write_11k(Path(work) / "data", seed=0, **bench.FIT_SCALES[FIT[scale]["scale"]])


def part_fit(rec, args) -> None:
    """Whole 60-epoch GPA-Net runs: one alone against the 60 s target, then N at once."""
    dev = _device(args)
    s = FIT[args.scale]
    work = Path(args.work)
    t0 = time.perf_counter()
    root = prepare_fit_data(work, args.scale)
    base = bench.fit_params(root, "gpanet", s["size"], str(dev))
    rec.result("setup", {"data": f"synthetic 11k D-r ({bench.FIT_SCALES[s['scale']]})",
                         "data_s": time.perf_counter() - t0, "method": "gpanet hp=3 vp=1", "size": s["size"],
                         "cpus": os.cpu_count(), "machine": platform.machine()})
    epochs = s["epochs"]
    if s["warm_up"]:  # builds the caches out of the timed runs; its 2nd epoch gives the epoch time
        warm = bench.time_fits(base, 1, 2, work / "warm")
        rec.result("warm_up", warm)
        t_epoch, overhead = warm["epoch_s"], warm["wall_s"] - warm["train_s"]
        # The single run may take a little over half of what is left; the rest is for N at once.
        fits = int((0.55 * rec.left() - overhead) / t_epoch)
    else:
        rec.skip("warm-up run", "toy size: the caches build inside the timed run, so its speedups mean nothing")
        fits = epochs
    if fits < epochs:
        if fits < 1:
            raise SkipPart(f"budget: {rec.left():.0f} s left, one epoch takes {t_epoch:.1f} s")
        rec.note(f"the single run has {fits} epochs, not {epochs}: the budget has {rec.left():.0f} s left "
                 f"and an epoch takes {t_epoch:.2f} s (projected_60_epoch_wall_s extrapolates)")
        epochs = fits
    single = bench.time_fits(base, 1, epochs, work / "single")
    # Throughput from the steady epochs (the first one also autotunes the convolutions).
    train_ips = single["train_images"] / single["epoch_s"]
    single.update(train_images_per_s=train_ips, speedup=1.0)
    if s["target_s"]:
        projected = single["wall_s"] - single["train_s"] + s["epochs"] * single["epoch_s"]
        single.update(target_s=s["target_s"], projected_60_epoch_wall_s=projected)
    rows = [single]
    rec.result("runs", rows)
    for i, n in enumerate(s["runs"]):
        share = rec.left() / (len(s["runs"]) - i)
        overhead = single["wall_s"] - single["train_s"]
        en = min(epochs, int((0.8 * share - 1.5 * overhead) / (n * single["epoch_s"])))
        if en < 1:
            rec.skip(f"{n} runs at once", f"budget: {rec.left():.0f} s left for {len(s['runs']) - i} measurements")
            continue
        if en < epochs:
            rec.note(f"{n} runs at once: {en} epochs each (budget); speedup from the training throughput")
        with rec.item(f"{n} runs at once"):
            row = bench.time_fits(base, n, en, work / f"runs{n}")
            row["train_images_per_s"] = n * row["train_images"] / row["epoch_s"]
            row["speedup"] = row["train_images_per_s"] / train_ips
            rows.append(row)
            rec.result("runs", rows)
