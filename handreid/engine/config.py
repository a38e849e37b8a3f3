"""Run configurations, profiles and the validation of notebook parameters.

A :class:`RunConfig` says everything that decides a run's result; its
:func:`run_id` is derived from exactly that, so a rerun finds the run it
already did. Profiles (docs/DESIGN.md §4): ``demo`` runs on synthetic data in the
real on-disk formats, at small images, on a CPU, in minutes; ``paper`` uses
the real datasets with the papers' settings.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from ..data.datasets import hand_datasets
from ..data.synthetic.demo import ensure_demo_data
from ..params import ParameterError, check, parameters_since, reject_unknown
from ..paths import demo_data_root, runs_dir
from .recipes import RECIPES, Recipe, get_recipe
from .variant import VARIANTS, apply_variant, drop_later_defaults, resolve_variant, variant_model_options

PROFILES = {
    # Demo: the demo world's synthetic data, a small trunk (ResNet50's design at 1/8 of its channels,
    # one bottleneck block per stage; VGG19-bn's at 1/8; each method keeps its heads, attention
    # modules and recipe: handreid.models.backbone.TrunkShape), 64x64 images. As the papers fine-tune
    # ImageNet weights, the demo fine-tunes trunks it pretrained on a synthetic world of other
    # identities (handreid.engine.pretrain; no ImageNet weights exist for the small trunks), for 11
    # epochs on the hand sets and 40 on the body benchmarks, whose demo sets have a third of the
    # images (about as many steps; at 12 epochs RGA-Net's own recipe fitted 28 % of Market-1501's).
    # Rates (BENCHMARKS.md, the demo world and the schedules; eighth pass): the whole network at the
    # new layers' rate (backbone x1: the trunk saw other identities of the same renderer, a weak
    # prior to adapt; at the recipes' x0.1 GPA-Net lost 5 rank-1 points, LAGA-Net 7, MBA-Net 7 on
    # demo D-r), half of GPA-Net's SGD rate, 2.5 times the other Adam recipes' and 5 times
    # LAGA-Net's (its P x K runs on the palmar sets fitted 73-79 % of their training images at 2.5,
    # 78-82 % at 5; MBA-Net's own recipe, batches of 4, fitted less at 5). Step decays, per
    # optimiser: SGD x0.1 over the last quarter of the epochs; Adam LAGA-Net's x0.5 at 40 and 60 of
    # its 70 epochs, at the same fractions, for every Adam recipe (RGA-Net's and ABD-Net's own decays
    # squeezed into a short run left their body runs at 31-75 % fit: BENCHMARKS.md, seventh pass).
    # Batches: LAGA-Net's recipe on the hand sets takes P x K = 10 x 4 (the paper's 5 x 4 on the body
    # sets): at 5 x 4, 11 epochs are ~165 steps of noisy 20-image gradients at its 5-fold rate, and 8 of
    # its 69 hand runs fitted 73-80 % of their training images. Larger batches fit more, smaller ones
    # less (those 8 at 4 x 4: 66-83 %; 6 x 4: 78-95; 8 x 4: 81-89, and all 69 81-99); at 10 x 4 the 8
    # weakest at 8 x 4 fit 4.7 points more on average, 81-96 % (BENCHMARKS.md, ninth pass).
    "demo": {"epochs": {"hand": 11, "body": 40}, "image_size": (64, 64), "pretrained": True,
             "backbone_lr_mult": 1.0, "batch_size": {"laga": {"hand": 40}},
             "lr_factor": {"sgd": 0.5, "adam": 2.5, "laga": 5.0},
             "step_decay": {"sgd": {"at": [0.75], "gamma": 0.1}, "adam": {"at": [40 / 70, 60 / 70], "gamma": 0.5}},
             "trunk": {"width": 0.125, "blocks": [1, 1, 1, 1]},
             # VGG19-bn's two dropout layers (fc6, fc7) at torchvision's 0.5 keep the 1/8-width network
             # from fitting its training images from scratch (fit_acc 27-83 %); at 0.2 it fits them
             # (BENCHMARKS.md, fourth pass: 91-100 % but for HD seed 0). ABD-Net's heads' dropout at its
             # 0.5 left it at 70-79 % fit after 12 epochs on demo D-l (seeds 0-2); at 0 it fits 84-85 %
             # (BENCHMARKS.md, eighth pass)
             "method_options": {"vgg19bn": {"dropout": 0.2}, "abdnet": {"dropout": 0.0}}},
    # Paper: every value from the recipe.
    "paper": {"epochs": None, "image_size": None, "pretrained": True, "backbone_lr_mult": None, "batch_size": None,
              "lr_factor": {"sgd": 1.0, "adam": 1.0}, "step_decay": {"sgd": True, "adam": True},
              "trunk": None, "method_options": {}},
}


#: Model options counted in epochs of the training schedule. ABD-Net switches its O.F. regularizer on
#: at epoch 23 (of its own 80; LAGA-Net's Table V keeps 23 in its 70): a demo run of 40 epochs starts
#: it at 23 x 40 / 80 = 12 (ABD-Net's recipe) or 13 (LAGA-Net's), where it falls in the full schedule.
EPOCH_OPTIONS: dict[str, tuple[str, ...]] = {"abdnet": ("of_start_epoch",)}

ConfigError = ParameterError  # a run parameter has a wrong name or value


@dataclass(frozen=True)
class RunConfig:
    """One training + evaluation run (the run notebook's parameters)."""

    dataset: str = "11k-dr"
    method: str = "gpanet"
    method_options: dict = field(default_factory=dict)
    recipe: str = "gpa"
    profile: str = "demo"
    data_root: str | None = None     # None: the demo data (demo profile)
    epochs: int | None = None        # None: profile, then recipe default
    image_size: tuple[int, int] | None = None
    batch_size: int | None = None
    pretrained: bool | None = None   # None: profile default (paper: ImageNet weights)
    seed: int = 0                    # seeds the training (initialisation, batches, augmentation)
    split_seed: int = 0              # seeds the protocol's draws (validation, query/gallery repeats)
    device: str = "auto"
    out_dir: str | None = None       # None: results/runs
    eval_repeats: int = 10
    variant: str | None = None       # "paper" | "authors" | None: the recipe's default (engine.variant)

    # ------------------------------------------------------------- resolution
    @property
    def resolved_variant(self) -> str | None:
        """``variant``, else the recipe's default variant (``mba``: "authors"), else None."""
        return resolve_variant(self.variant, self.recipe)

    def model_options(self) -> dict[str, Any]:
        """The model options the run builds with: the variant's, the profile's, then ``method_options``;
        an option counted in epochs (:data:`EPOCH_OPTIONS`) scales with the schedule as the recipe's
        milestones do when the run trains fewer or more epochs than its recipe (an explicit
        ``method_options`` value is an epoch of this run, taken as given)."""
        opts = {**variant_model_options(self.resolved_variant, self.method),
                **profile_model_options(self.profile, self.method), **self.method_options}
        scaled = [k for k in EPOCH_OPTIONS.get(self.method, ()) if k not in self.method_options]
        if scaled:
            own = apply_variant(get_recipe(self.recipe, self.dataset), self.resolved_variant).epochs
            s = self.resolved_recipe().epochs / own
            if s != 1:
                from ..models import model_options as defaults

                d = defaults(self.method)
                opts.update({k: max(0, round(opts.get(k, d[k]) * s)) for k in scaled})
        return opts

    def resolved_recipe(self) -> Recipe:
        r = apply_variant(get_recipe(self.recipe, self.dataset), self.resolved_variant)
        prof = PROFILES[self.profile]
        epochs = self.epochs or profile_epochs(self.profile, self.dataset) or r.epochs
        size = self.image_size or prof["image_size"]
        r = r.with_epochs(int(epochs))
        if size is not None:
            r = r.with_image_size(tuple(int(s) for s in size))
        if not self.use_pretrained:
            # The recipes slow down the *pretrained* layers; trained from scratch, nothing is.
            r = replace(r, backbone_lr_mult=1.0)
        elif prof.get("backbone_lr_mult") is not None:
            r = replace(r, backbone_lr_mult=float(prof["backbone_lr_mult"]))
        decay = prof["step_decay"][r.optimizer]  # True: the recipe's; False: none
        if decay is False:
            r = replace(r, milestones=())
        elif decay is not True:  # the profile's own: milestones at fractions of the epochs
            r = replace(r, gamma=float(decay["gamma"]),
                        milestones=tuple(max(1, round(f * r.epochs)) for f in decay["at"]))
        f = prof["lr_factor"].get(r.name, prof["lr_factor"][r.optimizer])  # a recipe's own, else its optimiser's
        if f != 1.0:
            r = replace(r, lr=r.lr * f, warmup_start_lr=r.warmup_start_lr * f)
        batch = self.batch_size or profile_batch_size(self.profile, r.name, self.dataset)
        if batch:
            r = replace(r, batch_size=int(batch))
        return r

    @property
    def trunk(self) -> dict | None:
        """The profile's trunk shape (:class:`handreid.models.backbone.TrunkShape` as a dict; None:
        the papers' full ResNet50 / VGG19-bn)."""
        from ..models.backbone import TrunkShape

        t = PROFILES[self.profile].get("trunk")
        return None if t is None else TrunkShape.parse(t).as_dict()

    @property
    def use_pretrained(self) -> bool:
        return PROFILES[self.profile]["pretrained"] if self.pretrained is None else bool(self.pretrained)

    @property
    def root(self) -> Path:
        if self.data_root is not None:
            return Path(self.data_root).expanduser()
        if self.profile == "demo":
            return demo_data_root()
        raise ConfigError("data_root is required for the paper profile: pass the folder that "
                          "holds the datasets (e.g. data_root='/data' with /data/11k/Hands)")

    def prepare_root(self) -> Path:
        """:attr:`root`, after writing the synthetic data when the demo profile uses its default."""
        if self.profile == "demo" and self.data_root is None:
            ensure_demo_data(self.root, (self.dataset,))
        return self.root

    @property
    def runs_root(self) -> Path:
        return Path(self.out_dir).expanduser() if self.out_dir else runs_dir()

    def identity(self) -> dict[str, Any]:
        """What decides the result: the resolved recipe, model, data and seed (not paths or device).

        Fields and options added later are left out at their older behaviour's value (``split_seed``
        when it equals ``seed``), and ``variant`` is only there when one applies: older run ids stay
        the same."""
        r = self.resolved_recipe()
        from ..models import model_options

        # The model's defaults filled in: {} and {"hp": 3, "vp": 1} are the same GPA-Net.
        options = {k: v for k, v in model_options(self.method).items() if k != "pretrained"}
        options.update(self.model_options())
        recipe = drop_later_defaults(_tuples_as_lists(asdict(r)), "recipe")
        recipe["augment"] = drop_later_defaults(recipe["augment"], "augment")
        ident = {"dataset": self.dataset, "method": self.method,
                 "method_options": _tuples_as_lists(drop_later_defaults(dict(sorted(options.items())), "method_options")),
                 "recipe": recipe, "pretrained": self.use_pretrained,
                 "seed": self.seed, "profile": self.profile}
        if self.split_seed != self.seed:  # earlier runs drew their splits with the training seed
            ident["split_seed"] = self.split_seed
        if self.resolved_variant is not None:
            ident["variant"] = self.resolved_variant
        if self.trunk is not None:  # only then: the full trunk's run ids stay as they were
            ident["trunk"] = self.trunk
            if self.use_pretrained:  # the demo's own pretrained trunks: which world, which runs
                ident["pretraining"] = self.pretraining()
        return ident

    def pretraining(self) -> dict[str, str] | None:
        """Where a pretrained small trunk comes from (:mod:`handreid.engine.pretrain`): the
        pretraining world's key and, per trunk architecture the model builds, the run id of the
        pretraining run; None for ImageNet weights or a run from scratch."""
        if self.trunk is None or not self.use_pretrained:
            return None
        from . import pretrain
        from .train import model_build_options

        options = model_build_options(self.method, self.model_options(), self.resolved_recipe().image_size)
        return {"world": pretrain.world_key(),
                **{arch: pretrain.pretraining_config(arch).run_id()
                   for arch in pretrain.trunk_archs(self.method, options, self.trunk)}}

    def run_id(self) -> str:
        """``<dataset>-<method>-<10 hex>``: a hash of :meth:`identity`."""
        blob = json.dumps(self.identity(), sort_keys=True).encode()
        return f"{self.dataset}-{self.method}-{hashlib.sha256(blob).hexdigest()[:10]}"

    def to_dict(self) -> dict[str, Any]:
        return _tuples_as_lists(asdict(self))


def _per_domain(value, dataset: str):
    """``value``, or its entry for ``dataset``'s domain when it is a ``{"hand": .., "body": ..}`` dict
    (None where the dict has none)."""
    if isinstance(value, dict):
        return value.get("hand" if dataset in hand_datasets() else "body")
    return value


def profile_epochs(profile: str, dataset: str) -> int | None:
    """The epochs a profile trains ``dataset`` for (None: the recipe's); a profile may give one
    number or one per domain, ``{"hand": .., "body": ..}``."""
    return _per_domain(PROFILES[profile]["epochs"], dataset)


def profile_batch_size(profile: str, recipe: str, dataset: str) -> int | None:
    """The batch size a profile sets for ``recipe`` on ``dataset`` (None: the recipe's); a profile
    gives None, one number, or one per recipe name, ``{"laga": ..}``, each a number or one per domain."""
    b = PROFILES[profile]["batch_size"]
    return _per_domain(b.get(recipe) if isinstance(b, dict) else b, dataset)


def profile_model_options(profile: str, method: str) -> dict[str, Any]:
    """The model options a profile sets for ``method`` (:data:`PROFILES`' ``method_options``)."""
    return dict(PROFILES[profile].get("method_options", {}).get(method, {}))


def split_seed_of(identity: dict[str, Any]) -> int:
    """The split seed of a run's :meth:`RunConfig.identity` (absent: the training seed, as drawn
    before the two were separate)."""
    return int(identity.get("split_seed", identity["seed"]))


def _tuples_as_lists(x):
    """``x`` with every tuple, nested in dicts and lists too, as a list (what JSON gives back)."""
    if isinstance(x, dict):
        return {k: _tuples_as_lists(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_tuples_as_lists(v) for v in x]
    return x


# ------------------------------------------------------------------ validation
PARAMETER_NAMES = tuple(f.name for f in fields(RunConfig))


def make_config(**params: Any) -> RunConfig:
    """Build a :class:`RunConfig` from run-notebook parameters, rejecting unknown names and bad values."""
    from ..data import DATASETS, dataset_repeats
    from ..models import available_models

    reject_unknown(params, PARAMETER_NAMES)
    p = dict(params)
    if isinstance(p.get("image_size"), int):
        p["image_size"] = (p["image_size"], p["image_size"])
    if isinstance(p.get("image_size"), list):
        p["image_size"] = tuple(p["image_size"])
    p.setdefault("method_options", {})
    if p["method_options"] is None:
        p["method_options"] = {}
    cfg = RunConfig(**p)

    check(cfg.dataset in DATASETS, "dataset", cfg.dataset, f"one of {', '.join(DATASETS)}")
    check(cfg.method in available_models(), "method", cfg.method,
           f"one of {', '.join(available_models())}")
    check(isinstance(cfg.method_options, dict) and all(isinstance(k, str) for k in cfg.method_options),
           "method_options", cfg.method_options, "a dict of model keyword options, e.g. {'hp': 3, 'vp': 1}")
    check(cfg.recipe in RECIPES, "recipe", cfg.recipe, f"one of {', '.join(RECIPES)}")
    check(cfg.profile in PROFILES, "profile", cfg.profile, f"one of {', '.join(PROFILES)}")
    check(cfg.variant is None or (isinstance(cfg.variant, str) and cfg.variant in VARIANTS), "variant",
          cfg.variant, "None (the recipe's default), 'paper' (the papers' text) or 'authors' (the authors' "
          "public code)")
    check(cfg.recipe != "mba" or cfg.dataset in hand_datasets(), "recipe", cfg.recipe,
          f"a recipe for {cfg.dataset}: 'mba' is MBA-Net's code for hand data ({', '.join(hand_datasets())})")
    check(cfg.data_root is None or isinstance(cfg.data_root, (str, Path)), "data_root", cfg.data_root,
           "a folder path or None")
    for name in ("epochs", "batch_size"):
        v = getattr(cfg, name)
        check(v is None or (isinstance(v, int) and not isinstance(v, bool) and v > 0), name, v,
               "a positive integer or None (recipe default)")
    if cfg.batch_size is not None and get_recipe(cfg.recipe, cfg.dataset).sampler == "pk":
        k = get_recipe(cfg.recipe, cfg.dataset).instances
        check(cfg.batch_size % k == 0 and cfg.batch_size >= 2 * k, "batch_size", cfg.batch_size,
               f"a multiple of K={k} with at least two identities (P x K sampler)")
    check(cfg.image_size is None or (isinstance(cfg.image_size, tuple) and len(cfg.image_size) == 2
                                      and all(isinstance(s, int) and s >= 32 for s in cfg.image_size)),
           "image_size", cfg.image_size, "None, an int, or (height, width) with sides >= 32")
    check(cfg.pretrained is None or isinstance(cfg.pretrained, bool), "pretrained", cfg.pretrained,
           "True, False or None (profile default)")
    for name in ("seed", "split_seed"):
        v = getattr(cfg, name)
        check(isinstance(v, int) and not isinstance(v, bool) and v >= 0, name, v, "a non-negative integer")
    check(isinstance(cfg.device, str) and (cfg.device in ("auto", "cpu", "mps")
                                            or cfg.device.startswith("cuda")),
           "device", cfg.device, "'auto', 'cpu', 'cuda' or 'cuda:N'")
    size = cfg.resolved_recipe().image_size
    opts = cfg.model_options()
    check(not (opts.get("sam_rpe") == "literal" and "sam" in opts.get("branches", ("sam",))
               and size[0] != size[1]), "image_size", size,
          "a square input: the authors' SAM-RPE (variant 'authors', sam_rpe='literal') needs square maps; "
          "pass image_size=N, or variant='paper'")
    n = dataset_repeats(cfg.dataset)
    check(isinstance(cfg.eval_repeats, int) and 1 <= cfg.eval_repeats <= 10, "eval_repeats",
          cfg.eval_repeats, "an integer from 1 to 10 (the hand protocol's query/gallery draws)")
    if cfg.eval_repeats > n:  # the body benchmarks have one fixed query/gallery split
        cfg = replace(cfg, eval_repeats=n)
    if cfg.profile == "paper":
        cfg.root  # raises when data_root is missing
    return cfg


def config_from_namespace(namespace: dict[str, Any], before: set[str]) -> RunConfig:
    """Validate a notebook's parameters: every name defined since ``before`` must be a parameter.

    The run notebook records ``globals()`` before its ``parameters`` cell; papermill
    injects its values after that cell, so a misspelt name shows up here.
    """
    return make_config(**parameters_since(namespace, before))
