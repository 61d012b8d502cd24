"""The young people's version: words in, disclosure kept, no percentages, readable."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from analysis.core import escape
from analysis.data.codebook import load_codebook
from analysis.reports import young_people as yp
from analysis.reports.briefing import Briefing

DIRECTION = {m.id: m.direction for m in load_codebook().measures().values()}


def rows(*specs: tuple[str, str, float | None, int, str]) -> pd.DataFrame:
    """(survey, indicator, pct, n, flag) rows in la_indicators' shape; pct None = suppressed."""
    out = []
    for survey, indicator, pct, n, flag in specs:
        out.append({"survey": survey, "indicator": indicator, "n": n, "pct": pct,
                    "others_pct": None if pct is None else 60.0,
                    "flag": "suppressed" if pct is None else flag,
                    "suppressed": pct is None, "direction": DIRECTION[indicator]})
    return pd.DataFrame(out)


def planted_briefing(folder: Path) -> Briefing:
    """A briefing with known results: some good, some to improve, one suppressed."""
    ind = rows(
        ("ylyc_8_11", "trust_carers", 88.0, 40, "similar"),
        ("ylyc_8_11", "good_friend", 81.0, 40, "better"),
        ("ylyc_11_17", "like_school", None, 8, "suppressed"),  # withheld: never described
        ("ylyc_11_17", "afraid_bullying", 12.0, 60, "similar"),  # lower is better: 88% not afraid
        ("ylyc_11_17", "know_worker", 45.0, 60, "worse"),
        ("ylbc", "eet", 35.0, 30, "similar"),
    )
    wb = rows(("ylyc_11_17", "low_overall_wellbeing", 22.0, 60, "similar"),
              ("ylyc_8_11", "low_overall_wellbeing", None, 9, "suppressed"))
    answers = pd.DataFrame({"survey": ["ylyc_8_11", "ylyc_11_17", "ylbc", "total"],
                            "answers": pd.array([40, 60, 30, 130], dtype="Int64")})
    return Briefing(la_code="E99000001", la_name="Northbridge", survey_year=2025,
                    indicators=ind, wellbeing=wb, change=pd.DataFrame(), answers=answers,
                    figures=folder / "figures")


@pytest.fixture
def planted(tmp_path: Path) -> tuple[Briefing, str]:
    b = planted_briefing(tmp_path)
    return b, "\n\n".join(yp.document_markdown(b, ["See you <b>more</b> *often*."]))


def test_amount_never_gives_a_percentage() -> None:
    for share in [0, 0.5, 3, 14.9, 15, 27, 39.9, 40, 50, 59.9, 60, 64, 66, 72, 89, 94.9, 95,
                  99.6, 100]:
        words = yp.amount(share)
        assert "%" not in words and "per cent" not in words
        assert not re.search(r"\d+\.\d", words)
    assert yp.amount(72) == "Most of you (about 7 out of 10)"
    assert yp.amount(50) == "About half of you"
    assert yp.amount(0) == "None of you" and yp.amount(100) == "All of you"
    assert yp.amount(8) == "A few of you"
    with pytest.raises(ValueError):
        yp.amount(float("nan"))


def test_faces_agree_with_the_words() -> None:
    for share in range(0, 101):
        words = yp.amount(share)
        said = re.search(r"about (\d+) out of 10", words)
        if said:
            assert yp.tenths(share) == int(said.group(1)), share
    assert yp.tenths(100) == 10 and yp.tenths(0) == 0


def test_positives_first_then_what_to_improve(planted: tuple[Briefing, str]) -> None:
    _, text = planted
    good = text.index("## Good things you told us")
    feel = text.index("## How you feel about your life")
    better = text.index("## Things that need to get better")
    nxt = text.index("## What happens next")
    assert good < feel < better < nxt
    section = text[good:feel]
    assert "have a really good friend" in section  # flagged better: listed first
    assert section.index("good friend") < section.index("trust the grown-ups")
    assert "are not scared to go to school because of bullies" in section  # 100 - 12 = 88
    worse = text[better:nxt]
    assert "know who your social worker is" in worse and "fewer than in other places" in worse
    assert "About half of you aged 11 to 17 know who your social worker is." in worse


def test_suppressed_figures_are_never_described(planted: tuple[Briefing, str]) -> None:
    b, text = planted
    assert "like school" not in text  # the suppressed row, in any words
    assert "aged 8 to 11 feel OK" not in text  # suppressed well-being row
    assert "aged 11 to 17 (about 8 out of 10) feel OK or good" in text
    assert "%" not in text
    # every amount said is a published row's
    published_ids = set(b.indicators.loc[~b.indicators["suppressed"], "indicator"])
    said = {f.indicator for f in yp.good_things(b.indicators) + yp.to_get_better(b.indicators)}
    assert said <= published_ids


def test_picture_has_alt_text_saying_what_it_shows(planted: tuple[Briefing, str]) -> None:
    b, text = planted
    image = re.search(r'!\[[^\]]+\]\(<?([^)>]+)>?\)\{fig-alt="([^"]+)"\}', text)
    assert image, text
    assert Path(image.group(1)).is_file()
    assert "Aged 11 to 17: 8 of 10 faces are smiling." in image.group(2)


def test_promises_shown_as_written_or_a_placeholder(planted: tuple[Briefing, str]) -> None:
    _, text = planted

    assert escape.markdown("See you <b>more</b> *often*.") in text  # shown as written
    empty = yp.promises_markdown([])
    assert "Coming soon" in empty and "callout" in empty
    assert yp.promises_markdown(None) == empty


def test_reads_at_a_nine_year_olds_level(planted: tuple[Briefing, str]) -> None:
    _, text = planted
    score = yp.readability(text)
    assert score["flesch_kincaid_grade"] <= yp.MAX_GRADE, score
    assert score["flesch_reading_ease"] >= 80, score
    # the measure can fail: the director's briefing does not pass it
    hard = ("Of 31 results that could be compared with other authorities, 4 were better, "
            "2 worse and the rest similar; associations, not causes, after allowing for "
            "age, gender and placement, with cross-validated performance.")
    assert yp.readability(hard)["flesch_kincaid_grade"] > yp.MAX_GRADE
