"""Decode-once image cache (docs/DESIGN.md §5).

Every image of a split is decoded and resized once per working resolution
into one uint8 array of shape (N, H, W, 3), saved as ``.npy`` and memory-mapped
afterwards, so training and evaluation never wait on JPEG decoding. The cache
key covers the resolution and every source file's path, size and
modification time: touching, replacing or adding an image builds a new cache.
"""

from __future__ import annotations

import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image

from ..io import atomic_write, write_json
from ..paths import cache_dir as default_cache_dir


class ImageDecodeError(RuntimeError):
    """An image of a dataset could not be read or decoded."""


def decode_resized(path: Path, size: tuple[int, int]) -> np.ndarray:
    """Decode one image to RGB and resize it to ``size = (H, W)`` (bilinear, antialiased)."""
    h, w = size
    try:
        with Image.open(path) as im:
            im = im.convert("RGB")
            if im.size != (w, h):
                im = im.resize((w, h), Image.BILINEAR, reducing_gap=None)
            return np.asarray(im, dtype=np.uint8)
    except FileNotFoundError:
        raise ImageDecodeError(
            f"image {path} does not exist; it is listed by the dataset split. "
            "Check that the dataset is unpacked completely under the data root."
        ) from None
    except (OSError, ValueError) as e:
        raise ImageDecodeError(
            f"cannot decode image {path}: {e}. Re-download or re-extract this file "
            "(a truncated download is the usual cause)."
        ) from None


def cache_key(paths: Sequence[Path], size: tuple[int, int]) -> str:
    """Key over (resolution, each file's path, byte size and mtime)."""
    h = hashlib.sha256(f"v1|{size[0]}x{size[1]}".encode())
    for p in paths:
        try:
            st = os.stat(p)
        except FileNotFoundError:
            raise ImageDecodeError(
                f"image {p} does not exist; it is listed by the dataset split. "
                "Check that the dataset is unpacked completely under the data root."
            ) from None
        h.update(f"|{os.fspath(p)}|{st.st_size}|{st.st_mtime_ns}".encode())
    return h.hexdigest()[:20]


class ImageCache:
    """Pre-resized uint8 images of a list of files, memory-mapped from disk.

    ``cache[i]`` is an (H, W, 3) uint8 array; ``cache.index[path]`` gives ``i``.
    ``cache.built`` says whether this instance decoded the images (cold) or
    found them on disk (warm).
    """

    def __init__(self, paths: Sequence[str | Path], size: tuple[int, int],
                 cache_dir: str | Path | None = None, workers: int | None = None,
                 progress: bool = False):
        self.paths = [Path(p) for p in paths]
        self.size = (int(size[0]), int(size[1]))
        if len(set(self.paths)) != len(self.paths):
            raise ValueError("ImageCache got duplicate paths; pass each image once")
        self.index = {p: i for i, p in enumerate(self.paths)}
        root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        self.key = cache_key(self.paths, self.size)
        self.file = root / f"images-{self.size[0]}x{self.size[1]}-{self.key}.npy"
        self.built = False
        if not self.file.exists():
            self._build(workers, progress)
            self.built = True
        self.array = np.load(self.file, mmap_mode="r")
        expected = (len(self.paths), *self.size, 3)
        if self.array.shape != expected:
            raise ImageDecodeError(
                f"cache file {self.file} holds shape {self.array.shape}, expected {expected}; "
                "delete it and it will be rebuilt")

    def _build(self, workers: int | None, progress: bool) -> None:
        n = len(self.paths)
        out = np.empty((n, *self.size, 3), dtype=np.uint8)
        workers = workers or min(8, os.cpu_count() or 1)

        def one(i: int) -> None:
            out[i] = decode_resized(self.paths[i], self.size)

        with ThreadPoolExecutor(workers) as pool:
            it = pool.map(one, range(n))
            if progress:
                from ..progress import progress_bar
                it = progress_bar(it, total=n, desc=f"decode {self.size[0]}x{self.size[1]}")
            for _ in it:
                pass
        def save(tmp: Path) -> None:
            with open(tmp, "wb") as f:
                np.save(f, out)

        atomic_write(self.file, save)
        write_json(self.file.with_suffix(".json"),
                   {"size": list(self.size), "count": n,
                    "first": os.fspath(self.paths[0]) if n else None})

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i):
        return self.array[i]

    def take(self, paths: Sequence[str | Path]) -> np.ndarray:
        """The cached images of ``paths`` as one (N, H, W, 3) uint8 array."""
        idx = np.fromiter((self.index[Path(p)] for p in paths), dtype=np.int64)
        return np.asarray(self.array[idx])


# Share of the device's free memory the training images may take when staged there.
STAGE_FRACTION = 0.25


def stage(array: np.ndarray, device, fraction: float = STAGE_FRACTION, force: bool = False):
    """The cached images as one uint8 tensor on ``device`` when they fit, else ``array`` unchanged.

    On a GPU, a training set that takes at most ``fraction`` of the free memory
    (11k at 384x384: 0.5 GB of 141 GB) is copied there once, so every batch is
    gathered on the device and no image crosses the bus again. On a CPU the
    memory map is already the fastest source (``force`` stages anyway, for tests).
    Both sources give the same batches: indexing either yields the same uint8 values.
    """
    import torch

    device = torch.device(device)
    if not force:
        if device.type != "cuda":
            return array
        free, _ = torch.cuda.mem_get_info(device)
        if array.nbytes > fraction * free:
            return array
    out = torch.empty(array.shape, dtype=torch.uint8, device=device)
    per_image = max(1, array[0].nbytes) if len(array) else 1
    step = max(1, (256 << 20) // per_image)  # about 256 MB per slice
    for s in range(0, len(array), step):  # in slices: a memory map is never read whole into RAM
        out[s:s + step].copy_(torch.from_numpy(np.array(array[s:s + step])))  # a writable copy
    return out
