"""The director's first two pages: the briefing at a glance.

Why: a director of children's services reads the first two pages and
decides what to change; the detail is for whoever follows it up. So the
first pages gather, in this order, what is going well, what needs attention
(each saying how sure we are), what the children say in their own words,
what to do next (focus areas with a practice example and a question for
leaders), the change since the last survey, and one picture of every result
at once (a spine chart, as Public Health England's Fingertips draws them).
The sections after them are the detail; the long tables go to an appendix.

Everything here reuses the briefing's own sentences and selections
(``analysis.reports.briefing``), so a result is said the same way on page 1 as in
the detail, and every figure has already been through disclosure control.
The spine chart's range across authorities uses only the authorities'
*published* percentages (the same figures anyone can download), so it
gives away nothing that is withheld.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from analysis.core import escape
from analysis.data.codebook import load_codebook
from analysis.methods import indicators
from analysis.methods.disclosure import rate_suppressed
from analysis.methods.focus import practice_examples
from analysis.present.charts import figure_markdown, spine_figure
from analysis.present.markdown import quote_markdown
from analysis.present.text import age_words, who
from analysis.reports import briefing as br

#: Items per at-a-glance list (the detail has the rest).
TOP = 3
#: Focus areas shown on the first pages.
TOP_FOCUS = 3
#: Quotes on the first pages.
TOP_QUOTES = 2

#: Section anchors (explicit, so the contents list links work in every format).
DETAIL_SECTIONS: tuple[tuple[str, str], ...] = (
    ("who-answered", "Who answered"),
    ("well-being", "Well-being"),
    ("relationships", "Relationships"),
    ("rights", "Rights"),
    ("resilience", "Resilience"),
    ("recovery", "Recovery"),
    ("care-leavers", "Care leavers"),
    ("own-words", "In their own words"),
    ("what-matters-most", "What matters most for well-being"),
    ("questions-for-leaders", "Questions for leaders"),
    ("notes-on-method", "Notes on method"),
    ("appendix", "Appendix: tables"),
)


def _bullets(lines: Sequence[str]) -> str:
    return "\n".join(f"- {line}" for line in lines)


def going_well(b: br.Briefing, top: int = TOP) -> list[str]:
    """The largest bright spots (flagged better), said as the detail says them."""
    rows = br.ranked(b.indicators, "better").head(top)
    return [br.comparison_sentence(r) for r in rows.to_dict("records")]


def needs_attention(b: br.Briefing, top: int = TOP) -> list[str]:
    """The largest areas for improvement (flagged worse), with how sure we are."""
    rows = br.ranked(b.indicators, "worse").head(top)
    return [br.comparison_sentence(r) for r in rows.to_dict("records")]


def _findings_callout(items: list[str], kind: str, title: str, word: str) -> str:
    """A callout of findings, or the plain reason there are none (the same words both ways)."""
    body = _bullets(items) if items else (
        f"No result was clearly {word} than in other authorities this year: differences "
        "this size could be chance.")
    return br.callout(kind, title, body)


def going_well_markdown(b: br.Briefing) -> str:
    return _findings_callout(going_well(b), "tip", "Going well", "better")


def needs_attention_markdown(b: br.Briefing) -> str:
    return _findings_callout(needs_attention(b), "important", "Needs attention", "worse")


def children_say_markdown(b: br.Briefing) -> str:
    """Approved quotes (``analysis.methods.comments``) if any; otherwise says why there are none."""
    quotes = list(getattr(b, "quotes", None) or [])[:TOP_QUOTES]
    if quotes:
        body = "\n\n".join(quote_markdown(q) for q in quotes)
    else:
        body = ("No comments are quoted: children's own words appear only once a researcher "
                "has read them, removed anything that could identify a child, and approved "
                "them.")
    return br.callout("note", "What the children say", body)


def next_steps(b: br.Briefing, top: int = TOP_FOCUS) -> list[str]:
    """Focus areas, each with one practice example and the question for leaders."""
    cb = load_codebook()
    f = b.focus
    if f is None or f.empty:
        return []
    if "focus_rank" in f.columns:
        f = f.sort_values("focus_rank", kind="stable")
    out = []
    shown: set[str] = set()
    for rec in f.head(top).to_dict("records"):
        mid = str(rec.get("indicator", ""))
        label = cb.measure(mid).label if mid in cb.measures() else mid
        survey = str(rec.get("survey", ""))
        group = f" ({who(survey)})" if survey in cb.surveys else ""
        line = f"**{label}**{group}."
        example = next((e for e in practice_examples(rec) if e not in shown), "")
        if example:
            shown.add(example)
            line += f" *What one council did:* {example}"
        question = br.QUESTIONS.get(mid)
        if question:
            line += f" *Ask:* {question}"
        out.append(line)
    return out


def next_steps_markdown(b: br.Briefing) -> str:
    items = next_steps(b)
    if items:
        body = ("Experiences that go with higher well-being nationally, where children here "
                "do less well than elsewhere:\n\n" + "\n".join(
                    f"{i}. {line}" for i, line in enumerate(items, 1)))
    else:
        body = (f"No focus area stands out. {br.NO_WORSE_QUESTION}"
                if br.ranked(b.indicators, "worse").empty else
                "No focus area: the results that are worse here are not among the experiences "
                "most strongly associated with well-being nationally. See *Questions for "
                "leaders*.")
    body += f"\n\n{br.CLOSING_QUESTION}"
    return br.callout("tip", "What to do next", body)


def change_summary(b: br.Briefing) -> str:
    """One sentence on the change since the last survey (the detail has the table)."""
    c = b.change
    if c is None or c.empty:
        return ("This is the first survey year for this authority in the data, so there is "
                "nothing to compare with yet.")
    prev = int(c["prev_year"].iloc[0])
    pub = c[~c["suppressed"].astype(bool) & c["pct"].notna() & c["prev_pct"].notna()]
    cb = load_codebook()
    parts = []
    for flag, word in (("improved", "Improved"), ("declined", "Declined")):
        sel = pub[pub["flag"] == flag].copy()
        if sel.empty:
            continue
        sel["_gap"] = (sel["pct"] - sel["prev_pct"]).abs()
        names = [f"{cb.measure(m).label.lower()} ({age_words(s)})"
                 for m, s in sel.sort_values("_gap", ascending=False)[
                     ["indicator", "survey"]].head(TOP).itertuples(index=False)]
        more = f" and {len(sel) - len(names)} more" if len(sel) > len(names) else ""
        parts.append(f"{word}: {'; '.join(names)}{more}.")
    if not parts:
        return (f"Since {prev}, no result changed by more than chance would explain "
                f"({len(pub)} could be compared).")
    return f"Since {prev} ({len(pub)} results could be compared): " + " ".join(parts)


def change_markdown(b: br.Briefing) -> str:
    return br.callout("note", "Change since the last survey", change_summary(b))


# ---------------------------------------------------------------- spine chart
#: The last national spread worked out: (comparisons table, year, spread). The same
#: for every authority of a build (a worker holds one comparisons table).
_last_spread: list[tuple[pd.DataFrame, int, pd.DataFrame]] = []


def _spread(comp: pd.DataFrame, year: int) -> pd.DataFrame:
    """Each result's spread of *published* figures across authorities, once per table and year.

    Columns: survey, indicator, low, q1, q3, high, authorities. National, so
    worked out once and reused for every authority (each group's figures
    depend on that group's rows only); a copy is returned.
    """
    if _last_spread and _last_spread[0][0] is comp and _last_spread[0][1] == year:
        return _last_spread[0][2].copy()
    every = comp[comp["survey_year"] == year]
    # Each authority's *published* percentage: only figures a reader holds
    # (``known``: shown in the authority's own files, by analysis.methods.disclosure).
    if "known" in every.columns:
        shown = every["known"].astype(bool).to_numpy()
    else:  # tables written before the disclosure rules recorded it
        shown = ~np.asarray(rate_suppressed(every["n"], every["k"]), dtype=bool)
    spread = every[shown].assign(pct=indicators.round1(every.loc[shown, "pct"].astype(float)))
    stats = spread.groupby(["survey", "indicator"])["pct"].agg(
        low="min", q1=lambda s: s.quantile(0.25), q3=lambda s: s.quantile(0.75),
        high="max", authorities="count").reset_index()
    _last_spread[:] = [(comp, year, stats)]
    return stats.copy()


def spine_rows(tables: Mapping[str, pd.DataFrame], b: br.Briefing) -> pd.DataFrame:
    """Every published result here with the spread of *published* figures across authorities.

    Columns: survey, indicator, pct, flag, direction, low, q1, mid (the
    pooled figure of the other authorities), q3, high (over the authorities
    whose own figure for that result is published).
    """

    stats = _spread(tables["comparisons"], int(b.survey_year))
    own = pd.concat([b.indicators, b.wellbeing[b.wellbeing["indicator"].isin(
        br.WELLBEING_MEASURES)]], ignore_index=True)
    own = br.published(own)
    out = own[["survey", "indicator", "pct", "others_pct", "flag", "direction"]].merge(
        stats, on=["survey", "indicator"], how="inner")
    out = out[out["authorities"] >= 3]
    return out.rename(columns={"others_pct": "mid"}).reset_index(drop=True)


def spine_alt(rows: pd.DataFrame, la_name: str) -> str:
    """What the spine chart shows, in words (results, not 'a chart')."""
    cb = load_codebook()

    def listing(flag: str) -> str:
        sel = rows[rows["flag"] == flag]
        items = [f"{cb.measure(m).label.lower()} ({age_words(s)})"
                 for m, s in sel[["indicator", "survey"]].itertuples(index=False)]
        return "; ".join(items) if items else "none"

    similar = int((~rows["flag"].isin(["better", "worse"])).sum())
    return (f"Spine chart of {len(rows)} results for {la_name}, one row per measure and one "
            "panel per age group: each grey bar is the range of published figures across "
            "authorities, the line in the middle the other authorities' figure, better to "
            f"the right. Better than other authorities: {listing('better')}. Worse: "
            f"{listing('worse')}. Similar: {similar}.")


def spine_markdown(tables: Mapping[str, pd.DataFrame], b: br.Briefing) -> str:

    rows = spine_rows(tables, b)
    if rows.empty:
        return "Too few results have a published figure to draw them all at once."
    # No name in the picture: matplotlib would read a "$" in it as mathematics.
    fig = spine_figure(rows, "Every result at once, against all authorities")
    return figure_markdown(fig, b.figures, "spine", "Every result at once (better to the "
                           "right; the shape gives the result)", spine_alt(rows, b.la_name))


# ---------------------------------------------------------------- layout
def contents_markdown(b: br.Briefing | None = None,
                      sections: Sequence[tuple[str, str]] = DETAIL_SECTIONS) -> str:
    """A contents list linking to the detail (explicit anchors work in every format)."""
    listed = list(sections)
    if b is not None and b.comparators is not None and not b.comparators.empty:
        at = next(i for i, (a, _) in enumerate(listed) if a == "well-being") + 1
        listed.insert(at, ("similar-authorities", "Compared with similar authorities"))
    items = "\n".join(f"- [{title}](#{anchor})" for anchor, title in listed)
    return ("## Contents {#contents}\n\n"
            "The detail behind the first two pages. In the web page each section can be "
            "folded away; every table is in the appendix.\n\n" + items)


def who_answered_markdown(b: br.Briefing) -> str:
    """The cover's table of questionnaires (and response rates) as a detail section."""
    cover = br.cover_markdown(b).splitlines()
    start = next((i for i, line in enumerate(cover) if line.startswith("|")), len(cover))
    return ("## Who answered\n\nHow many children and young people returned a "
            "questionnaire, survey by survey" + (", with the response rates the authority's "
            "cohort sizes give" if b.cohort_sizes else "") + ": the first table of the "
            "[appendix](#appendix).\n\n" + "\n".join(cover[start:]))


#: The detail starts on a new page of the PDF. Inside it (a Typst scope the appendix
#: closes) charts float to the top or bottom of a page (``placement: auto``), so a tall
#: chart never leaves half a page empty after its heading; the first two pages keep
#: their order, and the appendix's tables stay in order and may break across pages.
PAGE_BREAK = "```{=typst}\n#pagebreak(weak: true)\n#[\n#set figure(placement: auto)\n```"
APPENDIX_START = ("```{=typst}\n]\n"
                  "#show figure.where(kind: table): set block(breakable: true)\n```")


def fold(summary: str, body: str) -> str:
    """Foldable detail in HTML (``<details>``); PDF and Word show the body as it is.

    The raw blocks are ``html5``, not ``html``: the renderer's filter turns raw
    ``html`` blocks (pandas tables) into document blocks for every format,
    which would print the summary as text; ``html5`` passes only to HTML.
    """
    import html

    return (f"```{{=html5}}\n<details class=\"detail\"><summary>{html.escape(summary)}"
            f"</summary>\n```\n\n{body}\n\n```{{=html5}}\n</details>\n```")


class Appendix:
    """Collects the detail sections' tables, shown together at the end.

    The detail sections keep their sentences and charts; their tables (every
    figure, for whoever follows a result up) move here, so the sections read
    quickly and the PDF has no page of tables in the middle of the argument.
    """

    def __init__(self) -> None:
        self.parts: list[tuple[str, list[str]]] = []

    def detail(self, section: str, anchor: str = "", folded: bool = True) -> str:
        """A detail section: its heading (with an anchor), its text folded, its tables moved."""
        lines = section.strip("\n").splitlines()
        if not lines or not lines[0].startswith("## "):
            return section
        title = lines[0][3:].strip()
        anchor = anchor or _anchor(title)
        body, tables = _take_tables(lines[1:])
        if tables:
            self.parts.append((title, tables))
        text = "\n".join(body).strip("\n")
        head = f"## {title} {{#{anchor}}}"
        if not folded or not text:
            return f"{head}\n\n{text}"
        return f"{head}\n\n{fold(f'{title}: the detail', text)}"

    def markdown(self) -> str:
        out = [APPENDIX_START, "", "## Appendix: tables {#appendix}", "",
               "Every figure of the detail sections, section by section. [c] = withheld to "
               "protect children's privacy; [x] = no figure exists."]
        if not self.parts:
            return "\n".join([*out, "", "No tables."])
        for title, tables in self.parts:
            out += ["", f"### {title}", "", *["\n\n".join(tables)]]
        return "\n".join(out)


def _anchor(title: str) -> str:
    import re

    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") or "section"


def _take_tables(lines: Sequence[str]) -> tuple[list[str], list[str]]:
    """Split Markdown lines into (text without pipe tables, the tables with their captions)."""
    body: list[str] = []
    tables: list[str] = []
    i = 0
    while i < len(lines):
        if lines[i].lstrip().startswith("|"):
            block = []
            while i < len(lines) and lines[i].lstrip().startswith("|"):
                block.append(lines[i])
                i += 1
            # a caption ": ..." after an optional blank line belongs to the table
            j = i
            while j < len(lines) and not lines[j].strip():
                j += 1
            if j < len(lines) and lines[j].startswith(": "):
                block += ["", lines[j]]
                i = j + 1
            tables.append("\n".join(block))
            continue
        body.append(lines[i])
        i += 1
    # collapse runs of blank lines left behind
    out: list[str] = []
    for line in body:
        if not line.strip() and out and not out[-1].strip():
            continue
        out.append(line)
    return out, tables


# ---------------------------------------------------------------- the first two pages
def cover_markdown(b: br.Briefing) -> str:
    """One paragraph: who, when, how many answered (the table is in *Who answered*)."""
    total = b.answers[b.answers["survey"] == "total"]["answers"]
    answered = ("" if total.empty or pd.isna(total.iloc[0])
                else f" {int(total.iloc[0]):,} questionnaires were returned.")
    text = [f"**{escape.markdown(b.la_name)}**, surveys of {b.survey_year}.{answered}", "",
            "What children in care and care leavers here told the Bright Spots surveys, "
            "against children in care in other authorities. The first two pages are the "
            "briefing at a glance; the detail follows, with every table in the appendix."]
    low = low_response(b)
    if low:
        text += ["", br.callout("warning", "Low response", br.low_response_text(low))]
    return "\n".join(text)


def low_response(b: br.Briefing) -> list[str]:
    """Surveys answered by under ``briefing.LOW_RESPONSE``% of the eligible children (names)."""
    cb = load_codebook()
    out = []
    for rec in b.answers.to_dict("records"):
        survey, count = str(rec["survey"]), rec["answers"]
        size = b.cohort_sizes.get(survey)
        if survey == "total" or not size or pd.isna(count):
            continue
        if 100 * int(count) / size < br.LOW_RESPONSE:
            out.append(str(cb.surveys[survey]["name"]))
    return out


def at_a_glance_markdown(b: br.Briefing) -> str:
    """The six at-a-glance elements after the key messages, then the spine chart."""
    tables = getattr(b, "tables", None)
    parts = ["## At a glance {#at-a-glance}", "",
             "### Key messages", "", "\n".join(f"- {m}" for m in b.messages), "",
             going_well_markdown(b), "", needs_attention_markdown(b), "",
             children_say_markdown(b), "", next_steps_markdown(b), "",
             change_markdown(b)]
    if tables is not None:
        parts += ["", "### Every result at once", "", spine_markdown(tables, b)]
    return "\n".join(parts)
