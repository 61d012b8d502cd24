"""Indicators: every authority against all the others, fitted once, sliced per authority.

Why "fit once, slice many": comparing one authority with the rest needs the
whole extract, and there are dozens of authorities. The national stage
(``national_tables``) therefore runs once per build on the validated extract
and writes plain CSV tables (``write_national_tables``); each authority's
notebook only reads them (``read_national_tables``, cached per process) and
takes its rows (``la_indicators``, ``la_breakdowns``, ``la_change``,
``la_profile``), with disclosure control applied on the way out. Nothing
per-authority touches the raw answers, so a notebook runs in well under a
second and the same numbers appear in every output.

Definitions (codebook-driven; ``analysis.data.codebook``):

* an indicator's **base** ``n`` is everyone in the survey who answered the
  question, less any ``base_excludes`` answers; ``k`` is how many of them
  gave a ``counts`` answer (``Measure.meets``);
* **others** are all *other* authorities' answers in the same survey and
  year, pooled (national total minus this authority), so an authority is
  never compared with itself;
* ``expected_pct`` is the authority's case-mix expectation: the % its
  children would give if they answered like children of the same age and
  gender (and disability, for care leavers) in the other authorities
  (``analysis.methods.fairness``);
* ``flag`` is better/similar/worse: the observed count against that
  expectation, two one-sided tests (exact mid-p for small numbers), with
  the false discovery rate controlled at 5% across every result of the
  authority's briefing (comparisons and changes together), read through the
  indicator's ``direction``;
* ``change`` compares an authority's gap from its expectation with the same
  gap in its previous survey year (a difference in differences: other
  authorities' change over the same years is allowed for; a trend test with
  three or more years), improved/similar/declined, in the same family.

The national tables are internal and unsuppressed: they never leave the
build folder. Everything an authority publishes goes through
``analysis.methods.disclosure``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.core import escape
from analysis.core.errors import UserError
from analysis.core.files import write_csv_atomic
from analysis.core.paths import REFERENCE_DIR
from analysis.core.slug import authority_slug
from analysis.data.codebook import Codebook, load_codebook
from analysis.data.wellbeing import overall_wellbeing
from analysis.methods import fairness
from analysis.methods.disclosure import (
    MIN_COUNT,
    RATE_COLUMNS,
    band_lines,
    band_suppression,
    pooled_comparator,
    protect_count_table,
    rate_suppressed,
    round_to_step,
    small_count,
    suppress_breakdowns,
    suppress_rates,
)
from analysis.methods.fairness import min_detectable_difference
from analysis.methods.stats import wilson_interval

GENPOP_PATH = REFERENCE_DIR / "genpop.csv"
BY = ("la_code", "survey_year", "survey")
#: The interface columns of indicators.csv and wellbeing.csv (interfaces.md), in order.
OUTPUT_COLUMNS = (
    "la_code", "survey_year", "survey", "indicator", "domain", "direction", "n", "pct",
    "ci_low", "ci_high", "others_pct", "expected_pct", "genpop_pct", "flag", "suppressed",
)
BREAKDOWN_COLUMNS = (
    "la_code", "survey_year", "survey", "indicator", "kind", "domain", "direction", "by",
    "group", "group_label", "n", "pct", "ci_low", "ci_high", "others_pct", "suppressed",
)
CHANGE_COLUMNS = (
    "la_code", "survey_year", "prev_year", "survey", "indicator", "kind", "domain",
    "direction", "n", "pct", "prev_n", "prev_pct", "flag", "suppressed",
)
COMPARISON_COLUMNS = (
    "la_code", "la_name", "survey_year", "survey", "indicator", "kind", "domain", "direction",
    "n", "k", "pct", "ci_low", "ci_high", "others_n", "others_k", "others_pct", "genpop_pct",
    "expected_pct", "expected_low", "expected_high", "expected_pub_pct", "gap_pp", "gap_var",
    "test", "p_lower", "p_upper", "p_value", "q_value", "family_size", "flag", "certainty",
    "shrunk_gap_pp", "shrunk_low", "shrunk_high", "withheld", "known", "national_pct",
    "national_step",
)
#: Change-table columns the national stage adds to the published ones (internal).
CHANGE_EXTRA_COLUMNS = ("did_pp", "trend_pp", "method", "p_lower", "p_upper", "p_value",
                        "q_value", "certainty")
#: Statistics blanked with a suppressed percentage (besides disclosure.RATE_COLUMNS).
FAIR_RATE_COLUMNS = ("expected_pct", "expected_low", "expected_high", "expected_pub_pct",
                     "gap_pp", "gap_var",
                     "p_lower", "p_upper", "q_value", "shrunk_gap_pp", "shrunk_low",
                     "shrunk_high", "did_pp", "trend_pp")
POWER_COLUMNS = ("la_code", "survey_year", "survey", "n", "family_size", "rate_pct",
                 "min_difference_pp")
#: Groupings for breakdowns; ``age_band`` is derived from age (AGE_BANDS).
BREAKDOWN_VARS = ("gender", "placement", "age_band")
#: Respondent characteristics counted in the profile ("who answered") table.
PROFILE_VARS = ("gender", "placement", "age_band", "years_in_care", "disability")
#: Finer age bands inside the surveys that span several years. The youngest
#: surveys already are age groups (4-7, 8-11) and are too small to split.
AGE_BANDS: dict[str, tuple[tuple[int, int], ...]] = {
    "ylyc_11_17": ((11, 13), (14, 15), (16, 17)),
    "ylbc": ((16, 18), (19, 21), (22, 25)),
}
TABLE_NAMES = ("comparisons", "breakdowns", "change", "profile", "power")
FLOAT_FORMAT = "%.10g"

_TEXT_COLUMNS = (
    "la_code", "la_name", "survey", "indicator", "kind", "domain", "direction", "flag",
    "by", "group", "source", "population", "test", "certainty", "method",
)
_INT_COLUMNS = (
    "survey_year", "prev_year", "n", "k", "others_n", "others_k", "prev_n", "prev_k", "count",
    "family_size",
)


# ---------------------------------------------------------------- helpers
def round1(values: pd.Series | np.ndarray | float) -> pd.Series | np.ndarray | float:
    """Round to one decimal place, halves away from zero (12.25 -> 12.3).

    Python's and NumPy's round() send halves to the even digit and work on
    the binary value, so 12.25 could print as 12.2: readers checking a figure
    by hand expect 12.3. The tiny epsilon absorbs binary noise (e.g.
    100 * 49 / 200 stored as 24.499999...).
    """
    arr = np.asarray(values, dtype="float64")
    out = np.sign(arr) * np.floor(np.abs(arr) * 10 + 0.5 + 1e-9) / 10
    if isinstance(values, pd.Series):
        return pd.Series(out, index=values.index, name=values.name)
    return out if out.ndim else float(out)


def age_band(df: pd.DataFrame) -> pd.Series:
    """Age band label (e.g. '11-13') for surveys listed in AGE_BANDS, else <NA>."""
    age = pd.to_numeric(df["age"], errors="coerce") if "age" in df else pd.Series(
        np.nan, index=df.index)
    out = pd.Series(pd.NA, index=df.index, dtype="string")
    survey = df["survey"].astype(str)
    for s, bands in AGE_BANDS.items():
        for lo, hi in bands:
            out = out.mask((survey == s) & (age >= lo) & (age <= hi), f"{lo}-{hi}")
    return out


def _with_derived(df: pd.DataFrame, cb: Codebook) -> pd.DataFrame:
    """The extract plus ``overall`` well-being and ``age_band`` (computed once)."""

    out = df.copy()
    if "overall" not in out.columns:
        out["overall"] = overall_wellbeing(out, cb)
    if "age_band" not in out.columns:
        out["age_band"] = age_band(out)
    out["survey"] = out["survey"].astype(str)
    out["la_code"] = out["la_code"].astype(str)
    out["survey_year"] = pd.to_numeric(out["survey_year"]).astype("int64")
    return out


def _order_keys(cb: Codebook) -> tuple[dict[str, int], dict[str, int]]:
    surveys = {s: i for i, s in enumerate(cb.surveys)}
    measures = {m: i for i, m in enumerate(cb.measures())}
    return surveys, measures


def _sort(frame: pd.DataFrame, keys: Sequence[str], cb: Codebook) -> pd.DataFrame:
    """Sort by ``keys`` with surveys and indicators in codebook order (stable output)."""
    surveys, measures = _order_keys(cb)
    helper = frame.copy()
    sort_cols = []
    for key in keys:
        if key not in helper.columns:
            continue
        if key == "survey":
            helper["_survey"] = helper["survey"].map(surveys).fillna(len(surveys))
            sort_cols.append("_survey")
        elif key == "indicator":
            helper["_indicator"] = helper["indicator"].map(measures).fillna(len(measures))
            sort_cols.append("_indicator")
        else:
            sort_cols.append(key)
    helper = helper.sort_values(sort_cols, kind="stable")
    return helper.drop(columns=[c for c in ("_survey", "_indicator") if c in helper.columns]
                       ).reset_index(drop=True)


def _pct(k: pd.Series, n: pd.Series) -> pd.Series:
    with np.errstate(divide="ignore", invalid="ignore"):
        return (100.0 * k.astype("float64") / n.astype("float64")).where(n > 0)


# ---------------------------------------------------------------- counting
def measure_matrix(
    df: pd.DataFrame, codebook: Codebook | None = None,
    kinds: Iterable[str] = ("indicator", "wellbeing"),
) -> pd.DataFrame:
    """One column per measure: 1 meets, 0 does not, NaN not in the base.

    NaN also where the respondent's survey does not ask the measure, so a
    stray answer can never enter another survey's base. Computed once and
    reused for every grouping.
    """
    cb = codebook or load_codebook()
    survey = df["survey"].astype(str).to_numpy()
    wanted = set(kinds)
    meets = {}
    for m in cb.measures().values():
        if m.kind not in wanted or m.column not in df.columns:
            continue
        values = m.meets(df[m.column]).to_numpy(dtype="float64")
        meets[m.id] = np.where(np.isin(survey, m.surveys), values, np.nan)
    return pd.DataFrame(meets, index=df.index)


def _count(
    matrix: pd.DataFrame, df: pd.DataFrame, keys: Sequence[str], cb: Codebook
) -> pd.DataFrame:
    """Group ``matrix`` by ``keys`` into the long n/k frame (see ``measure_counts``)."""
    grouped = matrix.groupby([df[k] for k in keys], dropna=True, sort=True)
    grouped_n = grouped.count()  # answers in the base (non-NaN)
    grouped_k = grouped.sum(min_count=0)
    n = grouped_n.stack().rename("n")
    k = grouped_k.stack().rename("k")
    long = pd.concat([n, k], axis=1).reset_index()
    long.columns = [*keys, "indicator", "n", "k"]
    measures = cb.measures()
    long["kind"] = long["indicator"].map({m: v.kind for m, v in measures.items()})
    if "survey" in keys:
        applicable = pd.DataFrame(
            [(s, mid) for mid in matrix.columns for s in measures[mid].surveys],
            columns=["survey", "indicator"],
        )
        long = long.merge(applicable, on=["survey", "indicator"], how="inner")
    else:
        long = long[long["n"] > 0]
    long["n"] = long["n"].astype("int64")
    long["k"] = long["k"].fillna(0).round().astype("int64")
    cols = [*keys, "indicator", "kind", "n", "k"]
    return _sort(long[cols], [*keys, "indicator"], cb)


def measure_counts(
    df: pd.DataFrame,
    by: Sequence[str] = BY,
    extra_by: Sequence[str] = (),
    codebook: Codebook | None = None,
    kinds: Iterable[str] = ("indicator", "wellbeing"),
) -> pd.DataFrame:
    """Base ``n`` and count ``k`` of every indicator and well-being measure per group.

    Long frame ``[*by, *extra_by, indicator, kind, n, k]``. One pass: every
    measure becomes a column of 1/0/NaN (``measure_matrix``) and a single
    groupby sums them, so the whole extract is counted in a fraction of a
    second. Rows with a blank grouping value are left out of that grouping.
    When ``survey`` is a key, only the surveys a measure applies to get a row
    (with n = 0 if nobody in the group answered it).
    """
    cb = codebook or load_codebook()
    if "overall" not in df.columns or ("age_band" in extra_by and "age_band" not in df.columns):
        df = _with_derived(df, cb)
    matrix = measure_matrix(df, cb, kinds)
    return _count(matrix, df, [*by, *extra_by], cb)


def _others(frame: pd.DataFrame, pool_keys: Sequence[str]) -> pd.DataFrame:
    """Add others_n/others_k/others_pct: the pool (same ``pool_keys``) minus this row."""
    out = frame.copy()
    totals = out.groupby(list(pool_keys), sort=False)[["n", "k"]].transform("sum")
    out["others_n"] = (totals["n"] - out["n"]).astype("int64")
    out["others_k"] = (totals["k"] - out["k"]).astype("int64")
    out["others_pct"] = _pct(out["others_k"], out["others_n"])
    return out


def _add_rates(frame: pd.DataFrame) -> pd.DataFrame:

    out = frame.copy()
    out["pct"] = _pct(out["k"], out["n"])
    low, high = wilson_interval(out["k"].to_numpy(), out["n"].to_numpy())
    out["ci_low"] = 100.0 * np.asarray(low)
    out["ci_high"] = 100.0 * np.asarray(high)
    return out


def _add_measure_info(frame: pd.DataFrame, cb: Codebook) -> pd.DataFrame:
    measures = cb.measures()
    out = frame.copy()
    out["domain"] = out["indicator"].map({m: v.domain for m, v in measures.items()})
    out["direction"] = out["indicator"].map({m: v.direction for m, v in measures.items()})
    return out


def load_genpop(path: str | Path | None = None) -> pd.DataFrame:
    """General-population comparators: ``survey, indicator, genpop_pct, population, source``."""
    p = Path(path) if path else GENPOP_PATH
    if not p.exists():
        return pd.DataFrame(columns=["survey", "indicator", "genpop_pct", "population", "source"])
    return pd.read_csv(p, dtype={"survey": str, "indicator": str, "population": str,
                                 "source": str})


# ---------------------------------------------------------------- disclosure at national level
def band_measures(cb: Codebook) -> dict[str, list[str]]:
    """The band measures of each 0-10 well-being scale (low, high, very high), by scale."""
    raw = cb.raw
    out: dict[str, list[str]] = {}
    for column in raw.get("wellbeing_scales", {}):
        scale = column.removeprefix("wb_")
        out[scale] = [f"{band}_{scale}" for band in raw.get("wellbeing_bands", {})]
    return out


def _with_national(frame: pd.DataFrame, pool_keys: Sequence[str]) -> pd.DataFrame:
    """Add ``national_pct``/``national_step``: the one published figure of each pool.

    Every authority's answers in the pool (e.g. survey, measure and year)
    together, rounded by ``analysis.methods.disclosure.pooled_comparator`` so that it
    gives no figure away that a reader does not hold (``known`` False: withheld,
    or not in any published file, such as an earlier year not shown). It is
    the comparator every authority publishes (``others_pct``): the same for
    all, so there is nothing to intersect. The exact other-authorities
    figure stays internal (flags).
    """
    out = frame.copy()
    pct = np.full(len(out), np.nan)
    step = np.full(len(out), np.nan)
    k = out["k"].to_numpy("float64")
    n = out["n"].to_numpy("float64")
    w = ~out["known"].to_numpy(bool)
    # What a reader knows of a withheld entry's base: shown from 5, at most 4 when
    # blank; a breakdown group's is bounded by its line (``_breakdown_bounds``).
    public = out["bound"].to_numpy("float64") if "bound" in out.columns else np.where(
        small_count(n), MIN_COUNT - 1, n)
    for idx in out.groupby(list(pool_keys), sort=False).indices.values():
        pct[idx], step[idx] = pooled_comparator(k[idx], n[idx], w[idx], public[idx])
    out["national_pct"] = pct
    out["national_step"] = step
    return out


def _whole_band_scales(chg: pd.DataFrame, cb: Codebook) -> np.ndarray:
    """A change row's earlier year is hidden for every band of a scale or for none.

    The earlier year's bands are published only through ``change.csv``; if
    some of one scale were shown and others not, the unshown ones plus the
    middle band would be the base minus the shown ones (the band rule of
    ``band_suppression``, applied to what this file shows).
    """
    hidden = (chg["withheld"].astype(bool) | chg["prev_withheld"].astype(bool)).to_numpy()
    scale = pd.Series(
        band_lines(chg["indicator"], band_measures(cb)), index=chg.index)
    out = chg["prev_withheld"].astype(bool).to_numpy().copy()
    sel = (scale >= 0).to_numpy()
    if sel.any():
        keys = [chg.loc[sel, c] for c in ("la_code", "survey_year", "survey")] + [scale[sel]]
        any_hidden = pd.Series(hidden[sel], index=chg.index[sel]).groupby(keys).transform("any")
        out[sel] = out[sel] | any_hidden.to_numpy(bool)
    return out


def _breakdown_totals(brk: pd.DataFrame, comp: pd.DataFrame
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each breakdown row's line total as published: base, count (NaN if withheld), constrained."""
    keys = ["la_code", "survey_year", "survey", "indicator"]
    tot = comp.set_index(keys)
    idx = pd.MultiIndex.from_frame(brk[keys])
    total_n = tot["n"].reindex(idx).to_numpy("float64")
    total_k = tot["k"].reindex(idx).to_numpy("float64")
    withheld = tot["withheld"].reindex(idx).fillna(True).to_numpy(bool) if (
        "withheld" in tot.columns) else rate_suppressed(total_n, total_k)
    total_k = np.where(withheld, np.nan, total_k)
    published = (total_n > 0) & ~small_count(total_n)
    return total_n, total_k, published


