"""Every synthetic writer writes, byte for byte, the tree it wrote before the synthetic package split.

The expected digests were computed with the code of main at commit f0d4c76 (before
``handreid/data/synthetic.py`` became a package): ``git worktree add /tmp/data-base f0d4c76``, then
``PYTHONPATH=/tmp/data-base:tests python -c "import test_synthetic_writers as t; t.print_expected()"``
run from this repository (the helpers below use only ``WRITERS``, which both versions have), twice,
with the same output.
The hand trees ('11k', 'hd') were re-pinned on purpose on branch demo (issue 16): the hand renderer
gained identity-fixed local marks (knuckle wrinkles / flexion creases per joint, nail shape and
tint, the ring's finger and metal) and slightly larger moles; ``print_expected()`` run twice on
that code gave the same new digests. They were re-pinned again for renderer version 2
(``hands.RENDERER_VERSION``: a larger hand, less background and rotation jitter, a wider spread of
skin colours and finger lengths; the parameter record now holds the renderer version), the same way.
The body trees are unchanged.
Same Python environment (Pillow's JPEG encoder, h5py, scipy) as the tests.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from conftest import TINY

#: Writer -> (number of files, sha256 over the sorted lines "<path relative to the root>\t<sha256 of the file>").
EXPECTED = {
    '11k': (81, '2432a872294bad61eb2ca9c315787e97288d0fbaa80fce0175de02b266aeac7c'),
    'hd': (30, '9965f040a3e21fd768b171672dbf81ee1acb8aa435a20b821fb42f6520090d88'),
    'market1501': (42, 'b78196b5cd3748638863f5cddd6d4b7ad340c4a8ddbef20a829ce3dba9c25a9a'),
    'dukemtmc': (41, '42818f8b4ad5ec954ea07b3625d475622075a9cf158cce0ea1a90b0d551b70cc'),
    'cuhk03': (4, 'cb14bd44256d2e71b10c9229e365e084538988225559c3f17a95e6a3761aa6a0'),
    'msmt17': (41, '02a33a6039e2f6b4f20da8d9323c084a9f3d5078178a97eefc1f26ebb7f454f1'),
}


def _file_digest(path: Path) -> str:
    raw = path.read_bytes()
    if raw.startswith(b"MATLAB 5.0 MAT-file"):
        # scipy.io.savemat writes the creation time into the 116-byte text header: digest the rest
        raw = raw[116:]
    return hashlib.sha256(raw).hexdigest()


def tree_digest(root: Path) -> tuple[int, str]:
    """(number of files, sha256 over "<relative path>\\t<file sha256>" lines in path order) of ``root``."""
    lines = []
    for folder, _, files in os.walk(root):
        for f in files:
            p = Path(folder) / f
            lines.append(f"{p.relative_to(root).as_posix()}\t{_file_digest(p)}\n")
    lines.sort()
    return len(lines), hashlib.sha256("".join(lines).encode()).hexdigest()


def write_tiny(name: str, root: Path) -> Path:
    from handreid.data.synthetic import WRITERS

    return WRITERS[name](root, seed=0, **TINY[name])


def print_expected() -> None:  # pragma: no cover - how EXPECTED was made (see the module docstring)
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        for name in TINY:
            print(f"    {name!r}: {tree_digest(write_tiny(name, Path(tmp) / name))!r},")


@pytest.mark.parametrize("name", list(TINY))
def test_writer_output_unchanged(name, tmp_path):
    root = write_tiny(name, tmp_path / "root")
    assert tree_digest(root) == EXPECTED[name], f"synthetic {name} tree differs from the one main wrote"


def test_writers_cover_every_format():
    from handreid.data.synthetic import WRITERS

    assert set(WRITERS) == set(EXPECTED) == set(TINY)
