"""Tests for the national briefing (analysis/methods/national.py).

Funnel-plot limits are checked against values worked out independently (the
binomial distribution summed by hand, and the normal formula), and the
national briefing is checked never to name an authority.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.methods import indicators
from analysis.methods import national as nat
from analysis.methods.funnel import funnel_data, funnel_limits, outside_limits
from analysis.present.charts import figure_markdown, funnel_chart
from analysis.reports import national as rnat
from analysis.reports.national import (
    funnel_alt_text,
    funnel_sentence,
    funnel_verdict,
    rates_markdown,
    variation_markdown,
)

Z95 = 1.959963984540054


def exact_limit(p0: float, n: int, prob: float) -> float:
    """Spiegelhalter's interpolated binomial limit, from first principles (math.comb)."""
    cdf = 0.0
    prev = 0.0
    for r in range(n + 1):
        prev = cdf
        cdf += math.comb(n, r) * p0**r * (1 - p0) ** (n - r)
        if cdf >= prob:
            alpha = (cdf - prob) / (cdf - prev)
            return (r - alpha) / n
    return 1.0


@pytest.mark.parametrize("p0,n", [(0.5, 100), (0.16, 40), (0.85, 25), (0.3, 160), (0.05, 60)])
@pytest.mark.parametrize("level", [0.95, 0.998])
def test_exact_limits_match_the_binomial_worked_by_hand(p0: float, n: int, level: float) -> None:
    tail = (1 - level) / 2
    low, high = funnel_limits(p0, [n], level)
    assert low[0] == pytest.approx(max(0.0, exact_limit(p0, n, tail)), abs=1e-9)
    assert high[0] == pytest.approx(min(1.0, exact_limit(p0, n, 1 - tail)), abs=1e-9)


def test_known_values() -> None:
    low, high = funnel_limits(0.5, [100], 0.95)
    assert (low[0], high[0]) == pytest.approx((0.39682, 0.59318), abs=1e-5)
    low, high = funnel_limits(0.5, [100], 0.95, method="normal")
    assert (low[0], high[0]) == pytest.approx((0.5 - Z95 * 0.05, 0.5 + Z95 * 0.05))
    low, high = funnel_limits(0.2, [400], 0.998, method="normal")
    z = 3.090232306167813
    assert high[0] == pytest.approx(0.2 + z * math.sqrt(0.2 * 0.8 / 400))


def test_limits_narrow_with_base_and_widen_with_level() -> None:
    n = np.array([10, 20, 50, 100, 400, 2000])
    lo95, hi95 = funnel_limits(0.3, n, 0.95)
    lo998, hi998 = funnel_limits(0.3, n, 0.998)
    assert np.all(np.diff(hi95 - lo95) < 0)
    assert np.all(lo998 <= lo95) and np.all(hi998 >= hi95)
    assert np.all((lo998 >= 0) & (hi998 <= 1))


def test_exact_agrees_with_normal_for_large_bases() -> None:
    ex = funnel_limits(0.3, [100_000], 0.95)
    no = funnel_limits(0.3, [100_000], 0.95, method="normal")
    assert ex[0][0] == pytest.approx(no[0][0], abs=2e-5)
    assert ex[1][0] == pytest.approx(no[1][0], abs=2e-5)


def test_bad_inputs_are_refused_or_blank() -> None:
    with pytest.raises(ValueError):
        funnel_limits(1.2, [10])
    with pytest.raises(ValueError):
        funnel_limits(0.2, [10], method="poisson")
    low, high = funnel_limits(0.2, [0, np.nan])
    assert np.isnan(low).all() and np.isnan(high).all()


def test_outside_limits() -> None:
    zones = outside_limits([50, 90, 10, 58], [100, 100, 100, 100], 50.0, 0.95)
    assert zones.tolist() == [0, 1, -1, 0]


def comparisons(points: list[tuple[int, float]], survey: str = "ylbc",
                measure: str = "low_overall_wellbeing") -> pd.DataFrame:
    return pd.DataFrame([
        {"la_code": f"E0600{i:04d}", "la_name": f"Secret Name {i}", "survey_year": 2025,
         "survey": survey, "indicator": measure, "n": n, "k": round(p * n / 100),
         "pct": p, "genpop_pct": np.nan, "kind": "wellbeing", "domain": "wellbeing",
         "direction": "lower_is_better"}
        for i, (n, p) in enumerate(points)
    ])


def test_funnel_data_pools_counts_drops_small_bases_and_names() -> None:
    comp = comparisons([(100, 30.0), (300, 20.0), (8, 50.0), (50, 90.0)])
    f = funnel_data(comp, "ylbc", "low_overall_wellbeing", 2025)
    # The published national figure: 30.3% rounded so the hidden 4 of 8 stays hidden
    # (to 1% or 2% the cell the true figure might fall in could pin it).
    assert f.national_pct == 30.0 and f.national_step == 5
    assert f.national_pct == pytest.approx(100 * (30 + 60 + 4 + 45) / 458, abs=0.5)
    assert f.n_authorities == 3 and f.excluded == 1
    assert set(f.points.columns) == {"n", "pct", "zone95", "zone998"}
    below, above = f.count_outside(0.998)
    assert above == 1  # the 90% authority
    alt = funnel_alt_text(f)
    assert "Of 3 authorities" in alt and "outside the 99.8% limits (1 above" in alt
    assert "Secret Name" not in alt + funnel_sentence(f)


