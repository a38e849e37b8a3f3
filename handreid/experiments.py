"""The papers' tables and figures as data: what each one shows and which runs it needs.

>>> from handreid import experiments
>>> exp = experiments.get("gpa-table1")
>>> [r.label for r in exp.rows], [c.label for c in exp.columns]
>>> exp.published[("gpanet", "11k-dr")]            # {"rank1": 94.8, "mAP": 95.72}
>>> plan = experiments.plan(["gpa-table1", "gpa-table3"], profile="demo")
>>> len(plan.runs)                                 # 26: GPA-Net hp=3, vp=1 on P-r is trained once

An :class:`Experiment` (one table or figure) has rows (a method with its options and
recipe, or a published-only method handreid does not implement), columns (a dataset, or a
train -> test pair for cross-domain), metrics and the published numbers
(:mod:`handreid.published`). A cell's options are the row's updated by the column's
(GPA-Net Table 3: the row sets ``hp``, the column ``vp``).

:func:`plan` turns a selection of experiments into the trainings they need, one per
distinct ``run_id`` (the engine derives it from everything that decides the result, so
a run shared by several tables is trained once), plus the evaluations derived from
finished runs: cross-domain metrics (``<run>/cross/<dataset>.json``: the model of the
same-domain run on another dataset's repeats) and ranked retrieval lists for the figures
(``<run>/retrieval/<dataset>.json``). ``seeds=N`` repeats every training with seeds
0..N-1; the tables then report the seed spread on top of the 10 query/gallery repeats.

Demo profile: :data:`DEMO_OVERRIDES` shrink epochs and images per recipe and data kind
so that every table and figure comes out on 2 CPU cores in minutes (numbers
meaningless, structure complete); :func:`prepare_demo_data` writes the synthetic trees
the selected runs need. Paper profile: :func:`estimate_cost` gives each training's
cost in GPU-hours (see its docstring for the assumptions).
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from . import published as pub
from .published import DATASET_LABELS

__all__ = [
    "Column", "DEMO_OVERRIDES", "EXPERIMENTS", "EvalPlan", "Experiment", "GPU_ASSUMPTION", "Plan",
    "Row", "RunPlan", "Selection", "estimate_cost", "get", "plan", "prepare_demo_data", "run_params",
    "select",
]

METRIC_LABELS = {"rank1": "rank-1", "mAP": "mAP", "rank5": "rank-5", "rank10": "rank-10", "mINP": "mINP",
                 "ids": "# ids", "images": "# images", "cameras": "# cameras"}
HAND = ("11k-dr", "11k-dl", "11k-pr", "11k-pl", "hd")
BODY = ("market1501", "dukemtmc", "cuhk03-l", "msmt17")


# ----------------------------------------------------------------------------- data model
@dataclass(frozen=True)
class Row:
    """A method with its options and training recipe; ``method=None``: published only."""

    key: str
    label: str
    method: str | None = None
    options: Mapping = field(default_factory=dict)
    recipe: str | None = None
    note: str = ""

    @property
    def reproduced(self) -> bool:
        return self.method is not None


@dataclass(frozen=True)
class Column:
    """A dataset (same-domain), or ``train`` -> ``test`` (cross-domain), plus cell options."""

    key: str
    label: str
    train: str
    test: str | None = None
    options: Mapping = field(default_factory=dict)

    @property
    def cross(self) -> bool:
        return self.test is not None and self.test != self.train

    @property
    def eval_dataset(self) -> str:
        return self.test or self.train


@dataclass(frozen=True)
class Experiment:
    """One published table or figure.

    ``kind``: ``table`` (rows x columns x metrics), ``stats`` (dataset statistics: rows are
    subsets), ``cmc`` (CMC curves of the rows on one column), ``retrieval`` (ranked
    retrieval grids of the rows on every column) or ``heatmap`` (rows x columns of one
    metric). ``published[(row key, column key)]`` maps metric -> number (None: "-").
    ``figure``: figure settings (``queries``, ``top_k``, ``max_rank``).
    """

    key: str
    paper: str
    label: str
    kind: str
    title: str
    rows: tuple[Row, ...]
    columns: tuple[Column, ...]
    metrics: tuple[str, ...] = ("rank1", "mAP")
    published: Mapping = field(default_factory=dict)
    figure: Mapping = field(default_factory=dict)
    layout: str = "table"   # "grid": rows x columns are the two axes of one ablation (GPA-Net Table 3)
    row_header: str = "Method"

    @property
    def name(self) -> str:
        return f"{self.paper} {self.label}"

    @property
    def is_figure(self) -> bool:
        return self.kind in ("cmc", "retrieval", "heatmap")

    def row(self, key: str) -> Row:
        return _by_key(self.rows, key, f"row of {self.key}")

    def column(self, key: str) -> Column:
        return _by_key(self.columns, key, f"column of {self.key}")

    def cell_options(self, row: Row, column: Column) -> dict:
        return {**row.options, **column.options}

    def cell_name(self, row: Row, column: Column) -> str:
        return f"{self.key}: {row.label} / {column.label}"


def _by_key(items, key, what):
    for it in items:
        if it.key == key:
            return it
    raise KeyError(f"no {what} {key!r}; expected one of {', '.join(i.key for i in items)}")


def _cells(table: Mapping, metrics=("rank1", "mAP")) -> dict:
    """{row: {col: (a, b) | None}} -> {(row, col): {metric: value}}."""
    out = {}
    for r, cols in table.items():
        for c, v in cols.items():
            out[(r, c)] = {m: (None if v is None else v[i]) for i, m in enumerate(metrics)}
    return out


def _col(ds: str) -> Column:
    return Column(ds, DATASET_LABELS[ds], train=ds)


# ----------------------------------------------------------------------------- the registry
# GPA-Net rows (recipe "gpa", GPA-Net §3.1 for every method: "hyperparameter values are kept the same").
VGG = Row("vgg19bn", "VGG19-bn", "vgg19bn", {}, "gpa")
R50 = Row("resnet50", "ResNet50", "resnet50", {}, "gpa")
GPA = Row("gpanet", "GPA-Net (ours)", "gpanet", {"hp": 3, "vp": 1}, "gpa")
GPA_GLOBAL = Row("global", "Global only (ours)", "gpanet", {"hp": 1, "vp": 1}, "gpa",
                 "hp = vp = 1 is the global component alone (GPA-Net §3.3), the run of Table 3's Hp=1, Vp=1")
GPA_LOCAL = Row("local", "Local only (ours)", "gpanet", {"hp": 3, "vp": 1, "use_global": False}, "gpa")
# LAGA-Net rows (recipe "laga", LAGA-Net §IV-B).
LAGA = Row("LAGA-Net", "LAGA-Net (ours)", "laganet", {}, "laga")
LAGA_GLOBAL = Row("global", "Global", "laganet", {"branches": ["global"]}, "laga")
MBA = Row("MBA-Net", "MBA-Net", "mbanet", {}, "laga",
          "trained with the LAGA-Net recipe (the MBA-Net paper is LAGA-Net ref. [39])")
NOT_IMPLEMENTED = "not implemented in handreid: published number only"

_TABLE2_COLUMNS = (Column("11k-dr>hd", "D-r (11k) → HD", train="11k-dr", test="hd"),
                   Column("hd>11k-dr", "HD → D-r (11k)", train="hd", test="11k-dr"))
_TABLE3_ROWS = tuple(Row(f"hp={h}", f"Hp = {h}", "gpanet", {"hp": h}, "gpa") for h in (1, 2, 3, 4))
_TABLE3_COLUMNS = tuple(Column(f"vp={v}", f"Vp = {v}", train="11k-pr", options={"vp": v}) for v in (1, 2, 3))
_TABLE3_PUBLISHED = {(f"hp={h}", f"vp={v}"): {"rank1": r1, "mAP": m}
                     for (h, v), (r1, m) in pub.GPA_TABLE3.items()}
_SUBSETS = tuple(Row(s, s.capitalize()) for s in ("train", "query", "gallery"))

EXPERIMENTS: dict[str, Experiment] = {e.key: e for e in [
    Experiment(
        "gpa-table1", "GPA-Net", "Table 1", "table",
        "Same-domain performance on the four 11k sub-datasets and HD",
        (VGG, R50, GPA), tuple(_col(d) for d in HAND),
        published=_cells(pub.GPA_TABLE1)),
    Experiment(
        "gpa-table2", "GPA-Net", "Table 2", "table",
        "Cross-domain performance between D-r of 11k and HD (the same-domain models of Table 1)",
        (VGG, R50, GPA), _TABLE2_COLUMNS,
        published={(r, f"{a}>{b}"): {"rank1": v[0], "mAP": v[1]}
                   for r, cols in pub.GPA_TABLE2.items() for (a, b), v in cols.items()}),
    Experiment(
        "gpa-table3", "GPA-Net", "Table 3", "table",
        "Ablation over horizontal (Hp) and vertical (Vp) partitions on P-r of 11k",
        _TABLE3_ROWS, _TABLE3_COLUMNS, published=_TABLE3_PUBLISHED, layout="grid", row_header="Hp \\ Vp"),
    Experiment(
        "gpa-table4", "GPA-Net", "Table 4", "table",
        "Components of GPA-Net on P-r of 11k",
        (GPA_GLOBAL, GPA_LOCAL, GPA), (_col("11k-pr"),),
        published={(k, "11k-pr"): {"rank1": v[0], "mAP": v[1]} for k, v in pub.GPA_TABLE4.items()}),
    Experiment(
        "gpa-fig2", "GPA-Net", "Fig. 2", "cmc",
        "CMC curves on D-r of 11k", (VGG, R50, GPA), (_col("11k-dr"),),
        published={k: v for k, v in _cells(pub.GPA_TABLE1).items() if k[1] == "11k-dr"},
        figure={"max_rank": 20}),
    Experiment(
        "gpa-fig3", "GPA-Net", "Fig. 3", "retrieval",
        "Query and ranked gallery images of GPA-Net on each hand dataset (green: correct, red: wrong)",
        (GPA,), tuple(_col(d) for d in HAND), figure={"queries": 1, "top_k": 10}),
    Experiment(
        "gpa-table3-heatmap", "GPA-Net", "Table 3 (heatmap)", "heatmap",
        "Rank-1 over Hp x Vp on P-r of 11k", _TABLE3_ROWS, _TABLE3_COLUMNS,
        metrics=("rank1", "mAP"), published=_TABLE3_PUBLISHED, layout="grid", row_header="Hp \\ Vp"),
    Experiment(
        "laga-table1", "LAGA-Net", "Table I", "stats",
        "Statistics of the body datasets", _SUBSETS, tuple(_col(d) for d in BODY),
        metrics=("ids", "images", "cameras"), row_header="Subset",
        published={(s, d): dict(zip(("ids", "images", "cameras"), v))
                   for d, subs in pub.LAGA_TABLE1.items() for s, v in subs.items()}),
    Experiment(
        "laga-table2", "LAGA-Net", "Table II", "stats",
        "Statistics of the hand datasets (train counts include the validation images)",
        _SUBSETS, tuple(_col(d) for d in HAND), metrics=("ids", "images"), row_header="Subset",
        published={(s, d): dict(zip(("ids", "images"), v))
                   for d, subs in pub.LAGA_TABLE2.items() for s, v in subs.items()}),
    Experiment(
        "laga-table3", "LAGA-Net", "Table III", "table",
        "Components of LAGA-Net on Market-1501 and P-r of 11k (each row adds a branch)",
        (LAGA_GLOBAL,
         Row("+local", "+ Local", "laganet", {"branches": ["global", "local"]}, "laga"),
         Row("+cam", "+ CAM", "laganet", {"branches": ["global", "local", "cam"]}, "laga"),
         Row("+sam", "+ SAM-RPE (LAGA-Net)", "laganet", {}, "laga")),
        (_col("market1501"), _col("11k-pr")), published=_cells(pub.LAGA_TABLE3)),
    Experiment(
        "laga-table4", "LAGA-Net", "Table IV", "table",
        "Comparison on the body benchmarks (* unsupervised)",
        tuple(Row(k, k, note=NOT_IMPLEMENTED) for k in pub.LAGA_TABLE4 if k != "LAGA-Net") + (LAGA,),
        tuple(_col(d) for d in BODY), published=_cells(pub.LAGA_TABLE4)),
    Experiment(
        "laga-table5", "LAGA-Net", "Table V", "table",
        "Comparison on the hand datasets",
        (Row("GPA-Net", "GPA-Net", "gpanet", {"hp": 3, "vp": 1}, "gpa",
             "GPA-Net's own recipe: the runs of GPA-Net Table 1"),
         MBA, Row("RGA-Net", "RGA-Net", note=NOT_IMPLEMENTED), Row("ABD-Net", "ABD-Net", note=NOT_IMPLEMENTED),
         LAGA),
        tuple(_col(d) for d in HAND), published=_cells(pub.LAGA_TABLE5)),
    Experiment(
        "laga-fig3", "LAGA-Net", "Fig. 3", "retrieval",
        "Top-5 on Market-1501: LAGA-Net against its global component (baseline)",
        (LAGA, Row("global", "Global (baseline)", "laganet", {"branches": ["global"]}, "laga")),
        (_col("market1501"),), figure={"queries": 3, "top_k": 5}),
    Experiment(
        "laga-fig4", "LAGA-Net", "Fig. 4", "retrieval",
        "Query and ranked gallery images of LAGA-Net on D-r, D-l, P-r of 11k and HD",
        (LAGA,), tuple(_col(d) for d in ("11k-dr", "11k-dl", "11k-pr", "hd")),
        figure={"queries": 1, "top_k": 10}),
]}

TABLES = tuple(k for k, e in EXPERIMENTS.items() if not e.is_figure)
FIGURES = tuple(k for k, e in EXPERIMENTS.items() if e.is_figure)


def get(key: str) -> Experiment:
    try:
        return EXPERIMENTS[key]
    except KeyError:
        raise KeyError(f"unknown experiment {key!r}; known: {', '.join(EXPERIMENTS)}") from None


def select(spec: str | Sequence[str] | None = None) -> list[Experiment]:
    """Experiments named by ``spec``: None or "all", keys, or shell patterns ("gpa-*"), comma-separated."""
    if spec is None:
        return list(EXPERIMENTS.values())
    items = [s.strip() for s in (spec.split(",") if isinstance(spec, str) else spec) if s.strip()]
    if not items or "all" in items:
        return list(EXPERIMENTS.values())
    keys: list[str] = []
    for it in items:
        hit = [k for k in EXPERIMENTS if fnmatch.fnmatchcase(k, it)]
        if not hit:
            raise ValueError(f"no table or figure matches {it!r}; known: {', '.join(EXPERIMENTS)} "
                             "(or 'all', or a pattern such as 'gpa-*')")
        keys += [k for k in hit if k not in keys]
    return [EXPERIMENTS[k] for k in EXPERIMENTS if k in keys]


class Selection:
    """Valid values of a notebook's ``only`` parameter (for :func:`handreid.params.validate`)."""

    def __iter__(self):
        return iter(("all", *EXPERIMENTS))

    def __contains__(self, value) -> bool:
        if not isinstance(value, str):
            return False
        try:
            select(value)
        except ValueError:
            return False
        return True


