"""Provenance: the one recipe for fingerprints of files, code and data.

Why one owner: the build decides what to rebuild from these fingerprints, the
driver-model cache is keyed by them, and the briefing prints them in its
provenance note. Spelled twice, two of them would drift and a stale output
would look current.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from analysis.core.paths import PROJECT_ROOT

#: What the outputs are computed by (relative to the project root).
CODE_GLOBS = (
    "analysis/**/*.py",
    "analysis/pipeline/templates/*",
    "data/reference/*",
    "notebooks/*.ipynb",
)


def file_hash(path: str | Path) -> str:
    """SHA-256 of a file's bytes (read in 1 MiB chunks: extracts can be large)."""
    h = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def text_hash(*parts: Any) -> str:
    """SHA-256 of values (JSON, keys sorted): fingerprints made of other fingerprints."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def files_hash(paths: Iterable[Path], root: Path | None = None) -> str:
    """One fingerprint of several files: each file's name (relative to ``root``) and bytes."""
    h = hashlib.sha256()
    for p in paths:
        h.update(str(p.relative_to(root) if root else p.name).encode())
        h.update(file_hash(p).encode())
    return h.hexdigest()


def code_hash(root: Path = PROJECT_ROOT) -> str:
    """One fingerprint of everything the outputs are computed by."""
    files = sorted({p for g in CODE_GLOBS for p in root.glob(g)
                    if p.is_file() and "__pycache__" not in p.parts})
    return files_hash(files, root)


def data_hash(path: str | Path, mapping: str | Path | None = None) -> str:
    """The fingerprint of an extract as read (its bytes and its column-mapping file).

    The build keys its national stage and the driver-model cache with it, and a
    standalone notebook run uses the same key, so JupyterLab and ``make
    reports`` share one fit of the models on the same data.
    """
    return text_hash(file_hash(path), file_hash(mapping) if mapping else "")


def file_stamp(path: Path) -> tuple[str, float, int]:
    """(absolute path, modification time, size): a cheap key for per-process caches."""
    st = path.stat()
    return (str(path.resolve()), st.st_mtime, st.st_size)


def code_version(root: Path = PROJECT_ROOT) -> str:
    """git describe of the code (with -dirty), or 'unknown' outside git."""
    try:
        out = subprocess.run(
            ["git", "-C", str(root), "describe", "--always", "--dirty", "--tags"],
            capture_output=True, text=True, timeout=10,
        )
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def stable_key(key: str) -> int:
    """Stable 32-bit key for a stream name (``hash()`` is salted per process)."""
    return zlib.crc32(key.encode("utf-8"))
