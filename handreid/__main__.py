"""Command line: ``python -m handreid reproduce|verify|list|data|weights|demo-data``.

    python -m handreid reproduce                        # demo profile: every table and figure, CPU
    python -m handreid reproduce --tables gpa-table1,gpa-fig2 --datasets 11k-dr --methods gpanet,resnet50
    python -m handreid reproduce --profile paper --data-root /data --dry-run   # the trainings, with GPU-hours
    python -m handreid reproduce --profile paper --data-root /data --jobs 4    # 4 runs at once on local GPUs
    python -m handreid reproduce --profile paper --data-root /data --executor slurm --slurm-partition gpu
    python -m handreid verify                           # retrain 3 committed records here and compare
    python -m handreid list                             # the tables and figures the registry knows
    python -m handreid data --data-root /data           # which datasets are there, what they block
    python -m handreid weights                          # fetch and verify the ImageNet weights the tables need
    python -m handreid weights --dest /scratch/weights  # ... into a folder to copy to an offline machine
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
            notebooks=not args.no_notebooks, retrain=args.retrain, variant=args.variant)
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


def _selection(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tables", default="all",
                        help="tables and figures: 'all' (default), keys or patterns, comma-separated "
                             "(e.g. gpa-table1,gpa-fig2 or 'laga-*'); see `python -m handreid list`")
    parser.add_argument("--datasets", help="only cells trained on these datasets (comma-separated)")
    parser.add_argument("--methods", help="only these methods (comma-separated model names)")


def _data(args: argparse.Namespace) -> int:
    from .data.check import preflight
    from .repro.plan import plan as make_plan

    try:
        plan = make_plan(args.tables, profile="paper", datasets=_csv(args.datasets), methods=_csv(args.methods))
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 1 if preflight(plan, args.data_root, _csv(args.datasets), full=args.full)[1] else 0


def _weights(args: argparse.Namespace) -> int:
    from .models import weights
    from .repro.plan import plan

    try:
        runs = plan(args.tables, profile="paper", datasets=_csv(args.datasets), methods=_csv(args.methods)).runs
        uses = weights.needed((t.params["method"], t.params["method_options"]) for t in runs)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    statuses = weights.fetch(uses, args.dest, download_missing=not args.check, timeout=args.timeout,
                             progress=not args.check)
    print(weights.format_listing(statuses, args.dest or weights.checkpoint_dir()))
    if args.dest and not args.check and all(s.ok for s in statuses):
        print("on the machine that trains, put these files in torch.hub.get_dir()/checkpoints "
              "(default ~/.cache/torch/hub/checkpoints, or $TORCH_HOME/hub/checkpoints)")
    return 0 if all(s.ok for s in statuses) else 1


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
    _selection(rp)
    rp.add_argument("--seeds", type=int, default=None,
                    help="training seeds per configuration (default: each table's, 3 for the demo's headline comparisons, else 1)")
    rp.add_argument("--jobs", type=int, default=1,
                    help="runs at once (local: worker processes, spread round robin over the local GPUs; "
                         "slurm: array parallelism)")
    rp.add_argument("--executor", choices=("local", "slurm", "submitit-local", "submitit-debug"), default="local")
    rp.add_argument("--slurm-partition", help="Slurm partition (--executor slurm)")
    rp.add_argument("--timeout-min", type=int, help="time limit of one job in minutes (submitit executors)")
    rp.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    rp.add_argument("--variant", choices=("paper", "authors"), default=None,
                    help="paper text or the authors' public code for every choice where they differ "
                         "(default: each recipe's own; see handreid/engine/variant.py)")
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
    cp = sub.add_parser("data", help="check the datasets under a data root before a paper-profile sweep")
    cp.add_argument("--data-root", required=True, help="folder holding 11k/, HD/, Market-1501-v15.09.15/ ...")
    _selection(cp)
    cp.add_argument("--full", action="store_true", help="print each loader's whole message (expected tree, source)")
    cp.set_defaults(func=_data)
    wp = sub.add_parser("weights", help="download and verify the ImageNet weights the selected tables need")
    _selection(wp)
    wp.add_argument("--dest", help="folder to put the files in (default: torch's hub cache, "
                                   "torch.hub.get_dir()/checkpoints)")
    wp.add_argument("--check", action="store_true", help="only list and verify what is there; download nothing")
    wp.add_argument("--timeout", type=float, default=None,
                    help="seconds to wait for the server at each step (default $HANDREID_WEIGHTS_TIMEOUT or 5)")
    wp.set_defaults(func=_weights)
    dp = sub.add_parser("demo-data", help="write the synthetic demo datasets (idempotent)")
    dp.add_argument("--out", default=None, help="folder (default: data/demo)")
    dp.add_argument("--all", action="store_true", help="every dataset (default: 11k only)")
    dp.set_defaults(func=_demo_data)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
