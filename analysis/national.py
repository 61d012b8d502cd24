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

Disclosure: authorities with fewer than ten answers to an indicator are left
out of its funnel (the same rule as every published percentage), and the
national figures are percentages only (no exact national counts; see
``analysis.disclosure``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from analysis.codebook import load_codebook

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

MIN_FUNNEL_BASE = 10


def funnel_limits(
    p0: float, n: Sequence[float] | np.ndarray | float, level: float = 0.95,
    method: str = "exact",
) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper control limits (proportions 0-1) around ``p0`` for bases ``n``.

    ``level`` is the two-sided coverage (0.95 or 0.998 for the usual
    "2 and 3 standard deviation" funnels). ``method`` is ``"exact"``
    (interpolated binomial, see the module docstring) or ``"normal"``.
    Limits are clipped to 0-1; where ``n`` is not positive they are NaN.
    """
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


def outside_limits(
    pct: Sequence[float] | np.ndarray, n: Sequence[float] | np.ndarray, national_pct: float,
    level: float = 0.95, method: str = "exact",
) -> np.ndarray:
    """-1 below the lower limit, +1 above the upper one, 0 inside (percentages 0-100)."""
    p = np.asarray(pct, dtype="float64") / 100
    low, high = funnel_limits(national_pct / 100, n, level, method)
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
    excluded: int  # authorities left out for a base under MIN_FUNNEL_BASE

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
    year, survey and measure, with ``n`` and ``pct``; extra columns ignored).
    The national % is pooled over every authority's answers (sum of counts
    over sum of bases), so big authorities weigh what their answers weigh.
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
    k = np.round(pct[has] / 100 * n[has])
    national = float(k.sum() / n[has].sum() * 100) if n[has].sum() > 0 else float("nan")
    keep = has & (n >= MIN_FUNNEL_BASE)
    points = pd.DataFrame({"n": n[keep].astype(int), "pct": pct[keep]})
    if np.isfinite(national):
        for level, col in zip(LEVELS, ("zone95", "zone998"), strict=True):
            points[col] = outside_limits(points["pct"], points["n"], national, level, method)
    else:
        points["zone95"] = 0
        points["zone998"] = 0
    points = points.sort_values(["n", "pct"], kind="stable").reset_index(drop=True)
    label = cb.measure(measure).label
    return Funnel(survey, measure, label, national, points, int((has & ~keep).sum()))


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
        f"{b95 + a95} fall outside the 95% limits ({a95} above, {b95} below) and "
        f"{b998 + a998} outside the 99.8% limits ({a998} above, {b998} below)."
    )


def funnel_sentence(f: Funnel) -> str:
    """One plain-English sentence on how much authorities vary on this measure."""
    cb = load_codebook()
    who = cb.surveys[f.survey]["short"]
    b998, a998 = f.count_outside(LEVELS[1])
    b95, a95 = f.count_outside(LEVELS[0])
    if f.n_authorities == 0:
        return f"Too few authorities had ten or more answers from {who} to compare."
    lo, hi = f.points["pct"].min(), f.points["pct"].max()
    spread = f"ranged from {lo:.0f}% to {hi:.0f}%"
    expected = 0.05 * f.n_authorities
    if b998 + a998:
        verdict = (f"{b998 + a998} of {f.n_authorities} authorities lie beyond the 99.8% "
                   "limits, more than chance alone would explain")
    elif b95 + a95 > max(1.0, 2 * expected):
        verdict = (f"{b95 + a95} of {f.n_authorities} lie outside the 95% limits, "
                   "more than the one in twenty expected by chance")
    else:
        verdict = (f"{b95 + a95} of {f.n_authorities} lie outside the 95% limits, "
                   "about what chance alone would give")
    return f"{f.label} ({who}) {spread} across authorities; {verdict}."


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
            lo, hi = funnel_limits(p0, grid, level, method)
            ax.plot(grid, lo * 100, ls, color="#484949", lw=1, label=name)
            ax.plot(grid, hi * 100, ls, color="#484949", lw=1)
        ax.axhline(f.national_pct, color="#0b0c0c", lw=1.2, label=f"National {f.national_pct:.0f}%")
        zone = np.where(f.points["zone998"] != 0, 2, np.where(f.points["zone95"] != 0, 1, 0))
        marks = [
            (0, "o", "#1d4f91", "Within 95% limits"),
            (1, "s", "#8a4b00", "Outside 95% limits"),
            (2, "^", "#b52a16", "Outside 99.8% limits"),
        ]
        for z, marker, colour, name in marks:
            sel = zone == z
            if sel.any():
                ax.scatter(f.points["n"][sel], f.points["pct"][sel], marker=marker, s=26,
                           color=colour, edgecolor="white", linewidth=0.5, label=name, zorder=3)
    ax.set_xlabel("Number of answers in the authority")
    ax.set_ylabel("Per cent")
    ax.set_ylim(0, 100)
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(fontsize=7, frameon=False, loc="upper right", ncols=2)
    ax.set_title(f"{f.label}: {load_codebook().surveys[f.survey]['short']}", fontsize=10,
                 loc="left")
    fig.tight_layout()
    return fig