# ----------------------------------------------------------------------------- run planning
#: Demo-profile settings per (recipe, data kind), applied on top of the demo profile only, so
#: that every table and figure comes out on 2 CPU cores in under 30 minutes (numbers
#: meaningless, structure complete). Measured with two runs at once on the 2 shared cores of
#: the development machine (README "Tables"): GPA-Net / ResNet50 20-35 s per run, VGG19-bn
#: 45-60 s (its 140M parameters make each step and checkpoint slow, hence 2 epochs), LAGA-Net
#: and MBA-Net 80-100 s on the hand data (half of it the flip-averaged evaluation), 50-65 s on
#: the body sets; the whole sweep 18 min 46 s. 48x48 keeps ResNet50's layer4 map at 2x2 (at
#: 32x32 it is 1x1, where BatchNorm over a small last batch blows the weights up).
DEMO_OVERRIDES: dict[tuple[str, str], dict] = {
    ("gpa", "hand"): {"epochs": 4, "image_size": [48, 48]},
    ("gpa", "body"): {"epochs": 4, "image_size": [64, 32]},
    ("laga", "hand"): {"epochs": 2, "image_size": [32, 32]},
    ("laga", "body"): {"epochs": 2, "image_size": [48, 32]},
}
#: ... and per method (after the above).
DEMO_METHOD_OVERRIDES: dict[str, dict] = {"vgg19bn": {"epochs": 2}}
#: Demo runs left at the demo profile's own settings (40 epochs at 64x64, a minute or two each on
#: 2 cores): GPA-Net against ResNet50 on D-r (Table 1's first column, Fig. 2), the demo's one
#: comparison trained long enough to show learning.
DEMO_FULL_RUNS = {("11k-dr", "gpanet"), ("11k-dr", "resnet50")}


