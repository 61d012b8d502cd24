"""A Papermill engine that runs a notebook's cells in this process, not on a Jupyter kernel.

Why: a build worker runs one notebook per authority, and a Jupyter kernel
costs it twice: starting one (a process that imports pandas, matplotlib and
the analysis package again, 1.5-2 s, most of a one-authority rebuild) and
talking to it (every output serialised to JSON over ZeroMQ, a readiness
check and a kernel_info round trip per notebook). The worker has imported
the package already; here its own IPython shell runs the cells.

Papermill still does everything it does for a kernel (reads the notebook,
injects the parameters cell, records each cell's status and times, writes
the executed notebook, raises ``PapermillExecutionError`` naming the failing
cell), through its documented engine interface: this module registers the
engine ``"wellbeing-inprocess"``. The shell records the outputs a kernel's
client would (``display_data``, ``execute_result``, ``stream``, ``error``,
with the same MIME bundles from IPython's own display formatter).

Each notebook starts with a fresh user namespace, execution counts from 1,
its own working folder (restored afterwards), matplotlib's defaults and no
open figures, as the warm kernels' reset did. What a notebook does to
imported modules persists, as it did on a reused kernel: the build's
notebooks only read. Only the thread running the cells is captured: another
thread's prints and warnings go to the worker's own streams.
"""

from __future__ import annotations

import io
import platform
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ENGINE = "wellbeing-inprocess"

_SHELL: Any = None
_LOCK = threading.Lock()


class _Recorder:
    """Where the running cell's outputs go (``outputs`` is None between cells)."""

    outputs: list[Any] | None = None
    thread: int | None = None
    count: int | None = None  # the cell's execution count (IPython's has moved on by then)

    @classmethod
    def add(cls, output: Any) -> None:
        if cls.outputs is not None:
            cls.outputs.append(output)


class _Stream(io.TextIOBase):
    """``sys.stdout``/``sys.stderr`` while a cell runs: the cell's thread's text becomes
    ``stream`` outputs (consecutive writes joined, as a kernel client does)."""

    def __init__(self, name: str, real: Any) -> None:
        self.name = name
        self.real = real

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def write(self, text: str) -> int:
        outs = _Recorder.outputs
        if outs is None or threading.get_ident() != _Recorder.thread:
            return self.real.write(text)
        if not text:
            return 0
        from nbformat.v4 import new_output

        last = outs[-1] if outs else None
        if last is not None and (last.get("output_type"), last.get("name")) == ("stream",
                                                                                 self.name):
            last["text"] += text
        else:
            outs.append(new_output("stream", name=self.name, text=text))
        return len(text)

    def flush(self) -> None:
        if _Recorder.outputs is None or threading.get_ident() != _Recorder.thread:
            self.real.flush()


def _shell() -> Any:
    """This process's IPython shell, made on first use (no history file, no banner)."""
    global _SHELL
    if _SHELL is not None:
        return _SHELL
    from IPython.core.displayhook import DisplayHook
    from IPython.core.displaypub import DisplayPublisher
    from IPython.core.interactiveshell import InteractiveShell
    from nbformat.v4 import new_output
    from traitlets import Type
    from traitlets.config import Config

    class Publisher(DisplayPublisher):
        def publish(self, data: Any, metadata: Any = None, source: Any = None, *,
                    transient: Any = None, update: bool = False, **kwargs: Any) -> None:
            _Recorder.add(new_output("display_data", data=data, metadata=metadata or {}))

        def clear_output(self, wait: bool = False) -> None:
            if _Recorder.outputs is not None:
                _Recorder.outputs.clear()

    class Hook(DisplayHook):
        """The value of a cell's last expression, as a kernel's ``execute_result``."""

        def write_output_prompt(self) -> None:
            pass

        def write_format_data(self, format_dict: Any, md_dict: Any = None) -> None:
            _Recorder.add(new_output("execute_result", data=format_dict,
                                     metadata=md_dict or {},
                                     execution_count=_Recorder.count))

        def finish_displayhook(self) -> None:
            pass

    class Shell(InteractiveShell):
        display_pub_class = Type(Publisher)
        displayhook_class = Type(Hook)

        def _showtraceback(self, etype: Any, evalue: Any, stb: Any) -> None:
            _Recorder.add(new_output("error", ename=str(etype.__name__),
                                     evalue=str(evalue), traceback=list(stb)))

        def enable_gui(self, gui: Any = None) -> None:
            pass

    config = Config()
    config.HistoryManager.enabled = False
    config.InteractiveShell.colors = "nocolor"
    _SHELL = Shell.instance(config=config)  # the instance IPython.display.display finds
    return _SHELL


