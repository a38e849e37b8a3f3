"""The std over seeds pooled over a family of runs, and Welch's test of two means, against explicit
computations and scipy's own Welch t-test."""

import math

import numpy as np
import pytest
from scipy import stats

from handreid.repro import spread


def test_pooled_std_is_the_root_of_the_summed_squared_deviations_over_the_degrees_of_freedom():
    a, b, single = [64.0, 68.0, 60.0], [50.0, 55.0], [99.0]
    s = spread.pooled([a, b, single])                  # a group of one seed adds nothing
    ss = sum((x - np.mean(a)) ** 2 for x in a) + sum((x - np.mean(b)) ** 2 for x in b)
    assert s.df == 3 and s.std == pytest.approx(math.sqrt(ss / 3))
    assert spread.pooled([a]).std == pytest.approx(np.std(a, ddof=1))
    assert spread.pooled([single, []]) is None


def test_difference_range_is_t_times_sqrt2_times_s():
    s = spread.SeedStd(4.0, 2)
    assert spread.difference_range(s) == pytest.approx(stats.t.ppf(0.975, 2) * math.sqrt(2) * 4.0)


@pytest.mark.parametrize("a, b", [([70.1, 66.3, 72.0], [60.2, 58.9, 65.0]),
                                  ([70.1, 66.3, 72.0], [68.0, 59.0, 71.0]),
                                  ([55.0, 54.0, 56.5, 55.5], [50.0, 58.0, 45.0])])
def test_welch_with_each_rows_own_seeds_agrees_with_scipy(a, b):
    own = lambda v: spread.SeedStd(float(np.std(v, ddof=1)), len(v) - 1)
    t = spread.welch(np.mean(a), own(a), len(a), np.mean(b), own(b), len(b))
    ref = stats.ttest_ind(a, b, equal_var=False)
    assert t["diff"] == pytest.approx(np.mean(a) - np.mean(b))
    assert t["diff"] / t["se"] == pytest.approx(ref.statistic)
    assert t["df"] == pytest.approx(ref.df)
    assert t["holds"] == (ref.pvalue < 0.05)


def test_welch_with_pooled_stds_uses_the_pooled_degrees_of_freedom():
    s = spread.SeedStd(3.0, 26)                        # a Table 3 family: 13 partitions x 3 seeds
    t = spread.welch(60.0, s, 3, 55.0, s, 3)
    se = math.sqrt(2 * 9.0 / 3)
    assert t["se"] == pytest.approx(se) and t["df"] == pytest.approx(52.0)
    assert t["threshold"] == pytest.approx(stats.t.ppf(0.975, 52.0) * se) and t["holds"]   # 5 > 4.92
    assert not spread.welch(60.0, s, 3, 55.5, s, 3)["holds"]


def test_a_family_is_one_method_and_recipe_on_the_same_data_and_splits_whatever_the_options():
    base = {"dataset": "11k-dr", "method": "gpanet", "method_options": {"hp": 3}, "recipe": {"name": "gpa"},
            "seed": 0, "split_seed": 0}
    other_seed = {**base, "seed": 2}
    other_option = {**base, "method_options": {"hp": 1}}
    other_split = {**base, "split_seed": 1}
    assert spread.configuration(base) == spread.configuration(other_seed)
    assert spread.configuration(base) != spread.configuration(other_option)
    assert spread.family(base) == spread.family(other_option) != spread.family(other_split)
    assert spread.keys(base) == spread.keys(other_seed)
    assert spread.keys(base)[0] == spread.keys(other_option)[0] and spread.keys(base)[1] != spread.keys(other_option)[1]
