"""The words of an authority's strategic briefing, generated from its results.

Why this module: a director of children's services has ten minutes. The
briefing must say, in plain English, what children say is going well, what
is not, and what to do next. Every sentence here is *generated from the
results* (never hand-written per authority), so the same rule says the same
thing everywhere and a test can plant a result and check the sentence.

Rules the functions keep:

* only this authority's rows are used, after disclosure control
  (``analysis.methods.indicators.la_*``): a base under 10, or 1-4 children giving
  the answer, shows ``[c]``, never a percentage; no other authority is ever
  named (the only place names appear is the practice bank, which holds real
  published examples);
* numbers are said as people say them ("about 1 in 6", ``analysis.present.text``)
  with the exact percentage beside the comparison;
* national drivers are *associated with* well-being; nothing here says
  "causes";
* the notebook (``notebooks/briefing.ipynb``) only calls these functions and
  displays the Markdown they return, so it stays short and fast (the national
  tables are read once per process; no model is fitted per authority).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis.core import escape
from analysis.core.files import write_csv_atomic
from analysis.core.slug import authority_slug
from analysis.data.codebook import load_codebook
from analysis.data.copy import briefing_copy
from analysis.methods import comparators as cmp
from analysis.methods import indicators
from analysis.methods.comments import allocate_quotes, read_quotes_file
from analysis.methods.comparators import MIN_MEMBERS
from analysis.methods.disclosure import MIN_BASE, SUPPRESSION_RULE_TEXT, display_table
from analysis.methods.focus import practice_examples
from analysis.methods.indicators import csv_ready, first_authority
from analysis.present.charts import alt_text, figure_markdown, la_vs_others_chart
from analysis.present.markdown import callout, pipe_table, quote_markdown, show
from analysis.present.text import (
    LOW_RESPONSE,
    _count_word,
    _groups,
    age_words,
    cap,
    chance_sentence,
    comparison_sentence,
    disclosure_sentence,
    effect_phrase,
    fmt_pct,
    focus_words,
    infinitive,
    is_missing,
    low_response_text,
    performance_sentence,
    pooled_phrase,
    power_sentence,
    summary_sentence,
    wellbeing_sentence,
    who,
)
from analysis.reports import inputs

IN_CARE = ("ylyc_4_7", "ylyc_8_11", "ylyc_11_17")
LEAVERS = "ylbc"
DOMAINS = ("relationships", "rights", "resilience", "recovery")
MAX_MESSAGES = 6
MIN_MESSAGES = 3
GOING_WELL = "Going well"
#: Practice examples shown per focus area (the rest are in focus.csv).
MAX_EXAMPLES_SHOWN = 2
TO_IMPROVE = "To improve"

#: The fixed copy (data/reference/briefing_copy.yaml).
COPY = briefing_copy()
DOMAIN_INTRO = COPY.domain_intro

#: Well-being measures shown in the well-being section, in order.
WELLBEING_MEASURES = (
    "low_overall_wellbeing", "low_life_satisfaction", "low_worthwhile", "high_anxiety",
)

QUESTIONS = COPY.questions
CLOSING_QUESTION = COPY.closing_question
NO_WORSE_QUESTION = COPY.no_worse_question


def show_comparators(b: Briefing, out_dir: str | Path | None,
                     wrap: Callable[[str, str], str] | None = None) -> None:
    """The neighbours-and-region section, and its figures as ``comparators.csv``.

    Shows nothing when the parameter file gives neither neighbours nor a region
    with other authorities in it (every figure shown is also written as CSV).
    """

    text = comparators_markdown(b)
    if out_dir is not None and b.comparators is not None and not b.comparators.empty:
        write_csv_atomic(csv_ready(b.comparators), Path(out_dir) / "comparators.csv", "%.1f")
    if text:
        show(wrap(text, "similar-authorities") if wrap else text)


# ---------------------------------------------------------------- phrasing


# ---------------------------------------------------------------- selection
def published(rows: pd.DataFrame) -> pd.DataFrame:
    """Rows with a figure that may be shown (not suppressed, percentage present)."""
    if rows.empty:
        return rows
    ok = ~rows["suppressed"].astype(bool) & rows["pct"].notna()
    return rows[ok]


def _gap(rows: pd.DataFrame) -> pd.Series:
    """Size of the difference the flag is about: from the case-mix expectation if there is one."""
    ref = rows["others_pct"].astype(float)
    if "expected_pct" in rows.columns:
        ref = rows["expected_pct"].astype(float).fillna(ref)
    return (rows["pct"].astype(float) - ref).abs()


def ranked(rows: pd.DataFrame, flag: str) -> pd.DataFrame:
    """Published rows with ``flag``, largest difference from other authorities first."""
    sel = published(rows)
    sel = sel[(sel["flag"] == flag) & sel["others_pct"].notna()]
    if sel.empty:
        return sel
    return sel.assign(_gap=_gap(sel)).sort_values(
        ["_gap", "n"], ascending=[False, False], kind="stable").drop(columns="_gap")


def _find(rows: pd.DataFrame, survey: str, indicator: str) -> dict[str, Any] | None:
    sel = published(rows)
    sel = sel[(sel["survey"] == survey) & (sel["indicator"] == indicator)]
    return None if sel.empty else sel.iloc[0].to_dict()


def _wellbeing_row(wellbeing: pd.DataFrame, surveys: Sequence[str]) -> dict[str, Any] | None:
    """The low-overall-well-being row to headline for a group of surveys.

    A worse result first (leaders must see it), then a better one, then the
    oldest age group (whose scale is the fullest), then any with a figure.
    """
    sel = published(wellbeing)
    sel = sel[(sel["indicator"] == "low_overall_wellbeing") & sel["survey"].isin(surveys)]
    if sel.empty:
        return None
    for flag in ("worse", "better"):
        hit = sel[sel["flag"] == flag]
        if not hit.empty:
            return hit.iloc[0].to_dict()
    order = {s: i for i, s in enumerate(reversed(list(surveys)))}
    return sel.assign(_o=sel["survey"].map(order)).sort_values("_o").iloc[0].to_dict()


# ---------------------------------------------------------------- key messages
def key_messages(indicators: pd.DataFrame, wellbeing: pd.DataFrame) -> list[str]:
    """Three to six sentences a leader should remember, generated from the results.

    In order: how many comparisons were better / worse; well-being of
    children in care and of care leavers against other authorities (and the
    general population where a figure exists); the biggest bright spots
    (flagged better); the biggest areas for improvement (flagged worse).
    When nothing is flagged, a sentence says so rather than inventing a
    highlight. Areas for improvement outrank bright spots when space is short.
    """
    # The summary counts what the briefing shows: every indicator and the
    # well-being measures of the well-being section (not every band).
    shown = wellbeing[wellbeing["indicator"].isin(WELLBEING_MEASURES)]
    pub = published(pd.concat([indicators, shown], ignore_index=True))
    comparable = pub[pub["others_pct"].notna()]
    n_better = int((comparable["flag"] == "better").sum())
    n_worse = int((comparable["flag"] == "worse").sum())
    total = len(comparable)
    if total == 0:
        summary = ("Too few children answered for any result to be compared with other "
                   "authorities this year.")
    else:
        summary = (
            f"Of {total} results that could be compared with other authorities, "
            f"{_count_word(n_better)} {'was' if n_better == 1 else 'were'} better, "
            f"{_count_word(n_worse)} worse and the rest similar, allowing for the age and "
            f"gender of the children. {chance_sentence(pub)}"
        )
    care_wb = _wellbeing_row(wellbeing, IN_CARE)
    leaver_wb = _wellbeing_row(wellbeing, (LEAVERS,))
    wb_care = wellbeing_sentence(care_wb) if care_wb else None
    wb_leavers = None
    if leaver_wb:
        extra = _find(wellbeing, LEAVERS, "low_life_satisfaction")
        wb_leavers = wellbeing_sentence(leaver_wb, extra)
    # Well-being has its own sentences; bright spots and improvements name the
    # indicators, which are what services can change.
    better = [comparison_sentence(r, GOING_WELL)
              for r in ranked(indicators, "better").to_dict("records")]
    worse = [comparison_sentence(r, TO_IMPROVE)
             for r in ranked(indicators, "worse").to_dict("records")]
    if not better:
        better = ["No result was clearly better than in other authorities this year."]
    if not worse:
        worse = ["No result was clearly worse than in other authorities this year."]
    # Priority when space is short: summary, well-being, first worse, first better, more.
    slots: list[tuple[int, str]] = [(0, summary)]
    for order, text in ((1, wb_care), (2, wb_leavers)):
        if text:
            slots.append((order, text))
    slots.append((4, worse[0]))
    slots.append((3, better[0]))
    extras = [(4, worse[1]) if len(worse) > 1 else None,
              (3, better[1]) if len(better) > 1 else None]
    for extra in extras:
        if extra and len(slots) < MAX_MESSAGES:
            slots.append(extra)
    slots = slots[:MAX_MESSAGES]
    indexed = sorted(enumerate(slots), key=lambda t: (t[1][0], t[0]))
    return [text for _, (_, text) in indexed]


def key_messages_markdown(messages: Sequence[str]) -> str:
    """The key messages as a bulleted list under a heading."""
    return "## Key messages\n\n" + "\n".join(f"- {m}" for m in messages)


# ---------------------------------------------------------------- reflection
def reflection_questions(
    indicators: pd.DataFrame, wellbeing: pd.DataFrame, max_questions: int = 5
) -> list[str]:
    """Questions for leaders, each following from a result that is worse than elsewhere.

    Each worse indicator (largest gaps first; one question per indicator even
    when several age groups share it) gives an observation and a question,
    e.g. "Children aged 8 to 11 here are less likely than in other
    authorities to know who their social worker or personal adviser is. What
    would help every child know who their worker is?". With no worse result
    a question asks what to improve next. The last question always asks how
    children will hear what changed.
    """
    # Indicators first (services can act on them), then low overall well-being;
    # the other well-being bands would repeat the same point.
    wb = wellbeing[wellbeing["indicator"] == "low_overall_wellbeing"]
    worse = pd.concat([ranked(indicators, "worse"), ranked(wb, "worse")], ignore_index=True)
    out: list[str] = []
    seen: list[str] = []
    for mid in worse["indicator"]:
        if mid in seen:
            continue
        seen.append(mid)
    for mid in seen[: max_questions - 1]:
        sel = worse[worse["indicator"] == mid]
        surveys = [s for s in load_codebook().surveys if s in set(sel["survey"])]
        direction = load_codebook().measure(mid).direction
        likely = "less" if direction == "higher_is_better" else "more"
        group = _groups(surveys)
        if mid == "worries_get_support":
            group = f"{group} with worries"
        observation = (f"{cap(group)} here are {likely} likely than in other authorities "
                       f"to {infinitive(mid)}.")
        question = QUESTIONS.get(mid, COPY.default_question)
        out.append(f"{observation} {question}")
    if not out:
        out.append(NO_WORSE_QUESTION)
    out.append(CLOSING_QUESTION)
    return out


# ---------------------------------------------------------------- tables
def _flag_word(flag: Any) -> str:
    return {"better": "Better", "worse": "Worse", "similar": "Similar",
            "suppressed": "[c]"}.get(str(flag), "[x]")


def indicator_table(rows: pd.DataFrame, with_genpop: bool = False,
                    with_who: bool = True) -> pd.DataFrame:
    """A readable table of ``la_indicators`` rows, with [c] for suppressed cells."""

    cb = load_codebook()
    has_expected = "expected_pct" in rows.columns
    cols = (["n", "pct", "others_pct"] + (["expected_pct"] if has_expected else [])
            + (["genpop_pct"] if with_genpop else []))
    shown = display_table(rows[[*cols, "suppressed"]].reset_index(drop=True),
                          value_columns=cols, decimals=0)
    for c in ("pct", "others_pct", "expected_pct"):
        if c in shown.columns:
            shown[c] = [v if v.startswith("[") else f"{v}%" for v in shown[c]]
    out = pd.DataFrame({"Measure": [cb.measure(m).label for m in rows["indicator"]]})
    if with_who:
        out["Who"] = [cap(who(s)) for s in rows["survey"]]
    out["Here"] = shown["pct"].to_numpy()
    out["All authorities"] = shown["others_pct"].to_numpy()
    if has_expected:
        out["Expected here"] = shown["expected_pct"].to_numpy()
    if with_genpop:
        out["General population"] = [
            v if v.startswith("[") else f"{v}%" for v in shown["genpop_pct"]]
    out["Compared with others"] = [_flag_word(f) for f in rows["flag"]]
    out["Answers"] = shown["n"].to_numpy()
    return out



# ---------------------------------------------------------------- context
@dataclass
class Briefing:
    """Everything one authority's briefing shows, already through disclosure control."""

    la_code: str
    la_name: str
    survey_year: int
    indicators: pd.DataFrame
    wellbeing: pd.DataFrame
    change: pd.DataFrame
    answers: pd.DataFrame  # survey, answers (Int64, <NA> = suppressed)
    cohort_sizes: dict[str, int] = field(default_factory=dict)
    drivers: pd.DataFrame | None = None
    performance: pd.DataFrame | None = None
    focus: pd.DataFrame | None = None
    provenance: dict[str, str] = field(default_factory=dict)
    figures: Path = Path("figures")
    by_gender: pd.DataFrame | None = None  # la_breakdowns rows: low overall well-being
    region: str = ""
    neighbours: list[str] = field(default_factory=list)
    region_codes: list[str] = field(default_factory=list)  # the region's other authorities
    comparators: pd.DataFrame | None = None  # analysis.methods.comparators: neighbours and region
    #: The national comparison tables (internal, unsuppressed): only for the spine chart,
    #: which reads every authority's *published* figures from them (``analysis.reports.glance``).
    tables: Mapping[str, pd.DataFrame] | None = field(default=None, repr=False)
    power: pd.DataFrame | None = None  # indicators.POWER_COLUMNS rows of this authority-year
    #: Approved, redacted quotes (analysis.methods.comments) and comments per theme (>= 10 only).
    quotes: list[Any] = field(default_factory=list)
    theme_counts: dict[str, int] = field(default_factory=dict)

    @property
    def slug(self) -> str:
        return authority_slug(self.la_name, self.la_code)

    @property
    def surveys(self) -> list[str]:
        """Surveys this authority has answers for in the briefing year."""
        present = set(self.indicators["survey"]) | set(self.wellbeing["survey"])
        return [s for s in load_codebook().surveys if s in present]

    @property
    def messages(self) -> list[str]:
        return key_messages(self.indicators, self.wellbeing)

    @property
    def questions(self) -> list[str]:
        return reflection_questions(self.indicators, self.wellbeing)