def data_kind(dataset: str) -> str:
    return "body" if dataset in BODY else "hand"


def eval_repeats_of(dataset: str) -> int:
    """10 query/gallery draws for hand data, 1 for the body benchmarks (one fixed split)."""
    try:
        from .data import dataset_repeats
        return dataset_repeats(dataset)
    except Exception:  # noqa: BLE001 - an unknown name fails later, in make_config, with a clear message
        return 1 if dataset in BODY else 10


def run_params(row: Row, column: Column, profile: str = "demo", seed: int = 0,
               options: Mapping | None = None) -> dict:
    """The run notebook's parameters of one cell's training (without device or paths)."""
    if not row.reproduced:
        raise ValueError(f"{row.label} is published only: handreid has no model for it")
    ds = column.train
    p = {"dataset": ds, "method": row.method,
         "method_options": dict(options if options is not None else {**row.options, **column.options}),
         "recipe": row.recipe, "profile": profile, "seed": int(seed), "eval_repeats": eval_repeats_of(ds)}
    if profile == "demo" and (ds, row.method) not in DEMO_FULL_RUNS:
        p.update(DEMO_OVERRIDES.get((row.recipe, data_kind(ds)), {}))
        p.update(DEMO_METHOD_OVERRIDES.get(row.method, {}))
    return p


