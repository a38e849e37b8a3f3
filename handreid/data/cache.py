"""Decode-once image cache (docs/DESIGN.md §5).

Every image of a split is decoded and resized once per working resolution
into one uint8 array of shape (N, H, W, 3), saved as ``.npy`` and memory-mapped
afterwards, so training and evaluation never wait on JPEG decoding. The cache
key covers the resolution and every source file's path, size and
modification time: touching, replacing or adding an image builds a new cache.
The resize filter is bilinear (antialiased) unless asked otherwise (``resize_filter="bicubic"``:
the authors' public code); a non-default filter is part of the key, so the default
cache files keep their names and content.

Decoders: PIL on CPU threads (the default, and what every committed result used), or
``torchvision.io.decode_jpeg`` on the GPU (nvJPEG) with an antialiased bilinear resize there
(bilinear only: another filter always decodes with PIL). The GPU decoder is used only when
CUDA is available and ``python -m handreid.gpucheck`` measured it no slower on this machine
(it records that in ``<cache dir>/decoder.json``); its caches have their own key, since its
pixels may differ from PIL's by a level or two.
"""

from __future__ import annotations

import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image

from ..io import atomic_write, read_json, write_json
from ..paths import cache_dir as default_cache_dir


class ImageDecodeError(RuntimeError):
    """An image of a dataset could not be read or decoded."""


RESIZE_FILTERS = {"bilinear": Image.BILINEAR, "bicubic": Image.BICUBIC}


def _resample(resize_filter: str) -> int:
    if resize_filter not in RESIZE_FILTERS:
        raise ValueError(f"resize_filter must be one of {', '.join(map(repr, RESIZE_FILTERS))}, "
                         f"got {resize_filter!r}")
    return RESIZE_FILTERS[resize_filter]


def decode_resized(path: Path, size: tuple[int, int], resize_filter: str = "bilinear") -> np.ndarray:
    """Decode one image to RGB and resize it to ``size = (H, W)`` (PIL, antialiased; ``resize_filter``
    "bilinear" or "bicubic")."""
    h, w = size
    resample = _resample(resize_filter)
    try:
        with Image.open(path) as im:
            im = im.convert("RGB")
            if im.size != (w, h):
                im = im.resize((w, h), resample, reducing_gap=None)
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


DECODERS = ("cpu", "cuda")
#: File in the cache folder where the GPU check records the faster decoder of this machine.
DECODER_RECORD = "decoder.json"


def preferred_decoder(root: str | Path | None = None) -> str:
    """``"cuda"`` when a GPU is present and ``root/decoder.json`` says its decoder was not slower.

    Anything else (no record, a record for ``"cpu"``, an unreadable record, no CUDA) gives ``"cpu"``.
    """
    record = (Path(root) if root is not None else default_cache_dir()) / DECODER_RECORD
    try:
        choice = read_json(record).get("decoder") if record.is_file() else None
    except (OSError, ValueError, AttributeError):
        choice = None
    if choice != "cuda":
        return "cpu"
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def decode_resized_torch(paths: Sequence[Path], size: tuple[int, int], device, out: np.ndarray,
                         batch: int = 32) -> None:
    """Decode JPEGs with ``torchvision.io.decode_jpeg`` on ``device`` into ``out`` (N, H, W, 3).

    Resized there with antialiased bilinear interpolation (PIL's filter for downscaling), rounded
    to uint8. A batch the torchvision decoder refuses (a PNG, say) is decoded by PIL instead.
    """
    import torch
    from torch.nn.functional import interpolate
    from torchvision.io import ImageReadMode, decode_jpeg

    h, w = size
    for s in range(0, len(paths), batch):
        chunk = paths[s:s + batch]
        data = [torch.frombuffer(bytearray(Path(p).read_bytes()), dtype=torch.uint8) for p in chunk]
        try:
            images = decode_jpeg(data, mode=ImageReadMode.RGB, device=device)
        except RuntimeError:
            for i, p in enumerate(chunk):
                out[s + i] = decode_resized(p, size)
            continue
        resized = []
        for img in images:
            x = img.unsqueeze(0)
            if tuple(x.shape[-2:]) != (h, w):
                x = interpolate(x.float(), size=(h, w), mode="bilinear", antialias=True, align_corners=False)
                x = x.round_().clamp_(0, 255).to(torch.uint8)
            resized.append(x[0].permute(1, 2, 0))
        out[s:s + len(chunk)] = torch.stack(resized).cpu().numpy()


def cache_key(paths: Sequence[Path], size: tuple[int, int], resize_filter: str = "bilinear",
              decoder: str = "cpu") -> str:
    """Key over (resolution, resize filter unless bilinear, decoder unless PIL's, each file's path,
    byte size and mtime)."""
    _resample(resize_filter)
    extra = "" if resize_filter == "bilinear" else f"|{resize_filter}"
    extra += "" if decoder == "cpu" else f"|{decoder}"
    h = hashlib.sha256(f"v1|{size[0]}x{size[1]}{extra}".encode())
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
    ``resize_filter``: "bilinear" (default) or "bicubic".
    ``cache.built`` says whether this instance decoded the images (cold) or
    found them on disk (warm). ``decoder`` is ``"cpu"`` (PIL), ``"cuda"``
    (nvJPEG) or None: :func:`preferred_decoder` of the cache folder.
    """

    def __init__(self, paths: Sequence[str | Path], size: tuple[int, int],
                 cache_dir: str | Path | None = None, workers: int | None = None,
                 progress: bool = False, resize_filter: str = "bilinear", decoder: str | None = None):
        self.paths = [Path(p) for p in paths]
        self.size = (int(size[0]), int(size[1]))
        self.resize_filter = resize_filter
        if len(set(self.paths)) != len(self.paths):
            raise ValueError("ImageCache got duplicate paths; pass each image once")
        self.index = {p: i for i, p in enumerate(self.paths)}
        root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        self.decoder = preferred_decoder(root) if decoder is None else decoder
        if self.decoder not in DECODERS:
            raise ValueError(f"ImageCache decoder={self.decoder!r} is unknown; expected one of "
                             f"{', '.join(DECODERS)} or None (the machine's preferred one)")
        if resize_filter != "bilinear":  # the GPU path resizes bilinearly only
            self.decoder = "cpu"
        self.key = cache_key(self.paths, self.size, resize_filter, self.decoder)
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
            out[i] = decode_resized(self.paths[i], self.size, self.resize_filter)

        if self.decoder == "cuda":
            decode_resized_torch(self.paths, self.size, "cuda", out)
        else:
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
        meta = {"size": list(self.size), "count": n, "first": os.fspath(self.paths[0]) if n else None}
        if self.resize_filter != "bilinear":
            meta["resize_filter"] = self.resize_filter
        if self.decoder != "cpu":
            meta["decoder"] = self.decoder
        write_json(self.file.with_suffix(".json"), meta)

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
