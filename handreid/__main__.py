"""Command line: ``python -m handreid reproduce|verify|list|demo-data``.

    python -m handreid reproduce                        # demo profile: every table and figure, CPU
    python -m handreid reproduce --tables gpa-table1,gpa-fig2 --datasets 11k-dr --methods gpanet,resnet50
    python -m handreid reproduce --profile paper --data-root /data --dry-run   # the trainings, with GPU-hours
    python -m handreid reproduce --profile paper --data-root /data --jobs 4    # 4 runs at once on local GPUs
    python -m handreid reproduce --profile paper --data-root /data --executor slurm --slurm-partition gpu
    python -m handreid verify                           # retrain 3 committed records here and compare
    python -m handreid list                             # the tables and figures the registry knows
"""

from __future__ import annotations

import argparse
import sys


def _csv(value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


def _reproduce(args: argparse.Namespace) -> int:
    from .repro import sweep

    slurm = {}
    if args.slurm_partition:
        slurm["slurm_partition"] = args.slurm_partition
    if args.timeout_min:
        slurm["timeout_min"] = args.timeout_min
    try:
        outcomes = sweep.reproduce(
            args.tables, profile=args.profile, data_root=args.data_root, device=args.device, seeds=args.seeds,
            jobs=args.jobs, executor=args.executor, dry_run=args.dry_run, datasets=_csv(args.datasets),
            methods=_csv(args.methods), log_output=not args.quiet, slurm=slurm or None,
            notebooks=not args.no_notebooks, retrain=args.retrain)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.dry_run:
        return 0
    from . import paths
    print(f"[handreid] tables in {paths.tables_dir()}, figures in {paths.figures_dir()}")
    return 1 if any(o.status in ("failed", "blocked") for o in outcomes) else 0


def _list(args: argparse.Namespace) -> int:
    from .repro import experiments as ex
    from .repro.plan import plan

    print(f"{'key':20s} {'what':27s} {'kind':9s} {'runs':>4s}  title")
    for e in ex.EXPERIMENTS.values():
        runs = len(plan([e], profile="demo").runs)
        print(f"{e.key:20s} {e.name:27s} {e.kind:9s} {runs:4d}  {e.title}")
    print(f"all together: {len(plan('all').runs)} trainings (runs shared by several tables are trained once)")
    return 0


def _demo_data(args: argparse.Namespace) -> int:
    from .data import DATASETS
    from .data.synthetic.demo import prepare_demo_data

    print(prepare_demo_data(DATASETS if args.all else ["11k-dr"], args.out))
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["verify"]:  # its own options: python -m handreid verify --help
        from .repro.verify import main as verify_main
        return verify_main(argv[1:])
    parser = argparse.ArgumentParser(prog="handreid", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    rp = sub.add_parser("reproduce", help="train what the selected tables and figures need, then render them")
    rp.add_argument("--profile", choices=("demo", "paper"), default="demo")
    rp.add_argument("--data-root", help="folder holding the datasets (required for --profile paper)")
    rp.add_argument("--tables", default="all",
                    help="tables and figures: 'all' (default), keys or patterns, comma-separated "
                         "(e.g. gpa-table1,gpa-fig2 or 'laga-*'); see `python -m handreid list`")
    rp.add_argument("--datasets", help="only cells trained on these datasets (comma-separated)")
    rp.add_argument("--methods", help="only these methods (comma-separated model names)")
    rp.add_argument("--seeds", type=int, default=1, help="training seeds per configuration (default 1)")
    rp.add_argument("--jobs", type=int, default=1,
                    help="runs at once (local: worker processes, spread round robin over the local GPUs; "
                         "slurm: array parallelism)")
    rp.add_argument("--executor", choices=("local", "slurm", "submitit-local", "submitit-debug"), default="local")
    rp.add_argument("--slurm-partition", help="Slurm partition (--executor slurm)")
    rp.add_argument("--timeout-min", type=int, help="time limit of one job in minutes (submitit executors)")
    rp.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    rp.add_argument("--dry-run", action="store_true", help="list the runs that would execute, and why, then stop")
    rp.add_argument("--no-notebooks", action="store_true", help="do not run the tables and figures notebooks")
    rp.add_argument("--retrain", action="store_true",
                    help="train the selected runs anew even when their records exist (the old records move to "
                         "results/runs-previous/)")
    rp.add_argument("--quiet", action="store_true", help="do not stream the notebooks' output")
    rp.set_defaults(func=_reproduce)
    sub.add_parser("verify", help="retrain a few committed records on this machine and compare "
                                  "(python -m handreid verify --help)")
    ls = sub.add_parser("list", help="the tables and figures of both papers")
    ls.set_defaults(func=_list)
    dp = sub.add_parser("demo-data", help="write the synthetic demo datasets (idempotent)")
    dp.add_argument("--out", default=None, help="folder (default: data/demo)")
    dp.add_argument("--all", action="store_true", help="every dataset (default: 11k only)")
    dp.set_defaults(func=_demo_data)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
