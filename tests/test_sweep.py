"""The sweep: dry-run listing, skipping, failures, executors (processes, submitit), derived evaluations."""

import json
import math
import os

import pytest

from handreid.repro import plan as pl
from handreid.repro import sweep


def _task(tmp_path, run_id="11k-dr-gpanet-x", **params):
    p = {"dataset": "11k-dr", "method": "gpanet", "method_options": {"hp": 3, "vp": 1}, "recipe": "gpa",
         "profile": "demo", "out_dir": str(tmp_path / "runs"), "device": "cpu", **params}
    return pl.Task("train", run_id, p)


def _finish(task):
    """Mark a task's run finished, as fit() would (its id is the engine's)."""
    from handreid.engine import make_config

    rid = make_config(**task.params).run_id()
    task.run_id = rid
    d = task.runs_root / rid
    d.mkdir(parents=True, exist_ok=True)
    (d / "metrics.json").write_text("{}")
    return task


def test_paper_dry_run_lists_every_training_with_its_cost(capsys):
    outcomes = sweep.reproduce("all", profile="paper", dry_run=True)
    out = capsys.readouterr().out
    trains = [o for o in outcomes if o.kind == "train"]
    assert len(trains) == 70 and all(o.status == "planned" for o in trains)
    assert out.startswith("data: no data root given, so the datasets are not checked")  # issue 11's data check
    assert out.splitlines()[1].startswith("70 trainings for gpa-table1, gpa-table2")
    assert out.count("  [to run] ") == 70
    assert "GPU (60 epochs x 890 images at 384x384" in out  # GPA-Net / ResNet50 / VGG on D-r
    assert "for gpa-table1: GPA-Net (ours) / P-r of 11k; gpa-table3: Hp = 3 / Vp = 1; gpa-table4" in out
    assert "cross " in out and "retrieval " in out
    total = [ln for ln in out.splitlines() if ln.startswith("estimated total")]
    assert total and "GPU-hours on an NVIDIA RTX 2080 Ti" in total[0]
    hours = float(total[0].split("~")[1].split(" ")[0])
    assert 10 < hours < 400  # RGA-Net's own recipe (600 epochs on the body sets) is most of it


def test_dry_run_marks_finished_runs_and_trains_nothing(tmp_path, capsys, monkeypatch):
    out_dir = str(tmp_path / "runs")
    plan = pl.plan("gpa-table1", datasets=["11k-dr"], methods=["gpanet", "resnet50"], seeds=1)
    done = pl.Task("train", plan.runs[0].run_id, {**plan.runs[0].params, "out_dir": out_dir})
    _finish(done)
    monkeypatch.setattr(sweep, "execute", lambda *a, **k: pytest.fail("a dry run executes nothing"))
    outcomes = sweep.reproduce("gpa-table1", dry_run=True, datasets=["11k-dr"], methods=["gpanet", "resnet50"],
                               out_dir=out_dir, seeds=1)
    out = capsys.readouterr().out
    assert [o.status for o in outcomes] == ["skipped", "planned"]
    assert out.count("[finished]") == 1 and out.count("[to run]") == 1
    assert "GPU" not in out  # no paper cost estimate for the demo profile


def test_finished_runs_are_skipped_and_failures_do_not_stop_the_sweep(tmp_path):
    bad = _task(tmp_path, method="nonet")
    good = _finish(_task(tmp_path))
    outcomes = sweep.execute([bad, good], progress=False)
    assert [o.status for o in outcomes] == ["failed", "skipped"]
    assert "method='nonet' is invalid" in outcomes[0].error
    s = sweep.summary(outcomes)
    assert s.startswith("sweep: 1 skipped, 1 failed") and "failed: 11k-dr-gpanet-x: parameter method" in s


def test_submitit_debug_executor_runs_the_tasks_in_process(tmp_path):
    good = _finish(_task(tmp_path))
    outcomes = sweep.execute([good, _task(tmp_path, method="nonet", run_id="r2")], executor="submitit-debug",
                             folder=tmp_path / "submitit", progress=False)
    assert [o.status for o in outcomes] == ["skipped", "failed"]


