"""Statistical neighbours and region: results against a chosen group of authorities.

Why: directors compare their authority with its *statistical neighbours*
(authorities like it) and its region, not only with every other authority.
The parameter file names them (``neighbours``: authority codes; ``region``:
a name shared by the authorities of one region); the build passes each
authority the codes of its group, and this module pools their answers.

Disclosure control. A pooled figure follows the rule of every comparator
(``analysis.disclosure.pooled_comparator``): the members' answers pooled and
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

import numpy as np
import pandas as pd

from analysis.disclosure import (
    MIN_BASE,
    MIN_COUNT,
    pooled_comparator,
    rate_suppressed,
    small_count,
)

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
    pooled figure is rounded by ``analysis.disclosure.pooled_comparator`` (the
    rule every comparator follows: a step at which no withheld member's
    figure can be worked out, else withheld); ``p_value`` is the unadjusted
    test of the authority against the group (``comparisons`` adjusts and flags).
    """
    from analysis.stats import compare_proportions

    members = [c for c in codes if str(c) != str(la_code)]
    rows = _member_rows(tables, members, year, kind) if members else None
    base = la_rows[["survey", "indicator", "n", "pct", "suppressed", "direction"]].rename(
        columns={"n": "own_n", "pct": "own_pct", "suppressed": "own_suppressed"})
    records = []
    grouped = rows.groupby(["survey", "indicator"]) if rows is not None and len(rows) else {}
    lookup = {key: g for key, g in grouped} if len(grouped) else {}
    for rec in base.to_dict("records"):
        key = (rec["survey"], rec["indicator"])
        g = lookup.get(key)
        pct = step = float("nan")
        count = n_sum = k_sum = 0
        if g is not None:
            g = g[g["n"] > 0]
            count, n_sum, k_sum = len(g), int(g["n"].sum()), int(g["k"].sum())
            if count >= MIN_MEMBERS:
                n_arr = g["n"].to_numpy("float64")
                public = np.where(small_count(n_arr), MIN_COUNT - 1, n_arr)
                pct, step = pooled_comparator(g["k"].to_numpy("float64"), n_arr,
                                              ~g["_known"].to_numpy(bool), public)
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
                                frame["pool_pct"].to_numpy(dtype=float), adjusted, lower)
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
                step = float(sel["step"].iloc[0])
                about = "about " if np.isfinite(step) and step > 1 else ""
                line[head] = about + fmt_pct(sel["pct"].iloc[0]) + word
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
            "Their answers are pooled and rounded, to the nearest 1% where that cannot give "
            "a withheld figure away and more coarsely (\"about\") where it could; a pool of "
            f"fewer than {MIN_MEMBERS} authorities or {MIN_BASE} answers, or one no "
            "rounding keeps safe, is withheld ([c]). "
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
