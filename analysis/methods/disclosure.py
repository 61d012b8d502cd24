"""Statistical disclosure control: what may be published, in one place.

Children in care are few in any one authority, so a table of their answers
can identify a child. Every published figure passes through this module; the
thresholds live here and nowhere else.

The rule (interfaces.md): anyone may download every published file at once.
No count of 1 to 4 children, giving an answer or not giving it, and no
withheld figure may be recoverable exactly or to within 2 by combining them.
``tests/attacker.py`` tries every known way of combining them on every build.

Rules
-----
1. **A percentage needs a base of at least ``MIN_BASE`` (10) answers, and
   neither the children giving the answer (``k``) nor those not giving it
   (``n - k``) may be 1 to ``MIN_COUNT`` - 1 (1-4)** (``rate_suppressed``):
   a published percentage and base give both away (93.3% of 30 says 2
   children did not give the answer). 0% and 100% are published (no small
   group is singled out). The row's percentage, interval and numerator are
   blanked, ``flag`` = ``suppressed``, ``suppressed`` = True
   (``suppress_rates``). The base stays visible when it is 5 or more (so a
   reader sees *why*), blanked when 1-4 (rule 2).
2. **Counts of 1-4 are never published** (``MIN_COUNT`` = 5); zero is.
3. **What the shown figures imply is protected too (secondary suppression).**
   * Count tables with margins: no line (row or column, totals included)
     has exactly one suppressed entry (``protect_count_table``).
   * Breakdowns of a measure by group (``suppress_breakdowns``): the groups
     add up to the authority's published figure, so the withheld groups'
     combined base, count and complement (total minus the shown groups) must
     not be 0-4 either (``breakdown_remainders``); a lone suppressed group
     takes the next smallest with it; a withheld group loses its base too.
   * Bands of one 0-10 scale (low, high, very high; the middle band is never
     a row but is the base minus the others): the middle band may not be
     1-4, and withheld bands plus the middle band must come to 5 or more
     (``band_suppression``). A change row shows an earlier year's bands of a
     scale all or none (``indicators._whole_band_scales``).
   * A change since the last survey is withheld when either year is.
4. **Pooled figures cannot be inverted** (``comparator_precision``,
   ``pooled_comparator``, ``pooled_count``). The comparator every authority
   publishes (``others_pct``) is *one national figure* per survey, measure
   and year (and per group in breakdowns), the same for all: the exact
   "all other authorities" figure, different for each authority, pins the
   national count by intersecting intervals, and the national count minus
   the shown counts gives the withheld ones. The national figure is rounded
   to the finest of ``COMPARATOR_STEPS`` (1, 2, 5, 10 percentage points)
   for which, whatever rounding cell the true total could fall in, every
   entry a reader does not hold stays at least ``MIN_COUNT`` wide; else it
   is withheld, as it is on fewer than ``MIN_BASE`` answers. The test runs
   over every possible cell, so which step is used says nothing about the
   withheld counts. Counts (national answers) are rounded the same way
   (``COUNT_STEPS``: nearest 10 or coarser). The same function decides any
   other comparator column (e.g. a case-mix ``expected_pct``): pass it the
   pool's counts, bases and which entries readers do not hold.
5. **Funnel plots** draw only figures the authorities publish; the others
   are counted, by side of the national line where that is safe
   (``national.hidden_sides``).

Human-facing tables show a suppressed cell as ``[c]`` (the Government
Statistical Service symbol for "confidential"; notes for readers say "fewer
than 10 answers, or fewer than 5 children giving that answer",
``SUPPRESSION_RULE_TEXT``) and a figure that does not exist (no
general-population comparator) as ``[x]``: ``display_table``.
Machine-readable CSVs leave suppressed cells empty and carry
``suppressed = true`` (interfaces.md).

The build keeps the unsuppressed tables outside ``REPORTS_DIR``
(``analysis.core.layout.build_dir``), so the reports folder can be served as it is.
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
    f"fewer than {MIN_BASE} answers, or fewer than {MIN_COUNT} children giving that answer "
    "or not giving it"
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
    if isinstance(values, np.ndarray) and values.dtype.kind in "fiu":
        v = values.astype("float64")  # already numbers: to_numeric would change nothing
    else:
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

    The base is under ``MIN_BASE`` (missing counts as small), or the
    numerator ``k`` *or its complement* ``n - k`` is a count of 1 to
    ``MIN_COUNT`` - 1: a published percentage and base give both away
    (93.3% of 30 says 2 children did not give the answer). ``k`` None tests
    the base only (no numerator known).
    """
    mask = small_base(n)
    if k is not None:
        n_arr = np.asarray(pd.to_numeric(pd.Series(n), errors="coerce"), dtype="float64")
        k_arr = np.asarray(pd.to_numeric(pd.Series(k), errors="coerce"), dtype="float64")
        mask = mask | small_count(k_arr) | small_count(n_arr - k_arr)
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


