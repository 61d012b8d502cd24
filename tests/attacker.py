"""An attacker who downloads every published file of a build and subtracts.

Used by tests/test_attacker.py and benchmarks/attack_demo.py. It reads only
what a member of the public gets (``REPORTS_DIR``: each authority's CSVs, the
national CSVs, the briefings' text) and tries every attack of issue 11:

* **complements**: a published percentage and base give ``k`` and ``n - k``;
  either being 1-4 exposes a small group of children;
* **bands**: low + high + very high well-being bands of one scale leave the
  unpublished "medium" band as ``n`` minus their counts;
* **interval pinning**: every comparator (``others_pct``, ``expected_pct``,
  the national files' percentages) gives an interval for the national count
  ``K`` of a survey x measure x year; ``K`` minus the published counts bounds
  the withheld ones;
* **previous year**: ``change.csv``'s earlier-year figures join that year's
  pool as published counts and withheld rows;
* **national totals**: exact national counts (``performance.csv``'s
  ``n_low``) pin ``K`` outright;
* **breakdowns against totals**: the groups of one measure add up to the
  authority's published figure, so the withheld groups' combined base and
  count are the total minus the shown groups;
* **funnel matching**: every funnel point must be a figure some authority
  publishes; a point that is not is a leak;
* **text**: the national briefing's counts must be rounded, and no table may
  rest on a base under 10.

An attack's result is an interval for a withheld count. The caller (who
knows the truth) counts an interval as a *pin* when it holds the true value
and is at most 4 wide (the value is known to within 2) while being narrower
than what the row alone says (``[0, n]``).
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.core.slug import slugify
from analysis.methods import drivers as drv
from analysis.methods import indicators, national

SMALL = range(1, 5)
BANDS = ("low", "high", "very_high")
SCALES = ("life_satisfaction", "happy_yesterday", "worthwhile", "positive_future")


@dataclass
class Findings:
    """What the attacker got: exposed rows and intervals for withheld counts."""

    exposures: list[tuple] = field(default_factory=list)  # (file, key, what, count)
    #: key -> (lo, hi, trivial upper bound)
    intervals: dict[tuple, tuple[int, int, int]] = field(default_factory=dict)
    text: list[str] = field(default_factory=list)
    funnel: list[tuple] = field(default_factory=list)

    def narrow(self, key: tuple, lo: float, hi: float, trivial: int) -> None:
        lo_i, hi_i = math.ceil(lo - 1e-9), math.floor(hi + 1e-9)
        old = self.intervals.get(key)
        if old is not None:
            lo_i, hi_i, trivial = max(lo_i, old[0]), min(hi_i, old[1]), min(trivial, old[2])
        self.intervals[key] = (lo_i, hi_i, trivial)

    def pins(self, truth: dict[tuple, int]) -> list[tuple]:
        """Intervals that hold the true value, are at most 4 wide and beat the trivial bound."""
        out = []
        for key, (lo, hi, trivial) in self.intervals.items():
            true = truth.get(key)
            if true is None or not lo <= true <= hi:
                continue
            if hi - lo <= 4 and (lo > 0 or hi < trivial):
                out.append((key, lo, hi, true))
        return out


def _read(path: Path) -> pd.DataFrame | None:
    if not path.exists():
        return None
    return pd.read_csv(path, dtype={"la_code": str, "survey": str, "indicator": str,
                                    "group": str, "by": str})


def _num(v) -> float:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return float("nan")
    return f


def _k(pct: float, n: float) -> int | None:
    if not (np.isfinite(pct) and np.isfinite(n)) or n <= 0:
        return None
    return int(round(pct * n / 100))


def _half_width(values: pd.Series, step: float | None) -> float:
    """Half the rounding step of a published percentage (assume the finest plausible)."""
    if step is not None and np.isfinite(step):
        return step / 2
    v = pd.to_numeric(values, errors="coerce").dropna()
    if v.empty:
        return 0.05
    return 0.5 if np.allclose(v, v.round()) else 0.05


def load(reports: Path) -> dict[str, pd.DataFrame]:
    """Every authority CSV concatenated per kind, plus the national CSVs."""
    kinds = defaultdict(list)
    for folder in sorted(p for p in reports.iterdir() if p.is_dir()):
        if folder.name.startswith("."):
            continue
        for name in ("indicators", "wellbeing", "breakdowns", "change"):
            f = _read(folder / f"{name}.csv")
            if f is not None and not f.empty:
                kinds[name].append(f.assign(_file=f"{folder.name}/{name}.csv"))
    out = {k: pd.concat(v, ignore_index=True) for k, v in kinds.items()}
    for name in ("rates", "funnels", "performance", "groups"):
        f = _read(reports / "national" / f"{name}.csv")
        if f is not None:
            out[f"national_{name}"] = f
    return out


def attack(reports: Path) -> Findings:
    """Run every attack on the published files under ``reports``."""
    files = load(Path(reports))
    found = Findings()
    rows = _rows(files)
    _complements(files, found)
    _bands(rows, found)
    _breakdown_lines(files, rows, found)
    _pools(files, rows, found)
    _group_pools(files, rows, found)
    _funnels(files, rows, found)
    _text(Path(reports), found)
    return found


# ---------------------------------------------------------------- what each authority publishes
def _rows(files: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per (authority, year, survey, measure): n (or NaN), k (or NaN), comparators."""
    parts = []
    for name in ("indicators", "wellbeing"):
        f = files.get(name)
        if f is None:
            continue
        g = pd.DataFrame({
            "la_code": f["la_code"], "survey_year": f["survey_year"].astype(int),
            "survey": f["survey"], "indicator": f["indicator"],
            "n": pd.to_numeric(f["n"], errors="coerce"),
            "pct": pd.to_numeric(f["pct"], errors="coerce"),
            "others_pct": pd.to_numeric(f.get("others_pct"), errors="coerce"),
            "expected_pct": pd.to_numeric(f["expected_pct"], errors="coerce")
            if "expected_pct" in f.columns else np.nan,
            "file": f["_file"],
        })
        parts.append(g)
    chg = files.get("change")
    if chg is not None:
        parts.append(pd.DataFrame({
            "la_code": chg["la_code"], "survey_year": chg["prev_year"].astype(int),
            "survey": chg["survey"], "indicator": chg["indicator"],
            "n": pd.to_numeric(chg["prev_n"], errors="coerce"),
            "pct": pd.to_numeric(chg["prev_pct"], errors="coerce"),
            "others_pct": np.nan, "expected_pct": np.nan, "file": chg["_file"],
        }))
        parts.append(pd.DataFrame({
            "la_code": chg["la_code"], "survey_year": chg["survey_year"].astype(int),
            "survey": chg["survey"], "indicator": chg["indicator"],
            "n": pd.to_numeric(chg["n"], errors="coerce"),
            "pct": pd.to_numeric(chg["pct"], errors="coerce"),
            "others_pct": np.nan, "expected_pct": np.nan, "file": chg["_file"],
        }))
    if not parts:
        return pd.DataFrame(columns=["la_code", "survey_year", "survey", "indicator", "n", "k"])
    allr = pd.concat(parts, ignore_index=True)
    allr["k"] = [_k(p, n) for p, n in zip(allr["pct"], allr["n"], strict=True)]
    allr["k"] = pd.to_numeric(allr["k"], errors="coerce")
    # Combine what every file says about one row (a figure shown anywhere is known).
    keys = ["la_code", "survey_year", "survey", "indicator"]
    agg = allr.groupby(keys, sort=False).agg(
        n=("n", "max"), k=("k", "max"), pct=("pct", "max"), others_pct=("others_pct", "max"),
        expected_pct=("expected_pct", "max")).reset_index()
    return agg