def _breakdown_bounds(brk: pd.DataFrame, comp: pd.DataFrame) -> np.ndarray:
    """What a reader knows of each group's base: its line's base less the shown groups."""
    total_n, _, _ = _breakdown_totals(brk, comp)
    total_pub = np.where(small_count(total_n), MIN_COUNT - 1, total_n)
    shown = np.where(brk["known"].to_numpy(bool), brk["n"].to_numpy("float64"), 0.0)
    line = brk.groupby(["la_code", "survey_year", "survey", "indicator", "by"],
                       sort=False).ngroup().to_numpy()
    shown_sum = np.bincount(line, weights=shown)[line]
    bound = total_pub - shown_sum
    return np.where(np.isfinite(bound), np.maximum(bound, brk["n"].to_numpy("float64")),
                    brk["n"].to_numpy("float64"))


def _breakdown_withheld(brk: pd.DataFrame, comp: pd.DataFrame,
                        extra: np.ndarray | None = None) -> np.ndarray:
    """Which breakdown groups are withheld (rules 1-3), for every authority at once."""
    total_n, total_k, published = _breakdown_totals(brk, comp)
    frame = brk[["la_code", "survey_year", "survey", "indicator", "by", "n", "k"]].copy()
    if extra is not None:
        frame["suppressed"] = extra
    out = suppress_breakdowns(frame, ["la_code", "survey_year", "survey", "indicator", "by"],
                              published, total_n=total_n, total_k=total_k)
    return out["suppressed"].to_numpy(bool)


