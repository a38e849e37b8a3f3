"""ImageNet weights: download with a timeout and torchvision's hash check, against a local HTTP server.

The server runs in a thread on 127.0.0.1 (an ephemeral port); ``HANDREID_WEIGHTS_URL_BASE`` points
the weight enums' URLs at it. torchvision names each file ``<arch>-<sha256 prefix>.pth``, so a
file we make ourselves can only pass the check under a name carrying its own hash: the success
cases rename ResNet50's enum URL to such a name for the test (``monkeypatch``); the wrong-hash
cases serve our file under the real name ``resnet50-0676ba61.pth``.
"""

import hashlib
import http.server
import io
import os
import socket
import threading
import time

import pytest
import torch
from torchvision import models as tvm

from handreid.models import weights
from handreid.__main__ import main
from handreid.models import build_model
from handreid.models.backbone import checkpoint_path, require_weights

RESNET = tvm.ResNet50_Weights.IMAGENET1K_V1
VGG = tvm.VGG19_BN_Weights.IMAGENET1K_V1


# ----------------------------------------------------------------------------- fixtures
@pytest.fixture
def hub(tmp_path, monkeypatch):
    """A fresh, empty hub cache under tmp_path; returns its checkpoints folder."""
    monkeypatch.setattr(torch.hub, "_hub_dir", None)
    monkeypatch.delenv("TORCH_HUB", raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv(weights.TIMEOUT_ENV, raising=False)
    return tmp_path / "torch" / "hub" / "checkpoints"


class _Files(http.server.BaseHTTPRequestHandler):
    files: dict = {}
    requests: list = []

    def do_GET(self):  # noqa: N802 - http.server's name
        self.requests.append(self.path)
        body = self.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server(monkeypatch):
    """Serves ``files`` ({"/models/<name>": bytes}) on 127.0.0.1; the weights URL base points at /models."""
    handler = type("Handler", (_Files,), {"files": {}, "requests": []})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}/models"
    monkeypatch.setenv(weights.URL_BASE_ENV, base)
    try:
        yield handler
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def silent_server(monkeypatch):
    """Accepts connections and never answers (it hangs up after 6 s, so a client without a
    timeout fails the test instead of hanging it)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    held = []
    stop = threading.Event()

    def accept():
        sock.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append((sock.accept()[0], time.monotonic()))
            except OSError:
                pass
            for conn, since in held:
                if time.monotonic() - since > 6:
                    conn.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    monkeypatch.setenv(weights.URL_BASE_ENV, f"http://127.0.0.1:{sock.getsockname()[1]}/models")
    try:
        yield
    finally:
        stop.set()
        thread.join()
        for conn, _ in held:
            conn.close()
        sock.close()


@pytest.fixture
def no_server(monkeypatch):
    """A port on 127.0.0.1 that nothing listens on."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    monkeypatch.setenv(weights.URL_BASE_ENV, f"http://127.0.0.1:{port}/models")


def _state_bytes(state) -> bytes:
    buf = io.BytesIO()
    torch.save(state, buf)
    return buf.getvalue()


def _serve_as_own_hash(monkeypatch, server, weights_enum, body: bytes) -> str:
    """Rename ``weights_enum``'s file to ``<arch>-<sha256[:8] of body>.pth`` and serve ``body`` under it."""
    name = f"{weights.file_name(weights_enum).split('-')[0]}-{hashlib.sha256(body).hexdigest()[:8]}.pth"
    monkeypatch.setattr(weights_enum.value, "url", f"https://download.pytorch.org/models/{name}")
    server.files[f"/models/{name}"] = body
    return name


@pytest.fixture(scope="module")
def resnet_state():
    torch.manual_seed(7)
    state = tvm.resnet50(weights=None).state_dict()
    return state, _state_bytes(state)


# ----------------------------------------------------------------------------- URLs and names
def test_url_from_the_enum_and_its_override(monkeypatch):
    monkeypatch.delenv(weights.URL_BASE_ENV, raising=False)
    assert weights.url_of(RESNET) == "https://download.pytorch.org/models/resnet50-0676ba61.pth"
    assert weights.file_name(VGG) == "vgg19_bn-c79401a0.pth"
    assert weights.hash_prefix(RESNET) == "0676ba61" and weights.hash_prefix(VGG) == "c79401a0"
    monkeypatch.setenv(weights.URL_BASE_ENV, "http://mirror.local/w/")
    assert weights.url_of(RESNET) == "http://mirror.local/w/resnet50-0676ba61.pth"
    assert weights.url_of(RESNET, url_base="http://other:81") == "http://other:81/resnet50-0676ba61.pth"


