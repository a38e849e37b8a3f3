"""Benchmarks (DESIGN §5): each prints a ratio against a reference measured in the same run.

    python -m handreid.bench                   # small scale (what CI runs), CPU
    python -m handreid.bench --scale market    # evaluation at Market-1501 scale
    python -m handreid.bench --scale msmt17    # evaluation at MSMT17 scale (11,659 x 82,161, 2048-d)
    python -m handreid.bench --device cuda --only train --train-size 384 --laga-size 324 --compile
        --train-batch 20 --peak-tflops 790   # (one line) GPU training throughput and MFU
    python -m handreid.bench --device cuda --only fit --fit-scale 11k --train-size 384 \
        --fit-epochs 60 --fit-runs 1,2,4,8   # whole 60-epoch GPA-Net runs, 1 to 8 at a time

* ``eval``: CMC/mAP/mINP from features with :func:`handreid.metrics.evaluate_features` against
  the bare fp32 GEMM of the same shape (``vs_gemm``: a second call, as every later evaluation in
  a process; ``cold_vs_gemm``: the first, which loads the compiled kernel; ``cpu_vs_gemm``: the
  same in CPU time, steadier when other work shares the cores), checked exactly against the
  library's reference (:mod:`handreid.metrics.reference`) on a subset of queries (``speedup``:
  reference time / handreid time there), and beside fast-reid's and torchreid's evaluators when
  they are importable (``fast-reid_vs_handreid``: their time / handreid's; each in its own process).
* ``data``: images/s of the data path, JPEG decode + resize per image (cold) against
  a batch from the decode-once cache (warm); the batch augmentation is timed apart.
* ``train``: training images/s of a model in fp32 against bf16 autocast, channels_last
  and (optionally) ``torch.compile``, with the achieved TFLOP/s from PyTorch's FLOP counter.
* ``fit`` (only when named): whole runs of :func:`handreid.engine.fit` on a synthetic 11k
  D-r, one alone (the reference) and N at a time on the same device.

Absolute times only mean something on a GPU; the ratios are the point on a CPU.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

SCALES = {  # (num_query, num_gallery, num_ids, num_cams, dim)
    "small": (600, 3000, 150, 6, 256),
    "market": (3368, 15913, 751, 6, 2048),
    "msmt17": (11659, 82161, 3060, 15, 2048),
}


def _timeit(fn, repeat: int = 1):
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


#: Spread of the features around their identity centre, per scale: rankings far from perfect
#: (mAP about 0.4-0.6), so that the agreement check can fail (at 1.5 and 2048-d every score was 1).
FEATURE_NOISE = {"small": 2.2, "market": 3.5, "msmt17": 3.5}


def _cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _timed(fn):
    """(wall seconds, CPU seconds of all the process's threads, result) of one call. CPU time is
    the steadier measure when other work shares the cores."""
    w, c = time.perf_counter(), _cpu_seconds()
    out = fn()
    return time.perf_counter() - w, _cpu_seconds() - c, out


def random_features(nq: int, ng: int, ids: int, cams: int, dim: int, seed: int = 0, noise: float = 3.5):
    """Features with an identity signal (class centre + noise), pids and camids. Written in place
    a block at a time, so that building them takes no more memory than the features."""
    g = torch.Generator().manual_seed(seed)
    centers = torch.randn(ids, dim, generator=g)
    q_pids = torch.randint(ids, (nq,), generator=g)
    g_pids = torch.cat([torch.arange(ids), torch.randint(ids, (ng - ids,), generator=g)])

    def noisy(pids):
        f = centers[pids]
        for s in range(0, len(f), 4096):
            f[s:s + 4096].add_(torch.randn(len(f[s:s + 4096]), dim, generator=g), alpha=noise)
        return f

    qf, gf = noisy(q_pids), noisy(g_pids)
    q_cams = torch.randint(cams, (nq,), generator=g)
    g_cams = torch.randint(cams, (ng,), generator=g)
    return qf, gf, q_pids.numpy(), g_pids.numpy(), q_cams.numpy(), g_cams.numpy()


def _peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def bare_gemm_seconds(qf: torch.Tensor, gf: torch.Tensor, rows: int) -> dict:
    """The floor: ``qf @ gf.T`` in blocks of ``rows`` query rows (the output of one block at a time),
    with oneDNN's and with torch's default fp32 GEMM; each path's time and the faster one."""
    from .metrics import distance

    out = {}
    for name, mm in (("mm", lambda a: a @ gf.T), ("onednn", lambda a: distance._onednn_mm(a, gf))):
        try:
            mm(qf[:2])
        except Exception:  # noqa: BLE001 - oneDNN's op missing on this build
            continue
        wall, cpu, _ = _timed(lambda: [mm(qf[s:s + rows]) for s in range(0, len(qf), rows)][-1])
        out[f"gemm_{name}_s"], out[f"gemm_{name}_cpu_s"] = wall, cpu
    best = min((k for k in out if not k.endswith("cpu_s")), key=out.get)
    out["gemm_s"], out["gemm_cpu_s"] = out[best], out[best.replace("_s", "_cpu_s")]
    return out


# Evaluators of the field, measured when importable (never a dependency of handreid): module, and
# how to read its ``evaluate_rank`` result (torchreid: (cmc, mAP); fast-reid: (cmc, APs, INPs)).
FIELD = {"fast-reid": "fastreid.evaluation.rank", "torchreid": "torchreid.metrics.rank"}


def _importable(module: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _field_worker(name: str, shape: tuple, queue) -> None:
    """One evaluator of the field, from the same features, in its own process (its own peak RSS)."""
    try:
        import importlib
        import warnings

        from .metrics import pairwise_distance

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mod = importlib.import_module(FIELD[name])
        qf, gf, qp, gp, qc, gc = random_features(*shape[:5], noise=shape[5])
        t0 = time.perf_counter()
        dist = pairwise_distance(qf, gf).numpy()
        del qf, gf
        res = mod.evaluate_rank(dist, qp, gp, qc, gc, max_rank=50)
        seconds = time.perf_counter() - t0
        queue.put({"seconds": seconds, "peak_rss_gb": _peak_rss_gb(), "mAP": float(np.mean(res[1])),
                   "rank1": float(res[0][0]), "cython": bool(getattr(mod, "IS_CYTHON_AVAI", False))})
    except BaseException as e:  # noqa: BLE001 - reported to the parent
        queue.put({"error": f"{type(e).__name__}: {e}"})


def _available_gb() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return float("inf")


def _field(name: str, shape: tuple) -> dict:
    import multiprocessing as mp

    nq, ng = shape[0], shape[1]
    need = nq * ng * 24 / 2**30  # distances, argsort indices, match matrix: about 24 bytes each
    if need > 0.5 * _available_gb():
        return {"skipped": f"needs about {need:.0f} GiB, {_available_gb():.0f} GiB available"}
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_field_worker, args=(name, shape, queue))
    proc.start()
    try:
        res = queue.get(timeout=3600)
    finally:
        proc.join()
    return res


def bench_eval(scale: str = "small", device: str = "cpu", with_reference: bool = True,
               subset: int = 200, field: bool = True) -> dict:
    """handreid's evaluation from features against the bare GEMM of the same shape (the floor),
    checked exactly against the library's reference on ``subset`` queries, and beside the
    evaluators of fast-reid and torchreid when they are importable."""
    from .metrics import CHUNK_BYTES, evaluate_features, gemm_path, pairwise_distance, reference_metrics
    from .metrics import kernel

    nq, ng, ids, cams, dim = SCALES[scale]
    noise = FEATURE_NOISE[scale]
    qf, gf, qp, gp, qc, gc = random_features(nq, ng, ids, cams, dim, noise=noise)
    out = {"bench": "eval", "scale": scale, "queries": nq, "gallery": ng, "dim": dim, "device": device,
           "noise": noise, "chunk_mib": CHUNK_BYTES / 2**20,
           "features_gb": (qf.numel() + gf.numel()) * 4 / 2**30}
    # the first call in the process (cold: loads the compiled kernel, measures the GEMM path), then
    # a second one (warm: as every later evaluation in the same process, e.g. the next repeat)
    t_cold, cpu_cold, fast = _timed(lambda: evaluate_features(qf, gf, qp, gp, qc, gc, device=device))
    out.update(cold_seconds=t_cold, peak_rss_gb=_peak_rss_gb())
    t_fast, cpu_fast, fast = _timed(lambda: evaluate_features(qf, gf, qp, gp, qc, gc, device=device))
    out.update(seconds=t_fast, cpu_seconds=cpu_fast, rank1=float(fast["cmc"][0]), mAP=fast["mAP"],
               mAP_trapezoid=fast["mAP_trapezoid"], gemm_path=gemm_path(dim) if device == "cpu" else device)
    if device == "cpu":
        rows = kernel.chunk_rows(nq, ng, 4, kernel.uses_fused(torch.device("cpu"), torch.float32, nq * ng))
        out.update(bare_gemm_seconds(qf, gf, rows))
        out["vs_gemm"] = t_fast / out["gemm_s"]
        out["cpu_vs_gemm"] = cpu_fast / out["gemm_cpu_s"]
        out["cold_vs_gemm"] = t_cold / out["gemm_s"]
        out["cold_cpu_vs_gemm"] = cpu_cold / out["gemm_cpu_s"]
    if with_reference:  # exact agreement with the readable reference on the first `subset` queries
        n = min(subset, nq)
        t_sub, sub = _timeit(lambda: evaluate_features(qf[:n], gf, qp[:n], gp, qc[:n], gc, device=device))
        dist = pairwise_distance(qf[:n], gf).numpy()
        t_ref, ref = _timeit(lambda: reference_metrics(dist, qp[:n], gp, qc[:n], gc))
        assert sub["num_valid"] == ref["num_valid"] and np.array_equal(sub["cmc"], ref["cmc"]), \
            "handreid's CMC differs from the reference"
        for key in ("mAP", "mAP_trapezoid", "mINP"):
            assert abs(sub[key] - ref[key]) < 1e-12, f"handreid's {key} differs from the reference"
        out.update(subset=n, subset_mAP=ref["mAP"], reference_seconds=t_ref, speedup=t_ref / t_sub)
    if field:
        for name, module in FIELD.items():
            if not _importable(module):
                continue
            res = _field(name, (nq, ng, ids, cams, dim, noise))
            for key, value in res.items():
                out[f"{name}_{key}"] = value
            if "seconds" in res:
                out[f"{name}_vs_handreid"] = res["seconds"] / t_fast
    out.setdefault("speedup", out.get("gemm_s", t_fast) / t_fast)
    return out


def write_jpegs(folder: Path, num_images: int, source=(1200, 1600)) -> list[Path]:
    """``num_images`` distinct JPEGs of ``source = (H, W)`` (photo-like: smooth, quality 90)."""
    from PIL import Image

    base = np.random.default_rng(0).integers(0, 255, (source[0] // 8, source[1] // 8, 3), dtype=np.uint8)
    paths = []
    for i in range(num_images):
        p = Path(folder) / f"Hand_{i:07d}.jpg"
        img = Image.fromarray(np.roll(base, i, axis=1)).resize((source[1], source[0]), Image.BILINEAR)
        img.save(p, quality=90)
        paths.append(p)
    return paths


def bench_data(num_images: int = 64, size: tuple[int, int] = (384, 384), source=(1200, 1600),
               batch: int = 20, device: str = "cpu") -> dict:
    """Cold (decode + resize every image) against warm (a batch from the cache); augmentation apart."""
    from .data.augment import Augment, augment_batch, to_float
    from .data.cache import ImageCache, decode_resized

    with tempfile.TemporaryDirectory() as tmp:
        paths = write_jpegs(Path(tmp), num_images, source)
        t_cold, _ = _timeit(lambda: [decode_resized(p, size) for p in paths])
        t_build, cache = _timeit(lambda: ImageCache(paths, size, cache_dir=Path(tmp) / "cache", decoder="cpu"))
        g = torch.Generator().manual_seed(0)
        dev = torch.device(device)
        batches = [paths[s:s + batch] for s in range(0, num_images, batch)]
        t_warm, xs = _timeit(lambda: [to_float(cache.take(b), dev) for b in batches], repeat=3)
        t_aug, _ = _timeit(lambda: [augment_batch(x, Augment(), g) for x in xs], repeat=2)
    return {"bench": "data", "images": num_images, "size": list(size), "source": list(source),
            "cold_images_per_s": num_images / t_cold, "cache_build_s": t_build,
            "warm_images_per_s": num_images / t_warm, "augment_images_per_s": num_images / t_aug,
            "device": device, "speedup": t_cold / t_warm}


TRAIN_VARIANTS = {"fp32": (False, False, False), "bf16+channels_last": (True, True, False),
                  "bf16+channels_last+compile": (True, True, True)}


def bench_train(method: str = "gpanet", size: int = 64, batch: int = 8, steps: int = 3,
                device: str = "cpu", compile: bool = False, peak_tflops: float | None = None,
                variants: tuple[str, ...] | None = None, **options) -> dict:
    """Training images/s: fp32 against bf16 autocast + channels_last (+ torch.compile).

    With ``peak_tflops`` (the device's dense bf16 peak, e.g. about 790 for an H200 as measured
    here, 989 on its data sheet) the model FLOP utilisation of each variant is reported too.
    ``variants`` (names of ``TRAIN_VARIANTS``) measures only those; the default is the first two,
    and the third with ``compile``.
    """
    from torch.utils.flop_counter import FlopCounterMode

    from .models import build_model

    dev = torch.device(device)
    x = torch.randn(batch, 3, size, size, device=dev)
    y = torch.arange(batch, device=dev) % 10
    if variants is None:
        variants = tuple(TRAIN_VARIANTS)[:3 if compile else 2]
    out = {"bench": "train", "method": method, "size": size, "batch": batch, "device": device}
    flops = None
    for name in variants:
        bf16, cl, comp = TRAIN_VARIANTS[name]
        torch.manual_seed(0)
        model = build_model(method, num_classes=10, **options).to(dev).train()
        xin = x
        if cl:
            model = model.to(memory_format=torch.channels_last)
            xin = x.contiguous(memory_format=torch.channels_last)
        # Static shapes: with automatic dynamic shapes, inductor fails on LAGA-Net's attention
        # (seen with torch 2.14.1: 'cannot determine truth value of Relational').
        fwd = torch.compile(model, dynamic=False) if comp else model
        opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)

        def step():
            with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=bf16):
                o = fwd(xin)
                loss = sum(torch.nn.functional.cross_entropy(z.float(), y) for z in o.logits)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

        if flops is None:
            with FlopCounterMode(display=False) as fc:
                step()
            flops = fc.get_total_flops()
        step()  # warm-up (and compilation)
        if comp:
            step()  # a second call: any recompilation (e.g. after the optimizer's first step) stays out
        if dev.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        if dev.type == "cuda":
            torch.cuda.synchronize()
        dt = (time.perf_counter() - t0) / steps
        out[f"{name}_images_per_s"] = batch / dt
        out[f"{name}_tflops"] = flops / dt / 1e12
        if peak_tflops:
            out[f"{name}_mfu"] = out[f"{name}_tflops"] / peak_tflops
    out["train_gflop_per_image"] = flops / batch / 1e9
    if {"fp32", "bf16+channels_last"} <= set(variants):
        out["speedup"] = out["bf16+channels_last_images_per_s"] / out["fp32_images_per_s"]
    return out


# write_11k parameters. "11k": D-r gets about 145 identities and 900 training images, the size of
# the real D-r (LAGA-Net Table II: 143 ids, 962 train images incl. validation). The source images
# are small: once cached, the source resolution does not change training speed (see ``data``).
FIT_SCALES = {
    "small": {"num_subjects": 14, "images_per_aspect": (3, 5), "image_size": (64, 48)},
    "11k": {"num_subjects": 170, "images_per_aspect": (11, 18), "image_size": (200, 150)},
}


def _fit_worker(params: dict, threads: int, barrier, queue) -> None:
    """One timed :func:`fit` in its own process; starts with the others at ``barrier``."""
    try:
        from .engine import fit, make_config

        torch.set_num_threads(threads)
        cfg = make_config(**params)
        cuda = cfg.device.startswith("cuda")
        if cuda:
            torch.zeros(1, device=cfg.device)  # CUDA context outside the timing
        barrier.wait(timeout=600)
        t0 = time.perf_counter()
        rec = fit(cfg, progress=False)
        wall = time.perf_counter() - t0
        queue.put({"wall_s": wall, "train_s": float(rec.history["seconds"].sum()),
                   "epoch_s": rec.history["seconds"].tolist(),
                   "rank1": rec.summary()["rank1_mean"],
                   "peak_gpu_gb": torch.cuda.max_memory_allocated() / 2**30 if cuda else 0.0})
    except BaseException as e:  # noqa: BLE001 - reported to the parent, which raises it
        barrier.abort()
        import traceback
        queue.put({"error": f"{type(e).__name__}: {e}\n{traceback.format_exc()}"})


def _concurrent_fits(params: list[dict], threads: int) -> list[dict]:
    import multiprocessing as mp
    from queue import Empty

    ctx = mp.get_context("spawn")
    barrier, queue = ctx.Barrier(len(params)), ctx.Queue()
    procs = [ctx.Process(target=_fit_worker, args=(p, threads, barrier, queue)) for p in params]
    for proc in procs:
        proc.start()
    results: list[dict] = []
    try:
        while len(results) < len(procs):
            try:
                results.append(queue.get(timeout=5))
            except Empty:  # a worker killed outright (out of memory, say) never reports
                dead = [p.exitcode for p in procs if p.exitcode not in (None, 0)]
                if dead:
                    raise RuntimeError(f"a benchmark run died with exit code {dead[0]} "
                                       f"({len(params)} runs at once)") from None
    finally:
        for proc in procs:
            if proc.is_alive() and len(results) < len(procs):
                proc.terminate()
            proc.join()
    # The cause first: the other runs only report the barrier it broke.
    errors = sorted((r["error"] for r in results if "error" in r), key=lambda e: e.startswith("BrokenBarrier"))
    if errors:
        raise RuntimeError(f"a benchmark run failed:\n{errors[0]}")
    return results


def fit_params(root: Path, method: str = "gpanet", size: int = 384, device: str = "cpu",
               options: dict | None = None) -> dict:
    """``make_config`` parameters of a from-scratch ``paper``-profile run on the 11k D-r at ``root``."""
    options = {"hp": 3, "vp": 1} if options is None and method == "gpanet" else (options or {})
    return {"dataset": "11k-dr", "method": method, "method_options": options, "profile": "paper",
            "data_root": str(root), "pretrained": False, "image_size": size, "device": device}


def time_fits(base: dict, n: int, epochs: int, out: Path) -> dict:
    """``n`` runs of ``base`` for ``epochs`` started together (``cpu_count / n`` threads each)."""
    from .data import load_split

    n_train = len(load_split(base["dataset"], root=base["data_root"], repeat=0, seed=0).train)
    res = _concurrent_fits([{**base, "epochs": epochs, "out_dir": str(Path(out) / f"n{n}-e{epochs}-{i}")}
                            for i in range(n)], max(1, (os.cpu_count() or 1) // n))
    wall = max(r["wall_s"] for r in res)
    return {"runs": n, "epochs": epochs, "size": base["image_size"], "train_images": n_train,
            "device": base["device"], "wall_s": wall, "train_s": max(r["train_s"] for r in res),
            "images_per_s": n * epochs * n_train / wall, "peak_gpu_gb": max(r["peak_gpu_gb"] for r in res),
            "rank1": float(np.mean([r["rank1"] for r in res])),
            "epoch_s": float(np.median([s for r in res for s in r["epoch_s"][1:] or r["epoch_s"]]))}


def bench_fit(scale: str = "small", runs: tuple[int, ...] = (1, 2), epochs: int = 60, size: int = 384,
              device: str = "cpu", method: str = "gpanet", options: dict | None = None) -> list[dict]:
    """Whole runs of :func:`handreid.engine.fit` (train + 10-repeat evaluation), 1 and N at a time.

    The issue-6 target: GPA-Net, 60 epochs on one 11k sub-dataset (``scale="11k"``) in under
    60 s wall. A first one-epoch run builds the image caches (``cache_build_s``), so the timed
    runs start warm. For each N in ``runs``, N runs start together on ``device`` (each its own
    process, ``cpu_count / N`` threads); ``speedup`` is their joint images/s over one run's.
    """
    from .data.synthetic import write_11k

    rows: list[dict] = []
    old_cache = os.environ.get("HANDREID_CACHE")
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["HANDREID_CACHE"] = str(Path(tmp) / "cache")  # inherited by the workers
        try:
            root = write_11k(Path(tmp) / "data", seed=0, **FIT_SCALES[scale])
            base = fit_params(root, method, size, device, options)
            t0 = time.perf_counter()
            _concurrent_fits([{**base, "epochs": 1, "out_dir": str(Path(tmp) / "warm")}], os.cpu_count() or 1)
            cache_s = time.perf_counter() - t0
            single = None
            for n in sorted(set(runs) | {1}):  # one run alone first: the reference
                row = time_fits(base, n, epochs, Path(tmp))
                single = single or row["images_per_s"]
                rows.append({"bench": "fit", "method": method, "scale": scale, **row, "cache_build_s": cache_s,
                             "speedup": row["images_per_s"] / single})
        finally:
            if old_cache is None:
                os.environ.pop("HANDREID_CACHE", None)
            else:
                os.environ["HANDREID_CACHE"] = old_cache
    return rows


def machine() -> str:
    """What the numbers were measured on: CPU kind and capability, cores, threads, GPU, torch."""
    from .engine.provenance import cpu_model

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return (f"{cpu_model()} ({torch.backends.cpu.get_cpu_capability()}), {os.cpu_count()} CPUs, "
            f"{torch.get_num_threads()} threads, {gpu}, torch {torch.__version__}")


def _print(row: dict) -> None:
    items = ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items())
    print(items, flush=True)


def _run_counts(text: str) -> tuple[int, ...]:
    try:
        runs = tuple(int(n) for n in text.split(","))
    except ValueError:
        runs = ()
    if not runs or min(runs) < 1:
        raise argparse.ArgumentTypeError(
            f"expected positive numbers of runs separated by commas, e.g. 1,2,4; got {text!r}")
    return runs


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m handreid.bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scale", choices=tuple(SCALES), default="small", help="evaluation size")
    p.add_argument("--only", choices=("eval", "data", "train", "fit"), action="append",
                   help="run only these benchmarks (repeatable); fit runs only when named")
    p.add_argument("--device", default="cpu")
    p.add_argument("--no-reference", action="store_true", help="eval: skip the check against the reference")
    p.add_argument("--no-field", action="store_true", help="eval: skip fast-reid's and torchreid's evaluators")
    p.add_argument("--train-size", type=int, default=64)
    p.add_argument("--train-batch", type=int, default=8)
    p.add_argument("--train-steps", type=int, default=3)
    p.add_argument("--laga-size", type=int, default=None, help="LAGA-Net input (default: --train-size)")
    p.add_argument("--compile", action="store_true")
    p.add_argument("--peak-tflops", type=float, default=None, help="device peak, to report MFU")
    p.add_argument("--data-images", type=int, default=32)
    p.add_argument("--fit-scale", choices=tuple(FIT_SCALES), default="small",
                   help="fit: synthetic 11k size ('11k': a D-r sub-dataset of the real size)")
    p.add_argument("--fit-epochs", type=int, default=2)
    p.add_argument("--fit-runs", type=_run_counts, default=(1, 2),
                   help="fit: numbers of concurrent runs, e.g. 1,2,4,8")
    a = p.parse_args(argv)
    only = set(a.only or ("eval", "data", "train"))
    print(f"# handreid bench on {machine()}", flush=True)
    if "eval" in only:
        _print(bench_eval(a.scale, a.device, not a.no_reference, field=not a.no_field))
    if "data" in only:
        _print(bench_data(a.data_images, device=a.device))
    if "train" in only:
        _print(bench_train("gpanet", a.train_size, a.train_batch, a.train_steps, a.device, a.compile,
                           a.peak_tflops, hp=3, vp=1))
        _print(bench_train("laganet", a.laga_size or a.train_size, a.train_batch, a.train_steps, a.device,
                           a.compile, a.peak_tflops))
    if "fit" in (a.only or ()):
        for row in bench_fit(a.fit_scale, a.fit_runs, a.fit_epochs, a.train_size, a.device):
            _print(row)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