# ---------------------------------------------------------------- national stage
def national_tables(
    df: pd.DataFrame,
    genpop: pd.DataFrame | None = None,
    codebook: Codebook | None = None,
    briefing_years: dict[str, int] | None = None,
) -> dict[str, pd.DataFrame]:
    """All comparison tables for every authority, from the whole validated extract.

    Returns (unsuppressed, internal):

    * ``comparisons``: one row per authority x year x survey x measure with
      n, k, pct, Wilson ci_low/ci_high, others_n/k/pct, genpop_pct, p_value
      and flag (better/similar/worse, direction-aware);
    * ``breakdowns``: the same measures by gender, placement and age band
      (``by``, ``group``): n, k and the pooled other authorities' others_n,
      others_k for the same group (descriptive: no test, groups are small;
      percentages are derived per authority in ``la_breakdowns``);
    * ``change``: each authority-year against the authority's previous
      survey year for that survey: pct both years, p_value,
      flag improved/similar/declined;
    * ``profile``: number of answers by survey and respondent characteristic.
    """

    cb = codebook or load_codebook()
    data = _with_derived(df, cb)
    names = data.groupby("la_code")["la_name"].first().astype(str)

    # comparisons: against the case-mix expectation, equal-tailed tests
    matrix = measure_matrix(data, cb)
    counts = _count(matrix, data, BY, cb)
    comp = _others(counts, ["survey_year", "survey", "indicator"])
    comp = _add_rates(comp)
    comp = _add_measure_info(comp, cb)
    gp = load_genpop() if genpop is None else genpop
    gp = gp[["survey", "indicator", "genpop_pct"]].drop_duplicates(["survey", "indicator"])
    comp = comp.merge(gp, on=["survey", "indicator"], how="left")
    comp = fairness.casemix_tests(comp, fairness.cell_counts(matrix, data))
    shrunk = fairness.shrink_gaps(comp["gap_pp"], comp["gap_var"],
                                  [comp["survey_year"], comp["survey"], comp["indicator"]])
    comp = pd.concat([comp, shrunk[["shrunk_gap_pp", "shrunk_low", "shrunk_high"]]], axis=1)
    comp.insert(1, "la_name", comp["la_code"].map(names))
    comp["withheld"] = band_suppression(comp, rate_suppressed(comp["n"], comp["k"]),
                                        band_measures(cb))
    # Flags are set below, once the changes (the same family) are tested.
    comp["flag"], comp["certainty"], comp["q_value"], comp["family_size"] = (
        "similar", "", np.nan, 0)
    comp = _sort(comp[[c for c in COMPARISON_COLUMNS if c in comp.columns]],
                 ["la_code", "survey_year", "survey", "indicator"], cb)
    brief = {str(la): int(y) for la, y in comp.groupby("la_code")["survey_year"].max().items()}
    brief |= {str(la): int(y) for la, y in (briefing_years or {}).items()}
    comp_year = comp["la_code"].map(brief).to_numpy()

    # breakdowns
    parts = []
    for var in BREAKDOWN_VARS:
        if var not in data.columns:
            continue
        b = _count(matrix, data, [*BY, var], cb)
        b = b[b["n"] > 0].rename(columns={var: "group"})
        b.insert(3, "by", var)
        parts.append(b)
    if parts:
        brk = pd.concat(parts, ignore_index=True)
        brk["group"] = brk["group"].astype(str)
        brk = _others(brk, ["survey_year", "survey", "indicator", "by", "group"])
        # Integers only: 100k+ rows format slowly as floats; la_breakdowns
        # derives the percentages for the one authority it needs.
        brk = brk.drop(columns="others_pct")
        brk = _sort(brk, ["la_code", "survey_year", "survey", "indicator", "by", "group"], cb)
        brk["withheld"] = _breakdown_withheld(brk, comp)
        brk["known"] = (brk["survey_year"].to_numpy() == brk["la_code"].map(brief).to_numpy()
                        ) & ~brk["withheld"].to_numpy(bool)
        brk["bound"] = _breakdown_bounds(brk, comp)
        brk = _with_national(brk, ["survey_year", "survey", "indicator", "by", "group"])
        brk = brk.drop(columns="bound")
    else:
        brk = pd.DataFrame(columns=["la_code", "survey_year", "survey", "by", "group",
                                    "indicator", "kind", "n", "k"])

    # change against the authority's previous survey year: difference in differences
    chg = comp[["la_code", "survey_year", "survey", "indicator", "kind", "domain",
                "direction", "n", "k", "pct", "ci_low", "ci_high", "withheld"]].copy()
    chg = chg.sort_values(["la_code", "survey", "indicator", "survey_year"], kind="stable")
    prev = chg.groupby(["la_code", "survey", "indicator"], sort=False)[
        ["survey_year", "n", "k", "pct", "ci_low", "ci_high", "withheld"]].shift(1)
    prev.columns = ["prev_year", "prev_n", "prev_k", "prev_pct", "prev_ci_low", "prev_ci_high",
                    "prev_withheld"]
    chg = pd.concat([chg, prev], axis=1)
    chg = chg[chg["prev_year"].notna()].copy()
    for col in ("prev_year", "prev_n", "prev_k"):
        chg[col] = chg[col].astype("int64")
    chg["prev_withheld"] = chg["prev_withheld"].astype(bool)
    tests = fairness.change_tests(comp.assign(publishable=~comp["withheld"].astype(bool)))
    chg = chg.merge(tests.drop(columns="prev_year"), on=fairness.KEYS, how="left")
    chg["p_value"] = np.minimum(1.0, 2 * np.minimum(chg["p_lower"], chg["p_upper"]))
    chg = _sort(chg, ["la_code", "survey_year", "survey", "indicator"], cb)
    chg["prev_withheld"] = _whole_band_scales(chg, cb)

    # one family per authority and year: every comparison and change it publishes
    comp_pub = (~comp["withheld"].astype(bool) & (comp["others_n"] > 0)
                & comp["p_value"].notna()).to_numpy()
    chg_pub = (~chg["withheld"].astype(bool) & ~chg["prev_withheld"].astype(bool)
               & chg["p_value"].notna()).to_numpy()
    family = pd.concat([
        comp.loc[comp_pub, ["la_code", "survey_year", "p_value"]].assign(
            _t="c", _i=comp.index[comp_pub]),
        chg.loc[chg_pub, ["la_code", "survey_year", "p_value"]].assign(
            _t="h", _i=chg.index[chg_pub]),
    ], ignore_index=True)
    group = family["la_code"].astype(str) + "|" + family["survey_year"].astype(str)
    family["q"] = fairness.bh_adjust(family["p_value"], group)
    for frame, tag in ((comp, "c"), (chg, "h")):
        sel = family[family["_t"] == tag].set_index("_i")
        frame["q_value"] = sel["q"].reindex(frame.index)
        words = (("better", "similar", "worse") if tag == "c"
                 else ("improved", "similar", "declined"))
        lower = (frame["direction"] == "lower_is_better").to_numpy()
        flag, certainty = fairness.flags_from_tails(
            frame["p_lower"], frame["p_upper"], frame["q_value"], lower, words)
        frame["flag"] = flag
        frame["certainty"] = certainty
    sizes = family.groupby(["la_code", "survey_year"]).size()
    comp["family_size"] = pd.MultiIndex.from_frame(comp[["la_code", "survey_year"]]).map(
        lambda key: int(sizes.get(key, 0))).astype("int64")
    power = _power_table(comp.assign(publishable=comp_pub))

    # What a reader holds: each authority's briefing-year figures that are not
    # withheld, and the earlier year's where its change row is shown. The
    # national figures are rounded against everything else (``_with_national``).
    shown_prev = chg[(chg["survey_year"].to_numpy() == chg["la_code"].map(brief).to_numpy())
                     & ~chg["withheld"].astype(bool) & ~chg["prev_withheld"].astype(bool)]
    prev_keys = set(zip(shown_prev["la_code"], shown_prev["prev_year"].astype(int),
                        shown_prev["survey"], shown_prev["indicator"], strict=True))
    is_prev = np.array([key in prev_keys for key in zip(
        comp["la_code"], comp["survey_year"].astype(int), comp["survey"], comp["indicator"],
        strict=True)], dtype=bool)
    comp["known"] = ((comp["survey_year"].to_numpy() == comp_year) & ~comp["withheld"]
                     ) | is_prev
    comp = _with_national(comp, ["survey_year", "survey", "indicator"])[
        list(COMPARISON_COLUMNS)]

    # profile: who answered
    prof_parts = [
        data.groupby(list(BY)).size().rename("count").reset_index().assign(by="total",
                                                                           group="total")
    ]
    for var in PROFILE_VARS:
        if var in data.columns:
            p = data.groupby([*BY, var], dropna=True).size().rename("count").reset_index()
            prof_parts.append(p.rename(columns={var: "group"}).assign(by=var))
    prof = pd.concat(prof_parts, ignore_index=True)
    prof["group"] = prof["group"].astype(str)
    prof = _sort(prof[[*BY, "by", "group", "count"]], [*BY, "by", "group"], cb)

    return {"comparisons": comp, "breakdowns": brk, "change": chg, "profile": prof,
            "power": power}


