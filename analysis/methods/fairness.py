"""Fair comparisons: case mix allowed for, tails tested equally, chance controlled.

Why this module exists: each authority's briefing makes about 80
comparisons with other authorities and about 100 more over time. Tested one
by one at 5%, a briefing of an authority that differs from nobody still
shows several "worse" and "better" results; an authority whose children are
older or more often girls looks worse for reasons that are not its practice;
and a two-sided test of a rare outcome can never call a small authority
better. The rules here fix that, in numbers only (the words are in
``analysis.reports.briefing`` and ``analysis.methods.national``):

* **Case mix** (``casemix_expectation``): an authority's *expected* count is
  what its children would give if they answered like children of the same
  age and gender in the other authorities (and disability, for care
  leavers): indirect standardisation, the other authorities' rate in each
  cell applied to this authority's children in that cell, summed. Placement
  is deliberately *not* allowed for: where children live is partly the
  authority's own practice, so it stays a breakdown.
* **Equal-tailed tests**: the observed count is compared with its
  distribution under "no difference once case mix is allowed for",
  conditional on the pooled answers in each cell (the Cochran-Mantel-Haenszel
  set-up). Two one-sided tests are made, each at half the level, so a
  small authority can be flagged better as readily as worse. Where either
  expected count (yes or no) is under ``SMALL_EXPECTED`` the exact
  distribution (a sum of hypergeometric variables, one per cell) is used
  with the mid-p correction, otherwise the normal approximation (which
  the mid-p approximates). With 30 answers and a 10% rate elsewhere, 0 of 30
  has a one-sided mid-p of 0.021 and can be better.
* **Chance across the briefing** (``bh_adjust``): every result a reader
  sees for an authority and year (its comparisons and its changes) is one
  family, and flags are those with a Benjamini-Hochberg adjusted p-value
  (q) under ``FDR``. When nothing differs, the chance of even one flag in a
  briefing is about ``FDR`` (1 in 20), instead of about 4 flags on average;
  when many results differ, the threshold relaxes, so a real pattern is not
  lost the way it would be with a fixed 99.8% tier. ``q < CLEAR`` is a
  *clear* difference; ``CLEAR <= q < FDR`` a *likely* one.
* **Change** (``change_tests``): the authority's gap from its case-mix
  expectation this year against the same gap in its previous survey year, a
  difference in differences: an authority improves only if it moved
  further than other authorities did over the same years (and not because
  its children's ages changed). With three or more years, a weighted trend
  test of the gap over every year.
* **Power** (``min_detectable_difference``): the smallest difference from
  other authorities this authority's answers could detect with 80% power at
  the level a single real difference needs in its family.
* **Shrunken gaps** (``shrink_gaps``): empirical Bayes (normal-normal,
  between-authority variance by DerSimonian-Laird) pulls each authority's
  gap towards zero by how noisy it is, so an authority with 11 answers and a
  30-point gap does not outrank a large authority with a steady 8-point gap.

Everything is vectorised: the national stage computes all authorities and
measures in one pass (about two seconds on the demonstration extract).
"""

from __future__ import annotations

from collections.abc import Sequence
from statistics import NormalDist

import numpy as np
import pandas as pd

#: False discovery rate within one authority's briefing (all its results).
FDR = 0.05
#: Adjusted p-value under which a difference is called clear.
CLEAR = 0.01
#: Below this expected count (of either answer) the exact mid-p test is used.
SMALL_EXPECTED = 10.0
#: Pseudo-answers at the other authorities' overall rate added to each cell's
#: rate: it matters only for a cell (say, gender 'other' aged 25) that
#: almost no other authority has.
CELL_PRIOR = 1.0
#: Power quoted for the smallest detectable difference.
POWER = 0.8
#: Case-mix characteristics per survey (default: age and gender).
CASEMIX_VARS: dict[str, tuple[str, ...]] = {"ylbc": ("age", "gender", "disability")}
DEFAULT_CASEMIX = ("age", "gender")
KEYS = ["la_code", "survey_year", "survey", "indicator"]


