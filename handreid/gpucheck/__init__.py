"""The prepared GPU check (DESIGN §5, issue 10): every CUDA path and GPU benchmark in one command.

    PYTHONPATH=. python -m handreid.gpucheck --device cuda --out results/gpu-check
    python -m handreid.gpucheck --device cpu --scale tiny --out gpu-check-tiny   # CI: toy size

Parts, each in its own process with its own time budget, each ending ``ok``, ``failed``
(with the error) or ``skipped`` (with why); one failing never stops the others:

* ``environment`` (:mod:`.environment`): GPU, driver, CUDA, versions, CPU, threads.
* ``correctness`` (:mod:`.correctness`): CPU against CUDA fits of GPA-Net and LAGA-Net,
  staging, resume, ``rank_metrics`` on CUDA, background checkpoints.
* ``train``, ``eval``, ``data``, ``fit`` (:mod:`.benchmarks`): :mod:`handreid.bench` at the
  papers' sizes, within the budget.

``DIR/gpu-check.json`` and ``DIR/gpu-check.md`` are rewritten atomically after every part,
so a run killed half way leaves a valid report of the parts that ended. Only the standard
library, torch, torchvision, numpy, pandas, PIL and tqdm are imported (what a lent GPU
machine has): no papermill, jupyter or submitit.
"""

PARTS = ("environment", "correctness", "train", "eval", "data", "fit")