def _power_table(comp: pd.DataFrame) -> pd.DataFrame:
    """Smallest detectable difference per authority, year and survey (``POWER_COLUMNS``).

    For a typical result of the survey: the median base and the median
    other-authority rate over the survey's publishable comparisons, when it is
    the only real difference among the authority's ``family_size`` results.
    """

    pub = comp[comp["publishable"] & (comp["kind"] == "indicator")]
    if pub.empty:
        return pd.DataFrame(columns=list(POWER_COLUMNS))
    g = pub.groupby(list(BY), sort=True)
    out = g.agg(n=("n", "median"), others_n=("others_n", "median"),
                rate_pct=("others_pct", "median"), family_size=("family_size", "first")
                ).reset_index()
    out["n"] = out["n"].round().astype("int64")
    out["min_difference_pp"] = min_detectable_difference(
        out["n"], out["others_n"], out["rate_pct"] / 100, out["family_size"])
    return out[list(POWER_COLUMNS)]


def write_national_tables(tables: dict[str, pd.DataFrame], folder: str | Path) -> list[Path]:
    """Write each table as ``<folder>/<name>.csv`` (deterministic: sorted rows, %.10g floats)."""
    folder = Path(folder)
    return [write_csv_atomic(frame, folder / f"{name}.csv", FLOAT_FORMAT)
            for name, frame in tables.items()]