def casemix_cell(df: pd.DataFrame) -> pd.Series:
    """Each answer's case-mix cell, e.g. 'ylbc|19|girl|yes' (blank answers are a level '_')."""
    survey = df["survey"].astype(str)
    out = pd.Series("", index=df.index, dtype=object)
    for s in survey.unique():
        sel = survey == s
        cols = CASEMIX_VARS.get(s, DEFAULT_CASEMIX)
        parts = [survey[sel]]
        for c in cols:
            if c in df.columns:
                parts.append(df.loc[sel, c].astype(object).where(df.loc[sel, c].notna(), "_")
                             .astype(str))
        out[sel] = parts[0].str.cat(parts[1:], sep="|") if len(parts) > 1 else parts[0]
    return out


def cell_counts(matrix: pd.DataFrame, df: pd.DataFrame) -> pd.DataFrame:
    """n and k of every measure per authority, year, survey and case-mix cell (n > 0 only)."""
    cell = casemix_cell(df)
    keys = [df["la_code"].astype(str), df["survey_year"].astype("int64"),
            df["survey"].astype(str), cell.rename("cell")]
    grouped = matrix.groupby(keys, sort=True)
    n = grouped.count().stack().rename("n")
    k = grouped.sum(min_count=0).stack().rename("k")
    long = pd.concat([n, k], axis=1).reset_index()
    long.columns = ["la_code", "survey_year", "survey", "cell", "indicator", "n", "k"]
    long = long[long["n"] > 0].copy()
    long["n"] = long["n"].astype("int64")
    long["k"] = long["k"].round().astype("int64")
    return long


