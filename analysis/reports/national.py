"""The national briefing: the national picture and how authorities vary.

Why a separate document: the national briefing shows every authority at
once, so it must show variation *without naming anyone* (an authority's own
briefing is where its name goes). It reads the national stage's folder
(``prepare``, through ``analysis.reports.inputs``), and its sections say the
national rates, the funnels (``analysis.methods.funnel``: limits and which
points are shown; the chart is ``analysis.present.charts.funnel_chart``),
the national drivers and the method, in plain words.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis.data.codebook import load_codebook
from analysis.methods import indicators
from analysis.methods.disclosure import SUPPRESSION_RULE_TEXT
from analysis.methods.funnel import (
    FUNNEL_MEASURES,
    LEVELS,
    Funnel,
    chance_beyond,
    funnel_data,
    point_p_values,
)
from analysis.methods.national import (
    RATE_MEASURES_FIRST,
    National,
    national_answers,
    national_rates,
)
from analysis.present.charts import figure_markdown, forest_alt_text, forest_chart, funnel_chart
from analysis.present.markdown import pipe_table
from analysis.present.text import (
    cap,
    disclosure_sentence,
    fmt_pct,
    hidden_words,
    in_n,
    performance_sentence,
    quantity,
    who,
)
from analysis.reports import inputs


def funnel_alt_text(f: Funnel) -> str:
    """Alt text that says what the chart shows, including how many fall outside."""
    cb = load_codebook()
    who = cb.surveys[f.survey]["short"]
    b95, a95 = f.count_outside(LEVELS[0])
    b998, a998 = f.count_outside(LEVELS[1])
    return (
        f"Funnel plot of {f.label.lower()} among {who}: one unlabelled point per authority, "
        f"its percentage against its number of answers, around the national figure of "
        f"{f.national_pct:.0f}%. Of {f.n_authorities} authorities, "
        f"{b95 + a95} {'falls' if b95 + a95 == 1 else 'fall'} outside the 95% limits "
        f"({a95} above, {b95} below) and "
        f"{b998 + a998} outside the 99.8% limits ({a998} above, {b998} below)."
        + (f" {cap(hidden_words(f))}." if f.excluded else "")
    )


def _lie(count: int) -> str:
    return "lies" if count == 1 else "lie"


def funnel_verdict(f: Funnel) -> tuple[str, bool]:
    """How many points lie outside, against what chance predicts for this many points.

    Returns the clause and whether it is more than chance alone would
    explain. With points beyond the 99.8% limits, two questions, each at
    2.5% (Bonferroni): how often chance would put any of this many points as
    far out as the furthest one (1 - (1 - p_min)^I, Sidak), and how often it
    would put this many beyond the limits (binomial): with 45 points, one
    point just beyond the 99.8% limits happens by chance about 1 time in 12,
    so it is not called more than chance; a point far beyond them, or
    several, are. With none beyond, the number outside the 95% limits
    against the binomial count chance gives.
    """
    b998, a998 = f.count_outside(LEVELS[1])
    b95, a95 = f.count_outside(LEVELS[0])
    points = f.n_authorities
    beyond, outside = b998 + a998, b95 + a95
    expected95 = (1 - LEVELS[0]) * points
    about = (f"about {expected95:.0f}" if expected95 >= 1.5 else "about 1" if expected95 >= 0.5
             else "fewer than 1")
    if beyond:
        p_min = float(np.min(point_p_values(f))) if points else 1.0
        # Two readings, Bonferroni-combined: how far out the furthest point is, and
        # how many points are beyond the limits.
        p_any = min(1 - (1 - p_min) ** points, chance_beyond(beyond, points, LEVELS[1]))
        if 2 * p_any < 0.05:
            return (f"{beyond} of {points} authorities {_lie(beyond)} beyond the 99.8% limits, "
                    "more than chance alone would explain", True)
        odds = max(2, round(1 / p_any))
        return (f"{beyond} of {points} {_lie(beyond)} beyond the 99.8% limits, which chance "
                f"alone would do about 1 time in {odds} with {points} authorities, so "
                f"{'it' if beyond == 1 else 'they'} may be chance", False)
    if outside and chance_beyond(outside, points, LEVELS[0]) < 0.05:
        return (f"{outside} of {points} {_lie(outside)} outside the 95% limits, more than the "
                f"{about} chance alone would give", True)
    return (f"{outside} of {points} {_lie(outside)} outside the 95% limits, where chance "
            f"alone would put {about}: no more than chance could explain", False)


def funnel_sentence(f: Funnel) -> str:
    """One plain-English sentence on how much authorities vary on this measure."""
    cb = load_codebook()
    who = cb.surveys[f.survey]["short"]
    if f.n_authorities == 0:
        return f"Too few authorities had enough answers from {who} to compare."
    lo, hi = f.points["pct"].min(), f.points["pct"].max()
    spread = f"ranged from {lo:.0f}% to {hi:.0f}%"
    verdict, _ = funnel_verdict(f)
    hidden = f" {cap(hidden_words(f))}." if f.excluded else ""
    text = f"{f.label} ({who}) {spread} across authorities; {verdict}.{hidden}"
    if f.tau2 > 0:
        text += (" Authorities differ by more than chance alone on this measure, so the "
                 "limits are widened to allow for the usual spread between them: a point "
                 "outside stands out from other authorities, not only from chance.")
    return text


def national_pct_text(row: Any) -> str:
    """A published national % as its precision allows: '36%', 'about 35%', 'under 5%'.

    A figure rounded to more than 1 point is a range (35 at step 5 is 32.5
    to 37.5), so it is said as one; 0 and 100 at a coarse step would
    otherwise read as "none" and "all".
    """

    get = row.get if hasattr(row, "get") else (lambda k, d=None: getattr(row, k, d))
    pct, step = float(get("pct")), float(get("pct_step", np.nan) or np.nan)
    if not np.isfinite(pct):
        return "[c]"
    if not np.isfinite(step) or step <= 1:
        return fmt_pct(pct)
    if pct <= 0:
        return f"under {step / 2:g}%"
    if pct >= 100:
        return f"over {100 - step / 2:g}%"
    return f"about {pct:g}%"


def _rate(n: National, survey: str, measure: str) -> dict[str, Any] | None:
    sel = n.rates[(n.rates["survey"] == survey) & (n.rates["indicator"] == measure)]
    if sel.empty or not np.isfinite(sel["pct"].iloc[0]):
        return None
    return sel.iloc[0].to_dict()


def cover_markdown(n: National) -> str:
    """What the national briefing covers: year, authorities, answers (rounded)."""
    cb = load_codebook()
    rows = [{"Survey": cb.surveys[s]["name"], "Answers (rounded)": f"{v:,}"}
            for s, v in sorted(n.answers.items(), key=lambda kv: list(cb.surveys).index(kv[0]))]

    return "\n".join([
        f"**All participating authorities**, surveys of {n.survey_year}.",
        "",
        f"This briefing sets out what {_how_many(n)} children in care and care leavers in "
        f"{_authorities(n.n_authorities)} told the Bright Spots surveys: the national picture, "
        "how much authorities differ, and the experiences that go with higher well-being. "
        "No authority is named here; each has its own briefing.",
        "",
        pipe_table(pd.DataFrame(rows), "Questionnaires returned, all authorities (rounded to "
                   "the nearest 10, or more coarsely where needed)",
                   right=("Answers (rounded)",)) if rows else
        "Too few questionnaires were returned to give the number.",
    ])


def _how_many(n: National) -> str:
    """'about 4,210' (the rounded published total) or 'a small number of'."""
    total = sum(n.answers.values())
    return f"about {total:,}" if total else "a small number of"


def _authorities(count: int) -> str:
    return f"{count} authority" if count == 1 else f"{count} authorities"


def key_messages(n: National) -> list[str]:
    """Three to six national messages generated from the results."""

    out = [f"In {n.survey_year}, {_how_many(n)} children in care and care "
           f"leavers in {_authorities(n.n_authorities)} answered the surveys."]
    for survey in ("ylyc_11_17", "ylbc"):
        r = _rate(n, survey, "low_overall_wellbeing")
        if r:
            text = (f"{quantity(r['pct'], who(survey))} ({national_pct_text(r)}) have low overall "
                    "well-being")
            extra = _rate(n, survey, "low_life_satisfaction")
            if extra and np.isfinite(extra.get("genpop_pct", np.nan)):
                text += (f", and {in_n(extra['pct'])} ({national_pct_text(extra)}) have low life "
                         f"satisfaction against {fmt_pct(extra['genpop_pct'])} of young people "
                         "of the same age in general")
            out.append(text[:1].upper() + text[1:] + ".")
    if n.funnels:
        widest = max(n.funnels, key=lambda f: (funnel_verdict(f)[1],
                                               sum(f.count_outside(LEVELS[1]))))
        verdict, real = funnel_verdict(widest)
        if real:
            statement = load_codebook().measure(widest.measure).statement
            out.append(
                f"Authorities differ most in how many {who(widest.survey)} {statement}: "
                f"{verdict}"
                + (", even allowing for the usual spread between authorities."
                   if widest.tau2 > 0 else ".")
            )
        else:
            out.append("On the key measures, authorities differ by no more than chance and "
                       "the usual spread between authorities would produce, given how many "
                       "authorities there are.")
    top = _top_drivers(n, 3)
    if top:
        out.append("Across the surveys, the answers most strongly associated with "
                   f"children's well-being are: {_join(top, '; ')}.")
    return out[:6]


def _join(items: Sequence[str], sep: str = ", ") -> str:
    if len(items) == 1:
        return items[0]
    return sep.join(items[:-1]) + (sep.rstrip() + " and " if sep != ", " else " and ") + items[-1]


def _top_drivers(n: National, k: int) -> list[str]:
    """The ``k`` drivers with the highest importance across surveys (labels, lower case)."""
    d = n.drivers
    if d is None or d.empty or "indicator" not in d.columns:
        return []
    cb = load_codebook()
    col = "importance" if "importance" in d.columns else None
    if col is None:
        ranked = d.sort_values("rank") if "rank" in d.columns else d
    else:
        ranked = d.groupby("indicator", as_index=False)[col].mean().sort_values(
            col, ascending=False)
    labels = []
    for mid in ranked["indicator"]:
        mid = str(mid)
        label = cb.measure(mid).label.lower() if mid in cb.measures() else mid
        if label not in labels:
            labels.append(label)
        if len(labels) == k:
            break
    return labels


def key_messages_markdown(n: National) -> str:
    return "## Key messages\n\n" + "\n".join(f"- {m}" for m in key_messages(n))


def rates_markdown(n: National) -> str:
    """National percentages by survey, and against the general population."""

    cb = load_codebook()
    surveys = [s for s in cb.surveys if s in set(n.rates["survey"])]
    tags = {"ylyc_4_7": "Ages 4 to 7", "ylyc_8_11": "Ages 8 to 11",
            "ylyc_11_17": "Ages 11 to 17", "ylbc": "Care leavers"}
    order = list(RATE_MEASURES_FIRST) + [m for m in cb.indicators]
    rows = []
    for mid in dict.fromkeys(order):
        sel = n.rates[n.rates["indicator"] == mid]
        if sel.empty:
            continue
        row = {"Measure": cb.measure(mid).label}
        for s in surveys:
            hit = sel[sel["survey"] == s]
            # [x]: not asked of this age group; [c]: asked, but withheld (disclosure).
            row[tags.get(s, s)] = "[x]" if hit.empty else (
                national_pct_text(hit.iloc[0]) if np.isfinite(hit["pct"].iloc[0]) else "[c]")
        rows.append(row)
    table = pd.DataFrame(rows)
    gp = n.rates[n.rates["genpop_pct"].notna() & n.rates["pct"].notna()]
    gp_rows = pd.DataFrame({
        "Measure": [cb.measure(m).label for m in gp["indicator"]],
        "Who": [cb.surveys[s]["short"].capitalize() for s in gp["survey"]],
        "In care or care leavers": [national_pct_text(r) for _, r in gp.iterrows()],
        "General population": [fmt_pct(v) for v in gp["genpop_pct"]],
    })
    trend = n.trend.pivot_table(index="survey", columns="survey_year", values="pct")
    trend = trend.loc[[s for s in cb.surveys if s in trend.index]]
    trend_table = pd.DataFrame({"Who": [tags.get(s, s) for s in trend.index]})
    for year in trend.columns:
        steps = n.trend.pivot_table(index="survey", columns="survey_year", values="pct_step")
        trend_table[str(int(year))] = [
            national_pct_text({"pct": v, "pct_step": steps.get(year, {}).get(s, np.nan)})
            if np.isfinite(v) else "[c]" for s, v in trend[year].items()]
    text = [
        "## The national picture", "",
        f"The share of children giving each answer in {n.survey_year}, all authorities "
        "together, to the nearest whole per cent or more coarsely where a finer figure could "
        "give a hidden one away ([x] = not asked of this age group; [c] = withheld to "
        "protect small numbers).", "",
        pipe_table(table, f"National results by age group, {n.survey_year}",
                   right=[c for c in table.columns if c != "Measure"]),
    ]
    if not gp_rows.empty:
        text += ["", "### Against the general population", "",
                 "Where a published figure exists for children or young people of the same "
                 "age in general:", "",
                 pipe_table(gp_rows, "Children in care and care leavers against the general "
                            "population", right=("In care or care leavers",
                                                 "General population"))]
    if len(trend_table.columns) > 2:
        text += ["", "### Low overall well-being over time", "",
                 pipe_table(trend_table, "Low overall well-being by survey year, all "
                            "authorities", right=[c for c in trend_table.columns if c != "Who"])]
    return "\n".join(text)


def variation_markdown(n: National) -> str:
    """Funnel plots: how much authorities vary, without naming them."""

    text = [
        "## How much authorities differ", "",
        "Each funnel plot shows every authority as an unlabelled point: its percentage "
        "against how many of its children answered. The lines show the national figure and "
        "the range within which 95% and 99.8% of authorities would fall if they differed "
        "only by chance and by the usual spread between authorities; smaller authorities "
        "have wider ranges. With many authorities, a few points outside the 95% lines, and "
        "now and then one outside the 99.8% lines, are expected by chance: each funnel's "
        "text says how many chance would give. An authority is not drawn where its own "
        f"figure is not published (there were {SUPPRESSION_RULE_TEXT}); each chart says how "
        "many are not shown, and on which side of the national figure where that is safe "
        "to say.",
    ]
    if not n.funnels:
        return "\n".join([*text, "", "Too few authorities answered to draw funnel plots."])
    for f in n.funnels:
        fig = funnel_chart(f)
        caption = f"{f.label}: {load_codebook().surveys[f.survey]['short']}"
        md = figure_markdown(fig, n.figures, f"funnel-{f.survey}-{f.measure}", caption,
                             funnel_alt_text(f))
        text += ["", f"### {caption[:1].upper() + caption[1:]}", "", funnel_sentence(f), "", md]
    return "\n".join(text)


def drivers_markdown(n: National, top: int = 8) -> str:
    """The national drivers: what goes with higher or lower well-being (associations)."""

    cb = load_codebook()
    text = ["## What goes with higher well-being", "",
            "A model of all children's answers shows which experiences go with higher or "
            "lower overall well-being once the others are taken into account. These are "
            "*associations*, not proof of cause; they point to where change is most likely "
            "to matter, and they agree with the published research (feeling settled, trusted "
            "adults, good friends, not being bullied or made to feel different)."]
    d = n.drivers
    if d is None or d.empty or "indicator" not in d.columns:
        return "\n".join([*text, "", "The model results are not available for this run "
                          "(`make reports` produces them)."])
    for survey in [s for s in cb.surveys if s in set(d["survey"])]:
        sel = d[d["survey"] == survey]
        if "rank" in sel.columns:
            sel = sel.sort_values("rank")
        sel = sel.head(top)
        rows = []
        for rec in sel.to_dict("records"):
            mid = str(rec["indicator"])
            effect = rec.get("effect")
            goes = "[x]"
            if effect is not None and np.isfinite(float(effect)):
                goes = "Higher" if float(effect) > 0 else "Lower"
            ci = ""
            if all(np.isfinite(float(rec.get(c, np.nan))) for c in ("effect", "ci_low",
                                                                  "ci_high")):
                ci = f"{float(rec['effect']):+.2f} ({float(rec['ci_low']):+.2f} to " \
                     f"{float(rec['ci_high']):+.2f})"
            rows.append({
                "Rank": int(rec["rank"]) if "rank" in rec and np.isfinite(
                    float(rec["rank"])) else "",
                "Experience": cb.measure(mid).label if mid in cb.measures() else mid,
                "Goes with well-being": goes,
                "Points out of 10 (95% interval)": ci or "[x]",
            })
        who = cb.surveys[survey]["short"]
        text += ["", f"### {who[:1].upper() + who[1:]}", "",
                 _forest_markdown(d, survey, top, n.figures), "",
                 pipe_table(pd.DataFrame(rows), f"Experiences most associated with overall "
                            f"well-being: {who}",
                            right=("Rank", "Points out of 10 (95% interval)"))]
    return "\n".join(text)


def _forest_markdown(drivers: pd.DataFrame, survey: str, top: int, folder: Path) -> str:
    """The drivers module's forest chart for one survey, or nothing if it cannot draw."""
    needed = {"label", "effect", "ci_low", "ci_high", "rank"}
    if not needed <= set(drivers.columns):
        return ""

    who = load_codebook().surveys[survey]["short"]
    fig = forest_chart(drivers, survey, top)
    return figure_markdown(fig, folder, f"drivers-{survey}",
                           f"What goes with well-being: {who}",
                           forest_alt_text(drivers, survey, top))


