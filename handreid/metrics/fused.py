"""The single-pass ranking kernel (CPU): each query row is read once, from cache.

For the rows ``d`` (B, G) of a chunk and each row's own-pid items (distances ``t``, columns
``ti``; B x M), one compiled pass counts the items a stable sort puts before each own-pid item:
those with a smaller distance, and (a second, partial pass, only when the distance is shared)
those with an equal distance and a lower column. That count plus one *is* the item's position,
exactly, whatever the ties: no sort, no fallback. A row is
330 kB at MSMT17 scale, so the M comparisons per item run from the core's cache, 16 at a time
(BENCHMARKS.md has the timings against the bucketed kernel and the GEMM).

Compiled with numba (LLVM; ``cache=True`` keeps the machine code between processes). Without
numba, or on a GPU, the bucketed kernel (:mod:`handreid.metrics.kernel`) answers: same results.
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
    def count_before(d, t, ti, cnt, before, nan):  # pragma: no cover - runs as machine code
        rows, cols = d.shape
        for b in prange(rows):
            row = d[b]
            bad = 0
            for j in range(cols):
                bad += row[j] != row[j]
            nan[b] = bad
            for k in range(cnt[b]):  # the row's own-pid items (the rest is padding)
                tk = t[b, k]
                lt = 0
                eq = 0
                for j in range(cols):
                    x = row[j]
                    lt += x < tk
                    eq += x == tk
                if eq > 1:  # other items at this distance: those in lower columns come first
                    eq = 0
                    for j in range(ti[b, k]):
                        eq += row[j] == tk
                    lt += eq
                before[b, k] = lt

    return count_before


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
        i = torch.zeros(2, 1, dtype=torch.int64).numpy()
        kernel(x, x[:, :1].copy(), i, i[:, 0].copy(), i.copy(), i[:, 0].copy())  # loads it for float32
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


def items_before(d: Tensor, t: Tensor, ti: Tensor, cnt: Tensor) -> tuple[Tensor, bool] | None:
    """``(before, has_nan)``: for the item at column ``ti[b, k]`` with distance ``t[b, k]``
    (``k < cnt[b]``; later entries are padding, left 0), the number of items of row ``b`` of
    ``d`` a stable sort ranks before it, ``#{j : d[b, j] < t[b, k]} + #{j < ti[b, k] :
    d[b, j] == t[b, k]}`` (int64, (B, M)), and whether ``d`` holds a NaN. ``None`` (use another
    kernel) if the kernel fails."""
    import numba

    before = torch.zeros(t.shape, dtype=torch.int64)
    nan = torch.empty(t.shape[0], dtype=torch.int64)
    numba.set_num_threads(max(1, min(torch.get_num_threads(), numba.config.NUMBA_NUM_THREADS)))
    try:
        _kernel(d.contiguous().numpy(), t.to(d.dtype).contiguous().numpy(),
                ti.to(torch.int64).contiguous().numpy(), cnt.to(torch.int64).contiguous().numpy(),
                before.numpy(), nan.numpy())
    except Exception as exc:  # noqa: BLE001
        _give_up(exc)
        return None
    return before, bool(nan.any())
