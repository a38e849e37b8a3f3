"""Run records: ``results/runs/<run_id>/`` (DESIGN §3).

A run directory holds ``config.json`` (what was run), ``history.csv`` (one row
per epoch), ``checkpoint.pt`` while training (the last finished epoch),
``model.pt`` (final weights) and ``metrics.json`` (its presence marks the run
finished). Every file is written atomically.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ..io import read_json

CONFIG, HISTORY, CHECKPOINT, MODEL, METRICS = (
    "config.json", "history.csv", "checkpoint.pt", "model.pt", "metrics.json")


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