def method_markdown(n: National) -> str:
    """Method: pooling, funnel limits, suppression, the model, provenance."""

    p = n.provenance or {}
    return "\n".join([
        "## Notes on method", "",
        "- **National figures** pool every authority's answers in the survey year (each "
        "child counts once, so large authorities weigh more). Only percentages are "
        "published, rounded to the nearest whole per cent (or to the nearest 2, 5 or 10 "
        "per cent where a finer figure would let a hidden one be worked out; withheld where "
        "even that would); numbers of answers are rounded to the nearest 10 or more "
        "coarsely, so no authority's hidden small figure can be worked out by subtraction. "
        "The same national figure is the comparator in every authority's briefing.",
        "- **Funnel plots.** Control limits are exact binomial limits around the national "
        "percentage (Spiegelhalter's method, with interpolation): 95% (about two standard "
        "errors) and 99.8% (about three). Where authorities differ by more than chance "
        "(overdispersion, estimated from winsorised z-scores), the limits are widened by "
        "an additive random effect (Spiegelhalter 2005), so they show the usual spread "
        "between authorities. With many authorities, about 1 in 20 would fall outside the "
        "95% limits and about 1 in 500 outside the 99.8% limits by chance alone; the text "
        "says whether the number outside is more than that, given how many there are.",
        f"- **Small numbers.** {disclosure_sentence()} An authority whose figure is not "
        "published is not drawn in a funnel plot; the chart counts it instead.",
        f"- **What goes with well-being.** {performance_sentence(n.performance)}",
        f"- **Provenance.** Data file fingerprint (SHA-256): `{p.get('data_hash', '')}`. "
        f"Code version: {p.get('code_version', '')}. Built: {p.get('build_date', '')}.",
    ])


