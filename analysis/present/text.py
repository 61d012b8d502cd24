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
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from analysis.data.codebook import Codebook, load_codebook
from analysis.methods.disclosure import COMPARATOR_STEPS, MIN_BASE, SUPPRESSION_RULE_TEXT
from analysis.methods.drivers import (
    CORRELATED,
    DISAGREE_RANKS,
    DISAGREE_TOP,
    POOL_PARTNERS,
    RANK_UNSTABLE,
    SHARED_NOTE_SHARE,
    DriverResults,
)
from analysis.methods.fairness import CASEMIX_VARS, DEFAULT_CASEMIX, FDR, family_size
from analysis.methods.focus import practice_examples
from analysis.methods.funnel import Funnel

#: Statements about a subgroup, e.g. "of those with worries get support with them".
_SUBGROUP = re.compile(r"^of those (with \w+) (.*)$")
#: Fractions people say: 1 in 3 .. 1 in 10, rounder ones below that, tenths, 2/3, 3/4.
_CANDIDATES: list[tuple[int, int]] = (
    [(1, m) for m in (3, 4, 5, 6, 7, 8, 9, 10, 12, 15, 20, 25, 30)]
    + [(k, 10) for k in range(1, 10)] + [(2, 3), (3, 4)]
)


def is_missing(value: Any) -> bool:
    """True for None, pandas' NA, NaN and anything that is not a number.

    The one test of "no figure here" for every sentence, table and chart.
    """
    if value is None or value is pd.NA:
        return True
    try:
        return math.isnan(float(value))
    except (TypeError, ValueError):
        return True


def fmt_pct(pct: float | None, decimals: int = 0) -> str:
    """'72%' (whole numbers by default: the sentences are for reading, the CSV is exact)."""
    if is_missing(pct):
        return "[c]"
    value = float(pct)
    if decimals == 0:
        return f"{math.floor(value + 0.5):d}%"
    return f"{value:.{decimals}f}%"


def in_n(pct: float) -> str:
    """A percentage as a natural frequency: 'about 1 in 6', '7 in 10', 'almost all'."""
    if is_missing(pct):
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


def age_words(survey: str, style: str = "range") -> str:
    """A survey's ages, from the codebook (its one source), in the form a place needs.

    ``range``: '4 to 7' (care leavers: 'care leavers'), for lists of groups;
    ``tag``: 'ages 4-7', for chart labels; ``aged``: 'aged 4 to 7' (care
    leavers: 'who have left care'), for the young people's version.
    """
    info = load_codebook().surveys[survey]
    if info.get("group") == "leavers":
        return "who have left care" if style == "aged" else "care leavers"
    low, high = info["age"]
    return {"range": f"{low} to {high}", "tag": f"ages {low}-{high}",
            "aged": f"aged {low} to {high}"}[style]


#: How sure a flag is (``analysis.methods.fairness``: certainty 'clear' or 'likely'), in words.
CERTAINTY_WORDS = {
    "clear": "a clear difference",
    "likely": "probably a real difference, though less certain",
}


def casemix_words(survey: str) -> str:
    """What the case-mix expectation allows for: 'age and gender' (and disability for leavers)."""

    names = {"age": "age", "gender": "gender", "disability": "disability"}
    parts = [names.get(v, v) for v in CASEMIX_VARS.get(survey, DEFAULT_CASEMIX)]
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def expected_phrase(expected_pct: float | None, survey: str) -> str:
    """'75% expected for children of the same age and gender' ('' when there is none)."""
    if is_missing(expected_pct):
        return ""
    people = "young people" if survey in ("ylyc_11_17", "ylbc") else "children"
    return f"{fmt_pct(expected_pct)} expected for {people} of the same {casemix_words(survey)}"


def comparison_phrase(flag: str, others_pct: float | None, expected_pct: float | None = None,
                      survey: str = "", certainty: str = "", label: str = "") -> str:
    """'similar to other authorities (72%)', 'worse than other authorities (64%; 61% expected
    for children of the same age and gender), a clear difference'. ``label`` follows the
    comparator figure (e.g. ' across all authorities')."""
    inside = [fmt_pct(others_pct) + label] if not is_missing(others_pct) else []
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
    if suppressed or is_missing(get("pct")):
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
    if genpop and not is_missing(gp):
        text += f"; in the general population the figure is {fmt_pct(gp)}"
    return cap(text) + "."


