"""Run records: ``results/runs/<run_id>/`` (docs/DESIGN.md §3). This module alone spells the layout.

A run directory holds ``config.json`` (what was run), ``history.csv`` (one row
per epoch), ``checkpoint.pt`` while training (the last finished epoch),
``model.pt`` (final weights) and ``metrics.json`` (its presence marks the run
finished). Evaluations derived from a finished run live beside it:
``cross/<dataset>.json`` (the model on another dataset's repeats, GPA-Net Table 2)
and ``retrieval/<dataset>.json`` (ranked gallery lists for the figures). Every file
is written atomically.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ..io import read_json

CONFIG, HISTORY, CHECKPOINT, MODEL, METRICS = (
    "config.json", "history.csv", "checkpoint.pt", "model.pt", "metrics.json")
#: Kinds of evaluation derived from a finished run, each a folder of ``<dataset>.json``.
DERIVED = ("cross", "retrieval")


def derived_path(run_dir: str | Path, kind: str, dataset: str) -> Path:
    """``<run_dir>/<kind>/<dataset>.json``: the record of an evaluation derived from a finished run."""
    if kind not in DERIVED:
        raise ValueError(f"kind={kind!r}: expected one of {', '.join(DERIVED)}")
    return Path(run_dir) / kind / f"{dataset}.json"


def per_repeat(run_dir: str | Path, test_dataset: str | None = None) -> list[dict] | None:
    """Per-repeat metrics of a run on its own test data, or (``test_dataset``) its cross-domain
    record on another dataset; None when that record is not there."""
    f = (derived_path(run_dir, "cross", test_dataset) if test_dataset is not None
         else Path(run_dir) / METRICS)
    if not f.exists():
        return None
    return read_json(f).get("per_repeat") or None


@dataclass
class RunRecord:
    run_dir: Path
    config: dict[str, Any]
    history: pd.DataFrame
    metrics: dict[str, Any] | None

    @property
    def run_id(self) -> str:
        return self.run_dir.name

    @property
    def finished(self) -> bool:
        return self.metrics is not None

    def summary(self) -> dict[str, float]:
        """Mean and std over the query/gallery repeats, in %: rank1_mean, rank1_std, mAP_mean, ..."""
        if not self.finished:
            raise ValueError(f"run {self.run_dir} has not finished (no {METRICS})")
        return dict(self.metrics["summary"])

    def parameters(self) -> dict[str, Any]:
        """The run's parameters (``config.json``'s ``config``), as :func:`make_config` takes them; a
        record made before the split seed was its own parameter drew its splits with ``seed``."""
        params = dict(self.config["config"])
        params.setdefault("split_seed", params.get("seed", 0))
        return params

    def fit_acc(self) -> float:
        """How well the network fits its training images (%, :func:`handreid.engine.fit_accuracy`):
        the recorded ``fit_acc``, or for a record made before ``fit`` measured it, computed from its
        saved weights."""
        if not self.finished:
            raise ValueError(f"run {self.run_dir} has not finished (no {METRICS})")
        if "fit_acc" in self.metrics:
            return float(self.metrics["fit_acc"])
        from .train import fit_accuracy

        return fit_accuracy(self.run_dir)


def load_run(run_dir: str | Path) -> RunRecord:
    run_dir = Path(run_dir)
    cfg_file = run_dir / CONFIG
    if not cfg_file.exists():
        raise FileNotFoundError(f"{run_dir} is not a run directory: it has no {CONFIG}")
    hist_file = run_dir / HISTORY
    history = pd.read_csv(hist_file) if hist_file.exists() else pd.DataFrame()
    metrics_file = run_dir / METRICS
    metrics = read_json(metrics_file) if metrics_file.exists() else None
    return RunRecord(run_dir, read_json(cfg_file), history, metrics)


def list_runs(runs_root: str | Path) -> list[RunRecord]:
    """Every run directory below ``runs_root`` (finished or not), sorted by run id."""
    root = Path(runs_root)
    if not root.exists():
        return []
    return [load_run(p.parent) for p in sorted(root.glob(f"*/{CONFIG}"))]
