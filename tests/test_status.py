"""The sweep's live progress line: runs done / total, the epoch of each running run, an ETA."""

import io
import json
import time

from handreid.repro.plan import Task
from handreid.repro.status import LiveStatus, describe_status


def _running(tmp_path, run_id, epochs_done, epochs):
    d = tmp_path / run_id
    d.mkdir(parents=True)
    (d / "run.partial.ipynb").write_text("{}")
    (d / "config.json").write_text(json.dumps({"identity": {"recipe": {"epochs": epochs}}}))
    rows = "".join(f"{e},1.0\n" for e in range(1, epochs_done + 1))
    (d / "history.csv").write_text("epoch,loss\n" + rows)
    return Task("train", run_id, {"out_dir": str(tmp_path), "dataset": "11k-dr"})


def test_status_line_names_running_epochs_and_an_eta(tmp_path):
    a = _running(tmp_path, "11k-dr-gpanet-a", 3, 40)
    b = _running(tmp_path, "hd-laganet-b", 0, 2)
    waiting = Task("train", "hd-gpanet-c", {"out_dir": str(tmp_path), "dataset": "hd"})
    done = Task("train", "11k-dl-gpanet-d", {"out_dir": str(tmp_path), "dataset": "11k-dl"})
    line = describe_status([a, b, waiting, done], {3}, [120.0], jobs=2, elapsed=130.0)
    assert line.startswith("[sweep] 1/4 done; running: 11k-dr-gpanet-a epoch 3/40, hd-laganet-b epoch 0/2")
    assert "ETA ~3 min" in line  # 120 s per run x 3 left / 2 jobs
    assert "hd-gpanet-c" not in line and "11k-dl-gpanet-d" not in line


def test_live_status_writes_log_lines_only_when_something_changed(tmp_path):
    t = _running(tmp_path, "11k-dr-gpanet-a", 1, 4)
    out = io.StringIO()
    with LiveStatus([t], jobs=1, interval=0.05, stream=out) as status:
        time.sleep(0.3)
        (tmp_path / "11k-dr-gpanet-a" / "history.csv").write_text("epoch,loss\n1,1\n2,1\n")
        time.sleep(0.3)
        status.finished(0, 5.0)
        time.sleep(0.2)
    lines = out.getvalue().splitlines()
    assert [ln.split(" (")[0] for ln in lines] == [
        "[sweep] 0/1 done; running: 11k-dr-gpanet-a epoch 1/4",
        "[sweep] 0/1 done; running: 11k-dr-gpanet-a epoch 2/4",
        "[sweep] 1/1 done",
    ]