def prepare(
    la_code: str | None = None,
    survey_year: int | None = None,
    cohort_sizes: Mapping[str, int] | None = None,
    national_dir: str | Path | None = None,
    data: str | Path | None = None,
    reports_dir: str | Path | None = None,
    out_dir: str | Path | None = ".",
    data_hash: str = "",
    code_version: str = "",
    build_date: str = "",
    neighbours: Sequence[str] | None = None,
    region: str = "",
    region_codes: Sequence[str] | None = None,
    quotes_file: str | Path | None = None,
) -> Briefing:
    """Gather one authority's published figures for its briefing.

    With ``national_dir`` (the build) the precomputed national tables are
    read (once per process); without it (JupyterLab, tests) they are
    computed from ``data``, so the notebook runs on its own with defaults.
    ``la_code`` None means the first authority of the data. ``quotes_file``
    holds the approved quotes the build chose (none without it).
    """

    folder = inputs.national_folder(national_dir, data)
    tables = indicators.read_national_tables(folder)
    extras = inputs.national_extras(folder)
    code = la_code or first_authority(tables)
    year = indicators.briefing_year(tables, code, survey_year)
    focus = extras.get("focus")
    if focus is not None and not focus.empty and "la_code" in focus.columns:
        focus = focus[focus["la_code"].astype(str) == code]
        if "survey_year" in focus.columns:
            focus = focus[focus["survey_year"].astype(int) == year]
    data_hash = inputs.data_fingerprint(national_dir, data, data_hash)
    la_ind = indicators.la_indicators(tables, code, year, "indicator", extra=True)
    la_wb = indicators.la_indicators(tables, code, year, "wellbeing", extra=True)
    comparators = None
    if neighbours or region_codes:
        comparators = cmp.comparisons(tables, la_ind, la_wb, code, year,
                                      list(neighbours or []), list(region_codes or []))
    name = indicators.la_name(tables, code)
    return Briefing(
        la_code=code,
        la_name=name,
        survey_year=year,
        indicators=la_ind,
        wellbeing=la_wb,
        change=indicators.la_change(tables, code, year, extra=True),
        answers=indicators.answers_by_survey(tables, code, year),
        cohort_sizes={str(k): int(v) for k, v in (cohort_sizes or {}).items()},
        drivers=extras.get("drivers"),
        performance=extras.get("performance"),
        focus=focus_words(focus),
        provenance={
            "data_hash": data_hash or "not recorded",
            "code_version": code_version or "not recorded (not built by make reports)",
            "build_date": build_date or "not recorded (not built by make reports)",
        },
        figures=inputs.figures_folder(out_dir, authority_slug(name, code)),
        by_gender=_wellbeing_by_gender(tables, code, year),
        region=region or "",
        neighbours=list(neighbours or []),
        region_codes=list(region_codes or []),
        comparators=comparators,
        tables=tables,
        power=indicators.la_power(tables, code, year),
        quotes=read_quotes_file(quotes_file)[0],
        theme_counts=read_quotes_file(quotes_file)[1],
    )


