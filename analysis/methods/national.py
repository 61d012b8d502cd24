"""The national results: computed once (``compute_national``), read by every document.

``compute_national`` is the national stage's computation, shared by the
build and by standalone notebook runs: the pooled comparison tables, the
driver models (cached) and every authority's focus areas, written to one
folder. ``National`` is what the national briefing shows, built from that
folder by ``analysis.reports.national.prepare``; ``write_national_csvs``
publishes the national figures (rates, groups, funnel points) at the
precision disclosure control allows (``analysis.methods.disclosure``: no
exact national counts anywhere).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.core import layout
from analysis.core.files import write_csv_atomic
from analysis.methods import drivers, focus, indicators
from analysis.methods.disclosure import pooled_count
from analysis.methods.drivers import DriverResults
from analysis.methods.funnel import FUNNEL_MEASURES, Funnel, funnel_data, national_figure
from analysis.methods.indicators import answers_by_survey, csv_ready

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

    The pooled figure as ``analysis.methods.disclosure.pooled_comparator`` publishes
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
    paths = [write_csv_atomic(csv_ready(rates), folder / layout.RATES_CSV, "%.10g"),
             write_csv_atomic(csv_ready(funnels), folder / layout.FUNNELS_CSV, "%.10g")]
    brk = tables.get("breakdowns")
    if brk is not None and "national_pct" in brk.columns and len(brk):
        keys = ["survey_year", "survey", "indicator", "by", "group"]
        groups = brk.groupby(keys, sort=False)[["national_pct", "national_step"]].first()
        groups = groups.reset_index().rename(columns={"national_pct": "pct",
                                                      "national_step": "pct_step"})
        paths.append(write_csv_atomic(csv_ready(groups), folder / layout.GROUPS_CSV, "%.10g"))
    return paths


def national_answers(tables: dict[str, pd.DataFrame], year: int) -> dict[str, int]:
    """Answers per survey, all authorities, as published (``pooled_count``: nearest 10 or more).

    An authority's count of a survey that its own briefing withholds
    (``briefing.answers_by_survey``) is a withheld entry of the pool, so the
    national total is rounded coarsely enough that it cannot be recovered.
    A survey whose total cannot be published safely is left out.
    """

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




def compute_national(df: pd.DataFrame, folder: Path, models_dir: Path, data_fp: str,
                     briefing_years: Mapping[str, int] | None = None,
                     fitted: Callable[[], DriverResults] | None = None,
                     with_tables: Callable[[Path], object] | None = None,
                     ) -> tuple[dict[str, pd.DataFrame], DriverResults]:
    """Fit once: every national result a notebook slices, written to ``folder``.

    The pooled comparison tables (``indicators.national_tables``), the driver
    models (fitted once per data fingerprint and cached in ``models_dir``),
    their performance, and every authority's focus areas. The folder is
    written whole and then moved into place, so a reader never sees half of
    it. The build (``analysis.pipeline.build``) and a standalone notebook run
    (``analysis.reports.inputs``) both call this: one recipe for both.

    The build passes ``fitted``, which returns the same models fitted in
    another process (started before the tables, so the fit, the longest
    step, runs beside the rest), and ``with_tables``, called with the
    unfinished folder once the tables are in it (every authority's contract
    CSVs are sliced from them while the models are still being fitted).
    """
    folder = Path(folder)
    tables = indicators.national_tables(df, briefing_years=dict(briefing_years or {}))
    scratch = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    indicators.write_national_tables(tables, scratch)
    if with_tables is not None:
        with_tables(scratch)
    results = (fitted() if fitted is not None
               else drivers.cached_national_models(df, models_dir, data_fp))
    focus_table = focus.all_focus_areas(results.drivers, tables["comparisons"])
    focus_table.to_csv(scratch / layout.FOCUS_CSV, index=False)
    results.performance.to_csv(scratch / layout.PERFORMANCE_CSV, index=False)
    results.drivers.to_csv(scratch / layout.DRIVERS_FULL_CSV, index=False)
    shutil.rmtree(folder, ignore_errors=True)
    os.replace(scratch, folder)
    return tables, results
