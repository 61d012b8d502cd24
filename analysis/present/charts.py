"""Charts for the briefings: an authority's indicators against other authorities.

Design choices, and why:

* **Dot and interval**, one row per indicator: the authority's % as a dot
  with its 95% interval as whiskers, the other authorities' % as a hollow
  diamond. Position on a common 0-100% scale is the most accurately read
  encoding, and the whiskers show how much a small authority's figure could
  move by chance.
* **Never colour alone**: the result (better / similar / worse than other
  authorities) is shown by the dot's *shape* (triangle up, circle, triangle
  down) **and** written as a word at the end of the row; colours come from
  the Okabe-Ito palette, which stays distinct with the common colour-vision
  deficiencies and in greyscale print.
* **Suppressed indicators are absent**, with a note saying how many were
  left out and why, so no small-base figure can be read off a chart.
* **Deterministic files**: fixed size and dpi, the Agg backend, no
  timestamps or software tags in the PNG, so a rebuild with the same data
  gives the same bytes and the build can tell what changed.
* **Alt text says what the chart shows** (``alt_text``): the results, not
  "a chart".

Matplotlib only (seaborn adds import time to every notebook and nothing this
chart needs).
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from analysis.core import escape
from analysis.data.codebook import Codebook, load_codebook
from analysis.methods.disclosure import SUPPRESSION_RULE_TEXT
from analysis.methods.funnel import LEVELS, MIN_FUNNEL_BASE, Funnel, funnel_limits
from analysis.present.canvas import new_figure
from analysis.present.text import age_words, cap, hidden_words, is_missing, tenths

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def _figure(**kwargs: Any) -> Figure:
    """A Figure on its own Agg canvas, made without pyplot (``kwargs`` go to Figure).

    pyplot's figure manager (and the import of pyplot, on paths that draw
    nothing) cost time for nothing a saved chart needs, and a figure pyplot
    does not know never has to be closed or shown. The canvas is Agg's, with
    its text work remembered between charts (``analysis.present.canvas``).
    matplotlib is imported here, when a chart is drawn, not at import time
    (about half a second).
    """
    return new_figure(**kwargs)


def _rc_context(rc: dict[str, Any]) -> Any:
    import matplotlib

    return matplotlib.rc_context(rc)


def _ticks(ax: Any, which: str, locs: Sequence[float], labels: Sequence[str] | None) -> None:
    """An axis's ticks (label, mark, grid line) as plain artists, on the same pixels.

    What matplotlib's ticks draw, without its Tick objects: a Tick is five
    artists made afresh for every row of every chart (a sixth of a briefing's
    time). One real tick of the axis is the template, so the labels, marks and
    grid lines take its font, colour, padding, size and transforms (the rc
    settings, ``grid`` and ``tick_params`` in force, so call this after them);
    the axis itself is left without ticks (so not for an axis with a label, which
    matplotlib places below its tick labels). Labels are texts (one per tick),
    marks are one line of markers, grid lines one line each, all at the
    axis's place in the drawing order. ``labels=None`` draws no labels (a
    panel sharing the first one's).
    """
    from matplotlib.lines import Line2D

    axis = ax.xaxis if which == "x" else ax.yaxis
    template = axis.get_major_ticks(1)[0]
    (ax.set_xticks if which == "x" else ax.set_yticks)([])
    locs = list(locs)
    zorder = axis.get_zorder()

    def point(loc: float, other: float) -> tuple[float, float]:
        return (loc, other) if which == "x" else (other, loc)

    def add(line: Line2D, like: Line2D, clipped: bool) -> None:
        line.update_from(like)
        ax.add_artist(line)  # not add_line: ticks are not data, they leave the limits alone
        line.set_clip_on(clipped)  # grid lines are clipped to the panel, as the axis clips them
        line.set_zorder(zorder)

    if labels is not None and template.label1.get_visible():
        for loc, label in zip(locs, labels, strict=True):
            text = ax.text(*point(loc, 0), label)
            text.update_from(template.label1)
            text.set_zorder(zorder)
    mark = template.tick1line
    if locs and mark.get_visible() and mark.get_markersize() > 0:
        add(Line2D(*zip(*(point(loc, 0) for loc in locs), strict=True)), mark, False)
    if template.gridline.get_visible():
        for loc in locs:
            add(Line2D(*zip(point(loc, 0), point(loc, 1), strict=True)), template.gridline, True)


#: Okabe-Ito colours (colour-blind safe).
OKABE_ITO = {
    "black": "#000000", "orange": "#E69F00", "sky_blue": "#56B4E9",
    "bluish_green": "#009E73", "yellow": "#F0E442", "blue": "#0072B2",
    "vermillion": "#D55E00", "reddish_purple": "#CC79A7", "grey": "#999999",
}
#: Greys and inks of every chart (lines, grids, bands), so no chart invents its own.
NEUTRAL = {
    "ink": "#0b0c0c", "line": "#484949", "grid": "#DDDDDD", "rule": "#eeeeee",
    "band": "#c9c9c9", "band_mid": "#8c8c8c",
}
#: Funnel points by zone: within 95%, between 95% and 99.8%, outside 99.8% (dark enough on white).
ZONE_COLOURS = ("#1d4f91", "#8a4b00", "#b52a16")
#: How each result is drawn: colour, marker shape and the word written beside it.
FLAG_STYLE: dict[str, dict[str, str]] = {
    "better": {"color": OKABE_ITO["bluish_green"], "marker": "^", "word": "Better"},
    "similar": {"color": OKABE_ITO["blue"], "marker": "o", "word": "Similar"},
    "worse": {"color": OKABE_ITO["vermillion"], "marker": "v", "word": "Worse"},
}
OTHERS_STYLE = {"marker": "D", "color": OKABE_ITO["black"], "facecolor": "white"}
#: The case-mix expectation the flag compares with: a short vertical bar.
EXPECTED_STYLE = {"marker": "|", "color": OKABE_ITO["black"]}
DPI = 110
#: zlib level of the PNGs: 3 is a third faster to write than Pillow's default 6 and,
#: for these flat-coloured charts, about 5% smaller (measured on the demonstration
#: briefings' figures); the pixels are the same at every level.
PNG_COMPRESS_LEVEL = 3
WIDTH_IN = 8.0
ROW_IN = 0.42
BASE_IN = 2.0
FONT_SIZE = 11

_RC = {
    "font.size": FONT_SIZE,
    "font.family": "DejaVu Sans",
    "axes.titlesize": FONT_SIZE + 2,
    "axes.labelsize": FONT_SIZE,
    "xtick.labelsize": FONT_SIZE - 1,
    "ytick.labelsize": FONT_SIZE,
    "svg.hashsalt": "wellbeing-briefings",
    "svg.fonttype": "none",
    "path.simplify": True,
}


def _records(rows: Any) -> list[dict[str, Any]]:
    if hasattr(rows, "to_dict"):
        return rows.to_dict("records")
    return [dict(r) for r in rows]




def _is_suppressed(row: dict[str, Any]) -> bool:
    return bool(str(row.get("suppressed")).lower() in ("true", "1")
                or row.get("flag") == "suppressed" or is_missing(row.get("pct")))


def row_label(row: dict[str, Any], cb: Codebook, with_survey: bool) -> str:
    """The indicator's plain label, with the survey when a domain mixes surveys."""
    label = cb.measure(str(row["indicator"])).label
    if with_survey:
        label = f"{label} ({age_words(str(row['survey']), 'tag')})"
    return label


