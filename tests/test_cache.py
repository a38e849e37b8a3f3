"""Decode-once image cache (handreid.data.cache): reuse, invalidation, errors, staging on the device."""

import os

import numpy as np
import pytest
import torch
from PIL import Image

from handreid.data.cache import ImageCache, ImageDecodeError, stage


def _write_images(folder, n=5, size=(40, 30)):
    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):
        p = folder / f"img_{i}.jpg"
        Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)).save(p, quality=95)
        paths.append(p)
    return paths


def test_cache_matches_direct_decode_and_is_reused(tmp_path):
    paths = _write_images(tmp_path)
    cold = ImageCache(paths, (16, 20), cache_dir=tmp_path / "cache")
    assert cold.built and cold.array.shape == (5, 16, 20, 3)
    direct = np.asarray(Image.open(paths[2]).convert("RGB").resize((20, 16), Image.BILINEAR, reducing_gap=None))
    np.testing.assert_array_equal(cold[2], direct)
    warm = ImageCache(paths, (16, 20), cache_dir=tmp_path / "cache")
    assert not warm.built and warm.file == cold.file
    np.testing.assert_array_equal(warm.take([paths[3], paths[0]]), np.stack([cold[3], cold[0]]))


def test_cache_invalidated_by_source_change_and_resolution(tmp_path):
    paths = _write_images(tmp_path)
    a = ImageCache(paths, (16, 20), cache_dir=tmp_path / "cache")
    assert ImageCache(paths, (8, 10), cache_dir=tmp_path / "cache").file != a.file
    st = os.stat(paths[1])
    os.utime(paths[1], ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    b = ImageCache(paths, (16, 20), cache_dir=tmp_path / "cache")
    assert b.built and b.file != a.file


def test_corrupt_and_missing_images_are_named(tmp_path):
    paths = _write_images(tmp_path, n=3)
    paths[1].write_bytes(b"\xff\xd8 not really a jpeg")
    with pytest.raises(ImageDecodeError, match=r"cannot decode image .*img_1\.jpg"):
        ImageCache(paths, (16, 20), cache_dir=tmp_path / "cache")
    assert not list((tmp_path / "cache").glob("*.npy")), "no half-written cache may remain"
    with pytest.raises(ImageDecodeError, match=r"image .*nope\.jpg does not exist"):
        ImageCache([tmp_path / "nope.jpg"], (16, 20), cache_dir=tmp_path / "cache")


def test_stage_copies_the_cache_to_the_device_only_when_it_fits(tmp_path, monkeypatch):
    paths = _write_images(tmp_path, n=7)
    cache = ImageCache(paths, (16, 20), cache_dir=tmp_path / "cache")
    assert stage(cache.array, "cpu") is cache.array  # a CPU trains from the memory map
    staged = stage(cache.array, "cpu", force=True)
    assert isinstance(staged, torch.Tensor) and staged.dtype == torch.uint8
    assert np.array_equal(staged.numpy(), cache.array)
    idx = np.array([6, 0, 3])
    assert np.array_equal(staged[torch.from_numpy(idx)].numpy(), cache.array[idx])

    # A GPU whose free memory is short of 4x the images keeps the memory map.
    nbytes = cache.array.nbytes
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (4 * nbytes - 1, 10 * nbytes))
    assert stage(cache.array, "cuda") is cache.array