def test_funnel_leaves_out_small_numerators() -> None:
    # 3 of 40 (7.5%): the point's position would give k = 3 away; 0 of 40 and 5 of 40 stay.
    comp = comparisons([(100, 30.0), (40, 7.5), (40, 0.0), (40, 12.5)])
    f = funnel_data(comp, "ylbc", "low_overall_wellbeing", 2025)
    assert f.n_authorities == 3 and f.excluded == 1
    assert sorted(f.points["pct"]) == [0.0, 12.5, 30.0]
    # Still pooled into the national figure (a rounded percentage only): 17.3% to 10%.
    assert f.national_pct == 20.0 and f.national_step == 10
    # The unshown authority is counted, on its side of the national line where safe.
    assert f.hidden_below + f.hidden_above == 1 and "1 authority not shown" in (
        funnel_sentence(f))
    # Without a k column the rule reads k from pct x n, as a reader would.
    f = funnel_data(comp.drop(columns="k"), "ylbc", "low_overall_wellbeing", 2025)
    assert f.n_authorities == 3


def test_funnel_chart_draws_without_labels(tmp_path: Path) -> None:

    f = funnel_data(comparisons([(40, 30.0), (120, 22.0), (60, 60.0)]), "ylbc",
                        "low_overall_wellbeing", 2025)
    fig = funnel_chart(f)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert not any("Secret" in t for t in texts)
    md = figure_markdown(fig, tmp_path, "funnel", "Funnel", funnel_alt_text(f))
    assert (tmp_path / "funnel.png").exists() and 'fig-alt="Funnel plot' in md


def test_national_rates_pool_all_authorities() -> None:
    comp = comparisons([(100, 30.0), (300, 20.0)])
    rates = nat.national_rates(comp, 2025)
    # 22.5%, to 2%: 400 answers are too few for a 1% cell of 6 or more children.
    assert rates["pct"].iloc[0] == 22.0 and rates["pct_step"].iloc[0] == 2
    assert "k" not in rates.columns and "n" not in rates.columns  # percentages only


def test_round_to() -> None:
    assert nat.round_to(1234) == 1230 and nat.round_to(1235) in (1230, 1240)


def test_national_briefing_names_no_authority(tmp_path: Path) -> None:
    from test_briefing import AUTHORITIES, fake_extract

    folder = tmp_path / "national"
    indicators.write_national_tables(indicators.national_tables(fake_extract()), folder)
    n = rnat.prepare(national_dir=folder, out_dir=tmp_path)
    parts = [rnat.cover_markdown(n), rnat.key_messages_markdown(n), rates_markdown(n),
             variation_markdown(n), rnat.drivers_markdown(n), rnat.method_markdown(n)]
    text = "\n".join(parts)
    for code, name in AUTHORITIES:
        assert name not in text and code not in text
    msgs = rnat.key_messages(n)
    assert 3 <= len(msgs) <= 6
    assert len(n.funnels) == len(nat.FUNNEL_MEASURES)
    assert len(list((tmp_path / "figures").glob("funnel-*.png"))) == len(nat.FUNNEL_MEASURES)
    # National counts are rounded to tens: no exact total is published.
    assert all(v % 10 == 0 for v in n.answers.values())
    assert not re.search(r"\b\d{0,3}[1-9]\b answers", text)


# ---------------------------------------------------------------- overdispersion and chance
def _funnel_points(rng: np.random.Generator, k: int, tau: float, p0: float = 0.3
                   ) -> list[tuple[int, float]]:
    n = rng.integers(40, 400, k)
    true = np.clip(p0 + rng.normal(0, tau, k), 0.01, 0.99)
    return [(int(a), 100 * rng.binomial(a, t) / a) for a, t in zip(n, true, strict=True)]


def test_overdispersion_is_found_when_there_and_not_invented() -> None:
    rng = np.random.default_rng(8)
    spread = [funnel_data(comparisons(_funnel_points(rng, 50, 0.06)), "ylbc",
                              "low_overall_wellbeing", 2025) for _ in range(5)]
    assert all(f.phi > 1.3 and f.tau2 > 0 for f in spread)
    assert 0.03 < np.median([np.sqrt(f.tau2) for f in spread]) < 0.09
    null = [funnel_data(comparisons(_funnel_points(rng, 50, 0.0)), "ylbc",
                            "low_overall_wellbeing", 2025) for _ in range(10)]
    assert np.median([f.phi for f in null]) < 1.2
    assert np.median([np.sqrt(f.tau2) for f in null]) < 0.015
    # With real spread, chance-only limits would put many points outside; these do not.
    outside = [sum(f.count_outside(0.998)) for f in spread]
    assert np.mean(outside) < 1.5


def test_funnel_text_matches_what_chance_predicts() -> None:
    rng = np.random.default_rng(9)
    claims = 0
    for _ in range(40):
        f = funnel_data(comparisons(_funnel_points(rng, 45, 0.0)), "ylbc",
                            "low_overall_wellbeing", 2025)
        claims += funnel_verdict(f)[1]
    assert claims <= 5  # about 5% of funnels under pure chance (binomial sd ~1.4)
    # One point just beyond the 99.8% limits among 45: may be chance (about 1 in 12).
    base = [(200, 30.0)] * 44
    hi = funnel_limits(0.3, 200, 0.998)[1][0] * 100
    f = funnel_data(comparisons([*base, (200, hi + 0.6)]), "ylbc",
                        "low_overall_wellbeing", 2025)
    text, real = funnel_verdict(f)
    assert sum(f.count_outside(0.998)) == 1 and not real and "may be chance" in text
    # A point far beyond them is more than chance.
    f = funnel_data(comparisons([*base, (200, 60.0)]), "ylbc", "low_overall_wellbeing",
                        2025)
    assert funnel_verdict(f)[1]
    assert "more than chance alone would explain" in funnel_sentence(f)