def _domain_rows(rows: Any, domain: str | None) -> list[dict[str, Any]]:
    recs = _records(rows)
    return [r for r in recs if domain is None or r.get("domain") == domain]


def la_vs_others_chart(
    la_rows: pd.DataFrame | Iterable[dict[str, Any]],
    domain: str | None,
    title: str,
    codebook: Codebook | None = None,
) -> Figure:
    """Dot-and-interval chart of one domain's indicators for an authority.

    ``la_rows`` are ``la_indicators`` rows (suppressed ones included: they
    are counted in the note, not drawn). ``domain=None`` draws every row.
    Returns an open Figure; ``save_figure`` / ``figure_markdown`` close it.
    """
    from matplotlib.lines import Line2D

    cb = codebook or load_codebook()
    recs = _domain_rows(la_rows, domain)
    shown = [r for r in recs if not _is_suppressed(r)]
    hidden = len(recs) - len(shown)
    with_survey = len({r["survey"] for r in recs}) > 1
    title = textwrap.fill(title, 70)
    height = BASE_IN + ROW_IN * max(len(shown), 2) + 0.25 * title.count("\n")
    with _rc_context(_RC):
        fig = _figure(figsize=(WIDTH_IN, height), dpi=DPI)
        ax = fig.subplots()
        ys = list(range(len(shown)))[::-1]  # first row at the top
        labels = [row_label(r, cb, with_survey) for r in shown]
        # One artist per result type (not per row): drawing is most of a chart's cost.
        for flag, style in FLAG_STYLE.items():
            mine = [(y, r) for y, r in zip(ys, shown, strict=True)
                    if (r.get("flag") if r.get("flag") in FLAG_STYLE else "similar") == flag]
            if not mine:
                continue
            with_ci = [(y, float(r["ci_low"]), float(r["ci_high"])) for y, r in mine
                       if not (is_missing(r.get("ci_low")) or is_missing(r.get("ci_high")))]
            if with_ci:
                cy, lo, hi = (list(v) for v in zip(*with_ci, strict=True))
                ax.hlines(cy, lo, hi, color=style["color"], lw=2, zorder=2)
                ax.vlines(lo + hi, [y - 0.15 for y in cy] * 2, [y + 0.15 for y in cy] * 2,
                          color=style["color"], lw=1.5, zorder=2)
            ax.scatter([float(r["pct"]) for _, r in mine], [y for y, _ in mine],
                       marker=style["marker"], s=80, color=style["color"],
                       edgecolors="black", linewidths=0.6, zorder=4)
        others = [(y, float(r["others_pct"])) for y, r in zip(ys, shown, strict=True)
                  if not is_missing(r.get("others_pct"))]
        if others:
            ax.scatter([x for _, x in others], [y for y, _ in others],
                       marker=OTHERS_STYLE["marker"], s=55, facecolors=OTHERS_STYLE["facecolor"],
                       edgecolors=OTHERS_STYLE["color"], linewidths=1.4, zorder=3)
        expected = [(y, float(r["expected_pct"])) for y, r in zip(ys, shown, strict=True)
                    if not is_missing(r.get("expected_pct"))]
        if expected:  # what the flag compares with: the case-mix expectation
            ax.scatter([x for _, x in expected], [y for y, _ in expected],
                       marker=EXPECTED_STYLE["marker"], s=170, color=EXPECTED_STYLE["color"],
                       linewidths=2.2, zorder=3.5)
        for y, r in zip(ys, shown, strict=True):
            style = FLAG_STYLE.get(str(r.get("flag")), FLAG_STYLE["similar"])
            ax.text(1.01, y, style["word"], transform=ax.get_yaxis_transform(),
                    va="center", ha="left", fontsize=FONT_SIZE, fontweight="bold",
                    color="black")
        ax.set_xlim(0, 100)
        ax.set_ylim(-0.7, max(len(shown), 1) - 0.3)
        ax.grid(axis="x", color=NEUTRAL["grid"], lw=0.8)
        ax.set_axisbelow(True)
        for side in ("top", "right", "left"):
            ax.spines[side].set_visible(False)
        ax.tick_params(axis="y", length=0)
        _ticks(ax, "y", ys, labels)
        _ticks(ax, "x", range(0, 101, 20), [f"{v}%" for v in range(0, 101, 20)])
        handles = [
            Line2D([], [], marker=s["marker"], color=s["color"], markeredgecolor="black",
                   markeredgewidth=0.6, linestyle="", markersize=8,
                   label=f"{s['word']} than other authorities" if k != "similar"
                   else "Similar to other authorities")
            for k, s in FLAG_STYLE.items()
        ] + [Line2D([], [], marker=OTHERS_STYLE["marker"], markerfacecolor="white",
                    markeredgecolor="black", linestyle="", markersize=7,
                    label="All authorities (national figure)")]
        if expected:
            handles.append(Line2D([], [], marker=EXPECTED_STYLE["marker"],
                                  color=EXPECTED_STYLE["color"], markeredgewidth=2.2,
                                  linestyle="", markersize=10,
                                  label="Expected for children of the same age and gender"))
        if not shown:
            ax.text(50, 0, "No indicator has enough answers to show", ha="center",
                    va="center", fontsize=FONT_SIZE)
        # Fixed margins in inches: title on top; legend and note at the bottom.
        legend_in, note_in = (0.85 if expected else 0.65), (0.3 if hidden else 0.05)
        fig.suptitle(title, x=0.01, y=1 - 0.1 / height, ha="left",
                     va="top", fontweight="bold", fontsize=FONT_SIZE + 2)
        fig.legend(handles=handles, loc="lower left", bbox_to_anchor=(0.01, note_in / height),
                   ncol=2, frameon=False, fontsize=FONT_SIZE - 1, handletextpad=0.3,
                   columnspacing=1.2)
        if hidden:
            fig.text(0.01, 0.08 / height, f"{hidden} indicator{'s' if hidden != 1 else ''} "
                     f"not shown: {SUPPRESSION_RULE_TEXT}.", fontsize=FONT_SIZE - 1,
                     ha="left", va="bottom")
        # Margins from the text lengths rather than tight_layout, which draws
        # the whole figure an extra time (a third of the cost of a chart).
        longest = max((len(label) for label in labels), default=10)
        left_in = min(max(0.25 + 0.088 * longest, 1.2), 4.6)
        top_in = 0.55 + 0.25 * title.count("\n")
        bottom_in = legend_in + note_in + 0.45
        fig.subplots_adjust(left=left_in / WIDTH_IN, right=1 - 0.85 / WIDTH_IN,
                            top=1 - top_in / height, bottom=bottom_in / height)
    return fig


