"""What a paper-profile training costs: forward GFLOPs and estimated GPU-hours (docs/DESIGN.md §4).

>>> from handreid.repro import cost
>>> cost.forward_gflops("gpanet", {"hp": 3, "vp": 1}, (384, 384))
>>> cost.estimate_cost(task.params)["gpu_hours"]

FLOPs come from torch's counter on the meta device (nothing is computed); image counts are
the published ones (LAGA-Net Tables I-II); the GPU and its utilisation are an assumption
(:data:`GPU_ASSUMPTION`), not a measurement.
"""

from __future__ import annotations

from typing import Mapping, Sequence

from .. import published as pub

__all__ = ["GPU_ASSUMPTION", "dataset_sizes", "estimate_cost", "format_hours", "forward_gflops"]

#: The GPU the papers trained on, and the sustained share of its FP32 peak assumed for training
#: ResNet50-sized models at batch 20 with bf16/fp32 mixed work (an assumption, not a measurement).
GPU_ASSUMPTION = {"gpu": "NVIDIA RTX 2080 Ti", "peak_tflops": 13.45, "utilisation": 0.30}

_FLOPS_CACHE: dict[tuple, float] = {}


def forward_gflops(method: str, options: Mapping, image_size: Sequence[int], num_classes: int = 100) -> float:
    """Forward GFLOPs of one image (torch's FlopCounterMode on the meta device: nothing is computed)."""
    import contextlib
    from unittest import mock

    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from ..models import attention, build_model

    key = (method, repr(sorted(options.items())), tuple(image_size))
    if key not in _FLOPS_CACHE:
        with torch.device("meta"):
            model = build_model(method, num_classes=num_classes, **dict(options)).eval()
        _drop_batchnorm(model)  # the counter ignores normalisation; on meta it is slow to trace
        counter = FlopCounterMode(display=False)
        x = torch.empty(1, 3, *image_size, device="meta")
        # The attention modules switch autocast off for their softmax, which the meta device
        # does not support; it changes no FLOP count.
        with mock.patch.object(attention, "_full_precision", lambda x: contextlib.nullcontext()), \
                counter, torch.no_grad():
            model(x)
        _FLOPS_CACHE[key] = counter.get_total_flops() / 1e9
    return _FLOPS_CACHE[key]


def _drop_batchnorm(module) -> None:
    from torch import nn

    for name, child in module.named_children():
        if isinstance(child, nn.modules.batchnorm._BatchNorm):
            setattr(module, name, nn.Identity())
        else:
            _drop_batchnorm(child)


def dataset_sizes(dataset: str) -> dict[str, int]:
    """Published image counts (LAGA-Net Tables I-II): train (without validation), val, eval images."""
    if dataset in pub.LAGA_TABLE2:
        t = pub.LAGA_TABLE2[dataset]
        ids, images = t["train"]
        return {"train": images - ids, "val": ids, "eval": t["query"][1] + t["gallery"][1]}
    t = pub.LAGA_TABLE1[dataset]
    return {"train": t["train"][1], "val": 0, "eval": t["query"][1] + t["gallery"][1]}


def estimate_cost(params: Mapping, cross_datasets: Sequence[str] = ()) -> dict:
    """Estimated GPU-hours of one paper-profile training (+ its evaluation and cross evaluations).

    FLOPs = epochs x (3 x train images + val images) x F + (eval images x (2 if flip-test else 1)) x F,
    F = the model's forward GFLOPs per image at the recipe's input size (torch FlopCounterMode;
    3x forward for forward + backward). Image counts are the published ones (LAGA-Net Tables
    I-II). Hours = FLOPs / (peak x utilisation) of :data:`GPU_ASSUMPTION` (RTX 2080 Ti, the papers'
    GPU, 30 % of 13.45 TFLOP/s FP32). Decoding, augmentation and data loading are not counted.
    """
    from ..engine.config import make_config

    p = dict(params)
    p.setdefault("data_root", "/DATA_ROOT")
    recipe = make_config(**p).resolved_recipe()
    sizes = dataset_sizes(p["dataset"])
    f = forward_gflops(p["method"], p["method_options"], recipe.image_size)
    flip = 2 if recipe.flip_test else 1
    train = recipe.epochs * (3 * sizes["train"] + sizes["val"]) * f
    evaluation = sizes["eval"] * flip * f
    cross = sum(dataset_sizes(d)["eval"] * flip * f for d in cross_datasets)
    flops = (train + evaluation + cross) * 1e9
    rate = GPU_ASSUMPTION["peak_tflops"] * 1e12 * GPU_ASSUMPTION["utilisation"]
    return {"gflops_per_image": f, "train_images": sizes["train"], "epochs": recipe.epochs,
            "image_size": tuple(recipe.image_size), "gpu_hours": flops / rate / 3600}


def format_hours(h: float) -> str:
    return f"{h * 60:.0f} min" if h < 1 else f"{h:.1f} h"
