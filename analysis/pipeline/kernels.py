"""Run notebooks through Papermill on a warm, reused Jupyter kernel.

Starting a kernel and importing pandas, matplotlib and the analysis package
costs about two seconds, which would dominate a per-authority budget of
three. Each build worker therefore starts ONE kernel and runs all of its
notebooks on it through Papermill (parameters injected, outputs saved, errors
reported as usual), resetting the user namespace and working directory
between notebooks so one authority's variables never reach the next.

Kernels talk over IPC sockets in a private folder, not TCP: parallel kernels
picking TCP ports race each other (jupyter/jupyter_client#487), IPC has no
ports. Starting is still retried a bounded number of times.
"""

from __future__ import annotations

import atexit
import os
import shutil
import time
from pathlib import Path
from queue import Empty
from typing import Any

from jupyter_client.blocking import BlockingKernelClient
from jupyter_client.manager import KernelManager

from analysis.core.guard import KERNEL_DIR_ENV, kernel_folder, kernel_preexec

START_ATTEMPTS = 3
#: ``%reset -f`` ends with a full ``gc.collect()`` (its output-cache flush): a tenth of
#: a second per notebook on a kernel holding the national tables, for nothing the next
#: notebook needs (automatic collection still runs), so it is skipped.
RESET_CODE = """\
import os as _os, gc as _gc
_os.chdir({cwd!r})
_gc.__dict__.setdefault("_wb_collect", _gc.collect)
_gc.collect = lambda *args, **kwargs: 0
try:
    get_ipython().run_line_magic('reset', '-f')
finally:
    import gc as _gc
    _gc.collect = _gc._wb_collect
import os as _os, matplotlib as _mpl
_mpl.rcParams.update(_mpl.rcParamsDefault)
_mpl.use('Agg')
import matplotlib.pyplot as _plt
_plt.close('all')
del _os, _gc, _mpl, _plt
"""


class QuickReadyClient(BlockingKernelClient):
    """A kernel client whose readiness check costs milliseconds, not 0.2 s.

    jupyter_client's ``wait_for_ready`` ends by draining IOPub until it has
    been quiet for 0.2 s. Papermill (through nbclient) and our reset each
    call it once per notebook: 0.8 s of idle waiting per authority. Here
    readiness is the same proof as jupyter_client's (a kernel_info reply on
    the shell channel, then a message on IOPub, so the subscription is live)
    without the final drain. As there, *any* kernel_info reply counts: on a
    busy machine the first request can time out and its reply arrive after
    the second was sent, and insisting on the latest request's reply would
    stay one reply behind until the timeout. Stray replies and status
    messages left behind belong to other requests; nbclient and
    ``execute_interactive`` match replies by message id and skip them.
    """

    def wait_for_ready(self, timeout: float | None = None) -> None:
        deadline = time.monotonic() + (timeout or 60)
        while True:
            self.kernel_info()
            try:
                reply = self.get_shell_msg(timeout=1)
            except Empty:
                reply = None
            if reply is not None and reply.get("msg_type") == "kernel_info_reply":
                try:
                    self.get_iopub_msg(timeout=0.2)
                    return
                except Empty:
                    pass  # IOPub not yet subscribed: ask again
            if not self.is_alive():
                raise RuntimeError("Kernel died before replying to kernel_info")
            if time.monotonic() > deadline:
                raise RuntimeError(f"Kernel didn't respond in {timeout} seconds")


_KM: KernelManager | None = None
_RUNTIME_DIR: str | None = None


def _runtime_dir() -> str:
    """The kernels' socket folder: the build's (``WB_KERNEL_DIR``), else this process's.

    The build makes one folder for all its workers and removes it at the end;
    a process on its own makes ``wb-kernels-<pid>-*`` and removes it at exit
    (a killed process's folder is removed by the next build).
    """
    global _RUNTIME_DIR
    if _RUNTIME_DIR is None:
        given = os.environ.get(KERNEL_DIR_ENV)
        if given and os.path.isdir(given):
            _RUNTIME_DIR = given
        else:
            _RUNTIME_DIR = kernel_folder()
            atexit.register(shutil.rmtree, _RUNTIME_DIR, True)
    return _RUNTIME_DIR


def _start_kernel() -> KernelManager:
    runtime = _runtime_dir()
    last: Exception | None = None
    for attempt in range(START_ATTEMPTS):
        conn = os.path.join(runtime, f"kernel-{os.getpid()}-{attempt}.json")
        km = KernelManager(
            kernel_name="python3", transport="ipc", connection_file=conn,
            client_class="analysis.pipeline.kernels.QuickReadyClient",
        )
        km.ip = os.path.join(runtime, f"ipc-{os.getpid()}-{attempt}")
        try:
            env = {**os.environ, "MPLBACKEND": "Agg", "PYDEVD_DISABLE_FILE_VALIDATION": "1"}
            # The kernel dies with its worker (parent-death signal), even on kill -9.
            km.start_kernel(env=env, preexec_fn=kernel_preexec)
            kc = km.client()
            kc.start_channels()
            kc.wait_for_ready(timeout=60)
            kc.stop_channels()
            return km
        except Exception as exc:  # noqa: BLE001 - retried, then re-raised
            last = exc
            try:
                km.shutdown_kernel(now=True)
            except Exception:  # noqa: BLE001
                pass
            time.sleep(0.5 * (attempt + 1))
    raise RuntimeError(f"could not start a Jupyter kernel after {START_ATTEMPTS} tries: {last}")


def warm_kernel() -> KernelManager:
    """This process's kernel, started on first use and restarted if it died."""
    global _KM
    if _KM is None or not _KM.is_alive():
        if _KM is not None:
            shutdown()
        _KM = _start_kernel()
        atexit.register(shutdown)
    return _KM


def shutdown() -> None:
    """Stop this process's kernel (called at exit)."""
    global _KM
    if _KM is not None:
        try:
            _KM.shutdown_kernel(now=True)
        except Exception:  # noqa: BLE001 - best effort at exit
            pass
        _KM = None


def _reset(km: KernelManager, cwd: Path) -> None:
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        code = RESET_CODE.format(cwd=str(Path(cwd).resolve()))
        reply = kc.execute_interactive(code, timeout=60, store_history=False)
        if reply["content"].get("status") != "ok":
            raise RuntimeError(f"kernel reset failed: {reply['content'].get('evalue')}")
    finally:
        kc.stop_channels()


def run_notebook(
    notebook: Path,
    output: Path,
    parameters: dict[str, Any],
    cwd: Path,
    warm: bool = True,
) -> Any:
    """Execute ``notebook`` with Papermill into ``output``.

    With ``warm`` the process's reused kernel runs it (after a namespace
    reset and a chdir to ``cwd``); otherwise Papermill starts and stops a
    fresh kernel, as a plain `papermill` call would (the benchmark's baseline).
    Raises papermill's PapermillExecutionError when a cell fails; the
    executed notebook, with the error, is at ``output`` either way.
    """
    import papermill  # a third of a second: only a build with notebooks to run imports it

    cwd.mkdir(parents=True, exist_ok=True)
    common = dict(
        parameters=parameters,
        progress_bar=False,
        log_output=False,
        request_save_on_cell_execute=False,
        autosave_cell_every=0,
        cwd=str(cwd),
    )
    if not warm:
        return papermill.execute_notebook(str(notebook), str(output), **common)
    km = warm_kernel()
    _reset(km, cwd)
    return papermill.execute_notebook(str(notebook), str(output), km=km, **common)
