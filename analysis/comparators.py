"""Statistical neighbours and region: results against a chosen group of authorities.

Why: directors compare their authority with its *statistical neighbours*
(authorities like it) and its region, not only with every other authority.
The parameter file names them (``neighbours``: authority codes; ``region``:
a name shared by the authorities of one region); the build passes each
authority the codes of its group, and this module pools their answers.

Disclosure control (the rule, and why it is safe). A pooled figure is built
**only from members whose own figure is published** for that survey,
indicator and year (``analysis.indicators.la_indicators``, i.e. whatever
``analysis.disclosure`` lets each member publish), and is shown only when at
least ``MIN_MEMBERS`` members and ``MIN_BASE`` answers remain. Every member's
published base and percentage already give its count away, so the pooled
figure is a sum of published numbers: no combination of files can recover
from it a count that is withheld anywhere. A member whose figure is withheld
never enters a pool (pooling it would let a reader subtract the other,
published members and recover it), and a pool of one would just repeat a
named authority's figure. The count of members used is published beside
each figure, so readers know what it rests on. The group's members are never
named in the authority's files.

Better / similar / worse against the group uses the same two-proportion test
as the comparison with all authorities, with the chance of a false flag
controlled across all of one group's comparisons in the briefing (Holm).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from analysis.disclosure import MIN_BASE

#: Fewest members with a published figure for a pooled figure to be shown.
MIN_MEMBERS = 2
GROUPS = {"neighbours": "statistical neighbours", "region": "region"}
COLUMNS = ("la_code", "survey_year", "survey", "indicator", "group", "members", "n", "pct",
           "flag", "suppressed")


def _published_members(tables: Mapping[str, pd.DataFrame], codes: Sequence[str],
                       year: int, kind: str) -> pd.DataFrame:
    """Each member's published rows (n, pct; suppressed rows dropped) with its count k."""
    from analysis import indicators

    comp = tables["comparisons"]
    parts = []
    present = set(comp.loc[comp["survey_year"] == int(year), "la_code"].astype(str))
    for code in dict.fromkeys(str(c) for c in codes):
        if code not in present:
            continue
        rows = indicators.la_indicators(dict(tables), code, year, kind)
        rows = rows[~rows["suppressed"].astype(bool) & rows["pct"].notna()]
        parts.append(rows[["la_code", "survey", "indicator", "n", "pct"]])
    if not parts:
        return pd.DataFrame(columns=["la_code", "survey", "indicator", "n", "pct", "k"])
    out = pd.concat(parts, ignore_index=True)
    # k from the *published* figures (what a reader could compute), not the raw table.
    out["k"] = np.rint(out["pct"].astype(float) * out["n"].astype(float) / 100.0)
    return out


def pooled(tables: Mapping[str, pd.DataFrame], la_rows: pd.DataFrame, codes: Sequence[str],
           group: str, la_code: str, year: int, kind: str = "indicator") -> pd.DataFrame:
    """The authority's published rows against the pooled group (``COLUMNS`` + p_value).

    ``la_rows`` are the authority's own ``la_indicators`` rows of ``kind``;
    ``codes`` are the group's members (the authority itself is left out).
    ``p_value`` is the unadjusted test of the authority against the group
    (``comparisons`` adjusts and flags).
    """
    from analysis.stats import compare_proportions

    members = [c for c in codes if str(c) != str(la_code)]
    pub = _published_members(tables, members, year, kind) if members else None
    base = la_rows[["survey", "indicator", "n", "pct", "suppressed", "direction"]].rename(
        columns={"n": "own_n", "pct": "own_pct", "suppressed": "own_suppressed"})
    if pub is None or pub.empty:
        agg = pd.DataFrame(columns=["survey", "indicator", "members", "n", "k"])
    else:
        agg = pub.groupby(["survey", "indicator"], sort=False).agg(
            members=("la_code", "nunique"), n=("n", "sum"), k=("k", "sum")).reset_index()
    out = base.merge(agg, on=["survey", "indicator"], how="left")
    out["members"] = out["members"].fillna(0).astype(int)
    out["n"] = out["n"].fillna(0).astype(int)
    out["k"] = out["k"].fillna(0).astype(float)
    ok = ((out["members"] >= MIN_MEMBERS) & (out["n"] >= MIN_BASE)).to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        out["pct"] = np.where(ok, np.round(100.0 * out["k"] / out["n"], 1), np.nan)
    out["suppressed"] = ~ok
    own_ok = (~out["own_suppressed"].astype(bool) & out["own_pct"].notna()).to_numpy()
    testable = ok & own_ok
    p = np.full(len(out), np.nan)
    if testable.any():
        own_n = out["own_n"].to_numpy(dtype=float)
        own_k = np.rint(out["own_pct"].to_numpy(dtype=float) * own_n / 100.0)
        p[testable] = np.asarray(compare_proportions(
            own_k[testable], own_n[testable], out["k"].to_numpy()[testable],
            out["n"].to_numpy(dtype=float)[testable]), dtype=float)
    out["p_value"] = p
    out["flag"] = np.where(ok, "similar", "suppressed")
    out["n"] = out["n"].astype("Int64").where(ok, pd.NA)
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
    from analysis.stats import flag_difference

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
                                frame["pct"].to_numpy(dtype=float), adjusted, lower)
        frame["flag"] = np.where(frame["suppressed"], "suppressed", flags)
        parts.append(frame)
    if not parts:
        return pd.DataFrame(columns=list(COLUMNS))
    return pd.concat(parts, ignore_index=True)[list(COLUMNS)]


