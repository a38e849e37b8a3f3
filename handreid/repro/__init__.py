"""Reproduction: from a table or figure of the papers to the run records that fill it (docs/DESIGN.md §4).

The data flow, one module per step:

- :mod:`~handreid.repro.experiments`: every table and figure of both papers as data (rows,
  columns, metrics, published numbers);
- :mod:`~handreid.repro.plan`: the :class:`~handreid.repro.plan.Task` list a selection needs
  (one training per distinct run id, plus cross-domain and retrieval evaluations);
- :mod:`~handreid.repro.cost`: GFLOPs and estimated GPU-hours of a paper-profile training;
- :mod:`~handreid.repro.sweep`: runs the tasks (papermill on the run notebook, local workers,
  GPUs round robin, or a cluster through submitit) and writes the run records
  (:mod:`handreid.engine.records`);
- :mod:`~handreid.repro.tables` and :mod:`~handreid.repro.figures`: the tables and figures from
  those records, the published numbers beside ours.
"""
