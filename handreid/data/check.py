"""Is the data there? The check before GPU hours are spent (``python -m handreid data``).

One line per dataset under a data root: ``present`` (its loader returns a split; the counts of
repeat 0, seed 0 from :func:`handreid.data.overview.split_statistics`, against LAGA-Net Table I
or II from :mod:`handreid.published`), ``missing`` (none of its folders exists) or
``incomplete`` (a folder exists but the loader fails), with the loader's own message; for the
unusable ones how many of the selected trainings (and derived evaluations) they block; then the
``--datasets`` selection that runs what is there. A paper-profile sweep prints the same report
first and starts no training whose data is not present (:func:`preflight`).

>>> statuses = check_datasets("/data", ["11k-dr", "hd"])                   # doctest: +SKIP
>>> print(format_report("/data", statuses, trainings=["11k-dr", "hd", "hd"]))  # doctest: +SKIP
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Sequence

__all__ = ["DatasetStatus", "check_datasets", "format_report", "needed_datasets", "preflight"]

SUBSETS = ("train", "query", "gallery")


def _catalogue() -> dict[str, dict]:
    """name -> {"folders": candidate folders under the root, "published": LAGA-Net row, "table": its label}.

    The one place that reads the dataset table (:mod:`handreid.data.datasets`), the loaders'
    folder names and :mod:`handreid.published`.
    """
    from .. import published as pub
    from . import body, cuhk03, hands11k, hd
    from .datasets import TABLE

    folders = {"11k": (hands11k.DIRNAME,), "hd": (hd.HD_DIRNAME,), "market1501": body.MARKET_DIRNAMES,
               "dukemtmc": body.DUKE_DIRNAMES, "cuhk03": cuhk03.DIRNAMES, "msmt17": body.MSMT_DIRNAMES}
    tables = {"body": (pub.LAGA_TABLE1, "Table I"), "hand": (pub.LAGA_TABLE2, "Table II")}
    out = {}
    for name, d in TABLE.items():
        published, label = tables[d.kind]
        out[name] = {"folders": folders.get(d.writer, ()), "published": published.get(name),
                     "table": label if name in published else ""}
    return out


@dataclass(frozen=True)
class DatasetStatus:
    """One dataset under a data root.

    ``state``: ``present``, ``missing`` or ``incomplete``; ``error``: the loader's message
    (not present); ``counts``: ``{subset: {"ids", "images", "cameras"}}`` (present);
    ``published``: the LAGA-Net row ``{subset: (ids, images[, cameras])}`` and ``table`` its label.
    """

    name: str
    state: str
    error: str = ""
    counts: dict | None = None
    published: dict | None = None
    table: str = ""

    @property
    def usable(self) -> bool:
        return self.state == "present"

    @property
    def keys(self) -> tuple[str, ...]:
        """The counts the paper's table has: ids, images (and cameras for the body datasets)."""
        return ("ids", "images", "cameras")[:len(self.published["train"])] if self.published else ("ids", "images")

    @property
    def matches_paper(self) -> bool | None:
        """Whether every count equals the paper's (None: not present, or no published row)."""
        if self.counts is None or self.published is None:
            return None
        return all(tuple(self.counts[s][k] for k in self.keys) == tuple(self.published[s]) for s in SUBSETS)


def check_datasets(root: str | os.PathLike, datasets: Iterable[str]) -> list[DatasetStatus]:
    """Load repeat 0 (seed 0) of each dataset under ``root`` and say what is there."""
    from . import DatasetError, load_split
    from .overview import split_statistics

    root = Path(root).expanduser()
    table = _catalogue()
    out = []
    for name in datasets:
        entry = table.get(name, {"folders": (), "published": None, "table": ""})
        common = {"published": entry["published"], "table": entry["table"]}
        try:
            counts = split_statistics(load_split(name, root=root, repeat=0, seed=0))
        except Exception as e:  # noqa: BLE001 - a broken dataset is reported, not fatal
            error = str(e) if isinstance(e, DatasetError) else f"{type(e).__name__}: {e}"
            there = any((root / f).is_dir() for f in entry["folders"])
            out.append(DatasetStatus(name, "incomplete" if there else "missing", error, **common))
            continue
        out.append(DatasetStatus(name, "present", counts=counts, **common))
    return out


