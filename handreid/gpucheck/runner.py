"""``python -m handreid.gpucheck``: runs each part in its own process, within its budget.

The runner itself imports neither torch nor CUDA: a part that hangs or crashes the
process (out of memory, a driver fault) is killed at its budget or reported with its exit
code, and the next part starts in a fresh process. The report is rewritten after every part.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from ..io import read_json
from . import PARTS
from .report import write_report

# Seconds per part. "full": what an H200 gets (the sum, 7 min, leaves room in an 8-minute
# loan for starting Python); every part stops its optional items early to stay inside.
# "tiny": caps for the toy-size CPU run (which takes far less; see tests/test_gpucheck.py).
BUDGETS = {
    "full": {"environment": 20, "correctness": 80, "train": 120, "eval": 40, "data": 40, "fit": 120},
    "tiny": {"environment": 60, "correctness": 180, "train": 120, "eval": 60, "data": 60, "fit": 240},
}
#: Test-only hook: ``PART:raise`` makes that part fail, ``PART:hang`` makes it hang.
INJECT_ENV = "HANDREID_GPUCHECK_INJECT"
# Parts that train or build caches get a private cache folder (removed afterwards).
_PRIVATE_CACHE = ("correctness", "fit")
_REPO = Path(__file__).resolve().parents[2]


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _child_env(work: Path, part: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(_REPO)] + [p for p in [env.get("PYTHONPATH")] if p])
    env.setdefault("MPLBACKEND", "Agg")
    if part in _PRIVATE_CACHE:
        env["HANDREID_CACHE"] = str(work / "cache")
    return env


def _start(part: str, args, work: Path, budget: float) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "handreid.gpucheck", "--run-part", part, "--device", args.device,
           "--scale", args.scale, "--budget", str(budget), "--work", str(work)]
    if args.peak_tflops:
        cmd += ["--peak-tflops", str(args.peak_tflops)]
    work.mkdir(parents=True, exist_ok=True)
    log = open(args.out / "logs" / f"{part}.log", "wb")
    try:  # its own process group: the fit part's workers are killed with it
        return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=_child_env(work, part),
                                start_new_session=True)
    finally:
        log.close()


def _kill(proc: subprocess.Popen | None) -> None:
    if proc is not None and proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()


def _log_tail(out: Path, part: str, n: int = 25) -> str:
    try:
        lines = (out / "logs" / f"{part}.log").read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join(lines[-n:])


def _collect(part: str, file: Path, budget: float, rc: int | None, seconds: float, out: Path) -> dict:
    """The part's own record, completed with what the runner saw (timeout, crash)."""
    try:
        rec = read_json(file)
    except (OSError, ValueError):
        rec = {"name": part, "budget_s": budget, "results": {}, "checks": [], "skipped": [], "notes": []}
    rec["seconds"] = round(seconds, 2)
    if rc is None:
        rec["status"] = "failed"
        rec["error"] = (f"exceeded its budget of {budget:.0f} s and was killed (what it measured before "
                        f"is kept; raise --budget-scale to give it more time)\n{_log_tail(out, part)}")
    elif rec.get("status") not in ("ok", "failed", "skipped"):
        rec["status"] = "failed"
        rec["error"] = f"its process ended with exit code {rc} before reporting\n{_log_tail(out, part)}"
    return rec