def _complements(files: dict[str, pd.DataFrame], found: Findings) -> None:
    """Rows whose published % and base give a count of 1-4 giving or not giving the answer."""
    for name in ("indicators", "wellbeing", "breakdowns", "change"):
        f = files.get(name)
        if f is None:
            continue
        pairs = [("n", "pct")] + ([("prev_n", "prev_pct")] if name == "change" else [])
        for n_col, p_col in pairs:
            n = pd.to_numeric(f[n_col], errors="coerce")
            p = pd.to_numeric(f[p_col], errors="coerce")
            for i in np.flatnonzero((n.notna() & p.notna()).to_numpy()):
                k = _k(p.iloc[i], n.iloc[i])
                nn = int(n.iloc[i])
                if k in SMALL:
                    found.exposures.append((f["_file"].iloc[i], i, "k", k))
                elif nn - k in SMALL:
                    found.exposures.append((f["_file"].iloc[i], i, "n-k", nn - k))
            small_n = n.isin(list(SMALL))
            for i in np.flatnonzero(small_n.to_numpy()):
                found.exposures.append((f["_file"].iloc[i], i, "n", int(n.iloc[i])))


def _bands(rows: pd.DataFrame, found: Findings) -> None:
    """The medium band is n minus low, high and very high: 1-4 exposes; withheld bands pin."""
    if rows.empty:
        return
    idx = rows.set_index(["la_code", "survey_year", "survey", "indicator"])
    for (la, year, survey), _ in rows.groupby(["la_code", "survey_year", "survey"]):
        for scale in SCALES:
            ids = [f"{b}_{scale}" for b in BANDS]
            keys = [(la, year, survey, i) for i in ids]
            if not all(k in idx.index for k in keys):
                continue
            sel = idx.loc[keys]
            n = sel["n"].dropna()
            if n.empty:
                continue
            n_all = float(n.max())
            known = sel["k"].notna()
            rem = n_all - sel.loc[known, "k"].sum()
            if known.all():
                if rem in SMALL or (n_all - rem) in SMALL:
                    found.exposures.append(("bands", keys[0], "medium", int(rem)))
                continue
            for key in [k for k, ok in zip(keys, known, strict=True) if not ok]:
                found.narrow(("row", *key), 0, rem, int(n_all))