def run_id_of(params: Mapping) -> str:
    """The engine's run id of ``params`` (paths and device do not enter it)."""
    from .engine.config import make_config

    p = dict(params)
    if p.get("profile") == "paper" and not p.get("data_root"):
        p["data_root"] = "/DATA_ROOT"  # identity does not depend on it; make_config requires one
    return make_config(**p).run_id()


@dataclass
class RunPlan:
    """One training: the run notebook's parameters and the cells that need it."""

    run_id: str
    params: dict
    needed_by: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        p = self.params
        opts = ", ".join(f"{k}={v}" for k, v in sorted(p["method_options"].items()))
        return f"{p['method']}({opts}) on {p['dataset']} [{p['recipe']}, seed {p['seed']}]"


@dataclass
class EvalPlan:
    """An evaluation derived from a finished run: ``cross`` (metrics on another dataset's
    repeats) or ``retrieval`` (ranked gallery lists for a figure)."""

    kind: str
    run_id: str
    dataset: str
    params: dict
    options: dict = field(default_factory=dict)
    needed_by: list[str] = field(default_factory=list)

    @property
    def key(self) -> tuple:
        return (self.kind, self.run_id, self.dataset)

    def path(self, runs_root: str | Path) -> Path:
        return Path(runs_root) / self.run_id / self.kind / f"{self.dataset}.json"

    @property
    def label(self) -> str:
        return f"{self.kind} {self.run_id} on {self.dataset}"


