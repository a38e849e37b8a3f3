"""Where things live: the project root, results, figures and the demo data."""

from __future__ import annotations

import os
from pathlib import Path


def project_root() -> Path:
    """The checkout that holds ``pyproject.toml`` for handreid.

    Found by walking up from the current directory (notebooks run from
    ``notebooks/``), falling back to the directory above the installed package.
    """
    for start in (Path.cwd(), Path(__file__).resolve().parent):
        for d in (start, *start.parents):
            pp = d / "pyproject.toml"
            if pp.is_file() and 'name = "handreid"' in pp.read_text(encoding="utf-8"):
                return d
    return Path(__file__).resolve().parents[1]


def output_root() -> Path:
    """Where ``results/`` and ``figures/`` are written: the checkout, or ``HANDREID_OUTPUT``.

    The tests point ``HANDREID_OUTPUT`` at a temporary folder so they never touch the
    committed results.
    """
    env = os.environ.get("HANDREID_OUTPUT")
    return Path(env) if env else project_root()


def results_dir() -> Path:
    return output_root() / "results"


def runs_dir() -> Path:
    return results_dir() / "runs"


def teaching_runs_dir() -> Path:
    """Where the teaching notebooks' short runs go: ``results/teaching``.

    Kept apart from ``results/runs`` so the tables notebooks, which list every run there, never
    pick up a 2-epoch teaching run."""
    return results_dir() / "teaching"


def tables_dir() -> Path:
    return results_dir() / "tables"


def figures_dir() -> Path:
    return output_root() / "figures"


def demo_data_root() -> Path:
    """Synthetic datasets of the demo profile (``HANDREID_DEMO_DATA`` overrides)."""
    env = os.environ.get("HANDREID_DEMO_DATA")
    return Path(env) if env else project_root() / "data" / "demo"


def cache_dir() -> Path:
    """Decoded-image caches (``HANDREID_CACHE`` overrides)."""
    env = os.environ.get("HANDREID_CACHE")
    return Path(env) if env else project_root() / ".cache"