# ----------------------------------------------------------------------------- success
def test_pretrained_model_downloads_verifies_and_loads_the_file(hub, server, monkeypatch, resnet_state):
    state, body = resnet_state
    name = _serve_as_own_hash(monkeypatch, server, RESNET, body)
    assert not hub.exists()
    torch.manual_seed(0)  # different from the served weights
    model = build_model("gpanet", 5, pretrained=True)
    assert server.requests == [f"/models/{name}"]
    assert sorted(p.name for p in hub.iterdir()) == [name]  # no temporary file left
    assert (hub / name).read_bytes() == body
    loaded = model.backbone.state_dict()
    assert set(loaded) == {k for k in state if not k.startswith("fc.")}
    for k, v in loaded.items():
        torch.testing.assert_close(v, state[k], rtol=0, atol=0, msg=k)
    build_model("resnet50", 5, pretrained=True)  # now from the cache: no second request
    assert len(server.requests) == 1


def test_download_layer_returns_the_verified_file(hub, server, monkeypatch, tmp_path):
    body = _state_bytes({"w": torch.arange(6.0)})
    name = _serve_as_own_hash(monkeypatch, server, VGG, body)
    path = weights.download(VGG, tmp_path / "dest", timeout=2)
    assert path == tmp_path / "dest" / name and path.read_bytes() == body
    weights.verify(path, VGG)


# ----------------------------------------------------------------------------- failures
def test_wrong_hash_names_file_and_both_prefixes_and_leaves_nothing(hub, server):
    body = b"not the ImageNet weights"
    server.files["/models/resnet50-0676ba61.pth"] = body
    actual = hashlib.sha256(body).hexdigest()[:8]
    with pytest.raises(weights.WeightsError) as info:
        weights.download(RESNET, hub)
    msg = str(info.value)
    assert f"the SHA-256 of resnet50-0676ba61.pth begins {actual}, but its name says 0676ba61" in msg
    assert f"nothing was written to {hub}" in msg
    assert list(hub.iterdir()) == []

    with pytest.raises(RuntimeError) as info:  # through the model: the instructions, then the cause
        build_model("resnet50", 5, pretrained=True)
    msg = str(info.value)
    assert f"place the file 'resnet50-0676ba61.pth' in the directory '{hub}'" in msg
    assert "pretrained=False" in msg and "https://download.pytorch.org/models/resnet50-0676ba61.pth" in msg
    assert "WeightsError: " in msg and f"begins {actual}, but its name says 0676ba61" in msg
    assert list(hub.iterdir()) == []


def test_server_that_never_answers_fails_within_the_timeout(hub, silent_server, monkeypatch):
    monkeypatch.setenv(weights.TIMEOUT_ENV, "1")
    t0 = time.perf_counter()
    with pytest.raises(RuntimeError) as info:
        build_model("resnet50", 5, pretrained=True)
    seconds = time.perf_counter() - t0
    assert seconds < 4, seconds
    msg = str(info.value)
    assert f"place the file 'resnet50-0676ba61.pth' in the directory '{hub}'" in msg
    assert "pretrained=False" in msg and "timed out" in msg
    assert not hub.exists() or list(hub.iterdir()) == []


def test_no_server_fails_at_once_with_the_message(hub, no_server):
    t0 = time.perf_counter()
    with pytest.raises(RuntimeError) as info:
        build_model("vgg19bn", 5, pretrained=True)
    assert time.perf_counter() - t0 < 3
    msg = str(info.value)
    assert f"place the file 'vgg19_bn-c79401a0.pth' in the directory '{hub}'" in msg
    assert "https://download.pytorch.org/models/vgg19_bn-c79401a0.pth" in msg   # where to get it by hand
    assert f"The download from {os.environ[weights.URL_BASE_ENV]}/vgg19_bn-c79401a0.pth failed: URLError" in msg
    assert "Connection refused" in msg


