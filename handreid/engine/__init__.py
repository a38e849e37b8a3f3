"""Training and evaluation (docs/DESIGN.md §3).

>>> from handreid.engine import fit, evaluate, make_config
>>> record = fit(make_config(dataset="11k-dr", method="gpanet", method_options={"hp": 3, "vp": 1}))
>>> record.summary()["rank1_mean"]
"""

from .config import PROFILES, ConfigError, RunConfig, config_from_namespace, make_config
from .evaluate import evaluate, evaluate_repeats, extract_features
from .records import RunRecord, list_runs, load_run
from .recipes import get_recipe
from .train import TrainingDiverged, fit, fit_accuracy, load_model

__all__ = [
    "PROFILES", "ConfigError", "RunConfig", "RunRecord", "TrainingDiverged", "config_from_namespace",
    "evaluate", "evaluate_repeats", "extract_features", "fit", "fit_accuracy", "get_recipe", "list_runs",
    "load_model", "load_run", "make_config",
]
