"""make verify: committed records retrained on this machine, compared with what they say."""

import copy
import math

import pytest
from scipy import stats

from handreid.engine import records
from handreid.engine.provenance import machine, same_kind
from handreid.paths import project_root
from handreid.repro import verify

COMMITTED = project_root() / "results" / "runs"


def _with_repeat_spread():
    """The fastest committed record whose rank-1 varies over its query/gallery repeats (not a body
    benchmark's one fixed split)."""
    return next(r for r in verify.choose(COMMITTED, limit=None) if r.metrics["summary"]["rank1_std"] > 0)


def _fake(run, **summary_delta):
    other = copy.deepcopy(run)
    for r in other.metrics["per_repeat"]:
        for k, d in summary_delta.items():
            r[k] += d
    for k, d in summary_delta.items():
        other.metrics["summary"][f"{k}_mean"] += d
    return other


def test_verdicts_identical_within_spread_and_outside():
    run = _with_repeat_spread()
    assert verify.compare(run, copy.deepcopy(run)).verdict == "identical"
    std = run.metrics["summary"]["rank1_std"]
    near = verify.compare(run, _fake(run, rank1=std))          # one std off: within twice the std
    assert near.verdict == "within the repeat spread" and near.deltas["rank1"] == pytest.approx(std)
    far = verify.compare(run, _fake(run, rank1=2 * std + 1.0))
    assert far.verdict == "outside" and not far.ok
    refit = copy.deepcopy(run)
    refit.metrics["fit_acc"] = run.metrics["fit_acc"] - 0.5   # same test metrics, another fit of the training images
    assert verify.compare(run, refit).verdict == "within the repeat spread"


def _seeded(run, seed, shift, split_seed=0, **options):
    r = _fake(run, rank1=shift, mAP=shift)
    r.config = copy.deepcopy(run.config)
    r.config["identity"]["seed"] = seed
    r.config["identity"]["method_options"] = options
    if split_seed is None:
        r.config["identity"].pop("split_seed", None)   # an older record: split with its own seed
    else:
        r.config["identity"]["split_seed"] = split_seed
    return r


def _range(df, s):
    """The explicit 95 % range of the difference of two seeds' means: t(0.975, df) x sqrt(2) x s."""
    return stats.t.ppf(0.975, df) * math.sqrt(2) * s


def test_seed_spread_comes_from_records_of_other_seeds_on_the_same_splits():
    run = copy.deepcopy(verify.choose(COMMITTED, limit=1)[0])
    run.config["identity"]["seed"] = 0
    run.config["identity"]["split_seed"] = 0
    run.config["identity"]["method_options"] = {}
    # seeds 0-2 on split 0 (std of 0, 4, 8 is 4); seed 3 drew its own split: not the same configuration
    seeds = [_seeded(run, s, shift) for s, shift in ((0, 0.0), (1, 4.0), (2, 8.0))] + [_seeded(run, 3, 40.0, None)]
    v = verify.compare(run, _fake(run, rank1=7.0), seeds)
    assert v.verdict == "within the seed spread"
    assert v.tolerance["rank1"] == pytest.approx(_range(2, 4.0))          # 24.3: 3 seeds say little
    assert verify.compare(run, _fake(run, rank1=_range(2, 4.0) + 0.1), seeds).verdict == "outside"


def test_seed_spread_is_pooled_over_the_model_options_of_one_method_and_recipe():
    run = copy.deepcopy(verify.choose(COMMITTED, limit=1)[0])
    run.config["identity"]["seed"] = 0
    run.config["identity"]["split_seed"] = 0
    run.config["identity"]["method_options"] = {"hp": 1}
    # two partitions, 2 seeds each: deviations (-1, +1) and (-2, +2) -> pooled s^2 = (2 + 8) / 2, df = 2
    others = [_seeded(run, 0, 0.0, hp=1), _seeded(run, 1, 2.0, hp=1),
              _seeded(run, 0, 10.0, hp=2), _seeded(run, 1, 14.0, hp=2)]
    other_recipe = _seeded(run, 2, 50.0, hp=1)
    other_recipe.config["identity"]["recipe"] = "another"
    v = verify.compare(run, _fake(run, rank1=1.0), others + [other_recipe])
    assert v.tolerance["rank1"] == pytest.approx(_range(2, math.sqrt(5.0)))