def _wellbeing_by_gender(tables: Mapping[str, pd.DataFrame], la_code: str,
                         year: int) -> pd.DataFrame | None:
    """Low overall well-being of girls and boys (disclosure-applied breakdowns)."""

    if "breakdowns" not in tables:
        return None
    rows = indicators.la_breakdowns(dict(tables), la_code, year, by="gender", kind="wellbeing")
    return rows[(rows["indicator"] == "low_overall_wellbeing")
                & rows["group"].isin(["girl", "boy"])]


# ---------------------------------------------------------------- sections
def cover_markdown(b: Briefing) -> str:
    """Who answered: the authority, the year, answers per survey (and response rates)."""
    cb = load_codebook()
    lines = [
        f"**{escape.markdown(b.la_name)}**, surveys of {b.survey_year}.",
        "",
        "This briefing sets out what children in care and care leavers here told the "
        "Bright Spots surveys, compared with children in care in other authorities and, "
        "where a figure exists, with children of the same age in general. The key "
        "messages come first; each section then gives the detail.",
    ]
    rows = []
    low: list[str] = []
    over: list[str] = []
    for rec in b.answers.to_dict("records"):
        survey = str(rec["survey"])
        count = rec["answers"]
        shown = "[c]" if is_missing(count) else str(int(count))
        row = {"Survey": "All surveys" if survey == "total" else cb.surveys[survey]["name"],
               "Answers": shown}
        if b.cohort_sizes:
            size = b.cohort_sizes.get(survey) if survey != "total" else (
                sum(b.cohort_sizes.values()) if set(b.cohort_sizes) >= set(
                    s for s in b.answers["survey"] if s != "total") else None)
            if size and not is_missing(count):
                rate = 100 * int(count) / size
                row["Response rate"] = f"{fmt_pct(rate)} of {size}" + (
                    " (low)" if rate < LOW_RESPONSE else "")
                if rate < LOW_RESPONSE and survey != "total":
                    low.append(cb.surveys[survey]["name"])
                if rate > 100:
                    over.append(cb.surveys[survey]["name"] if survey != "total" else "all")
            else:
                row["Response rate"] = "[c]" if size and is_missing(count) else "[x]"
        rows.append(row)
    table = pipe_table(pd.DataFrame(rows), "Questionnaires returned in this authority",
                       right=("Answers", "Response rate"))
    note = ("\n\n[c] = fewer than five answers, or a number that would let one be worked "
            "out, not shown to protect children's privacy."
            if (b.answers["answers"].isna()).any() else "")
    if b.cohort_sizes:
        note += ("\n\nResponse rate = answers as a share of the children eligible to take "
                 "part (numbers supplied by the authority); [x] = not supplied.")
    if low:
        note += "\n\n" + callout("warning", "Low response", low_response_text(low))
    if over:
        note += ("\n\nMore questionnaires were returned than the number of eligible children "
                 f"given for {', '.join(over)}: check `cohort_sizes` in the parameter file.")
    power = power_sentence(b.power)
    if power:
        note += "\n\n" + power
    return "\n".join(lines) + "\n\n" + table + note


