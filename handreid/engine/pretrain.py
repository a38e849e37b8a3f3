"""The demo profile's stand-in for ImageNet weights: its small trunks, pretrained once on a
synthetic world of other identities (docs/DESIGN.md §4).

Both papers fine-tune ImageNet weights (GPA-Net §3.1, LAGA-Net §IV-B: backbone at a tenth of the
new layers' learning rate). ImageNet weights exist for the full ResNet50 and VGG19-bn only, and the
demo trains their 1/8-width shapes (:class:`handreid.models.backbone.TrunkShape`). So the demo
pretrains each small trunk itself: the plain baseline (``resnet50`` or ``vgg19bn``) learns to
classify the identities of a *pretraining world*, a synthetic 11k tree written with another seed
and more subjects than the demo's (:data:`PRETRAINING_WORLD`), none of them in the demo sets. That
training is an ordinary :func:`~handreid.engine.fit` run, kept in the cache
(``HANDREID_CACHE/pretrained/<generation>/<world key>/<run id>``) with its history and metrics;
every demo run that asks for a pretrained trunk starts from its weights, and its run identity names
the pretraining run and world. (Paths are not part of a run's identity, so the pretraining run's id is
that of the same training on the demo's own 11k-dr; the world key tells them apart.)

The gap between pretraining and the demo sets is smaller than ImageNet's to 11k (same renderer,
other identities): the demo shows what fine-tuning does, not how far ImageNet features carry.
Trunks are made on the machine that needs them (a few tens of seconds on one core), so they carry
its floats: a run is bit-identical only where its trunk is too (the record keeps the trunk's hash).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from pathlib import Path
from typing import Iterator

import numpy as np
import torch

from ..paths import cache_dir, demo_data_root

__all__ = ["PRETRAINING", "PRETRAINING_WORLD", "TRUNK_GENERATION", "TrunkProvider", "pretraining_config",
           "trunk_archs", "missing", "trunk_fingerprint", "trunk_state", "world_key", "world_root",
           "write_world"]

#: The pretraining world: a synthetic 11k tree (``write_11k`` parameters) of 240 subjects with 6-10
#: images per hand side, seed 777 (the demo's is 0): 2.4 times the demo's subjects, none shared.
PRETRAINING_WORLD = {"num_subjects": 240, "images_per_aspect": [6, 10], "image_size": [160, 120], "seed": 777}

#: The pretraining run of each trunk: GPA-Net's recipe on the world's dorsal-right subset (its
#: protocol's training identities), 40 epochs from scratch, with the demo profile's other settings.
PRETRAINING = {"dataset": "11k-dr", "recipe": "gpa", "epochs": 40, "seed": 0}

#: The pretraining code's generation, a folder of the cache: raised when a code change moves the
#: trunks' numbers (run ids name the configuration, not the code), so that a cache of older trunks is
#: not taken for the new ones. g2: fused SGD, VGG19-bn without torchvision's full-size classifier.
TRUNK_GENERATION = "g2"

#: Which baseline pretrains each trunk architecture (the trunk is that model minus its classifier).
_PRETRAINING_METHOD = {"resnet50": "resnet50", "vgg19bn": "vgg19bn"}


def world_key(world: dict | None = None) -> str:
    """``11k-<10 hex>``: the pretraining world's name, a hash of its writer parameters."""
    blob = json.dumps(world or PRETRAINING_WORLD, sort_keys=True).encode()
    return f"11k-{hashlib.sha256(blob).hexdigest()[:10]}"


def world_root() -> Path:
    """Where the pretraining world is written: ``<demo data root>/pretraining/<world key>``."""
    return demo_data_root() / "pretraining" / world_key()


def pretraining_config(arch: str, device: str = "cpu"):
    """The :class:`~handreid.engine.config.RunConfig` that pretrains ``arch`` (``resnet50`` or
    ``vgg19bn``) on the pretraining world (:data:`PRETRAINING`)."""
    from .config import make_config

    if arch not in _PRETRAINING_METHOD:
        raise ValueError(f"no pretraining for trunk architecture {arch!r}: expected one of {', '.join(_PRETRAINING_METHOD)}")
    spec = PRETRAINING
    return make_config(dataset=spec["dataset"], method=_PRETRAINING_METHOD[arch], recipe=spec["recipe"],
                       profile="demo", pretrained=False, epochs=spec["epochs"], seed=spec["seed"],
                       data_root=str(world_root()), device=device, eval_repeats=1,
                       out_dir=str(cache_dir() / "pretrained" / TRUNK_GENERATION / world_key()))


