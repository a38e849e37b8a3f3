"""Helpers every dataset loader shares (docs/DESIGN.md §1): root checks, layout and download hints,
directory listings that skip the operating system's files, and the "first five and N more" lists of
error messages. Each loader keeps its own wording of *what* it expected; these say it the same way.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from .split import DatasetError

__all__ = ["SYSTEM_FILES", "check_root", "expected_layout", "fill_hint", "is_system_file", "list_images", "preview"]

#: Files the operating system leaves in image folders; ignored (like every hidden file), never reported.
SYSTEM_FILES = {"thumbs.db", "desktop.ini", "ehthumbs.db"}


def is_system_file(name: str) -> bool:
    """True for hidden files and :data:`SYSTEM_FILES` (any case)."""
    return name.startswith(".") or name.lower() in SYSTEM_FILES


def preview(items, sep: str = ", ", limit: int = 5) -> str:
    """The first ``limit`` items joined by ``sep``, then " and N more": for error messages."""
    items = [str(i) for i in items]
    more = f" and {len(items) - limit} more" if len(items) > limit else ""
    return sep.join(items[:limit]) + more


def fill_hint(template: str, root: str | os.PathLike | None = None) -> str:
    """A download hint ``template`` with ``{root}`` filled in (``<root>`` when unknown)."""
    return template.format(root=str(root) if root is not None else "<root>")


def expected_layout(tree: str, root: str | os.PathLike | None = None) -> str:
    """``"Expected layout:\\n"`` + the dataset's folder ``tree`` under ``root`` + a newline."""
    return "Expected layout:\n" + tree.format(root=root if root is not None else "<root>") + "\n"


def check_root(root: Path, holding: str, hint: str, expected: str = "", holding_dir: str | None = None) -> None:
    """Raise :class:`DatasetError` unless the data root ``root`` is an existing directory.

    ``holding`` says what the root should hold (``"HD/"``), ``holding_dir`` a shorter form for the
    "not a directory" case (default ``holding``); ``expected`` (an :func:`expected_layout`) goes
    before the ``hint`` when the root does not exist.
    """
    if not root.exists():
        raise DatasetError(f"data root {root} does not exist; expected a directory holding {holding}. {expected}{hint}")
    if not root.is_dir():
        raise DatasetError(
            f"data root {root} is not a directory; expected a directory holding {holding_dir or holding}. {hint}"
        )


def list_images(folder: Path, pattern: re.Pattern, what: str, hint: str) -> list[tuple[str, re.Match]]:
    """(file name, match) of every file in ``folder`` whose name fully matches ``pattern``, by name.

    System files are skipped; any other entry (a file of another name, a folder) is an error
    that names ``what`` the names should look like (e.g. "the HD file name pattern <id>_<k>.jpg").
    """
    good, bad = [], []
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        if is_system_file(entry.name):
            continue
        m = pattern.fullmatch(entry.name)
        if m is None or not entry.is_file():
            bad.append(entry.name + ("/" if entry.is_dir() else ""))
        else:
            good.append((entry.name, m))
    if bad:
        shown = preview(map(repr, bad))
        raise DatasetError(
            f"{folder}: {len(bad)} entr{'y does' if len(bad) == 1 else 'ies do'} not match {what}: {shown}. "
            f"Remove or rename them; the dataset as it ships has only such images. {hint}"
        )
    return good
