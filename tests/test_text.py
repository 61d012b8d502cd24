"""Plain-English numbers and sentences."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from analysis.present.text import fmt_pct, in_n, sentence, summary_line


@pytest.mark.parametrize(
    ("pct", "words"),
    [
        (0, "none"),
        (100, "all"),
        (98, "almost all"),
        (95, "more than 9 in 10"),
        (2, "fewer than 1 in 30"),
        (50, "half"),
        (48, "about half"),
        (16.7, "1 in 6"),
        (16, "about 1 in 6"),
        (70, "7 in 10"),
        (72, "about 7 in 10"),
        (75, "3 in 4"),
        (25, "1 in 4"),
        (33.3, "1 in 3"),
        (85, "more than 8 in 10"),
        (64, "almost 2 in 3"),
        (10, "1 in 10"),
        (8, "1 in 12"),
    ],
)
def test_in_n(pct: float, words: str) -> None:
    assert in_n(pct) == words


def test_in_n_refuses_nonsense() -> None:
    with pytest.raises(ValueError):
        in_n(120)
    with pytest.raises(ValueError):
        in_n(math.nan)


def test_fmt_pct_rounds_half_up() -> None:
    assert fmt_pct(72.4) == "72%"
    assert fmt_pct(72.5) == "73%"
    assert fmt_pct(None) == "[c]"


ROW = {"indicator": "trust_carers", "survey": "ylyc_11_17", "pct": 70.0, "others_pct": 72.0,
       "flag": "similar", "suppressed": False, "genpop_pct": None}


def test_sentence_matches_the_briefing_style() -> None:
    assert sentence(ROW) == (
        "7 in 10 young people aged 11 to 17 trust the adults they live with all or most "
        "of the time, similar to other authorities (72%)."
    )


def test_sentence_better_worse_and_genpop() -> None:
    row = {**ROW, "indicator": "lonely_often", "survey": "ylbc", "pct": 20.0,
           "others_pct": 12.3, "flag": "worse", "genpop_pct": 10.0}
    assert sentence(row) == (
        "1 in 5 care leavers feel lonely often or always, worse than other authorities "
        "(12%); in the general population the figure is 10%."
    )
    assert "better than other authorities" in sentence({**ROW, "flag": "better"})
    assert sentence({**ROW, "pct": 50.0}).startswith("Half of young people")
    assert "(70%)" in sentence(ROW, show_pct=True)


def test_sentence_for_a_subgroup_statement() -> None:
    row = {**ROW, "indicator": "worries_get_support"}
    assert sentence(row) == (
        "Of young people aged 11 to 17 with worries, 7 in 10 get support with them, "
        "similar to other authorities (72%)."
    )


def test_suppressed_sentence_gives_no_figure() -> None:
    text = sentence({**ROW, "pct": None, "flag": "suppressed", "suppressed": True})
    assert text == ("Fewer than 10 young people aged 11 to 17 answered, too few to report "
                    "whether they trust the adults they live with all or most of the time.")
    assert "%" not in text


def test_suppressed_sentence_with_a_large_base_says_no_more_than_small_numbers() -> None:
    # n = 40 is published, the percentage is not: a small number on one side or the
    # other (or another hidden figure) -- saying which would narrow it.
    text = sentence({**ROW, "n": 40, "pct": None, "flag": "suppressed", "suppressed": True})
    assert text == ("How many young people aged 11 to 17 trust the adults they live with all "
                    "or most of the time is not shown: the numbers are small enough to "
                    "identify children.")
    sub = sentence({**ROW, "indicator": "worries_get_support", "n": 40, "pct": None,
                    "flag": "suppressed", "suppressed": True})
    assert "fewer than 5" not in sub and "not shown" in sub
    assert "%" not in text and "40" not in text
    small = sentence({**ROW, "n": 8, "pct": None, "flag": "suppressed", "suppressed": True})
    assert small.startswith("Fewer than 10 young people aged 11 to 17 answered")


def test_sentence_accepts_a_dataframe_row() -> None:
    frame = pd.DataFrame([ROW])
    assert sentence(frame.iloc[0]) == sentence(ROW)


def test_summary_line() -> None:
    rows = pd.DataFrame({"flag": ["better", "worse", "similar", "suppressed", "better"]})
    assert summary_line("Northbridge", 2025, rows) == (
        "Northbridge 2025: 5 indicators, 2 better, 1 worse, 1 suppressed"
    )