def test_submitit_local_executor_reports_a_crashed_job(tmp_path):
    # a job that raises (here: a trivial function given a Task) is a failed outcome, not an exception
    tasks = [_task(tmp_path)]
    crashed = sweep.execute(tasks, executor="submitit-local", fn=math.sqrt, folder=tmp_path / "s", progress=False)
    assert crashed[0].status == "failed" and "TypeError: must be real number" in crashed[0].error
    assert list((tmp_path / "s").glob("*_log.err"))


def test_slurm_executor_parameters_are_valid_for_submitit(tmp_path, monkeypatch):
    import submitit

    monkeypatch.setattr(submitit.SlurmExecutor, "affinity", classmethod(lambda cls: 1))  # pretend srun exists
    executor = sweep.make_executor("slurm", tmp_path, jobs=4, slurm={"slurm_partition": "gpu", "timeout_min": 90})
    params = executor._executor.parameters
    assert params["partition"] == "gpu" and params["time"] == 90 and params["array_parallelism"] == 4
    assert params["gpus_per_node"] == 1


def test_local_process_pool_runs_several_at_once(tmp_path):
    tasks = [_finish(_task(tmp_path, seed=s)) for s in range(3)] + [_task(tmp_path, method="nonet", run_id="bad")]
    outcomes = sweep.execute(tasks, jobs=2, progress=False)
    assert [o.status for o in outcomes] == ["skipped"] * 3 + ["failed"]


def test_devices_round_robin_over_local_gpus(monkeypatch):
    tasks = [pl.Task("train", str(i), {}) for i in range(5)]
    sweep.assign_devices(tasks, ["cuda:0", "cuda:1"])
    assert [t.params["device"] for t in tasks] == ["cuda:0", "cuda:1", "cuda:0", "cuda:1", "cuda:0"]
    import torch
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 3)
    assert sweep.local_devices("auto") == ["cuda:0", "cuda:1", "cuda:2"]
    assert sweep.local_devices("cpu") == ["cpu"]
    with pytest.raises(ValueError, match="executor="):
        sweep.execute(tasks, executor="kubernetes")


def test_blocked_evaluations_are_reported(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sweep, "execute", lambda tasks, **k: [sweep.Outcome(t.run_id, "failed", error="boom")
                                                              for t in tasks])
    monkeypatch.setattr(sweep, "prepare_demo", lambda datasets, world, jobs=1: None)
    outcomes = sweep.reproduce("gpa-table2", datasets=["11k-dr"], methods=["gpanet"],
                               out_dir=str(tmp_path / "runs"), notebooks=False)
    assert [(o.kind, o.status) for o in outcomes] == [("train", "failed"), ("cross", "blocked")]
    assert "blocked: cross" in capsys.readouterr().out


def test_existing_records_are_named_and_retrain_trains_them_anew(tmp_path, monkeypatch, capsys):
    """A fresh clone's committed records are reused, and the sweep says so and how to retrain."""
    calls = []

    def execute(tasks, **k):  # a training leaves its metrics.json, as fit() does
        calls.append([(t.kind, t.run_id) for t in tasks])
        for t in tasks:
            if t.kind == "train":
                t.run_dir.mkdir(parents=True, exist_ok=True)
                (t.run_dir / "metrics.json").write_text("{}")
        return [sweep.Outcome(t.run_id, "done", kind=t.kind) for t in tasks]

    monkeypatch.setattr(sweep, "execute", execute)
    monkeypatch.setattr(sweep, "prepare_demo", lambda datasets, world, jobs=1: None)
    runs = tmp_path / "results" / "runs"
    kw = dict(datasets=["11k-dr"], methods=["gpanet"], out_dir=str(runs), notebooks=False, seeds=1)
    (task,) = pl.plan("gpa-table1", **{k: kw[k] for k in ("datasets", "methods", "seeds")}).runs
    (runs / task.run_id).mkdir(parents=True)
    (runs / task.run_id / "metrics.json").write_text("{}")
    sweep.reproduce("gpa-table1", **kw)
    out = capsys.readouterr().out
    assert calls == [[]]
    assert f"1 of 1 trainings already have a record in {runs}" in out and "make reproduce RETRAIN=1" in out
    sweep.reproduce("gpa-table1", retrain=True, **kw)
    assert calls[-2] == [("train", task.run_id)]
    # ... and the records derived from it for other tables (GPA-Net Table 2, Fig. 3) are made again
    assert sorted(calls[-1]) == [("cross", task.run_id), ("retrieval", task.run_id)]
    assert (tmp_path / "results" / "runs-previous" / task.run_id / "metrics.json").exists()
    assert (runs / task.run_id / "metrics.json").exists()  # trained anew