def _suppressed_sentence(group: str, statement: str, n: Any) -> str:
    """Why a row gives no figure (``analysis.methods.disclosure``), without a figure.

    A base under ``MIN_BASE`` is said as such. A row hidden although its base
    is large enough may be hidden for a small number on either side of the
    split, or to protect another hidden figure; saying which would narrow it,
    so the sentence says only that the numbers are too small to show.
    """
    if is_missing(n) or float(n) < MIN_BASE:
        return (f"Fewer than {MIN_BASE} {group} answered, too few to report whether they "
                f"{_base_form(statement)}.")
    return (f"How many {group} {_base_form(statement)} is not shown: the numbers are small "
            "enough to identify children.")


def _base_form(statement: str) -> str:
    """The statement without a leading 'of those with ...' (statements are already plural)."""
    sub = _SUBGROUP.match(statement)
    return sub.group(2) if sub else statement




def summary_line(name: str, year: int, rows: Any, noun: str = "indicator") -> str:
    """'Northbridge 2025: 31 indicators, 4 better, 2 worse, 3 suppressed'."""
    flags = list(rows["flag"])
    total = len(flags)
    return (f"{name} {year}: {total} {noun}{'s' if total != 1 else ''}, "
            f"{flags.count('better')} better, {flags.count('worse')} worse, "
            f"{flags.count('suppressed')} suppressed")


# ---------------------------------------------------------------- words and charts
def effect_phrase(effect: Any, verb: str = "associated with", full: bool = True) -> str:
    """How big a driver's association with well-being is: one wording for every document.

    ``full``: 'associated with about 0.8 points higher well-being out of 10'
    (``verb`` 'goes with' in a focus area's reason); otherwise the amount
    alone, 'about 0.8 points higher' or 'little difference', for tables.
    """
    if is_missing(effect) or not math.isfinite(float(effect)):
        return f"{verb} no estimated difference in well-being" if full else ""
    size = abs(float(effect))
    if size < 0.05:
        return (f"{verb} little difference in well-being (under 0.1 points out of 10)" if full
                else "little difference")
    amount = f"about {size:.1f} points {'higher' if float(effect) > 0 else 'lower'}"
    return f"{verb} {amount} well-being out of 10" if full else amount


def describe_models(results: DriverResults) -> str:
    """A few sentences on what was fitted, on how many answers, and the pooling."""
    cb = load_codebook()
    info = results.info
    years = info.get("years", [])
    span = f"{years[0]}" if len(years) == 1 else f"{years[0]} to {years[-1]}" if years else "-"
    lines = [
        f"National driver models fitted on {info.get('n', 0):,} answers with a well-being "
        f"score from {info.get('n_authorities', 0)} authorities (survey years {span}).",
        "Outcome: overall well-being (0 to 10). Each effect is the difference in average "
        "well-being, in points out of 10, that goes with meeting the indicator among "
        "children of the same authority, other indicators and the controls held constant "
        "(blank answers filled by multiple imputation). Importance is each experience's "
        "share of the differences in well-being the model accounts for, allowing for "
        "experiences that go together. Associations, not causes.",
    ]
    for m in results.models.to_dict("records"):
        names = ", ".join(cb.surveys[s]["short"] for s in str(m["surveys"]).split())
        cv = (f"{m['folds']}-fold cross-validation grouped by authority"
              if m["folds"] else "too few authorities for cross-validation")
        lines.append(f"- {m['model']} ({names}): {m['n']:,} answers, {m['n_authorities']} "
                     f"authorities, {cv}; {m['reason']}.")
    for rec in results.performance.to_dict("records"):
        sentence = unexplained_sentence(rec.get("cv_r2"), str(rec["survey"]))
        if sentence:
            lines.append(f"- {sentence}")
    return "\n".join(lines)


