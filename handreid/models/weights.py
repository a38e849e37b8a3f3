"""ImageNet weights: torchvision's files, fetched with a timeout and checked against their names.

torchvision names each weight file ``<arch>-<first hex digits of its SHA-256>.pth``
(``resnet50-0676ba61.pth``) and keeps it in torch's hub cache, ``torch.hub.get_dir()/checkpoints``.
:func:`download` fetches one the way ``torch.hub.download_url_to_file`` does (into a temporary file
beside the target, SHA-256 of the bytes against the prefix in the name, then an atomic rename), but
with a timeout on resolving, connecting and every read, so an offline machine fails in seconds
instead of hanging. A wrong hash leaves nothing behind.

:func:`needed` finds the files a list of models needs by building each with ``pretrained=True`` on
the meta device while :func:`handreid.models.backbone.recording_weights` records what the backbones
ask for; with :func:`fetch` and :func:`format_listing` it makes ``python -m handreid weights``.

Environment (both also function parameters):

- ``HANDREID_WEIGHTS_URL_BASE``: fetch ``<base>/<file name>`` instead of the enum's URL (a mirror,
  or the tests' local server), e.g. ``http://127.0.0.1:8000/models``.
- ``HANDREID_WEIGHTS_TIMEOUT``: seconds to wait for the server at each step (default 5).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import threading
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping, Sequence
from urllib.parse import urlsplit

__all__ = [
    "DEFAULT_TIMEOUT",
    "TIMEOUT_ENV",
    "URL_BASE_ENV",
    "WeightsError",
    "WeightsStatus",
    "checkpoint_dir",
    "download",
    "fetch",
    "file_name",
    "format_listing",
    "hash_prefix",
    "needed",
    "sha256_of",
    "url_of",
    "verify",
]

URL_BASE_ENV = "HANDREID_WEIGHTS_URL_BASE"
TIMEOUT_ENV = "HANDREID_WEIGHTS_TIMEOUT"
DEFAULT_TIMEOUT = 5.0
_CHUNK = 1 << 20


class WeightsError(RuntimeError):
    """A weight file could not be fetched, or its bytes do not match the hash in its name."""


def file_name(weights) -> str:
    """The file torchvision stores ``weights`` as (the last part of its URL)."""
    return os.path.basename(urlsplit(weights.url).path)


def url_of(weights, url_base: str | None = None) -> str:
    """Where ``weights`` is fetched from: ``<url_base>/<file>`` (default ``$HANDREID_WEIGHTS_URL_BASE``),
    else the enum's own URL."""
    base = url_base if url_base is not None else os.environ.get(URL_BASE_ENV, "")
    return f"{base.rstrip('/')}/{file_name(weights)}" if base else weights.url


def hash_prefix(weights) -> str:
    """The SHA-256 prefix in the file name (torch.hub's convention, ``torch.hub.HASH_REGEX``)."""
    import torch.hub

    m = torch.hub.HASH_REGEX.search(file_name(weights))
    if not m or not m.group(1):
        raise WeightsError(f"{file_name(weights)} has no '-<sha256 prefix>.' in its name to check it against")
    return m.group(1)


def checkpoint_dir() -> Path:
    """torch's hub cache of weight files: ``torch.hub.get_dir()/checkpoints`` (``$TORCH_HOME/hub/checkpoints``)."""
    import torch.hub

    return Path(torch.hub.get_dir()) / "checkpoints"


def _timeout(timeout: float | None) -> float:
    if timeout is not None:
        return float(timeout)
    value = os.environ.get(TIMEOUT_ENV, "")
    try:
        return float(value) if value else DEFAULT_TIMEOUT
    except ValueError:
        raise WeightsError(f"{TIMEOUT_ENV}={value!r}: expected a number of seconds, e.g. 5") from None