def test_one_seed_and_one_split_has_no_spread_to_judge():
    run = copy.deepcopy(verify.choose(COMMITTED, limit=1)[0])
    for r in run.metrics["per_repeat"][1:]:
        r.update(run.metrics["per_repeat"][0])
    run.metrics["summary"].update({f"{m}_std": 0.0 for m in verify.METRICS})
    rerun = _fake(run, rank1=1.0)
    elsewhere = copy.deepcopy(rerun)
    elsewhere.config["machine"] = {**run.config["machine"], "cpu": run.config["machine"]["cpu"] + " (another)"}
    v = verify.compare(run, elsewhere)
    assert v.verdict == "no spread to judge" and v.ok and v.reasons[0].startswith("CPU ")
    assert verify.compare(run, rerun).verdict == "outside"    # same machine kind: nothing explains it


def test_summary_counts_each_verdict_and_names_the_records_outside():
    run = _with_repeat_spread()
    std = run.metrics["summary"]["rank1_std"]
    results = [verify.compare(run, copy.deepcopy(run)), verify.compare(run, _fake(run, rank1=std)),
               verify.compare(run, _fake(run, rank1=2 * std + 1.0))]
    assert verify.summary(results) == (
        "verify: 2 of 3 records reproduce on this machine (1 identical, 1 within the repeat spread, "
        f"1 outside); outside: {run.run_id}")
    assert verify.summary(results[:1]) == "verify: 1 of 1 records reproduce on this machine (1 identical)"


def test_choose_names_unknown_runs():
    with pytest.raises(ValueError, match="no finished run record nope"):
        verify.choose(COMMITTED, ids=["nope"])


@pytest.mark.slow
def test_the_fastest_committed_record_with_provenance_reproduces_here(tmp_path):
    """CI's `make verify` on one short record: identical on the kind of machine that made it; on
    another kind, within the spread and naming what differs (never `outside`)."""
    candidates = [r for r in verify.choose(COMMITTED, limit=None) if r.config.get("machine")]
    assert candidates, "no committed record names its machine"
    run = candidates[0]
    differ = same_kind(run.config["machine"], {**machine("cpu"), "threads": run.config["machine"]["threads"]})
    (v,) = verify.verify([run.run_id], runs_root=COMMITTED, scratch=tmp_path, progress=False)
    if differ:   # e.g. records of an AMD EPYC rerun on an Intel Xeon: both AVX-512, other floats
        assert v.ok, v.line()
        assert v.verdict == "identical" or v.reasons == differ, v.line()
        return
    assert v.verdict == "identical", v.line()
    rerun = records.load_run(tmp_path / run.run_id).metrics["per_repeat"]
    for new, old in zip(rerun, run.metrics["per_repeat"], strict=True):   # metrics added since: not compared
        assert {k: new[k] for k in old} == old


def test_another_pretrained_trunk_is_named_as_a_reason():
    """The demo's trunks are pretrained on each machine: a rerun from another trunk says so."""
    run = _with_repeat_spread()
    ours = copy.deepcopy(run)
    trunk = {"run_id": "11k-dr-resnet50-0123456789", "sha": "aaaa"}
    run.config = {**run.config, "pretrained_trunks": {"resnet50": trunk}}
    ours.config = {**run.config, "pretrained_trunks": {"resnet50": {**trunk, "sha": "bbbb"}}}
    v = verify.compare(run, _fake(ours, rank1=0.1))
    assert "pretrained resnet50 trunk aaaa vs bbbb" in v.reasons
    same = copy.deepcopy(run)
    assert not any("trunk" in r for r in verify.compare(run, same).reasons + verify._machine_reasons(run, same))