def pooled_phrase(survey: str, partners: list[str]) -> str:
    """'effect shared with children aged 8 to 11 (one model for both: ...)', never silent."""
    surveys = load_codebook().surveys
    thin = [t for t in [survey, *partners] if t in POOL_PARTNERS]
    who_thin = " and ".join(surveys[t]["short"] for t in thin) or "one of them"
    return ("effect shared with " + " and ".join(surveys[t]["short"] for t in partners)
            + f" (one model for both: {who_thin} had too few answers for a model of "
            "their own)")


def unexplained_sentence(cv_r2: Any, survey: str) -> str:
    """How much of the differences in well-being the model does *not* account for, plainly.

    Cross-validated R^2 (authorities the model has not seen), in words a
    director reads: "about 14 in every 100" and, above all, the rest.
    """
    if cv_r2 is None or pd.isna(cv_r2):
        return ""
    who = load_codebook().surveys[survey]["short"] if survey in load_codebook().surveys \
        else survey
    r2 = float(cv_r2)
    if r2 <= 0.005:
        return (f"For {who}, the model predicts well-being no better than the average "
                "does, for authorities it has not seen: read its ranking with caution.")
    share = max(1, int(round(100 * r2)))
    return (f"For {who}, the experiences in the model account for about {share} in every "
            f"100 parts of the differences in well-being between children (checked on "
            f"authorities the model had not seen); the other {100 - share} go with things "
            "the survey does not ask about, or chance.")


def driver_note(row: Mapping[str, Any]) -> str:
    """Caveats a reader of the ranking should see beside each driver.

    Ranking disagreements with the gradient-boosting check are noted only
    where one of the two ranks is in the top ``DISAGREE_TOP``: among drivers
    with no real association the order is noise under either method.
    """
    notes = []
    lo, hi = row["ci_low"], row["ci_high"]
    rank = int(row["rank"])
    if not (np.isfinite(lo) and np.isfinite(hi)):
        notes.append("no interval")
    elif lo <= 0 <= hi:
        notes.append("95% interval includes zero")
        if (rank <= DISAGREE_TOP and row.get("importance_share", 0) >= SHARED_NOTE_SHARE
                and row.get("max_correlation", 0) >= CORRELATED):
            notes.append(f"moves with {row['most_correlated']} (r = "
                         f"{row['max_correlation']:.2f}): its importance may be variance it "
                         "shares with that item, its own association could be zero")
    if row.get("pooled_with"):
        notes.append(pooled_phrase(row["survey"], row["pooled_with"].split()))
    rl, rh = row.get("rank_low"), row.get("rank_high")
    if (rl is not None and np.isfinite(rl) and rh - rl >= RANK_UNSTABLE
            and rank <= DISAGREE_TOP):
        notes.append(f"rank uncertain (ranks {int(rl)} to {int(rh)} in the bootstrap)")
    pr = row.get("perm_rank")
    if (pr is not None and not pd.isna(pr) and abs(int(pr) - rank) >= DISAGREE_RANKS
            and min(int(pr), rank) <= DISAGREE_TOP):
        notes.append(f"ranked {rank} by the linear model but {int(pr)} by the "
                     "gradient-boosting check")
    return "; ".join(notes)


_VERB_INFINITIVE = {"are": "be", "had": "have had", "chose": "choose", "felt": "have felt"}


def cap(text: str) -> str:
    """The text with its first letter a capital (the rest untouched)."""
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
    ref = row["others_pct"] if is_missing(ref) else ref
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
    text = f"{cap(quantity(pct, group))} ({fmt_pct(pct)}) {measure.statement}, {compare}"
    if extra is not None and not is_missing(extra.get("pct")) and not is_missing(
        extra.get("genpop_pct")
    ):
        em = load_codebook().measure(str(extra["indicator"]))
        text += (
            f", and {in_n(float(extra['pct']))} ({fmt_pct(extra['pct'])}) {em.statement}, "
            f"against {fmt_pct(extra['genpop_pct'])} of young people of the same age in general"
        )
    return text + "."


def chance_sentence(rows: pd.DataFrame) -> str:
    """How many flags chance alone would give, for the results of this briefing.

    The flags come from ``analysis.methods.fairness``: the false discovery rate is
    held at ``FDR`` across every result of the briefing, so when nothing
    really differs at most about 1 briefing in 20 shows any flag at all;
    testing each result on its own at 5% would flag about 1 in 20 results.
    """

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
        if survey not in order or is_missing(rec.get("min_difference_pp")):
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
        if is_missing(rec.get("cv_r2")):
            continue
        name = who(survey) if survey in cb.surveys else survey
        part = f"{name} R² {float(rec['cv_r2']):.2f}"
        if not is_missing(rec.get("cv_auc")):
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