def _first_line(message: str) -> str:
    line = message.strip().splitlines()[0].strip() if message.strip() else ""
    return line.removesuffix("Expected layout:").strip()


def _counts(rows: Mapping[str, Sequence[int]]) -> str:
    return ", ".join(f"{s} " + "/".join(map(str, rows[s])) for s in SUBSETS)


def _describe(s: DatasetStatus) -> str:
    mine = _counts({sub: [s.counts[sub][k] for k in s.keys] for sub in SUBSETS}) + f" ({'/'.join(s.keys)})"
    if s.published is None:
        return mine
    if s.matches_paper:
        return f"{mine}: as in LAGA-Net {s.table}"
    return f"{mine}: differs from LAGA-Net {s.table} ({_counts(s.published)})"


def format_report(root: str | os.PathLike, statuses: Sequence[DatasetStatus], trainings: Sequence[str] | None = None,
                  evaluations: Sequence[str] = (), full: bool = False) -> str:
    """The report: a header, one line per dataset, then what can run.

    ``trainings`` / ``evaluations``: the dataset of each selected training / each derived
    evaluation (its target), to count what an unusable dataset blocks. ``full`` adds each
    loader's whole message (expected tree, where to get the data) under its line.
    """
    lines = [f"data under {root} (counts of repeat 0, seed 0 against LAGA-Net Tables I-II):"]
    width = max([len(s.name) for s in statuses] + [10])
    for s in statuses:
        if s.usable:
            detail = _describe(s)
        else:
            blocks = []
            if trainings is not None:
                blocks.append(f"{sum(d == s.name for d in trainings)} of {len(trainings)} trainings")
            if sum(d == s.name for d in evaluations):
                blocks.append(f"{sum(d == s.name for d in evaluations)} evaluations")
            detail = (f"blocks {' and '.join(blocks)}: " if blocks else "") + _first_line(s.error)
        lines.append(f"  {s.name:<{width}}  {s.state:<10}  {detail}")
        if full and s.error:
            lines += ["      " + ln for ln in s.error.strip().splitlines()]
    bad = [s for s in statuses if not s.usable]
    good = [s.name for s in statuses if s.usable]
    if not bad:
        lines.append(f"all {len(statuses)} datasets present" + (": every selected training can run" if trainings else ""))
    elif trainings is None:
        lines.append(f"present: {', '.join(good) or 'none'}")
    else:
        runnable = [d for d in good if d in trainings]
        n = sum(d in good for d in trainings)
        if runnable:
            lines.append(f"runnable now: --datasets {','.join(runnable)} ({n} of {len(trainings)} trainings)")
        else:
            lines.append(f"no selected training can run: none of its datasets is present under {root}")
    return "\n".join(lines)


def needed_datasets(plan, datasets: Sequence[str] | None = None) -> list[str]:
    """The datasets a plan touches: its trainings', its evaluations' targets and its statistics
    tables' columns (``datasets`` filters those, as it filters the trainings), in table order."""
    from .datasets import TABLE

    names = {r.params["dataset"] for r in plan.runs} | {e.dataset for e in plan.evals}
    for exp in plan.experiments:
        if exp.kind == "stats":
            names |= {c.train for c in exp.columns if not datasets or c.train in datasets}
    return [d for d in TABLE if d in names] + sorted(names - set(TABLE))


def preflight(plan, data_root: str | os.PathLike | None, datasets: Sequence[str] | None = None,
              full: bool = False, out=print) -> tuple[list[DatasetStatus], set[str]]:
    """Check the datasets of ``plan`` under ``data_root``, ``out`` the report, and return the
    statuses and the names of the unusable datasets (none checked without a data root)."""
    if not data_root:
        out("data: no data root given, so the datasets are not checked "
            "(`python -m handreid data --data-root DIR` checks them)")
        return [], set()
    statuses = check_datasets(data_root, needed_datasets(plan, datasets))
    out(format_report(data_root, statuses, [r.params["dataset"] for r in plan.runs],
                      [e.dataset for e in plan.evals], full=full))
    return statuses, {s.name for s in statuses if not s.usable}
