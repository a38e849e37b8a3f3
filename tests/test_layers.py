"""The house rules that keep handreid readable: no import cycles, no module importing a layer above it.

Layers, bottom to top (docs/DESIGN.md "The parts"): the foundations (``io``, ``paths``,
``params``, ``progress``, ``published``), then ``metrics``, ``data``, ``models``, ``losses``,
then ``engine``, then ``plots``/``teaching``/``bench``/``gpucheck``, then ``repro``, then the
command line. A module may import its own layer and the ones below it, nothing above.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import handreid

PACKAGE = Path(handreid.__file__).parent
LAYERS = [
    {"io", "paths", "params", "progress", "published"},
    {"metrics", "data", "models", "losses"},
    {"engine"},
    {"plots", "teaching", "bench", "gpucheck"},
    {"repro"},
    {"__main__"},
]


def _layer(top: str) -> int:
    for i, names in enumerate(LAYERS):
        if top in names:
            return i
    raise AssertionError(f"handreid.{top} has no layer in tests/test_layers.py: add it to LAYERS")


def _modules() -> dict[str, Path]:
    out = {}
    for f in PACKAGE.rglob("*.py"):
        rel = f.relative_to(PACKAGE).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(["handreid", *parts])] = f
    return out


def _imports(name: str, path: Path) -> set[str]:
    """handreid modules imported by ``name`` (absolute or relative), at any depth of the file."""
    pkg = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("handreid")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg.split(".")[: len(pkg.split(".")) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if mod.startswith("handreid"):
                found.add(mod)
                found |= {f"{mod}.{a.name}" for a in node.names}
    return found


def test_no_module_imports_a_layer_above_it():
    mods = _modules()
    bad = []
    for name, path in mods.items():
        if name == "handreid":
            continue
        own = _layer(name.split(".")[1])
        for imp in _imports(name, path):
            parts = imp.split(".")
            if len(parts) < 2 or f"handreid.{parts[1]}" not in mods:
                continue  # handreid.__version__ and the like
            if _layer(parts[1]) > own:
                bad.append(f"{name} imports {imp}")
    assert not bad, "imports against the layering:\n" + "\n".join(sorted(set(bad)))


def test_no_import_cycles_between_top_level_parts():
    mods = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in mods.items():
        if name == "handreid":
            continue
        src = name.split(".")[1]
        for imp in _imports(name, path):
            parts = imp.split(".")
            if len(parts) >= 2 and parts[1] != src and f"handreid.{parts[1]}" in mods:
                graph.setdefault(src, set()).add(parts[1])
    seen, stack, cycles = set(), [], []

    def visit(n):
        if n in stack:
            cycles.append(" -> ".join(stack[stack.index(n):] + [n]))
            return
        if n in seen:
            return
        seen.add(n)
        stack.append(n)
        for m in sorted(graph.get(n, ())):
            visit(m)
        stack.pop()

    for n in sorted(graph):
        visit(n)
    assert not cycles, "import cycles between parts of handreid:\n" + "\n".join(cycles)


def test_no_path_outside_the_repository_in_the_package():
    absolute = re.compile(r"""(?:^|[\s'"(=])/(?:work|home|tmp|root)/|\.\./shared|shared/papers""")
    hits = [f"{f.relative_to(PACKAGE)}:{i}: {line.strip()}" for f in PACKAGE.rglob("*.py")
            for i, line in enumerate(f.read_text(encoding="utf-8").splitlines(), 1) if absolute.search(line)]
    assert not hits, "\n".join(hits)