def wellbeing_markdown(b: Briefing) -> str:
    """Well-being by age group against other authorities and the general population."""
    rows = b.wellbeing[b.wellbeing["indicator"].isin(WELLBEING_MEASURES)]
    order = {m: i for i, m in enumerate(WELLBEING_MEASURES)}
    surveys = {s: i for i, s in enumerate(load_codebook().surveys)}
    rows = rows.assign(_m=rows["indicator"].map(order), _s=rows["survey"].map(surveys)
                       ).sort_values(["_m", "_s"]).drop(columns=["_m", "_s"])
    text = ["## Well-being",
            "",
            "Children rated their own lives: how satisfied they are, how happy they felt "
            "yesterday, whether what they do is worthwhile and how they feel about the "
            "future (the youngest chose from faces). *Low overall well-being* means an "
            "average below 5 out of 10. Lower is better for every measure here."]
    headline = [wellbeing_sentence(r) for r in published(
        rows[rows["indicator"] == "low_overall_wellbeing"]).to_dict("records")]
    if headline:
        text += ["", *[f"- {h}" for h in headline]]
    chart_rows = rows[rows["indicator"] == "low_overall_wellbeing"]
    text += ["", chart_markdown(b, chart_rows, None, "wellbeing",
                                "Low overall well-being by age group",
                                f"Low overall well-being in {b.la_name} by age group, "
                                "against other authorities (lower is better)")]
    table = indicator_table(rows, with_genpop=True)
    text += ["", pipe_table(table, "Well-being measures by age group ([x] = no "
                            "general-population figure)",
                            right=("Here", "All authorities", "Expected here",
                                   "General population", "Answers"))]
    gender = gender_table(b.by_gender)
    if gender is not None:
        text += ["", "Published research finds girls in care more likely than boys to have "
                 "low well-being. Here:", "",
                 pipe_table(gender, "Low overall well-being of girls and boys ([c] = "
                            f"{SUPPRESSION_RULE_TEXT})",
                            right=[c for c in gender.columns if c != "Who"])]
    return "\n".join(text)


