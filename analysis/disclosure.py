"""Statistical disclosure control: what may be published, in one place.

Children in care are few in any one authority, so a table of their answers
can identify a child. Every published figure passes through this module; the
thresholds live here and nowhere else.

Rules
-----
1. **A percentage needs a base of at least ``MIN_BASE`` (10) answers and a
   numerator that is not a small count.** ``suppress_rates`` blanks the
   percentage, its interval, the comparison figures (``others_*``, p-value)
   and the numerator ``k`` of any row whose base ``n`` is under 10 *or*
   whose ``k`` is 1 to ``MIN_COUNT`` - 1 (1-4): a published percentage and
   base give ``k`` away (``k = pct x n``), so "no count of 1-4" must hold
   for numerators as well as for bases. The row gets ``flag`` =
   ``suppressed`` and ``suppressed`` = True either way (``rate_suppressed``
   decides, for every caller). ``k = 0`` is published (0% is not a small
   group of children). The base itself stays visible when it is 5 or more
   (so a reader sees *why* nothing is shown; a base of 10+ is not disclosive
   by itself) but is blanked when it is 1-4 (rule 2). The same test hides
   a change since the last survey when *either* year fails it
   (``indicators.la_change``), leaves an authority out of a national funnel
   plot (``national.funnel_data``) and keeps it from being a focus area
   (``focus``). Pooled "other authorities" and general-population figures
   are not subject to it: they pool many authorities.

   Only the numerator is tested, not its complement ``n - k`` (e.g. 38 of
   40 = 95% is published although 2 children did *not* give the answer).
   This is deliberate: it is standard practice in the DfE's children looked
   after statistics to suppress small numerators, and suppressing both tails
   would hide most high-percentage indicators (trusted adult, feeling safe)
   in smaller authorities. It is a one-line change in ``rate_suppressed``
   if a stricter rule is wanted.
2. **Counts of 1-4 are never published** (``MIN_COUNT`` = 5). Zero is
   published: it is not a small group of identifiable people.
3. **Secondary suppression.** When a table publishes a total, a single
   suppressed cell in a line could be recovered by subtracting the other
   cells from the total. So, in every line (row or column) that has a
   published total, if exactly one entry is suppressed the next smallest
   non-zero entry of that line is suppressed too (ties broken by position);
   this is repeated until no line has exactly one suppressed entry, because
   each new suppression can expose another line. Totals are suppressed only
   when a line has no other cell left to suppress.

   * Count tables with margins (e.g. answers by survey x gender):
     ``protect_count_table``; both rows and columns, including the totals row
     and column, are lines.
   * Breakdowns of an indicator by group (girls/boys, placement, age band):
     the authority's overall n and % are published in ``indicators.csv``, so
     the groups of one indicator form a line against that total (overall
     ``k`` = overall % x overall n). A group suppressed by rule 1 (a base
     under 10, or a ``k`` of 1-4) is a suppressed cell; if it is the only
     one in its line, the next smallest group is suppressed as well (base
     *and* percentage), so neither its n nor its k can be recovered by
     subtraction. In a breakdown every suppressed group loses its base too,
     also when the base is 10 or more, because the groups' bases add up to
     the published overall base. (``suppress_breakdowns``.) A line counts
     as having a published total whenever the overall *base* is published,
     even if the overall percentage is itself suppressed: the cautious
     choice. Answers with the grouping question left blank are not a
     published group; treating the groups as if they summed to the total is
     the cautious assumption.

Human-facing tables show a suppressed cell as ``[c]`` (the Government
Statistical Service symbol for "confidential"; notes for readers say "fewer
than 10 answers, or fewer than 5 children giving that answer",
``SUPPRESSION_RULE_TEXT``) and a figure that does not exist (no
general-population comparator) as ``[x]``: ``display_table``.
Machine-readable CSVs leave suppressed cells empty and carry
``suppressed = true`` (interfaces.md).

Not covered here: the national briefing's own totals. If it publishes exact
national n and k for a survey and year, an authority suppressed in its own
briefing could in principle be recovered as national total minus every other
authority's published figures; the national tables should therefore be
rounded or published as percentages only.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

#: Smallest base (number of answers) for which a percentage is published.
MIN_BASE = 10
#: Smallest non-zero count that is published (counts 1-4 are suppressed).
MIN_COUNT = 5
#: The rule as readers are told it (table notes, chart notes, method text).
SUPPRESSION_RULE_TEXT = (
    f"fewer than {MIN_BASE} answers, or fewer than {MIN_COUNT} children giving that answer"
)
#: GSS symbol for a suppressed (confidential) value in a human-facing table.
SUPPRESSED_SYMBOL = "[c]"
#: GSS symbol for a value that is not available (e.g. no comparator exists).
NOT_AVAILABLE_SYMBOL = "[x]"

#: Columns that describe a percentage or its comparison; blanked with it.
RATE_COLUMNS = (
    "k", "pct", "ci_low", "ci_high", "others_n", "others_k", "others_pct", "p_value",
    "prev_k", "prev_pct", "prev_ci_low", "prev_ci_high",
)


def small_count(values: pd.Series | np.ndarray) -> np.ndarray:
    """True for counts of 1 to MIN_COUNT - 1 (zero and missing are not 'small')."""
    v = np.asarray(pd.to_numeric(pd.Series(values), errors="coerce"), dtype="float64")
    return (v >= 1) & (v < MIN_COUNT)


def small_base(values: pd.Series | np.ndarray) -> np.ndarray:
    """True where a base is too small to publish a percentage (missing counts as small)."""
    v = np.asarray(pd.to_numeric(pd.Series(values), errors="coerce"), dtype="float64")
    return ~(v >= MIN_BASE)


def rate_suppressed(
    n: pd.Series | np.ndarray, k: pd.Series | np.ndarray | None = None
) -> np.ndarray:
    """True where a percentage k / n may not be published (rule 1).

    The base is under ``MIN_BASE`` (missing counts as small) or the numerator
    is a count of 1 to ``MIN_COUNT`` - 1, which the percentage and base would
    reveal. ``k`` None tests the base only (no numerator known). The
    complement ``n - k`` is deliberately not tested (module docstring).
    """
    mask = small_base(n)
    if k is not None:
        mask = mask | small_count(k)
    return mask


def numerator(frame: pd.DataFrame, n_col: str = "n", k_col: str = "k") -> pd.Series | None:
    """The frame's numerator: ``k_col``, else what a reader gets as pct x n, else None.

    Rule 1 needs ``k``; a frame that carries only ``pct`` and ``n`` still
    reveals it, so it is worked out rather than the test skipped.
    """
    if k_col in frame.columns:
        return frame[k_col]
    if "pct" in frame.columns:
        n = pd.to_numeric(frame[n_col], errors="coerce")
        return (pd.to_numeric(frame["pct"], errors="coerce") * n / 100).round()
    return None


def suppress_rates(
    frame: pd.DataFrame,
    n_col: str = "n",
    columns: Sequence[str] = RATE_COLUMNS,
    extra_mask: pd.Series | np.ndarray | None = None,
    k_col: str = "k",
) -> pd.DataFrame:
    """Blank percentages with a base under ``MIN_BASE`` or a numerator of 1-4 (rule 1).

    Returns a copy with ``suppressed`` (bool) set, ``flag`` = 'suppressed' on
    those rows (when the frame has a flag), the rate columns NaN, and ``n``
    itself blanked when it is a count of 1-4 (rule 2). ``extra_mask`` marks
    further rows to suppress (secondary suppression, or a previous year's
    figure). Without a ``k_col`` column the numerator is worked out from
    ``pct`` x ``n``, as a reader could.
    """
    out = frame.copy()
    mask = rate_suppressed(out[n_col], numerator(out, n_col, k_col))
    if extra_mask is not None:
        mask = mask | np.asarray(extra_mask, dtype=bool)
    if "suppressed" in out.columns:
        mask = mask | out["suppressed"].fillna(False).astype(bool).to_numpy()
    for col in columns:
        if col in out.columns:
            out[col] = out[col].astype("float64").mask(mask)
    if "flag" in out.columns:
        out["flag"] = out["flag"].astype(object).mask(mask, "suppressed")
    small = small_count(out[n_col])
    out[n_col] = out[n_col].astype("Float64").mask(small, pd.NA).astype("Int64")
    out["suppressed"] = mask
    return out


def secondary_suppression(
    values: Sequence[float] | np.ndarray,
    suppressed: Sequence[bool] | np.ndarray,
    lines: Sequence[Sequence[int] | np.ndarray],
    is_total: Sequence[bool] | np.ndarray | None = None,
) -> np.ndarray:
    """Extend a suppression mask so no line has exactly one suppressed entry.

    ``values`` are the entries' sizes (counts or bases) in long form;
    ``lines`` gives, for each dimension of the table, every entry's line id
    in that dimension (-1 = the entry belongs to no constrained line in that
    dimension, e.g. a breakdown whose total is not published). In a line with
    exactly one suppressed entry the smallest unsuppressed entry is added,
    preferring non-zero cells, then non-total cells, then position; repeated
    until stable. Returns the new mask.
    """
    vals = np.asarray(values, dtype="float64")
    mask = np.asarray(suppressed, dtype=bool).copy()
    totals = np.zeros(len(vals), bool) if is_total is None else np.asarray(is_total, bool)
    dims = [np.asarray(line, dtype="int64") for line in lines]
    # Candidate order: non-zero before zero, cells before totals, small before large.
    order = np.lexsort((np.arange(len(vals)), np.nan_to_num(vals, nan=np.inf), totals,
                        ~(vals > 0)))
    rank = np.empty(len(vals), dtype="int64")
    rank[order] = np.arange(len(vals))
    for _ in range(len(vals) + 1):
        changed = False
        for ids in dims:
            member = ids >= 0
            if not member.any():
                continue
            n_lines = int(ids[member].max()) + 1
            count = np.bincount(ids[member & mask], minlength=n_lines)
            exposed = np.flatnonzero(count == 1)
            if exposed.size == 0:
                continue
            cand = member & ~mask & np.isin(ids, exposed)
            if not cand.any():
                continue
            idx = np.flatnonzero(cand)
            # The best-ranked candidate of each exposed line.
            best = pd.Series(rank[idx], index=idx).groupby(ids[idx]).idxmin().to_numpy()
            mask[best] = True
            changed = True
        if not changed:
            break
    return mask


def protect_count_table(counts: pd.DataFrame, total_label: str = "Total") -> pd.DataFrame:
    """A count table with margins added and rules 2 and 3 applied.

    ``counts`` holds whole numbers (rows x columns, e.g. surveys x gender).
    Returns the table with a totals row and column, suppressed entries as
    ``<NA>`` (Int64). Every row and every column, the totals row and column
    included, is a line for secondary suppression.
    """
    body = counts.fillna(0).astype("int64")
    table = body.copy()
    table[total_label] = body.sum(axis=1)
    table.loc[total_label] = table.sum(axis=0)
    n_rows, n_cols = table.shape
    vals = table.to_numpy(dtype="float64").ravel()
    row_id = np.repeat(np.arange(n_rows), n_cols)
    col_id = np.tile(np.arange(n_cols), n_rows)
    is_total = (row_id == n_rows - 1) | (col_id == n_cols - 1)
    mask = secondary_suppression(vals, small_count(vals), [row_id, col_id], is_total)
    out = table.astype("Int64")
    out = out.mask(mask.reshape(n_rows, n_cols))
    return out


def suppress_breakdowns(
    frame: pd.DataFrame,
    line_keys: Sequence[str],
    total_published: pd.Series | np.ndarray | None = None,
) -> pd.DataFrame:
    """Apply rules 1-3 to a long breakdown frame (one row per group of a line).

    ``line_keys`` name the columns that identify a line (e.g. authority,
    year, survey, indicator, grouping variable); ``total_published`` says for
    each row whether its line's total is published (default: yes). A group
    is suppressed first by rule 1 (base under 10 or ``k`` of 1-4), then by
    secondary suppression. Every suppressed group loses its base as well as
    its percentage, so that neither n nor k of a group can be recovered from
    the published total.
    """
    primary = rate_suppressed(frame["n"], numerator(frame, "n", "k"))
    if total_published is None:
        constrained = np.ones(len(frame), dtype=bool)
    else:
        constrained = np.asarray(total_published, dtype=bool)
    line = frame.groupby(list(line_keys), sort=False, dropna=False).ngroup().to_numpy()
    line = np.where(constrained, line, -1)
    mask = secondary_suppression(frame["n"].to_numpy(dtype="float64"), primary, [line])
    out = suppress_rates(frame, extra_mask=mask)
    out["n"] = out["n"].mask(mask, pd.NA)
    return out


def display_table(
    frame: pd.DataFrame,
    value_columns: Sequence[str] | None = None,
    decimals: int = 1,
    drop_flag_column: bool = True,
) -> pd.DataFrame:
    """A copy for people to read: ``[c]`` in suppressed cells, ``[x]`` where no figure exists.

    Numbers are formatted as text (whole numbers as integers, others to
    ``decimals`` places) so the symbols can sit in the same column. With
    ``drop_flag_column`` the ``suppressed`` column itself is dropped: the
    symbols carry the information.
    """
    out = frame.copy()
    sup = (
        out["suppressed"].fillna(False).astype(bool).to_numpy()
        if "suppressed" in out.columns else np.zeros(len(out), bool)
    )
    if value_columns is None:
        value_columns = [
            c for c in out.columns
            if c != "suppressed" and pd.api.types.is_numeric_dtype(out[c])
            and not pd.api.types.is_bool_dtype(out[c])
        ]
    for col in value_columns:
        if col not in out.columns:
            continue
        values = out[col]
        text = [_fmt(v, decimals) for v in values]
        missing = values.isna().to_numpy()
        out[col] = np.where(
            missing & sup, SUPPRESSED_SYMBOL, np.where(missing, NOT_AVAILABLE_SYMBOL, text)
        )
    if drop_flag_column and "suppressed" in out.columns:
        out = out.drop(columns="suppressed")
    return out


def display_count_table(table: pd.DataFrame) -> pd.DataFrame:
    """``protect_count_table`` output for people: ``[c]`` for suppressed counts."""
    return table.astype(object).where(table.notna(), SUPPRESSED_SYMBOL).map(
        lambda v: v if isinstance(v, str) else str(int(v))
    )


def _fmt(value: object, decimals: int) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return ""
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        if float(value).is_integer() and decimals == 0:
            return str(int(value))
        return f"{float(value):.{decimals}f}"
    return str(value)
