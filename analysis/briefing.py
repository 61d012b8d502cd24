"""The words of an authority's strategic briefing, generated from its results.

Why this module: a director of children's services has ten minutes. The
briefing must say, in plain English, what children say is going well, what
is not, and what to do next. Every sentence here is *generated from the
results* (never hand-written per authority), so the same rule says the same
thing everywhere and a test can plant a result and check the sentence.

Rules the functions keep:

* only this authority's rows are used, after disclosure control
  (``analysis.indicators.la_*``): a base under 10, or 1-4 children giving
  the answer, shows ``[c]``, never a percentage; no other authority is ever
  named (the only place names appear is the practice bank, which holds real
  published examples);
* numbers are said as people say them ("about 1 in 6", ``analysis.text``)
  with the exact percentage beside the comparison;
* national drivers are *associated with* well-being; nothing here says
  "causes";
* the notebook (``notebooks/briefing.ipynb``) only calls these functions and
  displays the Markdown they return, so it stays short and fast (the national
  tables are read once per process; no model is fitted per authority).
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd

from analysis import escape
from analysis.codebook import PROJECT_ROOT, load_codebook
from analysis.disclosure import SUPPRESSION_RULE_TEXT, disclosure_sentence
from analysis.slug import authority_slug
from analysis.text import CERTAINTY_WORDS, comparison_phrase, expected_phrase, fmt_pct, in_n

#: Where the standalone notebook looks for data when no ``data`` is given.
DEFAULT_DATA = (
    PROJECT_ROOT / "data" / "synthetic" / "extract.csv",
    PROJECT_ROOT / "tests" / "fixtures" / "extract.csv",
)
IN_CARE = ("ylyc_4_7", "ylyc_8_11", "ylyc_11_17")
LEAVERS = "ylbc"
DOMAINS = ("relationships", "rights", "resilience", "recovery")
MAX_MESSAGES = 6
MIN_MESSAGES = 3
GOING_WELL = "Going well"
#: Practice examples shown per focus area (the rest are in focus.csv).
MAX_EXAMPLES_SHOWN = 2
TO_IMPROVE = "To improve"

DOMAIN_INTRO = {
    "relationships": (
        "Trusted relationships with carers, workers, friends and family: "
        "what children say matters most to them."
    ),
    "rights": (
        "Being told why they are in care, being included in decisions, feeling safe, "
        "and not being bullied or made to feel different."
    ),
    "resilience": "School, hobbies, time outdoors and being able to do what friends do.",
    "recovery": (
        "Feeling settled, liking where they live, feeling good about how they look, "
        "and life getting better."
    ),
}

#: Well-being measures shown in the well-being section, in order.
WELLBEING_MEASURES = (
    "low_overall_wellbeing", "low_life_satisfaction", "low_worthwhile", "high_anxiety",
)

#: A question for leaders when an indicator is worse than elsewhere.
QUESTIONS: dict[str, str] = {
    "trust_carers": "What do carers need to build relationships that children can trust?",
    "carers_notice_feelings": (
        "How are carers helped to notice and respond to how children are feeling?"
    ),
    "know_worker": "What would help every child know who their worker is?",
    "trust_worker": (
        "What gets in the way of children trusting their worker, and what would build that trust?"
    ),
    "worker_changes_3plus": (
        "What would reduce changes of worker, and how is a child helped through a change "
        "when one has to happen?"
    ),
    "trusted_adult": "How can every child be sure of at least one adult who sticks by them?",
    "good_friend": "What helps children here make and keep good friends?",
    "has_pet": "Could more children live with, or spend time with, animals?",
    "contact_mum_right": (
        "How are children's wishes about seeing their family heard and acted on?"
    ),
    "contact_siblings_right": (
        "How are children's wishes about seeing their brothers and sisters heard and acted on?"
    ),
    "lonely_often": "Who checks in on care leavers, and what would help them feel less alone?",
    "reason_explained": (
        "How do we make sure every child understands why they are in care, in words that "
        "fit their age, and can ask again later?"
    ),
    "included_decisions": (
        "How are children's views sought, and seen to change decisions about their lives?"
    ),
    "feel_safe_always": (
        "What makes children feel unsafe where they live, and what is being done about it?"
    ),
    "afraid_bullying": (
        "How are schools, carers and workers working together to stop children in care "
        "being bullied?"
    ),
    "adults_embarrass": (
        "How do adults avoid making children feel different or embarrassed about being in care?"
    ),
    "like_school": "What would help children here enjoy school more?",
    "hobbies": "What stops children having hobbies, and who can remove those barriers?",
    "outdoors": (
        "How can carers be helped to get children out to parks, the countryside or the sea?"
    ),
    "same_as_friends": (
        "Which rules or permissions stop children doing what their friends do, and can they "
        "be delegated to carers?"
    ),
    "internet_access": "What would it take for every young person to have the internet at home?",
    "cope_difficult": (
        "What financial help and advice reach care leavers, and is it enough to live on?"
    ),
    "eet": "What would help more care leavers into education, work or training?",
    "feel_settled_always": "What would help more children feel settled where they live?",
    "like_bedroom": "Are children able to make their bedroom their own?",
    "unhappy_appearance": (
        "How are young people, girls especially, supported to feel good about how they look?"
    ),
    "life_getting_better": "What do children say would make their life better?",
    "worries_get_support": "Who do young people go to with worries, and do they get help?",
    "low_overall_wellbeing": (
        "How are children with low well-being identified, and what support do they get?"
    ),
    "low_life_satisfaction": (
        "How are young people with low life satisfaction identified and supported?"
    ),
    "low_worthwhile": "What gives care leavers a sense of purpose, and who helps them find it?",
    "high_anxiety": "What mental-health support can care leavers reach quickly?",
}
CLOSING_QUESTION = (
    "How will children and care leavers hear what has changed because of what they told you?"
)
NO_WORSE_QUESTION = (
    "Children here gave answers at least as good as elsewhere on every measure: which result "
    "would children most want improved next, and how will you ask them?"
)

_VERB_INFINITIVE = {"are": "be", "had": "have had", "chose": "choose", "felt": "have felt"}


# ---------------------------------------------------------------- display
def markdown(text: str) -> Any:
    """An ``IPython.display.Markdown`` whose plain-text form is the Markdown itself.

    Renderers use the text/markdown output; nbval compares text/plain, so the
    words of the briefing (not ``<IPython.core.display.Markdown object>``) are
    what the regression tests check.
    """
    from IPython.display import Markdown

    class _Markdown(Markdown):
        def __repr__(self) -> str:
            return str(self.data)

    return _Markdown(text)


def show(text: str) -> None:
    """Display Markdown in the notebook (one call per section)."""
    from IPython.display import display

    display(markdown(text))


def show_comparators(b: Briefing, out_dir: str | Path | None,
                     wrap: Callable[[str, str], str] | None = None) -> None:
    """The neighbours-and-region section, and its figures as ``comparators.csv``.

    Shows nothing when the parameter file gives neither neighbours nor a region
    with other authorities in it (every figure shown is also written as CSV).
    """
    from analysis import comparators as cmp

    text = cmp.markdown(b)
    if out_dir is not None and b.comparators is not None and not b.comparators.empty:
        from analysis.files import write_csv_atomic
        from analysis.indicators import csv_ready

        write_csv_atomic(csv_ready(b.comparators), Path(out_dir) / "comparators.csv", "%.1f")
    if text:
        show(wrap(text, "similar-authorities") if wrap else text)


def pipe_table(frame: pd.DataFrame, caption: str = "", right: Iterable[str] = ()) -> str:
    """A pandoc/Quarto pipe table with a header row (and an optional caption).

    Pipe tables are read by every output format (HTML, Typst, Word) and by
    screen readers as real tables; ``right`` names the numeric columns to
    right-align so figures line up.
    """
    right = set(right)
    cols = [str(c) for c in frame.columns]

    def cell(value: Any) -> str:
        text = "" if _missing(value) and not isinstance(value, str) else str(value)
        return text.replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cell(c) for c in cols) + " |",
             "|" + "|".join("---:" if c in right else ":---" for c in cols) + "|"]
    for row in frame.itertuples(index=False):
        lines.append("| " + " | ".join(cell(v) for v in row) + " |")
    text = "\n".join(lines)
    if caption:
        text += f"\n\n: {caption}"
    return text


# ---------------------------------------------------------------- phrasing
def _missing(value: Any) -> bool:
    if value is None or value is pd.NA:
        return True
    try:
        return math.isnan(float(value))
    except (TypeError, ValueError):
        return True


def who(survey: str) -> str:
    """'children aged 8 to 11', 'care leavers' (from the codebook)."""
    return str(load_codebook().surveys[survey]["short"])


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def quantity(pct: float, group: str) -> str:
    """'about 1 in 6 care leavers', 'half of care leavers', 'almost all children ...'."""
    phrase = in_n(pct)
    if phrase in ("half", "about half"):
        return f"{phrase} of {group}"
    if phrase == "none":
        return f"none of the {group}"
    return f"{phrase} {group}"


def infinitive(measure_id: str) -> str:
    """The measure's statement after 'to': 'know who their ...', 'be unhappy with ...'.

    Statements in the codebook complete "<N in M> <children> ...", so they
    start with a plural verb; reflection sentences need "less likely to ...".
    """
    statement = load_codebook().measure(measure_id).statement
    if statement.startswith("of those with worries "):
        return statement.removeprefix("of those with worries ")
    if statement.startswith("can "):
        return "be able to " + statement.removeprefix("can ")
    first, _, rest = statement.partition(" ")
    return f"{_VERB_INFINITIVE.get(first, first)} {rest}".strip()


def _groups(surveys: Sequence[str]) -> str:
    names = [who(s) for s in surveys]
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def _more_or_fewer(row: Mapping[str, Any]) -> str:
    """'More' or 'Fewer': against the case-mix expectation the flag is about, where there is one."""
    ref = row.get("expected_pct")
    ref = row["others_pct"] if _missing(ref) else ref
    return "More" if float(row["pct"]) > float(ref) else "Fewer"


def comparison_sentence(row: Mapping[str, Any], lead: str = "") -> str:
    """A bright spot or an area for improvement, in one sentence.

    e.g. "To improve: fewer children aged 8 to 11 here than in other
    authorities know who their social worker or personal adviser is: about
    half (52%) against 68% across all authorities." ``lead`` ("Going well", "To improve")
    says which it is in words, so "more" or "fewer" never has to be read
    against the indicator's direction.
    """
    measure = load_codebook().measure(str(row["indicator"]))
    group = who(str(row["survey"]))
    statement = measure.statement
    if statement.startswith("of those with worries "):
        group = f"{group} with worries"
        statement = statement.removeprefix("of those with worries ")
    pct = float(row["pct"])
    more = _more_or_fewer(row)
    if lead:
        more = f"{lead}: {more.lower()}"
    expected = expected_phrase(row.get("expected_pct"), str(row["survey"]))
    sure = CERTAINTY_WORDS.get(str(row.get("certainty") or ""), "")
    return (
        f"{more} {group} here than in other authorities {statement}: "
        f"{in_n(pct)} ({fmt_pct(pct)}) against {fmt_pct(row['others_pct'])} across all "
        "authorities" + (f" and {expected}" if expected else "")
        + (f"; {sure}" if sure else "") + "."
    )


def wellbeing_sentence(row: Mapping[str, Any], extra: Mapping[str, Any] | None = None) -> str:
    """Low overall well-being for one age group against others (and the general population).

    ``extra`` is an optional second measure with a general-population figure
    (for care leavers, low life satisfaction) added to the same sentence.
    """
    measure = load_codebook().measure(str(row["indicator"]))
    group = who(str(row["survey"]))
    pct = float(row["pct"])
    flag = str(row.get("flag"))
    compare = comparison_phrase(flag if flag in ("better", "worse") else "similar",
                                row.get("others_pct"), row.get("expected_pct"),
                                str(row["survey"]), str(row.get("certainty") or ""),
                                " across all authorities")
    text = f"{_cap(quantity(pct, group))} ({fmt_pct(pct)}) {measure.statement}, {compare}"
    if extra is not None and not _missing(extra.get("pct")) and not _missing(
        extra.get("genpop_pct")
    ):
        em = load_codebook().measure(str(extra["indicator"]))
        text += (
            f", and {in_n(float(extra['pct']))} ({fmt_pct(extra['pct'])}) {em.statement}, "
            f"against {fmt_pct(extra['genpop_pct'])} of young people of the same age in general"
        )
    return text + "."


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


def family_size(rows: pd.DataFrame) -> int:
    """How many results the briefing's chance control covered (0 when not known)."""
    if "family_size" not in rows.columns or rows.empty:
        return 0
    sizes = pd.to_numeric(rows["family_size"], errors="coerce").dropna()
    return int(sizes.max()) if not sizes.empty else 0