def hidden_words(f: Funnel) -> str:
    """'3 authorities not shown (2 below the national figure, 1 above)', or ''."""
    if not f.excluded:
        return ""
    noun = "authority" if f.excluded == 1 else "authorities"
    text = f"{f.excluded} {noun} not shown because of small numbers"
    if f.hidden_below >= 0:
        rest = f.excluded - f.hidden_below - f.hidden_above
        text += (f" ({f.hidden_below} below the national figure, {f.hidden_above} at or above "
                 "it" + (f", {rest} with fewer than 5 answers" if rest else "") + ")")
    return text


# ---------------------------------------------------------------- briefing section
def summary_sentence(rows: pd.DataFrame, group: str, region: str, members: int) -> str:
    """'Against its 5 statistical neighbours, 2 results were better, 1 worse ...'."""
    shown = rows[rows["group"] == group]
    compared = shown[~shown["suppressed"].astype(bool) & shown["flag"].isin(
        ["better", "similar", "worse"])]
    better = int((compared["flag"] == "better").sum())
    worse = int((compared["flag"] == "worse").sum())
    who = (f"its {members} statistical neighbour{'s' if members != 1 else ''}"
           if group == "neighbours" else
           f"the {members} other authorit{'ies' if members != 1 else 'y'} of the {region} region")
    if compared.empty:
        return (f"Against {who}, pooled, no result could be compared: too few of them have "
                "a published figure.")
    held = len(shown) - len(compared)
    return (f"Against {who}, pooled: of {len(compared)} results, {better or 'none'} "
            f"{'was' if better == 1 else 'were'} better, {worse or 'none'} worse and the rest "
            "similar" + (f"; {held} could not be compared (too few of them with a published "
                         "figure)." if held else "."))


# ---------------------------------------------------------------- phrases
def _whole_pct(value: float) -> str:
    return f"{math.floor(float(value) + 0.5):d}%"


def gap_phrase(pct: float, others_pct: float) -> str:
    """'12 percentage points lower than other authorities (64% vs 76%)'.

    The word follows the numbers (lower/higher), whichever direction is
    better, so the phrase is true on its face; whether that is worse is
    said by the indicator's direction and the briefing's context.
    """
    diff = float(pct) - float(others_pct)
    size = abs(diff)
    word = "higher" if diff > 0 else "lower"
    amount = ("less than 1 percentage point" if size < 1 else
              f"{math.floor(size + 0.5):d} percentage point{'s' if size >= 1.5 else ''}")
    return f"{amount} {word} than other authorities ({_whole_pct(pct)} vs {_whole_pct(others_pct)})"


def shrunk_phrase(gap: float, low: float, high: float) -> str:
    """'about 9 points (between 4 and 14)': the shrunken gap and its 95% interval."""
    if not np.isfinite(gap):
        return ""
    text = f"about {math.floor(gap + 0.5):d} percentage point{'s' if gap >= 1.5 else ''}"
    if np.isfinite(low) and np.isfinite(high):
        text += f" (between {math.floor(low + 0.5):d} and {math.floor(high + 0.5):d})"
    return text


def reason_text(statement: str, pct: float, others_pct: float, effect: float,
                shrunk: tuple[float, float, float] | None = None) -> str:
    """Why this is a focus area, in plain sentences (no label: the briefing adds it).

    e.g. "Here 64% trust the adults they live with all or most of the time,
    12 percentage points lower than other authorities (64% vs 76%). Allowing
    for chance and for the ages and genders of the children here, the gap
    is about 9 percentage points (between 4 and 14). Nationally, this goes
    with about 0.8 points higher well-being out of 10, other things being
    equal (an association, not proof of its effect)."
    """
    sub = _SUBGROUP.match(statement)
    if sub:
        first = f"Here, of those {sub.group(1)}, {_whole_pct(pct)} {sub.group(2)}"
    else:
        first = f"Here {_whole_pct(pct)} {statement}"
    middle = ""
    if shrunk is not None and shrunk_phrase(*shrunk):
        middle = (" Allowing for chance and for the ages and genders of the children here, "
                  f"the gap is {shrunk_phrase(*shrunk)}.")
    return (f"{first}, {gap_phrase(pct, others_pct)}.{middle} Nationally, this "
            f"{effect_phrase(effect, 'goes with')}, other things being equal (an association, not "
            "proof of its effect).")