def _read_table(path: Path) -> pd.DataFrame:
    head = pd.read_csv(path, nrows=0).columns
    dtype: dict[str, str] = {c: "string" for c in _TEXT_COLUMNS if c in head}
    # Only a blank cell is missing (as written): an authority named "NA" stays "NA".
    frame = pd.read_csv(path, dtype=dtype, keep_default_na=False, na_values=[""])
    for col in _TEXT_COLUMNS:
        if col in frame.columns:
            frame[col] = frame[col].astype(object).where(frame[col].notna(), None)
    for col in _INT_COLUMNS:
        if col in frame.columns and frame[col].notna().all():
            frame[col] = frame[col].astype("int64")
    return frame


@lru_cache(maxsize=4)
def _read_cached(folder: str, stamp: tuple[tuple[str, float, int], ...]
                 ) -> dict[str, pd.DataFrame]:
    return {Path(name).stem: _read_table(Path(folder) / name) for name, _, _ in stamp}


def read_national_tables(folder: str | Path) -> dict[str, pd.DataFrame]:
    """Read the tables ``write_national_tables`` wrote.

    Cached per process on the files' names, times and sizes: a build worker
    runs many authorities' notebooks in one worker process and reads the tables
    once. Treat the frames as read-only (the ``la_*`` functions copy).
    """
    folder = Path(folder).resolve()
    files = sorted(p for p in folder.glob("*.csv") if p.stem in TABLE_NAMES)
    if not any(p.stem == "comparisons" for p in files):
        raise UserError(f"{folder}: no national tables here (comparisons.csv missing); "
                        "the national stage writes them")
    stamp = tuple((p.name, p.stat().st_mtime, p.stat().st_size) for p in files)
    return _read_cached(str(folder), stamp)