def gender_table(rows: pd.DataFrame | None) -> pd.DataFrame | None:
    """Girls and boys side by side, here and in other authorities ([c] when suppressed)."""
    if rows is None or rows.empty:
        return None
    out = []
    for survey in [s for s in load_codebook().surveys if s in set(rows["survey"])]:
        sel = rows[rows["survey"] == survey].set_index("group")
        if sel["suppressed"].astype(bool).all():
            continue
        rec = {"Who": cap(who(survey))}
        for group, word in (("girl", "Girls"), ("boy", "Boys")):
            hit = sel.loc[group] if group in sel.index else None
            ok = hit is not None and not bool(hit["suppressed"]) and not is_missing(hit["pct"])
            rec[f"{word} here"] = fmt_pct(hit["pct"]) if ok else "[c]"
            rec[f"{word}, all authorities"] = (fmt_pct(hit["others_pct"])
                                       if ok and not is_missing(hit["others_pct"]) else "[c]")
        out.append(rec)
    return pd.DataFrame(out) if out else None


def chart_markdown(b: Briefing, rows: pd.DataFrame, domain: str | None, name: str,
                   title: str, caption: str) -> str:
    """Draw one LA-against-others chart and return its Markdown (with alt text)."""

    fig = la_vs_others_chart(rows, domain, title)
    alt = alt_text(rows, domain, b.la_name)
    return figure_markdown(fig, b.figures, name, caption, alt)


def domain_markdown(b: Briefing, domain: str) -> str:
    """One domain for children in care: chart, a summary sentence, and a short table."""
    cb = load_codebook()
    label = cb.domains[domain]
    rows = b.indicators[(b.indicators["domain"] == domain)
                        & b.indicators["survey"].isin(IN_CARE)]
    text = [f"## {label}", "", DOMAIN_INTRO[domain]]
    if rows.empty:
        return "\n".join([*text, "", "No children in care answered these questions this year."])
    text += ["", _domain_summary(rows)]
    text += ["", chart_markdown(b, rows, domain, domain, f"{label}: children in care",
                                f"{label}: {b.la_name} against other authorities")]
    text += ["", pipe_table(indicator_table(rows), f"{label}: children in care",
                            right=("Here", "All authorities", "Expected here", "Answers"))]
    text += _quotes_block(b, domain)
    return "\n".join(text)




def _domain_summary(rows: pd.DataFrame) -> str:
    """'Better than other authorities: know their worker (ages 8 to 11 and 11 to 17).'"""
    better = ranked(rows, "better")
    worse = ranked(rows, "worse")
    cb = load_codebook()

    def listing(sel: pd.DataFrame) -> str:
        items = []
        for mid in dict.fromkeys(sel["indicator"]):
            surveys = [s for s in cb.surveys if s in set(sel.loc[sel["indicator"] == mid,
                                                                 "survey"])]
            ages = [age_words(s) for s in surveys]
            joined = ages[0] if len(ages) == 1 else ", ".join(ages[:-1]) + " and " + ages[-1]
            items.append(f"{cb.measure(mid).label.lower()} (ages {joined})")
        return "; ".join(items)

    parts = []
    if not better.empty:
        parts.append(f"Better than other authorities: {listing(better)}.")
    if not worse.empty:
        parts.append(f"Worse than other authorities: {listing(worse)}.")
    if not parts:
        parts.append("Every result with enough answers was similar to other authorities.")
    return " ".join(parts)