def focus_markdown_list(rows: pd.DataFrame | Iterable[dict[str, Any]]) -> str:
    """A plain Markdown list of focus areas (for notebooks; briefings have their own)."""
    recs = rows.to_dict("records") if isinstance(rows, pd.DataFrame) else list(rows)
    if not recs:
        return ("No focus area: nothing strongly associated with well-being nationally is "
                "worse here than in other authorities.")
    cb = load_codebook()
    lines = []
    for r in recs:
        who = cb.surveys[str(r["survey"])]["short"]
        lines.append(f"{int(r['focus_rank'])}. **{r['label']}** ({who}): {r['reason']}")
        lines.extend(f"    - {e}" for e in practice_examples(r))
    return "\n".join(lines)


def focus_words(rows: pd.DataFrame) -> pd.DataFrame:
    """Focus-area rows (``analysis.methods.focus``) with their words added.

    ``gap_phrase``, ``effect_phrase`` and ``reason``: made here, from the
    numbers the methods layer wrote, so every document says them alike.
    """
    if rows is None or rows.empty:
        return rows
    cb = load_codebook()

    def exact(r: Mapping[str, Any], name: str) -> float:
        # Words round once, from the unrounded figure the methods layer kept.
        value = r.get(f"{name}_exact")
        return float(r[name] if value is None or is_missing(value) else value)

    recs = rows.to_dict("records")
    return rows.assign(
        gap_phrase=[gap_phrase(exact(r, "pct"), exact(r, "others_pct")) for r in recs],
        effect_phrase=[effect_phrase(exact(r, "effect")) for r in recs],
        reason=[reason_text(cb.indicators[r["indicator"]].statement, exact(r, "pct"),
                            exact(r, "others_pct"), exact(r, "effect"),
                            (exact(r, "shrunk_gap_pp"), exact(r, "shrunk_low"),
                             exact(r, "shrunk_high")))
                for r in recs],
    )


# ---------------------------------------------------------------- words
def amount(share: float) -> str:
    """A share of children (0-100) in words, never as a percentage.

    'All of you', 'Almost all of you', 'Most of you (about 7 out of 10)',
    'About half of you', 'Some of you (about 3 out of 10)', 'A few of you',
    'None of you'.
    """
    if share is None or math.isnan(float(share)):
        raise ValueError("amount needs a share, not a missing value")
    s = float(share)
    tenths = math.floor(s / 10 + 0.5)
    if s >= 100:
        return "All of you"
    if s >= 95:
        return "Almost all of you"
    if s >= 60:
        return f"Most of you (about {min(tenths, 9)} out of 10)"
    if s >= 40:
        return "About half of you"
    if s >= 15:
        return f"Some of you (about {max(tenths, 2)} out of 10)"
    if s > 0:
        return "A few of you"
    return "None of you"


def tenths(share: float) -> int:
    """How many of 10 faces to colour in: the same rounding the words use."""
    s = float(share)
    if s >= 100:
        return 10
    if s >= 95:
        return 10 if s >= 99.5 else 9
    return max(0, min(9, math.floor(s / 10 + 0.5))) if s > 0 else 0


def disclosure_sentence() -> str:
    """What every briefing tells readers about small numbers, from the rule itself."""
    return (
        f"A percentage is not shown where there were {SUPPRESSION_RULE_TEXT}, nor where it "
        "would let a hidden figure be worked out from the others shown (for example from "
        "an authority's total and its groups); such cells read [c]. No count of 1 to 4 "
        "children, giving an answer or not giving it, can be read or worked out from the "
        "published figures. Figures for all authorities together are rounded (to the "
        f"nearest {COMPARATOR_STEPS[0]}%, or more coarsely where needed) so that no "
        "authority's hidden figure can be worked out by subtraction."
    )