# ---------------------------------------------------------------- briefing section
def _label(group: str, region: str) -> str:
    return "statistical neighbours" if group == "neighbours" else f"the {region} region"


def summary_sentence(rows: pd.DataFrame, group: str, region: str, members: int) -> str:
    """'Against its 5 statistical neighbours, 2 results were better, 1 worse ...'."""
    shown = rows[rows["group"] == group]
    compared = shown[~shown["suppressed"].astype(bool) & shown["flag"].isin(
        ["better", "similar", "worse"])]
    better = int((compared["flag"] == "better").sum())
    worse = int((compared["flag"] == "worse").sum())
    who = (f"its {members} statistical neighbour{'s' if members != 1 else ''}"
           if group == "neighbours" else
           f"the {members} other authorit{'ies' if members != 1 else 'y'} of the {region} region")
    if compared.empty:
        return (f"Against {who}, pooled, no result could be compared: too few of them have "
                "a published figure.")
    held = len(shown) - len(compared)
    return (f"Against {who}, pooled: of {len(compared)} results, {better or 'none'} "
            f"{'was' if better == 1 else 'were'} better, {worse or 'none'} worse and the rest "
            "similar" + (f"; {held} could not be compared (too few of them with a published "
                         "figure)." if held else "."))


def table(b: object, rows: pd.DataFrame) -> pd.DataFrame:
    """Here against the neighbours and the region, one row per published result."""
    from analysis.briefing import _cap, who
    from analysis.codebook import load_codebook
    from analysis.text import fmt_pct

    cb = load_codebook()
    own = pd.concat([b.indicators, b.wellbeing], ignore_index=True)  # type: ignore[attr-defined]
    own = own[~own["suppressed"].astype(bool) & own["pct"].notna()]
    out = []
    for rec in own.to_dict("records"):
        line = {"Measure": cb.measure(str(rec["indicator"])).label,
                "Who": _cap(who(str(rec["survey"]))), "Here": fmt_pct(rec["pct"])}
        for group, head in (("neighbours", "Neighbours"), ("region", "Region")):
            sel = rows[(rows["group"] == group) & (rows["survey"] == rec["survey"])
                       & (rows["indicator"] == rec["indicator"])]
            if group not in set(rows["group"]):
                continue
            if sel.empty or bool(sel["suppressed"].iloc[0]):
                line[head] = "[c]"
            else:
                flag = str(sel["flag"].iloc[0])
                word = "" if flag == "similar" else f" ({flag})"
                line[head] = fmt_pct(sel["pct"].iloc[0]) + word
        out.append(line)
    return pd.DataFrame(out)


def markdown(b: object) -> str:
    """The neighbours-and-region section of the briefing (empty string when neither is set)."""
    from analysis.briefing import pipe_table

    rows = getattr(b, "comparators", None)
    if rows is None or rows.empty:
        return ""
    region = str(getattr(b, "region", "") or "")
    n_neigh = len(getattr(b, "neighbours", []) or [])
    n_region = len(getattr(b, "region_codes", []) or [])
    text = ["## Compared with similar authorities", "",
            "Authorities compare themselves with their *statistical neighbours* (authorities "
            "like them, listed in this authority's parameter file) and with their region. "
            "Their answers are pooled; a pooled figure uses only the authorities whose own "
            f"figure is published and is shown only when at least {MIN_MEMBERS} of them, "
            f"with {MIN_BASE} or more answers between them, remain ([c] otherwise). "
            "*Better* or *worse* means the difference is unlikely to be chance, with the "
            "chance of any false flag held at 5% across each group's results."]
    sentences = []
    if n_neigh:
        sentences.append(summary_sentence(rows, "neighbours", region, n_neigh))
    if region and n_region:
        sentences.append(summary_sentence(rows, "region", region, n_region))
    text += ["", *[f"- {s}" for s in sentences]]
    shown = table(b, rows)
    if not shown.empty:
        text += ["", pipe_table(shown, "Results here against the pooled neighbours and region "
                                "(better or worse in brackets; [c] = withheld)",
                                right=[c for c in shown.columns if c not in ("Measure", "Who")])]
    return "\n".join(text)