def _breakdown_lines(files: dict[str, pd.DataFrame], rows: pd.DataFrame,
                     found: Findings) -> None:
    """Withheld groups' combined base and count are the total minus the shown groups."""
    brk = files.get("breakdowns")
    if brk is None or rows.empty:
        return
    brk = brk.copy()
    brk["n"] = pd.to_numeric(brk["n"], errors="coerce")
    brk["pct"] = pd.to_numeric(brk["pct"], errors="coerce")
    brk["k"] = [_k(p, n) for p, n in zip(brk["pct"], brk["n"], strict=True)]
    brk["k"] = pd.to_numeric(brk["k"], errors="coerce")
    idx = rows.set_index(["la_code", "survey_year", "survey", "indicator"])
    for key, line in brk.groupby(["la_code", "survey_year", "survey", "indicator", "by"]):
        total = key[:4]
        if total not in idx.index:
            continue
        t = idx.loc[total]
        withheld = line[line["k"].isna()]
        if withheld.empty or not np.isfinite(t["n"]):
            continue
        shown = line[line["k"].notna()]
        rem_n = t["n"] - shown["n"].sum()
        rem_k = t["k"] - shown["k"].sum() if np.isfinite(t["k"]) else np.inf
        rem_c = (t["n"] - t["k"]) - (shown["n"] - shown["k"]).sum() if np.isfinite(
            t["k"]) else np.inf
        for _, g in withheld.iterrows():
            gkey = (*total, key[4], g["group"])
            found.narrow(("group_n", *gkey), 0, rem_n, int(t["n"]))
            if np.isfinite(rem_k) and t["k"] > 0:  # total 0% says every group is 0%
                found.narrow(("group", *gkey), 0, rem_k, int(t["n"]))
            if np.isfinite(rem_c) and t["n"] - t["k"] > 0:
                found.narrow(("group_c", *gkey), 0, rem_c, int(t["n"]))


