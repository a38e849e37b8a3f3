"""Check committed run records on this machine: retrain them into a scratch folder and compare.

>>> from handreid.repro import verify
>>> results = verify.verify(limit=3)          # the 3 records that trained fastest
>>> [r.verdict for r in results]              # "identical" | "within the seed spread" | ... | "outside"

Each record is retrained from its own ``config.json`` (same configuration, seed, data and, on a
CPU, the thread count it recorded) into a scratch runs folder, and its per-repeat metrics are
compared with the committed ones:

- ``identical``: every per-repeat number equal, and the share of the training images fitted (``fit_acc``);
- ``within the seed spread``: rank-1 and mAP differ from the committed record by less than two
  training seeds differ 19 times in 20: ``t(0.975, df) x sqrt(2) x s``, with ``s`` the std over
  training seeds pooled over the records of the same method and recipe on the same data and
  splits (a Table 3 ablation pools its 13 partitions: ``df`` = 26; a configuration with 3 seeds
  alone: ``df`` = 2, a wide range). On another kind of machine a rerun is another draw of the
  training (measured: an AMD EPYC's 188 demo records rerun on an Intel Xeon moved 3.6 points of
  rank-1 in the median, as a seed does), so about 1 record in 20 falls outside by chance there;
- ``within the repeat spread``: where no record has a second seed, within twice the std over the
  query/gallery repeats;
- ``no spread to judge``: one seed and one fixed split (the body benchmarks): the numbers differ,
  on another kind of machine, and nothing says by how much they may;
- ``outside``: none of these (with one seed and one split on the same kind of machine: any
  difference).

Bit-identical reruns are promised only on the same kind of machine (CPU model and capability,
threads, library versions: :func:`handreid.engine.provenance.same_kind`); a verdict other than
``identical`` names the differences it knows of. Committed records made before provenance was
recorded say nothing about their machine; the verdict says so.
"""

from __future__ import annotations

import math
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from ..engine import records
from ..engine.provenance import same_kind
from ..paths import runs_dir
from . import spread

__all__ = ["Verdict", "choose", "compare", "verify"]

METRICS = ("rank1", "mAP")
VERDICTS = ("identical", "within the seed spread", "within the repeat spread", "no spread to judge", "outside")


@dataclass
class Verdict:
    run_id: str
    verdict: str                   # identical | within the seed spread | within the repeat spread | outside
    deltas: dict = field(default_factory=dict)      # metric -> ours - committed (mean over repeats)
    tolerance: dict = field(default_factory=dict)   # metric -> allowed |delta|
    reasons: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.verdict != "outside"

    def line(self) -> str:
        d = ", ".join(f"{m} {v:+.2f} (±{self.tolerance.get(m, 0):.2f})" for m, v in self.deltas.items())
        why = f"; {'; '.join(self.reasons)}" if self.reasons else ""
        return f"{self.verdict:24s} {self.run_id}  {d}{why}  [{self.seconds:.0f} s]"


def _recorded_seconds(run: records.RunRecord) -> float:
    return float(run.history["seconds"].sum()) if "seconds" in run.history else math.inf


def choose(runs_root: str | Path | None = None, limit: int | None = 3, ids: Sequence[str] | None = None
           ) -> list[records.RunRecord]:
    """Finished records to check: ``ids``, or the ``limit`` that trained fastest (all: ``limit=None``)."""
    found = [r for r in records.list_runs(runs_root or runs_dir()) if r.finished]
    if ids:
        by_id = {r.run_id: r for r in found}
        unknown = [i for i in ids if i not in by_id]
        if unknown:
            raise ValueError(f"no finished run record {', '.join(unknown)} in {runs_root or runs_dir()}")
        return [by_id[i] for i in ids]
    found.sort(key=lambda r: (_recorded_seconds(r), r.run_id))
    return found if limit is None else found[:limit]


def _seed_spread(run: records.RunRecord, others: Sequence[records.RunRecord]) -> dict | None:
    """Per metric, the range two training seeds' means differ by 19 times in 20
    (:func:`spread.difference_range`), the std over seeds pooled over the records of the run's
    :func:`spread.family`; None when none has two seeds."""
    fam = spread.keys(run.config["identity"])[0]
    groups: dict[str, list[records.RunRecord]] = {}
    for o in others:
        if o.finished:
            o_fam, o_conf = spread.keys(o.config["identity"])
            if o_fam == fam:
                groups.setdefault(o_conf, []).append(o)
    out = {}
    for m in METRICS:
        s = spread.pooled([o.metrics["summary"][f"{m}_mean"] for o in g] for g in groups.values())
        if s is None:
            return None
        out[m] = spread.difference_range(s)
    return out