# ---------------------------------------------------------------- per authority
def la_years(tables: dict[str, pd.DataFrame], la_code: str) -> list[int]:
    """Survey years with answers from this authority, oldest first."""
    comp = tables["comparisons"]
    return sorted({int(y) for y in comp.loc[comp["la_code"] == la_code, "survey_year"]})


def briefing_year(
    tables: dict[str, pd.DataFrame], la_code: str, survey_year: int | None = None
) -> int:
    """The year an authority's briefing reports: its parameter, else its latest year in the data."""
    years = la_years(tables, la_code)
    if not years:
        raise UserError(f"authority {la_code} has no answers in the data")
    if survey_year is None:
        return years[-1]
    if int(survey_year) not in years:
        raise UserError(f"authority {la_code} has no answers in {survey_year} "
                        f"(years in the data: {', '.join(map(str, years))})")
    return int(survey_year)


def la_name(tables: dict[str, pd.DataFrame], la_code: str) -> str:
    """The authority's name as the extract gives it."""
    comp = tables["comparisons"]
    names = comp.loc[comp["la_code"] == la_code, "la_name"]
    if names.empty:
        raise UserError(f"authority {la_code} has no answers in the data")
    return str(names.iloc[0])


def _la_rows(table: pd.DataFrame, la_code: str, survey_year: int) -> pd.DataFrame:
    return table[(table["la_code"] == la_code) & (table["survey_year"] == int(survey_year))]



#: Columns ``la_indicators(..., extra=True)`` adds for the briefing's words.
EXTRA_COLUMNS = ("certainty", "family_size")


def la_indicators(
    tables: dict[str, pd.DataFrame], la_code: str, survey_year: int, kind: str = "indicator",
    extra: bool = False,
) -> pd.DataFrame:
    """One authority's published rows: exactly the interfaces.md columns, suppressed.

    ``kind`` is 'indicator' (indicators.csv) or 'wellbeing' (wellbeing.csv).
    Percentages are 0-100 rounded to 1 dp (``round1``); a base under 10 or a
    numerator of 1-4 is suppressed (``analysis.methods.disclosure``, rule 1; ``k`` is
    still in the rows at that point, though not an output column). The
    case-mix expectation ``expected_pct`` is published to the whole percent
    only and blanked with the row. ``extra`` adds ``EXTRA_COLUMNS`` (how
    sure the flag is, and how many results its chance control covered) for
    the briefing's words; they are not written to the CSV.
    """
    comp = tables["comparisons"]
    rows = _la_rows(comp, la_code, survey_year)
    rows = rows[rows["kind"] == kind].copy()
    rows = _published_comparator(rows)
    for col in ("pct", "ci_low", "ci_high", "genpop_pct"):
        rows[col] = round1(rows[col].astype("float64"))
    # Published: against one national standard per cell (every authority's children,
    # this one's included), to the whole percent, so that no authority's figure is an
    # "all but this one" rate (the test itself compares with the other authorities).
    # It is no finer than the national comparator disclosure control allows (its step),
    # and blank where that comparator is withheld.
    pub = (pd.to_numeric(rows["expected_pub_pct"], errors="coerce")
           if "expected_pub_pct" in rows.columns else pd.Series(np.nan, index=rows.index))
    step = (pd.to_numeric(rows["national_step"], errors="coerce")
            if "national_step" in rows.columns else pd.Series(np.nan, index=rows.index))
    rows["expected_pct"] = [
        round_to_step(float(v), max(1.0, float(st))) if np.isfinite(v) and np.isfinite(st)
        else np.nan for v, st in zip(pub, step, strict=True)]
    rows = suppress_rates(rows, extra_mask=_withheld(rows),
                          columns=(*_RATE_ONLY, *FAIR_RATE_COLUMNS))
    rows["survey_year"] = rows["survey_year"].astype("int64")
    cols = list(OUTPUT_COLUMNS)
    if extra:
        rows["certainty"] = rows["certainty"].astype(object).where(
            ~rows["suppressed"].astype(bool) & rows["certainty"].notna(), "")
        rows["family_size"] = rows["family_size"].astype("int64")
        cols += list(EXTRA_COLUMNS)
    out = rows[cols].reset_index(drop=True)
    out["suppressed"] = out["suppressed"].astype(bool)
    return out


