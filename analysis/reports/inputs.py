"""What a notebook reads: the national stage's folder, the build's or a standalone one.

Why one path: the build runs the national stage once and hands every notebook
its folder (``national_dir``). A researcher in JupyterLab, or nbval running a
golden notebook, passes no folder; then ``national_folder`` runs the *same*
national stage (``analysis.methods.national.compute_national``) once for the
extract into the project cache and hands back that folder. Every notebook
(briefing, young people's version, indicators, national, drivers) goes through
here, so the standalone run reads exactly what a build reads.
"""

from __future__ import annotations

import shutil
import tempfile
from functools import lru_cache
from pathlib import Path

import pandas as pd

from analysis.core import layout, provenance
from analysis.core.errors import UserError
from analysis.core.paths import DEMO_DATA, FIXTURE_DATA, PROJECT_ROOT
from analysis.core.provenance import file_stamp
from analysis.data.validation import load_valid_extract
from analysis.methods.national import compute_national

#: Where a standalone notebook looks for data when no ``data`` is given.
DEFAULT_DATA = (DEMO_DATA, FIXTURE_DATA)


def resolve_project_path(path: str | Path) -> Path:
    """A path as given if absolute or present, else relative to the repository root.

    Notebooks run from different folders (notebooks/ in JupyterLab, a scratch
    folder in the build, tests/golden/ under nbval); resolving against the
    project root makes the same parameter value work in all of them.
    """
    p = Path(path).expanduser()
    if p.is_absolute() or p.exists():
        return p
    return PROJECT_ROOT / p


def resolve_data(data: str | Path | None = None) -> Path:
    """The extract a standalone notebook reads: ``data``, else the demo, else the test fixture."""
    if data:
        return resolve_project_path(data)
    for candidate in DEFAULT_DATA:
        if candidate.exists():
            return candidate
    raise UserError("no survey extract found (tried "
                    + ", ".join(str(c) for c in DEFAULT_DATA)
                    + "): `make data` writes the demonstration extract, or pass `data`")


def national_folder(national_dir: str | Path | None = None,
                    data: str | Path | None = None) -> Path:
    """The national stage's folder: ``national_dir`` (the build), else a standalone one.

    A standalone folder is computed once per extract (keyed by its
    and the code's fingerprints, like the build's) under ``.cache/standalone`` and reused by
    every later notebook run; its driver models share the build's model cache.
    """
    if national_dir:
        return resolve_project_path(national_dir)
    source = resolve_data(data)
    return _standalone(file_stamp(source))


@lru_cache(maxsize=4)
def _standalone(stamp: tuple[str, float, int]) -> Path:
    source = Path(stamp[0])
    data_fp = provenance.data_hash(source)
    # Keyed by the data and the code, like the build's national stage: a code
    # change gives a new folder, never a stale one.
    folder = layout.standalone_dir(provenance.text_hash(data_fp, provenance.code_hash()))
    if (folder / layout.COMPARISONS_CSV).exists():
        return folder
    models = layout.private_dir(layout.models_dir())
    compute_national(load_valid_extract(source), folder, models, data_fp)
    _forget_old(folder.parent.parent)
    return folder


#: Standalone national folders kept (the newest; older code versions are dropped).
KEEP = 4


def _forget_old(root: Path) -> None:
    """Drop all but the ``KEEP`` most recent standalone folders (each is a few MB)."""
    runs = sorted((p for p in root.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime,
                  reverse=True)
    for old in runs[KEEP:]:
        shutil.rmtree(old, ignore_errors=True)


def data_fingerprint(national_dir: str | Path | None, data: str | Path | None,
                     given: str = "") -> str:
    """The data fingerprint a notebook prints: the build's, else the standalone extract's."""
    if given:
        return given
    if national_dir:
        return ""
    return provenance.data_hash(resolve_data(data))


@lru_cache(maxsize=16)
def _read_csv_cached(stamp: tuple[str, float, int]) -> pd.DataFrame:
    return pd.read_csv(stamp[0], keep_default_na=False, na_values=[""])  # "NA" is a name


def read_optional_csv(path: Path) -> pd.DataFrame | None:
    """A CSV read once per process (keyed on its stamp), or None when absent."""
    if not path.exists():
        return None
    return _read_csv_cached(file_stamp(path))


def national_extras(folder: Path) -> dict[str, pd.DataFrame | None]:
    """Drivers, model performance and focus areas written by the national stage."""
    return {
        "drivers": read_optional_csv(folder / layout.DRIVERS_FULL_CSV),
        "performance": read_optional_csv(folder / layout.PERFORMANCE_CSV),
        "focus": read_optional_csv(folder / layout.FOCUS_CSV),
    }


def figures_folder(out_dir: str | Path | None, name: str = "briefing") -> Path:
    """Where figures go: ``<out_dir>/figures``; None means a temporary folder.

    The golden notebooks run with ``out_dir=None`` so nbval leaves no files
    in the repository; the folder is ``<tmp>/wb-figures-<name>`` (the same
    every run, so re-blessing does not churn the golden files, and masked
    by the nbval sanitiser anyway).
    """
    if out_dir is None:
        return Path(tempfile.gettempdir()) / f"wb-figures-{name}" / "figures"
    return Path(out_dir) / "figures"
