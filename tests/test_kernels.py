"""The warm-kernel client: readiness without idle waiting, robust to a slow kernel."""

from __future__ import annotations

from collections import deque
from pathlib import Path
from queue import Empty

import nbformat
import pytest

from analysis.pipeline.kernels import QuickReadyClient, run_notebook


class FakeKernel(QuickReadyClient):
    """Shell replies arrive late: the first request times out, its reply comes later.

    Replies then always answer the *previous* request, as on a loaded machine;
    a client that insisted on the latest request's reply would never be ready.
    """

    def __init__(self, lag: int = 1, iopub_after: int = 0) -> None:
        self.sent: list[str] = []
        self.shell: deque = deque()
        self.lag = lag
        self.iopub_after = iopub_after
        self.iopub_calls = 0

    def kernel_info(self) -> str:
        msg_id = f"m{len(self.sent)}"
        self.sent.append(msg_id)
        if len(self.sent) > self.lag:
            answered = self.sent[len(self.sent) - 1 - self.lag]
            self.shell.append({"msg_type": "kernel_info_reply",
                               "parent_header": {"msg_id": answered}})
        return msg_id

    def get_shell_msg(self, timeout: float | None = None) -> dict:
        if not self.shell:
            raise Empty
        return self.shell.popleft()

    def get_iopub_msg(self, timeout: float | None = None) -> dict:
        self.iopub_calls += 1
        if self.iopub_calls <= self.iopub_after:
            raise Empty
        return {"msg_type": "status"}

    def is_alive(self) -> bool:
        return True


def test_ready_when_replies_lag_behind_requests() -> None:
    kernel = FakeKernel(lag=1)
    kernel.wait_for_ready(timeout=5)
    assert len(kernel.sent) == 2  # one timed out, the late reply to it is accepted


def test_waits_until_iopub_is_subscribed() -> None:
    kernel = FakeKernel(lag=0, iopub_after=2)
    kernel.wait_for_ready(timeout=5)
    assert len(kernel.sent) == 3 and kernel.iopub_calls == 3


def test_times_out_when_the_kernel_never_answers() -> None:
    kernel = FakeKernel(lag=10**6)
    with pytest.raises(RuntimeError, match="didn't respond"):
        kernel.wait_for_ready(timeout=0.01)


def test_warm_kernel_runs_notebooks_in_their_own_folder_with_a_clean_namespace(
    tmp_path: Path,
) -> None:
    """Two notebooks on one warm kernel: each in its folder, nothing carried over."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    params = nbformat.v4.new_code_cell("marker = None")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(
        "import os\nleft = 'seen' in globals()\nseen = marker\nprint(os.getcwd(), left)")]
    source = tmp_path / "probe.ipynb"
    nbformat.write(nb, source)
    outputs = []
    for name in ("first", "second"):
        folder = tmp_path / name
        run_notebook(source, folder / "out.ipynb", {"marker": name}, cwd=folder, warm=True)
        done = nbformat.read(folder / "out.ipynb", as_version=4)
        outputs.append(done.cells[-1].outputs[0]["text"].strip())
    assert outputs == [f"{tmp_path / 'first'} False", f"{tmp_path / 'second'} False"]
