"""Training: :func:`fit` runs one configuration end to end (docs/DESIGN.md §3).

Seeded; the batch order and every augmentation of epoch ``e`` come from a
generator seeded by (seed, e), and the checkpoint written after every epoch
keeps the model, optimiser and RNG states, so an interrupted run resumes where
it stopped and ends where an uninterrupted one would. A finished run (its
``metrics.json`` exists) is returned without training again.

Speed (docs/DESIGN.md §5): batches come from the decode-once cache, staged in GPU memory
when it fits; augmentations run on the device; models and images are channels_last (CPU and
CUDA); on CUDA the model runs in bf16 autocast with cuDNN autotuning; loss and accuracy are summed on
the device, so no step waits for the GPU; checkpoints are written in the background
while the next epoch trains.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from ..data import load_split
from ..data.augment import augment_batch, normalize, to_float
from ..data.cache import ImageCache, stage
from ..data.sampler import pk_batches, random_batches
from ..io import BackgroundWriter, atomic_write, write_json, write_text
from ..losses import GPANetLoss, LAGANetLoss
from ..models import build_model, model_options
from ..models.backbone import small_trunk_weights
from ..progress import progress_bar
from . import records
from .provenance import image_fingerprint, machine
from .config import RunConfig, make_config
from .evaluate import aggregate, autocast, channels_last, evaluate_repeats, resolve_device
from .recipes import Recipe


class TrainingDiverged(FloatingPointError):
    """The loss became NaN or infinite."""


#: Devices whose SGD and Adam have fused kernels (others use the multi-tensor loop).
FUSED_DEVICES = ("cpu", "cuda")


def make_optimizer(model: torch.nn.Module, recipe: Recipe) -> torch.optim.Optimizer:
    """Two parameter groups: backbone at ``lr x backbone_lr_mult``, new layers at ``lr``.

    SGD and Adam run PyTorch's fused kernels on a CPU or GPU (``fused=True``: every tensor of a group
    in one kernel; elsewhere its multi-tensor loop): the same update equations as the per-tensor loop,
    rounded differently (tests/test_engine.py checks both against an explicit computation), and on
    the demo's small networks 2-4 times faster than that loop (BENCHMARKS.md, tenth and eleventh passes)."""
    groups = [
        {"params": list(model.backbone_parameters()), "lr_mult": recipe.backbone_lr_mult},
        {"params": list(model.new_parameters()), "lr_mult": 1.0},
    ]
    groups = [g for g in groups if g["params"]]
    on_fused = all(p.device.type in FUSED_DEVICES for g in groups for p in g["params"])
    fused = {"fused": True} if on_fused else {}
    if recipe.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=recipe.lr, momentum=recipe.momentum,
                               nesterov=recipe.nesterov, weight_decay=recipe.weight_decay, **fused)
    if recipe.optimizer == "adam":
        return torch.optim.Adam(groups, lr=recipe.lr, weight_decay=recipe.weight_decay, **fused)
    raise ValueError(f"unknown optimizer {recipe.optimizer!r}")


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for g in optimizer.param_groups:
        g["lr"] = lr * g["lr_mult"]


def make_loss(recipe: Recipe):
    """GPA-Net Eq. (1) or LAGA-Net Eq. (8) (``"abd"``: Eq. (8) averaged over the classifiers, as
    ABD-Net's code does) as a function of (model output, labels). A model's own extra terms
    (:meth:`~handreid.models.heads.ReIDModel.extra_losses`) are added by the training loop."""
    if recipe.loss == "gpa":
        return GPANetLoss(lam=recipe.part_weight, epsilon=recipe.label_smoothing)
    if recipe.loss in ("laga", "abd"):
        return LAGANetLoss(beta=recipe.triplet_weight, margin=recipe.triplet_margin,
                           epsilon=recipe.label_smoothing, reduction=recipe.triplet_reduction,
                           average=recipe.loss == "abd")
    raise ValueError(f"unknown loss {recipe.loss!r}")