def save_figure(fig: Figure, path: str | Path, dpi: int = DPI) -> Path:
    """Save as PNG with stable bytes (no software tag or timestamp) and close the figure.

    The charts here are not pyplot's (``_figure``): nothing to close. A figure
    made through pyplot (it has a manager) is closed, so callers never leak one.
    """
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    try:
        fig.savefig(p, format="png", dpi=dpi, metadata={"Software": None},
                    pil_kwargs={"compress_level": PNG_COMPRESS_LEVEL})
    finally:
        if fig.canvas.manager is not None:
            import matplotlib.pyplot as plt

            plt.close(fig)
    return p


def figure_markdown(
    fig: Figure, folder: str | Path, name: str, caption: str, alt: str
) -> str:
    """Save ``fig`` as ``<folder>/<name>.png`` and return the Markdown that shows it.

    ``![caption](folder/name.png){fig-alt="alt"}``: the markup the briefing
    renderers expect. The path is written as given (relative paths stay
    relative to the notebook's working directory), with forward slashes.
    """
    path = save_figure(fig, Path(folder) / f"{name}.png")
    return (f"![{escape.markdown(caption)}](<{path.as_posix()}>)"
            f"{{fig-alt={escape.markdown_attribute(alt)}}}")


def _fmt(value: Any) -> str:
    return f"{math.floor(float(value) + 0.5):d}%"