def _interval_K(pools: pd.DataFrame, col: str, half: float, n_lo: float, n_hi: float,
                national: bool) -> tuple[float, float]:
    """K's interval from every comparator in ``col`` (others semantics or one national figure)."""
    lo, hi = -np.inf, np.inf
    for _, r in pools[pools[col].notna()].iterrows():
        p_lo, p_hi = (r[col] - half) / 100, (r[col] + half) / 100
        if national:
            a, b = p_lo * n_lo, p_hi * n_hi
        else:
            if not (np.isfinite(r["k"]) and np.isfinite(r["n"])):
                continue
            a = r["k"] + p_lo * (n_lo - r["n"])
            b = r["k"] + p_hi * (n_hi - r["n"])
        lo, hi = max(lo, a), min(hi, b)
    return lo, hi


def _pools(files: dict[str, pd.DataFrame], rows: pd.DataFrame, found: Findings) -> None:
    """Interval pinning of each national count, then K minus the shown counts."""
    if rows.empty:
        return
    rates = files.get("national_rates")
    perf = files.get("national_performance")
    for (year, survey, ind), pool in rows.groupby(["survey_year", "survey", "indicator"]):
        known = pool[pool["k"].notna()]
        hidden = pool[pool["k"].isna()]
        if hidden.empty:
            continue
        n_known = pool["n"].fillna(0).sum()
        blanks = pool["n"].isna().sum()
        n_lo, n_hi = n_known + blanks, n_known + 4 * blanks
        s = known["k"].sum()
        cands = []
        for col in ("others_pct", "expected_pct"):
            vals = pool[col].dropna()
            if vals.empty:
                continue
            # One value for every authority is the national figure (the method notes
            # say so), at the step rates.csv gives; else each is "all but this one".
            same = vals.nunique() == 1
            half = _half_width(vals, _step_of(rates, year, survey, ind) if same else None)
            lo, hi = _interval_K(pool, col, half, n_lo, n_hi, national=same)
            if lo <= hi:
                cands.append((lo, hi))
        if rates is not None:
            sel = rates[(rates["survey_year"].astype(int) == int(year))
                        & (rates["survey"] == survey) & (rates["indicator"] == ind)]
            for _, r in sel.iterrows():
                p = _num(r.get("pct"))
                if not np.isfinite(p):
                    continue
                step = _num(r.get("pct_step"))
                half = _half_width(sel["pct"], step if np.isfinite(step) else None)
                cands.append(((p - half) / 100 * n_lo, (p + half) / 100 * n_hi))
                if "n" in sel.columns and np.isfinite(_num(r.get("n"))):
                    n_exact = _num(r["n"])
                    cands.append(((p - half) / 100 * n_exact, (p + half) / 100 * n_exact))
        if perf is not None and ind == "low_overall_wellbeing" and "n_low" in perf.columns:
            for _, r in perf[perf["survey"] == survey].iterrows():
                if np.isfinite(_num(r.get("n"))) and n_lo <= _num(r["n"]) <= n_hi:
                    cands.append((_num(r["n_low"]), _num(r["n_low"])))
        if not cands:
            continue
        lo = max(c[0] for c in cands)
        hi = min(c[1] for c in cands)
        if lo > hi:  # readings contradict each other: use the widest single one
            lo, hi = min(c[0] for c in cands), max(c[1] for c in cands)
        r_lo, r_hi = lo - s, hi - s
        sizes = hidden["n"].fillna(4)
        w = sizes.sum()
        for (_, h), size in zip(hidden.iterrows(), sizes, strict=True):
            key = ("row", h["la_code"], int(year), survey, ind)
            found.narrow(key, max(0, r_lo - (w - size)), min(size, r_hi), int(size))


