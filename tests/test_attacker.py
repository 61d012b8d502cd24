"""The attacker (tests/attacker.py) against every CSV a build publishes.

The build-level variant (rendered briefings included) runs on the fixture in
tests/test_build.py; here the same files come from the national stage and
the CSV writers, which is what they are made by, so each run takes seconds.
The attacker is also shown to work: on outputs with the old, exact
comparators and an unprotected complement it recovers figures.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from attacker import attack, publish_csvs, score, truth

from analysis.core.paths import FIXTURE_DATA, PROJECT_ROOT
from analysis.data.synthetic import generate
from analysis.data.validation import load_valid_extract
from analysis.methods import indicators
from analysis.reports import national as rnat
from analysis.reports.national import rates_markdown, variation_markdown

ROOT = PROJECT_ROOT
FIXTURE = FIXTURE_DATA


def _nothing_recovered(result: dict) -> None:
    assert result["summary"]["pinned"] == 0, result["pins"][:5]
    assert result["summary"]["exposed"] == 0, result["exposures"][:5]
    assert result["summary"]["funnel_leaks"] == 0, result["funnel"][:5]


@pytest.fixture(scope="module")
def fixture_build(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("published")
    tables = publish_csvs(load_valid_extract(FIXTURE), out)
    return out, tables


def test_fixture_outputs_give_nothing_away(fixture_build: tuple[Path, dict]) -> None:
    out, tables = fixture_build
    result = score(out, tables)
    _nothing_recovered(result)
    # It did look: there are withheld figures, and national files to combine them with.
    assert (out / "national" / "rates.csv").is_file() and (out / "national" / "funnels.csv"
                                                          ).is_file()
    frames = [pd.read_csv(p) for p in out.glob("*/indicators.csv")]
    assert sum(int(f["suppressed"].sum()) for f in frames) > 0


def test_five_authority_cut_of_the_demonstration_data(tmp_path: Path) -> None:
    """A small pool: the comparator must not let one authority subtract another."""

    df = generate()
    keep = sorted(df["la_code"].unique())[:5]
    df = df[df["la_code"].isin(keep)].reset_index(drop=True)
    _nothing_recovered(score(tmp_path, publish_csvs(df, tmp_path)))


def test_the_attacker_breaks_exact_comparators(fixture_build: tuple[Path, dict],
                                               tmp_path: Path) -> None:
    """Put back what the old code published (exact others_pct, a 28-of-30): it is caught."""
    src, tables = fixture_build
    import shutil

    leaky = tmp_path / "leaky"
    shutil.copytree(src, leaky)
    comp = tables["comparisons"].set_index(["la_code", "survey_year", "survey", "indicator"])
    for path in leaky.glob("*/indicators.csv"):
        frame = pd.read_csv(path, dtype={"la_code": str})
        key = pd.MultiIndex.from_frame(frame[["la_code", "survey_year", "survey", "indicator"]])
        frame["others_pct"] = np.round(comp["others_pct"].reindex(key).to_numpy(), 1)
        frame.loc[0, ["n", "pct", "suppressed"]] = (30, 93.3, False)
        frame.to_csv(path, index=False)
    (leaky / "national" / "rates.csv").unlink()
    found = attack(leaky)
    assert len(found.pins(truth(tables))) > 0
    assert any(e[2] == "n-k" and e[3] == 2 for e in found.exposures)


def test_a_one_answer_extract_publishes_no_percentages(tmp_path: Path) -> None:
    df = load_valid_extract(FIXTURE)
    df = df[df["survey_year"] == df["survey_year"].max()].head(1)
    tables = publish_csvs(df, tmp_path)
    for path in tmp_path.glob("*/*.csv"):
        frame = pd.read_csv(path)
        for col in ("pct", "others_pct", "national_pct"):
            if col in frame.columns:
                assert frame[col].isna().all(), (path, col)
    _nothing_recovered(score(tmp_path, tables))
    # The national briefing of such an extract prints no 100% / 0% tables on a base of 1.
    indicators.write_national_tables(tables, tmp_path / "work")
    n = rnat.prepare(national_dir=tmp_path / "work", out_dir=tmp_path / "nat")
    text = "\n".join([rnat.cover_markdown(n), rnat.key_messages_markdown(n),
                      rates_markdown(n), variation_markdown(n)])
    assert "%" not in text.replace("[c]", "").split("## How much")[0].replace(
        "whole per cent", ""), text
    assert "about 0 children" not in text and "1 authorities" not in text


@pytest.mark.skipif(not (ROOT / "data" / "synthetic" / "extract.csv").exists(),
                    reason="no demonstration extract (make data)")
def test_demonstration_extract_gives_nothing_away(tmp_path: Path) -> None:
    """The 60-authority demonstration extract, every CSV (about a minute)."""
    df = load_valid_extract(ROOT / "data" / "synthetic" / "extract.csv")
    _nothing_recovered(score(tmp_path, publish_csvs(df, tmp_path)))