def leavers_markdown(b: Briefing) -> str:
    """Care leavers: their indicators across the domains and their well-being."""
    ind = b.indicators[b.indicators["survey"] == LEAVERS]
    wb = b.wellbeing[(b.wellbeing["survey"] == LEAVERS)
                     & b.wellbeing["indicator"].isin(WELLBEING_MEASURES)]
    text = ["## Care leavers", ""]
    if ind.empty and wb.empty:
        return "\n".join([*text, "No care leavers answered the survey this year."])
    text.append("Young people aged 16 to 25 who have left care answered *Your Life Beyond "
                "Care*. Their answers are compared with care leavers in other authorities "
                "and, where a figure exists, with young people of the same age in general.")
    both = pd.concat([ind, wb], ignore_index=True)
    # The three largest differences each way; the table has every measure.
    sentences = [comparison_sentence(r, GOING_WELL)
                 for r in ranked(ind, "better").head(3).to_dict("records")]
    sentences += [comparison_sentence(r, TO_IMPROVE)
                  for r in ranked(ind, "worse").head(3).to_dict("records")]
    if sentences:
        text += ["", *[f"- {s}" for s in sentences]]
    else:
        text += ["", "Every result with enough answers was similar to other authorities."]
    table = indicator_table(both, with_genpop=True, with_who=False)
    table.insert(1, "Area", [load_codebook().domains.get(d, d) for d in both["domain"]])
    text += ["", pipe_table(table, "Care leavers: all measures",
                            right=("Here", "All authorities", "Expected here",
                                   "General population", "Answers"))]
    text += _quotes_block(b, "leavers")
    return "\n".join(text)


# ---------------------------------------------------------------- children's own words
def _quotes_block(b: Briefing, section: str) -> list[str]:
    """Approved quotes for one section (none unless a researcher approved some)."""

    if not b.quotes:
        return []
    chosen = allocate_quotes(b.quotes, IN_CARE, LEAVERS).get(section, [])
    out: list[str] = []
    for q in chosen:
        out += ["", quote_markdown(q)]
    return out


def own_words_markdown(b: Briefing) -> str:
    """'In their own words': how many comments per theme (10 or more), and approved quotes.

    Only comments a researcher approved, not flagged for safeguarding, in
    their redacted form, attributed to a survey group only
    (:mod:`analysis.methods.comments`). Without approvals no comment's words appear.
    """
    cb = load_codebook()
    text = ["## In their own words", ""]
    if b.theme_counts:
        parts = [f"{cb.domains.get(t, 'other things')} ({n})" if t in cb.domains
                 else f"other things ({n})"
                 for t, n in sorted(b.theme_counts.items(), key=lambda kv: (-kv[1], kv[0]))]
        text.append("Children and young people here also wrote to us in their own words. "
                    "Comments by theme, where 10 or more: " + ", ".join(parts) + ".")
        text.append("")
    if not b.quotes:
        text.append("No comments are quoted: children's words are quoted only once a "
                    "researcher has read them, removed anything that could identify a child, "
                    "and approved them.")
        return "\n".join(text)
    text.append("What children and young people wrote, with names and other personal details "
                "removed. Quotes beside each section above speak to that section.")
    text += _quotes_block(b, "own_words")
    return "\n".join(text)


# ---------------------------------------------------------------- drivers and focus
def _col(frame: pd.DataFrame, *names: str) -> str | None:
    return next((n for n in names if n in frame.columns), None)


def top_drivers(drivers: pd.DataFrame | None, survey: str, top: int = 5) -> pd.DataFrame:
    """A survey's most important national drivers (rank 1 first)."""
    if drivers is None or drivers.empty or "indicator" not in drivers.columns:
        return pd.DataFrame()
    sel = drivers[drivers["survey"] == survey]
    if "rank" in sel.columns:
        sel = sel.sort_values("rank", kind="stable")
    return sel.head(top)


def drivers_markdown(b: Briefing, top: int = 5) -> str:
    """What goes with higher well-being nationally (associations, not causes)."""
    cb = load_codebook()
    text = ["## What matters most for well-being", "",
            "Across all authorities, a statistical model of children's answers shows which "
            "experiences go with higher or lower well-being, after allowing for the others "
            "and for age, gender and placement. These are *associations*: they show where "
            "change is most likely to matter, not proof that one thing causes another. "
            "Figures are the difference in average well-being, in points out of 10."]
    d = b.drivers
    if d is None or d.empty or "indicator" not in d.columns:
        return "\n".join([*text, "", "The national model results are not available for this "
                          "run (they are produced by `make reports` when there are enough "
                          "answers)."])
    lines = []
    for survey in [s for s in b.surveys if s in set(d["survey"])]:
        items = []
        for rec in top_drivers(d, survey, top).to_dict("records"):
            mid = str(rec["indicator"])
            name = cb.measure(mid).label if mid in cb.measures() else str(rec.get("label", mid))
            phrase = effect_phrase(rec.get("effect"), full=False)
            here = _find(b.indicators, survey, mid)
            local = ""
            if here and here.get("flag") in ("better", "worse"):
                local = f", {here['flag']} here than elsewhere"
            detail = ", ".join(p for p in (phrase,) if p) + local
            items.append(f"{name.lower()}" + (f" ({detail.lstrip(', ')})" if detail else ""))
        if items:
            shared = ""
            partners = top_drivers(d, survey, top).get("pooled_with")
            named = ([] if partners is None else
                     [str(v).split() for v in partners.dropna() if str(v).strip()])
            if named:
                known = [t for t in named[0] if t in load_codebook().surveys]
                shared = f" ({pooled_phrase(survey, known)})" if known else ""
            lines.append(f"- **{cap(who(survey))}**{shared}: {'; '.join(items)}.")
    if lines:
        text += ["", "The experiences most strongly associated with well-being, most "
                 "important first (and where this authority's result differs from other "
                 "authorities):", "", *lines]
    return "\n".join(text)


