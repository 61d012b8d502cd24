"""Where each authority should focus: national drivers x its own real gaps.

Why this combination: the national models (``analysis.methods.drivers``) say which
experiences go with higher well-being everywhere, but not where a given
authority stands; its indicator results say where it is behind, but not
whether that matters for well-being. A focus area needs both:

1. the indicator is a national driver **in the helpful direction** with a
   95% interval that excludes zero: meeting a ``higher_is_better``
   indicator goes with *higher* well-being (effect > 0), meeting a
   ``lower_is_better`` one (e.g. being afraid of bullying) with *lower*
   well-being (effect < 0);
2. the authority is **worse** than other authorities on it, and the
   difference is real: ``flag == "worse"`` in the comparisons table (the
   same test the briefing reports: against the case-mix expectation, with
   chance controlled across all the briefing's results), with a percentage
   the briefing may publish: at least ``MIN_BASE`` answers and a numerator
   that is not 1-4 (``analysis.methods.disclosure.rate_suppressed``); and its
   **shrunken gap** (``analysis.methods.fairness.shrink_gaps``: the gap from the
   case-mix expectation pulled towards zero by how noisy it is, empirical
   Bayes) is behind with a 95% interval that excludes zero;
3. the candidates are ranked by ``score = |effect| x shrunken gap / 100``:
   the difference in average well-being (points out of 10) that goes with
   the gap in the national model. This is "importance x how far behind"
   with importance measured per child (the effect) rather than standardised,
   because the gap already says how many children are affected;
   standardising as well would count prevalence twice. Shrinking first
   means a small authority's noisy 30-point gap does not outrank a large
   authority's steady 8-point one;
4. at most ``MAX_AREAS`` per authority and year, each with one to three
   published practice examples from ``data/reference/practice_bank.yaml``
   (most specific first; a strategic example when none addresses the
   indicator).

Every phrase is associational ("goes with"): the model shows where change
is most likely to matter, not that changing one answer would change
well-being. A comparisons table without the shrinkage columns (a
hand-made frame) is ranked on the raw gap.

``all_focus_areas`` computes every authority and year at once (national
stage, once per build); a briefing only slices it (``la_focus``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis.core import yamlfile
from analysis.core.paths import REFERENCE_DIR
from analysis.data.codebook import Codebook, load_codebook
from analysis.methods.disclosure import MIN_BASE, numerator, rate_suppressed
from analysis.methods.indicators import round1

PRACTICE_BANK_PATH = REFERENCE_DIR / "practice_bank.yaml"
MAX_AREAS = 5
MAX_EXAMPLES = 3
FOCUS_COLUMNS = (
    "la_code", "la_name", "survey_year", "survey", "focus_rank", "indicator", "label", "domain",
    "direction", "n", "pct", "others_pct", "expected_pct", "gap_pp",
    "shrunk_gap_pp", "shrunk_low", "shrunk_high", "effect", "ci_low",
    "ci_high", "importance", "driver_rank", "score", "practice",
    "practice_1", "practice_2", "practice_3", "practice_ids",
    "pct_exact", "others_pct_exact", "effect_exact", "shrunk_gap_pp_exact", "shrunk_low_exact",
    "shrunk_high_exact",
)
#: Figures a focus area's words are made from, kept unrounded beside the rounded
#: columns (``<name>_exact``) so the words round once, from the exact value.
WORD_INPUTS = ("pct", "others_pct", "effect", "shrunk_gap_pp", "shrunk_low", "shrunk_high")
_SUBGROUP = re.compile(r"^of those (with \w+) (.*)$")


# ---------------------------------------------------------------- practice bank
@dataclass(frozen=True)
class Practice:
    """One published example of what an authority changed."""

    id: str
    authority: str
    action: str
    addresses: str
    indicators: tuple[str, ...]
    groups: tuple[str, ...]
    fallback: bool = False

    def text(self) -> str:
        """'Hull: made a podcast ...' (the authority, then its action)."""
        return f"{self.authority}: {self.action}"


def load_practice_bank(path: str | Path | None = None,
                       codebook: Codebook | None = None) -> list[Practice]:
    """Read and check the practice bank (unknown indicator ids are an error, not a gap)."""
    cb = codebook or load_codebook()
    p = Path(path) if path else PRACTICE_BANK_PATH
    with p.open(encoding="utf-8") as fh:
        raw = yamlfile.safe_load(fh) or {}
    out = []
    for entry in raw.get("practice", []):
        inds = tuple(str(i) for i in entry.get("indicators") or ())
        unknown = [i for i in inds if i not in cb.indicators]
        if unknown:
            raise ValueError(f"{p}: practice {entry.get('id')!r} names unknown "
                             f"indicator(s) {unknown}")
        groups = tuple(entry.get("groups") or ("in_care", "leavers"))
        out.append(Practice(
            id=str(entry["id"]), authority=str(entry["authority"]),
            action=" ".join(str(entry["action"]).split()), addresses=str(entry["addresses"]),
            indicators=inds, groups=groups, fallback=bool(entry.get("fallback", False)),
        ))
    ids = [e.id for e in out]
    if len(ids) != len(set(ids)):
        raise ValueError(f"{p}: duplicate practice ids")
    return out


def _bank(practice_bank: Sequence[Practice] | str | Path | None) -> list[Practice]:
    if practice_bank is None or isinstance(practice_bank, (str, Path)):
        return load_practice_bank(practice_bank)
    return list(practice_bank)


def practice_for(indicator: str, group: str, bank: Sequence[Practice],
                 k: int = MAX_EXAMPLES) -> list[Practice]:
    """Up to ``k`` examples addressing ``indicator`` for ``group`` (in_care / leavers).

    Most specific first (examples addressing fewer indicators, then those
    about one group only), then in the bank's order. If none addresses the indicator,
    the strategic fallback examples, so every focus area has at least one.
    """
    order = {e.id: i for i, e in enumerate(bank)}
    fits = [e for e in bank if indicator in e.indicators and group in e.groups]
    fits.sort(key=lambda e: (len(e.indicators), len(e.groups), order[e.id]))
    if not fits:
        fits = [e for e in bank if e.fallback and group in e.groups]
    return fits[:k]


# ---------------------------------------------------------------- selection
def _driver_frame(drivers: pd.DataFrame) -> pd.DataFrame:
    need = {"survey", "indicator", "effect", "ci_low", "ci_high", "importance", "rank"}
    missing = need - set(drivers.columns)
    if missing:
        raise ValueError(f"drivers table lacks column(s) {sorted(missing)}")
    d = drivers[list(need)].copy()
    for c in ("effect", "ci_low", "ci_high", "importance"):
        d[c] = pd.to_numeric(d[c], errors="coerce")
    return d.rename(columns={"rank": "driver_rank"})


def _candidates(drivers: pd.DataFrame, comparisons: pd.DataFrame, cb: Codebook
                ) -> pd.DataFrame:
    """Every (authority, year, survey, indicator) meeting rules 1 and 2 of the docstring."""
    comp = comparisons
    if "kind" in comp.columns:
        comp = comp[comp["kind"].astype(str) == "indicator"]
    comp = comp[comp["flag"].astype(str) == "worse"]
    comp = comp[comp["indicator"].isin(list(cb.indicators))]
    if "n" in comp.columns:
        comp = comp[~rate_suppressed(comp["n"], numerator(comp))]
    if "withheld" in comp.columns:
        comp = comp[~comp["withheld"].fillna(True).astype(bool)]
    if "national_pct" in comp.columns:
        # The comparator a reader sees (the published national figure), never the
        # exact other-authorities figure, which would give withheld figures away.
        comp = comp.assign(others_pct=comp["national_pct"])
    if "others_n" in comp.columns:
        comp = comp[pd.to_numeric(comp["others_n"], errors="coerce") >= MIN_BASE]
    keep = ["la_code", "survey_year", "survey", "indicator", "pct", "others_pct"]
    keep += [c for c in ("la_name", "n", "expected_pct", "shrunk_gap_pp", "shrunk_low",
                         "shrunk_high") if c in comp.columns]
    comp = comp[keep].copy()
    comp["pct"] = pd.to_numeric(comp["pct"], errors="coerce")
    comp["others_pct"] = pd.to_numeric(comp["others_pct"], errors="coerce")
    comp = comp[comp["pct"].notna() & comp["others_pct"].notna()]
    comp["direction"] = comp["indicator"].map({m: v.direction for m, v in
                                               cb.indicators.items()})
    d = _driver_frame(drivers)
    both = comp.merge(d, on=["survey", "indicator"], how="inner")
    lower = both["direction"] == "lower_is_better"
    helpful = np.where(lower, both["effect"] < 0, both["effect"] > 0)
    real = (both["ci_low"] > 0) | (both["ci_high"] < 0)
    both["gap_pp"] = np.where(lower, both["pct"] - both["others_pct"],
                              both["others_pct"] - both["pct"])
    if "shrunk_gap_pp" in both.columns:
        # Behind = positive, whichever direction is better.
        sign = np.where(lower, 1.0, -1.0)
        g = sign * pd.to_numeric(both["shrunk_gap_pp"], errors="coerce")
        a = sign * pd.to_numeric(both["shrunk_low"], errors="coerce")
        b = sign * pd.to_numeric(both["shrunk_high"], errors="coerce")
        both["shrunk_gap_pp"], both["shrunk_low"], both["shrunk_high"] = (
            g, np.minimum(a, b), np.maximum(a, b))
        behind = (both["shrunk_gap_pp"] > 0) & (both["shrunk_low"] > 0)
    else:
        both["shrunk_gap_pp"] = both["gap_pp"]
        both["shrunk_low"] = np.nan
        both["shrunk_high"] = np.nan
        behind = both["gap_pp"] > 0
    if "expected_pct" not in both.columns:
        both["expected_pct"] = np.nan
    both = both[helpful & real & (both["gap_pp"] > 0) & behind].copy()
    both["score"] = both["effect"].abs() * both["shrunk_gap_pp"] / 100.0
    return both


def _finish(frame: pd.DataFrame, bank: Sequence[Practice], cb: Codebook,
            max_areas: int) -> pd.DataFrame:
    if frame.empty:
        return pd.DataFrame(columns=list(FOCUS_COLUMNS))
    s_order = {s: i for i, s in enumerate(cb.surveys)}
    i_order = {m: i for i, m in enumerate(cb.indicators)}
    frame = frame.assign(_s=frame["survey"].map(s_order), _i=frame["indicator"].map(i_order))
    frame = frame.sort_values(
        ["la_code", "survey_year", "score", "importance", "_s", "_i"],
        ascending=[True, True, False, False, True, True], kind="stable")
    frame = frame.groupby(["la_code", "survey_year"], sort=False).head(max_areas).copy()
    frame["focus_rank"] = frame.groupby(["la_code", "survey_year"], sort=False).cumcount() + 1
    m = {mid: cb.indicators[mid] for mid in frame["indicator"].unique()}
    frame["label"] = frame["indicator"].map({k: v.label for k, v in m.items()})
    frame["domain"] = frame["indicator"].map({k: v.domain for k, v in m.items()})
    recs = frame.to_dict("records")
    examples = [practice_for(r["indicator"], cb.group(r["survey"]), bank) for r in recs]
    for i in range(MAX_EXAMPLES):
        frame[f"practice_{i + 1}"] = [ex[i].text() if len(ex) > i else "" for ex in examples]
    frame["practice"] = [" ".join(e.text() for e in ex) for ex in examples]
    frame["practice_ids"] = [";".join(e.id for e in ex) for ex in examples]
    if "la_name" not in frame.columns:
        frame["la_name"] = ""
    if "n" not in frame.columns:
        frame["n"] = pd.NA
    for c in WORD_INPUTS:
        frame[f"{c}_exact"] = frame[c].astype("float64")
    out = frame[list(FOCUS_COLUMNS)].reset_index(drop=True)
    out["survey_year"] = out["survey_year"].astype("int64")
    # Percentages to one decimal (interfaces.md), model figures to four; the
    # ranking above used the unrounded values, and the words
    # (``analysis.present.text.focus_words``) use the ``_exact`` copies.
    for c in ("pct", "others_pct", "gap_pp", "shrunk_gap_pp", "shrunk_low", "shrunk_high"):
        out[c] = round1(out[c].astype("float64"))
    out["expected_pct"] = np.floor(out["expected_pct"].astype("float64") + 0.5) + 0.0
    for c in ("effect", "ci_low", "ci_high", "importance", "score"):
        out[c] = out[c].astype("float64").round(4) + 0.0
    return out


def all_focus_areas(drivers: pd.DataFrame, comparisons: pd.DataFrame,
                    practice_bank: Sequence[Practice] | str | Path | None = None,
                    max_areas: int = MAX_AREAS) -> pd.DataFrame:
    """Focus areas of every authority and survey year at once (``FOCUS_COLUMNS``).

    ``drivers`` is ``DriverResults.drivers`` or drivers.csv (survey, indicator,
    effect, ci_low, ci_high, importance, rank); ``comparisons`` is the
    national comparisons table (``analysis.methods.indicators.national_tables``).
    Sorted by authority, year and focus rank; deterministic.
    """
    cb = load_codebook()
    bank = _bank(practice_bank)
    return _finish(_candidates(drivers, comparisons, cb), bank, cb, max_areas)


def focus_areas(drivers: pd.DataFrame, comparisons: pd.DataFrame, la_code: str,
                survey_year: int,
                practice_bank: Sequence[Practice] | str | Path | None = None,
                max_areas: int = MAX_AREAS) -> pd.DataFrame:
    """One authority's focus areas for one survey year (at most ``max_areas``)."""
    comp = comparisons[(comparisons["la_code"].astype(str) == str(la_code))
                       & (pd.to_numeric(comparisons["survey_year"]) == int(survey_year))]
    return all_focus_areas(drivers, comp, practice_bank, max_areas)


def la_focus(table: pd.DataFrame, la_code: str, survey_year: int) -> pd.DataFrame:
    """An authority's rows of the precomputed ``all_focus_areas`` table, in focus order."""
    if table is None or table.empty:
        return pd.DataFrame(columns=list(FOCUS_COLUMNS))
    sel = table[(table["la_code"].astype(str) == str(la_code))
                & (pd.to_numeric(table["survey_year"]) == int(survey_year))]
    return sel.sort_values("focus_rank", kind="stable").reset_index(drop=True)


def practice_examples(row: Mapping[str, Any]) -> list[str]:
    """A focus row's practice examples (``practice_1..3``, else ``practice``), blanks dropped."""
    out = []
    for i in range(1, MAX_EXAMPLES + 1):
        v = row.get(f"practice_{i}")
        if isinstance(v, str) and v.strip():
            out.append(v.strip())
    if not out:
        v = row.get("practice")
        if isinstance(v, str) and v.strip():
            out.append(v.strip())
    return out