def chance_sentence(rows: pd.DataFrame) -> str:
    """How many flags chance alone would give, for the results of this briefing.

    The flags come from ``analysis.fairness``: the false discovery rate is
    held at ``FDR`` across every result of the briefing, so when nothing
    really differs at most about 1 briefing in 20 shows any flag at all;
    testing each result on its own at 5% would flag about 1 in 20 results.
    """
    from analysis.fairness import FDR

    m = family_size(rows)
    if m == 0:
        return ""
    per_test = FDR * m
    alone = (f"about {per_test:.0f}" if per_test >= 1.5 else "about 1" if per_test >= 0.5
             else "fewer than 1")
    return (f"A result is called better or worse only when chance is an unlikely "
            f"explanation across all {m} results in this briefing (including the changes "
            f"since the last survey): if nothing really differed here, chance alone would "
            f"give no flag at all in about {round(1 / FDR) - 1} briefings out of "
            f"{round(1 / FDR)}, where testing each result on its own would flag {alone} "
            f"of them.")


def _count_word(n: int) -> str:
    """Counts as numerals (GOV.UK style), with 'none' for zero."""
    return "none" if n == 0 else str(n)


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
        observation = (f"{_cap(group)} here are {likely} likely than in other authorities "
                       f"to {infinitive(mid)}.")
        question = QUESTIONS.get(mid, "What do children say would make the difference here?")
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
    from analysis.disclosure import display_table

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
        out["Who"] = [_cap(who(s)) for s in rows["survey"]]
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