def compare(committed: records.RunRecord, rerun: records.RunRecord,
            others: Sequence[records.RunRecord] = ()) -> Verdict:
    """The verdict of ``rerun`` against ``committed`` (see the module docstring)."""
    a, b = committed.metrics["per_repeat"], rerun.metrics["per_repeat"]
    keys = [k for k in ("rank1", "rank5", "rank10", "mAP", "mINP") if k in a[0]]
    deltas = {m: rerun.metrics["summary"][f"{m}_mean"] - committed.metrics["summary"][f"{m}_mean"] for m in METRICS}
    reasons = _machine_reasons(committed, rerun)
    same_fit = committed.metrics.get("fit_acc") == rerun.metrics.get("fit_acc")  # how well it fits its training images
    if len(a) == len(b) and all(x[k] == y[k] for x, y in zip(a, b) for k in keys) and same_fit:
        return Verdict(committed.run_id, "identical", deltas, {m: 0.0 for m in METRICS})
    ranges = _seed_spread(committed, others)
    kind = "within the seed spread"
    if ranges is None:
        kind = "within the repeat spread"
        ranges = {m: 2 * committed.metrics["summary"][f"{m}_std"] for m in METRICS}
        if not any(ranges.values()):   # one seed, one fixed split: no range is known
            return Verdict(committed.run_id, "no spread to judge" if reasons else "outside", deltas, ranges,
                           reasons)
    ok = all(abs(deltas[m]) <= ranges[m] for m in METRICS)
    return Verdict(committed.run_id, kind if ok else "outside", deltas, ranges, reasons)


def _machine_reasons(committed: records.RunRecord, rerun: records.RunRecord) -> list[str]:
    then, now = committed.config.get("machine"), rerun.config.get("machine")
    if then is None:
        threads = committed.config.get("cpu_threads")
        return ["the committed record does not say what CPU it was made on"
                + (f" (it used {threads} threads)" if threads else "")]
    reasons = same_kind(then, now or {})
    trunks_then, trunks_now = committed.config.get("pretrained_trunks", {}), rerun.config.get("pretrained_trunks", {})
    for arch in sorted(set(trunks_then) | set(trunks_now)):
        a, b = trunks_then.get(arch, {}).get("sha"), trunks_now.get(arch, {}).get("sha")
        if a != b:  # the demo's pretrained trunk, made on each machine (engine.pretrain)
            reasons.append(f"pretrained {arch} trunk {a} vs {b}")
    return reasons


def verify(ids: Sequence[str] | None = None, limit: int | None = 3, runs_root: str | Path | None = None,
           scratch: str | Path | None = None, data_root: str | Path | None = None, progress: bool = True
           ) -> list[Verdict]:
    """Retrain the chosen records into ``scratch`` (a temporary folder by default) and compare each."""
    import time

    import torch

    from ..engine import fit, make_config

    chosen = choose(runs_root, limit, ids)
    everyone = [r for r in records.list_runs(runs_root or runs_dir()) if r.finished]
    out = []
    with tempfile.TemporaryDirectory(prefix="handreid-verify-") as tmp:
        scratch = Path(scratch) if scratch is not None else Path(tmp)
        for run in chosen:
            params = {**run.parameters(), "out_dir": str(scratch), "device": "cpu"}
            if data_root is not None:
                params["data_root"] = str(data_root)
            threads = (run.config.get("machine") or {}).get("threads") or run.config.get("cpu_threads") or 1
            before = torch.get_num_threads()
            torch.set_num_threads(int(threads))
            t0 = time.perf_counter()
            try:
                rerun = fit(make_config(**params), progress=False)
            finally:
                torch.set_num_threads(before)
            v = compare(run, rerun, everyone)
            v.seconds = time.perf_counter() - t0
            out.append(v)
            if progress:
                print(v.line(), flush=True)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(prog="python -m handreid verify", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="*", help="run ids to check (default: the --limit that trained fastest)")
    ap.add_argument("--limit", default="3", help="how many records, fastest first, or 'all' (default 3)")
    ap.add_argument("--data-root", help="folder of the datasets (default: the demo data, written when absent)")
    args = ap.parse_args(argv)
    limit = None if args.limit == "all" else int(args.limit)
    results = verify(args.runs or None, limit, data_root=args.data_root)
    print(summary(results), flush=True)
    return 1 if any(not v.ok for v in results) else 0


def summary(results: Sequence[Verdict]) -> str:
    """One line: how many records reproduce, by verdict, and which are outside."""
    bad = [v for v in results if not v.ok]
    counts = Counter(v.verdict for v in results)
    kinds = ", ".join(f"{counts[k]} {k}" for k in VERDICTS if counts[k])
    return (f"verify: {len(results) - len(bad)} of {len(results)} records reproduce on this machine"
            + (f" ({kinds})" if results else "")
            + (f"; outside: {', '.join(v.run_id for v in bad)}" if bad else ""))
