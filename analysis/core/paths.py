"""Where the project's own files are: the one owner of project paths.

Everything else derives its folders from these, so moving a folder means
changing one line.
"""

from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
REFERENCE_DIR = PROJECT_ROOT / "data" / "reference"
NOTEBOOKS_DIR = PROJECT_ROOT / "notebooks"
TEMPLATES_DIR = PROJECT_ROOT / "analysis" / "pipeline" / "templates"
CACHE_DIR = PROJECT_ROOT / ".cache"
DEMO_DATA = PROJECT_ROOT / "data" / "synthetic" / "extract.csv"
FIXTURE_DATA = PROJECT_ROOT / "tests" / "fixtures" / "extract.csv"
