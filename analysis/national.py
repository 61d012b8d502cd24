"""The national briefing: the national picture and how authorities vary.

Why a separate module: the national briefing shows every authority at once,
so it must show variation *without naming anyone* (an authority's own
briefing is where its name goes). Funnel plots do that: each authority is an
unlabelled point (its percentage against its number of answers) with control
limits around the national percentage, so a reader sees how many authorities
differ by more than chance would explain, not who they are.

Control limits are exact binomial limits with the interpolation of
Spiegelhalter (2005, "Funnel plots for comparing institutional performance")
as used by public-health funnel-plot tools: for a base ``n`` and national
proportion ``p``, the limit at probability ``P`` is ``(r - a) / n`` where
``r`` is the smallest count whose binomial cumulative probability reaches
``P`` and ``a`` interpolates between ``r - 1`` and ``r``, so the limits are a
smooth funnel rather than a staircase. The normal approximation
``p +/- z * sqrt(p (1 - p) / n)`` is available too (and agrees for large n).

Overdispersion (Spiegelhalter 2005, "Handling over-dispersion of
performance indicators"): authorities differ by more than binomial chance
(between-authority variation of practice and population, phi about 1.1-2.5
on the demonstration data), so pure-chance limits would put many large
authorities "outside" for ordinary reasons. ``overdispersion`` estimates
it from the plotted points with winsorised z-scores (the top and bottom 10%
pulled in to the 10th and 90th percentiles, so the outliers being looked for
do not inflate it) and an additive random effect ``tau2``; where tau2 > 0
the limits are ``p0 +/- z * sqrt(p0 (1 - p0) / n + tau2)``, so a point
outside them stands out from the usual spread between authorities, not
only from chance. ``chance_beyond`` says how often chance alone would put
as many points outside, given how many points there are.

Disclosure: a point is an authority's published figure and nothing else. An
authority whose figure is withheld in its own files (the national stage's
``withheld``: fewer than ten answers, one to four children giving or not
giving the answer, or protecting another figure) is not drawn, because an
unlabelled point's position still gives its n and k; so that the smallest
authorities do not vanish from the picture, the chart and its sentence say
how many are not shown below and above the national line. The national line
and every national figure are the published national figures
(``analysis.disclosure.pooled_comparator``: rounded so no hidden figure can
be worked out; no exact national counts anywhere).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis.codebook import load_codebook
from analysis.disclosure import (
    MIN_BASE,
    SUPPRESSION_RULE_TEXT,
    disclosure_sentence,
    numerator,
    pooled_comparator,
    pooled_count,
    rate_suppressed,
)

#: Two-sided coverage of the inner and outer funnel limits.
LEVELS: tuple[float, float] = (0.95, 0.998)

#: Indicators shown as funnel plots: (survey, measure id). Chosen because
#: they vary most between authorities in the published programme and are the
#: ones leaders can act on (trusted adult ranged 66-100%, leavers' low
#: well-being 14-44%).
FUNNEL_MEASURES: tuple[tuple[str, str], ...] = (
    ("ylyc_11_17", "low_overall_wellbeing"),
    ("ylbc", "low_overall_wellbeing"),
    ("ylyc_11_17", "trusted_adult"),
    ("ylyc_8_11", "know_worker"),
)

#: Fewest points from which overdispersion is estimated (fewer: chance-only limits;
#: a handful of authorities cannot tell their spread from their outliers).
MIN_OVERDISPERSION_POINTS = 10

#: Smallest base plotted (the disclosure threshold; also where the limits start).
MIN_FUNNEL_BASE = MIN_BASE


def funnel_limits(
    p0: float, n: Sequence[float] | np.ndarray | float, level: float = 0.95,
    method: str = "exact", tau2: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper control limits (proportions 0-1) around ``p0`` for bases ``n``.

    ``level`` is the two-sided coverage (0.95 or 0.998 for the usual
    "2 and 3 standard deviation" funnels). ``method`` is ``"exact"``
    (interpolated binomial, see the module docstring) or ``"normal"``.
    ``tau2`` > 0 (overdispersion, ``overdispersion``) gives the
    random-effects limits ``p0 +/- z sqrt(p0 (1 - p0) / n + tau2)`` instead.
    Limits are clipped to 0-1; where ``n`` is not positive they are NaN.
    """
    if tau2 and tau2 > 0:
        from statistics import NormalDist

        n_arr = np.atleast_1d(np.asarray(n, dtype="float64"))
        if not 0 <= p0 <= 1:
            raise ValueError(f"national proportion must be between 0 and 1, not {p0}")
        if not 0 < level < 1:
            raise ValueError(f"level must be between 0 and 1, not {level}")
        z = NormalDist().inv_cdf(1 - (1 - level) / 2)
        ok = np.isfinite(n_arr) & (n_arr > 0)
        half = np.full(n_arr.shape, np.nan)
        half[ok] = z * np.sqrt(p0 * (1 - p0) / n_arr[ok] + tau2)
        return np.clip(p0 - half, 0, 1), np.clip(p0 + half, 0, 1)
    n_arr = np.atleast_1d(np.asarray(n, dtype="float64"))
    if not 0 <= p0 <= 1:
        raise ValueError(f"national proportion must be between 0 and 1, not {p0}")
    if not 0 < level < 1:
        raise ValueError(f"level must be between 0 and 1, not {level}")
    tail = (1 - level) / 2
    ok = np.isfinite(n_arr) & (n_arr > 0)
    low = np.full(n_arr.shape, np.nan)
    high = np.full(n_arr.shape, np.nan)
    if method == "normal":
        from scipy.stats import norm

        z = norm.ppf(1 - tail)
        se = np.sqrt(p0 * (1 - p0) / n_arr[ok])
        low[ok] = p0 - z * se
        high[ok] = p0 + z * se
    elif method == "exact":
        low[ok] = _binomial_limit(p0, n_arr[ok], tail)
        high[ok] = _binomial_limit(p0, n_arr[ok], 1 - tail)
    else:
        raise ValueError(f"method must be 'exact' or 'normal', not {method!r}")
    return np.clip(low, 0, 1), np.clip(high, 0, 1)


