"""Fixtures shared by the test modules: the committed synthetic fixture and its tables.

Computed once per test session: several modules slice the same national
tables, and validating the fixture and pooling it costs seconds each time.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from analysis.core.paths import FIXTURE_DATA, PROJECT_ROOT
from analysis.data.validation import load_valid_extract
from analysis.methods.indicators import national_tables
from analysis.reports.inputs import national_folder

ROOT = PROJECT_ROOT
#: The small committed synthetic extract (fictional authorities): every golden comes from it.
FIXTURE = FIXTURE_DATA


@pytest.fixture(scope="session")
def fixture_extract() -> pd.DataFrame:
    """The fixture, validated (treat as read-only)."""
    return load_valid_extract(FIXTURE)


@pytest.fixture(scope="session")
def fixture_tables(fixture_extract: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The fixture's national tables (``indicators.national_tables``), without driver models."""
    return national_tables(fixture_extract)


@pytest.fixture(scope="session")
def fixture_national_dir() -> Path:
    """The fixture's whole national stage (tables, drivers, focus) as a standalone run makes it."""

    return national_folder(data=FIXTURE)


def pytest_sessionstart(session: pytest.Session) -> None:
    """Before nbval runs the build-road goldens, make the national folder they read."""
    if session.config.getoption("nbval", default=False):
        import bless_golden

        bless_golden.national_dir()
