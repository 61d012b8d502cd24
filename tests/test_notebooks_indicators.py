"""The indicators notebook as the build runs it: precomputed national tables, outputs on disk.

The nbval golden notebooks cover the standalone path (tables computed in the
notebook from the fixture); this covers the build's path, where
``national_dir`` points at the tables the national stage wrote.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from analysis.core.paths import PROJECT_ROOT
from analysis.methods.indicators import OUTPUT_COLUMNS, national_tables, write_national_tables

NOTEBOOK = PROJECT_ROOT / "notebooks" / "indicators.ipynb"


def test_notebook_runs_on_precomputed_tables(tmp_path: Path) -> None:
    papermill = pytest.importorskip("papermill")
    from test_indicators import simulate_extract

    national = tmp_path / "national"
    write_national_tables(national_tables(simulate_extract(n_la=6, mean_n=30, seed=9)), national)
    work = tmp_path / "scratch"
    work.mkdir()
    papermill.execute_notebook(
        str(NOTEBOOK), str(work / "indicators.ipynb"),
        parameters={"la_code": "E99000002", "survey_year": 2025,
                    "national_dir": str(national), "out_dir": ".", "cohort_sizes": {},
                    "charts": True},  # the build leaves charts to the briefing notebook
        cwd=str(work), kernel_name="python3", progress_bar=False,
    )
    for name in ("indicators", "wellbeing"):
        frame = pd.read_csv(work / f"{name}.csv")
        assert tuple(frame.columns) == OUTPUT_COLUMNS
        assert set(frame["la_code"]) == {"E99000002"}
        assert set(frame["survey_year"]) == {2025}
    assert (work / "breakdowns.csv").exists() and (work / "change.csv").exists()
    pngs = sorted(p.name for p in (work / "figures").glob("*.png"))
    assert pngs == ["recovery.png", "relationships.png", "resilience.png", "rights.png",
                    "wellbeing.png"]
    text = (work / "indicators.ipynb").read_text(encoding="utf-8")
    assert "](<figures/relationships.png>){fig-alt=" in text
    assert "image/png" not in text  # charts are files, not embedded
