"""Synthetic datasets in the exact on-disk format of the real ones (tests and the demo profile;
docs/DESIGN.md §1).

One writer per format, each taking its folder and file names from the reader of that format:
:func:`write_11k` (:mod:`.hands11k`: ``<root>/11k/HandInfo.csv`` and ``Hands/Hand_XXXXXXX.jpg``),
:func:`write_hd` (:mod:`.hd`: PolyU HD, dorsal hands from the same generator),
:func:`write_market1501`, :func:`write_dukemtmc`, :func:`write_msmt17` (:mod:`.body`: JPEG
pedestrians) and :func:`write_cuhk03` (:mod:`.cuhk03`: real MATLAB files). The images come from
two renderers, :mod:`.hands` and :mod:`.persons`; :mod:`.demo` writes the demo profile's trees.
:func:`write_all` writes all six under one root at demo size.

CLI::

    python -m handreid.data.synthetic --out DIR [--subjects N] [--seed S]
    python -m handreid.data.synthetic --out DIR --dataset {hd,market1501,dukemtmc,cuhk03,msmt17,all} [--seed S]

The parameters are recorded in ``<root>/11k/synthetic.json`` (``<root>/HD/``,
``<root>/Market-1501-v15.09.15/`` ... for the others); rerunning with the same
parameters finds the complete tree and skips the work.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any, Sequence

from ..hands11k import DIRNAME
from ._tree import FORMAT_VERSION, PARAMS_FILE
from .body import write_dukemtmc, write_market1501, write_msmt17
from .cuhk03 import write_cuhk03
from .hands11k import check_params, tree_complete, write_11k
from .hd import write_hd

__all__ = [
    "FORMAT_VERSION",
    "PARAMS_FILE",
    "WRITERS",
    "main",
    "write_11k",
    "write_all",
    "write_cuhk03",
    "write_dukemtmc",
    "write_hd",
    "write_market1501",
    "write_msmt17",
]

WRITERS = {
    "11k": write_11k,
    "hd": write_hd,
    "market1501": write_market1501,
    "dukemtmc": write_dukemtmc,
    "cuhk03": write_cuhk03,
    "msmt17": write_msmt17,
}


def write_all(root: str | os.PathLike, seed: int = 0, params: dict[str, dict[str, Any]] | None = None,
              *, force: bool = False) -> Path:
    """Write every synthetic dataset at demo size under one data root and return it.

    ``params`` maps a :data:`WRITERS` name to keyword arguments overriding that writer's
    defaults (e.g. ``{"11k": {"num_subjects": 40}}``). Each writer is idempotent, so a
    rerun with the same arguments only checks the trees.
    """
    params = dict(params or {})
    unknown = sorted(set(params) - set(WRITERS))
    if unknown:
        raise ValueError(f"params: unknown dataset(s) {unknown}; expected some of {sorted(WRITERS)}.")
    root = Path(root).expanduser()
    for name, writer in WRITERS.items():
        kwargs = {"seed": seed, **params.get(name, {})}
        writer(root, force=force, **kwargs)
    return root.resolve()


# ---------------------------------------------------------------------------
# CLI


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m handreid.data.synthetic",
        description="Write synthetic datasets in their real on-disk formats (default: an 11k Hands tree, "
        "HandInfo.csv + Hands/*.jpg).",
    )
    p.add_argument("--out", required=True, type=Path, help="data root; the tree goes to OUT/11k/")
    p.add_argument("--subjects", type=int, default=50, help="number of subjects (default 50)")
    p.add_argument("--seed", type=int, default=0, help="generator seed (default 0)")
    p.add_argument("--images-per-aspect", type=int, nargs=2, default=(4, 8), metavar=("MIN", "MAX"))
    p.add_argument("--size", type=int, nargs=2, default=(160, 120), metavar=("W", "H"), help="image size")
    p.add_argument("--accessory-fraction", type=float, default=0.1)
    p.add_argument("--force", action="store_true", help="rewrite even if an identical tree exists")
    p.add_argument("--dataset", choices=[*WRITERS, "all"], default="11k",
                   help="which dataset to write (default 11k); the others take their default sizes and --seed")
    args = p.parse_args(argv)
    if args.dataset != "11k":
        try:
            if args.dataset == "all":
                write_all(args.out, seed=args.seed, force=args.force)
            else:
                WRITERS[args.dataset](args.out, seed=args.seed, force=args.force)
        except (FileExistsError, ValueError) as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        print(f"{args.out}: synthetic {args.dataset} data ready.")
        return 0
    base = args.out / DIRNAME
    try:
        params = check_params(args.subjects, args.images_per_aspect, args.size, args.accessory_fraction, args.seed)
        if not args.force and tree_complete(base, params):
            print(f"{base}: synthetic 11k tree with these parameters exists; skipped.")
            return 0
        write_11k(args.out, args.subjects, args.images_per_aspect, args.size, args.accessory_fraction, args.seed,
                  force=args.force)
    except (FileExistsError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    n = json.loads((base / PARAMS_FILE).read_text(encoding="utf-8"))["num_images"]
    print(f"{base}: wrote HandInfo.csv and {n} images.")
    return 0

