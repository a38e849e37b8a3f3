"""The spread of a result over training seeds, pooled over the runs that share it (docs/DESIGN.md §4).

>>> from handreid.repro import spread
>>> s = spread.pooled([[64.1, 67.9, 61.2], [58.0, 60.5, 55.1]])   # two configurations, 3 seeds each
>>> s.std, s.df                                                     # pooled sample std, 4 degrees of freedom
>>> spread.difference_range(s)                                      # two seeds differ by less, 19 times in 20
>>> spread.welch(70.2, s, 3, 63.0, s, 3)                            # does a difference of means hold?

Three seeds give a poor estimate of a std (9 times in 10 it falls between 0.23x and 1.73x the true
one: ``sqrt(chi2(2) / 2)``), so the std of a configuration is pooled over its *family*: the runs of the same method and recipe on
the same data and splits, whatever their model options (an ablation's variants share it; GPA-Net
Table 3 pools its 13 partitions: 26 degrees of freedom). That assumes the seed noise depends on
the method, recipe and data and not on an option; between families nothing is assumed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

from ..engine.config import split_seed_of

__all__ = ["LEVEL", "SeedStd", "configuration", "difference_range", "family", "keys", "pooled", "welch"]

LEVEL = 0.975   # two-sided 95 %


@dataclass(frozen=True)
class SeedStd:
    """A std over training seeds and its degrees of freedom (the seeds behind it, less one per group)."""
    std: float
    df: int


def configuration(identity: dict) -> dict:
    """A run's identity without its training seed: records that differ only in it (same split seed)."""
    return {**{k: v for k, v in identity.items() if k != "seed"}, "split_seed": split_seed_of(identity)}


def family(identity: dict) -> dict:
    """A run's configuration without its model options: the same method and recipe on the same data
    and splits, over which the std over seeds is pooled."""
    return {k: v for k, v in configuration(identity).items() if k != "method_options"}


def keys(identity: dict) -> tuple[str, str]:
    """Hashable keys of a run's :func:`family` and :func:`configuration`, for grouping records."""
    return repr(sorted(family(identity).items())), repr(sorted(configuration(identity).items()))


def pooled(groups: Iterable[Sequence[float]]) -> SeedStd | None:
    """The pooled sample std of ``groups`` (each: one configuration's per-seed values), over those
    with >= 2 values: ``sqrt(sum of squared deviations from each group's mean / df)``,
    ``df = sum(n - 1)``; None when no group has two values."""
    arrays = [np.asarray(g, dtype=np.float64) for g in groups]
    arrays = [a for a in arrays if len(a) >= 2]
    df = sum(len(a) - 1 for a in arrays)
    if df == 0:
        return None
    ss = sum(float(np.sum((a - a.mean()) ** 2)) for a in arrays)
    return SeedStd(math.sqrt(ss / df), df)


def _t(df: float) -> float:
    from scipy import stats
    return float(stats.t.ppf(LEVEL, df))


def difference_range(s: SeedStd) -> float:
    """The range two single seeds' results differ by 19 times in 20: ``t(0.975, df) x sqrt(2) x s``."""
    return _t(s.df) * math.sqrt(2.0) * s.std


def welch(mean_a: float, s_a: SeedStd, n_a: int, mean_b: float, s_b: SeedStd, n_b: int) -> dict:
    """Welch's two-sided 95 % test of two means over ``n_a`` and ``n_b`` seeds, with their stds
    over seeds ``s_a`` and ``s_b`` (pooled or not): ``se = sqrt(s_a² / n_a + s_b² / n_b)``, degrees
    of freedom by Welch–Satterthwaite from each std's own ``df``, and the difference holds when
    ``|mean_a − mean_b| > t(0.975, df) x se``. Returns ``diff`` (a − b), ``se``, ``df``,
    ``threshold`` and ``holds``."""
    va, vb = s_a.std ** 2 / n_a, s_b.std ** 2 / n_b
    denom = va ** 2 / s_a.df + vb ** 2 / s_b.df
    df = (va + vb) ** 2 / denom if denom > 0 else float(s_a.df + s_b.df)
    se = math.sqrt(va + vb)
    threshold = _t(df) * se
    diff = mean_a - mean_b
    return {"diff": diff, "se": se, "df": df, "threshold": threshold, "holds": bool(abs(diff) > threshold)}