@pytest.mark.parametrize("world,jobs", [(True, 2), (True, 1), (False, 2)])
def test_the_demo_trees_and_the_pretraining_world_are_written_side_by_side(monkeypatch, world, jobs):
    # the first runs wait for both: with two workers the world (the larger) goes to a second process
    events = []

    class Pool:
        def __init__(self, workers, mp_context):
            events.append(("pool", workers, mp_context.get_start_method()))

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            events.append(("joined",))

        def submit(self, fn):
            events.append(("submitted", fn))
            return type("Future", (), {"result": lambda _self: events.append(("waited",))})()

    monkeypatch.setattr(sweep.cf, "ProcessPoolExecutor", Pool)
    monkeypatch.setattr(sweep, "prepare_demo_data", lambda datasets: events.append(("demo", sorted(datasets))))
    monkeypatch.setattr(sweep.pretrain, "write_world", lambda: events.append(("world here",)))
    sweep.prepare_demo({"hd", "11k-dr"}, world, jobs)
    demo = ("demo", ["11k-dr", "hd"])
    if world and jobs > 1:
        assert events == [("pool", 1, "spawn"), ("submitted", sweep.pretrain.write_world), demo, ("waited",),
                          ("joined",)]
    else:
        assert events == [demo] + ([("world here",)] if world else [])