def test_a_file_already_in_the_cache_needs_no_network(hub, no_server):
    path = checkpoint_path(RESNET)
    os.makedirs(os.path.dirname(path))
    torch.save(tvm.resnet50(weights=None).state_dict(), path)
    assert require_weights(RESNET) is RESNET


# ----------------------------------------------------------------------------- what the tables need
def test_needed_weights_come_from_the_models(hub, no_server):
    assert weights.needed([("vgg19bn", {}), ("resnet50", {}), ("gpanet", {"hp": 3, "vp": 1}),
                           ("gpanet", {"hp": 1, "vp": 1})]) == {VGG: ["vgg19bn"], RESNET: ["resnet50", "gpanet"]}
    assert weights.needed([("laganet", {"branches": ["global"]}), ("mbanet", {})]) == {RESNET: ["laganet", "mbanet"]}
    assert weights.needed([]) == {}
    assert not hub.exists()  # recording built the models without touching the cache


def test_cli_lists_what_the_selected_tables_need(hub, no_server, capsys):
    assert main(["weights", "--tables", "gpa-table1", "--check"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[1:3] == ["  missing  vgg19_bn-c79401a0.pth  VGG19_BN_Weights.IMAGENET1K_V1  (for vgg19bn)",
                          "  missing  resnet50-0676ba61.pth  ResNet50_Weights.IMAGENET1K_V1  (for resnet50, gpanet)"]
    assert main(["weights", "--tables", "laga-table1", "--check"]) == 0  # statistics only: no training
    assert "(the selected tables train no model with ImageNet weights)" in capsys.readouterr().out
    assert main(["weights", "--tables", "laga-table3,laga-table5", "--methods", "laganet,mbanet", "--check"]) == 1
    assert "(for laganet, mbanet)" in capsys.readouterr().out


def test_cli_fetches_lists_verifies_and_copies(hub, server, monkeypatch, tmp_path, capsys):
    body = _state_bytes({"w": torch.ones(3)})
    name = _serve_as_own_hash(monkeypatch, server, RESNET, body)
    assert main(["weights", "--tables", "gpa-table4", "--check"]) == 1
    out = capsys.readouterr().out
    assert f"  missing  {name}  ResNet50_Weights.IMAGENET1K_V1  (for gpanet)" in out.splitlines()
    assert server.requests == []

    assert main(["weights", "--tables", "gpa-table4"]) == 0
    lines = capsys.readouterr().out.splitlines()
    prefix = hashlib.sha256(body).hexdigest()[:8]
    assert lines == [f"ImageNet weights in {hub}:",
                     f"  fetched  {name}  ResNet50_Weights.IMAGENET1K_V1  sha256 {prefix} verified  (for gpanet)",
                     "all 1 files present and verified"]
    assert (hub / name).read_bytes() == body

    assert main(["weights", "--tables", "gpa-table4", "--check"]) == 0
    assert f"  present  {name}" in capsys.readouterr().out

    dest = tmp_path / "carry"  # --dest: copied from the verified cache, not fetched again
    assert main(["weights", "--tables", "gpa-table4", "--dest", str(dest)]) == 0
    assert f"  copied   {name}" in capsys.readouterr().out
    assert (dest / name).read_bytes() == body and len(server.requests) == 1

    (hub / name).write_bytes(b"damaged")
    assert main(["weights", "--tables", "gpa-table4", "--check"]) == 1
    out = capsys.readouterr().out
    assert f"  damaged  {name}" in out and f"its name says {prefix}" in out


def test_cli_reports_a_wrong_hash_per_file(hub, server, capsys):
    server.files["/models/resnet50-0676ba61.pth"] = b"junk"
    assert main(["weights", "--tables", "gpa-table4"]) == 1
    out = capsys.readouterr().out
    assert "  missing  resnet50-0676ba61.pth  ResNet50_Weights.IMAGENET1K_V1  (for gpanet): " in out
    assert f"begins {hashlib.sha256(b'junk').hexdigest()[:8]}, but its name says 0676ba61" in out
    assert "1 of 1 files missing or damaged" in out
    assert not hub.exists() or list(hub.iterdir()) == []
