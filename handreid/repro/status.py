"""One live progress line for a sweep: runs done / total, the epoch of each running run, an ETA.

The sweep's workers run notebooks in other processes; this reads what they write anyway (a
running training has ``run.partial.ipynb`` in its run directory, its ``history.csv`` gains a row
per epoch, its ``config.json`` holds the resolved recipe), so it needs no channel to them. In a
terminal the line is rewritten in place; in a log (stdout not a terminal) a new line is printed
when something changed, at most every ``interval`` seconds.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Sequence, TextIO

from ..engine import records
from ..io import read_json
from .plan import Task

__all__ = ["LiveStatus", "describe_status"]


def _epochs(task: Task) -> tuple[int, int | None] | None:
    """(epochs done, epochs planned) of a running training, or None when it is not running."""
    d = task.run_dir
    if task.kind != "train" or not (d / "run.partial.ipynb").exists():
        return None
    done = 0
    hist = d / records.HISTORY
    if hist.exists():
        done = max(0, len(hist.read_text(encoding="utf-8").strip().splitlines()) - 1)
    total = None
    try:
        total = int(read_json(d / records.CONFIG)["identity"]["recipe"]["epochs"])
    except (OSError, KeyError, ValueError, TypeError):
        pass
    return done, total


def describe_status(tasks: Sequence[Task], finished: set[int], seconds: Sequence[float], jobs: int,
                    elapsed: float) -> str:
    """``[sweep] 3/12 done; running: <run> epoch 4/40, ...; ETA ~6 min`` for the tasks given."""
    running = []
    for i, t in enumerate(tasks):
        if i in finished:
            continue
        ep = _epochs(t)
        if ep is not None:
            done, total = ep
            running.append(f"{t.run_id} epoch {done}/{total if total else '?'}")
    line = f"[sweep] {len(finished)}/{len(tasks)} done"
    if running:
        line += "; running: " + ", ".join(running)
    left = len(tasks) - len(finished)
    if seconds and left:
        eta = sum(seconds) / len(seconds) * left / max(1, jobs)
        line += f"; ETA ~{eta / 60:.0f} min" if eta >= 60 else f"; ETA ~{eta:.0f} s"
    return line + f" ({elapsed / 60:.1f} min so far)"


class LiveStatus:
    """Context manager: a thread that shows :func:`describe_status` until the block ends.

    The sweep calls :meth:`finished` with each outcome's index and duration.
    """

    def __init__(self, tasks: Sequence[Task], jobs: int, interval: float = 30.0, stream: TextIO | None = None):
        self.tasks, self.jobs, self.interval = list(tasks), jobs, interval
        self.stream = stream or sys.stdout
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._done: set[int] = set()
        self._seconds: list[float] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._last = ""
        self._t0 = time.perf_counter()
        self._thread = threading.Thread(target=self._run, name="sweep-status", daemon=True)

    def finished(self, index: int, seconds: float) -> None:
        with self._lock:
            self._done.add(index)
            if seconds:
                self._seconds.append(seconds)

    def line(self) -> str:
        with self._lock:
            done, secs = set(self._done), list(self._seconds)
        return describe_status(self.tasks, done, secs, self.jobs, time.perf_counter() - self._t0)

    def _show(self) -> None:
        text = self.line()
        if self.tty:
            self.stream.write("\r\033[K" + text)
        elif text.split(" (")[0] != self._last.split(" (")[0]:  # a log: only when something changed
            self.stream.write(text + "\n")
        self._last = text
        self.stream.flush()

    def _run(self) -> None:
        period = 1.0 if self.tty else self.interval
        while not self._stop.wait(period):
            self._show()

    def clear(self) -> None:
        """Before another line is printed in a terminal: erase the status line."""
        if self.tty and self._last:
            self.stream.write("\r\033[K")
            self.stream.flush()

    def __enter__(self) -> "LiveStatus":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.clear()
