"""Parameter files: derived from the data, hand edits kept, bad files refused."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from analysis.core.errors import ParamsError
from analysis.core.slug import slugify
from analysis.data.codebook import load_codebook
from analysis.data.params import Authority, authorities, ensure_params, resolve_params


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("Kingston upon Hull", "kingston-upon-hull"),
        ("St. Aldwyn & Marsh", "st-aldwyn-marsh"),
        ("Sélby Fen", "selby-fen"),
        ("  --Brackwater-on-Sea!! ", "brackwater-on-sea"),
    ],
)
def test_slugify_follows_interfaces(name: str, slug: str) -> None:
    assert slugify(name) == slug


def test_slugify_refuses_empty() -> None:
    with pytest.raises(ValueError):
        slugify("!!!")


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "la_code": ["E99000001", "E99000001", "E99000002"],
            "la_name": ["Northbridge", "Northbridge", "St. Aldwyn & Marsh"],
            "survey_year": [2024, 2025, 2025],
        }
    )


def test_authorities_from_data() -> None:
    auths = authorities(_frame())
    assert [a.slug for a in auths] == ["northbridge", "st-aldwyn-marsh"]
    assert auths[0].latest_year == 2025 and auths[0].years == (2024, 2025)


def test_ensure_params_writes_missing_and_keeps_hand_edits(tmp_path: Path) -> None:
    auths = authorities(_frame())
    created, updated, orphans = ensure_params(auths, tmp_path)
    assert sorted(p.name for p in created) == ["northbridge.yaml", "st-aldwyn-marsh.yaml"]
    path = tmp_path / "northbridge.yaml"
    data = yaml.safe_load(path.read_text())
    assert data["la_code"] == "E99000001" and data["survey_year"] == 2025
    example = [ln for ln in path.read_text().splitlines() if "cohort_sizes: {" in ln][0]
    assert all(code in path.read_text() for code in load_codebook().surveys)
    example_sizes = yaml.safe_load(example.lstrip("# "))["cohort_sizes"]
    assert set(example_sizes) <= set(load_codebook().surveys)  # the example itself is valid
    # Hand edit: choose the earlier year, add cohort sizes, drop a key.
    data.update(survey_year=2024, cohort_sizes={"ylbc": 120})
    del data["slug"]
    path.write_text(yaml.safe_dump(data))
    (tmp_path / "gone-council.yaml").write_text("la_code: E99000099\n")
    created, updated, orphans = ensure_params(auths, tmp_path)
    assert created == [] and updated == [path]
    assert [p.name for p in orphans] == ["gone-council.yaml"]
    kept = yaml.safe_load(path.read_text())
    assert kept["survey_year"] == 2024 and kept["cohort_sizes"] == {"ylbc": 120}
    assert kept["slug"] == "northbridge"
    assert resolve_params(auths[0], tmp_path)["survey_year"] == 2024


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("survey_year: [2025\n", "cannot read parameter file"),
        ("- just a list\n", "YAML mapping"),
        ("survey_year: 2019\n", "survey_year 2019 has no answers"),
        ("la_code: E99000777\n", "la_code"),
        ("cohort_sizes: {ylbc: -3}\n", "cohort_sizes"),
        ("cohort_sizes: {8-11: 40}\n", "unknown survey code(s) 8-11"),
        ("surveyyear: 2025\n", "unknown key(s) surveyyear"),
        ("we_will: Be kind\n", "we_will must be a list of sentences"),
        ("we_will: ['']\n", "we_will must be a list of sentences"),
        ("we_will: [{a: 1}]\n", "we_will must be a list of sentences"),
    ],
)
def test_bad_parameter_file_gives_clear_error(tmp_path: Path, content: str, message: str) -> None:
    auth = Authority("E99000001", "Northbridge", 2025, (2024, 2025))
    (tmp_path / "northbridge.yaml").write_text(content)
    with pytest.raises(ParamsError) as err:
        resolve_params(auth, tmp_path)
    assert "northbridge.yaml" in str(err.value) and message in str(err.value)