def _binomial_limit(p0: float, n: np.ndarray, prob: float) -> np.ndarray:
    """Interpolated binomial quantile ``(r - a) / n`` at cumulative probability ``prob``."""
    from scipy.stats import binom

    n_int = np.round(n).astype("int64")
    r = binom.ppf(prob, n_int, p0)
    f_r = binom.cdf(r, n_int, p0)
    f_below = binom.cdf(r - 1, n_int, p0)
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(f_r > f_below, (f_r - prob) / (f_r - f_below), 0.0)
    return (r - a) / n_int


def overdispersion(pct: Sequence[float] | np.ndarray, n: Sequence[float] | np.ndarray,
                   national_pct: float, winsor: float = 0.1) -> tuple[float, float]:
    """``(phi, tau2)``: Spiegelhalter's (2005) overdispersion of a funnel's points.

    z-scores against the national proportion are winsorised at the
    ``winsor`` and 1 - ``winsor`` quantiles; phi is their mean square (1
    when authorities differ only by chance). The additive between-authority
    variance is ``tau2 = (I phi - (I - 1)) / (sum w - sum w^2 / sum w)`` with
    ``w = 1 / s^2``, or 0 when ``I phi <= I - 1``. Fewer than
    ``MIN_OVERDISPERSION_POINTS`` points: (1, 0), no adjustment.
    """
    p = np.asarray(pct, dtype="float64") / 100
    nn = np.asarray(n, dtype="float64")
    p0 = national_pct / 100
    ok = np.isfinite(p) & (nn > 0)
    if ok.sum() < MIN_OVERDISPERSION_POINTS or not 0 < p0 < 1:
        return 1.0, 0.0
    s2 = p0 * (1 - p0) / nn[ok]
    z = (p[ok] - p0) / np.sqrt(s2)
    lo, hi = np.quantile(z, [winsor, 1 - winsor])
    zw = np.clip(z, lo, hi)
    count = z.size
    phi = float(np.mean(zw ** 2))
    w = 1 / s2
    denom = w.sum() - (w ** 2).sum() / w.sum()
    tau2 = float((count * phi - (count - 1)) / denom) if count * phi > count - 1 else 0.0
    return phi, max(tau2, 0.0)


