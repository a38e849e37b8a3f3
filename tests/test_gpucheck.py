"""The prepared GPU check at toy size on the CPU (what CI runs), and the GPU decoder's CPU fallback.

The command runs in subprocesses whose Python cannot import papermill, nbformat, jupyter*,
submitit or nbval (a meta-path blocker in a ``sitecustomize``), as on the lent GPU machine.
"""

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from handreid.data import cache as cache_module
from handreid.data.cache import DECODER_RECORD, ImageCache, cache_key, decode_resized, preferred_decoder

ROOT = Path(__file__).resolve().parents[1]
BLOCKER = '''
import sys

BLOCKED = {"papermill", "nbformat", "nbclient", "nbval", "submitit", "ipykernel", "ipywidgets", "IPython"}


class _NotOnTheGPUMachine:
    def find_spec(self, name, path=None, target=None):
        top = name.partition(".")[0]
        if top in BLOCKED or top.startswith("jupyter"):
            raise ModuleNotFoundError(f"{top} is not installed on the GPU machine (blocked by the test)")
        return None


sys.meta_path.insert(0, _NotOnTheGPUMachine())
'''


def _env(tmp_path, **extra):
    blocker = tmp_path / "blocker"
    blocker.mkdir(exist_ok=True)
    (blocker / "sitecustomize.py").write_text(BLOCKER)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(blocker), str(ROOT)]), MPLBACKEND="Agg",
               HANDREID_CACHE=str(tmp_path / "cache"), HANDREID_OUTPUT=str(tmp_path / "output"))
    env.pop("HANDREID_GPUCHECK_INJECT", None)
    env.update(extra)
    return env


def _gpucheck(tmp_path, out, *args, env=None, timeout=400):
    cmd = [sys.executable, "-m", "handreid.gpucheck", "--device", "cpu", "--scale", "tiny", "--out", str(out), *args]
    return subprocess.run(cmd, cwd=tmp_path, env=env or _env(tmp_path), capture_output=True, text=True,
                          timeout=timeout)


def _report(out):
    return json.loads((out / "gpu-check.json").read_text()), (out / "gpu-check.md").read_text()


def _assert_markdown_agrees(report, md):
    table = md.split("| part | status |", 1)[1].split("\n\n", 1)[0]  # the status table
    rows = dict(re.findall(r"^\| (\w+) \| (\w+) \|", table, flags=re.M))
    assert {p["name"]: p["status"] for p in report["parts"]} == rows
    for p in report["parts"]:
        assert f"## {p['name']}: {p['status']}" in md
        for c in p["checks"]:
            assert f"| {c['name']} | {'yes' if c['ok'] else 'NO'} |" in md
        for s in p["skipped"]:
            assert f"- skipped {s['item']}: {s['why']}" in md


def test_the_blocker_keeps_notebook_and_cluster_packages_out(tmp_path):
    res = subprocess.run([sys.executable, "-c", "import papermill"], env=_env(tmp_path), capture_output=True,
                         text=True)
    assert "papermill is not installed on the GPU machine" in res.stderr


def test_tiny_check_runs_every_part_and_reports_a_failing_one(tmp_path):
    out = tmp_path / "report"
    t0 = time.monotonic()
    res = _gpucheck(tmp_path, out, env=_env(tmp_path, HANDREID_GPUCHECK_INJECT="eval:raise"))
    seconds = time.monotonic() - t0
    assert res.returncode == 1, res.stdout + res.stderr
    report, md = _report(out)
    status = {p["name"]: p for p in report["parts"]}
    assert list(status) == ["environment", "correctness", "train", "eval", "data", "fit"]
    failed = status.pop("eval")
    assert failed["status"] == "failed" and "injected failure (HANDREID_GPUCHECK_INJECT=eval:raise)" in failed["error"]
    for name, part in status.items():  # every other part still ran, and passed
        assert part["status"] == "ok", (name, part.get("error"))
        assert part["checks"] or part["results"], name
        assert all(c["ok"] for c in part["checks"]), name
        assert all(s["why"] for s in part["skipped"]), name
    # CUDA-only items are skipped with the reason, never silently passed
    skipped = {s["item"]: s["why"] for s in status["correctness"]["skipped"]}
    assert "needs CUDA" in skipped["rank_metrics on CUDA"] and "needs CUDA" in skipped["laganet: CPU vs CUDA fit"]
    assert "needs CUDA" in {s["item"]: s["why"] for s in status["data"]["skipped"]}["GPU decoder"]
    checks = {c["name"]: c for c in status["correctness"]["checks"]}
    assert checks["gpanet: run interrupted after epoch 1 and resumed == uninterrupted run on cpu"]["measured"][
        "bitwise_equal"] is True
    assert {r["method"] for r in status["train"]["results"]["train"]} == {"gpanet", "laganet"}
    assert [r["runs"] for r in status["fit"]["results"]["runs"]] == [1, 2]
    assert report["finished"] and report["device"] == "cpu"
    _assert_markdown_agrees(report, md)
    # one line per part as it ends
    assert re.findall(r"^\[gpucheck\] (\w+) +(\w+)", res.stdout, flags=re.M) == [
        (p["name"], p["status"]) for p in report["parts"]]
    print(f"tiny GPU check: {seconds:.0f} s")


