"""The codebook: questions, answer codes, indicators and well-being measures.

Everything that needs to know what a column means (validation, indicators,
the synthetic generator, charts, the briefing's sentences) asks this module,
which reads ``data/reference/codebook.yaml``. Keeping one source means a
renamed answer code cannot silently break one part of the pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd

from analysis.core import yamlfile
from analysis.core.paths import REFERENCE_DIR

CODEBOOK_PATH = REFERENCE_DIR / "codebook.yaml"

SCALE_TYPES = {"scale_0_10": (0, 10), "faces_1_5": (1, 5)}


@dataclass(frozen=True)
class Column:
    """One column of the extract: who is asked it and what answers are valid."""

    name: str
    type: str
    surveys: tuple[str, ...]
    required: bool = False
    codes: dict[str, str] = field(default_factory=dict)
    codes_by_group: dict[str, dict[str, str]] = field(default_factory=dict)
    domain: str | None = None
    text: str = ""
    label: str = ""
    pattern: str | None = None
    range: tuple[int, int] | None = None
    #: Free text only: the column may be absent from an extract (spec v2).
    optional: bool = False
    max_length: int | None = None

    @property
    def is_question(self) -> bool:
        return self.domain is not None

    def allowed_codes(self, group: str | None = None) -> dict[str, str]:
        """Valid answer codes (code -> label); placement depends on the group."""
        if self.codes_by_group:
            if group is None:
                merged: dict[str, str] = {}
                for codes in self.codes_by_group.values():
                    merged.update(codes)
                return merged
            return self.codes_by_group[group]
        return self.codes

    @property
    def scale(self) -> tuple[int, int] | None:
        return SCALE_TYPES.get(self.type)


@dataclass(frozen=True)
class Measure:
    """An indicator or well-being measure: a share of answers meeting a definition."""

    id: str
    column: str
    counts: tuple[Any, ...]
    direction: str
    label: str
    statement: str
    domain: str
    surveys: tuple[str, ...]
    base_excludes: tuple[str, ...] = ()
    kind: str = "indicator"  # or "wellbeing"

    @property
    def is_range(self) -> bool:
        """Numeric measures give an inclusive [min, max] range instead of codes."""
        return len(self.counts) == 2 and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in self.counts
        )

    def meets(self, values: pd.Series) -> pd.Series:
        """Boolean Series: does each answer meet the definition? (NaN where not in base)."""
        if self.is_range:
            num = pd.to_numeric(values, errors="coerce")
            lo, hi = self.counts
            out = ((num >= lo) & (num <= hi)).astype("float")
            return out.where(num.notna())
        vals = values.astype("string")
        in_base = vals.notna() & ~vals.isin(list(self.base_excludes))
        out = vals.isin([str(c) for c in self.counts]).astype("float")
        return out.where(in_base)


def _codes(raw: Any) -> dict[str, str]:
    """Codes as {code: label}; a bare list labels each code with itself."""
    if not raw:
        return {}
    if isinstance(raw, list):
        return {str(c): str(c) for c in raw}
    return {str(k): str(v) for k, v in raw.items()}


class Codebook:
    """Parsed codebook with convenient look-ups."""

    def __init__(self, raw: dict[str, Any]):
        self.raw = raw
        self.surveys: dict[str, dict[str, Any]] = raw["surveys"]
        self.domains: dict[str, str] = raw["domains"]
        self.columns: dict[str, Column] = {}
        for name, spec in raw["respondent_columns"].items():
            self.columns[name] = self._column(name, spec)
        for name, spec in raw["questions"].items():
            self.columns[name] = self._column(name, spec)
        # Free-text columns are kept apart from ``columns``: they are not
        # answers, never enter the analysis, and may be absent from an extract.
        self.free_text: dict[str, Column] = {
            name: self._column(name, {"type": "free_text", "optional": True, **spec})
            for name, spec in (raw.get("free_text") or {}).items()
        }
        self.indicators: dict[str, Measure] = {
            mid: self._measure(mid, spec, "indicator") for mid, spec in raw["indicators"].items()
        }
        self.wellbeing: dict[str, Measure] = self._wellbeing_measures()
        self.overall = raw["overall_wellbeing"]

    # -- construction -------------------------------------------------
    def _surveys(self, value: Any) -> tuple[str, ...]:
        if value == "all":
            return tuple(self.surveys)
        unknown = set(value) - set(self.surveys)
        if unknown:
            raise ValueError(f"codebook: unknown survey(s) {sorted(unknown)}")
        return tuple(s for s in self.surveys if s in value)

    def _column(self, name: str, spec: dict[str, Any]) -> Column:
        return Column(
            name=name,
            type=spec["type"],
            surveys=self._surveys(spec["surveys"]),
            required=bool(spec.get("required", False)),
            codes=_codes(spec.get("codes")),
            codes_by_group={
                g: {str(k): v for k, v in c.items()}
                for g, c in (spec.get("codes_by_group") or {}).items()
            },
            domain=spec.get("domain"),
            text=spec.get("text", ""),
            label=spec.get("label", spec.get("text", name)),
            pattern=spec.get("pattern"),
            range=tuple(spec["range"]) if "range" in spec else None,
            optional=bool(spec.get("optional", False)),
            max_length=int(spec["max_length"]) if "max_length" in spec else None,
        )

    def _measure(self, mid: str, spec: dict[str, Any], kind: str) -> Measure:
        column = spec["column"]
        if column == "overall":
            surveys: tuple[str, ...] = tuple(self.surveys)
            domain = "wellbeing"
        else:
            col = self.columns[column]
            surveys = col.surveys
            domain = spec.get("domain", col.domain or "wellbeing")
        return Measure(
            id=mid,
            column=column,
            counts=tuple(spec["counts"]),
            direction=spec["direction"],
            label=spec["label"],
            statement=spec["statement"],
            domain=domain,
            surveys=surveys,
            base_excludes=tuple(str(v) for v in spec.get("base_excludes", ())),
            kind=kind,
        )

    def _wellbeing_measures(self) -> dict[str, Measure]:
        out = {
            mid: self._measure(mid, spec, "wellbeing")
            for mid, spec in self.raw["wellbeing_measures"].items()
        }
        for column, words in self.raw["wellbeing_scales"].items():
            for band, bspec in self.raw["wellbeing_bands"].items():
                mid = f"{band}_{column.removeprefix('wb_')}"
                lo, hi = bspec["range"]
                spec = {
                    "column": column,
                    "counts": [lo, hi],
                    "direction": bspec["direction"],
                    "label": f"{bspec['word'].capitalize()} {words}",
                    "statement": f"have {bspec['word']} {words} ({lo} to {hi} out of 10)",
                }
                out[mid] = self._measure(mid, spec, "wellbeing")
        return out

    # -- look-ups -----------------------------------------------------
    def group(self, survey: str) -> str:
        return self.surveys[survey]["group"]

    def age_band(self, survey: str) -> tuple[int, int]:
        lo, hi = self.surveys[survey]["age"]
        return int(lo), int(hi)

    @property
    def all_columns(self) -> dict[str, Column]:
        """Every column of the spec: answers, then the optional free-text columns."""
        return {**self.columns, **self.free_text}

    @property
    def questions(self) -> dict[str, Column]:
        return {n: c for n, c in self.columns.items() if c.is_question}

    def measures(self) -> dict[str, Measure]:
        """Indicators and well-being measures together, keyed by id."""
        return {**self.indicators, **self.wellbeing}

    def measure(self, mid: str) -> Measure:
        return self.measures()[mid]



@lru_cache(maxsize=4)
def load_codebook(path: str | Path | None = None) -> Codebook:
    """Read and parse the codebook (cached: it is read by every module)."""
    p = Path(path) if path else CODEBOOK_PATH
    with p.open(encoding="utf-8") as fh:
        return Codebook(yamlfile.safe_load(fh))
