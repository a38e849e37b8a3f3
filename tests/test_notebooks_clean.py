"""Every notebook is stored clean (no outputs, no execution counts) and parameterised the house way:
exactly one cell tagged ``parameters``, and the cell right after it validates the parameters."""

from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks():
    assert NOTEBOOKS, "no notebooks/*.ipynb found"


@pytest.fixture(params=NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def notebook(request):
    return request.param, nbformat.read(request.param, as_version=4)


def test_stored_without_outputs(notebook):
    path, nb = notebook
    dirty = [i for i, c in enumerate(nb.cells)
             if c.cell_type == "code" and (c.get("outputs") or c.get("execution_count") is not None)]
    assert not dirty, (f"{path.name}: code cells {dirty} have outputs or execution counts; clear them "
                       "before committing (e.g. jupyter nbconvert --clear-output --inplace)")


def test_one_parameters_cell_followed_by_validation(notebook):
    path, nb = notebook
    tagged = [i for i, c in enumerate(nb.cells) if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, f"{path.name}: expected exactly one cell tagged 'parameters', found {len(tagged)}"
    i = tagged[0]
    assert nb.cells[i].cell_type == "code", f"{path.name}: the 'parameters' cell must be a code cell"
    assert i + 1 < len(nb.cells), f"{path.name}: nothing follows the 'parameters' cell"
    after = nb.cells[i + 1]
    assert after.cell_type == "code" and ("validate(" in after.source or "config_from_namespace(" in after.source), (
        f"{path.name}: the cell after 'parameters' must validate them "
        "(handreid.params.validate(...) or handreid.engine.config_from_namespace(...))")