def test_eval_part_alone_is_ok(tmp_path):
    out = tmp_path / "report"
    res = _gpucheck(tmp_path, out, "--parts", "eval")
    assert res.returncode == 0, res.stdout + res.stderr
    report, md = _report(out)
    (part,) = report["parts"]
    assert part["status"] == "ok" and part["results"]["eval"]["speedup"] > 0
    _assert_markdown_agrees(report, md)


def test_a_part_over_its_budget_is_killed_and_reported(tmp_path):
    out = tmp_path / "report"
    t0 = time.monotonic()
    res = _gpucheck(tmp_path, out, "--parts", "environment", "--budget-scale", "0.1",
                    env=_env(tmp_path, HANDREID_GPUCHECK_INJECT="environment:hang"))
    assert time.monotonic() - t0 < 30
    assert res.returncode == 1
    report, md = _report(out)
    assert report["parts"][0]["status"] == "failed"
    assert report["parts"][0]["error"].startswith("exceeded its budget of 6 s and was killed")
    _assert_markdown_agrees(report, md)


def test_an_interrupted_check_leaves_a_valid_partial_report(tmp_path):
    out = tmp_path / "report"
    cmd = [sys.executable, "-m", "handreid.gpucheck", "--device", "cpu", "--scale", "tiny", "--out", str(out),
           "--parts", "environment,eval"]
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=_env(tmp_path, HANDREID_GPUCHECK_INJECT="environment:hang"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not (out / "logs" / "environment.json").exists():
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 130
    report, md = _report(out)
    assert [p["status"] for p in report["parts"]] == ["failed", "pending"]
    assert "interrupted" in report["parts"][0]["error"] and report["finished"] is None
    assert "not finished (partial report)" in md


def test_unknown_part_is_rejected_with_the_list(tmp_path):
    res = _gpucheck(tmp_path, tmp_path / "r", "--parts", "eval,speed", timeout=60)
    assert res.returncode == 2
    assert "unknown part 'speed'; expected a comma-separated list drawn from " \
           "environment,correctness,train,eval,data,fit" in res.stderr


# ---------------------------------------------------------------------- the decoder choice of ImageCache
def _jpegs(folder, n=3):
    from PIL import Image

    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):
        p = folder / f"Hand_{i:07d}.jpg"
        Image.fromarray(rng.integers(0, 255, (30, 40, 3), dtype=np.uint8)).resize((400, 300)).save(p, quality=90)
        paths.append(p)
    return paths


def test_cpu_cache_key_is_unchanged_by_the_decoder_option(tmp_path):
    paths = _jpegs(tmp_path)
    h = hashlib.sha256(b"v1|24x32")
    for p in paths:
        st = os.stat(p)
        h.update(f"|{os.fspath(p)}|{st.st_size}|{st.st_mtime_ns}".encode())
    assert cache_key(paths, (24, 32)) == cache_key(paths, (24, 32), decoder="cpu") == h.hexdigest()[:20]
    assert cache_key(paths, (24, 32), decoder="cuda") != h.hexdigest()[:20]
    c = ImageCache(paths, (24, 32), cache_dir=tmp_path / "c")
    assert c.decoder == "cpu" and c.key == h.hexdigest()[:20]
    assert np.array_equal(c.array, np.stack([decode_resized(p, (24, 32)) for p in paths]))
    assert "decoder" not in json.loads(c.file.with_suffix(".json").read_text())
    (tmp_path / "c" / DECODER_RECORD).write_text('{"decoder": "cuda"}')  # GPU resizes bilinearly only:
    assert ImageCache(paths, (24, 32), cache_dir=tmp_path / "c", resize_filter="bicubic",
                      decoder="cuda").decoder == "cpu"


def test_preferred_decoder_is_cuda_only_with_a_gpu_and_a_record_saying_so(tmp_path, monkeypatch):
    import torch

    assert preferred_decoder(tmp_path) == "cpu"  # no record
    (tmp_path / DECODER_RECORD).write_text('{"decoder": "cuda"}')
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert preferred_decoder(tmp_path) == "cpu"  # the fallback: no GPU here
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert preferred_decoder(tmp_path) == "cuda"
    (tmp_path / DECODER_RECORD).write_text('{"decoder": "cpu"}')
    assert preferred_decoder(tmp_path) == "cpu"
    (tmp_path / DECODER_RECORD).write_text("not json")
    assert preferred_decoder(tmp_path) == "cpu"


def test_torchvision_decoder_path_matches_pil_and_falls_back_for_png(tmp_path):
    from PIL import Image

    paths = _jpegs(tmp_path)
    png = tmp_path / "x.png"
    Image.open(paths[0]).save(png)
    out = np.empty((4, 24, 32, 3), np.uint8)
    cache_module.decode_resized_torch(paths + [png], (24, 32), "cpu", out, batch=2)
    pil = np.stack([decode_resized(p, (24, 32)) for p in paths + [png]])
    diff = np.abs(out.astype(int) - pil.astype(int))
    assert diff.max() <= 2 and diff.mean() < 0.5
    assert np.array_equal(out[3], pil[3])  # the PNG's batch went through PIL


def test_unknown_decoder_is_rejected(tmp_path):
    with pytest.raises(ValueError, match=r"ImageCache decoder='gpu' is unknown; expected one of cpu, cuda or None"):
        ImageCache(_jpegs(tmp_path, 1), (8, 8), cache_dir=tmp_path / "c", decoder="gpu")
