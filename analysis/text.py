"""Numbers in plain English for the briefings.

Why: strategic briefings are read by councillors, managers and young people's
advocates, not statisticians. "About 1 in 6" is understood and remembered
where "16.4% (95% CI 11.2-23.4)" is not, so every headline figure is said
as a natural frequency, with the exact percentage beside the comparison.
The rules are here, in one tested place, so the same percentage is always
said the same way.

Rules for ``in_n``:

* 0 -> "none", 100 -> "all"; 97% or more -> "almost all"; under 3% ->
  "fewer than 1 in 30";
* 45-55% -> "about half" ("half" when it is exactly 50%);
* otherwise the nearest of "1 in m" (m = 3..10, 12, 15, 20, 25, 30),
  "k in 10", "2 in 3" and "3 in 4"; said plainly within half a percentage
  point, with "about" within 2.5 points, else "more than" / "almost"
  (85% -> "more than 8 in 10");
* 93-97% -> "more than 9 in 10" (a round "9 in 10" would undersell it, and
  "19 in 20" reads awkwardly).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from analysis.codebook import Codebook, load_codebook
from analysis.disclosure import MIN_BASE

#: Statements about a subgroup, e.g. "of those with worries get support with them".
_SUBGROUP = re.compile(r"^of those (with \w+) (.*)$")
#: Fractions people say: 1 in 3 .. 1 in 10, rounder ones below that, tenths, 2/3, 3/4.
_CANDIDATES: list[tuple[int, int]] = (
    [(1, m) for m in (3, 4, 5, 6, 7, 8, 9, 10, 12, 15, 20, 25, 30)]
    + [(k, 10) for k in range(1, 10)] + [(2, 3), (3, 4)]
)


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return math.isnan(float(value))
    except (TypeError, ValueError):
        return True


def fmt_pct(pct: float | None, decimals: int = 0) -> str:
    """'72%' (whole numbers by default: the sentences are for reading, the CSV is exact)."""
    if _is_missing(pct):
        return "[c]"
    value = float(pct)
    if decimals == 0:
        return f"{math.floor(value + 0.5):d}%"
    return f"{value:.{decimals}f}%"


def in_n(pct: float) -> str:
    """A percentage as a natural frequency: 'about 1 in 6', '7 in 10', 'almost all'."""
    if _is_missing(pct):
        raise ValueError("in_n needs a percentage, not a missing value")
    p = float(pct)
    if not 0 <= p <= 100:
        raise ValueError(f"percentage out of range: {pct}")
    if p == 0:
        return "none"
    if p == 100:
        return "all"
    if p >= 97:
        return "almost all"
    if p >= 93:
        return "more than 9 in 10"
    if p < 3:
        return "fewer than 1 in 30"
    if p == 50:
        return "half"
    if 45 <= p <= 55:
        return "about half"
    # Nearest simple fraction; ties go to the simpler (earlier) candidate.
    k, m = min(_CANDIDATES, key=lambda c: abs(100 * c[0] / c[1] - p))
    gap = p - 100 * k / m
    if abs(gap) <= 0.5:
        return f"{k} in {m}"
    if abs(gap) <= 2.5:
        return f"about {k} in {m}"
    return f"{'more than' if gap > 0 else 'almost'} {k} in {m}"


def _quantified(phrase: str, who: str) -> str:
    """Join a quantity and a group grammatically: '7 in 10 care leavers', 'half of care leavers'."""
    if phrase in ("half", "about half"):
        return f"{phrase} of {who}"
    if phrase == "none":
        return f"none of the {who}"
    return f"{phrase} {who}"


def who(survey: str, codebook: Codebook | None = None) -> str:
    """The group a survey speaks for, e.g. 'young people aged 11 to 17'."""
    cb = codebook or load_codebook()
    return str(cb.surveys[survey]["short"])


#: How sure a flag is (``analysis.fairness``: certainty 'clear' or 'likely'), in words.
CERTAINTY_WORDS = {
    "clear": "a clear difference",
    "likely": "probably a real difference, though less certain",
}


def casemix_words(survey: str) -> str:
    """What the case-mix expectation allows for: 'age and gender' (and disability for leavers)."""
    from analysis.fairness import CASEMIX_VARS, DEFAULT_CASEMIX

    names = {"age": "age", "gender": "gender", "disability": "disability"}
    parts = [names.get(v, v) for v in CASEMIX_VARS.get(survey, DEFAULT_CASEMIX)]
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def expected_phrase(expected_pct: float | None, survey: str) -> str:
    """'75% expected for children of the same age and gender' ('' when there is none)."""
    if _is_missing(expected_pct):
        return ""
    people = "young people" if survey in ("ylyc_11_17", "ylbc") else "children"
    return f"{fmt_pct(expected_pct)} expected for {people} of the same {casemix_words(survey)}"


def comparison_phrase(flag: str, others_pct: float | None, expected_pct: float | None = None,
                      survey: str = "", certainty: str = "", label: str = "") -> str:
    """'similar to other authorities (72%)', 'worse than other authorities (64%; 61% expected
    for children of the same age and gender), a clear difference'. ``label`` follows the
    comparator figure (e.g. ' across all authorities')."""
    inside = [fmt_pct(others_pct) + label] if not _is_missing(others_pct) else []
    if survey and expected_phrase(expected_pct, survey):
        inside.append(expected_phrase(expected_pct, survey))
    others = f" ({'; '.join(inside)})" if inside else ""
    sure = CERTAINTY_WORDS.get(str(certainty), "")
    tail = f", {sure}" if sure and flag in ("better", "worse") else ""
    if flag == "better":
        return f"better than other authorities{others}{tail}"
    if flag == "worse":
        return f"worse than other authorities{others}{tail}"
    return f"similar to other authorities{others}"


def sentence(
    row: Mapping[str, Any] | Any,
    codebook: Codebook | None = None,
    show_pct: bool = False,
    genpop: bool = True,
) -> str:
    """One plain-English sentence for an indicators.csv / wellbeing.csv row.

    e.g. "7 in 10 young people aged 11 to 17 trust the adults they live with
    all or most of the time, similar to other authorities (72%)."
    ``show_pct`` adds the authority's own percentage after the frequency;
    ``genpop`` adds the general-population figure when there is one. A
    suppressed row says so instead of giving a figure.
    """
    cb = codebook or load_codebook()
    get = row.get if hasattr(row, "get") else lambda k, d=None: getattr(row, k, d)
    measure = cb.measure(str(get("indicator")))
    group = who(str(get("survey")), cb)
    suppressed = str(get("suppressed")).lower() in ("true", "1") or get("flag") == "suppressed"
    if suppressed or _is_missing(get("pct")):
        return _suppressed_sentence(group, measure.statement, get("n"))
    pct = float(get("pct"))
    compared = comparison_phrase(str(get("flag")), get("others_pct"), get("expected_pct"),
                                 str(get("survey")), str(get("certainty") or ""))
    own = f" ({fmt_pct(pct)})" if show_pct else ""
    sub = _SUBGROUP.match(measure.statement)
    if sub:  # "of those with worries get support" -> "Of <group> with worries, 7 in 10 get ..."
        text = f"of {group} {sub.group(1)}, {in_n(pct)}{own} {sub.group(2)}, {compared}"
    else:
        text = f"{_quantified(in_n(pct), group)}{own} {measure.statement}, {compared}"
    gp = get("genpop_pct")
    if genpop and not _is_missing(gp):
        text += f"; in the general population the figure is {fmt_pct(gp)}"
    return _capitalise(text) + "."


def _suppressed_sentence(group: str, statement: str, n: Any) -> str:
    """Why a row gives no figure (``analysis.disclosure``), without a figure.

    A base under ``MIN_BASE`` is said as such. A row hidden although its base
    is large enough may be hidden for a small number on either side of the
    split, or to protect another hidden figure; saying which would narrow it,
    so the sentence says only that the numbers are too small to show.
    """
    if _is_missing(n) or float(n) < MIN_BASE:
        return (f"Fewer than {MIN_BASE} {group} answered, too few to report whether they "
                f"{_base_form(statement)}.")
    return (f"How many {group} {_base_form(statement)} is not shown: the numbers are small "
            "enough to identify children.")


def _base_form(statement: str) -> str:
    """The statement without a leading 'of those with ...' (statements are already plural)."""
    sub = _SUBGROUP.match(statement)
    return sub.group(2) if sub else statement


def _capitalise(text: str) -> str:
    return text[:1].upper() + text[1:] if text else text


def summary_line(name: str, year: int, rows: Any, noun: str = "indicator") -> str:
    """'Northbridge 2025: 31 indicators, 4 better, 2 worse, 3 suppressed'."""
    flags = list(rows["flag"])
    total = len(flags)
    return (f"{name} {year}: {total} {noun}{'s' if total != 1 else ''}, "
            f"{flags.count('better')} better, {flags.count('worse')} worse, "
            f"{flags.count('suppressed')} suppressed")


def markdown_table(frame: Any, index: bool = False) -> str:
    """A pipe table (GitHub / pandoc Markdown) of a small frame, cells as text.

    Used for notebook tables: Markdown renders in JupyterLab and in the
    briefing renderers alike, and stores once (an HTML table would store an
    HTML and a plain-text copy of every cell).
    """
    table = frame.reset_index() if index else frame

    def cell(value: Any) -> str:
        text = "" if value is None or (isinstance(value, float) and math.isnan(value)) \
            else str(value)
        return text.replace("|", "\\|").replace("\n", " ")

    header = [cell(c) for c in table.columns]
    numeric = [
        all(_looks_numeric(v) for v in table[c]) and len(table) > 0 for c in table.columns
    ]
    lines = ["| " + " | ".join(header) + " |",
             "| " + " | ".join("---:" if n else "---" for n in numeric) + " |"]
    for row in table.itertuples(index=False):
        lines.append("| " + " | ".join(cell(v) for v in row) + " |")
    return "\n".join(lines)


def _looks_numeric(value: Any) -> bool:
    text = str(value).strip()
    if text in ("[c]", "[x]", "", "nan", "None", "<NA>"):
        return True
    try:
        float(text.rstrip("%"))
        return True
    except ValueError:
        return False
