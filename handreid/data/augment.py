"""Batch augmentations on the device (docs/DESIGN.md §5).

The recipes' augmentations (GPA-Net §3.1, LAGA-Net §IV-B) applied to a whole
uint8 batch at once on whatever device the model runs on. Every random draw
comes from a CPU ``torch.Generator``, so a batch is augmented identically on
CPU and GPU and a resumed run replays the same augmentations.

Colour-jitter strengths are not given in either paper; the defaults
(brightness 0.2, contrast 0.15, saturation 0.1, no hue) are ours, applied after the
crop and flip in a fixed order. The authors' public code jitters first (0.1 / 0.1 /
0.1, torchvision's ColorJitter: the three operations in a random order per image)
and only then resizes and crops: ``jitter_first=True, jitter_order="random"``. The
decode-once cache has resized already, so "first" means on the whole cached image,
before the crop and the flip (brightness and saturation commute with the resize; the
contrast mean of the resized image is that of the original up to resampling).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class Augment:
    """What to do to a training batch; ``crop`` is the (H, W) random crop, None for none."""

    flip: bool = True
    brightness: float = 0.2
    contrast: float = 0.15
    saturation: float = 0.1
    crop: tuple[int, int] | None = None
    erasing: float = 0.0   # probability of random erasing (LAGA-Net bodies: 0.5)
    jitter_first: bool = False    # jitter the whole image before crop and flip (the authors' code)
    jitter_order: str = "fixed"   # "fixed": brightness, contrast, saturation; "random": per image


def to_float(batch_uint8: np.ndarray | torch.Tensor, device: torch.device,
             channels_last: bool = False) -> torch.Tensor:
    """(N, H, W, 3) uint8 -> (N, 3, H, W) float in [0, 1] on ``device``."""
    x = torch.as_tensor(batch_uint8).to(device, non_blocking=True)
    x = x.permute(0, 3, 1, 2).float().div_(255.0)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    return x


@functools.lru_cache(maxsize=32)
def _per_channel(values: tuple[float, float, float], h: int, w: int, device: torch.device,
                 dtype: torch.dtype, channels_last: bool) -> torch.Tensor:
    """``values`` spread over a (1, 3, h, w) image in the batch's memory format. Broadcasting a
    (1, 3, 1, 1) tensor over a channels-last batch runs an inner loop of 3 (3-5 times slower); this
    one broadcasts over the batch only, with the same number at every element (the same results)."""
    t = torch.tensor(values, dtype=dtype, device=device).view(1, 3, 1, 1).expand(1, 3, h, w)
    return t.contiguous(memory_format=torch.channels_last if channels_last else torch.contiguous_format)


def _constant_like(values: tuple[float, float, float], x: torch.Tensor) -> torch.Tensor:
    return _per_channel(values, x.shape[2], x.shape[3], x.device, x.dtype,
                        x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous())


def normalize(x: torch.Tensor) -> torch.Tensor:
    """ImageNet mean/std normalisation (the backbones are ImageNet-trained)."""
    return (x - _constant_like(IMAGENET_MEAN, x)) / _constant_like(IMAGENET_STD, x)


def _uniform(n: int, lo: float, hi: float, g: torch.Generator) -> torch.Tensor:
    return lo + (hi - lo) * torch.rand(n, generator=g)


def random_crop(x: torch.Tensor, size: tuple[int, int], g: torch.Generator) -> torch.Tensor:
    n, _, h, w = x.shape
    ch, cw = size
    if (ch, cw) == (h, w):
        return x
    if ch > h or cw > w:
        raise ValueError(f"crop {size} is larger than the cached images ({h}, {w})")
    top = torch.randint(0, h - ch + 1, (n,), generator=g).tolist()
    left = torch.randint(0, w - cw + 1, (n,), generator=g).tolist()
    return torch.stack([x[i, :, t:t + ch, l:l + cw] for i, (t, l) in enumerate(zip(top, left))])


def random_flip(x: torch.Tensor, g: torch.Generator, p: float = 0.5) -> torch.Tensor:
    flip = (torch.rand(x.shape[0], generator=g) < p).to(x.device)
    return torch.where(flip.view(-1, 1, 1, 1), x.flip(-1), x)


GRAY_WEIGHTS = (0.299, 0.587, 0.114)   # ITU-R 601 luma, as torchvision's rgb_to_grayscale


def _gray(x: torch.Tensor) -> torch.Tensor:
    """0.299 r + 0.587 g + 0.114 b, (N, 1, H, W)."""
    p = x * _constant_like(GRAY_WEIGHTS, x)
    return p[:, 0:1] + p[:, 1:2] + p[:, 2:3]


def _brightness(x: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    return (x * f).clamp_(0, 1)


def _contrast(x: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    mean = _gray(x).mean(dim=(1, 2, 3), keepdim=True)
    return (f * x + (1 - f) * mean).clamp_(0, 1)


def _saturation(x: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    return (f * x + (1 - f) * _gray(x)).clamp_(0, 1)


JITTER_ORDERS = ("fixed", "random")


def color_jitter(x: torch.Tensor, g: torch.Generator, brightness: float, contrast: float,
                 saturation: float, order: str = "fixed") -> torch.Tensor:
    """Brightness, contrast and saturation factors drawn per image in [1-s, 1+s].

    ``order="fixed"`` applies them in that order; ``"random"`` in a random order per image, as
    torchvision's ``ColorJitter`` (the authors' code) does. The factors are drawn first, in the same
    sequence either way; the random order then draws one permutation per image.
    """
    if order not in JITTER_ORDERS:
        raise ValueError(f"color_jitter: order must be one of {', '.join(map(repr, JITTER_ORDERS))}, got {order!r}")
    n = x.shape[0]
    view = (n, 1, 1, 1)
    ops = []
    for op, s in ((_brightness, brightness), (_contrast, contrast), (_saturation, saturation)):
        if s > 0:
            ops.append((op, _uniform(n, max(0.0, 1 - s), 1 + s, g).to(x).view(view)))
    if order == "fixed" or len(ops) < 2:
        for op, f in ops:
            x = op(x, f)
        return x
    perm = torch.stack([torch.randperm(len(ops), generator=g) for _ in range(n)]).to(x.device)  # (n, ops)
    for step in range(len(ops)):
        out = torch.empty_like(x)
        for k, (op, f) in enumerate(ops):
            mask = perm[:, step] == k
            out[mask] = op(x[mask], f[mask])
        x = out
    return x


def random_erasing(x: torch.Tensor, g: torch.Generator, p: float = 0.5,
                   area: tuple[float, float] = (0.02, 0.4),
                   ratio: tuple[float, float] = (0.3, 3.33)) -> torch.Tensor:
    """Random erasing (Zhong et al., LAGA-Net ref. [35]) with ImageNet-mean fill, after normalisation."""
    n, _, h, w = x.shape
    x = x.clone()
    apply = (torch.rand(n, generator=g) < p).tolist()
    for i in range(n):
        if not apply[i]:
            continue
        for _ in range(100):
            a = float(_uniform(1, *area, g)) * h * w
            r = float(torch.exp(_uniform(1, float(np.log(ratio[0])), float(np.log(ratio[1])), g)))
            eh, ew = int(round((a * r) ** 0.5)), int(round((a / r) ** 0.5))
            if 0 < eh < h and 0 < ew < w:
                t = int(torch.randint(0, h - eh + 1, (1,), generator=g))
                l = int(torch.randint(0, w - ew + 1, (1,), generator=g))
                x[i, :, t:t + eh, l:l + ew] = 0.0   # 0 after normalisation = the ImageNet mean
                break
    return x


def augment_batch(x: torch.Tensor, aug: Augment, g: torch.Generator) -> torch.Tensor:
    """Training transform: crop, flip, colour jitter, normalise, erase (float [0,1] input);
    ``aug.jitter_first``: colour jitter, crop, flip, normalise, erase."""
    if aug.jitter_first:
        x = color_jitter(x, g, aug.brightness, aug.contrast, aug.saturation, aug.jitter_order)
    if aug.crop is not None:
        x = random_crop(x, aug.crop, g)
    if aug.flip:
        x = random_flip(x, g)
    if not aug.jitter_first:
        x = color_jitter(x, g, aug.brightness, aug.contrast, aug.saturation, aug.jitter_order)
    x = normalize(x)
    if aug.erasing > 0:
        x = random_erasing(x, g, aug.erasing)
    return x
