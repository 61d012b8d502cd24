"""Statistical neighbours and region: pooled only from published figures, flagged with care."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.core.errors import ParamsError
from analysis.core.paths import FIXTURE_DATA, PROJECT_ROOT
from analysis.data.params import Authority, demo_comparators, resolve_params
from analysis.methods import comparators as cmp
from analysis.methods import indicators
from analysis.methods.disclosure import MIN_COUNT, pooled_comparator, small_count

ROOT = PROJECT_ROOT
FIXTURE = FIXTURE_DATA
ME = "E99000001"
OTHERS = ["E99000004", "E99000006", "E99000007", "E99000040"]


@pytest.fixture(scope="module")
def tables(fixture_tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    return fixture_tables


def rows_of(tables: dict, code: str, kind: str = "indicator") -> pd.DataFrame:
    return indicators.la_indicators(tables, code, 2025, kind)


def test_pool_is_rounded_by_the_comparator_rule(tables: dict) -> None:
    """Every pooled figure is the disclosure rule's own: rounded to a safe step, or withheld."""

    own = rows_of(tables, ME)
    pooled = cmp.pooled(tables, own, OTHERS, "neighbours", ME, 2025)
    assert "n" not in cmp.COLUMNS  # a pool's base could give a withheld member's away
    comp = tables["comparisons"]
    members = comp[comp["la_code"].isin(OTHERS) & (comp["survey_year"] == 2025)
                   & (comp["kind"] == "indicator") & (comp["n"] > 0)]
    withheld_member = 0
    for rec in pooled.to_dict("records"):
        sel = members[(members["survey"] == rec["survey"])
                      & (members["indicator"] == rec["indicator"])]
        n = sel["n"].to_numpy(float)
        pct, step = pooled_comparator(sel["k"].to_numpy(float), n, ~sel["known"].to_numpy(bool),
                                      np.where(small_count(n), MIN_COUNT - 1, n))
        if rec["suppressed"]:
            assert np.isnan(rec["pct"]) and rec["flag"] == "suppressed"
            continue
        assert rec["pct"] == pytest.approx(pct) and rec["step"] == pytest.approx(step)
        assert rec["pct"] % rec["step"] == pytest.approx(0)
        withheld_member += int((~sel["known"]).any())
    assert withheld_member > 0, "the fixture should exercise a pool with a withheld member"


def test_pool_of_one_or_a_small_base_is_withheld(tables: dict) -> None:
    own = rows_of(tables, ME)
    alone = cmp.pooled(tables, own, OTHERS[:1], "neighbours", ME, 2025)
    assert alone["suppressed"].all() and alone["pct"].isna().all()
    assert set(alone["flag"]) == {"suppressed"}
    # the authority itself never counts as its own neighbour
    selfish = cmp.pooled(tables, own, [ME, OTHERS[0]], "neighbours", ME, 2025)
    assert selfish["suppressed"].all()


def test_flags_need_a_difference_chance_cannot_explain(tables: dict) -> None:
    own = rows_of(tables, ME)
    wb = rows_of(tables, ME, "wellbeing")
    out = cmp.comparisons(tables, own, wb, ME, 2025, OTHERS, OTHERS[:2])
    assert set(out["group"]) == {"neighbours", "region"}
    assert set(out["flag"]) <= {"better", "similar", "worse", "suppressed"}
    # a planted big gap is flagged; the same gap on a tiny base is not
    fake = own.copy()
    target = fake.index[~fake["suppressed"] & (fake["n"] >= 40)][0]
    fake.loc[target, "pct"] = 2.0 if fake.loc[target, "direction"] == "higher_is_better" \
        else 98.0
    flagged = cmp.comparisons(tables, fake, wb.iloc[0:0], ME, 2025, OTHERS)
    assert flagged.loc[flagged.index[target], "flag"] == "worse"
    assert (flagged["flag"] == "worse").sum() >= 1
    assert cmp.comparisons(tables, own, wb, ME, 2025).empty


def test_holm_controls_the_family() -> None:
    p = np.array([0.01, 0.04, 0.03, np.nan, 0.5])
    adj = cmp.holm(p)
    assert np.isnan(adj[3])
    assert adj[0] == pytest.approx(0.04) and adj[2] == pytest.approx(0.09)
    assert adj[1] == pytest.approx(0.09) and adj[4] == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("neighbours: [E99000004, E99000999]\n", "not in the data: E99000999"),
        ("neighbours: [E99000001]\n", "lists the authority itself"),
        ("neighbours: E99000004\n", "neighbours must be a list of authority codes"),
        ("region: [North]\n", "region must be a name"),
    ],
)
def test_bad_neighbours_or_region_name_the_file(tmp_path: Path, content: str,
                                                 message: str) -> None:
    auth = Authority(ME, "Northbridge", 2025, (2024, 2025))
    (tmp_path / "northbridge.yaml").write_text(content)
    with pytest.raises(ParamsError) as err:
        resolve_params(auth, tmp_path, [ME, *OTHERS])
    assert "northbridge.yaml" in str(err.value) and message in str(err.value)


def test_demonstration_authorities_get_fictional_regions_and_neighbours() -> None:
    got = demo_comparators([ME, *OTHERS, "E06000001"])
    assert "E06000001" not in got  # a real code never gets a fictional region
    assert got == demo_comparators([*reversed(OTHERS), ME, "E06000001"])  # deterministic
    for code, spec in got.items():
        assert spec["region"] and code not in spec["neighbours"]
        assert set(spec["neighbours"]) <= {ME, *OTHERS} and len(spec["neighbours"]) == 4
