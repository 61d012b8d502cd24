"""Validate a survey extract against the spec, all at once, and type it.

Why this module exists: nothing downstream may run on a partly valid extract
(spec, *Errors*), and the person who fixes the file is usually not the person
who runs the build. So every rule is checked in one pass and every failure is
reported together, each with its rule, column, row numbers and values::

    data/x.csv: the extract breaks 2 rules (nothing was written).
      - column 'gender': answer not one of girl, boy, other, not_said — 3 rows: row 4 'Girl', ...
      - column 'trust_carers': answered but not asked in survey ylbc (skip logic) — 1 row: ...

The rules come from the codebook (``data/reference/codebook.yaml``), never from
a list here: :func:`extract_schema` turns each codebook column into a pandera
``Column`` with vectorised checks, and pandera's lazy validation collects the
failures. Checks that depend on another column of the same row (skip logic,
the age band and the placement codes depend on the row's survey; one
``la_name`` per ``la_code``) are still *column* checks: they look the survey or
code of each row up in the extract being validated (:class:`RowContext`). So
pandera reports each failing cell once, with its row, and never has to melt
whole rows into failure cases (which took seconds on a badly broken file).

Row numbers are 1-based **data** rows: the first row after the header is row 1.

The typed frame returned by :func:`validate_frame` / :func:`load_valid_extract`
has the spec's columns in codebook order (extra columns dropped), a
``RangeIndex`` (row *n* is at position ``n - 1``) and these dtypes
(:func:`typed_schema` states them as a pandera schema):

* ``survey_year``, ``age`` and every scale (0-10 and faces 1-5): ``Int64``
  (nullable integers; a blank is ``<NA>``);
* everything else (ids, names, answer codes, including ``worker_changes_12m``'s
  ``"0"`` ... ``"3_plus"``): ``str``, pandas' default text dtype (a blank is
  NaN). Codes stay plain strings, not categoricals, so they compare directly
  with the codebook's codes.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from analysis.core.errors import ExtractError
from analysis.data.codebook import Codebook, Column, load_codebook
from analysis.data.extract import TEXT_DTYPE, ExtractWarning, map_unique, read_extract, strip_text

if TYPE_CHECKING:
    import pandera.pandas as pa


def _pandera() -> Any:
    """pandera, imported when an extract is first validated, not with this module.

    It costs about a third of a second; a build whose national stage is up to
    date (one parameter file edited, or nothing changed) validates nothing.
    """
    import pandera.pandas

    return pandera.pandas

__all__ = [
    "ExtractWarning",
    "Problem",
    "RowContext",
    "extract_schema",
    "format_problems",
    "load_valid_extract",
    "typed_schema",
    "validate_frame",
]

_INTEGER_RE = re.compile(r"-?[0-9]+")
#: Words for the codebook's survey groups in messages ("... for care leavers").
GROUP_WORDS = {"in_care": "children in care", "leavers": "care leavers"}


@dataclass
class Problem:
    """One rule broken in one column (per survey, group or authority where that matters).

    ``rows`` are 1-based data row numbers (all of them), ``values`` the
    offending cell texts in the same order (``""`` for a blank), ``count``
    how many rows. A missing column has no rows.
    """

    rule: str
    column: str
    rows: list[int] = field(default_factory=list)
    values: list[str] = field(default_factory=list)
    count: int = 0


# ----------------------------------------------------------------------------- rules
@dataclass(frozen=True)
class _Rule:
    """How one pandera check's failures become Problems.

    ``split`` names what changes the message within a column (``survey`` for
    skip logic and age bands, ``group`` for placement, ``la_code`` for the
    one-name rule), so one Problem is made per value; ``text`` may then use
    ``{survey}``, ``{lo}``/``{hi}``, ``{what}``, ``{la_code}``/``{names}``.
    """

    key: str
    text: str
    split: str | None = None


#: pandera check error text -> rule. The failure cases' ``check`` column holds
#: the error text, so each text belongs to exactly one rule (checked by _check).
_RULES: dict[str, _Rule] = {
    "not_nullable": _Rule("required", "blank, but this column must be filled in on every row"),
    "column_in_dataframe": _Rule(
        "missing", "missing from the file (every spec column must be present, even if blank)"
    ),
}
_RULE_ORDER = ["missing", "required", "pattern", "integer", "range", "codes", "placement",
               "age_band", "skip", "length", "unique", "one_name"]


class RowContext:
    """The survey and la_code of every row of the extract being validated.

    Cross-column checks are column checks that read the row's survey (or
    la_code) from here by position: the validated frame has a ``RangeIndex``,
    so a cell's index is its position. ``survey_pos`` is the survey's position
    in the codebook's survey list, -1 for a blank or unknown survey (those
    rows are only checked against rules that do not depend on the survey;
    the bad survey value is itself reported).
    """

    def __init__(self, frame: pd.DataFrame, cb: Codebook):
        n = len(frame)
        self.surveys = list(cb.surveys)
        survey = frame["survey"] if "survey" in frame else pd.Series(np.nan, index=frame.index)
        self.survey_pos = pd.Index(self.surveys).get_indexer(survey).astype(np.int64)
        self.la_code = (
            frame["la_code"].to_numpy(dtype=object)
            if "la_code" in frame
            else np.full(n, np.nan, dtype=object)
        )

    def survey_of(self, s: pd.Series) -> np.ndarray:
        """Position of each cell's survey in the codebook list (-1: unknown)."""
        return self.survey_pos[s.index.to_numpy()]

    def by_survey(self, s: pd.Series, table: list[object], unknown: object) -> np.ndarray:
        """Per cell, ``table[survey position]`` (``unknown`` where the survey is unknown)."""
        lookup = np.array([*table, unknown], dtype=object)
        return lookup[self.survey_of(s)]  # position -1 picks the trailing ``unknown``


