"""The sweep: execute the run notebook with papermill once per configuration (DESIGN §4).

Each configuration's executed notebook is kept as ``results/runs/<run_id>/run.ipynb``.
Finished runs are skipped, a failed configuration does not stop the others (its
partial notebook stays as ``run.failed.ipynb``), and the end prints a summary.
"""

from __future__ import annotations

import logging
import os
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from .engine import records
from .engine.config import make_config
from .paths import project_root

RUN_NOTEBOOK = "train_eval.ipynb"


def notebooks_dir() -> Path:
    return project_root() / "notebooks"


# The configurations of `make reproduce` for GPA-Net Table 1 / Fig. 2 on D-r of 11k.
GPA_TABLE1_DR = [
    {"dataset": "11k-dr", "method": "gpanet", "method_options": {"hp": 3, "vp": 1}, "recipe": "gpa"},
    {"dataset": "11k-dr", "method": "resnet50", "method_options": {}, "recipe": "gpa"},
]


@dataclass
class Outcome:
    run_id: str
    status: str            # "done", "skipped" (already finished), "failed", "planned" (dry run)
    seconds: float = 0.0
    error: str = ""


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
        return Outcome(run_dir.name, "skipped")
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
        msg = str(e).strip().splitlines()
        return Outcome(run_dir.name, "failed", time.perf_counter() - t0,
                       msg[-1] if msg else traceback.format_exc(limit=1))
    os.replace(partial, run_dir / "run.ipynb")
    return Outcome(run_dir.name, "done", time.perf_counter() - t0)


def sweep(configs: Sequence[dict], common: dict | None = None, dry_run: bool = False,
          log_output: bool = True) -> list[Outcome]:
    """Run every configuration (``common`` parameters added to each); keep going past failures."""
    outcomes = []
    for i, params in enumerate(configs, 1):
        p = {**(common or {}), **params}
        cfg = make_config(**p)
        if dry_run:
            done = (cfg.runs_root / cfg.run_id() / records.METRICS).exists()
            outcomes.append(Outcome(cfg.run_id(), "skipped" if done else "planned"))
            continue
        print(f"[sweep {i}/{len(configs)}] {cfg.run_id()}: {cfg.method} {cfg.method_options} on "
              f"{cfg.dataset}", flush=True)
        outcomes.append(run_one(p, log_output=log_output))
        print(f"[sweep {i}/{len(configs)}] {outcomes[-1].status} ({outcomes[-1].seconds:.0f} s)", flush=True)
    print(summary(outcomes), flush=True)
    return outcomes


def summary(outcomes: Sequence[Outcome]) -> str:
    counts = {s: sum(o.status == s for o in outcomes) for s in ("done", "skipped", "planned", "failed")}
    lines = ["sweep: " + ", ".join(f"{n} {s}" for s, n in counts.items() if n)]
    for o in outcomes:
        if o.status in ("failed", "planned"):
            lines.append(f"  {o.status}: {o.run_id}" + (f": {o.error}" if o.error else ""))
    return "\n".join(lines)


def _jsonable(params: dict) -> dict:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in params.items()}


def run_report(profile: str, dataset: str = "11k-dr") -> Path:
    """Execute ``report.ipynb`` (tables + figures) into ``results/notebooks/``."""
    import papermill

    from .paths import results_dir

    out = results_dir() / "notebooks" / f"report_{dataset}_{profile}.ipynb"
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_suffix(".partial.ipynb")
    papermill.execute_notebook(str(notebooks_dir() / "report.ipynb"), str(partial),
                               parameters={"profile": profile, "dataset": dataset},
                               cwd=str(notebooks_dir()), progress_bar=False, kernel_name="python3")
    os.replace(partial, out)
    return out