def alt_text(
    rows: pd.DataFrame | Iterable[dict[str, Any]],
    domain: str | None,
    la_name: str = "the authority",
    codebook: Codebook | None = None,
) -> str:
    """Text alternative that says what the chart shows (results, not just 'a chart').

    e.g. "Dot chart of 6 relationships indicators for Northbridge against
    other authorities. Better than other authorities on: have a trusted adult
    (92% vs 85%). Worse on: none. Similar on the other 5."
    """
    cb = codebook or load_codebook()
    recs = _domain_rows(rows, domain)
    shown = [r for r in recs if not _is_suppressed(r)]
    hidden = len(recs) - len(shown)
    with_survey = len({r["survey"] for r in recs}) > 1
    area = cb.domains.get(domain, domain).lower() if domain else "well-being"
    if not shown:
        which = "the one indicator has" if hidden == 1 else f"all {hidden} have"
        return (f"Chart of {area} indicators for {la_name}: none is shown, because {which} "
                f"{SUPPRESSION_RULE_TEXT}.")
    parts = [f"Dot chart of {len(shown)} {area} indicator{'s' if len(shown) != 1 else ''} "
             f"for {la_name} against other authorities, with 95% intervals."]

    def listing(flag: str) -> str:
        items = [
            f"{row_label(r, cb, with_survey).lower()} ({_fmt(r['pct'])} vs "
            f"{_fmt(r['others_pct']) if not is_missing(r.get('others_pct')) else 'no comparison'})"
            for r in shown if r.get("flag") == flag
        ]
        return "; ".join(items) if items else "none"

    parts.append(f"Better than other authorities on: {listing('better')}.")
    parts.append(f"Worse on: {listing('worse')}.")
    similar = sum(1 for r in shown if r.get("flag") not in ("better", "worse"))
    if similar:
        others_word = "the other " if similar < len(shown) else "all "
        parts.append(f"Similar on {others_word}{similar}.")
    if hidden:
        parts.append(f"{hidden} not shown: {SUPPRESSION_RULE_TEXT}.")
    return " ".join(parts)