def sha256_of(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _mismatch(weights, source: str, digest: str, where: str) -> WeightsError:
    expected = hash_prefix(weights)
    return WeightsError(
        f"{source}: the SHA-256 of {file_name(weights)} begins {digest[:len(expected)]}, but its name says "
        f"{expected} (torchvision's convention), so it is damaged or not {type(weights).__name__}.{weights.name}; "
        f"{where}")


def verify(path: str | os.PathLike, weights) -> None:
    """Raise :class:`WeightsError` unless the SHA-256 of ``path`` begins with the prefix in its name."""
    digest = sha256_of(path)
    if not digest.startswith(hash_prefix(weights)):
        raise _mismatch(weights, str(path), digest, "delete it and run `python -m handreid weights` again.")


def _resolve_within(url: str, timeout: float) -> None:
    """Name lookup is not covered by socket timeouts: give it ``timeout`` seconds in a side thread."""
    parts = urlsplit(url)
    if not parts.hostname or urllib.request.getproxies().get(parts.scheme):
        return  # a proxy resolves the name
    worker = threading.Thread(target=lambda: _try_getaddrinfo(parts.hostname), daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise WeightsError(f"could not resolve {parts.hostname} within {timeout:g} s (no network or DNS)")


def _try_getaddrinfo(host: str) -> None:
    try:
        socket.getaddrinfo(host, None)
    except OSError:
        pass  # urlopen reports it


def download(weights, directory: str | os.PathLike | None = None, *, url_base: str | None = None,
             timeout: float | None = None, progress: bool = False) -> Path:
    """Fetch ``weights``' file into ``directory`` (default :func:`checkpoint_dir`) and return its path.

    Each network step (name lookup, connect, every read) waits at most ``timeout`` seconds
    (default ``$HANDREID_WEIGHTS_TIMEOUT`` or 5). The bytes go to a temporary file beside the
    target; unless their SHA-256 begins with the prefix in the file name, that file is deleted
    and :class:`WeightsError` names the file, the expected and the actual prefix. Network
    errors propagate (``urllib.error.URLError``, ``TimeoutError``, ``OSError``).
    """
    directory = Path(directory) if directory is not None else checkpoint_dir()
    target = directory / file_name(weights)
    url, seconds = url_of(weights, url_base), _timeout(timeout)
    expected = hash_prefix(weights)
    _resolve_within(url, seconds)
    directory.mkdir(parents=True, exist_ok=True)
    tmp = directory / f".{target.name}.{os.getpid()}.{threading.get_ident()}.partial"
    try:
        request = urllib.request.Request(url, headers={"User-Agent": "handreid (torch.hub)"})
        with urllib.request.urlopen(request, timeout=seconds) as response, open(tmp, "wb") as f:
            h = hashlib.sha256()
            size = int(response.headers.get("Content-Length") or 0) or None
            bar = _progress(size, target.name, progress)
            while chunk := response.read(_CHUNK):
                f.write(chunk)
                h.update(chunk)
                bar.update(len(chunk))
            bar.close()
        digest = h.hexdigest()
        if not digest.startswith(expected):
            raise _mismatch(weights, url, digest, f"nothing was written to {directory}.")
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def _progress(total: int | None, name: str, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, desc=name, unit="B", unit_scale=True, unit_divisor=1024, disable=not enabled)


# ----------------------------------------------------------------------------- what the tables need
def needed(cells: Iterable[tuple[str, Mapping]]) -> dict[object, list[str]]:
    """ImageNet weights of the models ``cells`` = ``(method, options)`` -> the methods that use them.

    Each distinct cell is built with ``pretrained=True`` on the meta device while the backbones'
    requests are recorded (nothing is loaded or fetched).
    """
    import torch

    from . import build_model
    from .backbone import recording_weights

    uses: dict[object, list[str]] = {}
    seen = set()
    for method, options in cells:
        key = (method, repr(sorted(options.items())))
        if key in seen:
            continue
        seen.add(key)
        with recording_weights() as asked, torch.device("meta"):
            build_model(method, num_classes=2, pretrained=True, **options)
        for w in asked:
            if method not in uses.setdefault(w, []):
                uses[w].append(method)
    return uses


@dataclass
class WeightsStatus:
    """One file of :func:`fetch`: ``state`` is present, fetched, copied, missing or damaged."""

    weights: object
    path: Path
    state: str
    methods: list[str] = field(default_factory=list)
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.state in ("present", "fetched", "copied")


def fetch(uses: dict[object, list[str]], dest: str | os.PathLike | None = None, *, download_missing: bool = True,
          url_base: str | None = None, timeout: float | None = None, progress: bool = False
          ) -> list[WeightsStatus]:
    """Make every file of ``uses`` present and verified in ``dest`` (default the hub cache).

    A file already there is checked against the hash in its name; with ``dest`` a verified copy
    in the hub cache is copied instead of fetched (a damaged one is fetched anew).
    ``download_missing=False`` only checks.
    """
    directory = Path(dest) if dest is not None else checkpoint_dir()
    out = []
    for w, methods in uses.items():
        path = directory / file_name(w)
        st = WeightsStatus(w, path, "missing", list(methods))
        if path.is_file():
            try:
                verify(path, w)
                st.state = "present"
            except WeightsError as e:
                st.state, st.error = "damaged", str(e)
        if not st.ok and download_missing:
            cached = checkpoint_dir() / file_name(w)
            try:
                if (dest is not None and cached.is_file() and cached.resolve() != path.resolve()
                        and sha256_of(cached).startswith(hash_prefix(w))):
                    _copy(cached, path)
                    st.state = "copied"
                else:
                    download(w, directory, url_base=url_base, timeout=timeout, progress=progress)
                    st.state = "fetched"
                st.error = ""
            except Exception as e:  # noqa: BLE001 - reported per file, the others still get fetched
                st.error = str(e) if isinstance(e, WeightsError) else f"{url_of(w, url_base)}: {type(e).__name__}: {e}"
                if st.state != "damaged":
                    st.state = "missing"
        out.append(st)
    return out


def _copy(src: Path, dst: Path) -> None:
    from ..io import atomic_write

    atomic_write(dst, lambda tmp: shutil.copyfile(src, tmp))


def format_listing(statuses: Sequence[WeightsStatus], directory: str | os.PathLike) -> str:
    """One line per file: state, file name, enum, SHA-256 prefix check, the methods using it."""
    lines = [f"ImageNet weights in {directory}:"]
    for s in statuses:
        enum = f"{type(s.weights).__name__}.{s.weights.name}"
        checked = f"  sha256 {hash_prefix(s.weights)} verified" if s.ok else ""
        lines.append(f"  {s.state:8s} {s.path.name}  {enum}{checked}  (for {', '.join(s.methods)})"
                     + (f": {s.error}" if s.error else ""))
    bad = [s for s in statuses if not s.ok]
    if not statuses:
        lines.append("  (the selected tables train no model with ImageNet weights)")
    elif bad:
        lines.append(f"{len(bad)} of {len(statuses)} files missing or damaged: run `python -m handreid weights` where "
                     "there is internet (with `--dest DIR` to collect them for an offline machine, whose "
                     "torch.hub.get_dir()/checkpoints they go into)")
    else:
        lines.append(f"all {len(statuses)} files present and verified")
    return "\n".join(lines)