def run(args) -> int:
    out: Path = args.out
    (out / "logs").mkdir(parents=True, exist_ok=True)
    work_root = out / "work"
    shutil.rmtree(work_root, ignore_errors=True)
    budgets = {p: BUDGETS[args.scale][p] * args.budget_scale for p in args.parts}
    report = {"command": " ".join(shlex.quote(a) for a in ["python", "-m", "handreid.gpucheck", *args.argv]),
              "device": args.device, "scale": args.scale, "budget_scale": args.budget_scale,
              "started": _now(), "finished": None,
              "parts": [{"name": p, "status": "pending", "budget_s": budgets[p], "seconds": None, "error": None,
                         "results": {}, "checks": [], "skipped": [], "notes": []} for p in args.parts]}
    write_report(out, report)
    print(f"[gpucheck] {args.device}, {args.scale} scale, parts {', '.join(args.parts)}; report in {out}",
          flush=True)
    prep = proc = None

    def on_signal(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        if "fit" in args.parts and args.scale == "full":  # write the fit part's data while the others run
            prep = _start("prepare-fit", args, work_root / "fit", budgets["fit"])
        for i, part in enumerate(args.parts):
            budget = budgets[part]
            file = out / "logs" / f"{part}.json"
            file.unlink(missing_ok=True)
            report["parts"][i]["status"] = "running"
            write_report(out, report)
            t0 = time.monotonic()
            if part == "fit" and prep is not None:
                try:  # the wait counts against the fit part's budget
                    prep.wait(timeout=budget)
                except subprocess.TimeoutExpired:
                    _kill(prep)
            proc = _start(part, args, work_root / part, budget)
            try:
                rc = proc.wait(timeout=max(1.0, budget - (time.monotonic() - t0)))
            except subprocess.TimeoutExpired:
                _kill(proc)
                rc = None
            proc = None
            report["parts"][i] = _collect(part, file, budget, rc, time.monotonic() - t0, out)
            shutil.rmtree(work_root / part, ignore_errors=True)
            write_report(out, report)
            r = report["parts"][i]
            why = (r.get("error") or "").splitlines()[0] if r.get("error") else ""
            print(f"[gpucheck] {part:12s} {r['status']:7s} {r['seconds']:7.1f} s of {budget:.0f} s"
                  f"{'  ' + why if why else ''}", flush=True)
    except KeyboardInterrupt as e:
        for r in report["parts"]:
            if r["status"] == "running":
                r.update(status="failed", error=f"the GPU check was interrupted ({e}) during this part")
        write_report(out, report)
        raise SystemExit(130) from None
    finally:
        _kill(proc)
        _kill(prep)
        for s, h in old.items():
            signal.signal(s, h)
        shutil.rmtree(work_root, ignore_errors=True)
    report["finished"] = _now()
    write_report(out, report)
    failed = [r["name"] for r in report["parts"] if r["status"] == "failed"]
    print(f"[gpucheck] done: {len(args.parts) - len(failed)} of {len(args.parts)} parts ok or skipped"
          f"{'; failed: ' + ', '.join(failed) if failed else ''}. Report: {out / 'gpu-check.md'}", flush=True)
    return 1 if failed else 0


def run_part(args) -> int:
    """In the part's own process: run it, recording everything into ``logs/PART.json``."""
    from .report import PartRecord

    if args.run_part == "prepare-fit":
        from .benchmarks import prepare_fit_data
        prepare_fit_data(args.work, args.scale)
        return 0
    rec = PartRecord(args.run_part, args.out / "logs" / f"{args.run_part}.json", args.budget)
    error = None
    try:
        inject = os.environ.get(INJECT_ENV, "")
        if inject in (f"{args.run_part}:raise", f"{args.run_part}:hang"):
            if inject.endswith("hang"):
                time.sleep(10**6)
            raise RuntimeError(f"injected failure ({INJECT_ENV}={inject})")
        if args.run_part == "environment":
            from .environment import environment
            environment(rec, args)
        elif args.run_part == "correctness":
            from .correctness import correctness
            correctness(rec, args)
        else:
            from . import benchmarks
            getattr(benchmarks, f"part_{args.run_part}")(rec, args)
    except Exception as e:  # noqa: BLE001 - this is the part's report
        error = e
    rec.finish(error)
    return 0


def _parts(text: str) -> tuple[str, ...]:
    parts = tuple(p.strip() for p in text.split(",") if p.strip())
    bad = [p for p in parts if p not in PARTS]
    if not parts or bad:
        raise argparse.ArgumentTypeError(
            f"unknown part {', '.join(map(repr, bad)) or '(none given)'}; expected a comma-separated "
            f"list drawn from {','.join(PARTS)}")
    return tuple(p for p in PARTS if p in parts)  # always in the report's order


def _positive(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        v = 0.0
    if not v > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return v


def main(argv=None) -> int:
    from . import __doc__ as doc

    argv = list(sys.argv[1:] if argv is None else argv)
    p = argparse.ArgumentParser(prog="python -m handreid.gpucheck", description=doc,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cuda", help="cuda (default), cuda:N or cpu")
    p.add_argument("--out", type=Path, default=Path("results/gpu-check"), help="report folder")
    p.add_argument("--scale", choices=tuple(BUDGETS), default="full",
                   help="full: the papers' sizes (a GPU); tiny: toy sizes that run on a CPU in minutes")
    p.add_argument("--parts", type=_parts, default=PARTS, help=f"comma-separated subset of {','.join(PARTS)}")
    p.add_argument("--budget-scale", type=_positive, default=1.0,
                   help="multiply every part's time budget (e.g. 2 on a slower GPU)")
    p.add_argument("--peak-tflops", type=_positive, default=None,
                   help="the GPU's dense bf16 peak, for model FLOP utilisation (default: from its name)")
    p.add_argument("--run-part", help=argparse.SUPPRESS)
    p.add_argument("--budget", type=float, help=argparse.SUPPRESS)
    p.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    args.argv = argv
    if not (args.device == "cpu" or args.device.startswith("cuda")):
        p.error(f"--device {args.device!r}: expected cuda, cuda:N or cpu")
    if args.run_part:
        args.out = args.work.parents[1]  # WORK = OUT/work/PART
        return run_part(args)
    args.out = args.out.resolve()
    return run(args)