def chance_beyond(count: int, points: int, level: float) -> float:
    """P(at least ``count`` of ``points`` fall outside ``level`` limits by chance alone)."""
    from scipy.stats import binom

    if count <= 0:
        return 1.0
    return float(binom.sf(count - 1, points, 1 - level))


def outside_limits(
    pct: Sequence[float] | np.ndarray, n: Sequence[float] | np.ndarray, national_pct: float,
    level: float = 0.95, method: str = "exact", tau2: float = 0.0,
) -> np.ndarray:
    """-1 below the lower limit, +1 above the upper one, 0 inside (percentages 0-100)."""
    p = np.asarray(pct, dtype="float64") / 100
    low, high = funnel_limits(national_pct / 100, n, level, method, tau2)
    out = np.zeros(p.shape, dtype="int64")
    out[p < low - 1e-12] = -1
    out[p > high + 1e-12] = 1
    return out


@dataclass(frozen=True)
class Funnel:
    """One funnel plot's data, ready to draw and describe."""

    survey: str
    measure: str
    label: str
    national_pct: float
    points: pd.DataFrame  # n, pct, zone95, zone998 (one row per authority, unnamed)
    excluded: int  # authorities left out by disclosure control (withheld figures)
    hidden_below: int = 0  # of those, how many are below the national figure
    hidden_above: int = 0  # ... and how many at or above it
    national_step: float = float("nan")  # the national figure's rounding (percentage points)
    phi: float = 1.0  # overdispersion (winsorised mean square z; 1 = chance alone)
    tau2: float = 0.0  # between-authority variance the limits allow for (proportion^2)

    @property
    def n_authorities(self) -> int:
        return len(self.points)

    def count_outside(self, level: float) -> tuple[int, int]:
        """(below, above) the limits at ``level``."""
        col = "zone95" if level == LEVELS[0] else "zone998"
        z = self.points[col]
        return int((z < 0).sum()), int((z > 0).sum())


def funnel_data(
    comparisons: pd.DataFrame, survey: str, measure: str, survey_year: int,
    method: str = "exact",
) -> Funnel:
    """Each authority's % and base for one measure, with its position against the limits.

    ``comparisons`` is the national comparisons table (one row per authority,
    year, survey and measure, with ``n``, ``pct`` and ideally ``k``; extra
    columns ignored). The national % is pooled over every authority's answers
    (sum of counts over sum of bases), so big authorities weigh what their
    answers weigh. A point is plotted only where the authority's own
    percentage is publishable (``rate_suppressed``: base 10+, and ``k`` not
    1-4, ``k`` taken from ``pct`` x ``n`` when the column is absent).
    Authority codes and names are dropped here: nothing downstream can label
    a point.
    """
    cb = load_codebook()
    rows = comparisons[
        (comparisons["survey"] == survey)
        & (comparisons["indicator"] == measure)
        & (comparisons["survey_year"].astype(int) == int(survey_year))
    ]
    n = pd.to_numeric(rows["n"], errors="coerce").fillna(0).to_numpy("float64")
    pct = pd.to_numeric(rows["pct"], errors="coerce").to_numpy("float64")
    has = (n > 0) & np.isfinite(pct)
    k = pd.to_numeric(numerator(rows), errors="coerce").to_numpy("float64")
    withheld = withheld_rows(rows)
    national, step = national_figure(rows)
    keep = has & ~withheld
    from analysis.indicators import round1

    # At the precision the authorities' own files publish (one decimal), no finer.
    points = pd.DataFrame({"n": n[keep].astype(int), "pct": round1(pct[keep])})
    # Overdispersion from the published points only (nothing withheld enters the limits).
    phi, tau2 = (overdispersion(points["pct"], points["n"], national)
                 if np.isfinite(national) else (1.0, 0.0))
    if np.isfinite(national):
        for level, col in zip(LEVELS, ("zone95", "zone998"), strict=True):
            points[col] = outside_limits(points["pct"], points["n"], national, level, method,
                                         tau2)
    else:
        points["zone95"] = 0
        points["zone998"] = 0
    points = points.sort_values(["n", "pct"], kind="stable").reset_index(drop=True)
    label = cb.measure(measure).label
    hidden = has & withheld
    below, above = hidden_sides(k[hidden], n[hidden], national)
    return Funnel(survey, measure, label, national, points, int(hidden.sum()), below, above,
                  step, phi=phi, tau2=tau2)


