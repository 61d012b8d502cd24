"""The build's notebook engine: Papermill running cells in this process, as a kernel would."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import nbformat
import pytest
from papermill.exceptions import PapermillExecutionError

from analysis.pipeline import execute
from analysis.pipeline.execute import run_notebook

KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}


def _notebook(path: Path, *sources: str, parameters: str = "marker = None") -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = KERNELSPEC
    params = nbformat.v4.new_code_cell(parameters)
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_markdown_cell("Some *prose*."),
                *(nbformat.v4.new_code_cell(s) for s in sources)]
    nbformat.write(nb, path)
    return path


def _outputs(nb: nbformat.NotebookNode) -> list[list[dict]]:
    """Each code cell's outputs without what differs between runs (ids, timings)."""
    return [[{k: v for k, v in o.items() if k != "metadata"} | {"metadata": o.get("metadata", {})}
             for o in c.outputs] for c in nb.cells if c.cell_type == "code"]


RICH = (
    "from IPython.display import Markdown, display\n"
    "print('one'); print('two')\n"
    "display(Markdown('**bold**'))\n"
    "import sys; print('careful', file=sys.stderr)\n"
    "{'a': 1}",
    "x = 41\nx + 1",
    "print('no value');",
)


def test_records_the_outputs_a_jupyter_kernel_records(tmp_path: Path) -> None:
    """The same notebook on a fresh kernel and in process: the same outputs and counts."""
    source = _notebook(tmp_path / "rich.ipynb", *RICH)
    run_notebook(source, tmp_path / "k" / "out.ipynb", {"marker": 1}, cwd=tmp_path / "k",
                 warm=False)
    run_notebook(source, tmp_path / "p" / "out.ipynb", {"marker": 1}, cwd=tmp_path / "p",
                 warm=True)
    kernel = nbformat.read(tmp_path / "k" / "out.ipynb", as_version=4)
    here = nbformat.read(tmp_path / "p" / "out.ipynb", as_version=4)
    assert _outputs(here) == _outputs(kernel)
    assert [c.get("execution_count") for c in here.cells] == [
        c.get("execution_count") for c in kernel.cells]
    assert here.metadata["language_info"] == kernel.metadata["language_info"]
    assert here.cells[3].outputs[1]["data"]["text/markdown"] == "**bold**"


def test_notebooks_run_in_their_own_folder_with_a_clean_namespace(tmp_path: Path) -> None:
    """Two notebooks in one process: each in its folder, nothing carried over, counts from 1."""
    source = _notebook(tmp_path / "probe.ipynb",
                       "import os\nleft = 'seen' in globals()\nseen = marker\n"
                       "print(os.getcwd(), left)")
    before = Path.cwd()
    outputs, counts = [], []
    for name in ("first", "second"):
        folder = tmp_path / name
        run_notebook(source, folder / "out.ipynb", {"marker": name}, cwd=folder, warm=True)
        done = nbformat.read(folder / "out.ipynb", as_version=4)
        outputs.append(done.cells[-1].outputs[0]["text"].strip())
        counts.append([c.execution_count for c in done.cells if c.cell_type == "code"])
    assert outputs == [f"{tmp_path / 'first'} False", f"{tmp_path / 'second'} False"]
    assert counts == [[1, 2, 3], [1, 2, 3]]
    assert Path.cwd() == before
    assert "seen" not in execute._shell().user_ns


def test_a_failing_cell_stops_the_notebook_and_names_itself(tmp_path: Path) -> None:
    source = _notebook(tmp_path / "fails.ipynb", "a = 1", "raise ValueError('no such year')",
                       "print('never')")
    out = tmp_path / "run" / "out.ipynb"
    with pytest.raises(PapermillExecutionError) as caught:
        run_notebook(source, out, {}, cwd=tmp_path / "run", warm=True)
    assert caught.value.ename == "ValueError" and caught.value.evalue == "no such year"
    assert caught.value.exec_count == 3
    done = {c.source: c for c in nbformat.read(out, as_version=4).cells}
    never, failed = done["print('never')"], done["raise ValueError('no such year')"]
    assert never.outputs == [] and never.execution_count is None
    assert failed.metadata.papermill["status"] == "failed"
    assert never.metadata.papermill["status"] == "pending"
    assert failed.outputs[0]["output_type"] == "error"
    # The next notebook is unaffected.
    run_notebook(_notebook(tmp_path / "ok.ipynb", "print(marker)"), tmp_path / "ok" / "o.ipynb",
                 {"marker": "fine"}, cwd=tmp_path / "ok", warm=True)
    assert nbformat.read(tmp_path / "ok" / "o.ipynb", as_version=4).cells[-1].outputs[0][
        "text"] == "fine\n"


def test_a_syntax_error_is_reported_like_any_other(tmp_path: Path) -> None:
    source = _notebook(tmp_path / "syntax.ipynb", "def (")
    with pytest.raises(PapermillExecutionError) as caught:
        run_notebook(source, tmp_path / "s" / "o.ipynb", {}, cwd=tmp_path / "s", warm=True)
    assert caught.value.ename == "SyntaxError"


def test_sys_exit_zero_is_not_a_failure(tmp_path: Path) -> None:
    """As Papermill treats it on a kernel: the notebook stops there, without an error."""
    source = _notebook(tmp_path / "exit.ipynb", "import sys\nsys.exit(0)", "print('after')")
    for warm, folder in ((False, "k"), (True, "p")):
        run_notebook(source, tmp_path / folder / "o.ipynb", {}, cwd=tmp_path / folder,
                     warm=warm)
        last = nbformat.read(tmp_path / folder / "o.ipynb", as_version=4).cells[-1]
        assert last.outputs == [] and last.execution_count is None, folder


def test_another_threads_output_is_not_the_cells(tmp_path: Path, capfd) -> None:
    """The worker's background rendering may print: it must not land in the briefing."""
    started, finish = threading.Event(), threading.Event()

    def chatter() -> None:
        started.set()
        while not finish.is_set():
            print("from the side thread", file=sys.stderr)
            finish.wait(0.001)

    side = threading.Thread(target=chatter)
    side.start()
    started.wait()
    try:
        source = _notebook(tmp_path / "quiet.ipynb",
                           "import time\nfor _ in range(20):\n    time.sleep(0.002)\nprint('mine')")
        run_notebook(source, tmp_path / "q" / "o.ipynb", {}, cwd=tmp_path / "q", warm=True)
    finally:
        finish.set()
        side.join()
    done = nbformat.read(tmp_path / "q" / "o.ipynb", as_version=4)
    assert done.cells[-1].outputs == [nbformat.v4.new_output("stream", name="stdout",
                                                             text="mine\n")]
    assert "from the side thread" in capfd.readouterr().err


def test_matplotlib_state_does_not_leak_between_notebooks(tmp_path: Path) -> None:
    source = _notebook(tmp_path / "mpl.ipynb",
                       "import matplotlib as mpl, matplotlib.pyplot as plt\n"
                       "print(mpl.rcParams['font.size'], len(plt.get_fignums()))\n"
                       "mpl.rcParams['font.size'] = 31\nplt.figure()")
    seen = []
    for name in ("a", "b"):
        run_notebook(source, tmp_path / name / "o.ipynb", {}, cwd=tmp_path / name, warm=True)
        seen.append(nbformat.read(tmp_path / name / "o.ipynb", as_version=4)
                    .cells[-1].outputs[0]["text"])
    assert seen[0] == seen[1] and not seen[0].startswith("31")