@dataclass
class Plan:
    experiments: list[Experiment]
    runs: list[RunPlan]
    evals: list[EvalPlan]


def cell_runs(exp: Experiment, row: Row, column: Column, profile: str = "demo", seeds: int = 1
              ) -> list[tuple[str, dict]]:
    """``[(run_id, params)]`` of one cell, one per seed; empty for published-only rows and stats."""
    if exp.kind == "stats" or not row.reproduced:
        return []
    out = []
    for seed in range(seeds):
        p = run_params(row, column, profile, seed, exp.cell_options(row, column))
        out.append((run_id_of(p), p))
    return out


def plan(spec: str | Sequence[str] | Iterable[Experiment] | None = None, profile: str = "demo",
         seeds: int = 1, datasets: Sequence[str] | None = None, methods: Sequence[str] | None = None
         ) -> Plan:
    """Trainings and derived evaluations of the selected experiments, each once.

    ``datasets`` / ``methods`` keep only the cells trained on those datasets / with those
    methods (e.g. the quick check ``datasets=["11k-dr"], methods=["gpanet", "resnet50"]``).
    """
    if seeds < 1:
        raise ValueError(f"seeds={seeds!r}: expected a positive number of training seeds")
    exps = spec if (isinstance(spec, (list, tuple)) and spec and isinstance(spec[0], Experiment)) \
        else select(spec)
    runs: dict[str, RunPlan] = {}
    evals: dict[tuple, EvalPlan] = {}
    for exp in exps:
        for row in exp.rows:
            if methods and row.method not in methods:
                continue
            for col in exp.columns:
                if datasets and col.train not in datasets:
                    continue
                who = exp.cell_name(row, col)
                for rid, p in cell_runs(exp, row, col, profile, seeds):
                    runs.setdefault(rid, RunPlan(rid, p)).needed_by.append(who)
                    if col.cross:
                        e = EvalPlan("cross", rid, col.test, p)
                    elif exp.kind == "retrieval":
                        e = EvalPlan("retrieval", rid, col.train, p, dict(exp.figure))
                    else:
                        continue
                    if e.kind == "retrieval" and p["seed"] != 0:
                        continue  # figures show the seed-0 model
                    evals.setdefault(e.key, e).needed_by.append(who)
                    if e.kind == "retrieval":  # several figures on one run: enough queries for each
                        cur = evals[e.key].options
                        for k in ("queries", "top_k"):
                            cur[k] = max(cur.get(k, 0), exp.figure.get(k, 0))
    return Plan(list(exps), list(runs.values()), list(evals.values()))