#: What a withheld row loses. The comparator is not among them: it is one
#: national figure, the same for every authority, that gives nothing away.
_RATE_ONLY = tuple(c for c in (
    "k", "pct", "ci_low", "ci_high", "others_n", "others_k", "p_value",
    "prev_k", "prev_pct", "prev_ci_low", "prev_ci_high"))


def _withheld(rows: pd.DataFrame, col: str = "withheld") -> np.ndarray | None:
    """The national stage's decision for these rows (rules 1-3 over every file), if made."""
    if col not in rows.columns:
        return None
    return rows[col].fillna(True).astype(bool).to_numpy()


def _published_comparator(rows: pd.DataFrame) -> pd.DataFrame:
    """``others_pct`` as published: the pool's national figure (``_with_national``).

    Tables made before the national figure existed (no ``national_pct``
    column) get no comparator rather than the exact, invertible one.
    """
    out = rows.copy()
    if "national_pct" in out.columns:
        out["others_pct"] = pd.to_numeric(out["national_pct"], errors="coerce")
    else:
        out["others_pct"] = np.nan
    return out


def group_label(by: str, group: str) -> str:
    """Plain-English label of a breakdown group (e.g. placement 'kinship' -> 'Kinship care')."""
    if by == "age_band":
        lo, _, hi = str(group).partition("-")
        return f"Aged {lo} to {hi}"
    if by in ("total",):
        return "All"
    cb = load_codebook()
    if by in cb.columns:
        return cb.columns[by].allowed_codes().get(str(group), str(group))
    return str(group)


def la_breakdowns(
    tables: dict[str, pd.DataFrame],
    la_code: str,
    survey_year: int,
    by: str | None = None,
    kind: str | None = None,
) -> pd.DataFrame:
    """An authority's measures by group, with primary and secondary suppression.

    The groups of one measure are a line whose total (the authority's own
    figure) is published, so a lone suppressed group (base under 10, or 1-4
    children giving the answer) takes the next smallest group down with it
    (``analysis.methods.disclosure.suppress_breakdowns``). The line counts as
    constrained whenever the overall base is published, even when the
    overall percentage is suppressed: the cautious reading.
    """
    brk = _la_rows(tables["breakdowns"], la_code, survey_year)
    comp = _la_rows(tables["comparisons"], la_code, survey_year)
    if not brk.empty:
        # Whole lines (every grouping of a measure), so the remainder rule sees all groups.
        brk = brk.assign(suppressed=_withheld(brk) if "withheld" in brk.columns else False)
        brk = brk.assign(suppressed=_breakdown_withheld(brk, comp, brk["suppressed"].to_numpy()))
    if by is not None:
        brk = brk[brk["by"] == by]
    if kind is not None:
        brk = brk[brk["kind"] == kind]
    brk = _add_measure_info(_add_rates(brk.copy()), load_codebook())
    brk = _published_comparator(brk)
    for col in ("pct", "ci_low", "ci_high"):
        brk[col] = round1(brk[col].astype("float64"))
    out = suppress_rates(brk, columns=_RATE_ONLY)
    out["n"] = out["n"].mask(out["suppressed"].to_numpy(bool), pd.NA)
    out["group_label"] = [group_label(b, g) for b, g in zip(out["by"], out["group"],
                                                             strict=True)]
    out = _sort_groups(out, load_codebook())
    out = out[list(BREAKDOWN_COLUMNS)].reset_index(drop=True)
    out["suppressed"] = out["suppressed"].astype(bool)
    return out


def _sort_groups(frame: pd.DataFrame, cb: Codebook) -> pd.DataFrame:
    """Survey, indicator, grouping and group in codebook order (girl, boy, other, not said)."""
    surveys, measures = _order_keys(cb)
    by_order = {b: i for i, b in enumerate(BREAKDOWN_VARS)}
    ranks: dict[tuple[str, str], list[str]] = {}

    def group_rank(survey: str, by: str, group: str) -> int:
        if by not in cb.columns:  # age bands: numeric order of the lower bound
            return int(str(group).split("-")[0]) if str(group)[:1].isdigit() else 999
        codes = ranks.setdefault((survey, by), list(
            cb.columns[by].allowed_codes(cb.group(survey) if cb.columns[by].codes_by_group
                                         else None)))
        return codes.index(group) if group in codes else len(codes)

    helper = frame.assign(
        _s=frame["survey"].map(surveys), _i=frame["indicator"].map(measures),
        _b=frame["by"].map(by_order),
        _g=[group_rank(s, b, g) for s, b, g in zip(frame["survey"], frame["by"], frame["group"],
                                                   strict=True)],
    )
    helper = helper.sort_values(["_s", "_i", "_b", "_g"], kind="stable")
    return helper.drop(columns=["_s", "_i", "_b", "_g"])


def la_change(
    tables: dict[str, pd.DataFrame], la_code: str, survey_year: int, kind: str | None = None,
    extra: bool = False,
) -> pd.DataFrame:
    """This year against the authority's previous survey year, suppressed.

    Suppressed when either year's percentage could not be published (a base
    under 10, or 1-4 children giving the answer: ``rate_suppressed``), so a
    figure hidden in last year's briefing never reappears here.
    """
    chg = _la_rows(tables["change"], la_code, survey_year)
    if kind is not None:
        chg = chg[chg["kind"] == kind]
    chg = chg.copy()
    for col in ("pct", "prev_pct"):
        chg[col] = round1(chg[col].astype("float64"))
    either = rate_suppressed(chg["n"], chg["k"]) | rate_suppressed(chg["prev_n"], chg["prev_k"])
    for col in ("withheld", "prev_withheld"):
        hidden = _withheld(chg, col)
        if hidden is not None:
            either = either | hidden
    out = suppress_rates(chg, extra_mask=either, columns=(*RATE_COLUMNS, *FAIR_RATE_COLUMNS))
    out["prev_n"] = out["prev_n"].astype("Float64").mask(small_count(out["prev_n"]), pd.NA
                                                         ).astype("Int64")
    cols = list(CHANGE_COLUMNS)
    if extra and "certainty" in out.columns:
        out["certainty"] = out["certainty"].astype(object).where(
            ~out["suppressed"].astype(bool) & out["certainty"].notna(), "")
        cols += ["certainty", "method"]
    out = out[cols].reset_index(drop=True)
    out["suppressed"] = out["suppressed"].astype(bool)
    return out


