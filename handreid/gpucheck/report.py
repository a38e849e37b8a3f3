"""The GPU check's report: one record per part, kept on disk after every change.

A part's process fills a :class:`PartRecord` (results, checks, skipped items, notes) and
saves it atomically after each item, so a part killed at its budget still reports what it
measured. The runner gathers the records into ``gpu-check.json`` and renders the same
content as ``gpu-check.md`` (:func:`render_markdown`).
"""

from __future__ import annotations

import contextlib
import json
import math
import time
import traceback
from pathlib import Path
from typing import Any

from ..io import write_json, write_text

STATUSES = ("ok", "failed", "skipped")


class SkipPart(Exception):
    """The whole part does not apply here (e.g. a CUDA-only part on a CPU); the message says why."""


def _jsonable(v: Any) -> Any:
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    if hasattr(v, "item") and callable(v.item):  # numpy / torch scalars
        return _jsonable(v.item())
    return v


class PartRecord:
    """What one part found; saved to ``file`` after every change (a killed part keeps it)."""

    def __init__(self, name: str, file: str | Path, budget_s: float, started: float | None = None):
        self.file = Path(file)
        self.started = time.time() if started is None else started
        self.deadline = self.started + budget_s
        self.data: dict[str, Any] = {"name": name, "status": "running", "budget_s": budget_s,
                                     "seconds": None, "error": None, "results": {}, "checks": [],
                                     "skipped": [], "notes": []}
        self.save()

    def left(self) -> float:
        """Seconds left of this part's budget."""
        return self.deadline - time.time()

    def save(self) -> None:
        self.data["seconds"] = round(time.time() - self.started, 2)
        write_json(self.file, _jsonable(self.data))

    def result(self, key: str, value: Any) -> None:
        self.data["results"][key] = value
        self.save()

    def note(self, text: str) -> None:
        self.data["notes"].append(text)
        self.save()

    def skip(self, item: str, why: str) -> None:
        self.data["skipped"].append({"item": item, "why": why})
        self.save()

    def check(self, name: str, ok: bool, measured: Any, tolerance: str) -> bool:
        """Record a comparison: what was measured, what was expected, and whether it held."""
        self.data["checks"].append({"name": name, "ok": bool(ok), "measured": measured, "tolerance": tolerance})
        self.save()
        return bool(ok)

    @contextlib.contextmanager
    def item(self, name: str):
        """Run one measurement; an error in it is recorded as a failed check and the part goes on."""
        try:
            yield
        except Exception as e:  # noqa: BLE001 - reported, then the next item runs
            self.data["checks"].append({"name": name, "ok": False, "measured": None,
                                        "tolerance": "runs without error", "error": _error_text(e)})
            self.save()

    def finish(self, error: BaseException | None = None) -> None:
        if isinstance(error, SkipPart):
            self.data.update(status="skipped", error=str(error))
        elif error is not None:
            self.data.update(status="failed", error=_error_text(error))
        else:
            bad = [c for c in self.data["checks"] if not c["ok"]]
            self.data["status"] = "failed" if bad else "ok"
            if bad:
                self.data["error"] = "; ".join(
                    f"{c['name']}: {c.get('error') or 'measured ' + _short(c['measured']) + ', expected ' + c['tolerance']}"
                    for c in bad)
        self.save()


def _error_text(e: BaseException) -> str:
    tb = traceback.format_exception(type(e), e, e.__traceback__)
    return f"{type(e).__name__}: {e}\n" + "".join(tb[-6:])


def _short(v: Any, n: int = 160) -> str:
    text = json.dumps(_jsonable(v)) if not isinstance(v, str) else v
    return text if len(text) <= n else text[:n - 3] + "..."


def write_report(out: Path, report: dict) -> None:
    """``gpu-check.json`` and ``gpu-check.md`` of ``report``, each replaced atomically."""
    write_json(out / "gpu-check.json", _jsonable(report))
    write_text(out / "gpu-check.md", render_markdown(report))


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, (dict, list)):
        return _short(v, 300)
    return str(v)


def render_markdown(report: dict) -> str:
    """The report as Markdown: a status table, then each part's results, checks and skipped items."""
    lines = [f"# GPU check: {report['device']} ({report['scale']} scale)", "",
             f"Command: `{report['command']}`  ",
             f"Started {report['started']}, {'finished ' + report['finished'] if report.get('finished') else 'not finished (partial report)'}; "
             f"budget scale {report['budget_scale']}.", "",
             "| part | status | seconds | budget s | error or reason |", "|---|---|---|---|---|"]
    for p in report["parts"]:
        err = (p.get("error") or "").splitlines()[0] if p.get("error") else ""
        lines.append(f"| {p['name']} | {p['status']} | {_fmt(p.get('seconds'))} | {_fmt(p['budget_s'])} | "
                     f"{err.replace('|', '/')} |")
    for p in report["parts"]:
        lines += ["", f"## {p['name']}: {p['status']}", ""]
        if p.get("error"):
            lines += ["```", p["error"].rstrip(), "```", ""]
        for k, v in p.get("results", {}).items():
            if isinstance(v, list) and v and all(isinstance(r, dict) for r in v):
                lines.append(f"- {k}:")
                lines += [f"  - {', '.join(f'{a}={_fmt(b)}' for a, b in r.items())}" for r in v]
            elif isinstance(v, dict):
                lines.append(f"- {k}: {', '.join(f'{a}={_fmt(b)}' for a, b in v.items())}")
            else:
                lines.append(f"- {k}: {_fmt(v)}")
        if p.get("checks"):
            lines += ["", "| check | ok | measured | expected |", "|---|---|---|---|"]
            for c in p["checks"]:
                measured = c.get("error", "").splitlines()[0] if c.get("error") else _fmt(c["measured"])
                lines.append(f"| {c['name']} | {'yes' if c['ok'] else 'NO'} | {measured.replace('|', '/')} | "
                             f"{c['tolerance'].replace('|', '/')} |")
        for s in p.get("skipped", []):
            lines.append(f"- skipped {s['item']}: {s['why']}")
        for n in p.get("notes", []):
            lines.append(f"- note: {n}")
    return "\n".join(lines) + "\n"
