"""Command line: ``python -m handreid reproduce|demo-data``."""

from __future__ import annotations

import argparse
import sys
import time


def _reproduce(args: argparse.Namespace) -> int:
    from . import paths, sweep

    common = {"profile": args.profile, "device": args.device}
    if args.data_root:
        common["data_root"] = args.data_root
    t0 = time.perf_counter()
    outcomes = sweep.sweep(sweep.GPA_TABLE1_DR, common=common, dry_run=args.dry_run,
                           log_output=not args.quiet)
    if args.dry_run:
        return 0
    report = sweep.run_report(args.profile)
    print(f"[handreid] tables in {paths.tables_dir()}, figures in {paths.figures_dir()}, "
          f"report notebook {report}; {time.perf_counter() - t0:.0f} s in all")
    return 1 if any(o.status == "failed" for o in outcomes) else 0


def _demo_data(args: argparse.Namespace) -> int:
    from .engine.config import ensure_demo_data

    print(ensure_demo_data(args.out))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="handreid", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    rp = sub.add_parser("reproduce", help="train every configuration of a profile, then tables and figures")
    rp.add_argument("--profile", choices=("demo", "paper"), default="demo")
    rp.add_argument("--data-root", help="folder holding the datasets (required for --profile paper)")
    rp.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    rp.add_argument("--dry-run", action="store_true", help="list the runs that would execute and stop")
    rp.add_argument("--quiet", action="store_true", help="do not stream the notebooks' output")
    rp.set_defaults(func=_reproduce)
    dp = sub.add_parser("demo-data", help="write the synthetic demo datasets (idempotent)")
    dp.add_argument("--out", default=None, help="folder (default: data/demo)")
    dp.set_defaults(func=_demo_data)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