def hidden_sides(k: np.ndarray, n: np.ndarray, national: float) -> tuple[int, int]:
    """How many withheld authorities lie below / at or above the national figure.

    Saying which side an unshown authority is on bounds its count (below
    means fewer than national % x n children), so the sides are given only
    when, for *every* unshown authority with a published base, both sides
    would still leave at least ``MIN_COUNT`` + 1 possible counts; authorities
    with a base of 1-4 (not published) are counted on neither side. Otherwise
    (or with no national figure) both are -1: only the total is said.
    """
    if not len(n) or not np.isfinite(national):
        return (-1, -1) if len(n) else (0, 0)
    sized = n >= 5
    cut = np.ceil(national * n[sized] / 100 - 1e-9)  # smallest count at or above national
    below_width = np.minimum(cut - 1, n[sized])  # counts 0 .. cut - 1
    above_width = n[sized] - np.maximum(cut, 0)  # counts cut .. n
    if ((below_width < 5) | (above_width < 5)).any():
        return -1, -1
    low = k[sized] / n[sized] * 100 < national
    return int(low.sum()), int((~low).sum())


def withheld_rows(rows: pd.DataFrame) -> np.ndarray:
    """Which authority rows are withheld in their own files (the national stage decides)."""
    mask = rate_suppressed(pd.to_numeric(rows["n"], errors="coerce").fillna(0),
                           numerator(rows))
    if "withheld" in rows.columns:
        mask = mask | rows["withheld"].fillna(True).astype(bool).to_numpy()
    if "known" in rows.columns:  # not in the authority's own files (another briefing year)
        mask = mask | ~rows["known"].fillna(False).astype(bool).to_numpy()
    return mask


def national_figure(rows: pd.DataFrame) -> tuple[float, float]:
    """(published %, step) of one pool of authority rows: the national stage's, or worked out."""
    if "national_pct" in rows.columns and len(rows):
        return (float(pd.to_numeric(rows["national_pct"], errors="coerce").iloc[0]),
                float(pd.to_numeric(rows["national_step"], errors="coerce").iloc[0]))
    n = pd.to_numeric(rows["n"], errors="coerce").fillna(0).to_numpy("float64")
    k = pd.to_numeric(numerator(rows), errors="coerce").fillna(0).to_numpy("float64")
    return pooled_comparator(k, n, withheld_rows(rows))


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
        + (f" {_cap(hidden_words(f))}." if f.excluded else "")
    )


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _lie(count: int) -> str:
    return "lies" if count == 1 else "lie"


