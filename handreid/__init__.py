"""handreid: the reproducible companion to GPA-Net and LAGA-Net.

A thin library (data protocols, models, losses, training, evaluation) that the
notebooks in ``notebooks/`` drive. See ``README.md`` and ``docs/DESIGN.md``.
"""

__version__ = "0.1.0"
