"""The director's first two pages: the at-a-glance sections, the spine chart, the layout."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from analysis.core.paths import FIXTURE_DATA, PROJECT_ROOT
from analysis.methods import indicators
from analysis.methods.indicators import answers_by_survey
from analysis.reports import briefing as br
from analysis.reports import glance as gl

ROOT = PROJECT_ROOT
FIXTURE = FIXTURE_DATA
ME = "E99000001"


@pytest.fixture(scope="module")
def tables(fixture_tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    return fixture_tables


@pytest.fixture
def briefing(tables: dict, tmp_path: Path) -> br.Briefing:
    """A briefing built from the fixture's tables without fitting any model."""
    return br.Briefing(
        la_code=ME, la_name="Northbridge", survey_year=2025,
        indicators=indicators.la_indicators(tables, ME, 2025, "indicator"),
        wellbeing=indicators.la_indicators(tables, ME, 2025, "wellbeing"),
        change=indicators.la_change(tables, ME, 2025),
        answers=answers_by_survey(tables, ME, 2025), figures=tmp_path / "figures",
        tables=tables)


def test_at_a_glance_has_the_six_elements_in_order(briefing: br.Briefing) -> None:
    text = gl.at_a_glance_markdown(briefing)
    titles = ["Key messages", 'title="Going well"', 'title="Needs attention"',
              'title="What the children say"', 'title="What to do next"',
              'title="Change since the last survey"', "Every result at once"]
    where = [text.index(t) for t in titles]
    assert where == sorted(where)
    for message in briefing.messages:
        assert message in text
    # worse results are said with the briefing's own sentence
    for sentence in gl.needs_attention(briefing):
        assert sentence in text and "here than in other authorities" in sentence
    assert br.CLOSING_QUESTION in text
    assert "No comments are quoted" in text  # no approved quotes in the fixture


def test_spine_chart_uses_only_published_figures(tables: dict,
                                                 briefing: br.Briefing) -> None:
    rows = gl.spine_rows(tables, briefing)
    assert len(rows) > 20 and (rows["authorities"] >= 3).all()
    comp = tables["comparisons"]
    comp = comp[comp["survey_year"] == 2025]
    shown = comp[comp["known"].astype(bool)]  # figures the authorities' own files show
    for rec in rows.to_dict("records"):
        pub = indicators.round1(shown[(shown["survey"] == rec["survey"])
                                      & (shown["indicator"] == rec["indicator"])]["pct"])
        assert rec["low"] == pytest.approx(pub.min()) and rec["high"] == pytest.approx(pub.max())
        assert rec["low"] <= rec["pct"] <= rec["high"]
    own = briefing.indicators
    hidden = own[own["suppressed"]]
    for rec in hidden.to_dict("records"):  # a withheld result of this authority is not drawn
        assert rows[(rows["survey"] == rec["survey"])
                    & (rows["indicator"] == rec["indicator"])].empty
    md = gl.spine_markdown(tables, briefing)
    assert "fig-alt=" in md and "Spine chart of" in md
    assert (briefing.figures / "spine.png").is_file()


def test_detail_moves_tables_to_the_appendix_and_folds() -> None:
    appendix = gl.Appendix()
    section = ("## Rights\n\nIntro words.\n\n| A | B |\n|:--|--:|\n| x | 1 |\n\n: Rights table"
               "\n\nAfter the table.")
    out = appendix.detail(section, "rights")
    assert out.startswith("## Rights {#rights}")
    assert "| x | 1 |" not in out and "Rights table" not in out
    assert "Intro words." in out and "After the table." in out
    assert '<details class="detail"><summary>Rights: the detail</summary>' in out
    assert out.count("{=html5}") == 2  # HTML only: PDF and Word show the body as it is
    end = appendix.markdown()
    assert "## Appendix: tables {#appendix}" in end and "### Rights" in end
    assert "| x | 1 |" in end and ": Rights table" in end
    shown = gl.Appendix().detail("## Questions\n\n1. Why?", folded=False)
    assert "<details" not in shown and "{#questions}" in shown


def test_contents_links_every_detail_section(briefing: br.Briefing) -> None:
    contents = gl.contents_markdown(briefing)
    for anchor, title in gl.DETAIL_SECTIONS:
        assert f"[{title}](#{anchor})" in contents
    assert "similar-authorities" not in contents  # no neighbours given