def trunk_state(arch: str, model_state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The trunk's state dict, in the parameter names the backbone builders load
    (torchvision's), from the state dict of the baseline that pretrained it."""
    if arch == "resnet50":   # ResNet50Baseline.backbone is the trunk
        return {k[len("backbone."):]: v for k, v in model_state.items() if k.startswith("backbone.")}
    if arch == "vgg19bn":    # VGG19BNBaseline: features, then fc6 / fc7 at fc67.0 / fc67.3 (classifier.0 / .3)
        rename = {"fc67.0.": "classifier.0.", "fc67.3.": "classifier.3."}
        out = {k: v for k, v in model_state.items() if k.startswith("features.")}
        for old, new in rename.items():
            out.update({new + k[len(old):]: v for k, v in model_state.items() if k.startswith(old)})
        return out
    raise ValueError(f"no pretraining for trunk architecture {arch!r}")


def trunk_fingerprint(state: dict[str, torch.Tensor]) -> str:
    """sha256 (16 hex) of a state dict: names, shapes, dtypes and bytes, in name order."""
    h = hashlib.sha256()
    for k in sorted(state):
        t = state[k].detach().cpu().contiguous()
        h.update(repr((k, tuple(t.shape), str(t.dtype))).encode())
        h.update(t.numpy().tobytes() if t.dtype != torch.bfloat16 else t.float().numpy().tobytes())
    return h.hexdigest()[:16]


_ARCHS: dict[str, tuple[str, ...]] = {}


def trunk_archs(method: str, options: dict, shape: dict) -> list[str]:
    """The trunk architectures ``method`` builds (in order), found by building it on the meta device
    (once per method, options and shape in a process: a run's identity asks for them)."""
    from ..models import build_model
    from ..models.backbone import small_trunk_weights

    key = json.dumps([method, options, shape], sort_keys=True, default=repr)
    if key not in _ARCHS:
        asked: list[str] = []
        with small_trunk_weights(lambda arch, _shape: asked.append(arch)), torch.device("meta"):
            build_model(method, num_classes=2, pretrained=True, trunk=shape, **options)
        _ARCHS[key] = tuple(dict.fromkeys(asked))
    return list(_ARCHS[key])


def missing(configs) -> list[str]:
    """The pretrained trunks ``configs`` (run configurations) use that this machine's cache lacks
    (their pretraining run ids), in order."""
    from . import records
    from .config import RunConfig, make_config

    out: list[str] = []
    for cfg in configs:
        cfg = cfg if isinstance(cfg, RunConfig) else make_config(**cfg)
        for arch, run_id in (cfg.pretraining() or {}).items():
            if arch == "world" or run_id in out:
                continue
            run_dir = pretraining_config(arch).runs_root / run_id
            if not ((run_dir / records.METRICS).exists() and (run_dir / records.MODEL).exists()):
                out.append(run_id)
    return out


def write_world() -> Path:
    """Write the pretraining world (:data:`PRETRAINING_WORLD`) unless it is there; under a lock, so
    that two processes that need it write it once."""
    from ..data.synthetic import write_11k

    with _locked(cache_dir() / "pretrained" / TRUNK_GENERATION / world_key() / "world.lock"):
        return write_11k(world_root(), **{k: tuple(v) if isinstance(v, list) else v
                                          for k, v in PRETRAINING_WORLD.items()})


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock on ``path`` (POSIX ``flock``): two sweep workers that need the same trunk
    train it once; the second waits and then finds it. Without ``fcntl`` (Windows): no lock."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    with open(path, "a+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


class TrunkProvider:
    """``provider(arch, shape)`` -> the pretrained trunk of ``arch`` (pretraining it first when the
    cache does not hold it yet); ``used``: ``{arch: {"run_id", "sha"}}`` of those handed out, for the
    run's record. Used as :func:`handreid.models.backbone.small_trunk_weights`' provider."""

    def __init__(self, device: str = "cpu", progress: bool = False):
        self.device, self.progress = device, progress
        self.used: dict[str, dict] = {}

    def __call__(self, arch: str, shape) -> dict[str, torch.Tensor] | None:
        from . import records
        from .train import fit

        cfg = pretraining_config(arch, self.device)
        if cfg.trunk != shape.as_dict():
            raise ValueError(f"the pretraining of {arch} builds the trunk {cfg.trunk}, the model asks for "
                             f"{shape.as_dict()}: the demo profile pretrains its own trunk shape only")
        run_dir = cfg.runs_root / cfg.run_id()
        write_world()
        with _locked(cfg.runs_root / f"{arch}.lock"):
            if (run_dir / records.METRICS).exists() and not (run_dir / records.MODEL).exists():
                (run_dir / records.METRICS).unlink()  # a record without its weights: train it again
            if self.progress and not (run_dir / records.METRICS).exists():
                print(f"[handreid] pretraining the demo {arch} trunk on the pretraining world "
                      f"({run_dir}); once per machine", flush=True)
            # fit seeds torch and numpy: the model being built must see the same random stream
            # whether its trunk was pretrained just now or found in the cache
            numpy_state = np.random.get_state()
            cuda = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
            with torch.random.fork_rng(devices=cuda):
                fit(cfg, progress=False)
            np.random.set_state(numpy_state)
        saved = torch.load(run_dir / records.MODEL, map_location="cpu", weights_only=False)
        state = trunk_state(arch, saved["model"])
        self.used[arch] = {"run_id": run_dir.name, "sha": trunk_fingerprint(state)}
        return state