def reset_matplotlib() -> None:
    """matplotlib's defaults and no open figures (when matplotlib is loaded at all)."""
    mpl = sys.modules.get("matplotlib")
    if mpl is None:
        return
    mpl.rcParams.update(mpl.rcParamsDefault)
    mpl.use("Agg")
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is not None:
        plt.close("all")


@contextmanager
def _notebook_context(shell: Any) -> Iterator[None]:
    """A fresh namespace, counts from 1, no open figures; the same again afterwards.

    (Papermill itself runs the engine in the notebook's working folder.)
    """
    saved = sys.stdout, sys.stderr
    shell.user_ns.clear()
    shell.init_user_ns()
    shell.execution_count = 1
    reset_matplotlib()
    sys.stdout, sys.stderr = _Stream("stdout", saved[0]), _Stream("stderr", saved[1])
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved
        shell.user_ns.clear()
        shell.init_user_ns()
        reset_matplotlib()


def _engine() -> type:
    from papermill.engines import Engine

    class InProcessEngine(Engine):
        """Papermill engine: the cells run in this process's IPython shell."""

        @classmethod
        def execute_managed_notebook(cls, nb_man: Any, kernel_name: Any, **kwargs: Any) -> Any:
            from IPython.core.interactiveshell import ExecutionResult

            shell = _shell()
            with _LOCK, _notebook_context(shell):
                for index, cell in enumerate(nb_man.nb.cells):
                    nb_man.cell_start(cell, index)
                    failed = False
                    try:
                        if cell.cell_type == "code":
                            cell.outputs = []
                            _Recorder.thread = threading.get_ident()
                            _Recorder.outputs = cell.outputs
                            cell.execution_count = _Recorder.count = shell.execution_count
                            try:
                                result: ExecutionResult = shell.run_cell(
                                    cell.source, store_history=True, silent=False)
                            finally:
                                _Recorder.outputs = _Recorder.thread = None
                            failed = not result.success  # sys.exit(0) too, as nbclient
                        if failed:
                            nb_man.cell_exception(cell, cell_index=index)
                    finally:
                        nb_man.cell_complete(cell, cell_index=index)
                    if failed:
                        break
            nb_man.nb.metadata["language_info"] = _language_info()
            return nb_man.nb

    return InProcessEngine


def _language_info() -> dict[str, Any]:
    """What ipykernel's kernel reports as its language, kept in the executed notebook
    (Quarto and JupyterLab read it); a test checks it against ipykernel's own."""
    major = sys.version_info[0]
    return {"name": "python", "version": platform.python_version(), "mimetype": "text/x-python",
            "codemirror_mode": {"name": "ipython", "version": major},
            "pygments_lexer": f"ipython{major}", "nbconvert_exporter": "python",
            "file_extension": ".py"}


def register() -> str:
    """Register the engine with Papermill (idempotent); returns its name."""
    from papermill.engines import papermill_engines

    if ENGINE not in papermill_engines._engines:
        papermill_engines.register(ENGINE, _engine())
    return ENGINE


def run_notebook(
    notebook: Path,
    output: Path,
    parameters: dict[str, Any],
    cwd: Path,
    warm: bool = True,
) -> Any:
    """Execute ``notebook`` with Papermill into ``output``, working in ``cwd``.

    ``warm`` (the build): in this process, on the engine above. Otherwise on
    a fresh Jupyter kernel that is started and stopped for it, as a plain
    ``papermill`` call does (the benchmark's naive baseline). Raises
    Papermill's ``PapermillExecutionError`` when a cell fails; the executed
    notebook, with the error, is at ``output`` either way.
    """
    import papermill  # a third of a second: only a build with notebooks to run imports it

    cwd.mkdir(parents=True, exist_ok=True)
    return papermill.execute_notebook(
        str(notebook), str(output), parameters=parameters, progress_bar=False,
        log_output=False, request_save_on_cell_execute=False, autosave_cell_every=0,
        cwd=str(cwd), engine_name=register() if warm else None,
    )


def warm_up() -> None:
    """Load what the first notebook would: Papermill, matplotlib, the shell, the engine.

    A build worker calls it when it starts, beside the build's own work.
    """
    import matplotlib

    matplotlib.use("Agg")
    # What the charts draw with (a Figure on an Agg canvas, no pyplot) and the font cache.
    import matplotlib.figure  # noqa: F401
    from matplotlib import font_manager
    from matplotlib.backends import backend_agg  # noqa: F401

    font_manager.fontManager.findfont("DejaVu Sans")
    register()
    _shell()