# ----------------------------------------------------------------------------- derived evaluations
@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One tiny finished run on a tiny synthetic 11k tree (GPA-Net global only, 1 epoch, 32x32)."""
    from handreid.data.synthetic import write_11k
    from handreid.engine import fit, make_config

    base = tmp_path_factory.mktemp("sweep")
    root = write_11k(base / "data", num_subjects=8, images_per_aspect=(3, 4), image_size=(48, 36), seed=2)
    params = {"dataset": "11k-dr", "method": "gpanet", "method_options": {"hp": 1, "vp": 1}, "recipe": "gpa",
              "data_root": str(root), "epochs": 1, "image_size": 32, "batch_size": 5, "eval_repeats": 2,
              "out_dir": str(base / "runs"), "device": "cpu", "pretrained": False}
    rec = fit(make_config(**params), progress=False)
    return rec, params


def test_cross_domain_and_retrieval_records_from_a_finished_run(trained):
    rec, params = trained
    cross = pl.Task("cross", rec.run_id, params, "11k-pl")
    assert sweep.perform(cross).status == "done"
    body = json.loads(cross.target.read_text())
    assert body["train_dataset"] == "11k-dr" and body["dataset"] == "11k-pl"
    assert [r["repeat"] for r in body["per_repeat"]] == [0, 1] and "rank1_mean" in body["summary"]
    assert sweep.perform(cross).status == "skipped"

    ret = pl.Task("retrieval", rec.run_id, params, "11k-dr", {"queries": 2, "top_k": 3})
    assert sweep.perform(ret).status == "done"
    body = json.loads(ret.target.read_text())
    assert len(body["queries"]) == 2 and body["top_k"] == 3
    assert "root" not in body and not os.path.isabs(body["queries"][0]["path"])  # portable: no absolute path
    assert len({q["pid"] for q in body["queries"]}) == 2
    for q in body["queries"]:
        assert len(q["ranked"]) == 3
        assert all(g["correct"] == (g["pid"] == q["pid"]) for g in q["ranked"])
        d = [g["distance"] for g in q["ranked"]]
        assert d == sorted(d)
        assert os.path.exists(os.path.join(params["data_root"], q["path"]))  # relative to the data root
    more = pl.Task("retrieval", rec.run_id, params, "11k-dr", {"queries": 3, "top_k": 3})
    assert not more.finished()  # a figure that wants more queries recomputes the list


def test_the_retrieval_lists_describe_the_evaluations_images_without_decoding_one(trained, monkeypatch):
    import handreid.data.cache as image_cache
    from handreid.data import load_split

    rec, params = trained

    def no_decoding(path, *args, **kwargs):
        raise AssertionError(f"decoded {path}: the evaluation's cache should have served it")

    monkeypatch.setattr(image_cache, "decode_resized", no_decoding)
    task = pl.Task("retrieval", rec.run_id, params, "11k-dr", {"queries": 2, "top_k": 4})
    body = json.loads(sweep.compute_retrieval(task).read_text())
    split = load_split("11k-dr", root=params["data_root"], repeat=0, seed=0)
    assert {q["path"] for q in body["queries"]} <= set(split.query["path"])      # repeat 0's queries ...
    assert all({g["path"] for g in q["ranked"]} <= set(split.gallery["path"]) for q in body["queries"])  # ... and gallery


def test_a_failed_derived_evaluation_is_an_outcome_not_an_exception(trained):
    rec, params = trained
    outcome = sweep.perform(pl.Task("cross", rec.run_id, params, "hd"))  # no HD tree in that data root
    assert outcome.status == "failed" and outcome.kind == "cross" and "HD" in outcome.error


def test_run_one_keeps_the_notebook_and_never_reports_a_record_it_cannot_find(tmp_path, monkeypatch):
    import papermill

    task = _task(tmp_path)
    run_dir = tmp_path / "runs" / sweep.make_config(**task.params).run_id()

    def fake_execute(inp, out, parameters, **kw):  # the notebook "runs": writes itself, maybe the record
        assert parameters["method_options"] == {"hp": 3, "vp": 1} and kw["cwd"].endswith("notebooks")
        open(out, "w").write("{}")
        if parameters.get("seed") != 1:  # the record fit writes (the parts the sweep reads)
            (run_dir / "config.json").write_text("{}")
            (run_dir / "metrics.json").write_text(json.dumps({"summary": {"rank1_mean": 61.25}, "fit_acc": 72.5}))

    monkeypatch.setattr(papermill, "execute_notebook", fake_execute)
    lost = sweep.run_one({**task.params, "seed": 1}, log_output=False)  # another id: nothing where we look
    assert lost.status == "failed" and "run id differs" in lost.error
    assert (tmp_path / "runs" / lost.run_id / "run.failed.ipynb").exists()
    done = sweep.run_one(task.params, log_output=False)
    assert done.status == "done" and (run_dir / "run.ipynb").exists()
    # what the sweep says of a finished training: its rank-1 and how well it fits its training images
    assert (done.rank1, done.fit_acc) == (61.25, 72.5)
    assert sweep.summary([done, lost]).splitlines()[-1] == (
        f"  1 of the trainings done fit less than 80 % of their training images (eval mode, no augmentation: "
        f"records' fit_acc): {done.run_id} 72.5 %")
    assert sweep.run_one(task.params, log_output=False).status == "skipped"


def test_tables_and_figures_render_side_by_side_and_each_failure_is_reported():
    # jobs > 1: each notebook in its own process; a notebook that fails is an outcome naming the error
    out = sweep.render_notebooks(2, profile="bogus", seeds=None, data_root=None, only="gpa-table1", variant=None)
    assert [(o.run_id, o.status, o.kind) for o in out] == [("tables", "failed", "notebook"), ("figures", "failed", "notebook")]
    assert all("profile='bogus' is invalid: expected one of 'demo', 'paper'" in o.error for o in out)


def test_a_local_worker_runs_its_own_torch_and_its_kernels_on_its_share_of_the_cores(monkeypatch):
    import torch

    before = torch.get_num_threads()
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.delenv(var, raising=False)
    try:
        torch.set_num_threads(2)
        sweep._init_worker(1)
        assert torch.get_num_threads() == 1                                   # the derived evaluations
        assert os.environ["OMP_NUM_THREADS"] == os.environ["MKL_NUM_THREADS"] == "1"  # the kernels it starts
    finally:
        torch.set_num_threads(before)