def protect_count_table(counts: pd.DataFrame, total_label: str = "Total",
                        withheld: pd.DataFrame | None = None) -> pd.DataFrame:
    """A count table with margins added and rules 2 and 3 applied.

    ``counts`` holds whole numbers (rows x columns, e.g. surveys x gender).
    Returns the table with a totals row and column, suppressed entries as
    ``<NA>`` (Int64). Every row and every column, the totals row and column
    included, is a line for secondary suppression. ``withheld`` marks cells
    (by row and column label) that must be hidden whatever their count,
    because another published table hides them.
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
    primary = small_count(vals)
    if withheld is not None:  # cells another published table already hides
        extra = withheld.reindex(index=table.index, columns=table.columns, fill_value=False)
        primary = primary | extra.fillna(False).to_numpy(bool).ravel()
    mask = secondary_suppression(vals, primary, [row_id, col_id], is_total)
    out = table.astype("Int64")
    out = out.mask(mask.reshape(n_rows, n_cols))
    return out


def suppress_breakdowns(
    frame: pd.DataFrame,
    line_keys: Sequence[str],
    total_published: pd.Series | np.ndarray | None = None,
    total_n: pd.Series | np.ndarray | None = None,
    total_k: pd.Series | np.ndarray | None = None,
) -> pd.DataFrame:
    """Apply rules 1-3 to a long breakdown frame (one row per group of a line).

    ``line_keys`` name the columns that identify a line (e.g. authority,
    year, survey, indicator, grouping variable); ``total_published`` says for
    each row whether its line's total is published (default: yes). A group
    is suppressed first by rule 1 (base under 10, or ``k`` or ``n - k`` of
    1-4), then by secondary suppression. Every suppressed group loses its
    base as well as its percentage. With ``total_n`` (the line's published
    base) and ``total_k`` (its published count, NaN when withheld) the
    withheld groups' combined base, count and complement, which a reader gets
    as total minus shown groups, must not be 0-4 either (rule 3,
    ``breakdown_remainders``): more groups are withheld until it holds.
    """
    primary = rate_suppressed(frame["n"], numerator(frame, "n", "k"))
    if "suppressed" in frame.columns:  # already withheld upstream (e.g. the national stage)
        primary = primary | frame["suppressed"].fillna(False).astype(bool).to_numpy()
    if total_published is None:
        constrained = np.ones(len(frame), dtype=bool)
    else:
        constrained = np.asarray(total_published, dtype=bool)
    line = frame.groupby(list(line_keys), sort=False, dropna=False).ngroup().to_numpy()
    line = np.where(constrained, line, -1)
    mask = secondary_suppression(frame["n"].to_numpy(dtype="float64"), primary, [line])
    if total_n is not None:
        k = numerator(frame, "n", "k")
        mask = breakdown_remainders(
            frame["n"].to_numpy(dtype="float64"),
            np.asarray(pd.to_numeric(k, errors="coerce"), dtype="float64"),
            mask, line, np.asarray(total_n, dtype="float64"),
            np.full(len(frame), np.nan) if total_k is None
            else np.asarray(total_k, dtype="float64"))
    out = suppress_rates(frame, extra_mask=mask)
    out["n"] = out["n"].mask(mask, pd.NA)
    return out


def breakdown_remainders(
    n: np.ndarray, k: np.ndarray, withheld: np.ndarray, line: np.ndarray,
    total_n: np.ndarray, total_k: np.ndarray,
) -> np.ndarray:
    """Withhold more groups until no line's withheld remainder is a count of 0-4.

    A reader gets the withheld groups' combined base as the line's published
    base minus the shown groups' bases, and (when the line's percentage is
    published) their combined count and complement the same way. Each
    withheld group lies between 0 and that remainder, so a remainder of 0-4
    pins every withheld group to within 2 (0: they all gave, or all did not
    give, the answer). A remainder of 0 that the total itself states (the
    line's own 0% or 100%) tells nothing new and is allowed. The shown group
    with the smallest base is withheld next, line by line, until each line
    holds (or every group is withheld, when the remainder is the published
    total itself). ``line`` -1 marks rows in no constrained line.
    """
    mask = np.asarray(withheld, dtype=bool).copy()
    order = np.argsort(line, kind="stable")
    ids = line[order]
    bounds = np.flatnonzero(np.diff(ids)) + 1
    for idx in np.split(order, bounds):
        if idx.size == 0 or line[idx[0]] < 0:
            continue
        t_n = total_n[idx[0]]
        t_k = total_k[idx[0]]
        if not np.isfinite(t_n):
            continue
        while True:
            hid = mask[idx]
            if not hid.any() or hid.all():
                break
            shown = idx[~hid]
            rem_n = t_n - n[shown].sum()
            bad = rem_n < MIN_COUNT
            if np.isfinite(t_k):
                rem_k = t_k - k[shown].sum()
                rem_c = (t_n - t_k) - (n[shown] - k[shown]).sum()
                bad |= (rem_k < MIN_COUNT and t_k > 0) or (rem_c < MIN_COUNT and t_n - t_k > 0)
            if not bad:
                break
            mask[shown[np.argmin(n[shown])]] = True
    return mask


# ---------------------------------------------------------------- bands of one scale
def band_lines(indicator: pd.Series, bands: dict[str, list[str]]) -> np.ndarray:
    """Each row's band scale (index into ``bands``) or -1 when it is no band measure."""
    lookup = {mid: i for i, ids in enumerate(bands.values()) for mid in ids}
    return np.array([lookup.get(str(v), -1) for v in indicator], dtype="int64")


def band_suppression(
    frame: pd.DataFrame, withheld: np.ndarray, bands: dict[str, list[str]],
    keys: Sequence[str] = ("la_code", "survey_year", "survey"),
) -> np.ndarray:
    """Withhold band rows so the unpublished middle band gives nothing away.

    The bands of one 0-10 scale (low, high, very high) share a base; the
    middle band ("medium", never a row) is that base minus the bands' counts.
    So, per authority, year, survey and scale: with every band shown the
    middle band must not be 1-4; with some withheld, the withheld bands plus
    the middle band (base minus the shown counts) must come to 5 or more.
    Otherwise the shown band with the smallest non-zero count is withheld as
    well, and so on. ``bands`` maps a scale to its band measure ids.
    """
    mask = np.asarray(withheld, dtype=bool).copy()
    scale = band_lines(frame["indicator"], bands)
    if not (scale >= 0).any():
        return mask
    n = pd.to_numeric(frame["n"], errors="coerce").to_numpy("float64")
    k = pd.to_numeric(frame["k"], errors="coerce").to_numpy("float64")
    sel = np.flatnonzero(scale >= 0)
    sub = frame.iloc[sel]
    group = sub.groupby([*keys], sort=False, dropna=False).ngroup().to_numpy()
    line = group * (len(bands) + 1) + scale[sel]
    order = np.argsort(line, kind="stable")
    splits = np.flatnonzero(np.diff(line[order])) + 1
    for part in np.split(order, splits):
        idx = sel[part]
        base = np.nanmax(n[idx]) if np.isfinite(n[idx]).any() else np.nan
        if not np.isfinite(base) or base <= 0:
            continue
        while True:
            hid = mask[idx]
            if hid.all():
                break
            shown = idx[~hid]
            rem = base - np.nansum(k[shown])
            if hid.any():
                ok = rem >= MIN_COUNT
            else:
                ok = not (1 <= rem < MIN_COUNT)
            if ok:
                break
            cand = shown[k[shown] > 0] if (k[shown] > 0).any() else shown
            mask[cand[np.argmin(k[cand])]] = True
    return mask


# ---------------------------------------------------------------- pooled figures
#: Steps (percentage points) a pooled comparator may be rounded to, finest first.
COMPARATOR_STEPS = (1, 2, 5, 10)
#: Steps a pooled count (e.g. national answers) may be rounded to, finest first.
COUNT_STEPS = (10, 20, 50, 100, 200, 500, 1000)
#: A rounding cell must span at least this many children. Then even a figure
#: that could be published but is not (an earlier year whose change row is
#: withheld, an authority reporting an older year) is never pinned by the
#: pooled figure: its count ``k`` and complement are 5 or more, so where the
#: cell is cut off at 0 or at its base the range left is still 5 wide, and
#: elsewhere the cell itself holds at least 6 possible counts.
MIN_CELL = MIN_COUNT + 1


def _ceil_div(a: int, b: int) -> int:
    return -((-a) // b)


def _cells_safe(shown_sum: int, sizes: np.ndarray, cell_of, bounds_of,
                public: np.ndarray | None = None) -> bool:
    """Whether no withheld entry is pinned, whatever rounding cell the true total is in.

    The pooled total is ``shown_sum`` plus the withheld entries' counts
    (each between 0 and its size). For *every* cell the total could fall
    in, a reader learns that the withheld remainder lies in the cell minus
    ``shown_sum``; each withheld entry then lies between ``max(0, lo - (W -
    size))`` and ``min(size, hi)``. The figure is safe when that range is at
    least ``MIN_COUNT`` wide (not known to within 2) or is all of ``[0,
    size]`` for every entry and every cell; ``public`` is what a reader knows
    of each size (an upper bound, e.g. 4 for a base shown as blank, or a
    breakdown line's base less its shown groups; default: the size itself),
    and it is against that range that "pinned" is judged. Because the test
    runs over every
    possible cell, not just the true one, whether a rounding is used says
    nothing about the withheld counts.
    """
    sizes = np.asarray(sizes, dtype="int64")
    bound = sizes if public is None else np.maximum(np.asarray(public, dtype="int64"), sizes)
    w = int(sizes.sum())
    w_pub = int(bound.sum())
    if w == 0:
        return True
    for j in range(cell_of(shown_sum), cell_of(shown_sum + w) + 1):
        a, b = bounds_of(j)
        r_lo, r_hi = max(a - shown_sum, 0), min(b - shown_sum, w)
        if r_lo > r_hi:
            continue
        lo = np.maximum(0, r_lo - (w_pub - bound))
        hi = np.minimum(bound, r_hi)
        ok = (hi - lo >= MIN_COUNT) | ((lo == 0) & (hi == bound))
        if not ok.all():
            return False
    return True


def comparator_precision(
    k: Sequence[float] | np.ndarray, n: Sequence[float] | np.ndarray,
    withheld: Sequence[bool] | np.ndarray,
    public_size: Sequence[float] | np.ndarray | None = None,
) -> int | None:
    """The finest step (percentage points) a pooled % of these rows may be published to.

    One rule for every comparator column (``others_pct``, ``expected_pct``,
    the national figures, the funnel's national line): the rows are the
    pool's entries (e.g. every authority's answers in one survey, measure
    and year) with their true counts ``k``, bases ``n`` and whether each
    entry's own figure is withheld. None means the pooled figure must be
    withheld: the pool has fewer than ``MIN_BASE`` answers, or no step of
    ``COMPARATOR_STEPS`` keeps every withheld entry safe (``_cells_safe``)
    with a rounding cell at least ``MIN_CELL`` children wide.
    """
    k_arr = np.asarray(k, dtype="float64")
    n_arr = np.asarray(n, dtype="float64")
    w_arr = np.asarray(withheld, dtype=bool)
    p_arr = n_arr if public_size is None else np.asarray(public_size, dtype="float64")
    ok = np.isfinite(n_arr) & (n_arr > 0)
    k_arr, n_arr, w_arr, p_arr = k_arr[ok], n_arr[ok], w_arr[ok], p_arr[ok]
    total = int(n_arr.sum())
    if total < MIN_BASE:
        return None
    shown = int(np.nansum(k_arr[~w_arr]))
    sizes = n_arr[w_arr].astype("int64")
    public = np.where(np.isfinite(p_arr[w_arr]), p_arr[w_arr], n_arr[w_arr]).astype("int64")
    for step in COMPARATOR_STEPS:
        if step * total < 100 * MIN_CELL:
            continue

        def cell_of(count: int, s: int = step) -> int:
            return (200 * count + s * total) // (2 * s * total)

        def bounds_of(j: int, s: int = step) -> tuple[int, int]:
            return (_ceil_div((2 * j - 1) * s * total, 200),
                    _ceil_div((2 * j + 1) * s * total, 200) - 1)

        if _cells_safe(shown, sizes, cell_of, bounds_of, public):
            return step
    return None


def round_to_step(value: float, step: float) -> float:
    """``value`` rounded to a multiple of ``step``, halves up (36.5 -> 37 at step 1)."""
    if not np.isfinite(value):
        return float("nan")
    return float(step * np.floor(value / step + 0.5 + 1e-9))


def pooled_comparator(
    k: Sequence[float] | np.ndarray, n: Sequence[float] | np.ndarray,
    withheld: Sequence[bool] | np.ndarray,
    public_size: Sequence[float] | np.ndarray | None = None,
) -> tuple[float, float]:
    """(published %, its step) of a pool's figure; (NaN, NaN) when withheld.

    The figure is sum(k) / sum(n), rounded to ``comparator_precision``.
    """
    step = comparator_precision(k, n, withheld, public_size)
    if step is None:
        return float("nan"), float("nan")
    k_arr = np.asarray(k, dtype="float64")
    n_arr = np.asarray(n, dtype="float64")
    ok = np.isfinite(n_arr) & (n_arr > 0)
    pct = 100 * np.nansum(k_arr[ok]) / n_arr[ok].sum()
    return round_to_step(pct, step), float(step)


def pooled_count(
    counts: Sequence[float] | np.ndarray, withheld: Sequence[bool] | np.ndarray,
) -> tuple[int | None, int | None]:
    """(published total, its step) of a pool's count, e.g. national answers; None if withheld.

    Rounded to the finest step of ``COUNT_STEPS`` (nearest 10 at best) for
    which no withheld entry can be worked out from the total (``_cells_safe``).
    """
    c = np.asarray(counts, dtype="float64")
    w = np.asarray(withheld, dtype=bool)
    ok = np.isfinite(c) & (c > 0)
    c, w = c[ok], w[ok]
    total = int(c.sum())
    if total < MIN_BASE:
        return None, None
    shown = int(c[~w].sum())
    sizes = c[w].astype("int64")
    for step in COUNT_STEPS:
        def cell_of(count: int, s: int = step) -> int:
            return (2 * count + s) // (2 * s)

        def bounds_of(j: int, s: int = step) -> tuple[int, int]:
            return (_ceil_div((2 * j - 1) * s, 2), _ceil_div((2 * j + 1) * s, 2) - 1)

        if _cells_safe(shown, sizes, cell_of, bounds_of):
            return int(round_to_step(total, step)), step
    return None, None


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