def funnel_chart(f: Funnel, method: str = "exact") -> Any:
    """Draw the funnel: unlabelled points, national line, 95% and 99.8% limits.

    Points are marked by shape as well as colour (circle inside the 95%
    limits, square between 95% and 99.8%, triangle beyond 99.8%) so the
    chart reads in greyscale and for colour-blind readers.
    """
    fig = _figure(figsize=(6.4, 3.6), dpi=100)
    ax = fig.subplots()
    if f.n_authorities and np.isfinite(f.national_pct):
        n_max = max(int(f.points["n"].max() * 1.1), MIN_FUNNEL_BASE + 5)
        grid = np.unique(np.linspace(MIN_FUNNEL_BASE, n_max, 120).round())
        p0 = f.national_pct / 100
        styles = {LEVELS[0]: ("--", "95% limits"), LEVELS[1]: (":", "99.8% limits")}
        for level, (ls, name) in styles.items():
            lo, hi = funnel_limits(p0, grid, level, method, f.tau2)
            ax.plot(grid, lo * 100, ls, color=NEUTRAL["line"], lw=1, label=name)
            ax.plot(grid, hi * 100, ls, color=NEUTRAL["line"], lw=1)
        ax.axhline(f.national_pct, color=NEUTRAL["ink"], lw=1.2,
                   label=f"National {f.national_pct:.0f}%")
        zone = np.where(f.points["zone998"] != 0, 2, np.where(f.points["zone95"] != 0, 1, 0))
        marks = [
            (0, "o", ZONE_COLOURS[0], "Within 95% limits"),
            (1, "s", ZONE_COLOURS[1], "Outside 95%, within 99.8%"),
            (2, "^", ZONE_COLOURS[2], "Outside 99.8% limits"),
        ]
        for z, marker, colour, name in marks:
            sel = zone == z
            if sel.any():
                ax.scatter(f.points["n"][sel], f.points["pct"][sel], marker=marker, s=26,
                           color=colour, edgecolor="white", linewidth=0.5, label=name, zorder=3)
    if f.excluded:
        ax.text(0.99, 0.02, cap(hidden_words(f)), transform=ax.transAxes, ha="right",
                va="bottom", fontsize=7, color=NEUTRAL["line"], wrap=True)
    ax.set_xlabel("Number of answers in the authority")
    ax.set_ylabel("Per cent")
    ax.set_ylim(0, 100)
    ax.spines[["top", "right"]].set_visible(False)
    if ax.get_legend_handles_labels()[0]:  # an empty legend only warns on stderr
        ax.legend(fontsize=7, frameon=False, loc="upper right", ncols=2)
    ax.set_title(f"{f.label}: {load_codebook().surveys[f.survey]['short']}", fontsize=10,
                 loc="left")
    fig.tight_layout()
    return fig


