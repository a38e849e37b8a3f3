"""From a selection of tables and figures to the work they need: one :class:`Task` per item.

>>> from handreid.repro import plan
>>> p = plan.plan(["gpa-table1", "gpa-table3"], profile="demo")
>>> len(p.runs)            # 26: GPA-Net hp=3, vp=1 on P-r is trained once

A :class:`Task` is one unit of work from the planner through the sweep to the record it
writes (docs/DESIGN.md §4): a training (``kind="train"``: the run notebook's parameters; its
record is the run directory) or an evaluation derived from a finished run (``"cross"``:
metrics of the model on another dataset's repeats, GPA-Net Table 2; ``"retrieval"``: ranked
gallery lists for the figures). Where each record lives is :mod:`handreid.engine.records`'s
business. Each training appears once per distinct ``run_id`` (the engine derives it from
everything that decides the result), so a run shared by several tables is trained once.
``seeds=N`` repeats every training with seeds 0..N-1; ``seeds=None`` takes each table's default
(:func:`~handreid.repro.experiments.seeds_of`: 3 for the demo's headline comparisons, else 1).

Demo profile: :data:`DEMO_OVERRIDES` shrink epochs and images per recipe and data kind so that
every table and figure comes out on 2 CPU cores in minutes (BENCHMARKS.md has the timings).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from ..data.datasets import kind_of, repeats_of
from ..engine import records
from ..io import read_json
from ..paths import runs_dir
from .experiments import Column, Experiment, Row, check_seeds, seeds_of, select

__all__ = ["DEMO_OVERRIDES", "Plan", "Task", "cell_runs",
           "plan", "run_id_of", "run_params"]

#: Demo-profile settings per (recipe, data kind), applied on top of the demo profile (11 epochs on
#: hands, 40 on bodies, 64x64, the small pretrained trunk: engine.config.PROFILES): body images keep
#: their 2:1 shape.
DEMO_OVERRIDES: dict[tuple[str, str], dict] = {
    ("gpa", "body"): {"image_size": [64, 32]},
    ("laga", "body"): {"image_size": [64, 32]},
    # RGA-Net's and ABD-Net's own batches (16 identities x 4) exceed the demo CUHK03's 12 training ids.
    ("rga", "body"): {"image_size": [64, 32], "batch_size": 20},
    ("abd", "body"): {"image_size": [64, 32], "batch_size": 20},
}


def run_params(row: Row, column: Column, profile: str = "demo", seed: int = 0,
               options: Mapping | None = None) -> dict:
    """The run notebook's parameters of one cell's training (without device or paths)."""
    if not row.reproduced:
        raise ValueError(f"{row.label} is published only: handreid has no model for it")
    ds = column.train
    p = {"dataset": ds, "method": row.method,
         "method_options": dict(options if options is not None else {**row.options, **column.options}),
         "recipe": row.recipe, "profile": profile, "seed": int(seed), "eval_repeats": repeats_of(ds)}
    if profile == "demo":
        p.update(DEMO_OVERRIDES.get((row.recipe, kind_of(ds)), {}))
    return p


def run_id_of(params: Mapping) -> str:
    """The engine's run id of ``params`` (paths and device do not enter it)."""
    from ..engine.config import make_config

    p = dict(params)
    if p.get("profile") == "paper" and not p.get("data_root"):
        p["data_root"] = "/DATA_ROOT"  # identity does not depend on it; make_config requires one
    return make_config(**p).run_id()