def _check(fn: Callable[[pd.Series], pd.Series], error: str, rule: _Rule) -> pa.Check:
    """A vectorised pandera check whose failures map back to ``rule``.

    Checks see the whole column (``ignore_na=False``: pandera's own dropna
    costs more than the checks) and pass blank cells themselves; blanks are
    the business of ``nullable`` (the required-column rule).
    """
    pa = _pandera()
    known = _RULES.setdefault(error, rule)
    if known != rule:
        raise RuntimeError(f"two validation rules share the error text {error!r}")
    return pa.Check(fn, element_wise=False, ignore_na=False, error=error, name=rule.key)


def _integer_text(s: pd.Series) -> pd.Series:
    """Whole numbers as written: digits, optional minus; ``7.0`` is not one. Blank passes."""
    return map_unique(s, lambda v: _INTEGER_RE.fullmatch(v) is not None, bool, na=True)


def _as_number(s: pd.Series) -> pd.Series:
    """The value of whole-number cells (float; NaN for blanks and anything else)."""
    return map_unique(
        s, lambda v: float(v) if _INTEGER_RE.fullmatch(v) else np.nan, float, na=np.nan
    )


def _integer_checks(lo: int, hi: int, scale: str | None) -> list[pa.Check]:
    """Whole number, then range (a non-number is reported once, as not whole)."""
    def _rule_whole(s: pd.Series) -> pd.Series:
        return _integer_text(s)

    def _rule_in_range(s: pd.Series) -> pd.Series:
        num = _as_number(s)
        return (num.isna() | num.between(lo, hi)).astype(bool)

    whole = "not a whole number" + (f" ({scale})" if scale else "")
    outside = f"outside the {scale}" if scale else f"outside {lo} to {hi}"
    return [
        _check(_rule_whole, whole, _Rule("integer", whole)),
        _check(_rule_in_range, outside, _Rule("range", outside)),
    ]


def _column_checks(col: Column, cb: Codebook, ctx: RowContext) -> list[pa.Check]:
    """The checks of one codebook column, from its type and attributes."""
    checks: list[pa.Check] = []
    if col.pattern:
        regex = re.compile(col.pattern)
        text = f"does not match the pattern {col.pattern}"

        def _rule_matches(s: pd.Series) -> pd.Series:
            return map_unique(s, lambda v: regex.search(v) is not None, bool, na=True)

        checks.append(_check(_rule_matches, text, _Rule("pattern", text)))
    if col.type == "integer":
        if col.range:
            checks += _integer_checks(*col.range, scale=None)
        else:
            text = "not a whole number"

            def _rule_whole(s: pd.Series) -> pd.Series:
                return _integer_text(s)

            checks.append(_check(_rule_whole, text, _Rule("integer", text)))
    elif col.scale:
        lo, hi = col.scale
        kind = "faces scale" if col.type == "faces_1_5" else "scale"
        checks += _integer_checks(lo, hi, scale=f"{kind} {lo} to {hi}")
    if col.codes_by_group:
        checks.append(_placement_check(col, cb, ctx))
    elif col.codes:
        codes = list(col.codes)
        text = f"answer not one of {', '.join(codes)}"

        def _rule_in_codes(s: pd.Series) -> pd.Series:
            return s.isin(codes) | s.isna()

        checks.append(_check(_rule_in_codes, text, _Rule("codes", text)))
    if col.max_length:
        checks.append(_length_check(col))
    if col.name == "age":
        checks.append(_age_band_check(cb, ctx))
    if set(col.surveys) != set(cb.surveys):
        checks.append(_skip_check(col, cb, ctx))
    if col.name == "response_id":
        text = "the same response_id on more than one row (must be unique)"

        def _rule_unique(s: pd.Series) -> pd.Series:
            return ~s.duplicated(keep=False) | s.isna()

        checks.append(_check(_rule_unique, text, _Rule("unique", text)))
    if col.name == "la_name":
        checks.append(_one_name_check(ctx))
    return checks


