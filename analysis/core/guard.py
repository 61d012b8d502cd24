"""Guards around the build: inputs checked up front, one build per folder, no orphans.

Why: ``make reports`` is run by careless hands as well as careful ones. A
folder given as ``DATA``, a read-only ``REPORTS_DIR``, ``JOBS=100`` or two
builds started at once on one folder used to end in a traceback, a stalled
machine or false failures. The checks here turn each into a one-line message
naming the file (or variable) and the fix, before any work is done:

* :func:`input_file` / :func:`output_folder` - ``DATA`` and ``MAPPING`` must
  be readable files, ``REPORTS_DIR`` and ``PARAMS_DIR`` writable folders;
* :func:`worker_count` - ``JOBS`` is a positive whole number, capped by the
  cores and by the memory available (each worker takes about
  ``WORKER_MEMORY`` bytes), with a message when capped;
* :class:`BuildLock` - one build per ``REPORTS_DIR`` at a time: the folder's
  marker file ``.wellbeing-reports`` is locked (``fcntl.flock``) for the
  whole build; a second build says another is running and waits for it. The
  marker also tells ``make clean-reports`` the folder is the build's;
* :func:`die_with_parent` - build workers (and the model-fitting process)
  get the Linux parent-death signal, so killing the build (even
  ``kill -9``) stops them.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import os
import re
import signal
import tempfile
from pathlib import Path

from analysis.core.errors import UserError

MARKER = ".wellbeing-reports"
MARKER_TEXT = (
    "This folder is written by `make reports` (children's well-being briefings).\n"
    "While a build runs it holds a lock on this file; `make clean-reports` only\n"
    "empties folders that hold it.\n"
)
#: Peak memory of one build worker (measured with its former kernel: about 0.7 GB together).
WORKER_MEMORY = 800 * 2**20
PR_SET_PDEATHSIG = 1


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


def input_file(path: Path, variable: str, hint: str = "") -> None:
    """Refuse a missing, folder or unreadable input file with a one-line message."""
    if not path.exists():
        raise UserError(f"{path}: no such file ({variable}). Check the path{hint}.")
    if path.is_dir():
        raise UserError(f"{path}: is a folder, not a file ({variable}). "
                        f"Give the path of the file itself{hint}.")
    try:
        with path.open("rb") as fh:
            fh.read(1)
    except OSError as exc:
        raise UserError(f"{path}: cannot be read ({_reason(exc)}) ({variable}). "
                        "Check the file's permissions or give a copy you can read.") from None


def output_folder(path: Path, variable: str) -> None:
    """Make sure ``path`` is (or can become) a folder this process can write in."""
    if path.exists() and not path.is_dir():
        raise UserError(f"{path}: is a file, not a folder ({variable}). "
                        f"Give a folder: {variable}=path")
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=path, prefix=".write-test-")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise UserError(f"{path}: cannot write there ({_reason(exc)}) ({variable}). "
                        f"Give a folder you can write to: {variable}=path") from None


def inputs(data: str | Path, mapping: str | Path | None,
           folders: dict[str, str | Path]) -> tuple[Path, Path | None]:
    """Check an extract, its optional mapping and the output folders before any work.

    Every command that reads an extract (``make params``, ``make reports``)
    calls this one check, so a bad path gets the same one-line message
    everywhere. ``folders`` maps each variable name to its value.
    """
    for variable, value in {"DATA": data, **folders}.items():
        if not str(value).strip():
            raise UserError(f"{variable} is empty: give a path ({variable}=path), or leave it "
                            "out for the default.")
    data_path = Path(data)
    mapping_path = Path(mapping) if mapping else None
    input_file(data_path, "DATA", "; `make data` writes the demonstration extract")
    if mapping_path is not None:
        input_file(mapping_path, "MAPPING", "; see docs/column-mapping.md")
    for variable, value in folders.items():
        output_folder(Path(value), variable)
    return data_path, mapping_path


def disk_message(exc: OSError) -> str:
    """One line for an OSError met while writing outputs (disk full, read-only...)."""
    where = exc.filename or "an output file"
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return (f"{where}: no space left on the disk (nothing half-written was published). "
                "Free some space, or give REPORTS_DIR on another disk, and run again.")
    if exc.errno == errno.EROFS:
        return f"{where}: the file system is read-only. Give a writable REPORTS_DIR."
    return f"{where}: cannot write ({_reason(exc)}). Check the folder and run again."


def parse_jobs(text: str) -> int:
    """``JOBS`` as given: a positive whole number, else a clear error."""
    try:
        value = int(str(text).strip())
    except ValueError:
        value = 0
    if value < 1 or str(text).strip().startswith("+"):
        raise UserError(f"JOBS={text!r}: give a positive whole number of authorities to build "
                        "at once (e.g. JOBS=2); the default is the number of cores.")
    return value


def available_memory() -> int | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def worker_count(requested: int, jobs: int) -> tuple[int, str]:
    """Workers to start for ``jobs`` jobs, and a message when ``requested`` was capped."""
    cores = cpu_count()
    memory = available_memory()
    by_memory = max(1, memory // WORKER_MEMORY) if memory else requested
    limit = min(cores, by_memory)
    workers = max(1, min(requested, limit, jobs))
    note = ""
    if requested > limit:
        mem = f"{memory / 2**30:.1f} GB free, about {WORKER_MEMORY / 2**30:.1f} GB per worker"
        note = (f"JOBS={requested} capped to {limit}: this machine has {cores} core(s) "
                f"({mem if memory else 'memory unknown'})")
    return workers, note


class BuildLock:
    """An exclusive lock on ``REPORTS_DIR/.wellbeing-reports`` for one build."""

    def __init__(self, reports: Path):
        self.path = reports / MARKER
        self.fd: int | None = None

    def acquire(self, log: object, wait: bool = True) -> None:
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = self._holder()
            message = (f"Another build is running on {self.path.parent}"
                       f"{f' (process {holder})' if holder else ''}")
            if not wait:
                os.close(self.fd)
                self.fd = None
                raise UserError(f"{message}; run again when it has finished.") from None
            log.info(f"{message}: waiting for it to finish (Ctrl-C to stop waiting).")
            fcntl.flock(self.fd, fcntl.LOCK_EX)
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, f"{MARKER_TEXT}build process: {os.getpid()}\n".encode(), 0)

    def _holder(self) -> str:
        with contextlib.suppress(OSError):
            found = re.search(r"build process: (\d+)", self.path.read_text(encoding="utf-8"))
            return found.group(1) if found else ""
        return ""

    def release(self) -> None:
        if self.fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self.fd, 0)
                os.pwrite(self.fd, MARKER_TEXT.encode(), 0)
            os.close(self.fd)  # closing releases the flock
            self.fd = None


# ---------------------------------------------------------------- process hygiene
def _libc() -> ctypes.CDLL | None:
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None


_LIBC = _libc()


def parent_death_signal(sig: int = signal.SIGTERM) -> bool:
    """Ask Linux to send ``sig`` to this process when its parent dies (prctl)."""
    if _LIBC is None or not hasattr(_LIBC, "prctl"):
        return False
    return _LIBC.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0


def die_with_parent(parent_pid: int) -> None:
    """For a build worker: stop when the build stops, however it stops."""
    parent_death_signal(signal.SIGTERM)
    if os.getppid() != parent_pid:  # the parent died before the signal was armed
        os._exit(1)
