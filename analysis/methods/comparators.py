"""Statistical neighbours and region: results against a chosen group of authorities.

Why: directors compare their authority with its *statistical neighbours*
(authorities like it) and its region, not only with every other authority.
The parameter file names them (``neighbours``: authority codes; ``region``:
a name shared by the authorities of one region); the build passes each
authority the codes of its group, and this module pools their answers.

Disclosure control. A pooled figure follows the rule of every comparator
(``analysis.methods.disclosure.pooled_comparator``): the members' answers pooled and
rounded to the finest step (1, 2, 5 or 10 points) at which no member's
withheld figure, nor one no file shows, can be worked out from it together
with everything else published; where no step is safe, or fewer than
``MIN_MEMBERS`` members or ``MIN_BASE`` answers remain, it is withheld. Its
base is not published (a withheld member's base could be recovered from
it); the number of members and the step are. A pool of one would repeat a
named authority's figure, so it is withheld too, and the members are never
named in the authority's files.

Better / similar / worse against the group uses the same two-proportion test
as the comparison with all authorities, with the chance of a false flag
controlled across all of one group's comparisons in the briefing (Holm).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from analysis.methods.disclosure import (
    MIN_BASE,
    MIN_COUNT,
    pooled_comparator,
    rate_suppressed,
    small_count,
)
from analysis.methods.stats import compare_proportions, flag_difference

#: Fewest members with a published figure for a pooled figure to be shown.
MIN_MEMBERS = 2
GROUPS = {"neighbours": "statistical neighbours", "region": "region"}
COLUMNS = ("la_code", "survey_year", "survey", "indicator", "group", "members", "pct", "step",
           "flag", "suppressed")


def _member_rows(tables: Mapping[str, pd.DataFrame], codes: Sequence[str], year: int,
                 kind: str) -> pd.DataFrame:
    """The members' internal rows (true n, k) with whether a reader holds each figure."""
    comp = tables["comparisons"]
    rows = comp[(comp["survey_year"] == int(year)) & (comp["kind"] == kind)
                & comp["la_code"].astype(str).isin({str(c) for c in codes})]
    known = (rows["known"].astype(bool) if "known" in rows.columns
             else ~pd.Series(rate_suppressed(rows["n"], rows["k"]), index=rows.index))
    return rows.assign(_known=known.to_numpy(bool))


def pooled(tables: Mapping[str, pd.DataFrame], la_rows: pd.DataFrame, codes: Sequence[str],
           group: str, la_code: str, year: int, kind: str = "indicator") -> pd.DataFrame:
    """The authority's published rows against the pooled group (``COLUMNS`` + p_value).

    ``la_rows`` are the authority's own ``la_indicators`` rows of ``kind``;
    ``codes`` are the group's members (the authority itself is left out). The
    pooled figure is rounded by ``analysis.methods.disclosure.pooled_comparator`` (the
    rule every comparator follows: a step at which no withheld member's
    figure can be worked out, else withheld); ``p_value`` is the unadjusted
    test of the authority against the group (``comparisons`` adjusts and flags).
    """

    members = [c for c in codes if str(c) != str(la_code)]
    rows = _member_rows(tables, members, year, kind) if members else None
    base = la_rows[["survey", "indicator", "n", "pct", "suppressed", "direction"]].rename(
        columns={"n": "own_n", "pct": "own_pct", "suppressed": "own_suppressed"})
    records = []
    # Each result's member rows as positions into plain arrays (in the rows' order, as
    # groupby gives them): a hundred DataFrame slices per authority cost a tenth of a second.
    lookup: dict[Any, np.ndarray] = {}
    if rows is not None and len(rows):
        lookup = rows.groupby(["survey", "indicator"]).indices
        n_all, k_all = rows["n"].to_numpy(), rows["k"].to_numpy()
        known_all = rows["_known"].to_numpy(bool)
    for rec in base.to_dict("records"):
        key = (rec["survey"], rec["indicator"])
        at = lookup.get(key)
        pct = step = float("nan")
        count = n_sum = k_sum = 0
        if at is not None:
            at = at[n_all[at] > 0]
            count, n_sum, k_sum = len(at), int(n_all[at].sum()), int(k_all[at].sum())
            if count >= MIN_MEMBERS:
                n_arr = n_all[at].astype("float64")
                public = np.where(small_count(n_arr), MIN_COUNT - 1, n_arr)
                pct, step = pooled_comparator(k_all[at].astype("float64"), n_arr,
                                              ~known_all[at], public)
        ok = np.isfinite(pct) and n_sum >= MIN_BASE
        p = float("nan")
        if ok and not rec["own_suppressed"] and pd.notna(rec["own_pct"]):
            own_k = round(float(rec["own_pct"]) * float(rec["own_n"]) / 100.0)  # as shown
            p = float(np.asarray(compare_proportions(
                [own_k], [rec["own_n"]], [k_sum], [n_sum]), dtype=float)[0])
        records.append({**rec, "members": count, "pct": pct if ok else np.nan,
                        "step": step if ok else np.nan, "suppressed": not ok, "p_value": p,
                        "flag": "similar" if ok else "suppressed",
                        "pool_pct": 100.0 * k_sum / n_sum if n_sum else np.nan})
    out = pd.DataFrame(records)
    if out.empty:
        out = pd.DataFrame(columns=[*base.columns, "members", "pct", "step", "suppressed",
                                    "p_value", "flag", "pool_pct"])
    out.insert(0, "la_code", la_code)
    out.insert(1, "survey_year", int(year))
    out.insert(4, "group", group)
    return out.reset_index(drop=True)


def holm(p: np.ndarray) -> np.ndarray:
    """Holm-adjusted p-values (missing stay missing): family-wise error control."""
    p = np.asarray(p, dtype=float)
    out = np.full_like(p, np.nan)
    ok = ~np.isnan(p)
    if not ok.any():
        return out
    vals = p[ok]
    m = len(vals)
    order = np.argsort(vals, kind="stable")
    adj = np.empty(m)
    running = 0.0
    for rank, idx in enumerate(order):
        running = max(running, min(1.0, (m - rank) * vals[idx]))
        adj[idx] = running
    out[ok] = adj
    return out


def comparisons(tables: Mapping[str, pd.DataFrame], indicators: pd.DataFrame,
                wellbeing: pd.DataFrame, la_code: str, year: int,
                neighbours: Sequence[str] = (), region_codes: Sequence[str] = ()
                ) -> pd.DataFrame:
    """Every published result against the neighbours and the region (empty when neither).

    Flags: better / similar / worse once the chance of any false flag among
    one group's comparisons is held at 5% (Holm); ``suppressed`` where the
    pooled figure is withheld (``n`` and ``pct`` empty).
    """

    parts = []
    for group, codes in (("neighbours", neighbours), ("region", region_codes)):
        if not codes:
            continue
        rows = [pooled(tables, r, list(codes), group, la_code, year, kind)
                for r, kind in ((indicators, "indicator"), (wellbeing, "wellbeing")) if len(r)]
        if not rows:
            continue
        frame = pd.concat(rows, ignore_index=True)
        adjusted = holm(frame["p_value"].to_numpy(dtype=float))
        lower = (frame["direction"] == "lower_is_better").to_numpy()
        flags = flag_difference(frame["own_pct"].to_numpy(dtype=float),
                                frame["pool_pct"].to_numpy(dtype=float), adjusted, lower)
        frame["flag"] = np.where(frame["suppressed"], "suppressed", flags)
        parts.append(frame)
    if not parts:
        return pd.DataFrame(columns=list(COLUMNS))
    return pd.concat(parts, ignore_index=True)[list(COLUMNS)]


