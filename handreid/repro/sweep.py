"""The sweep: every training the selected tables and figures need, then what derives from them.

>>> from handreid.repro import sweep
>>> outcomes = sweep.reproduce("gpa-table1", profile="demo")            # trains, evaluates, summarises
>>> sweep.reproduce("all", profile="paper", data_root="/data", dry_run=True)   # what would run, and why

The sweep only schedules: what to do comes from :mod:`handreid.repro.plan` (one
:class:`~handreid.repro.plan.Task` per training or derived evaluation), how to evaluate from
:mod:`handreid.engine.evaluate`, where records live from :mod:`handreid.engine.records`.

1. :func:`handreid.repro.plan.plan` lists the trainings (one per distinct run id) and the
   derived evaluations (cross-domain metrics, retrieval lists for the figures).
2. Each training executes the run notebook ``notebooks/train_eval.ipynb`` with papermill into
   ``results/runs/<run_id>/run.ipynb``, in its worker's kernel (:mod:`handreid.repro.kernel`:
   one kernel per worker, reset between notebooks); a finished run (its ``metrics.json`` exists) is skipped,
   a failed one keeps its partial notebook as ``run.failed.ipynb`` and the sweep goes on.
   Nothing is retried: a rerun of the sweep tries the unfinished runs again.
3. Derived evaluations load a finished run's ``model.pt`` and write
   ``<run_dir>/cross/<dataset>.json`` or ``<run_dir>/retrieval/<dataset>.json``.
4. A summary lists the failures (and the evaluations they blocked) at the end.

Where the work runs (``executor``):

- ``local`` (default): ``jobs`` notebooks at once in worker processes
  (:class:`concurrent.futures.ProcessPoolExecutor`); with ``device="auto"`` and several GPUs,
  task *i* gets ``cuda:(i mod #GPUs)``, so ``jobs`` > #GPUs shares each GPU between runs (one
  run at the papers' batch of 20 leaves a large GPU mostly idle). On a CPU, each of the
  ``jobs`` workers gets ``cores // jobs`` threads.
- ``slurm``: one Slurm job per task through submitit's ``AutoExecutor`` (``slurm_*`` options);
  ``submitit-local`` / ``submitit-debug``: submitit's local and debug executors, same code path.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import logging
import multiprocessing
import os
import re
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence

from ..data.datasets import repeats_of
from ..data.synthetic.demo import prepare_demo_data
from ..engine import pretrain, records
from ..engine.config import make_config
from ..io import write_json
from ..paths import project_root, results_dir
from . import cost
from . import plan as planning
from .plan import Plan, Task
from .status import LiveStatus

RUN_NOTEBOOK = "train_eval.ipynb"
#: How papermill starts each notebook's kernel. The kernel's own log level is ERROR: at WARNING it
#: prints "Kernel is running over TCP without encryption" for every notebook, which says that the
#: kernel and this process talk over unencrypted TCP on the loopback interface of this machine
#: (jupyter's default); nothing leaves the machine. Errors still show, and so does every output
#: of the notebook itself. A sweep may print "[IPKernelApp] ERROR | KeyboardInterrupt caught in
#: kernel." now and then (6 of 124 runs in one demo sweep): jupyter_client sends every kernel it
#: shuts down a SIGINT before the shutdown request (``KernelManager.shutdown_kernel``), after the
#: notebook has finished and been saved, and ipykernel logs that interrupt depending on timing.
KERNEL = {"kernel_name": "python3", "extra_arguments": ["--IPKernelApp.log_level=ERROR"]}
EXECUTORS = ("local", "slurm", "submitit-local", "submitit-debug")


def notebooks_dir() -> Path:
    return project_root() / "notebooks"


#: Below this share of its training images classified, the summary names a training (issue 16's
#: "every demo run learns": each trains to a plateau that fits its training data).
LOW_FIT = 80.0


@dataclass
class Outcome:
    run_id: str
    status: str            # "done", "skipped" (already finished), "failed", "planned" (dry run), "blocked"
    seconds: float = 0.0
    error: str = ""
    kind: str = "train"
    dataset: str = ""
    rank1: float | None = None     # a finished training's rank-1 (%, mean over the repeats)
    fit_acc: float | None = None   # ... and the share of its training images it classifies (%)

    @property
    def name(self) -> str:
        return self.run_id if self.kind == "train" else f"{self.kind} {self.run_id} -> {self.dataset}"


# ----------------------------------------------------------------------------- the work
def _stream_papermill_log() -> None:
    """Show the notebooks' output as they run (papermill logs it at INFO)."""
    log = logging.getLogger("papermill")
    if not log.handlers:
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter("%(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False


def run_one(params: dict, log_output: bool = True) -> Outcome:
    """Execute the run notebook for ``params`` into its run directory (skip if finished)."""
    import papermill

    from . import kernel

    if log_output:
        _stream_papermill_log()
    cfg = make_config(**params)
    run_dir = cfg.runs_root / cfg.run_id()
    if (run_dir / records.METRICS).exists():
        return Outcome(run_dir.name, "skipped", dataset=cfg.dataset)
    run_dir.mkdir(parents=True, exist_ok=True)
    partial = run_dir / "run.partial.ipynb"
    t0 = time.perf_counter()
    try:
        papermill.execute_notebook(
            str(notebooks_dir() / RUN_NOTEBOOK), str(partial), parameters=_notebook_params(params),
            cwd=str(notebooks_dir()), log_output=log_output, progress_bar=False, engine_name=kernel.ENGINE, **KERNEL)
    except Exception as e:  # noqa: BLE001 - a failed run must not stop the sweep
        if partial.exists():
            os.replace(partial, run_dir / "run.failed.ipynb")
        return Outcome(run_dir.name, "failed", time.perf_counter() - t0, _last_line(e), dataset=cfg.dataset)
    if not (run_dir / records.METRICS).exists():
        # The kernel derived another run id: handreid changed under a running sweep (or an
        # out_dir mismatch). Never report such a run as done: its record is not where the tables look.
        os.replace(partial, run_dir / "run.failed.ipynb")
        return Outcome(run_dir.name, "failed", time.perf_counter() - t0,
                       "the notebook finished but wrote no record here: its run id differs from the planned "
                       "one (was handreid edited during the sweep?); see run.failed.ipynb", dataset=cfg.dataset)
    os.replace(partial, run_dir / "run.ipynb")
    (run_dir / "run.failed.ipynb").unlink(missing_ok=True)
    run = records.load_run(run_dir)
    return Outcome(run_dir.name, "done", time.perf_counter() - t0, dataset=cfg.dataset,
                   rank1=run.summary()["rank1_mean"], fit_acc=run.fit_acc())


def _last_line(e: BaseException) -> str:
    """The line of an error message that says what went wrong (a traceback's last exception line)."""
    msg = [ln.strip() for ln in str(e).strip().splitlines() if ln.strip()]
    errors = [ln for ln in msg if re.match(r"^[A-Za-z_.]*(Error|Exception|Interrupt|Exit)\b:?", ln)]
    if errors:
        return errors[-1]
    return msg[-1] if msg else (type(e).__name__ + ": " + traceback.format_exc(limit=1).strip())


def _source(task: Task):
    """Config, recipe, model and device of the finished run a derived task starts from."""
    from ..engine.evaluate import resolve_device
    from ..engine.train import load_model

    run = records.load_run(task.run_dir)
    cfg = make_config(**{**run.parameters(), **{k: task.params[k] for k in ("device", "data_root")
                                                   if task.params.get(k) is not None}})
    device = resolve_device(cfg.device)
    return cfg, cfg.resolved_recipe(), load_model(task.run_dir, device), device


def evaluate_cross(task: Task) -> Path:
    """Metrics of a finished run's model on ``task.dataset``'s repeats (GPA-Net Table 2)."""
    from ..engine.evaluate import aggregate, evaluate_repeats

    cfg, recipe, model, device = _source(task)
    repeats = min(cfg.eval_repeats, repeats_of(task.dataset))
    rows = evaluate_repeats(model, task.dataset, cfg.prepare_root(), cfg.split_seed, range(repeats), recipe.image_size,
                            device, flip=recipe.flip_test, resize_filter=recipe.resize_filter)
    write_json(task.target, {"run_id": task.run_id, "train_dataset": cfg.dataset, "dataset": task.dataset,
                             "per_repeat": rows, "summary": aggregate(rows)})
    return task.target


def compute_retrieval(task: Task) -> Path:
    """Ranked gallery lists of a few queries (repeat 0) for the retrieval figures. The images
    described are those of the run's evaluation (every repeat's query and gallery): their decoded
    cache exists, where repeat 0's alone would be decoded anew from the JPEGs into another cache file."""
    from ..data import load_split
    from ..engine.evaluate import retrieval_lists

    cfg, recipe, model, device = _source(task)
    splits = [load_split(task.dataset, root=cfg.prepare_root(), repeat=r, seed=cfg.split_seed)
              for r in range(min(cfg.eval_repeats, repeats_of(task.dataset)))]
    top_k = int(task.options.get("top_k", 10))
    out = retrieval_lists(model, splits[0], recipe.image_size, device, flip=recipe.flip_test,
                          queries=int(task.options.get("queries", 1)), top_k=top_k,
                          resize_filter=recipe.resize_filter,
                          frames=[f for s in splits for f in (s.query, s.gallery)])
    write_json(task.target, {"run_id": task.run_id, "dataset": task.dataset,  # paths relative to the data root
                             "method": cfg.method, "method_options": cfg.method_options,
                             "top_k": top_k, "queries": out})
    return task.target


def perform(task: Task) -> Outcome:
    """Do one task; never raises (a failure is an Outcome), so one bad task cannot stop the sweep."""
    t0 = time.perf_counter()
    if task.kind == "train":
        try:
            return run_one(task.params, log_output=task.log_output)
        except Exception as e:  # noqa: BLE001 - e.g. an invalid configuration
            return Outcome(task.run_id, "failed", time.perf_counter() - t0, _last_line(e))
    if task.finished():
        return Outcome(task.run_id, "skipped", kind=task.kind, dataset=task.dataset)
    try:
        (evaluate_cross if task.kind == "cross" else compute_retrieval)(task)
    except Exception as e:  # noqa: BLE001
        return Outcome(task.run_id, "failed", time.perf_counter() - t0, f"{type(e).__name__}: {_last_line(e)}",
                       kind=task.kind, dataset=task.dataset)
    return Outcome(task.run_id, "done", time.perf_counter() - t0, kind=task.kind, dataset=task.dataset)


# ----------------------------------------------------------------------------- executors
def local_devices(device: str = "auto") -> list[str]:
    """``cuda:0 .. cuda:N-1`` for ``auto``/``cuda`` with N local GPUs, else ``[device]``."""
    if device in ("auto", "cuda"):
        try:
            import torch
            n = torch.cuda.device_count()
        except Exception:  # noqa: BLE001
            n = 0
        if n:
            return [f"cuda:{i}" for i in range(n)]
    return [device]


def assign_devices(tasks: Sequence[Task], devices: Sequence[str]) -> None:
    """Round robin: task i runs on ``devices[i % len(devices)]``."""
    for i, t in enumerate(tasks):
        t.params["device"] = devices[i % len(devices)]


def _init_worker(threads: int | None) -> None:
    """A local worker's threads: its notebook kernels inherit them through the environment; its own
    torch, imported with this module before the initializer runs, is set directly (the derived
    evaluations run in the worker: two workers at two threads each on two cores ran them 10x slower)."""
    if threads:
        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = str(threads)
        import torch

        torch.set_num_threads(threads)


def _result(fn: Callable[[Task], Outcome], task: Task, get) -> Outcome:
    try:
        return get()
    except Exception as e:  # noqa: BLE001 - a crashed worker or a failed cluster job
        return Outcome(task.run_id, "failed", 0.0, f"{type(e).__name__}: {_last_line(e)}",
                       kind=task.kind, dataset=task.dataset)


def execute(tasks: Sequence[Task], jobs: int = 1, executor: str = "local", fn: Callable[[Task], Outcome] = perform,
            folder: str | Path | None = None, slurm: dict | None = None, progress: bool = True
            ) -> list[Outcome]:
    """Run ``fn(task)`` for every task, ``jobs`` at a time, on ``executor``; outcomes in task order."""
    if executor not in EXECUTORS:
        raise ValueError(f"executor={executor!r}: expected one of {', '.join(EXECUTORS)}")
    tasks = list(tasks)
    if not tasks:
        return []
    n = len(tasks)
    # One live line (runs done, epochs of the running ones, ETA) unless the notebooks stream their own output.
    status = LiveStatus(tasks, jobs) if progress and not (jobs <= 1 and any(t.log_output for t in tasks)) else None

    def note(i, o):
        if status is not None:
            status.finished(i, o.seconds)
            status.clear()
        if progress:
            print(f"[sweep {i + 1}/{n}] {o.status}: {o.name}"
                  + (f" ({o.seconds:.0f} s)" if o.seconds else "") + (f": {o.error}" if o.error else "")
                  + (f": rank-1 {o.rank1:.1f} %, fits {o.fit_acc:.1f} % of its training images"
                     if o.fit_acc is not None else ""), flush=True)

    with status if status is not None else contextlib.nullcontext():
        if executor == "local" and jobs <= 1:
            outcomes = []
            for i, t in enumerate(tasks):
                if progress and status is None:
                    print(f"[sweep {i + 1}/{n}] {t.kind} {t.run_id}"
                          + (f" -> {t.dataset}" if t.kind != "train" else f": {_describe(t.params)}"), flush=True)
                outcomes.append(_result(fn, t, lambda t=t: fn(t)))
                note(i, outcomes[-1])
            return outcomes

        if executor == "local":
            on_cpu = all(str(t.params.get("device", "auto")) == "cpu" for t in tasks) or not _has_cuda()
            threads = max(1, (os.cpu_count() or 1) // jobs) if on_cpu else None
            outcomes: list[Outcome | None] = [None] * n
            with cf.ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn"),
                                        initializer=_init_worker, initargs=(threads,)) as pool:
                futures = {pool.submit(fn, t): i for i, t in enumerate(tasks)}
                for fut in cf.as_completed(futures):
                    i = futures[fut]
                    outcomes[i] = _result(fn, tasks[i], fut.result)
                    note(i, outcomes[i])
            return outcomes  # type: ignore[return-value]

        return _execute_submitit(tasks, fn, executor, folder, jobs, slurm, note)


def _execute_submitit(tasks, fn, executor, folder, jobs, slurm, note) -> list[Outcome]:
    ex_ = make_executor(executor, folder, jobs, slurm)
    if executor == "slurm":
        subs = ex_.map_array(fn, tasks)
    else:
        subs = [ex_.submit(fn, t) for t in tasks]
    outcomes = []
    for i, (t, job) in enumerate(zip(tasks, subs)):
        outcomes.append(_result(fn, t, job.result))
        note(i, outcomes[-1])
    return outcomes


def make_executor(executor: str, folder: str | Path | None = None, jobs: int = 1, slurm: dict | None = None):
    """A submitit executor: ``slurm`` (AutoExecutor; one GPU per job, ``slurm`` overrides the
    parameters, e.g. ``{"slurm_partition": "gpu", "timeout_min": 600}``), ``submitit-local`` or
    ``submitit-debug``. Logs and pickles go to ``folder`` (default ``results/submitit``)."""
    import submitit

    folder = str(Path(folder) if folder else results_dir() / "submitit")
    if executor == "submitit-debug":
        return submitit.DebugExecutor(folder=folder)
    if executor == "submitit-local":
        ex_ = submitit.LocalExecutor(folder=folder)
        ex_.update_parameters(timeout_min=int((slurm or {}).get("timeout_min", 60 * 24)))
        return ex_
    if executor != "slurm":
        raise ValueError(f"executor={executor!r} is not a submitit executor")
    ex_ = submitit.AutoExecutor(folder=folder, cluster="slurm")
    params = {"timeout_min": 60 * 24, "gpus_per_node": 1, "cpus_per_task": 6, "slurm_array_parallelism": jobs,
              "name": "handreid"}
    params.update(slurm or {})
    ex_.update_parameters(**params)
    return ex_


def _has_cuda() -> bool:
    try:
        import torch
        return torch.cuda.is_available()
    except Exception:  # noqa: BLE001
        return False


def _describe(p: dict) -> str:
    opts = ", ".join(f"{k}={v}" for k, v in sorted(p.get("method_options", {}).items()))
    return f"{p['method']}({opts}) on {p['dataset']}, recipe {p['recipe']}, seed {p.get('seed', 0)}"


# ----------------------------------------------------------------------------- the sweep
def tasks_of(plan: Plan, common: dict | None = None, log_output: bool = True) -> tuple[list[Task], list[Task]]:
    """Training tasks and derived tasks of a plan, with ``common`` parameters (data_root, out_dir, device)."""
    common = common or {}
    return ([t.with_params(common, log_output) for t in plan.runs],
            [t.with_params(common, log_output) for t in plan.evals])


def with_variant(trains: list[Task], derived: list[Task], variant: str | None
                 ) -> tuple[list[Task], list[Task], list[Outcome]]:
    """The tasks with ``variant`` in their parameters and the run ids that follow; a task whose
    configuration the variant rejects (the authors' SAM-RPE on non-square body images) becomes a
    "blocked" outcome with the reason."""
    if variant is None:
        return trains, derived, []
    kept: tuple[list[Task], list[Task]] = ([], [])
    rejected = []
    for group, tasks in zip(kept, (trains, derived)):
        for t in tasks:
            try:
                rid = planning.run_id_of({**t.params, "variant": variant})
            except ValueError as e:
                rejected.append(Outcome(t.run_id, "blocked", error=str(e), kind=t.kind,
                                        dataset=t.dataset or t.params.get("dataset", "")))
                continue
            t.params["variant"], t.run_id = variant, rid
            group.append(t)
    return kept[0], kept[1], rejected


def dry_run_listing(plan: Plan, trains: Sequence[Task], derived: Sequence[Task], profile: str,
                    missing: set[str] = frozenset()) -> str:
    """What would run and why: one line per training (with its estimated cost in the paper profile);
    ``missing``: datasets that are not present (their trainings are listed as blocked)."""
    lines = []
    total = 0.0
    pending = [t for t in trains if not t.finished() and t.params["dataset"] not in missing]
    cross_of: dict[str, list[str]] = {}
    for d in derived:
        if d.kind == "cross":
            cross_of.setdefault(d.run_id, []).append(d.dataset)
    lines.append(f"{len(trains)} trainings for {', '.join(e.key for e in plan.experiments)} "
                 f"({profile} profile): {len(pending)} to run, {sum(t.finished() for t in trains)} finished"
                 + (f", {len(trains) - len(pending) - sum(t.finished() for t in trains)} blocked: data missing"
                    if missing else ""))
    for t in trains:
        status = "finished" if t.finished() else "blocked: data missing" if t.params["dataset"] in missing else "to run"
        price = ""
        if profile == "paper":
            c = cost.estimate_cost(t.params, cross_of.get(t.run_id, ()))
            if status == "to run":
                total += c["gpu_hours"]
            price = (f"  ~{cost.format_hours(c['gpu_hours'])} GPU ({c['epochs']} epochs x {c['train_images']} images"
                    f" at {c['image_size'][0]}x{c['image_size'][1]}, {c['gflops_per_image']:.0f} GFLOPs/image)")
        why = "; ".join(t.needed_by[:3]) + (f"; +{len(t.needed_by) - 3} more" if len(t.needed_by) > 3 else "")
        lines.append(f"  [{status}] {t.run_id}  {_describe(t.params)}{price}\n      for {why}")
    if derived:
        lines.append(f"{len(derived)} evaluations of finished runs (cross-domain, retrieval figures):")
        for d in derived:
            status = "finished" if d.finished() else "to evaluate"
            lines.append(f"  [{status}] {d.kind} {d.run_id} -> {d.dataset}  for {'; '.join(d.needed_by[:2])}")
    if profile == "paper":
        g = cost.GPU_ASSUMPTION
        lines.append(f"estimated total for the trainings to run: ~{total:.1f} GPU-hours on an {g['gpu']} "
                     f"(FLOPs from torch's counter, {g['utilisation']:.0%} of {g['peak_tflops']} TFLOP/s; "
                     "see handreid.repro.cost.estimate_cost)")
    return "\n".join(lines)


def trunks_first(tasks: Sequence[Task], trunks: Sequence[str]) -> list[Task]:
    """``tasks`` with, for each pretraining run in ``trunks``, the first task that uses it moved to the
    front: the workers then pretrain the missing trunks side by side instead of waiting for one. The
    other users of every missing trunk but the most used one go to the back (otherwise a worker
    that picks one up early waits until that trunk is pretrained: VGG19-bn's takes about three times
    ResNet50's); the rest keep their order."""
    if not trunks:
        return list(tasks)
    uses = [set((make_config(**t.params).pretraining() or {}).values()) & set(trunks) for t in tasks]
    first: list[int] = []
    for run_id in trunks:
        i = next((i for i, u in enumerate(uses) if run_id in u and i not in first), None)
        if i is not None:
            first.append(i)
    most = max(trunks, key=lambda r: sum(r in u for u in uses))
    rest = [i for i in range(len(tasks)) if i not in first]
    late = [i for i in rest if uses[i] - {most}]
    return [tasks[i] for i in first + [i for i in rest if i not in late] + late]


def summary(outcomes: Sequence[Outcome]) -> str:
    order = ("done", "skipped", "planned", "failed", "blocked")
    counts = {s: sum(o.status == s for o in outcomes) for s in order}
    lines = ["sweep: " + (", ".join(f"{n} {s}" for s, n in counts.items() if n) or "nothing to do")]
    for o in outcomes:
        if o.status in ("failed", "blocked"):
            lines.append(f"  {o.status}: {o.name}" + (f": {o.error}" if o.error else ""))
    if counts["failed"]:
        lines.append("  (a failed training keeps its notebook as results/runs/<run_id>/run.failed.ipynb; "
                     "rerun the same command to try the unfinished runs again)")
    low = [o for o in outcomes if o.fit_acc is not None and o.fit_acc < LOW_FIT]
    if low:
        lines.append(f"  {len(low)} of the trainings done fit less than {LOW_FIT:.0f} % of their training images "
                     "(eval mode, no augmentation: records' fit_acc): "
                     + ", ".join(f"{o.run_id} {o.fit_acc:.1f} %" for o in low))
    return "\n".join(lines)


def reproduce(tables: str | Sequence[str] | None = "all", profile: str = "demo", data_root: str | None = None,
              device: str = "auto", seeds: int | None = None, jobs: int = 1, executor: str = "local",
              dry_run: bool = False, datasets: Sequence[str] | None = None, methods: Sequence[str] | None = None,
              out_dir: str | None = None, log_output: bool = True, slurm: dict | None = None,
              notebooks: bool = True, retrain: bool = False, variant: str | None = None) -> list[Outcome]:
    """Plan, train, evaluate and (unless ``dry_run`` or ``notebooks=False``) run the tables and
    figures notebooks. Returns every task's outcome; prints the listing / summary.

    Trainings whose record exists (committed with the repository, or from an earlier sweep) are
    not trained again; ``retrain=True`` moves their run directories to ``runs-previous/`` beside
    the runs folder first, so they are trained anew.

    ``out_dir`` moves the run records (tests); the notebooks always read ``results/runs`` under
    ``HANDREID_OUTPUT`` (or the checkout), so use that variable to relocate a whole reproduction.
    ``variant`` ("paper" | "authors"; None: each recipe's default) is passed to every training.
    """
    if profile == "paper" and not data_root and not dry_run:
        raise ValueError("the paper profile needs data_root: the folder holding 11k/, HD/, Market-1501-v15.09.15/ ...")
    plan = planning.plan(tables, profile=profile, seeds=seeds, datasets=datasets, methods=methods)
    common = {"data_root": data_root, "out_dir": out_dir, "device": device}
    trains, derived = tasks_of(plan, common, log_output=log_output and jobs <= 1 and executor == "local")
    trains, derived, rejected = with_variant(trains, derived, variant)
    if rejected:
        print("\n".join(f"[handreid] not run with variant {variant!r}: {o.name}: {o.error}" for o in rejected),
              flush=True)
    missing: set[str] = set()
    if profile == "paper":  # the data check comes first; no training starts on data that is not there
        from ..data.check import preflight
        missing = preflight(plan, data_root, datasets, out=lambda text: print(text, flush=True))[1]
    if dry_run:
        print(dry_run_listing(plan, trains, derived, profile, missing), flush=True)
        return rejected + [Outcome(t.run_id, "skipped" if t.finished() else "blocked"
                                   if {t.dataset, t.params["dataset"]} & missing else "planned",
                                   kind=t.kind, dataset=t.dataset) for t in [*trains, *derived]]
    if profile == "demo" and data_root is None:
        needed = {t.params["dataset"] for t in trains} | {d.dataset for d in derived}
        world = bool(pretrain.missing(t.params for t in trains if retrain or not t.finished()))
        prepare_demo(needed, world, jobs if executor == "local" else 1)
    t0 = time.perf_counter()
    if retrain:
        moved = set_aside([t for t in trains if t.run_dir.exists()])
        if moved:
            print(f"[handreid] retrain: {len(moved)} run records moved to {moved[0].parent}", flush=True)
            # Their derived records went with them: redo those of every table, not only the selected ones.
            anew = {p.name for p in moved}
            everything = planning.plan("all", profile=profile, seeds=seeds, datasets=datasets, methods=methods)
            have = {d.key for d in derived}
            more = with_variant([], tasks_of(everything, common, log_output=False)[1], variant)[1]
            derived += [d for d in more if d.run_id in anew and d.key not in have]
    blocked = [t for t in trains if not t.finished() and t.dataset in missing]
    todo = [t for t in trains if not t.finished() and t not in blocked]
    skipped = [Outcome(t.run_id, "skipped", dataset=t.params["dataset"]) for t in trains if t.finished()]
    outcomes = rejected + skipped
    if skipped:
        print(f"[handreid] {len(skipped)} of {len(trains)} trainings already have a record in "
              f"{trains[0].runs_root} (committed with the repository, or from an earlier sweep): they are not "
              "trained again, and the tables and figures are rendered from them. To train them anew: "
              "`make reproduce RETRAIN=1` (--retrain; the old records move to runs-previous/); to check a few "
              "on this machine: `make verify`.", flush=True)
    if executor == "local":
        assign_devices(todo, local_devices(device))
    print(f"[handreid] {len(todo)} trainings to run, {len(skipped)} finished"
          + (f", {len(blocked)} blocked: data missing" if blocked else "") + f"; jobs={jobs}, executor={executor}",
          flush=True)
    outcomes += [Outcome(t.run_id, "blocked", error=f"data missing ({t.dataset})", dataset=t.dataset)
                 for t in blocked]
    trunks = pretrain.missing(t.params for t in todo)
    if trunks:
        print(f"[handreid] the first runs pretrain the demo's trunks {', '.join(trunks)} on its pretraining world "
              "(once per machine, in its cache; a minute or two): handreid.engine.pretrain", flush=True)
        todo = trunks_first(todo, trunks)
    outcomes += execute(todo, jobs=jobs, executor=executor, slurm=slurm)
    ready = [d for d in derived if (d.run_dir / records.METRICS).exists() and d.dataset not in missing]
    outcomes += [Outcome(d.run_id, "blocked", kind=d.kind, dataset=d.dataset,
                         error=f"data missing ({d.dataset})" if d.dataset in missing else "its training did not finish")
                 for d in derived if d not in ready]
    todo_d = [d for d in ready if not d.finished()]
    outcomes += [Outcome(d.run_id, "skipped", kind=d.kind, dataset=d.dataset) for d in ready if d.finished()]
    if todo_d:
        if executor == "local":
            assign_devices(todo_d, local_devices(device))
        print(f"[handreid] {len(todo_d)} evaluations of finished runs (cross-domain, retrieval lists)", flush=True)
        outcomes += execute(todo_d, jobs=jobs, executor=executor, slurm=slurm)
    if notebooks:
        only = tables if isinstance(tables, str) else ",".join(tables or ["all"])
        outcomes += render_notebooks(jobs if executor == "local" else 1, profile=profile, seeds=seeds,
                                     data_root=data_root, only=only or "all", variant=variant)
    print(summary(outcomes), flush=True)
    print(f"[handreid] {time.perf_counter() - t0:.0f} s", flush=True)
    return outcomes


def prepare_demo(datasets: Iterable[str], world: bool, jobs: int = 1) -> None:
    """The demo's synthetic trees of ``datasets`` and, when ``world``, the trunks' pretraining world
    (:func:`handreid.engine.pretrain.write_world`; both idempotent): side by side when ``jobs`` > 1,
    since the first runs wait for both (one core: demo trees about 14 s, world 20 s)."""
    if not (world and jobs > 1):
        prepare_demo_data(datasets)
        if world:
            pretrain.write_world()
        return
    with cf.ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        written = pool.submit(pretrain.write_world)
        prepare_demo_data(datasets)
        written.result()


def set_aside(tasks: Sequence[Task]) -> list[Path]:
    """Move the run directories of ``tasks`` to ``runs-previous/<run_id>`` beside their runs folder
    (an older copy there is replaced); returns the new locations."""
    import shutil

    moved = []
    for t in tasks:
        dest = t.runs_root.parent / "runs-previous" / t.run_id
        dest.parent.mkdir(parents=True, exist_ok=True)
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(t.run_dir, dest)
        moved.append(dest)
    return moved


def render_notebooks(jobs: int = 1, **params) -> list[Outcome]:
    """Run the tables and figures notebooks (:func:`run_notebook`), side by side when ``jobs`` > 1
    (each in its own process and kernel; neither reads what the other writes)."""
    names = ("tables", "figures")
    if jobs > 1:
        from concurrent.futures import ProcessPoolExecutor
        from multiprocessing import get_context

        threads = max(1, (os.cpu_count() or 1) // len(names))  # each kernel its share of the cores
        with ProcessPoolExecutor(len(names), mp_context=get_context("spawn"), initializer=_init_worker,
                                 initargs=(threads,)) as pool:
            futures = [pool.submit(run_notebook, name, **params) for name in names]
            results = [_settle(f.result) for f in futures]
    else:
        results = [_settle(run_notebook, name, **params) for name in names]
    return [Outcome(name, "failed", error=_last_line(r), kind="notebook") if isinstance(r, BaseException)
            else Outcome(name, "done", kind="notebook", dataset=str(r)) for name, r in zip(names, results)]


def _settle(fn: Callable, *args, **kwargs):
    """``fn(*args, **kwargs)``, or the exception it raised."""
    try:
        return fn(*args, **kwargs)
    except Exception as e:  # noqa: BLE001 - a failed notebook must not stop the other
        return e


def run_notebook(name: str, profile: str = "demo", seeds: int | None = None, data_root: str | None = None,
                 only: str = "all", variant: str | None = None) -> Path:
    """Execute ``notebooks/<name>.ipynb`` (tables or figures) into ``results/notebooks/<name>_<profile>.ipynb``."""
    import papermill

    out = results_dir() / "notebooks" / f"{name}_{profile}{f'-{variant}' if variant else ''}.ipynb"
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_suffix(".partial.ipynb")
    params = {"profile": profile, "seeds": seeds, "only": only, "data_root": data_root, "variant": variant}
    papermill.execute_notebook(str(notebooks_dir() / f"{name}.ipynb"), str(partial), parameters=params,
                               cwd=str(notebooks_dir()), progress_bar=False, **KERNEL)
    os.replace(partial, out)
    print(f"[handreid] {name}: {out}", flush=True)
    return out


def _notebook_params(params: dict) -> dict:
    """Parameters as papermill passes them (tuples become lists)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in params.items()}
