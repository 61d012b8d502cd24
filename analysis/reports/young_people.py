"""The young people's version: "what you told us, and what happens next".

Why this module: the children who answered the survey are owed an answer.
Authorities that keep children's trust tell them what was heard and what
will change ("you said, we will"). This version is for the authority's
children in care council and for every child: good things first, then what
needs to get better, then the council's promises from its parameter file.

Rules the functions keep, each tested:

* **Words a 9-year-old can read.** Short sentences, everyday words
  ("grown-ups you live with", "social worker"); ``readability`` measures the
  text (Flesch reading ease and Flesch-Kincaid grade, ``textstat``) and the
  tests hold every authority's version to grade 5 or below.
* **No percentages.** Amounts are said in words ("most of you", "about 7
  out of 10", ``amount``), never as a percentage.
* **The same disclosure control as the briefing.** Every amount comes from
  a row the briefing publishes (``analysis.reports.briefing.published``: not
  suppressed by ``analysis.methods.disclosure``); a suppressed figure is never
  described, not even as "a few". Saying a published percentage in tenths
  gives away less than the percentage itself.
* **Pictures with alt text**: one picture of faces (10 per age group, as
  many coloured in as the tenths said in the words), whose alt text says
  the same as the picture.
* **Commitments are the authority's own**: the ``we_will`` list of its
  parameter file, shown as written (escaped, so a stray ``*`` or ``<`` is
  shown, never interpreted); when there is none a clear placeholder says
  the promises are still to come.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from analysis.core import escape
from analysis.data.codebook import load_codebook
from analysis.present.charts import faces_figure, figure_markdown
from analysis.present.markdown import callout
from analysis.present.text import age_words, amount, tenths
from analysis.reports import briefing as br
from analysis.reports.briefing import Briefing, published

#: Age groups as a child says them.
#: Each indicator as the *good* thing, said to "you" (for a measure where lower
#: is better, its opposite: the share is then 100 - pct).
GOOD_WORDS: dict[str, str] = {
    "trust_carers": "trust the grown-ups you live with",
    "carers_notice_feelings": "say the grown-ups you live with notice how you feel",
    "know_worker": "know who your social worker is",
    "trust_worker": "trust your social worker",
    "worker_changes_3plus": "did not have lots of new social workers this year",
    "trusted_adult": "have a grown-up you trust who sticks by you",
    "good_friend": "have a really good friend",
    "has_pet": "have a pet",
    "contact_mum_right": "see your mum about the right amount",
    "contact_siblings_right": "see your brothers and sisters about the right amount",
    "lonely_often": "do not often feel lonely",
    "reason_explained": "know why you are in care",
    "included_decisions": "feel you have a say in what happens to you",
    "feel_safe_always": "always feel safe where you live",
    "afraid_bullying": "are not scared to go to school because of bullies",
    "adults_embarrass": "have not been made to feel bad by grown-ups about being in care",
    "like_school": "like school",
    "hobbies": "have a hobby or do fun things after school",
    "outdoors": "get to play in parks, woods or at the beach",
    "same_as_friends": "can do the same things as your friends",
    "internet_access": "have the internet at home",
    "cope_difficult": "are doing OK with money",
    "eet": "are at school, at college, at work or training",
    "feel_settled_always": "always feel settled where you live",
    "like_bedroom": "like your bedroom",
    "unhappy_appearance": "feel OK about how you look",
    "life_getting_better": "think your life is getting better",
    "worries_get_support": "who have worries get help with them",
}
#: Overall well-being: the share *not* low (an average of 5 out of 10 or more).
FEEL_OK = "feel OK or good about your life"
MAX_GOOD = 5
MAX_BETTER = 3
#: A result is a "good thing" when this share (or more) has the good answer.
GOOD_SHARE = 70.0
#: ... and "needs to get better" when fewer than this share have it.
BETTER_SHARE = 50.0
#: Flesch-Kincaid grade the text must stay at or under (a 9-year-old reads at
#: about grade 4; the tests allow up to 5).
MAX_GRADE = 5.0

PLACEHOLDER = (
    "**Coming soon.** The grown-ups who look after you are still writing down "
    "what they will do. They will tell you soon."
)
HELP_TEXT = (
    "If something is worrying you, talk to a grown-up you trust. You can also "
    "call Childline on 0800 1111. It is free, and you do not have to give your name."
)


@dataclass(frozen=True)
class Finding:
    """One thing children said, ready to be put into words."""

    indicator: str
    survey: str
    share: float  # % of children with the good answer (0-100)
    flag: str  # better / similar / worse (against other authorities)
    n: int

    def sentence(self, words: str = "") -> str:
        """'Most of you aged 8 to 11 (about 7 out of 10) trust the grown-ups you live with.'"""
        lead = amount(self.share)
        words = words or GOOD_WORDS[self.indicator]
        if "(" in lead:
            head, _, tail = lead.partition(" (")
            return f"{head} {age_words(self.survey, 'aged')} ({tail} {words}."
        return f"{lead} {age_words(self.survey, 'aged')} {words}."


def findings(rows: pd.DataFrame) -> list[Finding]:
    """Published indicator rows as findings (suppressed rows are dropped here, once)."""
    out = []
    for rec in published(rows).to_dict("records"):
        mid, survey = str(rec["indicator"]), str(rec["survey"])
        if mid not in GOOD_WORDS or survey not in load_codebook().surveys:
            continue
        pct = float(rec["pct"])
        share = 100.0 - pct if rec.get("direction") == "lower_is_better" else pct
        out.append(Finding(mid, survey, share, str(rec.get("flag")), int(rec["n"])))
    return out


def _one_per_indicator(items: Sequence[Finding]) -> list[Finding]:
    seen: set[str] = set()
    out = []
    for f in items:
        if f.indicator not in seen:
            seen.add(f.indicator)
            out.append(f)
    return out


def good_things(rows: pd.DataFrame, top: int = MAX_GOOD) -> list[Finding]:
    """Better than elsewhere first, then the largest shares; one per indicator."""
    items = [f for f in findings(rows)
             if f.flag != "worse" and (f.flag == "better" or f.share >= GOOD_SHARE)]
    items.sort(key=lambda f: (f.flag != "better", -f.share, -f.n))
    return _one_per_indicator(items)[:top]


def to_get_better(rows: pd.DataFrame, top: int = MAX_BETTER,
                  exclude: Sequence[str] = ()) -> list[Finding]:
    """Worse than elsewhere first, then the smallest shares; one per indicator."""
    items = [f for f in findings(rows) if f.indicator not in set(exclude)
             and (f.flag == "worse" or f.share < BETTER_SHARE)]
    items.sort(key=lambda f: (f.flag != "worse", f.share, -f.n))
    return _one_per_indicator(items)[:top]


def feelings(wellbeing: pd.DataFrame) -> list[tuple[str, float]]:
    """(survey, share feeling OK or good about life) per age group, published rows only."""
    rows = published(wellbeing[wellbeing["indicator"] == "low_overall_wellbeing"])
    order = list(load_codebook().surveys)
    out = [(str(r["survey"]), 100.0 - float(r["pct"])) for r in rows.to_dict("records")
           if str(r["survey"]) in order]
    return sorted(out, key=lambda t: order.index(t[0]))


# ---------------------------------------------------------------- sections
def total_answers(b: Briefing) -> int | None:
    """How many answered (the protected total of the briefing's cover), or None."""
    sel = b.answers[b.answers["survey"] == "total"]
    if sel.empty or pd.isna(sel["answers"].iloc[0]):
        return None
    return int(sel["answers"].iloc[0])


def intro_markdown(b: Briefing) -> str:
    total = total_answers(b)
    who = f"the {total} of you" if total else "all of you"
    return "\n".join([
        f"In {b.survey_year}, children and young people in care in {escape.markdown(b.la_name)} "
        "filled in a survey about their lives.",
        "",
        f"**Thank you** to {who} who took part. This is what you told us, "
        "and what will happen next.",
    ])


def good_markdown(b: Briefing) -> str:
    items = good_things(b.indicators)
    text = ["## Good things you told us", ""]
    if not items:
        return "\n".join([*text, "Not enough of you answered for us to say this time. "
                          "Your answers still help us."])
    text += [f"- {f.sentence()}" for f in items]
    better = [f for f in items if f.flag == "better"]
    if better:
        text += ["", "Some of these are better here than in other places. Well done!"]
    return "\n".join(text)


def feelings_markdown(b: Briefing) -> str:
    rows = feelings(b.wellbeing)
    text = ["## How you feel about your life", ""]
    if not rows:
        return "\n".join([*text, "Not enough of you answered these questions for us "
                          "to say this time."])
    text += [f"- {Finding('', s, share, '', 0).sentence(FEEL_OK)}" for s, share in rows]
    text += ["", faces_markdown(b, rows)]
    return "\n".join(text)


def better_markdown(b: Briefing) -> str:
    good = [f.indicator for f in good_things(b.indicators)]
    items = to_get_better(b.indicators, exclude=good)
    text = ["## Things that need to get better", ""]
    if not items:
        return "\n".join([*text, "You did not tell us about anything big that needs to "
                          "change. We will keep asking you."])
    text.append("You also told us some things are not good enough yet:")
    text += [""] + [f"- {f.sentence()}"
                    + (" That is fewer than in other places." if f.flag == "worse" else "")
                    for f in items]
    text += ["", "We want more of you to say yes to these."]
    return "\n".join(text)


def promises_markdown(we_will: Sequence[str] | None) -> str:
    """The council's commitments (the parameter file's ``we_will``), or a placeholder."""
    items = [escape.markdown(w) for w in (we_will or []) if str(w).strip()]
    text = ["## What happens next", ""]
    if not items:
        return "\n".join(text) + "\n" + callout("note", "Our promises", PLACEHOLDER)
    text += ["You told us what matters to you. This is what we will do:", ""]
    text += [f"- {w}" for w in items]
    return "\n".join(text)


def help_markdown() -> str:
    return "\n".join([
        "## Tell us more", "",
        "You can tell us what you think at any time. Talk to your carer, your social "
        "worker or your children in care council.",
        "", HELP_TEXT,
    ])


def document_markdown(b: Briefing, we_will: Sequence[str] | None = None) -> list[str]:
    """Every section in order (the notebook shows one per cell)."""
    return [intro_markdown(b), good_markdown(b), feelings_markdown(b), better_markdown(b),
            promises_markdown(we_will), help_markdown()]


# ---------------------------------------------------------------- picture
def faces_alt(rows: Sequence[tuple[str, float]]) -> str:
    """What the faces picture shows, in words."""
    parts = [f"{age_words(s, 'aged').capitalize()}: {tenths(share)} of 10 faces are smiling."
             for s, share in rows]
    return ("Rows of 10 faces, one row for each age group. The smiling faces are for "
            "the children who feel OK or good about their life. " + " ".join(parts))


def faces_markdown(b: Briefing, rows: Sequence[tuple[str, float]]) -> str:

    return figure_markdown(faces_figure(rows), b.figures, "young-people-faces",
                           "Smiling faces: the children who feel OK or good about their life",
                           faces_alt(rows))


# ---------------------------------------------------------------- readability
def readable_text(markdown_text: str) -> str:
    """The words a child reads: markup, pictures and headings' hashes removed.

    Headings and list items become sentences (a heading has no full stop, and
    readability formulas would otherwise run it into the next sentence).
    """
    text = re.sub(r"!\[[^\]]*\]\([^)]*\)(\{[^}]*\})?", " ", markdown_text)
    text = re.sub(r"^:::.*$", " ", text, flags=re.M)
    lines = []
    for line in text.splitlines():
        line = re.sub(r"^\s*(#+|-|\d+\.)\s*", "", line).strip()
        if line:
            lines.append(line if line[-1] in ".!?:" else line + ".")
    text = " ".join(lines)
    text = re.sub(r"\\(.)", r"\1", text)
    text = re.sub(r"[*_`>|]", " ", text)
    return re.sub(r"\s+", " ", text).strip()


def page_words(page: str) -> str:
    """The words of a rendered HTML page, each heading, list item and paragraph a sentence."""
    import html

    text = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    text = re.sub(r"<img\b[^>]*>", " ", text)
    text = re.sub(r"</(h[1-6]|li|p|figcaption|summary|div|td|th)>", "\n", text)
    text = html.unescape(re.sub(r"<[^>]+>", " ", text))
    lines = [" ".join(line.split()) for line in text.splitlines()]
    return " ".join(ln if ln[-1] in ".!?:" else ln + "." for ln in lines if ln)


def readability(markdown_text: str) -> dict[str, float]:
    """Flesch reading ease (higher is easier; 90+ is 'very easy') and Flesch-Kincaid grade."""
    import textstat

    text = readable_text(markdown_text)
    return {"flesch_reading_ease": float(textstat.flesch_reading_ease(text)),
            "flesch_kincaid_grade": float(textstat.flesch_kincaid_grade(text))}


def prepare(we_will: Sequence[str] | None = None, **kwargs: Any) -> tuple[Briefing, list[str]]:
    """The authority's briefing figures and the version's sections (the notebook's one call)."""

    b = br.prepare(**kwargs)
    return b, document_markdown(b, we_will)