# ----------------------------------------------------------------------------- demo data
def prepare_demo_data(datasets: Iterable[str], root: str | Path | None = None) -> Path:
    """Write the synthetic trees (real on-disk formats) of ``datasets`` under the demo data root.

    The engine's demo parameters (``engine.config.ensure_demo_data``); idempotent.
    """
    from .engine.config import ensure_demo_data

    return ensure_demo_data(root, tuple(sorted(set(datasets))))


# ----------------------------------------------------------------------------- cost estimate
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

    from .models import attention, build_model

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
    from .engine.config import make_config

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


class _OptionalFolder:
    """None or a folder path given as a string (notebook parameter ``data_root``)."""

    def __iter__(self):
        return iter(("None", "a folder path"))

    def __contains__(self, value) -> bool:
        return value is None or (isinstance(value, str) and bool(value.strip()))


def notebook_choices(notebook: str) -> dict:
    """Allowed values of the tables / figures notebooks' parameters (for :func:`handreid.params.validate`)."""
    choices = {"profile": ("demo", "paper"), "seeds": range(1, 11), "only": Selection()}
    if notebook == "tables":
        choices["data_root"] = _OptionalFolder()
    elif notebook != "figures":
        raise ValueError(f"notebook={notebook!r}: expected 'tables' or 'figures'")
    return choices


def selected(only: str, key: str) -> bool:
    """True when experiment ``key`` is in the notebook selection ``only`` ("all", keys or patterns)."""
    return key in {e.key for e in select(only)}
