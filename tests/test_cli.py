"""`make lab` (as root: --allow-root) really starts JupyterLab and prints the URL to open.

The Makefile's environment is this interpreter's (VENV=sys.prefix); ``-o VENV/.installed`` keeps
make from (re)installing it.
"""

import http.cookiejar
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
VENV = sys.prefix
JUPYTER = Path(VENV) / "bin" / "jupyter"

pytestmark = pytest.mark.skipif(shutil.which("make") is None or not JUPYTER.exists(),
                                reason="needs make and jupyter in this environment")


def _make(*args: str) -> list[str]:
    return ["make", "--no-print-directory", "-C", str(ROOT), "-o", f"{VENV}/.installed", f"VENV={VENV}", *args]


def test_make_lab_passes_allow_root_only_as_root():
    out = subprocess.run(_make("-n", "lab"), capture_output=True, text=True, check=True).stdout
    assert f"{JUPYTER} lab notebooks" in out
    assert ("--allow-root" in out) == (os.getuid() == 0)
    assert "open the http://127.0.0.1:<port>/lab?token=... URL it prints below" in out


def test_make_lab_starts_and_serves_lab(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime")}
    proc = subprocess.Popen(_make("lab", f"LAB_ARGS=--port={port} --ServerApp.port_retries=0"), env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        lines, url = [], None
        deadline = time.monotonic() + 60
        while url is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            m = re.search(rf"http://127\.0\.0\.1:{port}/lab\?token=[0-9a-f]+", line)
            url = m.group(0) if m else None
        assert url, "JupyterLab printed no URL:\n" + "".join(lines)
        assert lines[0].startswith("[handreid] JupyterLab starting: open the")
        # jupyter prints the URL, then binds the port from its event loop: poll until it answers
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        while True:
            try:
                with opener.open(url, timeout=20) as r:
                    assert r.status == 200 and "<title>JupyterLab</title>" in r.read().decode()
                break
            except urllib.error.URLError as e:
                if not isinstance(e.reason, ConnectionRefusedError) or time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
    finally:
        _stop(proc)


def _stop(proc: subprocess.Popen) -> None:
    """End the process group we started (make and the jupyter server under it)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=20)
            break
        except subprocess.TimeoutExpired:
            continue
    proc.stdout.close()