def prepare(
    national_dir: str | Path | None = None,
    data: str | Path | None = None,
    reports_dir: str | Path | None = None,
    survey_year: int | None = None,
    out_dir: str | Path | None = ".",
    data_hash: str = "",
    code_version: str = "",
    build_date: str = "",
) -> National:
    """Gather the national picture from precomputed tables (the build) or from ``data``."""

    folder = inputs.national_folder(national_dir, data)
    tables = indicators.read_national_tables(folder)
    extras = inputs.national_extras(folder)
    comp = tables["comparisons"]
    year = int(survey_year) if survey_year else int(comp["survey_year"].max())
    this_year = comp[comp["survey_year"].astype(int) == year]
    rates = national_rates(comp, year)
    trend = national_rates(comp[comp["indicator"] == "low_overall_wellbeing"])
    funnels = [funnel_data(comp, s, m, year) for s, m in FUNNEL_MEASURES
               if ((this_year["survey"] == s) & (this_year["indicator"] == m)).any()]
    answers = national_answers(tables, year)
    data_hash = inputs.data_fingerprint(national_dir, data, data_hash)
    return National(
        survey_year=year,
        rates=rates,
        trend=trend,
        funnels=funnels,
        n_authorities=int(this_year["la_code"].nunique()),
        answers=answers,
        drivers=extras.get("drivers"),
        performance=extras.get("performance"),
        provenance={
            "data_hash": data_hash or "not recorded",
            "code_version": code_version or "not recorded (not built by make reports)",
            "build_date": build_date or "not recorded (not built by make reports)",
        },
        figures=inputs.figures_folder(out_dir, "national"),
    )