def _skip_check(col: Column, cb: Codebook, ctx: RowContext) -> pa.Check:
    """Skip logic: a value is an error in a row whose survey does not ask the column."""
    asked = [s in col.surveys for s in cb.surveys]

    def _rule_asked(s: pd.Series) -> pd.Series:
        ok = ctx.by_survey(s, asked, unknown=True).astype(bool)
        return pd.Series(ok, index=s.index) | s.isna()

    return _check(_rule_asked, "answered but not asked by the row's survey (skip logic)",
                  _Rule("skip", "answered but not asked in survey {survey} (skip logic)",
                        split="survey"))


def _length_check(col: Column) -> pa.Check:
    """Free text up to ``max_length`` characters: a longer comment is an error, never cut."""
    limit = int(col.max_length or 0)
    text = f"longer than {limit:,} characters (nothing is cut: shorten it in the export)"

    def _rule_length(s: pd.Series) -> pd.Series:
        return (s.str.len() <= limit) | s.isna()

    return _check(_rule_length, text, _Rule("length", text))


def _age_band_check(cb: Codebook, ctx: RowContext) -> pa.Check:
    """Age within the band of the row's survey (checked only for a known survey)."""
    lows = [cb.age_band(s)[0] for s in cb.surveys]
    highs = [cb.age_band(s)[1] for s in cb.surveys]

    def _rule_in_band(s: pd.Series) -> pd.Series:
        lo = ctx.by_survey(s, lows, unknown=np.nan).astype(float)
        hi = ctx.by_survey(s, highs, unknown=np.nan).astype(float)
        num = _as_number(s).to_numpy()
        ok = np.isnan(num) | np.isnan(lo) | ((num >= lo) & (num <= hi))
        return pd.Series(ok, index=s.index)

    return _check(_rule_in_band, "age outside the age band of the row's survey",
                  _Rule("age_band", "outside {lo} to {hi}, the age band of survey {survey}",
                        split="survey"))


def _placement_check(col: Column, cb: Codebook, ctx: RowContext) -> pa.Check:
    """Placement codes depend on the row's group; with an unknown survey any code passes."""
    allowed = [list(col.allowed_codes(cb.group(s))) for s in cb.surveys]
    union = list(col.allowed_codes())

    def _rule_placement(s: pd.Series) -> pd.Series:
        pos = ctx.survey_of(s)
        ok = s.isna().to_numpy().copy()
        for i, codes in enumerate([*allowed, union]):
            rows = pos == (i if i < len(allowed) else -1)
            if rows.any():
                ok[rows] |= s[rows].isin(codes).to_numpy()
        return pd.Series(ok, index=s.index)

    return _check(_rule_placement, "placement code not valid for the row's survey group",
                  _Rule("placement", "{what}", split="group"))


def _one_name_check(ctx: RowContext) -> pa.Check:
    """One la_name per la_code: rows whose name differs from the code's usual name fail."""

    def _rule_one_name(s: pd.Series) -> pd.Series:
        frame = pd.DataFrame({"code": ctx.la_code[s.index.to_numpy()], "name": s.to_numpy()})
        names = frame.groupby("code", sort=False)["name"].nunique()
        multi = names.index[names > 1]
        if len(multi) == 0:
            return pd.Series(True, index=s.index)
        usual = (frame[frame["code"].isin(multi)].groupby("code")["name"]
                 .agg(lambda x: x.value_counts().index[0]))
        ok = (~frame["code"].isin(multi) | frame["name"].isna()
              | (frame["code"].map(usual) == frame["name"]))
        return pd.Series(ok.to_numpy(dtype=bool), index=s.index)

    return _check(_rule_one_name, "more than one la_name for a la_code",
                  _Rule("one_name", "la_code {la_code} has more than one la_name ({names})",
                        split="la_code"))


