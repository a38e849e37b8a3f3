"""Progress bars that read well in a terminal, in JupyterLab and in papermill outputs.

A plain-text tqdm on stdout: JupyterLab and stored notebooks render its carriage
returns as one updating line, papermill's ``--log-output`` streams it, and no
widget state is written into executed notebooks.
"""

from __future__ import annotations

import sys

from tqdm.std import tqdm


def progress_bar(iterable=None, **kwargs):
    kwargs.setdefault("file", sys.stdout)
    kwargs.setdefault("ascii", True)
    kwargs.setdefault("dynamic_ncols", False)
    kwargs.setdefault("ncols", 100)
    kwargs.setdefault("mininterval", 1.0 if sys.stdout.isatty() else 5.0)
    return tqdm(iterable, **kwargs)
