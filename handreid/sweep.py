"""The sweep: every training the selected tables and figures need, then what derives from them.

>>> from handreid import sweep
>>> outcomes = sweep.reproduce("gpa-table1", profile="demo")            # trains, evaluates, summarises
>>> sweep.reproduce("all", profile="paper", data_root="/data", dry_run=True)   # what would run, and why

1. :func:`handreid.experiments.plan` lists the trainings (one per distinct run id) and the
   derived evaluations (cross-domain metrics, retrieval lists for the figures).
2. Each training executes the run notebook ``notebooks/train_eval.ipynb`` with papermill into
   ``results/runs/<run_id>/run.ipynb``; a finished run (its ``metrics.json`` exists) is skipped,
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
import hashlib
import logging
import multiprocessing
import os
import re
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from . import experiments as ex
from .engine import records
from .engine.config import make_config
from .io import read_json, write_json
from .paths import project_root, results_dir, runs_dir

RUN_NOTEBOOK = "train_eval.ipynb"
EXECUTORS = ("local", "slurm", "submitit-local", "submitit-debug")


def notebooks_dir() -> Path:
    return project_root() / "notebooks"


@dataclass
class Outcome:
    run_id: str
    status: str            # "done", "skipped" (already finished), "failed", "planned" (dry run), "blocked"
    seconds: float = 0.0
    error: str = ""
    kind: str = "train"
    dataset: str = ""

    @property
    def name(self) -> str:
        return self.run_id if self.kind == "train" else f"{self.kind} {self.run_id} -> {self.dataset}"


@dataclass
class Task:
    """One unit of work: a training (papermill) or an evaluation derived from a finished run."""

    kind: str                      # "train" | "cross" | "retrieval"
    run_id: str
    params: dict                   # the run notebook's parameters (of the source run, for derived work)
    dataset: str = ""              # target dataset of cross / retrieval
    options: dict = field(default_factory=dict)
    needed_by: list[str] = field(default_factory=list)
    log_output: bool = True

    @property
    def runs_root(self) -> Path:
        return Path(self.params["out_dir"]) if self.params.get("out_dir") else runs_dir()

    @property
    def run_dir(self) -> Path:
        return self.runs_root / self.run_id

    @property
    def target(self) -> Path:
        if self.kind == "train":
            return self.run_dir / records.METRICS
        return self.run_dir / self.kind / f"{self.dataset}.json"

    def finished(self) -> bool:
        if not self.target.exists():
            return False
        if self.kind == "retrieval":  # enough queries and ranks for every figure that wants it
            rec = read_json(self.target)
            return (len(rec.get("queries", [])) >= self.options.get("queries", 1)
                    and rec.get("top_k", 0) >= self.options.get("top_k", 1))
        return True


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
            str(notebooks_dir() / RUN_NOTEBOOK), str(partial), parameters=_jsonable(params),
            cwd=str(notebooks_dir()), log_output=log_output, progress_bar=False,
            kernel_name="python3")
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
    return Outcome(run_dir.name, "done", time.perf_counter() - t0, dataset=cfg.dataset)


def _last_line(e: BaseException) -> str:
    """The line of an error message that says what went wrong (a traceback's last exception line)."""
    msg = [ln.strip() for ln in str(e).strip().splitlines() if ln.strip()]
    errors = [ln for ln in msg if re.match(r"^[A-Za-z_.]*(Error|Exception|Interrupt|Exit)\b:?", ln)]
    if errors:
        return errors[-1]
    return msg[-1] if msg else (type(e).__name__ + ": " + traceback.format_exc(limit=1).strip())


def _source(task: Task):
    """Config, recipe, model and data root of the finished run a derived task starts from."""
    from .engine.train import load_model

    run = records.load_run(task.run_dir)
    cfg = make_config(**{**run.config["config"], **{k: task.params[k] for k in ("device", "data_root")
                                                   if task.params.get(k) is not None}})
    from .engine.evaluate import resolve_device
    device = resolve_device(cfg.device)
    return cfg, cfg.resolved_recipe(), load_model(task.run_dir, device), device


def evaluate_cross(task: Task) -> Path:
    """Metrics of a finished run's model on ``task.dataset``'s repeats (GPA-Net Table 2)."""
    from .engine.evaluate import aggregate, evaluate_repeats

    cfg, recipe, model, device = _source(task)
    root = _data_root(cfg)
    repeats = min(cfg.eval_repeats, ex.eval_repeats_of(task.dataset))
    rows = evaluate_repeats(model, task.dataset, root, cfg.seed, range(repeats), recipe.image_size,
                            device, flip=recipe.flip_test, resize_filter=recipe.resize_filter)
    write_json(task.target, {"run_id": task.run_id, "train_dataset": cfg.dataset, "dataset": task.dataset,
                             "per_repeat": rows, "summary": aggregate(rows)})
    return task.target


def compute_retrieval(task: Task) -> Path:
    """Ranked gallery lists of a few queries (repeat 0) for the retrieval figures.

    Queries: the first ``queries`` of distinct identities in the order of sha256(path) (the
    same on every machine). Cosine distance on the paper's descriptor; gallery images the
    evaluation ignores (same identity and camera, body data) are left out of the ranking.
    """
    import torch
    import torch.nn.functional as F

    from .data import load_split
    from .engine.evaluate import describe

    cfg, recipe, model, device = _source(task)
    split = load_split(task.dataset, root=_data_root(cfg), repeat=0, seed=cfg.seed)
    feats = describe(model, split, [split.query, split.gallery], recipe.image_size, device,
                     flip=recipe.flip_test, resize_filter=recipe.resize_filter)
    q = split.query.assign(_h=[hashlib.sha256(str(p).encode()).hexdigest() for p in split.query["path"]])
    q = q.sort_values("_h").drop_duplicates("pid").head(int(task.options.get("queries", 1)))
    g = split.gallery.reset_index(drop=True)
    gf = F.normalize(torch.stack([feats[p] for p in g["path"]]).float(), dim=1)
    top_k = int(task.options.get("top_k", 10))
    out = []
    for _, qr in q.iterrows():
        d = 1 - gf @ F.normalize(feats[qr["path"]].float(), dim=0)
        keep = torch.ones(len(g), dtype=torch.bool)
        if split.camera_rule:
            keep &= ~torch.tensor(((g["pid"] == qr["pid"]) & (g["camid"] == qr["camid"])).to_numpy(dtype=bool))
        idx = torch.nonzero(keep).flatten()
        order = idx[torch.argsort(d[idx], stable=True)]
        ranked = [{"path": str(g.at[i, "path"]), "pid": int(g.at[i, "pid"]),
                   "correct": bool(g.at[i, "pid"] == qr["pid"]), "distance": float(d[i])}
                  for i in order[:top_k].tolist()]
        first = next((r for r, i in enumerate(order.tolist(), 1) if g.at[i, "pid"] == qr["pid"]), None)
        out.append({"path": str(qr["path"]), "pid": int(qr["pid"]), "camid": int(qr["camid"]),
                    "ranked": ranked, "first_correct_rank": first})
    write_json(task.target, {"run_id": task.run_id, "dataset": task.dataset, "root": str(split.root),
                             "method": cfg.method, "method_options": cfg.method_options,
                             "top_k": top_k, "queries": out})
    return task.target


def _data_root(cfg) -> Path:
    return cfg.prepare_root() if cfg.profile == "demo" and cfg.data_root is None else cfg.root


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
    if threads:
        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = str(threads)  # the notebook kernels inherit it


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

    def note(i, o):
        if progress:
            print(f"[sweep {i + 1}/{n}] {o.status}: {o.name}"
                  + (f" ({o.seconds:.0f} s)" if o.seconds else "") + (f": {o.error}" if o.error else ""),
                  flush=True)

    if executor == "local" and jobs <= 1:
        outcomes = []
        for i, t in enumerate(tasks):
            if progress:
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
def tasks_of(plan: ex.Plan, common: dict | None = None, log_output: bool = True) -> tuple[list[Task], list[Task]]:
    """Training tasks and derived tasks of a plan, with ``common`` parameters (data_root, out_dir, device)."""
    common = {k: v for k, v in (common or {}).items() if v is not None}
    trains = [Task("train", r.run_id, {**r.params, **common}, needed_by=list(r.needed_by), log_output=log_output)
              for r in plan.runs]
    derived = [Task(e.kind, e.run_id, {**e.params, **common}, e.dataset, dict(e.options), list(e.needed_by),
                    log_output=log_output) for e in plan.evals]
    return trains, derived


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
                rid = ex.run_id_of({**t.params, "variant": variant})
            except ValueError as e:
                rejected.append(Outcome(t.run_id, "blocked", error=str(e), kind=t.kind,
                                        dataset=t.dataset or t.params.get("dataset", "")))
                continue
            t.params["variant"], t.run_id = variant, rid
            group.append(t)
    return kept[0], kept[1], rejected


def dry_run_listing(plan: ex.Plan, trains: Sequence[Task], derived: Sequence[Task], profile: str) -> str:
    """What would run and why: one line per training (with its estimated cost in the paper profile)."""
    lines = []
    total = 0.0
    pending = [t for t in trains if not t.finished()]
    cross_of: dict[str, list[str]] = {}
    for d in derived:
        if d.kind == "cross":
            cross_of.setdefault(d.run_id, []).append(d.dataset)
    lines.append(f"{len(trains)} trainings for {', '.join(e.key for e in plan.experiments)} "
                 f"({profile} profile): {len(pending)} to run, {len(trains) - len(pending)} finished")
    for t in trains:
        status = "finished" if t.finished() else "to run"
        cost = ""
        if profile == "paper":
            c = ex.estimate_cost(t.params, cross_of.get(t.run_id, ()))
            if status == "to run":
                total += c["gpu_hours"]
            cost = (f"  ~{ex.format_hours(c['gpu_hours'])} GPU ({c['epochs']} epochs x {c['train_images']} images"
                    f" at {c['image_size'][0]}x{c['image_size'][1]}, {c['gflops_per_image']:.0f} GFLOPs/image)")
        why = "; ".join(t.needed_by[:3]) + (f"; +{len(t.needed_by) - 3} more" if len(t.needed_by) > 3 else "")
        lines.append(f"  [{status}] {t.run_id}  {_describe(t.params)}{cost}\n      for {why}")
    if derived:
        lines.append(f"{len(derived)} evaluations of finished runs (cross-domain, retrieval figures):")
        for d in derived:
            status = "finished" if d.finished() else "to evaluate"
            lines.append(f"  [{status}] {d.kind} {d.run_id} -> {d.dataset}  for {'; '.join(d.needed_by[:2])}")
    if profile == "paper":
        g = ex.GPU_ASSUMPTION
        lines.append(f"estimated total for the trainings to run: ~{total:.1f} GPU-hours on an {g['gpu']} "
                     f"(FLOPs from torch's counter, {g['utilisation']:.0%} of {g['peak_tflops']} TFLOP/s; "
                     "see handreid.experiments.estimate_cost)")
    return "\n".join(lines)


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
    return "\n".join(lines)


def reproduce(tables: str | Sequence[str] | None = "all", profile: str = "demo", data_root: str | None = None,
              device: str = "auto", seeds: int = 1, jobs: int = 1, executor: str = "local",
              dry_run: bool = False, datasets: Sequence[str] | None = None, methods: Sequence[str] | None = None,
              out_dir: str | None = None, log_output: bool = True, slurm: dict | None = None,
              notebooks: bool = True, variant: str | None = None) -> list[Outcome]:
    """Plan, train, evaluate and (unless ``dry_run`` or ``notebooks=False``) run the tables and
    figures notebooks. Returns every task's outcome; prints the listing / summary.

    ``out_dir`` moves the run records (tests); the notebooks always read ``results/runs`` under
    ``HANDREID_OUTPUT`` (or the checkout), so use that variable to relocate a whole reproduction.
    ``variant`` ("paper" | "authors"; None: each recipe's default) is passed to every training.
    """
    if profile == "paper" and not data_root and not dry_run:
        raise ValueError("the paper profile needs data_root: the folder holding 11k/, HD/, Market-1501-v15.09.15/ ...")
    plan = ex.plan(tables, profile=profile, seeds=seeds, datasets=datasets, methods=methods)
    common = {"data_root": data_root, "out_dir": out_dir, "device": device}
    trains, derived = tasks_of(plan, common, log_output=log_output and jobs <= 1 and executor == "local")
    trains, derived, rejected = with_variant(trains, derived, variant)
    if rejected:
        print("\n".join(f"[handreid] not run with variant {variant!r}: {o.name}: {o.error}" for o in rejected),
              flush=True)
    if dry_run:
        print(dry_run_listing(plan, trains, derived, profile), flush=True)
        return rejected + [Outcome(t.run_id, "skipped" if t.finished() else "planned", kind=t.kind,
                                   dataset=t.dataset) for t in [*trains, *derived]]
    if profile == "demo" and data_root is None:
        needed = {t.params["dataset"] for t in trains} | {d.dataset for d in derived}
        ex.prepare_demo_data(needed)
    t0 = time.perf_counter()
    todo = [t for t in trains if not t.finished()]
    outcomes = rejected + [Outcome(t.run_id, "skipped", dataset=t.params["dataset"])
                           for t in trains if t.finished()]
    if executor == "local":
        assign_devices(todo, local_devices(device))
    print(f"[handreid] {len(todo)} trainings to run, {len(outcomes)} finished; jobs={jobs}, executor={executor}",
          flush=True)
    outcomes += execute(todo, jobs=jobs, executor=executor, slurm=slurm)
    ready = [d for d in derived if (d.run_dir / records.METRICS).exists()]
    outcomes += [Outcome(d.run_id, "blocked", error="its training did not finish", kind=d.kind, dataset=d.dataset)
                 for d in derived if d not in ready]
    todo_d = [d for d in ready if not d.finished()]
    outcomes += [Outcome(d.run_id, "skipped", kind=d.kind, dataset=d.dataset) for d in ready if d.finished()]
    if todo_d:
        if executor == "local":
            assign_devices(todo_d, local_devices(device))
        print(f"[handreid] {len(todo_d)} evaluations of finished runs (cross-domain, retrieval lists)", flush=True)
        outcomes += execute(todo_d, jobs=jobs, executor=executor, slurm=slurm)
    if notebooks:
        for name in ("tables", "figures"):
            try:
                only = tables if isinstance(tables, str) else ",".join(tables or ["all"])
                path = run_notebook(name, profile=profile, seeds=seeds, data_root=data_root, only=only or "all")
                outcomes.append(Outcome(name, "done", kind="notebook", dataset=str(path)))
            except Exception as e:  # noqa: BLE001
                outcomes.append(Outcome(name, "failed", error=_last_line(e), kind="notebook"))
    print(summary(outcomes), flush=True)
    print(f"[handreid] {time.perf_counter() - t0:.0f} s", flush=True)
    return outcomes


def run_notebook(name: str, profile: str = "demo", seeds: int = 1, data_root: str | None = None,
                 only: str = "all") -> Path:
    """Execute ``notebooks/<name>.ipynb`` (tables or figures) into ``results/notebooks/<name>_<profile>.ipynb``."""
    import papermill

    out = results_dir() / "notebooks" / f"{name}_{profile}.ipynb"
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_suffix(".partial.ipynb")
    params = {"profile": profile, "seeds": seeds, "only": only}
    if name == "tables":
        params["data_root"] = data_root
    papermill.execute_notebook(str(notebooks_dir() / f"{name}.ipynb"), str(partial), parameters=params,
                               cwd=str(notebooks_dir()), progress_bar=False, kernel_name="python3")
    os.replace(partial, out)
    print(f"[handreid] {name}: {out}", flush=True)
    return out


def _jsonable(params: dict) -> dict:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in params.items()}