def extract_schema(frame: pd.DataFrame, cb: Codebook | None = None) -> pa.DataFrameSchema:
    """The pandera schema of the extract *as text*, built from the codebook for ``frame``.

    ``frame`` is the text frame about to be validated (stripped ``str``
    columns, ``RangeIndex``): the cross-column checks read each row's survey
    and la_code from it (:class:`RowContext`). Every spec column must be
    present; only ``required`` columns are non-nullable.
    """
    pa = _pandera()
    cb = cb or load_codebook()
    ctx = RowContext(frame, cb)
    columns = {
        name: pa.Column(None, nullable=not col.required, required=not col.optional,
                        checks=_column_checks(col, cb, ctx))
        for name, col in cb.all_columns.items()
    }
    return pa.DataFrameSchema(columns, strict=False, name="survey extract (text)")


def integer_columns(cb: Codebook | None = None) -> list[str]:
    """Columns typed as nullable integers: the integer columns and every scale."""
    cb = cb or load_codebook()
    return [n for n, c in cb.columns.items() if c.type == "integer" or c.scale]


@lru_cache(maxsize=4)
def typed_schema(codebook_path: str | None = None, free_text: bool = False
                 ) -> pa.DataFrameSchema:
    """The pandera schema of the typed frame (dtypes and order): the contract for consumers.

    With ``free_text`` the free-text columns follow the answers (text; blank
    where the extract has no such column).
    """
    pa = _pandera()
    cb = load_codebook(codebook_path)
    ints = set(integer_columns(cb))
    cols = cb.all_columns if free_text else cb.columns
    return pa.DataFrameSchema(
        {
            name: pa.Column("Int64" if name in ints else TEXT_DTYPE,
                            nullable=not col.required, required=True)
            for name, col in cols.items()
        },
        strict=True,
        ordered=True,
        name="survey extract (typed)",
    )


# ----------------------------------------------------------------------------- validating
def validate_frame(df: pd.DataFrame, source: str = "<data>", free_text: bool = False
                   ) -> tuple[pd.DataFrame, list[str]]:
    """Check every rule of the spec on ``df``; return the typed frame and warnings.

    The free-text columns (``comment_better``, ``comment_other``) are always
    validated but returned only with ``free_text=True``: the analysis never
    sees children's words, so no notebook can print them by accident; only
    the comment review (:mod:`analysis.methods.comments`) asks for them.

    ``df`` is normally the text frame of :func:`analysis.data.extract.read_extract`;
    a frame built in memory works too (values are stripped and turned into
    text first; there a float ``7.0`` counts as ``7``, since a float dtype
    says nothing about how the value was written). Extra columns are dropped
    with a warning. Raises :class:`ExtractError` listing every problem (its
    message; the :class:`Problem` list is on the error's ``problems``
    attribute), so nothing is ever returned from a partly valid frame.
    """
    cb = load_codebook()
    headers: dict[str, str] = dict(df.attrs.get("export_headers", {}))
    if df.columns.has_duplicates:
        dupes = sorted({str(c) for c in df.columns[df.columns.duplicated()]})
        raise ExtractError(f"{source}: column(s) {', '.join(dupes)} appear more than once.")
    if df.empty:
        raise ExtractError(f"{source}: the extract has no rows of answers.")
    warns: list[str] = []
    extra = [str(c) for c in df.columns if c not in cb.all_columns]
    if extra:
        warns.append(
            f"{source}: ignored {len(extra)} column(s) that are not in the spec: "
            + ", ".join(f"'{c}'" for c in extra)
        )
    text = strip_text(df[[c for c in df.columns if c in cb.all_columns]].reset_index(drop=True))
    from pandera.errors import SchemaErrors

    try:
        extract_schema(text, cb).validate(text, lazy=True, inplace=True)
    except SchemaErrors as exc:
        problems = problems_from_failures(exc.failure_cases, text, cb, extra_columns=extra)
        label = source
        if df.attrs.get("mapping"):
            label = f"{source} (read through column mapping {df.attrs['mapping']})"
        error = ExtractError(format_problems(label, problems, headers=headers))
        error.problems = problems  # type: ignore[attr-defined]  # for callers and tests
        raise error from None
    typed = _typed(text, cb, free_text)
    # the promised dtypes; a failure here is a bug, not the data
    typed_schema(free_text=free_text).validate(typed)
    return typed, warns


