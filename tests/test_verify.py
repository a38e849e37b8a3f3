"""make verify: committed records retrained on this machine, compared with what they say."""

import copy

import pytest

from handreid.engine import records
from handreid.engine.provenance import machine, same_kind
from handreid.paths import project_root
from handreid.repro import verify

COMMITTED = project_root() / "results" / "runs"


def _fake(run, **summary_delta):
    other = copy.deepcopy(run)
    for r in other.metrics["per_repeat"]:
        for k, d in summary_delta.items():
            r[k] += d
    for k, d in summary_delta.items():
        other.metrics["summary"][f"{k}_mean"] += d
    return other


def test_verdicts_identical_within_spread_and_outside():
    run = verify.choose(COMMITTED, limit=1)[0]
    assert verify.compare(run, copy.deepcopy(run)).verdict == "identical"
    std = run.metrics["summary"]["rank1_std"]
    near = verify.compare(run, _fake(run, rank1=std))          # one std off: within twice the std
    assert near.verdict == "within the repeat spread" and near.deltas["rank1"] == pytest.approx(std)
    far = verify.compare(run, _fake(run, rank1=2 * std + 1.0))
    assert far.verdict == "outside" and not far.ok
    refit = copy.deepcopy(run)
    refit.metrics["fit_acc"] = run.metrics["fit_acc"] - 0.5   # same test metrics, another fit of the training images
    assert verify.compare(run, refit).verdict == "within the repeat spread"


def test_seed_spread_comes_from_records_of_other_seeds_on_the_same_splits():
    run = copy.deepcopy(verify.choose(COMMITTED, limit=1)[0])
    run.config["identity"]["seed"] = 0
    run.config["identity"].pop("split_seed", None)
    seeds = []
    for s, shift in ((0, 0.0), (1, 4.0), (2, 8.0), (3, 40.0)):
        r = _fake(run, rank1=shift, mAP=shift)
        r.config = copy.deepcopy(run.config)
        r.config["identity"]["seed"] = s
        if s in (1, 2):  # split seed 0, as seed 0; seed 3 is an older record, split with its own seed
            r.config["identity"]["split_seed"] = 0
        seeds.append(r)
    v = verify.compare(run, _fake(run, rank1=7.0), seeds)   # seed std of (0, 4, 8) is 4: within 8
    assert v.verdict == "within the seed spread" and v.tolerance["rank1"] == pytest.approx(8.0)


def test_summary_counts_each_verdict_and_names_the_records_outside():
    run = verify.choose(COMMITTED, limit=1)[0]
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