def _pct_display(rows: pd.DataFrame) -> list[str]:
    return [fmt_pct(p) if not s else "[c]" for p, s in zip(rows["pct"], rows["suppressed"],
                                                           strict=True)]


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
    comparators: pd.DataFrame | None = None  # analysis.comparators: neighbours and region
    #: The national comparison tables (internal, unsuppressed): only for the spine chart,
    #: which reads every authority's *published* figures from them (``analysis.glance``).
    tables: Mapping[str, pd.DataFrame] | None = field(default=None, repr=False)
    power: pd.DataFrame | None = None  # indicators.POWER_COLUMNS rows of this authority-year
    #: Approved, redacted quotes (analysis.comments) and comments per theme (>= 10 only).
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


def resolve_data(data: str | Path | None) -> Path:
    """The extract to read: ``data`` if given, else the demo data, else the test fixture."""
    if data:
        path = Path(data)
        # A relative path is tried from the working directory, then from the
        # project root, so golden notebooks can name the fixture portably.
        if not path.is_absolute() and not path.exists() and (PROJECT_ROOT / path).exists():
            return PROJECT_ROOT / path
        return path
    for candidate in DEFAULT_DATA:
        if candidate.exists():
            return candidate
    raise FileNotFoundError(
        "no survey extract found: run `make data` (writes data/synthetic/extract.csv) "
        "or pass the `data` parameter"
    )


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file: the data fingerprint printed in the provenance note."""
    h = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _stamp(path: Path) -> tuple[str, float, int]:
    st = path.stat()
    return (str(path.resolve()), st.st_mtime, st.st_size)


@lru_cache(maxsize=4)
def _national_from_extract(stamp: tuple[str, float, int]) -> dict[str, Any]:
    """Validate the extract and compute the national tables (standalone runs only)."""
    from analysis import indicators
    from analysis.validation import load_valid_extract

    df = load_valid_extract(Path(stamp[0]))
    return {"tables": indicators.national_tables(df), "df": df}


def national_from_extract(path: str | Path) -> dict[str, Any]:
    """National tables computed from an extract, cached per process on the file's stamp."""
    return _national_from_extract(_stamp(Path(path)))