def focus_markdown(b: Briefing) -> str:
    """The authority's focus areas with practice examples, in a Quarto tip callout.

    A focus area (``analysis.methods.focus``) is a national driver of well-being on
    which this authority is worse than elsewhere; each comes with published
    examples of what real councils changed (the practice bank). These are
    the only other councils a briefing ever names.
    """
    cb = load_codebook()
    f = b.focus
    head = ["### Where to focus here", ""]
    if f is None or f.empty:
        body = ("No focus area: nothing strongly associated with well-being nationally is "
                "worse here than in other authorities. Keep listening to children, and look "
                "at the questions for leaders below.")
        return "\n".join(head) + "\n" + callout("tip", "Focus areas", body)
    if "focus_rank" in f.columns:
        f = f.sort_values("focus_rank", kind="stable")
    items = []
    shown: set[str] = set()
    for i, rec in enumerate(f.to_dict("records"), 1):
        mid = str(rec.get("indicator", ""))
        label = cb.measure(mid).label if mid in cb.measures() else str(rec.get("label", mid))
        survey = str(rec.get("survey", ""))
        group = f" ({who(survey)})" if survey in cb.surveys else ""
        reason = str(rec.get("reason") or "").strip()
        line = f"{i}. **{label}**{group}" + (f": {reason}" if reason and reason != "nan" else "")
        items.append(line)
        fresh = [e for e in practice_examples(rec) if e not in shown][:MAX_EXAMPLES_SHOWN]
        shown.update(fresh)
        items += [f"    - *What one council did.* {e}" for e in fresh]
        if not fresh:
            items.append("    - *What councils did:* see the examples above.")
    body = ("Experiences that go with higher well-being nationally, where children here do "
            "less well than elsewhere once their age and gender are allowed for (a clear or "
            "probable difference, not chance). Each gap is first shrunk towards other "
            "authorities by how uncertain it is; the list starts with the gap that goes with "
            "the most well-being, with published examples of what councils changed:\n\n"
            + "\n".join(items))
    return "\n".join(head) + "\n" + callout("tip", "Focus areas", body)


def change_markdown(b: Briefing, top: int = 5) -> str:
    """Change since the authority's previous survey, where there is one."""
    c = b.change
    text = ["### Change since the last survey", ""]
    if c is None or c.empty:
        return "\n".join([*text, "This is the first survey year for this authority in the "
                          "data, so there is nothing to compare with yet."])
    prev = int(c["prev_year"].iloc[0])
    cb = load_codebook()
    pub = c[~c["suppressed"].astype(bool) & c["pct"].notna() & c["prev_pct"].notna()]
    moved = pub[pub["flag"].isin(["improved", "declined"])].copy()
    n_imp = int((moved["flag"] == "improved").sum())
    n_dec = int((moved["flag"] == "declined").sum())
    text.append(
        f"Compared with {prev}, {_count_word(n_imp)} result{'s' if n_imp != 1 else ''} "
        f"improved and {_count_word(n_dec)} declined by more than they did in other "
        "authorities over the same years, allowing for the age and gender of the children and for "
        "chance across all the results of this briefing; the other "
        f"{len(pub) - len(moved)} with enough answers in both years moved no more than "
        "elsewhere (a national change is not this authority's change)."
    )
    if not moved.empty:
        moved["_gap"] = (moved["pct"] - moved["prev_pct"]).abs()
        moved = moved.sort_values(["flag", "_gap"], ascending=[False, False]).head(2 * top)
        table = pd.DataFrame({
            "Measure": [cb.measure(m).label for m in moved["indicator"]],
            "Who": [cap(who(s)) for s in moved["survey"]],
            str(prev): [fmt_pct(v) for v in moved["prev_pct"]],
            str(b.survey_year): [fmt_pct(v) for v in moved["pct"]],
            "Change": [str(f).capitalize() + (" (clear)" if c == "clear" else "")
                       for f, c in zip(moved["flag"], moved.get(
                           "certainty", pd.Series("", index=moved.index)), strict=True)],
        })
        text += ["", pipe_table(table, f"Results that changed since {prev}",
                                right=(str(prev), str(b.survey_year)))]
    return "\n".join(text)


def questions_markdown(b: Briefing) -> str:
    """Questions for reflection for leaders (numbered)."""
    qs = b.questions
    return "## Questions for leaders\n\n" + "\n".join(f"{i}. {q}" for i, q in enumerate(qs, 1))