def point_p_values(f: Funnel) -> np.ndarray:
    """Two-sided p-value of each point against the funnel's limits model.

    Normal, with the between-authority variance ``tau2`` where there is one;
    otherwise the binomial with the mid-p correction (as the exact limits).
    """
    from scipy.stats import binom, norm

    n = f.points["n"].to_numpy("float64")
    y = f.points["pct"].to_numpy("float64") / 100
    p0 = f.national_pct / 100
    if not n.size or not 0 < p0 < 1:
        return np.ones(n.size)
    if f.tau2 > 0:
        z = (y - p0) / np.sqrt(p0 * (1 - p0) / n + f.tau2)
        return 2 * norm.sf(np.abs(z))
    k = np.round(y * n)
    lower = binom.cdf(k - 1, n, p0) + 0.5 * binom.pmf(k, n, p0)
    upper = binom.sf(k, n, p0) + 0.5 * binom.pmf(k, n, p0)
    return np.minimum(1.0, 2 * np.minimum(lower, upper))


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
    hidden = f" {_cap(hidden_words(f))}." if f.excluded else ""
    text = f"{f.label} ({who}) {spread} across authorities; {verdict}.{hidden}"
    if f.tau2 > 0:
        text += (" Authorities differ by more than chance alone on this measure, so the "
                 "limits are widened to allow for the usual spread between them: a point "
                 "outside stands out from other authorities, not only from chance.")
    return text


def funnel_chart(f: Funnel, method: str = "exact") -> Any:
    """Draw the funnel: unlabelled points, national line, 95% and 99.8% limits.

    Points are marked by shape as well as colour (circle inside the 95%
    limits, square between 95% and 99.8%, triangle beyond 99.8%) so the
    chart reads in greyscale and for colour-blind readers.
    """
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 3.6), dpi=100)
    if f.n_authorities and np.isfinite(f.national_pct):
        n_max = max(int(f.points["n"].max() * 1.1), MIN_FUNNEL_BASE + 5)
        grid = np.unique(np.linspace(MIN_FUNNEL_BASE, n_max, 120).round())
        p0 = f.national_pct / 100
        styles = {LEVELS[0]: ("--", "95% limits"), LEVELS[1]: (":", "99.8% limits")}
        for level, (ls, name) in styles.items():
            lo, hi = funnel_limits(p0, grid, level, method, f.tau2)
            ax.plot(grid, lo * 100, ls, color="#484949", lw=1, label=name)
            ax.plot(grid, hi * 100, ls, color="#484949", lw=1)
        ax.axhline(f.national_pct, color="#0b0c0c", lw=1.2, label=f"National {f.national_pct:.0f}%")
        zone = np.where(f.points["zone998"] != 0, 2, np.where(f.points["zone95"] != 0, 1, 0))
        marks = [
            (0, "o", "#1d4f91", "Within 95% limits"),
            (1, "s", "#8a4b00", "Outside 95%, within 99.8%"),
            (2, "^", "#b52a16", "Outside 99.8% limits"),
        ]
        for z, marker, colour, name in marks:
            sel = zone == z
            if sel.any():
                ax.scatter(f.points["n"][sel], f.points["pct"][sel], marker=marker, s=26,
                           color=colour, edgecolor="white", linewidth=0.5, label=name, zorder=3)
    if f.excluded:
        ax.text(0.99, 0.02, _cap(hidden_words(f)), transform=ax.transAxes, ha="right",
                va="bottom", fontsize=7, color="#484949", wrap=True)
    ax.set_xlabel("Number of answers in the authority")
    ax.set_ylabel("Per cent")
    ax.set_ylim(0, 100)
    ax.spines[["top", "right"]].set_visible(False)
    if ax.get_legend_handles_labels()[0]:  # an empty legend only warns on stderr
        ax.legend(fontsize=7, frameon=False, loc="upper right", ncols=2)
    ax.set_title(f"{f.label}: {load_codebook().surveys[f.survey]['short']}", fontsize=10,
                 loc="left")
    fig.tight_layout()
    return fig



# ---------------------------------------------------------------- the national briefing
#: Measures in the national rates table, in order (well-being first).
RATE_MEASURES_FIRST = ("low_overall_wellbeing", "low_life_satisfaction", "high_anxiety")


@dataclass
class National:
    """What the national briefing shows; no authority is named anywhere in it."""

    survey_year: int
    rates: pd.DataFrame  # survey, indicator, kind, domain, direction, n, pct, genpop_pct
    trend: pd.DataFrame  # survey_year, survey, pct (low overall well-being)
    funnels: list[Funnel]
    n_authorities: int
    answers: dict[str, int]  # per survey, rounded to the nearest 10
    drivers: pd.DataFrame | None = None
    performance: pd.DataFrame | None = None
    provenance: dict[str, str] | None = None
    figures: Path = Path("figures")