@dataclass
class Task:
    """One unit of work and the record it produces.

    ``kind``: ``"train"`` (``params`` are the run notebook's parameters), ``"cross"`` or
    ``"retrieval"`` (``params`` are those of the finished source run, ``dataset`` the one it
    is evaluated on, ``options`` the figure's ``queries`` / ``top_k``). ``needed_by`` names the
    table cells that want it. The sweep adds the machine's parameters (``data_root``,
    ``out_dir``, ``device``) with :meth:`with_params`.
    """

    kind: str
    run_id: str
    params: dict
    dataset: str = ""
    options: dict = field(default_factory=dict)
    needed_by: list[str] = field(default_factory=list)
    log_output: bool = True

    def __post_init__(self):
        if self.kind == "train" and not self.dataset:
            self.dataset = self.params.get("dataset", "")

    @property
    def key(self) -> tuple:
        return (self.kind, self.run_id, self.dataset)

    @property
    def label(self) -> str:
        if self.kind != "train":
            return f"{self.kind} {self.run_id} on {self.dataset}"
        p = self.params
        opts = ", ".join(f"{k}={v}" for k, v in sorted(p["method_options"].items()))
        return f"{p['method']}({opts}) on {p['dataset']} [{p['recipe']}, seed {p['seed']}]"

    @property
    def runs_root(self) -> Path:
        return Path(self.params["out_dir"]) if self.params.get("out_dir") else runs_dir()

    @property
    def run_dir(self) -> Path:
        return self.runs_root / self.run_id

    @property
    def target(self) -> Path:
        """The record whose presence marks the task done."""
        if self.kind == "train":
            return self.run_dir / records.METRICS
        return records.derived_path(self.run_dir, self.kind, self.dataset)

    def finished(self) -> bool:
        if not self.target.exists():
            return False
        if self.kind == "retrieval":  # enough queries and ranks for every figure that wants it
            rec = read_json(self.target)
            return (len(rec.get("queries", [])) >= self.options.get("queries", 1)
                    and rec.get("top_k", 0) >= self.options.get("top_k", 1))
        return True

    def with_params(self, common: Mapping, log_output: bool | None = None) -> "Task":
        """A copy with ``common`` parameters (``None`` values ignored) added."""
        extra = {k: v for k, v in common.items() if v is not None}
        return replace(self, params={**self.params, **extra}, options=dict(self.options),
                       needed_by=list(self.needed_by),
                       log_output=self.log_output if log_output is None else log_output)


@dataclass
class Plan:
    experiments: list[Experiment]
    runs: list[Task]
    evals: list[Task]


def cell_runs(exp: Experiment, row: Row, column: Column, profile: str = "demo", seeds: int = 1,
              variant: str | None = None) -> list[tuple[str, dict]]:
    """``[(run_id, params)]`` of one cell, one per seed; empty for published-only rows, stats, and
    cells whose configuration ``variant`` rejects (the authors' SAM-RPE on non-square images)."""
    if exp.kind == "stats" or not row.reproduced:
        return []
    out = []
    for seed in range(seeds):
        p = run_params(row, column, profile, seed, exp.cell_options(row, column))
        if variant is not None:
            p["variant"] = variant
        try:
            out.append((run_id_of(p), p))
        except ValueError:
            if variant is None:
                raise
            return []
    return out


def plan(spec: str | Sequence[str] | Iterable[Experiment] | None = None, profile: str = "demo",
         seeds: int | None = None, datasets: Sequence[str] | None = None, methods: Sequence[str] | None = None
         ) -> Plan:
    """Trainings and derived evaluations of the selected experiments, each once.

    ``datasets`` / ``methods`` keep only the cells trained on those datasets / with those
    methods (e.g. the quick check ``datasets=["11k-dr"], methods=["gpanet", "resnet50"]``).
    """
    if seeds is not None:
        check_seeds(seeds)  # a bad value fails before anything is planned
    exps = spec if (isinstance(spec, (list, tuple)) and spec and isinstance(spec[0], Experiment)) \
        else select(spec)
    runs: dict[str, Task] = {}
    evals: dict[tuple, Task] = {}
    for exp in exps:
        for row in exp.rows:
            if methods and row.method not in methods:
                continue
            for col in exp.columns:
                if datasets and col.train not in datasets:
                    continue
                who = exp.cell_name(row, col)
                for rid, p in cell_runs(exp, row, col, profile, seeds_of(exp, profile, seeds)):
                    runs.setdefault(rid, Task("train", rid, p)).needed_by.append(who)
                    if col.cross:
                        e = Task("cross", rid, p, col.test)
                    elif exp.kind == "retrieval":
                        e = Task("retrieval", rid, p, col.train, dict(exp.figure))
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
