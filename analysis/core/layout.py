"""The build folder's layout: the one owner of where the build keeps things.

``REPORTS_DIR`` holds only what is published. Everything private (the
unsuppressed national tables, the model cache, fingerprints, scratch folders)
lives in the build folder (``build_dir``), outside it. Every path and national
file name the build, the notebooks and the tests use comes from here.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from analysis.core.paths import CACHE_DIR, PROJECT_ROOT


# ---------------------------------------------------------------- state
def build_dir(reports: Path | str) -> Path:
    """The build's private working folder for a reports folder: never inside it.

    It holds what must not be published (the unsuppressed national tables,
    the model cache, fingerprints, scratch folders), so ``REPORTS_DIR`` can
    be copied to a web server as it is. ``BUILD_DIR`` chooses it; by default
    it is ``.cache/build/<hash of the reports folder's absolute path>`` in
    the project, one per reports folder so incremental builds keep working.
    """
    env = os.environ.get("BUILD_DIR")
    if env:
        return Path(env)
    key = hashlib.sha256(str(Path(reports).resolve()).encode()).hexdigest()[:16]
    return PROJECT_ROOT / ".cache" / "build" / key


def private_dir(path: Path) -> Path:
    """Create ``path`` (and missing parents) readable by its owner only (0700)."""
    path.mkdir(parents=True, exist_ok=True)
    for p in (path, path.parent):
        if p.owner() == path.owner():
            os.chmod(p, 0o700)
    return path


def models_dir() -> Path:
    """The driver-model cache: one for the project, shared by every build and notebook.

    The models depend only on the extract and the model code (their cache
    key, ``drivers.cached_national_models``), not on which reports folder is
    built, so they are fitted once per extract, by whichever build or
    standalone notebook first needs them. With ``BUILD_DIR`` set it is that
    folder's ``models/`` (the private place the user chose for the build).
    """
    env = os.environ.get("BUILD_DIR")
    return Path(env) / "models" if env else CACHE_DIR / "models"


@dataclass
class Paths:
    reports: Path
    params: Path

    @property
    def work(self) -> Path:
        return build_dir(self.reports)

    @property
    def models(self) -> Path:
        return models_dir()

    @property
    def national_work(self) -> Path:
        return self.work / "national"

    @property
    def authority_csvs(self) -> Path:
        """Every authority's contract CSVs from the national stage, one folder per slug."""
        return self.national_work / AUTHORITY_CSVS

    @property
    def national(self) -> Path:
        return self.reports / "national"

    @property
    def stamps(self) -> Path:
        return self.work / "stamps"

    @property
    def scratch(self) -> Path:
        return self.work / "scratch"

    @property
    def logs(self) -> Path:
        return self.reports / "logs"

    @property
    def state_file(self) -> Path:
        return self.work / "state.json"


# ---------------------------------------------------------------- the national stage's folder
#: Files the national stage writes beside the national tables (``Paths.national_work``):
#: private (unsuppressed), read by every notebook.
COMPARISONS_CSV = "comparisons.csv"  # the first of the national tables (indicators.TABLE_NAMES)
DRIVERS_FULL_CSV = "drivers_full.csv"
PERFORMANCE_CSV = "performance.csv"
FOCUS_CSV = "focus.csv"
#: Folder of the national stage's folder holding every authority's contract CSVs.
AUTHORITY_CSVS = "authorities"
#: Published national files (``REPORTS_DIR/national``), per interfaces.md.
DRIVERS_CSV = "drivers.csv"
RATES_CSV = "rates.csv"
FUNNELS_CSV = "funnels.csv"
GROUPS_CSV = "groups.csv"
#: Folder under the project cache where standalone notebook runs keep their national stage.
STANDALONE_DIR = CACHE_DIR / "standalone"


def standalone_dir(key: str) -> Path:
    """The national-stage folder of a standalone run (one per extract and code version)."""
    return STANDALONE_DIR / key[:16] / "national"