def _typed(text: pd.DataFrame, cb: Codebook, free_text: bool = False) -> pd.DataFrame:
    """Spec columns in codebook order, integers and scales as Int64, the rest as text."""
    out = {}
    ints = set(integer_columns(cb))
    for name in (cb.all_columns if free_text else cb.columns):
        if name not in text:  # an optional free-text column the extract does not have
            out[name] = pd.Series(np.nan, index=text.index, dtype=TEXT_DTYPE)
            continue
        s = text[name]
        out[name] = _as_number(s).astype("Int64") if name in ints else s.astype(TEXT_DTYPE)
    return pd.DataFrame(out, index=pd.RangeIndex(len(text)))


def problems_from_failures(
    failures: pd.DataFrame,
    frame: pd.DataFrame,
    cb: Codebook,
    extra_columns: Iterable[str] = (),
) -> list[Problem]:
    """Turn pandera's ``SchemaErrors.failure_cases`` into grouped, ordered Problems.

    ``frame`` is the text frame validated (for each row's survey and la_code).
    Order: missing columns first, then by column (codebook order), rule, and
    first row.
    """
    keyed: list[tuple[tuple[int, int, int, int], Problem]] = []
    extra = list(extra_columns)
    order = {name: i for i, name in enumerate(cb.all_columns)}
    rank = {key: i for i, key in enumerate(_RULE_ORDER)}
    missing = failures["check"] == "column_in_dataframe"
    for name in failures.loc[missing, "failure_case"]:
        keyed.append(((0, order.get(str(name), 0), 0, 0),
                      Problem(_missing_text(str(name), extra), str(name))))
    fc = failures[~missing]
    broken = fc["index"].isna()
    if broken.any():  # a check raised instead of returning: a bug here, not in the data
        first = fc[broken].iloc[0]
        raise RuntimeError(
            f"validation check {first['check']!r} on column {first['column']!r} failed to "
            f"run: {first['failure_case']}"
        )
    if not fc.empty:
        pos = fc["index"].to_numpy(dtype=np.int64)
        survey = (frame["survey"].to_numpy(dtype=object)[pos] if "survey" in frame
                  else np.full(len(pos), np.nan, dtype=object))
        la_code = (frame["la_code"].to_numpy(dtype=object)[pos] if "la_code" in frame
                   else np.full(len(pos), np.nan, dtype=object))
        groups = {s: cb.group(s) for s in cb.surveys}
        fc = fc.assign(
            _row=pos + 1,
            _survey=pd.Series(survey, index=fc.index).fillna("?"),
            _la_code=pd.Series(la_code, index=fc.index).fillna("?"),
        )
        fc["_group"] = fc["_survey"].map(groups).fillna("?")
        for (column, check), cases in fc.groupby(["column", "check"], sort=False):
            rule = _RULES.get(str(check), _Rule(str(check), str(check)))
            for problem in _split_problems(str(column), rule, cases, cb, frame):
                sort_key = (1, order.get(problem.column, len(order)),
                            rank.get(rule.key, len(rank)), problem.rows[0])
                keyed.append((sort_key, problem))
    keyed.sort(key=lambda kp: kp[0])
    return [p for _, p in keyed]


def _missing_text(name: str, extra: list[str]) -> str:
    """'missing' rule text, pointing at an extra column that looks like the missing one."""
    base = _RULES["column_in_dataframe"].text

    def norm(x: str) -> str:
        return "".join(ch for ch in x.lower() if ch.isalnum())

    similar = [c for c in extra if norm(c) == norm(name)]
    if similar:
        return (f"{base}; the file has a column '{similar[0]}': rename it or use a "
                "column-mapping file (docs/column-mapping.md)")
    return base


def _split_problems(
    column: str, rule: _Rule, cases: pd.DataFrame, cb: Codebook, frame: pd.DataFrame
) -> list[Problem]:
    """One Problem per value of the rule's split key (survey, group, la_code), else one."""
    cases = cases.sort_values("_row", kind="stable")
    if column in cb.free_text:  # never echo a child's words into a message or a log
        cases = cases.assign(failure_case=cases["failure_case"].map(
            lambda v: f"<{len(str(v)):,} characters>" if isinstance(v, str) else v))
    if rule.split is None:
        return [_problem(rule.text, column, cases)]
    return [
        _problem(_rule_text(rule, column, str(value), frame, cb), column, part)
        for value, part in cases.groupby(f"_{rule.split}", sort=False)
    ]