def _group_pools(files: dict[str, pd.DataFrame], rows: pd.DataFrame, found: Findings) -> None:
    """The breakdowns' comparators: one pool per survey, measure, year, grouping and group.

    A withheld group's base is not published; its line's remainder (the
    authority's base minus its shown groups) bounds it.
    """
    brk = files.get("breakdowns")
    if brk is None or rows.empty:
        return
    brk = brk.copy()
    brk["n"] = pd.to_numeric(brk["n"], errors="coerce")
    brk["pct"] = pd.to_numeric(brk["pct"], errors="coerce")
    brk["others_pct"] = pd.to_numeric(brk["others_pct"], errors="coerce")
    brk["k"] = pd.to_numeric(pd.Series([_k(p, n) for p, n in zip(brk["pct"], brk["n"],
                                                                  strict=True)]),
                             errors="coerce").to_numpy()
    idx = rows.set_index(["la_code", "survey_year", "survey", "indicator"])["n"]
    line = ["la_code", "survey_year", "survey", "indicator", "by"]
    shown_n = brk.groupby(line)["n"].transform("sum")
    total = pd.MultiIndex.from_frame(brk[line[:4]])
    brk["bound"] = idx.reindex(total).to_numpy() - shown_n.to_numpy()
    pool_keys = ["survey_year", "survey", "indicator", "by", "group"]
    # Authorities with answers that year (their figures or change.csv show it) but no
    # breakdown for it are in the pool too, each group's base at most the authority's.
    lines = set(zip(brk["la_code"], brk["survey_year"].astype(int), brk["survey"],
                    brk["indicator"], strict=True))
    present = rows[[(r.la_code, int(r.survey_year), r.survey, r.indicator) not in lines
                    for r in rows.itertuples()]]
    extra = {key: grp["n"].fillna(4).to_numpy() for key, grp in present.groupby(
        ["survey_year", "survey", "indicator"])}
    for key, pool in brk.groupby(pool_keys):
        unseen = extra.get((key[0], key[1], key[2]))
        if unseen is not None and len(unseen):
            pool = pd.concat([pool, pd.DataFrame({
                "la_code": "?", "n": np.nan, "k": np.nan, "others_pct": np.nan,
                "bound": unseen})], ignore_index=True)
        hidden = pool[pool["k"].isna()]
        vals = pool["others_pct"].dropna()
        if hidden.empty or vals.empty:
            continue
        known = pool[pool["k"].notna()]
        s, n_known = known["k"].sum(), known["n"].sum()
        sizes = hidden["bound"].fillna(np.inf).clip(lower=0)
        w = sizes.sum()
        if vals.nunique() == 1:
            half = _half_width(vals, _group_step(files.get("national_groups"), key))
            p = vals.iloc[0]
            lo, hi = (p - half) / 100 * n_known, (p + half) / 100 * (n_known + w)
        else:  # each authority's "all but this one": intersect
            lo, hi = -np.inf, np.inf
            for _, r in known[known["others_pct"].notna()].iterrows():
                lo = max(lo, r["k"] + (r["others_pct"] - 0.05) / 100 * (n_known - r["n"]))
                hi = min(hi, r["k"] + (r["others_pct"] + 0.05) / 100 * (n_known + w - r["n"]))
        if lo > hi:
            continue
        for (_, h), size in zip(hidden.iterrows(), sizes, strict=True):
            if not np.isfinite(size) or h["la_code"] == "?":
                continue
            gkey = ("group", h["la_code"], int(key[0]), key[1], key[2], key[3], str(key[4]))
            found.narrow(gkey, max(0, lo - s - (w - size)), min(size, hi - s), int(size))


def _group_step(groups: pd.DataFrame | None, key: tuple) -> float | None:
    if groups is None:
        return None
    sel = groups[(groups["survey_year"].astype(int) == int(key[0])) & (groups["survey"] == key[1])
                 & (groups["indicator"] == key[2]) & (groups["by"] == key[3])
                 & (groups["group"].astype(str) == str(key[4]))]
    v = _num(sel["pct_step"].iloc[0]) if len(sel) else float("nan")
    return v if np.isfinite(v) else None


def _step_of(rates: pd.DataFrame | None, year: int, survey: str, ind: str) -> float | None:
    """The rounding step the national file states for a figure, if it states one."""
    if rates is None or "pct_step" not in rates.columns:
        return None
    sel = rates[(rates["survey_year"].astype(int) == int(year)) & (rates["survey"] == survey)
                & (rates["indicator"] == ind)]
    if sel.empty:
        return None
    v = _num(sel["pct_step"].iloc[0])
    return v if np.isfinite(v) else None