def model_build_options(method: str, method_options: dict, image_size) -> dict:
    """``method_options``, plus ``image_size`` (the recipe's input) for models built for one input
    size (RGA-Net) when the options do not give it."""
    options = dict(method_options)
    if "image_size" in model_options(method) and options.get("image_size") is None:
        options["image_size"] = tuple(int(s) for s in image_size)
    return options


def epoch_generator(seed: int, epoch: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed * 1_000_003 + epoch)


def _fingerprint(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    atomic_write(path, lambda tmp: torch.save(state, tmp))


def fit(config: RunConfig | dict, progress: bool = True, stop_after: int | None = None
        ) -> records.RunRecord:
    """Train and evaluate one configuration; returns its run record.

    ``stop_after`` ends training after that many epochs of this call (used to
    test resuming); the run then stays unfinished.
    """
    cfg = config if isinstance(config, RunConfig) else make_config(**config)
    recipe = cfg.resolved_recipe()
    run_dir = cfg.runs_root / cfg.run_id()
    if (run_dir / records.METRICS).exists():
        if progress:
            print(f"[handreid] {run_dir.name}: finished run found, not training again")
        return records.load_run(run_dir)

    device = resolve_device(cfg.device)
    torch.manual_seed(cfg.seed)
    np.random.seed(cfg.seed % 2**32)
    split = load_split(cfg.dataset, root=cfg.prepare_root(), repeat=0, seed=cfg.split_seed)
    data_sha = _fingerprint(split.train.to_csv(index=False) + split.val.to_csv(index=False))

    trunks = None  # the demo's pretrained small trunks (engine.pretrain), pretrained here when not cached yet
    if cfg.use_pretrained and cfg.trunk is not None:
        from .pretrain import TrunkProvider

        trunks = TrunkProvider(device=cfg.device, progress=progress)
    with small_trunk_weights(trunks) if trunks else contextlib.nullcontext():
        model = build_model(cfg.method, num_classes=split.num_classes, pretrained=cfg.use_pretrained,
                            trunk=cfg.trunk,
                            **model_build_options(cfg.method, cfg.model_options(), recipe.image_size)).to(device)
    if channels_last(device):
        model = model.to(memory_format=torch.channels_last)
    optimizer = make_optimizer(model, recipe)
    loss_fn = make_loss(recipe)
    extra_losses = model.extra_losses()  # model-specific terms (ABD-Net's O.F./O.W.), added per step

    train_paths = split.image_paths(split.train)
    labels = torch.tensor(split.train["label"].to_numpy(), dtype=torch.long)
    train_cache = ImageCache(train_paths, recipe.train_size, progress=progress,
                             resize_filter=recipe.resize_filter).array  # row i = train_paths[i]
    # Provenance: CPU results depend on the CPU kind and the thread count (float reduction order).
    mach = machine(device)
    header = {"run_id": run_dir.name, "config": cfg.to_dict(), "identity": cfg.identity(),
              "num_classes": split.num_classes, "data_sha": data_sha, "versions": mach["versions"],
              "device": str(device), "cpu_threads": mach["threads"], "machine": mach,
              "images_sha": image_fingerprint(train_cache),
              **({"pretrained_trunks": trunks.used} if trunks else {})}
    ckpt_file = run_dir / records.CHECKPOINT
    history: list[dict] = []
    start = 0
    keep_best = recipe.weights == "best_val"
    best: dict[str, Any] | None = None  # {"epoch", "val_acc", "model"} of the best validation epoch
    if ckpt_file.exists():
        state = torch.load(ckpt_file, map_location=device, weights_only=False)
        if state["data_sha"] != data_sha:
            raise RuntimeError(
                f"{ckpt_file} was trained on different {cfg.dataset} data (manifest {state['data_sha']}, "
                f"now {data_sha}); move the run directory away or use another out_dir")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        torch.set_rng_state(state["torch_rng"])
        if "cuda_rng" in state:  # dropout masks on CUDA come from the device's generator
            torch.cuda.set_rng_state(state["cuda_rng"], device)
        history = state["history"]
        best = state.get("best")
        start = state["epoch"] + 1
        if progress:
            print(f"[handreid] {run_dir.name}: resuming after epoch {start}/{recipe.epochs}")
    else:
        write_json(run_dir / records.CONFIG, header)

    # A memory map on a CPU (batches come from the page cache, never decoded); on a GPU the whole
    # array is staged in device memory when it fits.
    train_images = stage(train_cache, device)
    val_images = ImageCache(split.image_paths(split.val), recipe.image_size,
                            resize_filter=recipe.resize_filter).array
    val_labels = torch.tensor(split.val["label"].to_numpy(), dtype=torch.long)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed input size: pick the fastest convolutions once

    if progress:
        print(f"[handreid] {run_dir.name}: {cfg.method} on {cfg.dataset} "
              f"({len(train_paths)} train images, {split.num_classes} ids), "
              f"{recipe.epochs} epochs, input {recipe.image_size[0]}x{recipe.image_size[1]}, {device}")

    stop_at = recipe.epochs if stop_after is None else min(recipe.epochs, start + stop_after)
    with BackgroundWriter() as writer:
        for epoch in range(start, stop_at):
            t0 = time.perf_counter()
            row = _train_epoch(model, optimizer, loss_fn, recipe, train_images, labels, epoch,
                               cfg.seed, device, progress, run_dir.name, extra_losses)
            row["val_acc"] = _accuracy(model, val_images, val_labels, device)
            if keep_best:  # the authors' code: ">=" on the accuracy of the classifiers' summed softmax
                row["val_acc_ensemble"] = _accuracy(model, val_images, val_labels, device, ensemble=True)
                best = keep_if_best(best, epoch + 1, row["val_acc_ensemble"], model)
            row["seconds"] = time.perf_counter() - t0
            history.append(row)
            if progress:
                print(f"epoch {row['epoch']:3d}/{recipe.epochs}  lr {row['lr']:.2e}  loss {row['loss']:.4f}  "
                      f"train acc {row['train_acc']:5.1f}%  val acc {row['val_acc']:5.1f}%  "
                      f"({row['seconds']:.1f} s)", flush=True)
            # A copy on the CPU now; the disk write overlaps the next epoch.
            state = _cpu_copy({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                               "torch_rng": torch.get_rng_state(), "epoch": epoch,
                               "history": history, "data_sha": data_sha,
                               **({"best": best} if keep_best else {})})
            if device.type == "cuda":  # dropout masks on CUDA come from the device's generator
                state["cuda_rng"] = torch.cuda.get_rng_state(device)
            table = pd.DataFrame(history).to_csv(index=False)
            writer.submit(lambda state=state, table=table: (
                _save_checkpoint(ckpt_file, state), write_text(run_dir / records.HISTORY, table)))

    if stop_at < recipe.epochs:
        return records.load_run(run_dir)

    chosen = None
    if keep_best and best is not None:  # NaN accuracies (no validation images) never win: last epoch
        model.load_state_dict(best["model"])
        chosen = {"rule": "best_val", "epoch": best["epoch"], "val_acc_ensemble": best["val_acc"]}
    if progress:
        print(f"[handreid] evaluating on {cfg.eval_repeats} query/gallery repeats"
              + (f" with the weights of epoch {chosen['epoch']} (best validation)" if chosen else ""))
    rows = evaluate_repeats(model, cfg.dataset, cfg.root, cfg.split_seed, range(cfg.eval_repeats),
                            recipe.image_size, device, flip=recipe.flip_test,
                            resize_filter=recipe.resize_filter)
    metrics = {"dataset": cfg.dataset, "per_repeat": rows, "summary": aggregate(rows),
               "fit_acc": _fit_accuracy(model, split, recipe, device)}
    if keep_best:
        metrics["weights"] = chosen or {"rule": "last", "epoch": recipe.epochs}
    _save_checkpoint(run_dir / records.MODEL, {"model": model.state_dict(), "header": header})
    write_json(run_dir / records.METRICS, metrics)
    ckpt_file.unlink(missing_ok=True)
    if progress:
        s = metrics["summary"]
        print(f"[handreid] {run_dir.name}: rank-1 {s['rank1_mean']:.2f} +- {s['rank1_std']:.2f}  "
              f"mAP {s['mAP_mean']:.2f} +- {s['mAP_std']:.2f}  ({len(rows)} repeats); "
              f"training images classified {metrics['fit_acc']:.1f}%")
    return records.load_run(run_dir)


def _train_epoch(model, optimizer, loss_fn, recipe: Recipe, images, labels: torch.Tensor, epoch: int,
                 seed: int, device: torch.device, progress: bool, run_name: str, extra_losses=()) -> dict:
    """One epoch; its batch order and augmentations come from the generator of (seed, epoch).
    ``extra_losses``: the model's own terms, each called as ``term(output, epoch)`` and added to the loss.

    Loss, accuracy and the non-finite guard are accumulated on the device and read once at
    the end of the epoch: no step waits for the GPU.
    """
    g = epoch_generator(seed, epoch)
    if recipe.sampler == "pk":
        batches = pk_batches(labels.tolist(), recipe.batch_size // recipe.instances, recipe.instances, g)
    else:
        batches = random_batches(len(labels), recipe.batch_size, g)
    order = torch.tensor(batches, dtype=torch.long)  # (steps, batch): batches are all full
    on_device = isinstance(images, torch.Tensor)
    if on_device:
        order = order.to(device, non_blocking=True)
    y_all = labels.to(device)
    lr = recipe.lr_at(epoch)
    set_lr(optimizer, lr)
    model.train()
    loss_sum = torch.zeros((), dtype=torch.float64, device=device)
    correct = torch.zeros((), dtype=torch.long, device=device)
    bad_step = torch.full((), -1, dtype=torch.long, device=device)  # first non-finite step
    bad_loss = torch.zeros((), device=device)
    cl = channels_last(device)
    bar = progress_bar(range(len(order)), desc=f"epoch {epoch + 1}/{recipe.epochs}", leave=False,
                       disable=not progress)
    for step in bar:
        idx = order[step]
        x = to_float(images[idx] if on_device else images[idx.numpy()], device, channels_last=cl)
        x = augment_batch(x, recipe.augment, g)
        y = y_all[idx.to(device)]
        with autocast(device):
            out = model(x)
            loss = loss_fn(out, y)
            for term in extra_losses:
                loss = loss + term(out, epoch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        loss = loss.detach().float()
        first = (bad_step < 0) & ~torch.isfinite(loss)
        bad_step = torch.where(first, step, bad_step)
        bad_loss = torch.where(first, loss, bad_loss)
        loss_sum += loss.double() * len(idx)
        correct += (out.logits[0].detach().argmax(1) == y).sum()
    if int(bad_step) >= 0:  # raised before this epoch's checkpoint: the last good one is kept
        raise TrainingDiverged(
            f"loss is {float(bad_loss)} at epoch {epoch + 1}, step {int(bad_step) + 1} of run {run_name}; "
            f"the checkpoint of epoch {epoch} is kept. Lower the learning rate (recipe lr={recipe.lr}) "
            "or check the input images.")
    n = order.numel()
    return {"epoch": epoch + 1, "lr": lr, "loss": float(loss_sum) / n,
            "train_acc": 100.0 * int(correct) / n}


def keep_if_best(best: dict | None, epoch: int, val_acc: float, model: torch.nn.Module) -> dict | None:
    """The best-validation record after ``epoch``: a CPU copy of the weights when ``val_acc`` is at
    least the best so far (">=": a later epoch wins a tie, as in the authors' code); a NaN
    accuracy (no validation images) never wins."""
    if math.isnan(val_acc) or (best is not None and val_acc < best["val_acc"]):
        return best
    return {"epoch": epoch, "val_acc": val_acc, "model": _cpu_copy(model.state_dict())}


def _cpu_copy(obj):
    """``obj`` with every tensor copied to the CPU (a snapshot training cannot change)."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().to("cpu", copy=True)
    if isinstance(obj, dict):
        return {k: _cpu_copy(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_cpu_copy(v) for v in obj)
    return copy.deepcopy(obj)


@torch.no_grad()
def _accuracy(model, images: np.ndarray, labels: torch.Tensor, device: torch.device,
              batch_size: int = 64, ensemble: bool = False) -> float:
    """Identity accuracy (%) of the first classifier on ``images`` (the held-out validation images,
    or the training images for :func:`fit_accuracy`), in eval mode and float32; ``ensemble``: of the
    sum of every classifier's softmax (the authors' code's ``score``)."""
    if len(images) == 0:
        return math.nan
    model.eval()
    correct = 0
    for s in range(0, len(images), batch_size):
        x = normalize(to_float(np.array(images[s:s + batch_size]), device))
        with torch.autocast(device_type=device.type, enabled=False):
            out = model.forward_output(x)
        score = sum(z.float().softmax(1) for z in out.logits) if ensemble else out.logits[0]
        correct += int((score.argmax(1).cpu() == labels[s:s + batch_size]).sum())
    model.train()
    return 100.0 * correct / len(images)


def _fit_accuracy(model, split, recipe: Recipe, device: torch.device) -> float:
    """How well the trained network fits its training images: the first classifier's accuracy (%) on
    every training image as the test sees it (resized to the input size, no augmentation), in eval
    mode. The history's running ``train_acc`` is measured on augmented batches in train mode
    (dropout on, batch-norm statistics of the batch): for the attention networks, trained on P x K
    batches of 5 identities, it ends 0-41 points below this (23.5 in the median, demo records)."""
    images = ImageCache(split.image_paths(split.train), recipe.image_size, resize_filter=recipe.resize_filter).array
    labels = torch.tensor(split.train["label"].to_numpy(), dtype=torch.long)
    return _accuracy(model, images, labels, device)


def fit_accuracy(run_dir: str | Path, data_root: str | Path | None = None, device="cpu") -> float:
    """:func:`_fit_accuracy` of a finished run, from its saved weights (``data_root``: the folder
    its dataset is in; default the run's own, the demo data for the demo profile)."""
    run = records.load_run(run_dir)
    cfg = make_config(**{**run.parameters(), **({"data_root": str(data_root)} if data_root else {})})
    split = load_split(cfg.dataset, root=cfg.prepare_root(), repeat=0, seed=cfg.split_seed)
    device = torch.device(device)
    return _fit_accuracy(load_model(run_dir, device), split, cfg.resolved_recipe(), device)


def load_model(run_dir: str | Path, device="cpu") -> torch.nn.Module:
    """The trained model of a finished run (for cross-domain evaluation or figures)."""
    run = records.load_run(run_dir)
    state = torch.load(Path(run_dir) / records.MODEL, map_location=device, weights_only=False)
    cfg = make_config(**run.parameters())
    # As fit built it: the run's model options (variant, profile, explicit), then the input size.
    options = model_build_options(cfg.method, cfg.model_options(), run.config["identity"]["recipe"]["image_size"])
    model = build_model(cfg.method, num_classes=run.config["num_classes"], pretrained=False,
                        trunk=run.config["identity"].get("trunk"), **options)
    model.load_state_dict(state["model"])
    device = torch.device(device)
    model = model.to(device)  # in fit's memory format: the same convolutions, the same numbers
    return (model.to(memory_format=torch.channels_last) if channels_last(device) else model).eval()
