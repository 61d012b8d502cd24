"""Readable tables: an authority's rows as a reader sees them.

The methods layer (``analysis.methods.indicators``) hands over numbers; these
turn them into the columns a table in a notebook or a briefing shows
("12%", "[c]", "better than elsewhere"), with codebook labels and the same
words for a result everywhere (``analysis.present.text``).
"""

from __future__ import annotations

import pandas as pd

from analysis.data.codebook import Codebook, load_codebook
from analysis.methods.disclosure import display_table, small_base


def readable_table(rows: pd.DataFrame, codebook: Codebook | None = None) -> pd.DataFrame:
    """``la_indicators`` rows for people: plain labels, ``[c]`` where suppressed.

    Columns: Survey, Indicator, Answers, %, 95% interval, Other authorities %,
    Expected here % (the case-mix expectation, whole percent), General
    population %, Result.
    """

    cb = codebook or load_codebook()
    measures = cb.measures()
    shown = display_table(rows[["n", "pct", "ci_low", "ci_high", "others_pct", "genpop_pct",
                                "suppressed"]], value_columns=["pct", "others_pct",
                                                               "genpop_pct"])
    expected = display_table(rows[["expected_pct", "suppressed"]], value_columns=[
        "expected_pct"], decimals=0)["expected_pct"]
    shown["n"] = display_table(rows[["n", "suppressed"]], value_columns=["n"], decimals=0)["n"]
    interval = [
        "[c]" if s else f"{lo:.1f} to {hi:.1f}"
        for s, lo, hi in zip(rows["suppressed"], rows["ci_low"], rows["ci_high"], strict=True)
    ]
    out = pd.DataFrame({
        "Survey": [cb.surveys[s]["short"].capitalize() for s in rows["survey"]],
        "Indicator": [measures[i].label for i in rows["indicator"]],
        "Answers": shown["n"].to_numpy(),
        "%": shown["pct"].to_numpy(),
        "95% interval": interval,
        "Other authorities %": shown["others_pct"].to_numpy(),
        "Expected here %": expected.to_numpy(),
        "General population %": shown["genpop_pct"].to_numpy(),
        "Result": _result_words(rows),
    })
    return out


def _result_words(rows: pd.DataFrame) -> list[str]:
    """The Result column: the flag in words; for a suppressed row, why in plain words.

    "Too few answers" when the base itself is under ``MIN_BASE``; otherwise
    the row was hidden for a numerator of 1-4 (or, in a change row, for the
    earlier year), which "Too few to report" covers without saying which.
    """
    small = small_base(rows["n"])
    return [str(f).capitalize() if f != "suppressed"
            else ("Too few answers" if tiny else "Too few to report")
            for f, tiny in zip(rows["flag"], small, strict=True)]


def readable_change(rows: pd.DataFrame, codebook: Codebook | None = None) -> pd.DataFrame:
    """``la_change`` rows for people: Survey, Indicator, both years' %, Result."""

    cb = codebook or load_codebook()
    measures = cb.measures()
    shown = display_table(rows[["prev_pct", "pct", "suppressed"]],
                          value_columns=["prev_pct", "pct"])
    return pd.DataFrame({
        "Survey": [cb.surveys[s]["short"].capitalize() for s in rows["survey"]],
        "Indicator": [measures[i].label for i in rows["indicator"]],
        "Earlier year": rows["prev_year"].astype(str).to_numpy(),
        "Earlier %": shown["prev_pct"].to_numpy(),
        "This year %": shown["pct"].to_numpy(),
        "Result": _result_words(rows),
    })


def readable_breakdowns(rows: pd.DataFrame, codebook: Codebook | None = None) -> pd.DataFrame:
    """``la_breakdowns`` rows for people: Survey, Group, Answers, %, other authorities %."""

    cb = codebook or load_codebook()
    shown = display_table(rows[["pct", "others_pct", "suppressed"]],
                          value_columns=["pct", "others_pct"])
    answers = display_table(rows[["n", "suppressed"]], value_columns=["n"], decimals=0)["n"]
    by_label = {"age_band": "Age"}
    return pd.DataFrame({
        "Survey": [cb.surveys[s]["short"].capitalize() for s in rows["survey"]],
        "By": [by_label.get(b) or cb.columns[b].label for b in rows["by"]],
        "Group": rows["group_label"].to_numpy(),
        "Answers": answers.to_numpy(),
        "%": shown["pct"].to_numpy(),
        "Other authorities %": shown["others_pct"].to_numpy(),
    })
