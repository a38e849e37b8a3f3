"""Decode-once cache, batch augmentations and batch samplers."""

import os
from collections import Counter

import numpy as np
import pytest
import torch
from PIL import Image

from handreid.data.augment import (IMAGENET_MEAN, IMAGENET_STD, Augment, augment_batch, color_jitter,
                                   normalize, random_crop, random_erasing, random_flip, to_float)
from handreid.data.cache import ImageCache, ImageDecodeError, stage
from handreid.data.sampler import pk_batches, random_batches


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


def test_normalize_and_flip_are_exact():
    x = torch.rand(4, 3, 6, 5)
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    torch.testing.assert_close(normalize(x), (x - mean) / std)
    g = torch.Generator().manual_seed(0)
    flips = (torch.rand(4, generator=torch.Generator().manual_seed(0)) < 0.5).tolist()
    y = random_flip(x, g)
    for i, f in enumerate(flips):
        torch.testing.assert_close(y[i], x[i].flip(-1) if f else x[i])


def test_to_float_layout():
    u8 = np.arange(2 * 4 * 5 * 3, dtype=np.uint8).reshape(2, 4, 5, 3)
    x = to_float(u8, torch.device("cpu"))
    assert x.shape == (2, 3, 4, 5)
    assert x[1, 2, 3, 4] == pytest.approx(u8[1, 3, 4, 2] / 255)


def test_crop_jitter_erasing_shapes_and_ranges():
    g = torch.Generator().manual_seed(1)
    x = torch.rand(6, 3, 20, 12)
    c = random_crop(x, (16, 10), g)
    assert c.shape == (6, 3, 16, 10)
    # each crop is a window of its own image
    found = [any(torch.equal(c[i], x[i, :, t:t + 16, l:l + 10]) for t in range(5) for l in range(3))
             for i in range(6)]
    assert all(found)
    j = color_jitter(x, g, 0.2, 0.15, 0.1)
    assert j.shape == x.shape and j.min() >= 0 and j.max() <= 1
    e = random_erasing(normalize(x), g, p=1.0)
    assert ((e == 0).flatten(1).sum(1) > 0).all()
    with pytest.raises(ValueError, match="larger than the cached images"):
        random_crop(x, (24, 10), g)


def test_augmentation_replays_with_the_same_generator():
    x = torch.rand(5, 3, 20, 20)
    aug = Augment(crop=(16, 16), erasing=0.5)
    a = augment_batch(x, aug, torch.Generator().manual_seed(7))
    b = augment_batch(x, aug, torch.Generator().manual_seed(7))
    torch.testing.assert_close(a, b)
    assert not torch.equal(a, augment_batch(x, aug, torch.Generator().manual_seed(8)))


def test_random_batches_are_full_and_reshuffled():
    batches = random_batches(45, 20, torch.Generator().manual_seed(0))
    assert [len(b) for b in batches] == [20, 20]  # the incomplete last batch is dropped (BatchNorm)
    assert len(set(sum(batches, []))) == 40
    again = random_batches(45, 20, torch.Generator().manual_seed(1))
    assert set(sum(again, [])) != set(sum(batches, []))  # other images are left out next epoch
    assert sorted(sum(random_batches(40, 20, torch.Generator()), [])) == list(range(40))
    assert [len(b) for b in random_batches(7, 20, torch.Generator())] == [7]  # fewer than one batch


def test_pk_batches_have_p_identities_of_k_images():
    labels = [0] * 9 + [1] * 2 + [2] * 4 + [3] * 5 + [4] * 1 + [5] * 7 + [6] * 4
    batches = pk_batches(labels, p=3, k=4, g=torch.Generator().manual_seed(0))
    seen = set()
    for b in batches:
        ids = Counter(labels[i] for i in b)
        assert len(ids) == 3 and set(ids.values()) == {4}, ids
        seen.update(b)
    # every image appears at least once per epoch; identities 1 and 4 have fewer than K images
    assert seen == set(range(len(labels)))
    with pytest.raises(ValueError, match="needs at least P=8 identities"):
        pk_batches(labels, p=8, k=4, g=torch.Generator())


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