def _rule_text(rule: _Rule, column: str, value: str, frame: pd.DataFrame, cb: Codebook) -> str:
    """Fill in a split rule's text for one survey, group or la_code."""
    if rule.key == "age_band":
        lo, hi = cb.age_band(value)
        return rule.text.format(lo=lo, hi=hi, survey=value)
    if rule.key == "placement":
        group = None if value == "?" else value
        codes = ", ".join(cb.columns[column].allowed_codes(group))
        if group is None:
            return rule.text.format(what=f"answer not one of {codes}")
        words = GROUP_WORDS.get(group, group)
        return rule.text.format(what=f"not a {column} code for {words} (one of {codes})")
    if rule.key == "one_name":
        names = frame.loc[frame["la_code"] == value, "la_name"].value_counts()
        usual = f"most rows say '{names.index[0]}'" if len(names) else "one name per la_code"
        return rule.text.format(la_code=value, names=usual)
    return rule.text.format(survey=value)


def _problem(rule: str, column: str, cases: pd.DataFrame) -> Problem:
    rows = cases["_row"].astype(int).tolist()
    values = cases["failure_case"].astype(object).where(cases["failure_case"].notna(), "")
    return Problem(rule=rule, column=column, rows=rows,
                   values=[str(v) for v in values], count=len(rows))


# ----------------------------------------------------------------------------- messages
def format_problems(
    source: str,
    problems: list[Problem],
    max_rows: int = 5,
    headers: dict[str, str] | None = None,
) -> str:
    """The message for a rejected extract: file, then one line per problem.

    Each line names the column (and the export header it came from, when a
    mapping renamed it), the rule, how many rows, and the first ``max_rows``
    row numbers with their values; when more rows fail, the commonest values
    are summarised so that a systematic problem (every ``Yes``) is obvious.
    """
    headers = headers or {}
    n = len(problems)
    lines = [f"{source}: the extract breaks {n} rule{'s' if n != 1 else ''} "
             "(nothing was written)."]
    for p in problems:
        where = f"column '{p.column}'"
        if p.column in headers:
            where += f" (header '{headers[p.column]}')"
        line = f"  - {where}: {p.rule}"
        if p.count:
            shown = ", ".join(
                f"row {r} {_show(v)}" for r, v in zip(p.rows[:max_rows], p.values[:max_rows],
                                                       strict=False)
            )
            noun = "row" if p.count == 1 else "rows"
            if p.count <= max_rows:
                line += f" — {p.count:,} {noun}: {shown}"
            else:
                line += f" — {p.count:,} {noun}, e.g. {shown}"
                common = pd.Series(p.values).value_counts()
                if len(common) > 1:
                    top = ", ".join(f"{_show(v)} ×{c:,}" for v, c in common.head(5).items())
                    more = f" and {len(common) - 5:,} more" if len(common) > 5 else ""
                    line += f" (values: {top}{more})"
        lines.append(line)
    return "\n".join(lines)


def _show(value: str, width: int = 40) -> str:
    if value == "":
        return "(blank)"
    if len(value) > width:
        value = value[: width - 3] + "..."
    return f"'{value}'"


# ----------------------------------------------------------------------------- entry points
def load_valid_extract(path: str | Path, mapping: str | Path | None = None,
                       free_text: bool = False) -> pd.DataFrame:
    """Read, validate and type an extract: the one call the rest of the project uses.

    ``free_text=True`` keeps the comment columns (only the comment review does).

    Warnings (extra columns, empty trailing rows) are issued as
    :class:`ExtractWarning`; any broken rule raises :class:`ExtractError`.
    """
    df = read_extract(path, mapping)
    typed, warns = validate_frame(df, source=str(path), free_text=free_text)
    for message in warns:
        warnings.warn(message, ExtractWarning, stacklevel=2)
    return typed


def summary(path: str | Path, df: pd.DataFrame) -> str:
    """One line for a valid extract: answers, authorities and years."""
    years = sorted(int(y) for y in df["survey_year"].dropna().unique())
    if years and years == list(range(years[0], years[-1] + 1)) and len(years) > 2:
        span = f"years {years[0]}-{years[-1]}"
    else:
        span = ("year " if len(years) == 1 else "years ") + ", ".join(map(str, years))
    return (f"OK: {path}: {len(df):,} answers from {df['la_code'].nunique():,} "
            f"authorities, {span}")
