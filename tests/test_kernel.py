"""The sweep worker's kernel (handreid.repro.kernel): one kernel for many notebooks, each starting from a
fresh kernel's state; a dead kernel is replaced; a run in a used kernel equals one in a fresh kernel."""

import json

import nbformat
import papermill
import pytest

from handreid.repro import kernel, sweep


def _notebook(path, *cells):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, str(path))
    return str(path)


def _execute(src, out):
    return papermill.execute_notebook(src, str(out), progress_bar=False, engine_name=kernel.ENGINE, **sweep.KERNEL)


@pytest.fixture
def own_kernel():
    kernel.shutdown()  # no kernel left from another test
    yield
    kernel.shutdown()


def test_notebooks_share_one_kernel_and_each_starts_from_a_fresh_namespace(tmp_path, own_kernel):
    first = _notebook(tmp_path / "a.ipynb", "import os, matplotlib.pyplot as plt\nleft_over = 41\nfig = plt.figure()",
                      "print(os.getpid())")
    second = _notebook(tmp_path / "b.ipynb",
                       "import os, sys\nprint(os.getpid())\n"
                       "print(sorted(k for k in ('left_over', 'fig', 'plt') if k in globals()))\n"
                       "print(len(sys.modules['matplotlib.pyplot'].get_fignums()))")
    a = _execute(first, tmp_path / "a.out.ipynb")
    b = _execute(second, tmp_path / "b.out.ipynb")
    pid_a = a.cells[1].outputs[0]["text"].strip()
    pid_b, names, figures = b.cells[0].outputs[0]["text"].split()[0], *b.cells[0].outputs[0]["text"].split("\n")[1:3]
    assert pid_a == pid_b                       # the same kernel process ran both notebooks
    assert names == "[]" and figures == "0"     # ... and the second saw none of the first's names or figures
    assert [c.execution_count for c in a.cells] == [1, 2] and b.cells[0].execution_count == 1


def test_the_reset_collects_a_notebooks_garbage_and_freezes_what_survives(tmp_path, own_kernel):
    # A reference cycle left by one notebook is freed before the next starts (the reset collects after
    # clearing the namespace); what survives the reset is frozen, so later resets scan only new objects.
    first = _notebook(tmp_path / "a.ipynb",
                      "import gc, sys, weakref\nclass Node: pass\na, b = Node(), Node()\na.other, b.other = b, a\n"
                      "sys.handreid_probe = weakref.ref(a)\nprint(gc.get_freeze_count())")
    second = _notebook(tmp_path / "b.ipynb", "import gc, sys\nprint(sys.handreid_probe() is None, gc.get_freeze_count() > 0)")
    a = _execute(first, tmp_path / "a.out.ipynb")
    b = _execute(second, tmp_path / "b.out.ipynb")
    assert a.cells[0].outputs[0]["text"].strip() == "0"          # a fresh kernel has frozen nothing
    assert b.cells[0].outputs[0]["text"].strip() == "True True"  # the cycle is gone; the survivors are frozen


def test_one_client_serves_the_kernels_notebooks_and_each_output_is_written_at_start_and_end(
        tmp_path, own_kernel, monkeypatch):
    import papermill.engines

    writes = []
    real = papermill.engines.write_ipynb
    monkeypatch.setattr(papermill.engines, "write_ipynb", lambda nb, path: (writes.append(path), real(nb, path)))
    _execute(_notebook(tmp_path / "a.ipynb", "x = 1", "y = 2", "z = 3"), tmp_path / "a.out.ipynb")
    client = kernel._client
    assert client is not None and client.channels_running
    assert writes == [str(tmp_path / "a.out.ipynb")] * 2          # papermill alone: 8 (start, each cell twice, end)
    with pytest.raises(papermill.PapermillExecutionError, match="boom"):
        _execute(_notebook(tmp_path / "b.ipynb", "print('before')", "raise ValueError('boom')", "after = 1"),
                 tmp_path / "b.out.ipynb")
    assert kernel._client is client                               # the same client, kept open
    failed = {c.source: c for c in nbformat.read(str(tmp_path / "b.out.ipynb"), as_version=4).cells}
    assert failed["print('before')"].outputs[0]["text"] == "before\n"   # the last write holds what ran
    assert any(o.get("ename") == "ValueError" for o in failed["raise ValueError('boom')"].outputs)


def test_a_dead_kernel_is_replaced_for_the_next_notebook(tmp_path, own_kernel):
    pid = _execute(_notebook(tmp_path / "pid.ipynb", "import os\nprint(os.getpid())"), tmp_path / "p.out.ipynb")
    with pytest.raises(Exception, match="(?i)dead|died|kernel"):
        _execute(_notebook(tmp_path / "die.ipynb", "import os\nos._exit(3)"), tmp_path / "d.out.ipynb")
    after = _execute(_notebook(tmp_path / "again.ipynb", "import os\nprint(os.getpid())"), tmp_path / "a.out.ipynb")
    assert after.cells[0].outputs[0]["text"] != pid.cells[0].outputs[0]["text"]


def test_a_run_in_a_used_kernel_equals_the_same_run_in_a_fresh_kernel(tmp_path, own_kernel):
    from handreid.data.synthetic import write_11k

    root = write_11k(tmp_path / "data", num_subjects=8, images_per_aspect=(3, 4), image_size=(48, 36), seed=3)
    common = {"dataset": "11k-dr", "recipe": "gpa", "data_root": str(root), "epochs": 2, "image_size": 32,
              "batch_size": 5, "eval_repeats": 2, "device": "cpu", "pretrained": False}
    other = {**common, "method": "resnet50", "seed": 1, "out_dir": str(tmp_path / "used")}
    run = {**common, "method": "gpanet", "method_options": {"hp": 2, "vp": 1}}
    assert sweep.run_one(other, log_output=False).status == "done"
    used = sweep.run_one({**run, "out_dir": str(tmp_path / "used")}, log_output=False)   # second in that kernel
    kernel.shutdown()
    fresh = sweep.run_one({**run, "out_dir": str(tmp_path / "fresh")}, log_output=False)  # first in a new one
    assert used.status == fresh.status == "done" and used.run_id == fresh.run_id

    def record(folder):
        d = tmp_path / folder / used.run_id
        history = [{k: v for k, v in row.items() if k != "seconds"}
                   for row in __import__("csv").DictReader(open(d / "history.csv"))]
        return json.loads((d / "metrics.json").read_text()), history

    assert record("used") == record("fresh")  # bit for bit: metrics, losses, accuracies per epoch


def test_a_notebook_run_from_another_folder_gets_a_kernel_started_there(tmp_path, own_kernel, monkeypatch):
    first = _execute(_notebook(tmp_path / "a.ipynb", "import os\nprint(os.getpid(), os.getcwd())"), tmp_path / "a.out.ipynb")
    other = tmp_path / "elsewhere"
    other.mkdir()
    monkeypatch.chdir(other)  # papermill changes to a notebook's cwd before the engine runs
    second = _execute(_notebook(tmp_path / "b.ipynb", "import os\nprint(os.getpid(), os.getcwd())"), tmp_path / "b.out.ipynb")
    pid_a, cwd_a = first.cells[0].outputs[0]["text"].split()
    pid_b, cwd_b = second.cells[0].outputs[0]["text"].split()
    assert pid_a != pid_b and cwd_b == str(other) and cwd_a != cwd_b