def method_markdown(b: Briefing) -> str:
    """Notes on method: comparators, intervals, suppression, the model, provenance."""
    perf = performance_sentence(b.performance)
    p = b.provenance
    return "\n".join([
        "## Notes on method",
        "",
        f"- **Comparators.** *Better*, *similar* and *worse* compare this authority with "
        f"the pooled answers of every other authority in the same survey and year "
        f"({b.survey_year}); this authority is never compared with itself. The figure shown "
        "beside it (*all authorities*) is the national figure, the same in every "
        "authority's briefing and rounded (to the nearest whole per cent, or more coarsely "
        "where needed): an exact figure for the other authorities, different for each "
        "authority, would let anyone holding every briefing work out the figures hidden "
        "below. General-population figures come from published national "
        "surveys (Office for National Statistics and the Bright Spots programme) and are "
        "shown only where a comparable figure exists.",
        "- **Allowing for who answered.** Older children and girls report lower "
        "well-being everywhere, so each result is compared with what it would be if this "
        "authority's children answered like children of the same age and gender in the "
        "other authorities (and disability, for care leavers): the *expected* figure "
        "(indirect standardisation). Placement is not allowed for, because where children "
        "live is partly the authority's own practice.",
        "- **Better, similar, worse.** A result is *better* or *worse* when it differs "
        "from its expected figure by more than chance would explain. Each side is tested "
        "separately (two one-sided tests at 2.5%, exact for small numbers, with the "
        "mid-p correction), so a small authority can show a bright spot as readily as a "
        "problem. Because a briefing shows many results, chance is controlled across all "
        "of them together (the Benjamini-Hochberg false discovery rate, 5%): when nothing "
        "really differs, about 1 briefing in 20 shows any flag at all, instead of about 1 "
        "result in 20. *A clear difference* means the adjusted p-value is under 0.01; "
        "*probably a real difference* under 0.05. Charts show each figure with its 95% "
        "confidence interval (Wilson method): the range the true figure is likely to lie "
        "in, given how many answered.",
        "- **Change since the last survey.** An authority's change is compared with the "
        "change in other authorities over the same years (a difference in differences of "
        "the gap from the expected figure), with chance controlled in the same way; with "
        "three or more years, a trend test over all of them. A change everyone shared is "
        "not reported as this authority's.",
        f"- **Small numbers.** {disclosure_sentence()} [x] means no figure exists. Charts "
        "leave suppressed results out and say how many.",
        f"- **What matters most.** {perf}",
        f"- **Provenance.** Data file fingerprint (SHA-256): `{p.get('data_hash', '')}`. "
        f"Code version: {p.get('code_version', '')}. Built: {p.get('build_date', '')}.",
    ])


def comparators_table(b: Briefing, rows: pd.DataFrame) -> pd.DataFrame:
    """Here against the neighbours and the region, one row per published result."""

    cb = load_codebook()
    own = pd.concat([b.indicators, b.wellbeing], ignore_index=True)  # type: ignore[attr-defined]
    own = own[~own["suppressed"].astype(bool) & own["pct"].notna()]
    out = []
    groups = set(rows["group"])
    # The first row of each (group, survey, indicator), looked up rather than filtered
    # for: three comparisons of the whole table per row cost a tenth of a second.
    first: dict[tuple[Any, Any, Any], dict[str, Any]] = {}
    for r in rows[["group", "survey", "indicator", "suppressed", "flag", "step",
                   "pct"]].to_dict("records"):
        first.setdefault((r["group"], r["survey"], r["indicator"]), r)
    for rec in own.to_dict("records"):
        line = {"Measure": cb.measure(str(rec["indicator"])).label,
                "Who": cap(who(str(rec["survey"]))), "Here": fmt_pct(rec["pct"])}
        for group, head in (("neighbours", "Neighbours"), ("region", "Region")):
            if group not in groups:
                continue
            sel = first.get((group, rec["survey"], rec["indicator"]))
            if sel is None or bool(sel["suppressed"]):
                line[head] = "[c]"
            else:
                flag = str(sel["flag"])
                word = "" if flag == "similar" else f" ({flag})"
                step = float(sel["step"])
                about = "about " if np.isfinite(step) and step > 1 else ""
                line[head] = about + fmt_pct(sel["pct"]) + word
        out.append(line)
    return pd.DataFrame(out)


def comparators_markdown(b: Briefing) -> str:
    """The neighbours-and-region section of the briefing (empty string when neither is set)."""

    rows = getattr(b, "comparators", None)
    if rows is None or rows.empty:
        return ""
    region = str(getattr(b, "region", "") or "")
    n_neigh = len(getattr(b, "neighbours", []) or [])
    n_region = len(getattr(b, "region_codes", []) or [])
    text = ["## Compared with similar authorities", "",
            "Authorities compare themselves with their *statistical neighbours* (authorities "
            "like them, listed in this authority's parameter file) and with their region. "
            "Their answers are pooled and rounded, to the nearest 1% where that cannot give "
            "a withheld figure away and more coarsely (\"about\") where it could; a pool of "
            f"fewer than {MIN_MEMBERS} authorities or {MIN_BASE} answers, or one no "
            "rounding keeps safe, is withheld ([c]). "
            "*Better* or *worse* means the difference is unlikely to be chance, with the "
            "chance of any false flag held at 5% across each group's results."]
    sentences = []
    if n_neigh:
        sentences.append(summary_sentence(rows, "neighbours", region, n_neigh))
    if region and n_region:
        sentences.append(summary_sentence(rows, "region", region, n_region))
    text += ["", *[f"- {s}" for s in sentences]]
    shown = comparators_table(b, rows)
    if not shown.empty:
        text += ["", pipe_table(shown, "Results here against the pooled neighbours and region "
                                "(better or worse in brackets; [c] = withheld)",
                                right=[c for c in shown.columns if c not in ("Measure", "Who")])]
    return "\n".join(text)
