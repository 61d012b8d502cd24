"""Atomic file writing, in one place.

Every file the project writes goes through here: written to a temporary file
in the same folder, then renamed over the target with ``os.replace``. A build
killed midway therefore never leaves half a file that looks finished, and a
reader never sees one. ``mkstemp`` creates private (0600) files; published
outputs must be readable by whoever serves them, so they are made 0644.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

MODE = 0o644


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path``.

    For writers that want a file name (``joblib.dump``, ``savefig``). On any
    error the temporary file is removed and ``path`` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, MODE)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_atomic(path: str | Path, data: bytes | str) -> Path:
    """Write bytes, or text as UTF-8 with line ends kept as given, atomically."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    with atomic_path(path) as tmp:
        tmp.write_bytes(payload)
    return Path(path)


def write_csv_atomic(frame: pd.DataFrame, path: str | Path, float_format: str | None = None
                     ) -> Path:
    """A CSV with no index, ``\\n`` line ends and the given float format, atomically."""
    text = frame.to_csv(index=False, float_format=float_format, lineterminator="\n")
    return write_atomic(path, text)
