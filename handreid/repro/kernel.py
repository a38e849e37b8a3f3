"""One Jupyter kernel per sweep worker, reused by the run notebooks it executes (docs/DESIGN.md §4).

A fresh kernel costs about 7 s per notebook on a 2-core CPU before anything trains (starting
IPython, then importing torch, torchvision and handreid), a third of a demo training of GPA-Net on
11k-dr (BENCHMARKS.md, seventh pass). A sweep worker therefore keeps one kernel and hands it to
papermill for each notebook (:data:`ENGINE`, a papermill engine), and after each notebook puts it
back in a fresh kernel's state: the user namespace cleared (``%reset -f``), matplotlib's figures closed, the execution
count back to 1. ``%reset`` runs two full garbage collections, 0.2 s each once torch, pandas and
matplotlib are loaded (BENCHMARKS.md, tenth pass); after it the
surviving objects (modules, caches) are frozen (:func:`gc.freeze`), so the next reset's collections
look only at what the next notebook made. What a run computes does not depend on what ran before it in the kernel:
:func:`handreid.engine.fit` seeds every generator it draws from, and the modules a notebook
imports hold no state a run reads (tests compare a run in a used kernel with one in a fresh
kernel, bit for bit). A kernel that died (a notebook that ran out of memory) is replaced by a new
one for the next notebook; the kernel is shut down when its worker exits.
"""

from __future__ import annotations

import atexit
import os

from jupyter_core.utils import run_sync
from papermill.clientwrap import PapermillNotebookClient
from papermill.engines import NBClientEngine, NotebookExecutionManager, papermill_engines
from papermill.log import logger
from papermill.utils import remove_args

#: papermill's name of the engine that runs notebooks in this worker's kernel.
ENGINE = "handreid-worker-kernel"

#: Puts a used kernel back in a fresh one's state; it leaves no name behind.
RESET = """\
_pyplot = __import__("sys").modules.get("matplotlib.pyplot")
if _pyplot is not None:
    _pyplot.close("all")
get_ipython().run_line_magic("reset", "-f")
get_ipython().execution_count = 1
__import__("gc").freeze()
"""

_manager = None  # this process's kernel (jupyter_client's AsyncKernelManager), started by the first notebook
_cwd = None      # the working directory it starts in (papermill changes to a notebook's ``cwd`` first)
_client = None   # its client, channels open: made for the first notebook, kept for the next ones (a new
                 # client waits 0.2 s for the kernel's messages to settle before the first cell runs)


def manager(kernel_name: str):
    """This process's kernel manager for ``kernel_name``; a new one when there is none, when the
    last one's kernel died, or when it runs another kernel or in another working directory."""
    global _manager, _cwd
    if _manager is not None and (_manager.kernel_name != kernel_name or _cwd != os.getcwd()
                                 or (_manager.has_kernel and not run_sync(_manager.is_alive)())):
        shutdown()
    if _manager is None:
        from jupyter_client.manager import AsyncKernelManager

        _manager, _cwd = AsyncKernelManager(kernel_name=kernel_name), os.getcwd()
    return _manager


def shutdown() -> None:
    """Shut this process's kernel down (at exit, or when it must be replaced)."""
    global _manager, _client
    km, _manager = _manager, None
    kc, _client = _client, None
    if kc is not None:
        kc.stop_channels()
    if km is not None and km.has_kernel:
        try:
            run_sync(km.shutdown_kernel)(now=True)
        except Exception:  # noqa: BLE001 - a dead kernel has nothing left to shut down
            pass


atexit.register(shutdown)


def reset(client: PapermillNotebookClient) -> None:
    """Run :data:`RESET` in the client's kernel; if the kernel does not answer, it is replaced."""
    try:
        msg_id = client.kc.execute(RESET, silent=True, store_history=False)
        reply = client.wait_for_reply(msg_id)
        if reply is None or reply["content"].get("status") != "ok":
            raise RuntimeError(f"the kernel did not reset: {reply and reply['content']}")
    except Exception:  # noqa: BLE001 - the next notebook gets a new kernel instead
        shutdown()


class SparseSaves(NotebookExecutionManager):
    """papermill's execution manager, writing the output notebook when execution starts, then at most
    every ``autosave_cell_every`` seconds, and always at the end (also after a failure). papermill's
    own writes it at every cell's start and end: 26 writes, a quarter of a second of a demo run."""

    _final = False
    _written = False

    def save(self, **kwargs):
        if (self._final or not self._written
                or (self.now() - self.last_save_time).total_seconds() >= self.autosave_cell_every):
            super().save(**kwargs)
            self._written = True

    def notebook_complete(self, **kwargs):
        self._final = True
        super().notebook_complete(**kwargs)


class WorkerKernelEngine(NBClientEngine):
    """papermill's nbclient engine, executing in this process's kernel (:func:`manager`) instead of a
    new one per notebook, resetting the kernel after each notebook, and writing the output notebook
    sparsely (:class:`SparseSaves`)."""

    @classmethod
    def execute_notebook(cls, nb, kernel_name, output_path=None, progress_bar=True, log_output=False,
                         autosave_cell_every=30, **kwargs):
        # papermill's Engine.execute_notebook with SparseSaves as the manager
        nb_man = SparseSaves(nb, output_path=output_path, progress_bar=progress_bar, log_output=log_output,
                             autosave_cell_every=autosave_cell_every)
        nb_man.notebook_start()
        try:
            cls.execute_managed_notebook(nb_man, kernel_name, log_output=log_output, **kwargs)
        finally:
            nb_man.cleanup_pbar()
            nb_man.notebook_complete()
        return nb_man.nb

    @classmethod
    def execute_managed_notebook(cls, nb_man, kernel_name, log_output=False, stdout_file=None,
                                 stderr_file=None, start_timeout=60, execution_timeout=None, **kwargs):
        global _client
        kwargs = remove_args(["input_path", "timeout", "startup_timeout"], **kwargs)  # as papermill's own engine
        km = manager(kernel_name)
        client = PapermillNotebookClient(
            nb_man, km=km, timeout=execution_timeout, startup_timeout=start_timeout,
            kernel_name=kernel_name, log=logger, log_output=log_output, stdout_file=stdout_file,
            stderr_file=stderr_file, **kwargs)
        client.kc = _client  # nbclient makes a client only when it has none
        try:
            return client.execute()
        finally:
            if client.kc is not None:
                reset(client)  # on failure: shutdown(), which forgets this kernel and its client
                if _manager is km:
                    _client = client.kc
                else:
                    client.kc.stop_channels()


papermill_engines.register(ENGINE, WorkerKernelEngine)