def casemix_expectation(cells: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Expected counts and the conditional null distribution, per authority row.

    ``cells`` is ``cell_counts``. Returns ``(rows, cells)``: ``rows`` has one
    line per authority x year x survey x measure with ``expected`` (count),
    ``expected_var`` (variance of that expectation, from the other
    authorities' finite numbers), ``null_mean`` and ``null_var`` (mean and
    variance of the observed count given the pooled answers in each cell:
    CMH) and ``gap_var`` (variance of observed minus expected under no
    difference: the change tests use it); ``cells`` carries the pooled cell
    totals the exact test needs.
    """
    c = cells.copy()
    by = ["survey_year", "survey", "indicator", "cell"]
    tot = c.groupby(by, sort=False)[["n", "k"]].transform("sum")
    c["N"] = tot["n"].to_numpy()
    c["T"] = tot["k"].to_numpy()
    c["No"] = c["N"] - c["n"]
    c["Ko"] = c["T"] - c["k"]
    # The other authorities' overall rate (the prior of sparse cells).
    stratum = c.groupby(["survey_year", "survey", "indicator"], sort=False)[["n", "k"]
                                                                           ].transform("sum")
    others_n = stratum["n"] - c.groupby(KEYS, sort=False)["n"].transform("sum")
    others_k = stratum["k"] - c.groupby(KEYS, sort=False)["k"].transform("sum")
    with np.errstate(divide="ignore", invalid="ignore"):
        p_o = np.where(others_n > 0, others_k / others_n, c["T"] / c["N"])
        rate = (c["Ko"] + CELL_PRIOR * p_o) / (c["No"] + CELL_PRIOR)
        pooled = (c["T"] + CELL_PRIOR * p_o) / (c["N"] + CELL_PRIOR)
        c["e"] = c["n"] * rate
        # The published expectation uses one standard for every authority: all
        # authorities' rate per cell (this one's children included, as in a
        # standardised ratio), so no authority's figure is an "all but this one"
        # rate that could be subtracted from another's (analysis.methods.disclosure).
        p_all = np.where(stratum["n"] > 0, stratum["k"] / stratum["n"], 0.0)
        c["e_pub"] = c["n"] * (c["T"] + CELL_PRIOR * p_all) / (c["N"] + CELL_PRIOR)
        c["e_var"] = c["n"] ** 2 * rate * (1 - rate) / (c["No"] + CELL_PRIOR)
        c["mu"] = c["n"] * c["T"] / c["N"]
        c["v"] = np.where(c["N"] > 1, c["n"] * c["No"] * c["T"] * (c["N"] - c["T"])
                          / (c["N"] ** 2 * (c["N"] - 1)), 0.0)
        c["g_var"] = c["n"] * pooled * (1 - pooled) * (1 + c["n"] / (c["No"] + CELL_PRIOR))
    rows = c.groupby(KEYS, sort=False).agg(
        expected=("e", "sum"), expected_pub=("e_pub", "sum"), expected_var=("e_var", "sum"),
        null_mean=("mu", "sum"),
        null_var=("v", "sum"), gap_var=("g_var", "sum")).reset_index()
    return rows, c


def _hypergeom_logpmf(x: np.ndarray, N: np.ndarray, T: np.ndarray, n: np.ndarray) -> np.ndarray:
    from scipy.special import gammaln

    def log_comb(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return gammaln(a + 1) - gammaln(b + 1) - gammaln(a - b + 1)

    return log_comb(T, x) + log_comb(N - T, n - x) - log_comb(N, n)


def exact_tails(observed: np.ndarray, row: np.ndarray, n: np.ndarray, N: np.ndarray,
                T: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mid-p lower and upper tails of a sum of hypergeometric counts, one per row.

    The cells of row i are the entries with ``row == i`` (``row`` sorted,
    0..len(observed)-1): ``n`` this authority's answers, ``N`` everyone's
    answers and ``T`` everyone's 'yes' in the cell; the observed count is
    ``observed[i]``. The distribution of the sum is the convolution of the
    cells' hypergeometric distributions (exact, given the pooled answers in
    each cell).
    """
    rows = len(observed)
    lower = np.full(rows, np.nan)
    upper = np.full(rows, np.nan)
    if not rows:
        return lower, upper
    n, N, T = (np.asarray(v, dtype="float64") for v in (n, N, T))
    row_of_cell = np.asarray(row, dtype="int64")
    lo = np.maximum(0, n - (N - T))
    hi = np.minimum(n, T)
    length = (hi - lo + 1).astype("int64")
    cell_id = np.repeat(np.arange(n.size), length)
    offsets = np.concatenate([[0], np.cumsum(length)[:-1]])
    x = lo[cell_id] + (np.arange(length.sum()) - offsets[cell_id])
    pmf = np.exp(_hypergeom_logpmf(x, N[cell_id], T[cell_id], n[cell_id]))
    starts = np.concatenate([[0], np.cumsum(length)])
    first = np.searchsorted(row_of_cell, np.arange(rows))
    last = np.searchsorted(row_of_cell, np.arange(rows), side="right")
    for i in range(rows):
        dist = np.array([1.0])
        base = 0
        for j in range(first[i], last[i]):
            dist = np.convolve(dist, pmf[starts[j]:starts[j + 1]])
            base += int(lo[j])
        o = int(observed[i]) - base
        dist = dist / dist.sum()
        at = dist[o] if 0 <= o < dist.size else 0.0
        below = dist[:max(o, 0)].sum() if o > 0 else 0.0
        lower[i] = below + 0.5 * at
        upper[i] = 1.0 - below - 0.5 * at
    return np.clip(lower, 0, 1), np.clip(upper, 0, 1)


def casemix_tests(comp: pd.DataFrame, cells: pd.DataFrame) -> pd.DataFrame:
    """Add expected_pct (with its interval) and the equal-tailed tests to ``comp``.

    ``comp`` has one row per authority x year x survey x measure with n and
    k; ``cells`` is ``cell_counts`` for the same data. Adds ``expected_pct``,
    ``expected_low``, ``expected_high`` (95% interval of the expectation),
    ``gap_pp`` (pct - expected_pct), ``gap_var`` (its null variance, in
    proportion units squared), ``p_lower`` / ``p_upper`` (one-sided: this
    authority's count lower / higher than expected), ``p_value``
    (equal-tailed two-sided: twice the smaller, at most 1) and
    ``test`` ('exact' or 'normal').
    """
    from scipy.special import ndtr

    rows, c = casemix_expectation(cells)
    out = comp.drop(columns=[x for x in ("p_value",) if x in comp.columns]).merge(
        rows, on=KEYS, how="left")
    n = out["n"].to_numpy("float64")
    k = out["k"].to_numpy("float64")
    e = out["expected"].to_numpy("float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        out["expected_pct"] = np.where(n > 0, 100 * e / n, np.nan)
        out["expected_pub_pct"] = np.where(
            n > 0, 100 * out["expected_pub"].to_numpy("float64") / n, np.nan)
        half = 1.959963984540054 * np.sqrt(out["expected_var"].to_numpy("float64")) / n
        out["expected_low"] = np.clip(out["expected_pct"] - 100 * half, 0, 100)
        out["expected_high"] = np.clip(out["expected_pct"] + 100 * half, 0, 100)
        out["gap_pp"] = np.where(n > 0, 100 * (k - e) / n, np.nan)
        out["gap_var"] = out["gap_var"] / n ** 2
        mu = out["null_mean"].to_numpy("float64")
        var = out["null_var"].to_numpy("float64")
        z = (k - mu) / np.sqrt(var)
    lower = np.where(var > 0, ndtr(z), 1.0)
    upper = np.where(var > 0, ndtr(-z), 1.0)
    small = (n > 0) & (var > 0) & ((mu < SMALL_EXPECTED) | (n - mu < SMALL_EXPECTED))
    if small.any():
        idx = np.flatnonzero(small)
        want = out.loc[idx, KEYS].assign(_row=np.arange(idx.size))
        sel = c.merge(want, on=KEYS, how="inner").sort_values("_row", kind="stable")
        lo_p, up_p = exact_tails(k[idx], sel["_row"].to_numpy(), sel["n"].to_numpy(),
                                 sel["N"].to_numpy(), sel["T"].to_numpy())
        lower[idx] = lo_p
        upper[idx] = up_p
    valid = (n > 0) & np.isfinite(e)
    out["p_lower"] = np.where(valid, lower, np.nan)
    out["p_upper"] = np.where(valid, upper, np.nan)
    out["p_value"] = np.where(valid, np.minimum(1.0, 2 * np.minimum(lower, upper)), np.nan)
    out["test"] = np.where(small, "exact", np.where(valid, "normal", ""))
    return out.drop(columns=["expected", "expected_pub", "expected_var", "null_mean",
                             "null_var"])


# ---------------------------------------------------------------- chance control
def bh_adjust(p: np.ndarray | pd.Series, groups: np.ndarray | pd.Series) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (q), within each group; NaN stays NaN.

    The same as ``statsmodels.stats.multitest.multipletests(method="fdr_bh")``
    applied to each group separately (tests/test_fairness.py checks it),
    for thousands of groups in one pass.
    """
    frame = pd.DataFrame({"p": np.asarray(p, dtype="float64"), "g": np.asarray(groups)})
    q = np.full(len(frame), np.nan)
    ok = frame["p"].notna().to_numpy()
    if not ok.any():
        return q
    f = frame[ok].sort_values(["g", "p"], kind="stable")
    m = f.groupby("g", sort=False)["p"].transform("size").to_numpy("float64")
    rank = f.groupby("g", sort=False).cumcount().to_numpy("float64") + 1
    raw = pd.Series(f["p"].to_numpy() * m / rank, index=f.index)
    adj = raw.iloc[::-1].groupby(f["g"].iloc[::-1].to_numpy(), sort=False).cummin().iloc[::-1]
    q[adj.index.to_numpy()] = np.minimum(adj.to_numpy(), 1.0)
    return q


def flags_from_tails(
    p_lower: np.ndarray, p_upper: np.ndarray, q: np.ndarray, lower_is_better: np.ndarray,
    words: tuple[str, str, str] = ("better", "similar", "worse"),
) -> tuple[np.ndarray, np.ndarray]:
    """Flag and certainty ('clear', 'likely' or '') from the one-sided tails and q.

    The direction is the tail that is smaller: lower than expected is better
    for a lower-is-better measure (loneliness), worse otherwise.
    """
    good, same, bad = words
    q = np.nan_to_num(np.asarray(q, dtype="float64"), nan=1.0)
    sig = q < FDR
    lower = np.asarray(p_lower, dtype="float64") < np.asarray(p_upper, dtype="float64")
    low = np.asarray(lower_is_better, dtype=bool)
    better = sig & (lower == low)
    worse = sig & (lower != low)
    flag = np.where(better, good, np.where(worse, bad, same)).astype(object)
    certainty = np.where(sig & (q < CLEAR), "clear", np.where(sig, "likely", "")).astype(object)
    return flag, certainty


# ---------------------------------------------------------------- change
def change_tests(comp: pd.DataFrame) -> pd.DataFrame:
    """Difference in differences (two years) and trend (three or more), per authority row.

    ``comp`` is the comparisons table after ``casemix_tests`` (gap_pp and
    gap_var per authority, year, survey, measure) with a ``publishable``
    column. For each row with an earlier year of the same authority, survey
    and measure: ``did_pp`` = this year's gap from its case-mix expectation
    minus the previous year's gap (percentage points; other authorities'
    change over the same years is therefore allowed for), its one-sided
    p-values ``p_lower`` / ``p_upper`` and ``method`` 'did'. Where the
    authority has three or more publishable years up to this one, the test
    is instead the weighted least-squares slope of the gap on the year
    (``trend_pp`` per year; ``method`` 'trend').
    """
    from scipy.special import ndtr

    base = comp[[*KEYS, "gap_pp", "gap_var", "publishable"]].copy()
    base = base.sort_values(["la_code", "survey", "indicator", "survey_year"], kind="stable")
    prev = base.groupby(["la_code", "survey", "indicator"], sort=False)[
        ["survey_year", "gap_pp", "gap_var"]].shift(1)
    out = base.assign(prev_year=prev["survey_year"], prev_gap=prev["gap_pp"],
                      prev_var=prev["gap_var"])
    out = out[out["prev_year"].notna()].copy()
    with np.errstate(divide="ignore", invalid="ignore"):
        out["did_pp"] = out["gap_pp"] - out["prev_gap"]
        se = 100 * np.sqrt(out["gap_var"] + out["prev_var"])
        z = (out["did_pp"] / se).to_numpy("float64")
    ok = np.isfinite(z)
    out["p_lower"] = np.where(ok, ndtr(z), np.nan)
    out["p_upper"] = np.where(ok, ndtr(-z), np.nan)
    out["method"] = "did"
    out["trend_pp"] = np.nan
    # Trend over every publishable year up to this one, where there are three or more.
    pub = base[base["publishable"].astype(bool) & np.isfinite(base["gap_var"])
               & (base["gap_var"] > 0)]
    pairs = out[KEYS].merge(pub[[*KEYS]].rename(columns={"survey_year": "year"}),
                            on=["la_code", "survey", "indicator"])
    pairs = pairs[pairs["year"] <= pairs["survey_year"]]
    pairs = pairs.merge(pub.rename(columns={"survey_year": "year"}),
                        on=["la_code", "year", "survey", "indicator"])
    grp = pairs.groupby(KEYS, sort=False)
    counts = grp["year"].transform("size")
    pairs = pairs[counts >= 3].copy()
    if not pairs.empty:
        pairs["w"] = 1 / (1e4 * pairs["gap_var"])
        g = pairs.groupby(KEYS, sort=False)
        wsum = g["w"].transform("sum")
        ybar = (pairs["w"] * pairs["year"]).groupby([pairs[c] for c in KEYS]).transform(
            "sum") / wsum
        gbar = (pairs["w"] * pairs["gap_pp"]).groupby([pairs[c] for c in KEYS]).transform(
            "sum") / wsum
        pairs["sxy"] = pairs["w"] * (pairs["year"] - ybar) * (pairs["gap_pp"] - gbar)
        pairs["sxx"] = pairs["w"] * (pairs["year"] - ybar) ** 2
        fit = pairs.groupby(KEYS, sort=False)[["sxy", "sxx"]].sum()
        slope = fit["sxy"] / fit["sxx"]
        zt = slope * np.sqrt(fit["sxx"])
        trend = pd.DataFrame({"trend_pp": slope, "tl": ndtr(zt), "tu": ndtr(-zt)}).reset_index()
        out = out.merge(trend, on=KEYS, how="left", suffixes=("_x", ""))
        out = out.drop(columns=["trend_pp_x"])
        has = out["tl"].notna()
        out.loc[has, "p_lower"] = out.loc[has, "tl"]
        out.loc[has, "p_upper"] = out.loc[has, "tu"]
        out.loc[has, "method"] = "trend"
        out = out.drop(columns=["tl", "tu"])
    out["prev_year"] = out["prev_year"].astype("int64")
    return out[[*KEYS, "prev_year", "did_pp", "trend_pp", "method", "p_lower", "p_upper"]]


# ---------------------------------------------------------------- power
def min_detectable_difference(
    n: np.ndarray | pd.Series, others_n: np.ndarray | pd.Series, rate: np.ndarray | pd.Series,
    family_size: np.ndarray | pd.Series, power: float = POWER,
) -> np.ndarray:
    """Smallest difference (percentage points) detectable with ``power``.

    For a base ``n`` against ``others_n`` answers elsewhere at proportion
    ``rate`` (0-1), when it is the only real difference among
    ``family_size`` results: Benjamini-Hochberg then needs a two-sided p
    under FDR / family_size. Normal approximation; capped at 100.
    """
    n = np.asarray(n, dtype="float64")
    m = np.maximum(np.asarray(family_size, dtype="float64"), 1)
    p = np.clip(np.asarray(rate, dtype="float64"), 0.01, 0.99)
    nd = NormalDist()
    z_a = np.array([nd.inv_cdf(1 - FDR / (2 * mm)) for mm in np.atleast_1d(m)]).reshape(m.shape)
    z_b = nd.inv_cdf(power)
    with np.errstate(divide="ignore", invalid="ignore"):
        se = np.sqrt(p * (1 - p) * (1 / n + 1 / np.asarray(others_n, dtype="float64")))
    return np.minimum(100 * (z_a + z_b) * se, 100.0)


# ---------------------------------------------------------------- shrinkage
def shrink_gaps(gap_pp: pd.Series, gap_var: pd.Series, groups: Sequence[pd.Series]
                ) -> pd.DataFrame:
    """Empirical-Bayes (normal-normal) shrinkage of each authority's gap towards zero.

    Within each group (year x survey x measure), the spread of true gaps
    between authorities, tau^2, is estimated by DerSimonian-Laird from the
    observed gaps and their sampling variances; each gap is multiplied by
    tau^2 / (tau^2 + v), and its posterior standard deviation is
    sqrt(v tau^2 / (tau^2 + v)). With no real spread (tau^2 = 0) every gap
    shrinks to 0. Returns shrunk_gap_pp, shrunk_low, shrunk_high (95%) and
    tau_pp (the group's between-authority SD, points).
    """
    g = pd.to_numeric(gap_pp, errors="coerce").astype("float64")
    v = 1e4 * pd.to_numeric(gap_var, errors="coerce").astype("float64")  # points^2
    ok = np.isfinite(g) & np.isfinite(v) & (v > 0)
    w = (1 / v).where(ok)
    frame = pd.DataFrame({"g": g.where(ok), "w": w, "gw": (g * w).where(ok),
                          "w2": (w ** 2).where(ok)})
    keys = [pd.Series(np.asarray(s), index=frame.index) for s in groups]
    sums = frame.groupby(keys, sort=False)[["w", "gw", "w2"]].transform("sum")
    count = frame.groupby(keys, sort=False)["g"].transform("count")
    gbar = sums["gw"] / sums["w"]
    q = (frame["w"] * (frame["g"] - gbar) ** 2).groupby(keys, sort=False).transform("sum")
    denom = sums["w"] - sums["w2"] / sums["w"]
    tau2 = ((q - (count - 1)) / denom).clip(lower=0).fillna(0)
    b = tau2 / (tau2 + v)
    post = g * b
    sd = np.sqrt(v * b)
    return pd.DataFrame({
        "shrunk_gap_pp": post.where(ok),
        "shrunk_low": (post - 1.959963984540054 * sd).where(ok),
        "shrunk_high": (post + 1.959963984540054 * sd).where(ok),
        "tau_pp": np.sqrt(tau2).where(ok),
    }, index=frame.index)


def family_size(rows: pd.DataFrame) -> int:
    """How many results the briefing's chance control covered (0 when not known)."""
    if "family_size" not in rows.columns or rows.empty:
        return 0
    sizes = pd.to_numeric(rows["family_size"], errors="coerce").dropna()
    return int(sizes.max()) if not sizes.empty else 0