def round_to(value: float, base: int = 10) -> int:
    """Round a national count to the nearest ``base`` (published totals are rounded)."""
    return int(base * round(float(value) / base))


def national_rates(comparisons: pd.DataFrame, survey_year: int | None = None) -> pd.DataFrame:
    """Published national percentage per year, survey and measure (all authorities' answers).

    The pooled figure as ``analysis.disclosure.pooled_comparator`` publishes
    it (``pct`` rounded to ``pct_step`` percentage points, NaN when it must
    be withheld): exact national figures or counts would let a reader recover
    an authority's withheld figure by subtraction. No counts.
    """
    comp = comparisons
    if survey_year is not None:
        comp = comp[comp["survey_year"].astype(int) == int(survey_year)]
    keys = ["survey_year", "survey", "indicator", "kind", "domain", "direction"]
    rows = []
    for key, group in comp.groupby(keys, sort=False, dropna=False):
        pct, step = national_figure(group)
        rows.append({**dict(zip(keys, key, strict=True)), "pct": pct, "pct_step": step,
                     "genpop_pct": group["genpop_pct"].iloc[0]})
    return pd.DataFrame(rows, columns=[*keys, "pct", "pct_step", "genpop_pct"])


#: Columns of ``REPORTS_DIR/national/rates.csv`` and ``funnels.csv``.
RATES_COLUMNS = ("survey_year", "survey", "indicator", "kind", "domain", "direction", "pct",
                 "pct_step", "genpop_pct")
FUNNEL_COLUMNS = ("survey_year", "survey", "indicator", "national_pct", "n", "pct", "zone95",
                  "zone998", "not_shown", "not_shown_below", "not_shown_above")


def write_national_csvs(tables: dict[str, pd.DataFrame], folder: str | Path) -> list[Path]:
    """The national figures as CSV: ``rates.csv``, ``groups.csv`` (every year), ``funnels.csv``.

    ``rates.csv`` and ``groups.csv`` (the same by gender, placement and age
    band) give each published national percentage with ``pct_step``, the
    rounding it was published at: the comparator every authority shows.

    ``funnels.csv`` has one row per point of each funnel (an authority's
    published n and %, unnamed) with how many authorities are not shown;
    ``not_shown_below``/``above`` are empty where saying the side would
    narrow a withheld figure (``hidden_sides``).
    """
    from analysis.files import write_csv_atomic
    from analysis.indicators import csv_ready

    folder = Path(folder)
    comp = tables["comparisons"]
    rates = national_rates(comp)[list(RATES_COLUMNS)]
    year = int(comp["survey_year"].max()) if len(comp) else 0
    parts = []
    for s, m in FUNNEL_MEASURES:
        f = funnel_data(comp, s, m, year)
        pts = f.points.assign(survey_year=year, survey=s, indicator=m,
                              national_pct=f.national_pct, not_shown=f.excluded,
                              not_shown_below=f.hidden_below if f.hidden_below >= 0 else np.nan,
                              not_shown_above=f.hidden_above if f.hidden_above >= 0 else np.nan)
        if pts.empty:
            pts = pd.DataFrame([{"survey_year": year, "survey": s, "indicator": m,
                                 "national_pct": f.national_pct, "not_shown": f.excluded}])
        parts.append(pts.reindex(columns=list(FUNNEL_COLUMNS)))
    funnels = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=list(FUNNEL_COLUMNS))
    paths = [write_csv_atomic(csv_ready(rates), folder / "rates.csv", "%.10g"),
             write_csv_atomic(csv_ready(funnels), folder / "funnels.csv", "%.10g")]
    brk = tables.get("breakdowns")
    if brk is not None and "national_pct" in brk.columns and len(brk):
        keys = ["survey_year", "survey", "indicator", "by", "group"]
        groups = brk.groupby(keys, sort=False)[["national_pct", "national_step"]].first()
        groups = groups.reset_index().rename(columns={"national_pct": "pct",
                                                      "national_step": "pct_step"})
        paths.append(write_csv_atomic(csv_ready(groups), folder / "groups.csv", "%.10g"))
    return paths


