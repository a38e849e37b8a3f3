"""The single-pass counting kernel (CPU): each query row is read once, in cache.

For the rows ``d`` (B, G) of a chunk and each row's own-pid distances ``t`` (B, M), sorted, one
compiled pass counts ``less[b, k] = #{j : d[b, j] < t[b, k]}`` and
``equal[b, k] = #{j : d[b, j] == t[b, k]}``. A row is 330 kB at MSMT17 scale, so the M
comparisons per item run from the core's cache, 16 at a time (BENCHMARKS.md has the timings
against the bucketed kernel and the GEMM). When ``equal`` counts only the
row's own-pid items that share the value, the stable-sort position of own-pid item ``k`` is
``less + (its place among those equal own-pid items) + 1``, exactly; a row where some other
gallery item ties with an own-pid item is reported back and ranked by a stable sort instead
(:func:`handreid.metrics.kernel.positions`).

Compiled with numba (LLVM; ``cache=True`` keeps the machine code between processes). Without
numba, or on a GPU, the bucketed kernel is used: same results.
"""

from __future__ import annotations

import threading
import warnings

import torch
from torch import Tensor

#: Chunks with fewer distances than this use the bucketed kernel (no compilation for small sets).
MIN_ELEMENTS = 1 << 20
_kernel = None  # the compiled function; False when numba is missing or compilation failed
_loading: threading.Thread | None = None


def _build():
    from numba import njit, prange

    @njit(parallel=True, cache=True, nogil=True)
    def less_equal_counts(d, t, less, equal, nan):  # pragma: no cover - runs as machine code
        rows, cols = d.shape
        m = t.shape[1]
        for b in prange(rows):
            row = d[b]
            bad = 0
            for j in range(cols):
                bad += row[j] != row[j]
            nan[b] = bad
            for k in range(m):
                tk = t[b, k]
                lt = 0
                eq = 0
                for j in range(cols):
                    x = row[j]
                    lt += x < tk
                    eq += x == tk
                less[b, k] = lt
                equal[b, k] = eq

    return less_equal_counts


def _give_up(exc: Exception) -> None:
    """A numba / LLVM failure on this machine: use the bucketed kernel from now on, and say so."""
    global _kernel
    warnings.warn(f"handreid.metrics: the fused kernel failed ({type(exc).__name__}: {exc}); "
                  "using the bucketed kernel", RuntimeWarning, stacklevel=3)
    _kernel = False


def _load() -> None:
    """Import numba and load the kernel from numba's cache (or compile it): once per process."""
    global _kernel
    try:
        kernel = _build()
        x = torch.zeros(2, 3).numpy()
        kernel(x, x[:, :1].copy(), *(torch.zeros(2, 1, dtype=torch.int64).numpy() for _ in range(2)),
               torch.zeros(2, dtype=torch.int64).numpy())
        _kernel = kernel
    except ImportError:
        _kernel = False
    except Exception as exc:  # noqa: BLE001
        _give_up(exc)


def _eligible(device, dtype: torch.dtype, numel: int) -> bool:
    return torch.device(device).type == "cpu" and dtype in (torch.float32, torch.float64) and numel >= MIN_ELEMENTS


def expected(device, dtype: torch.dtype, numel: int) -> bool:
    """Whether :func:`available` will say yes, without waiting for the kernel to load."""
    if _kernel is False or not _eligible(device, dtype, numel):
        return False
    if _kernel is None and _loading is None:
        import importlib.util

        return importlib.util.find_spec("numba") is not None
    return True


def load_in_background(device, dtype: torch.dtype, numel: int) -> None:
    """Start loading the kernel while the caller computes its first distance block."""
    global _loading
    if _kernel is None and _loading is None and _eligible(device, dtype, numel):
        _loading = threading.Thread(target=_load, name="handreid-fused-load", daemon=True)
        _loading.start()


def available(device, dtype: torch.dtype, numel: int) -> bool:
    """True when the fused kernel ranks a (CPU, float, large enough) block, numba being installed."""
    global _loading
    if not _eligible(device, dtype, numel):
        return False
    if _kernel is None:
        if _loading is not None:
            _loading.join()
            _loading = None
        else:
            _load()
    return _kernel is not False


def less_equal_counts(d: Tensor, t: Tensor) -> tuple[Tensor, Tensor, bool] | None:
    """``(less, equal, has_nan)``: int64 (B, M) counts of each row of ``d`` below / at each of
    its ``t``, and whether ``d`` holds a NaN. ``None`` (use another kernel) if compilation fails."""
    import numba

    B, M = t.shape
    less = torch.empty(B, M, dtype=torch.int64)
    equal = torch.empty(B, M, dtype=torch.int64)
    nan = torch.empty(B, dtype=torch.int64)
    numba.set_num_threads(max(1, min(torch.get_num_threads(), numba.config.NUMBA_NUM_THREADS)))
    try:
        _kernel(d.contiguous().numpy(), t.to(d.dtype).contiguous().numpy(), less.numpy(), equal.numpy(),
                nan.numpy())
    except Exception as exc:  # noqa: BLE001
        _give_up(exc)
        return None
    return less, equal, bool(nan.any())
