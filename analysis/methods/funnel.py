"""Funnel plots' numbers: control limits, overdispersion and which points are shown.

Why funnels: the national briefing shows every authority at once *without
naming anyone*; each authority is an unlabelled point (its percentage
against its number of answers) with control limits around the national
percentage, so a reader sees how many authorities differ by more than
chance would explain, not who they are.

Control limits are exact binomial limits with the interpolation of
Spiegelhalter (2005, "Funnel plots for comparing institutional performance"):
for a base ``n`` and national proportion ``p``, the limit at probability
``P`` is ``(r - a) / n`` where ``r`` is the smallest count whose binomial
cumulative probability reaches ``P`` and ``a`` interpolates between ``r - 1``
and ``r``, so the limits are a smooth funnel rather than a staircase. The
normal approximation is available too (and agrees for large n).

Overdispersion (Spiegelhalter 2005, "Handling over-dispersion of performance
indicators"): authorities differ by more than binomial chance, so
``overdispersion`` estimates an additive random effect ``tau2`` from
winsorised z-scores and widens the limits by it; a point outside them stands
out from the usual spread between authorities, not only from chance.
``chance_beyond`` says how often chance alone would put as many points
outside, given how many points there are.

Disclosure: a point is an authority's published figure and nothing else; an
authority whose figure is withheld is not drawn, and ``hidden_sides`` says
how many are not shown below and above the national line only where that
narrows no withheld figure. The words and the chart are made in
``analysis.present`` and ``analysis.reports.national``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.data.codebook import load_codebook
from analysis.methods.disclosure import MIN_BASE, numerator, pooled_comparator, rate_suppressed
from analysis.methods.indicators import round1

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