def national_answers(tables: dict[str, pd.DataFrame], year: int) -> dict[str, int]:
    """Answers per survey, all authorities, as published (``pooled_count``: nearest 10 or more).

    An authority's count of a survey that its own briefing withholds
    (``briefing.answers_by_survey``) is a withheld entry of the pool, so the
    national total is rounded coarsely enough that it cannot be recovered.
    A survey whose total cannot be published safely is left out.
    """
    from analysis.briefing import answers_by_survey

    prof = tables["profile"]
    totals = prof[(prof["by"] == "total") & (prof["survey_year"].astype(int) == year)]
    if totals.empty:
        return {}
    shown: dict[tuple[str, str], bool] = {}
    for la in totals["la_code"].unique():
        ans = answers_by_survey(tables, la, year)
        for rec in ans.to_dict("records"):
            shown[(str(la), str(rec["survey"]))] = not pd.isna(rec["answers"])
    out = {}
    for survey, group in totals.groupby("survey", sort=False):
        counts = group.groupby("la_code")["count"].sum()
        withheld = [not shown.get((str(la), str(survey)), False) for la in counts.index]
        value, _ = pooled_count(counts.to_numpy("float64"), withheld)
        if value is not None:
            out[str(survey)] = value
    return out


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
    from analysis import briefing as br
    from analysis import indicators

    if national_dir:
        folder = Path(national_dir)
        tables = indicators.read_national_tables(folder)
        extras = br.national_extras(folder, Path(reports_dir) if reports_dir else None)
        source = None
    else:
        source = br.resolve_data(data)
        tables = br.national_from_extract(source)["tables"]
        extras = br.standalone_extras(source, tables, reports_dir, data_hash)
    comp = tables["comparisons"]
    year = int(survey_year) if survey_year else int(comp["survey_year"].max())
    this_year = comp[comp["survey_year"].astype(int) == year]
    rates = national_rates(comp, year)
    trend = national_rates(comp[comp["indicator"] == "low_overall_wellbeing"])
    funnels = [funnel_data(comp, s, m, year) for s, m in FUNNEL_MEASURES
               if ((this_year["survey"] == s) & (this_year["indicator"] == m)).any()]
    answers = national_answers(tables, year)
    if not data_hash and source is not None:
        data_hash = br.build_data_hash(source)
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
        figures=br.figures_folder(out_dir, "national"),
    )


def show(text: str) -> None:
    """Display Markdown in the notebook (shared with the authority briefing)."""
    from analysis.briefing import show as _show

    _show(text)


def national_pct_text(row: Any) -> str:
    """A published national % as its precision allows: '36%', 'about 35%', 'under 5%'.

    A figure rounded to more than 1 point is a range (35 at step 5 is 32.5
    to 37.5), so it is said as one; 0 and 100 at a coarse step would
    otherwise read as "none" and "all".
    """
    from analysis.text import fmt_pct

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
    from analysis.briefing import pipe_table

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
    from analysis.briefing import quantity, who
    from analysis.text import fmt_pct, in_n

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
    from analysis.briefing import pipe_table
    from analysis.text import fmt_pct

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
    from analysis.charts import figure_markdown

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
    from analysis.briefing import pipe_table

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
    from analysis.charts import figure_markdown
    from analysis.drivers import forest_alt_text, forest_chart

    who = load_codebook().surveys[survey]["short"]
    fig = forest_chart(drivers, survey, top)
    return figure_markdown(fig, folder, f"drivers-{survey}",
                           f"What goes with well-being: {who}",
                           forest_alt_text(drivers, survey, top))


def method_markdown(n: National) -> str:
    """Method: pooling, funnel limits, suppression, the model, provenance."""
    from analysis.briefing import performance_sentence

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