def la_power(tables: dict[str, pd.DataFrame], la_code: str, survey_year: int) -> pd.DataFrame:
    """The smallest detectable differences of an authority's surveys (``POWER_COLUMNS``).

    The base is a median over the survey's indicators; the figure is
    published in words only (rounded), and a median base under 10 says only
    "fewer than 10".
    """
    if "power" not in tables:
        return pd.DataFrame(columns=list(POWER_COLUMNS))
    rows = _la_rows(tables["power"], la_code, survey_year).copy()
    return rows.reset_index(drop=True)


def la_profile(
    tables: dict[str, pd.DataFrame], la_code: str, survey_year: int, by: str = "gender"
) -> pd.DataFrame:
    """Who answered: surveys x groups of ``by`` with totals, small counts suppressed.

    A count table with margins, protected by ``protect_count_table`` (counts
    1-4 and the cells that would reveal them are ``<NA>``). Rows and columns
    carry plain-English labels.
    """
    cb = load_codebook()
    prof = _la_rows(tables["profile"], la_code, survey_year)
    prof = prof[prof["by"] == by]
    if prof.empty:
        return pd.DataFrame()
    wide = prof.pivot_table(index="survey", columns="group", values="count", aggfunc="sum",
                            fill_value=0)
    surveys = [s for s in cb.surveys if s in wide.index]
    wide = wide.loc[surveys]
    if by in cb.columns:
        order = list(cb.columns[by].allowed_codes())
        wide = wide[[c for c in order if c in wide.columns]
                    + [c for c in wide.columns if c not in order]]
    else:
        wide = wide[sorted(wide.columns)]
    table = protect_count_table(wide, withheld=_profile_withheld(tables, la_code, survey_year,
                                                                 by, wide))
    table.index = [cb.surveys[s]["short"].capitalize() if s in cb.surveys else s
                   for s in table.index]
    table.columns = [group_label(by, c) if c != "Total" else c for c in table.columns]
    table.index.name = "Survey"
    return table


def _profile_withheld(tables: dict[str, pd.DataFrame], la_code: str, survey_year: int,
                      by: str, wide: pd.DataFrame) -> pd.DataFrame | None:
    """Groups the authority's breakdowns withhold, withheld in its profile table too.

    For a question everyone answered, a group's base in ``breakdowns.csv``
    is its count in the profile; a cell the profile shows would then
    uncover a group the breakdowns hide (and the other way round), so the
    profile starts from every group any breakdown of that survey withholds.
    """
    if "breakdowns" not in tables or by not in BREAKDOWN_VARS:
        return None
    brk = la_breakdowns(tables, la_code, survey_year, by=by)
    hidden = brk[brk["suppressed"]].groupby("survey")["group"].agg(set)
    mask = pd.DataFrame(False, index=wide.index, columns=wide.columns)
    for survey, groups in hidden.items():
        if survey in mask.index:
            for g in groups:
                if g in mask.columns:
                    mask.loc[survey, g] = True
    return mask


def first_authority(tables: dict[str, pd.DataFrame]) -> str:
    """The first authority in the build's order (by slug): a notebook's default."""

    comp = tables["comparisons"]
    names = comp.groupby("la_code")["la_name"].first()
    if names.empty:
        raise UserError("the national tables hold no authority")
    return str(min(names.index, key=lambda c: (authority_slug(str(names[c]), str(c)), str(c))))


def csv_ready(frame: pd.DataFrame) -> pd.DataFrame:
    """Interface spelling for a published CSV.

    Booleans as lower-case ``true``/``false``; text cells through
    :func:`analysis.core.escape.csv_text`, because a name from the data such as
    ``=HYPERLINK(…)`` would otherwise run when a reader opens the file in a
    spreadsheet.
    """
    out = frame.copy()
    for col in out.columns:
        if pd.api.types.is_bool_dtype(out[col]):
            out[col] = np.where(out[col].to_numpy(dtype=bool), "true", "false")
        elif pd.api.types.is_object_dtype(out[col]) or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(escape.csv_text)
    return out


def write_la_outputs(
    tables: dict[str, pd.DataFrame], la_code: str, survey_year: int, out_dir: str | Path
) -> dict[str, Path]:
    """Write an authority's machine-readable outputs (atomic, deterministic).

    ``indicators.csv`` and ``wellbeing.csv`` (the interfaces.md columns),
    plus ``breakdowns.csv`` and ``change.csv`` for the figures the briefing
    shows by group and over time. Percentages are written with one decimal.
    """
    out = Path(out_dir)
    frames = {
        "indicators": la_indicators(tables, la_code, survey_year, "indicator"),
        "wellbeing": la_indicators(tables, la_code, survey_year, "wellbeing"),
        "breakdowns": la_breakdowns(tables, la_code, survey_year),
        "change": la_change(tables, la_code, survey_year),
    }
    return {
        name: write_csv_atomic(csv_ready(frame), out / f"{name}.csv", "%.1f")
        for name, frame in frames.items()
    }



def answers_by_survey(tables: Mapping[str, pd.DataFrame], la_code: str,
                      survey_year: int) -> pd.DataFrame:
    """Questionnaires returned per survey, with counts of 1-4 suppressed (<NA>).

    The total row is protected too (``protect_count_table``): a lone small
    survey could otherwise be recovered as the total minus the others.
    """

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