def _funnels(files: dict[str, pd.DataFrame], rows: pd.DataFrame, found: Findings) -> None:
    """A funnel point that matches no published (n, %) gives a withheld figure away."""
    fun = files.get("national_funnels")
    if fun is None or rows.empty:
        return
    pts = fun[pd.to_numeric(fun["n"], errors="coerce").notna()]
    published = {(int(r.survey_year), r.survey, r.indicator, int(r.n), float(r.pct))
                 for r in rows.itertuples() if np.isfinite(r.n) and np.isfinite(r.pct)}
    for r in pts.itertuples():
        key = (int(r.survey_year), r.survey, r.indicator, int(r.n), float(r.pct))
        if key not in published:
            found.funnel.append(key)
        k = _k(float(r.pct), float(r.n))
        if k in SMALL or int(r.n) - k in SMALL:
            found.exposures.append(("funnels.csv", key, "point", k))


def _text(reports: Path, found: Findings) -> None:
    """The national briefing: counts rounded to 10, no percentages on a base of 1-9."""
    page = reports / "national" / "briefing.html"
    if not page.exists():
        return
    text = re.sub(r"<[^>]+>", " ", page.read_text(encoding="utf-8"))
    text = re.sub(r"\s+", " ", text)
    for m in re.finditer(r"about ([\d,]+) children", text):
        v = int(m.group(1).replace(",", ""))
        if v % 10:
            found.text.append(f"unrounded count: {m.group(0)}")
        if 0 < v < 10:
            found.text.append(f"tiny national base: {m.group(0)}")


# ---------------------------------------------------------------- building and scoring
def publish_csvs(df: pd.DataFrame, out: Path, drivers: bool = False) -> dict[str, pd.DataFrame]:
    """What the build publishes as CSV, without rendering: every authority and the national files.

    Runs the national stage's tables and the CSV writers the notebooks call,
    each authority at its latest year (the build's default). Returns the
    internal (unsuppressed) tables, the truth the attacker is scored against.
    """

    tables = indicators.national_tables(df)
    out = Path(out)
    names = tables["comparisons"].groupby("la_code")["la_name"].first()
    for code, name in names.items():
        year = indicators.briefing_year(tables, code)
        indicators.write_la_outputs(tables, code, year, out / slugify(str(name)))
    writer = getattr(national, "write_national_csvs", None)
    if writer is not None:
        writer(tables, out / "national")
    if drivers:
        drv.write_drivers(drv.fit_national_models(df), out)
    return tables


def truth(tables: dict[str, pd.DataFrame]) -> dict[tuple, int]:
    """The true count behind every key the attacker can name."""
    out: dict[tuple, int] = {}
    comp = tables["comparisons"]
    for r in comp[["la_code", "survey_year", "survey", "indicator", "k"]].itertuples(index=False):
        out[("row", str(r.la_code), int(r.survey_year), r.survey, r.indicator)] = int(r.k)
    brk = tables["breakdowns"]
    for r in brk[["la_code", "survey_year", "survey", "indicator", "by", "group", "n", "k"]
                 ].itertuples(index=False):
        key = (str(r.la_code), int(r.survey_year), r.survey, r.indicator, r.by, str(r.group))
        out[("group", *key)] = int(r.k)
        out[("group_n", *key)] = int(r.n)
        out[("group_c", *key)] = int(r.n) - int(r.k)
    return out


def score(reports: Path, tables: dict[str, pd.DataFrame]) -> dict[str, object]:
    """Run the attack and count what it recovered (pins need the truth; exposures do not)."""
    found = attack(reports)
    pins = found.pins(truth(tables))
    return {"pins": pins, "exposures": found.exposures, "funnel": found.funnel,
            "text": found.text,
            "summary": {"pinned": len(pins), "exposed": len(found.exposures),
                        "funnel_leaks": len(found.funnel), "text": len(found.text),
                        "pinned_by": dict(pd.Series([p[0][0] for p in pins]).value_counts())
                        if pins else {},
                        "exposed_by": dict(pd.Series([e[2] for e in found.exposures]
                                                     ).value_counts())
                        if found.exposures else {}}}