@lru_cache(maxsize=16)
def _read_csv_cached(stamp: tuple[str, float, int]) -> pd.DataFrame:
    return pd.read_csv(stamp[0], keep_default_na=False, na_values=[""])  # "NA" is a name


def read_optional_csv(path: Path) -> pd.DataFrame | None:
    """A CSV read once per process (keyed on its stamp), or None when absent."""
    if not path.exists():
        return None
    return _read_csv_cached(_stamp(path))


def first_authority(tables: Mapping[str, pd.DataFrame]) -> str:
    """The first authority of the data, in the build's order (sorted by slug)."""
    comp = tables["comparisons"]
    names = comp.groupby("la_code")["la_name"].first()
    return min(names.index, key=lambda c: (authority_slug(str(names[c]), str(c)), str(c)))


def answers_by_survey(tables: Mapping[str, pd.DataFrame], la_code: str,
                      survey_year: int) -> pd.DataFrame:
    """Questionnaires returned per survey, with counts of 1-4 suppressed (<NA>).

    The total row is protected too (``protect_count_table``): a lone small
    survey could otherwise be recovered as the total minus the others.
    """
    from analysis.disclosure import protect_count_table

    prof = tables["profile"]
    sel = prof[(prof["la_code"] == la_code) & (prof["survey_year"] == int(survey_year))
               & (prof["by"] == "total")]
    counts = sel.groupby("survey")["count"].sum()
    surveys = [s for s in load_codebook().surveys if s in counts.index]
    frame = pd.DataFrame({"answers": [int(counts[s]) for s in surveys]}, index=surveys)
    if frame.empty:
        return pd.DataFrame({"survey": [], "answers": []})
    table = protect_count_table(frame)
    out = table["answers"].rename_axis("survey").reset_index()
    out["survey"] = out["survey"].astype(str).replace({"Total": "total"})
    return out


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
    from analysis import indicators
    from analysis.comments import read_quotes_file

    extras: dict[str, pd.DataFrame | None] = {}
    if national_dir:
        folder = Path(national_dir)
        tables = indicators.read_national_tables(folder)
        extras = national_extras(folder, Path(reports_dir) if reports_dir else None)
        source = None
    else:
        source = resolve_data(data)
        tables = national_from_extract(source)["tables"]
        extras = standalone_extras(source, tables, reports_dir, data_hash)
    code = la_code or first_authority(tables)
    year = indicators.briefing_year(tables, code, survey_year)
    focus = extras.get("focus")
    if focus is not None and not focus.empty and "la_code" in focus.columns:
        focus = focus[focus["la_code"].astype(str) == code]
        if "survey_year" in focus.columns:
            focus = focus[focus["survey_year"].astype(int) == year]
    if not data_hash and source is not None:
        data_hash = build_data_hash(source)
    la_ind = indicators.la_indicators(tables, code, year, "indicator", extra=True)
    la_wb = indicators.la_indicators(tables, code, year, "wellbeing", extra=True)
    comparators = None
    if neighbours or region_codes:
        from analysis import comparators as cmp

        comparators = cmp.comparisons(tables, la_ind, la_wb, code, year,
                                      list(neighbours or []), list(region_codes or []))
    return Briefing(
        la_code=code,
        la_name=indicators.la_name(tables, code),
        survey_year=year,
        indicators=la_ind,
        wellbeing=la_wb,
        change=indicators.la_change(tables, code, year, extra=True),
        answers=answers_by_survey(tables, code, year),
        cohort_sizes={str(k): int(v) for k, v in (cohort_sizes or {}).items()},
        drivers=extras.get("drivers"),
        performance=extras.get("performance"),
        focus=focus,
        provenance={
            "data_hash": data_hash or "not recorded",
            "code_version": code_version or "not recorded (not built by make reports)",
            "build_date": build_date or "not recorded (not built by make reports)",
        },
        figures=figures_folder(out_dir, authority_slug(indicators.la_name(tables, code), code)),
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
    from analysis import indicators

    if "breakdowns" not in tables:
        return None
    rows = indicators.la_breakdowns(dict(tables), la_code, year, by="gender", kind="wellbeing")
    return rows[(rows["indicator"] == "low_overall_wellbeing")
                & rows["group"].isin(["girl", "boy"])]


def figures_folder(out_dir: str | Path | None, name: str = "briefing") -> Path:
    """Where figures go: ``<out_dir>/figures``; None means a temporary folder.

    The golden notebooks run with ``out_dir=None`` so nbval leaves no files
    in the repository; the folder is ``<tmp>/wb-figures-<name>`` (the same
    every run, so re-blessing does not churn the golden files, and masked
    by the nbval sanitiser anyway).
    """
    if out_dir is None:
        import tempfile

        return Path(tempfile.gettempdir()) / f"wb-figures-{name}" / "figures"
    return Path(out_dir) / "figures"


def national_extras(folder: Path, reports_dir: Path | None) -> dict[str, pd.DataFrame | None]:
    """Drivers, model performance and focus areas written by the national stage."""
    drivers = read_optional_csv(folder / "drivers_full.csv")
    if drivers is None and reports_dir is not None:
        drivers = read_optional_csv(reports_dir / "national" / "drivers.csv")
    return {
        "drivers": drivers,
        "performance": read_optional_csv(folder / "performance.csv"),
        "focus": read_optional_csv(folder / "focus.csv"),
    }


def build_data_hash(path: str | Path) -> str:
    """The build's fingerprint of an extract (``analysis.build``: no mapping file).

    Standalone runs key the driver-model cache with it, so a notebook run in
    JupyterLab reuses the fit of an earlier ``make reports`` on the same data
    (and a later build reuses the notebook's).
    """
    from analysis.build import file_hash, text_hash

    return text_hash(file_hash(Path(path)), "")


def standalone_extras(source: Path, tables: Mapping[str, pd.DataFrame],
                      reports_dir: str | Path | None,
                      data_hash: str = "") -> dict[str, pd.DataFrame | None]:
    """Drivers, performance and focus areas for a standalone run.

    The driver models come from the build's cache
    (``analysis.build.build_dir(reports_dir) / "models"``, outside the reports
    folder; default ``reports/``): fitted once
    (about a minute on the demonstration data), then read back. Missing
    modules leave the sections saying the results are not available.
    """
    reports = Path(reports_dir) if reports_dir else PROJECT_ROOT / "reports"
    try:
        return _standalone_extras_cached(_stamp(source), str(reports), data_hash)
    except ImportError:
        return {}


@lru_cache(maxsize=4)
def _standalone_extras_cached(stamp: tuple[str, float, int], reports_dir: str,
                              data_hash: str) -> dict[str, pd.DataFrame | None]:
    from analysis import drivers as drv
    from analysis.build import build_dir

    national = _national_from_extract(stamp)
    key = data_hash or build_data_hash(stamp[0])
    results = drv.cached_national_models(national["df"], build_dir(Path(reports_dir)) / "models",
                                         key)
    out: dict[str, pd.DataFrame | None] = {
        "drivers": results.drivers, "performance": results.performance, "focus": None}
    try:
        from analysis import focus as foc
    except ImportError:
        return out
    out["focus"] = foc.all_focus_areas(results.drivers, national["tables"]["comparisons"])
    return out


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
        shown = "[c]" if _missing(count) else str(int(count))
        row = {"Survey": "All surveys" if survey == "total" else cb.surveys[survey]["name"],
               "Answers": shown}
        if b.cohort_sizes:
            size = b.cohort_sizes.get(survey) if survey != "total" else (
                sum(b.cohort_sizes.values()) if set(b.cohort_sizes) >= set(
                    s for s in b.answers["survey"] if s != "total") else None)
            if size and not _missing(count):
                rate = 100 * int(count) / size
                row["Response rate"] = f"{fmt_pct(rate)} of {size}" + (
                    " (low)" if rate < LOW_RESPONSE else "")
                if rate < LOW_RESPONSE and survey != "total":
                    low.append(cb.surveys[survey]["name"])
                if rate > 100:
                    over.append(cb.surveys[survey]["name"] if survey != "total" else "all")
            else:
                row["Response rate"] = "[c]" if size and _missing(count) else "[x]"
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


#: Below this response rate (%) the briefing cautions that results may not speak for all.
LOW_RESPONSE = 30.0


def low_response_text(surveys: Sequence[str]) -> str:
    """The caution shown when fewer than 3 in 10 eligible children answered a survey."""
    names = ", ".join(surveys[:-1]) + (" and " if len(surveys) > 1 else "") + surveys[-1]
    return (f"Fewer than 3 in 10 of the children eligible answered *{names}*. Those who "
            "answered may not speak for all of them: read these results with caution, and "
            "ask how more children can be helped to take part next time.")


def power_sentence(power: pd.DataFrame | None) -> str:
    """What differences this authority's numbers of answers can detect, per survey.

    e.g. "How big a difference can be told from chance here: with about 30
    answers from young people aged 11 to 17, only differences from other
    authorities of about 25 percentage points or more, ...". So that
    "similar" is not read as "no problem" where numbers are small.
    """
    if power is None or power.empty:
        return ""
    parts = []
    order = {s: i for i, s in enumerate(load_codebook().surveys)}
    recs = sorted(power.to_dict("records"), key=lambda r: order.get(str(r["survey"]), 99))
    for rec in recs:
        survey = str(rec["survey"])
        if survey not in order or _missing(rec.get("min_difference_pp")):
            continue
        n = int(rec["n"])
        size = float(rec["min_difference_pp"])
        answers = f"about {n}" if n >= 10 else "fewer than 10"
        if n < 10:
            parts.append(f"{answers} answers from {who(survey)}, too few to compare")
        else:
            parts.append(f"{answers} answers from {who(survey)}, differences of about "
                         f"{math.floor(size + 0.5):d} percentage points or more")
    if not parts:
        return ""
    return ("**How big a difference can be told from chance here.** For a typical result, "
            "with " + "; with ".join(parts) + " would reliably show as better or worse. "
            "Smaller real differences may show as *similar*, so *similar* is not the same "
            "as *no problem*.")


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
        rec = {"Who": _cap(who(survey))}
        for group, word in (("girl", "Girls"), ("boy", "Boys")):
            hit = sel.loc[group] if group in sel.index else None
            ok = hit is not None and not bool(hit["suppressed"]) and not _missing(hit["pct"])
            rec[f"{word} here"] = fmt_pct(hit["pct"]) if ok else "[c]"
            rec[f"{word}, all authorities"] = (fmt_pct(hit["others_pct"])
                                       if ok and not _missing(hit["others_pct"]) else "[c]")
        out.append(rec)
    return pd.DataFrame(out) if out else None


def chart_markdown(b: Briefing, rows: pd.DataFrame, domain: str | None, name: str,
                   title: str, caption: str) -> str:
    """Draw one LA-against-others chart and return its Markdown (with alt text)."""
    from analysis.charts import alt_text, figure_markdown, la_vs_others_chart

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


AGE_TAGS = {"ylyc_4_7": "4 to 7", "ylyc_8_11": "8 to 11", "ylyc_11_17": "11 to 17"}


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
            ages = [AGE_TAGS.get(s, who(s)) for s in surveys]
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
    from analysis.comments import allocate_quotes, quote_markdown

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
    (:mod:`analysis.comments`). Without approvals no comment's words appear.
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


def driver_phrase(effect: Any) -> str:
    """'about 0.8 points higher' / 'about 0.4 points lower' (well-being out of 10)."""
    if _missing(effect):
        return ""
    size = abs(float(effect))
    if size < 0.05:
        return "little difference"
    return f"about {size:.1f} points {'higher' if float(effect) > 0 else 'lower'}"


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
            phrase = driver_phrase(rec.get("effect"))
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
                from analysis.drivers import pooled_phrase

                known = [t for t in named[0] if t in load_codebook().surveys]
                shared = f" ({pooled_phrase(survey, known)})" if known else ""
            lines.append(f"- **{_cap(who(survey))}**{shared}: {'; '.join(items)}.")
    if lines:
        text += ["", "The experiences most strongly associated with well-being, most "
                 "important first (and where this authority's result differs from other "
                 "authorities):", "", *lines]
    return "\n".join(text)


def focus_markdown(b: Briefing) -> str:
    """The authority's focus areas with practice examples, in a Quarto tip callout.

    A focus area (``analysis.focus``) is a national driver of well-being on
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
        fresh = [e for e in _practice_examples(rec) if e not in shown][:MAX_EXAMPLES_SHOWN]
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


def _practice_examples(rec: Mapping[str, Any]) -> list[str]:
    """Practice examples of a focus row (``practice_1..3``, else ``practice``)."""
    out = []
    for key in ("practice_1", "practice_2", "practice_3"):
        value = rec.get(key)
        if isinstance(value, str) and value.strip():
            out.append(value.strip())
    if not out:
        value = rec.get("practice")
        if isinstance(value, str) and value.strip():
            out.append(value.strip())
    return out


def callout(kind: str, title: str, body: str) -> str:
    """A Quarto callout block (rendered as a styled box by Quarto and by render.py).

    The title is an attribute rather than a heading inside the box, so the
    document's heading levels stay in order for screen readers.
    """
    safe = title.replace('"', "'")
    return f'::: {{.callout-{kind} title="{safe}"}}\n{body}\n:::'


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
            "Who": [_cap(who(s)) for s in moved["survey"]],
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


def performance_sentence(perf: pd.DataFrame | None) -> str:
    """How well the national model predicts well-being for authorities it has not seen."""
    base = ("One linear model per survey relates each child's overall well-being (0 to 10) "
            "to their answers, comparing children within the same authority, with age, "
            "gender, placement and survey year taken into account and blank answers filled "
            "by multiple imputation, fitted on every authority's answers together; "
            "experiences are ranked by their share of the differences in well-being the "
            "model accounts for, allowing for experiences that go together.")
    if perf is None or perf.empty or "cv_r2" not in perf.columns:
        return base + " Its cross-validated performance is reported with the model results."
    parts = []
    cb = load_codebook()
    for rec in perf.to_dict("records"):
        survey = str(rec.get("survey", ""))
        if _missing(rec.get("cv_r2")):
            continue
        name = who(survey) if survey in cb.surveys else survey
        part = f"{name} R² {float(rec['cv_r2']):.2f}"
        if not _missing(rec.get("cv_auc")):
            part += f", low well-being AUC {float(rec['cv_auc']):.2f}"
        parts.append(part)
    if not parts:
        return base + " There were too few authorities to cross-validate it."
    text = (base + " Checked on authorities it had not seen (cross-validation grouped by "
            "authority), the share of the differences in well-being between children that "
            f"it explains (R², at most 1) was: {'; '.join(parts)}.")
    if (perf["cv_r2"].dropna() <= 0).any():
        text += (" An R² at or below zero means the model predicts no better than the "
                 "average for that group (too few answers): read its ranking with caution.")
    best = perf["cv_r2"].dropna()
    if len(best) and best.max() > 0:
        text += (f" Most of the differences in well-being are not explained: even for the "
                 f"best-predicted group, about {100 - int(round(100 * best.max()))} in every "
                 "100 parts go with things the survey does not ask about, or chance.")
    return text


def plain_text(markdown_text: str) -> str:
    """Markdown reduced to words (for tests and word counts): markup stripped."""
    text = re.sub(r"!\[[^\]]*\]\([^)]*\)(\{[^}]*\})?", " ", markdown_text)
    text = re.sub(r"[*_`#>|]", " ", text)
    return re.sub(r"\s+", " ", text).strip()
