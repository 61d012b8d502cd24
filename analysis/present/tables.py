"""Indicators: every authority against all the others, fitted once, sliced per authority.

Why "fit once, slice many": comparing one authority with the rest needs the
whole extract, and there are dozens of authorities. The national stage
(``national_tables``) therefore runs once per build on the validated extract
and writes plain CSV tables (``write_national_tables``); each authority's
notebook only reads them (``read_national_tables``, cached per process) and
takes its rows (``la_indicators``, ``la_breakdowns``, ``la_change``,
``la_profile``), with disclosure control applied on the way out. Nothing
per-authority touches the raw answers, so a notebook runs in well under a
second and the same numbers appear in every output.

Definitions (codebook-driven; ``analysis.data.codebook``):

* an indicator's **base** ``n`` is everyone in the survey who answered the
  question, less any ``base_excludes`` answers; ``k`` is how many of them
  gave a ``counts`` answer (``Measure.meets``);
* **others** are all *other* authorities' answers in the same survey and
  year, pooled (national total minus this authority), so an authority is
  never compared with itself;
* ``expected_pct`` is the authority's case-mix expectation: the % its
  children would give if they answered like children of the same age and
  gender (and disability, for care leavers) in the other authorities
  (``analysis.methods.fairness``);
* ``flag`` is better/similar/worse: the observed count against that
  expectation, two one-sided tests (exact mid-p for small numbers), with
  the false discovery rate controlled at 5% across every result of the
  authority's briefing (comparisons and changes together), read through the
  indicator's ``direction``;
* ``change`` compares an authority's gap from its expectation with the same
  gap in its previous survey year (a difference in differences: other
  authorities' change over the same years is allowed for; a trend test with
  three or more years), improved/similar/declined, in the same family.

The national tables are internal and unsuppressed: they never leave the
build folder. Everything an authority publishes goes through
``analysis.methods.disclosure``.
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