def forest_chart(drivers: pd.DataFrame, survey: str, top: int | None = None) -> Any:
    """Dot-and-interval chart of one survey's effects, most important at the top.

    Shape as well as colour marks whether the interval excludes zero (filled
    circle) or not (hollow), so the chart reads in greyscale.
    """
    rows = drivers[drivers["survey"] == survey].sort_values("rank")
    if top:
        rows = rows.head(top)
    n = max(len(rows), 1)
    fig = _figure(figsize=(8.0, 1.4 + 0.36 * n), dpi=110)
    ax = fig.subplots()
    ys = np.arange(len(rows))[::-1]
    for y, r in zip(ys, rows.to_dict("records"), strict=True):
        real = not (r["ci_low"] <= 0 <= r["ci_high"])
        colour = OKABE_ITO["blue"] if r["effect"] >= 0 else OKABE_ITO["vermillion"]
        ax.plot([r["ci_low"], r["ci_high"]], [y, y], color=colour, lw=2)
        ax.scatter([r["effect"]], [y], s=60, zorder=3, edgecolors=colour, linewidths=1.5,
                   facecolors=colour if real else "white")
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(ys)
    ax.set_yticklabels(list(rows["label"]))
    ax.set_xlabel("Difference in well-being (points out of 10) associated with the indicator")
    ax.spines[["top", "right", "left"]].set_visible(False)
    ax.tick_params(axis="y", length=0)
    ax.grid(axis="x", color=NEUTRAL["grid"], lw=0.8)
    ax.set_axisbelow(True)
    ax.set_title(f"What goes with well-being: {load_codebook().surveys[survey]['short']}",
                 loc="left", fontsize=12, fontweight="bold")
    fig.tight_layout()
    return fig


def forest_alt_text(drivers: pd.DataFrame, survey: str, top: int | None = None) -> str:
    """Alt text naming the strongest positive and negative associations."""
    rows = drivers[drivers["survey"] == survey].sort_values("rank")
    if top:
        rows = rows.head(top)
    pos = rows[rows["effect"] > 0].head(3)
    neg = rows[rows["effect"] < 0].head(3)

    def items(fr: pd.DataFrame) -> str:
        return "; ".join(f"{r['label'].lower()} ({r['effect']:+.1f})"
                         for r in fr.to_dict("records")) or "none"

    who = load_codebook().surveys[survey]["short"]
    return (f"Dot chart of {len(rows)} indicators' associations with overall well-being among "
            f"{who}, with 95% intervals. Strongest positive: {items(pos)}. "
            f"Strongest negative: {items(neg)}.")


def _scaled(value: float, mid: float, half: float, lower: bool) -> float:
    """Fingertips scaling: the average at 0, the furthest authority at +/-1, better to the right."""
    x = (value - mid) / half if half > 0 else 0.0
    return -x if lower else x


