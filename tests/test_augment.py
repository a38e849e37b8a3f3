"""Batch augmentations (handreid.data.augment): exact normalisation and flips, shapes, replay."""

import numpy as np
import pytest
import torch

from handreid.data.augment import (IMAGENET_MEAN, IMAGENET_STD, Augment, augment_batch, color_jitter,
                                   normalize, random_crop, random_erasing, random_flip, to_float)


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


@pytest.mark.parametrize("channels_last", [False, True])
def test_normalisation_and_gray_are_the_per_channel_formulas_bit_for_bit_in_either_layout(channels_last):
    # normalize and the jitter's gray spread their per-channel constants over the image (fast on a
    # channels-last batch); the numbers are those of the plain formulas, element for element
    from handreid.data.augment import GRAY_WEIGHTS, _gray

    x = torch.rand(5, 3, 7, 6)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    y = normalize(x)
    assert torch.equal(y, (x - mean) / std)
    assert y.is_contiguous(memory_format=torch.channels_last) == channels_last
    r, g, b = x[:, 0:1], x[:, 1:2], x[:, 2:3]
    assert GRAY_WEIGHTS == (0.299, 0.587, 0.114)
    assert torch.equal(_gray(x), 0.299 * r + 0.587 * g + 0.114 * b)
    assert torch.equal(normalize(x[:, :, :4]), (x[:, :, :4] - mean) / std)   # another size: its own constants


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