def spine_figure(rows: pd.DataFrame, title: str) -> Any:
    """Small multiples by survey: each result's range across authorities and this authority."""
    from matplotlib.collections import LineCollection
    from matplotlib.lines import Line2D

    cb = load_codebook()
    surveys = [s for s in cb.surveys if s in set(rows["survey"])]
    measures = [m for m in cb.measures() if m in set(rows["indicator"])]
    height = 1.2 + 0.15 * len(measures)
    with _rc_context(_RC | {"font.size": 8, "ytick.labelsize": 8}):
        fig = _figure(figsize=(8.0, height))
        axes = fig.subplots(1, max(1, len(surveys)), sharey=True, squeeze=False)
        for ax, survey in zip(axes[0], surveys, strict=False):
            sel = rows[rows["survey"] == survey].set_index("indicator")
            # One artist per layer, not three per row: drawing hundreds of artists was
            # most of a briefing's time. Rows never overlap, so the pixels are the same
            # (the rules stay one per row: they set the axis limits, to the last bit).
            bands: list[list[tuple[float, float]]] = []
            middles: list[list[tuple[float, float]]] = []
            marks: dict[str, tuple[list[float], list[int]]] = {}
            for y, mid in enumerate(measures):
                ax.axhline(y, color=NEUTRAL["rule"], linewidth=0.6, zorder=0)
                if mid not in sel.index:
                    continue
                r = sel.loc[mid]
                lower = r["direction"] == "lower_is_better"
                centre = float(r["mid"]) if pd.notna(r["mid"]) else float(r["q1"] + r["q3"]) / 2
                half = max(abs(float(r["high"]) - centre), abs(float(r["low"]) - centre),
                           abs(float(r["pct"]) - centre), 1e-9)
                lo, hi = sorted(_scaled(float(v), centre, half, lower) for v in (r["low"],
                                                                                 r["high"]))
                q1, q3 = sorted(_scaled(float(v), centre, half, lower) for v in (r["q1"],
                                                                                 r["q3"]))
                bands.append([(lo, y), (hi, y)])
                middles.append([(q1, y), (q3, y)])
                flag = str(r["flag"]) if str(r["flag"]) in FLAG_STYLE else "similar"
                xs, ys = marks.setdefault(flag, ([], []))
                xs.append(_scaled(float(r["pct"]), centre, half, lower))
                ys.append(y)
            ax.add_collection(LineCollection(bands, colors=NEUTRAL["band"], linewidths=6,
                                             capstyle="butt", zorder=1))
            ax.add_collection(LineCollection(middles, colors=NEUTRAL["band_mid"], linewidths=6,
                                             capstyle="butt", zorder=2))
            for flag, (xs, ys) in marks.items():
                style = FLAG_STYLE[flag]
                ax.scatter(xs, ys, marker=style["marker"], s=38, color=style["color"],
                           edgecolor=OKABE_ITO["black"], linewidth=0.6, zorder=3)
            ax.axvline(0, color=OKABE_ITO["black"], linewidth=0.9, zorder=2)
            ax.set_xlim(-1.15, 1.15)
            ax.set_xticks([0], ["average"])  # a real tick: the axis label sits below it
            ax.set_xlabel("\u2190 worse    better \u2192", fontsize=8)
            # At the panel's top, where matplotlib would place it: given, it skips the
            # search for tick labels above the panel (none here), a tenth of a second.
            ax.set_title(age_words(survey, "tag"), fontsize=9, y=1.0)
            for side in ("top", "right", "left"):
                ax.spines[side].set_visible(False)
        names = [cb.measure(m).label for m in measures]
        for i, ax in enumerate(axes[0]):
            _ticks(ax, "y", range(len(measures)), names if i == 0 else None)
        axes[0][0].invert_yaxis()
        handles = [Line2D([], [], marker=FLAG_STYLE[f]["marker"], linestyle="",
                          color=FLAG_STYLE[f]["color"], markeredgecolor=OKABE_ITO["black"],
                          label=f"{FLAG_STYLE[f]['word']} than other authorities"
                          if f != "similar" else "Similar")
                   for f in ("better", "similar", "worse")]
        handles += [Line2D([], [], color=NEUTRAL["band"], linewidth=6,
                           label="range across authorities"),
                    Line2D([], [], color=NEUTRAL["band_mid"], linewidth=6, label="middle half")]
        fig.legend(handles=handles, loc="lower center", ncol=3, frameon=False, fontsize=8)
        fig.suptitle(title, fontsize=10, x=0.02, ha="left", y=1 - 0.08 / height)
        fig.subplots_adjust(left=0.3, right=0.98, top=1 - 0.55 / height,
                            bottom=0.95 / height, wspace=0.1)
    return fig


def faces_figure(rows: Sequence[tuple[str, float]]) -> Any:
    """Ten faces per age group: smiling (filled) for the tenths who feel OK or good."""
    from matplotlib.patches import Arc, Circle

    with _rc_context(_RC):
        fig = _figure(figsize=(8.0, 0.9 * len(rows) + 0.5))
        ax = fig.subplots()
        for i, (survey, share) in enumerate(rows):
            y = len(rows) - 1 - i
            ax.text(-0.6, y, age_words(survey, 'aged').capitalize(), ha="right", va="center")
            filled = tenths(share)
            for j in range(10):
                happy = j < filled
                colour = OKABE_ITO["orange"] if happy else "white"
                # add_artist, not add_patch: the limits are set below, so the patches'
                # extents (slow to compute for curves) are never needed.
                ax.add_artist(Circle((j, y), 0.4, facecolor=colour,
                                     edgecolor=OKABE_ITO["black"], linewidth=1.2))
                for dx in (-0.14, 0.14):
                    ax.add_artist(Circle((j + dx, y + 0.12), 0.05, color=OKABE_ITO["black"]))
                if happy:
                    ax.add_artist(Arc((j, y - 0.02), 0.44, 0.34, theta1=200, theta2=340,
                                     color=OKABE_ITO["black"], linewidth=1.5))
                else:
                    ax.plot([j - 0.16, j + 0.16], [y - 0.15, y - 0.15],
                            color=OKABE_ITO["black"], linewidth=1.5)
        ax.set_xlim(-4.2, 9.6)
        ax.set_ylim(-0.6, len(rows) - 0.4)
        ax.set_aspect("equal")
        ax.axis("off")
        fig.subplots_adjust(left=0.01, right=0.99, top=0.98, bottom=0.02)
    return fig
