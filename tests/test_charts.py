"""Charts: deterministic files, no reliance on colour, suppressed rows absent, useful alt text."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd

from analysis.present.charts import (
    FLAG_STYLE,
    alt_text,
    figure_markdown,
    la_vs_others_chart,
    save_figure,
)


def _rows() -> pd.DataFrame:
    base = {"la_code": "E99000001", "survey_year": 2025, "survey": "ylyc_11_17",
            "domain": "relationships", "direction": "higher_is_better", "genpop_pct": None}
    rows = [
        {"indicator": "trust_carers", "n": 120, "pct": 90.0, "ci_low": 83.3, "ci_high": 94.2,
         "others_pct": 85.0, "flag": "similar", "suppressed": False},
        {"indicator": "trusted_adult", "n": 118, "pct": 92.4, "ci_low": 86.1, "ci_high": 95.9,
         "others_pct": 84.6, "flag": "better", "suppressed": False},
        {"indicator": "good_friend", "n": 119, "pct": 80.0, "ci_low": 72.0, "ci_high": 86.2,
         "others_pct": 90.0, "flag": "worse", "suppressed": False},
        {"indicator": "has_pet", "n": 7, "pct": None, "ci_low": None, "ci_high": None,
         "others_pct": None, "flag": "suppressed", "suppressed": True},
        {"indicator": "reason_explained", "n": 100, "pct": 70.0, "ci_low": 60.0,
         "ci_high": 78.0, "others_pct": 68.0, "flag": "similar", "suppressed": False,
         "domain": "rights"},
    ]
    return pd.DataFrame([{**base, **r} for r in rows])


def test_chart_draws_unsuppressed_rows_with_words_and_shapes(tmp_path: Path) -> None:
    fig = la_vs_others_chart(_rows(), "relationships", "Relationships")
    ax = fig.axes[0]
    # Row labels are texts beside the axis (right-aligned to it), not tick labels.
    labels = [t.get_text() for t in ax.texts if t.get_horizontalalignment() == "right"]
    assert sorted(labels) == ["Have a good friend", "Have a trusted adult", "Trust their carers"]
    words = {t.get_text() for t in ax.texts}
    assert {"Better", "Worse", "Similar"} <= words
    notes = [t.get_text() for t in fig.texts]
    assert any("1 indicator not shown: fewer than 10 answers, or fewer than 5 children "
               "giving that answer or not giving it." in t for t in notes)
    # Each result has its own marker shape, so colour is never the only cue.
    shapes = {s["marker"] for s in FLAG_STYLE.values()}
    assert len(shapes) == len(FLAG_STYLE)
    save_figure(fig, tmp_path / "chart.png")


def test_png_bytes_are_deterministic(tmp_path: Path) -> None:
    digests = []
    for i in range(2):
        fig = la_vs_others_chart(_rows(), "relationships", "Relationships")
        path = save_figure(fig, tmp_path / f"chart{i}.png")
        digests.append(hashlib.sha256(path.read_bytes()).hexdigest())
    assert digests[0] == digests[1]
    assert b"Software" not in (tmp_path / "chart0.png").read_bytes()


def test_figure_markdown_uses_relative_path_and_alt(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    fig = la_vs_others_chart(_rows(), "rights", "Rights")
    md = figure_markdown(fig, "figures", "rights", "Rights [2025]", 'Dot chart "quoted"')
    assert md == ('![Rights \\[2025\\]](<figures/rights.png>)'
                  '{fig-alt="Dot chart \\"quoted\\""}')
    assert (tmp_path / "figures" / "rights.png").exists()


def test_chart_with_nothing_to_show(tmp_path: Path) -> None:
    rows = _rows()
    rows = rows[rows["suppressed"]]
    assert alt_text(rows, "relationships", "Northbridge") == (
        "Chart of relationships indicators for Northbridge: none is shown, because the one "
        "indicator has fewer than 10 answers, or fewer than 5 children giving that answer "
        "or not giving it.")
    fig = la_vs_others_chart(rows, "relationships", "Relationships")
    assert any("not shown" in t.get_text() for t in fig.texts)
    save_figure(fig, tmp_path / "chart.png")


def test_alt_text_says_what_the_chart_shows() -> None:
    text = alt_text(_rows(), "relationships", "Northbridge")
    assert text.startswith("Dot chart of 3 relationships indicators for Northbridge")
    assert "Better than other authorities on: have a trusted adult (92% vs 85%)." in text
    assert "Worse on: have a good friend (80% vs 90%)." in text
    assert "Similar on the other 1." in text
    assert ("1 not shown: fewer than 10 answers, or fewer than 5 children giving that "
            "answer or not giving it.") in text


def test_caching_canvas_draws_the_same_bytes_as_agg(tmp_path: Path) -> None:
    """Remembered text (sizes, layouts, glyph bitmaps) must give Agg's own pixels."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from analysis.present.canvas import new_figure

    def figure() -> object:
        fig = new_figure(figsize=(4, 3), dpi=110)
        ax = fig.subplots()
        ax.set_ylabel("Per cent (rotated)")
        ax.set_xlabel("\u2190 worse    better \u2192", fontsize=8)
        for i, angle in enumerate((0, 30, 90, 180)):
            ax.text(0.1 + 0.2 * i, 0.3 + 0.13 * i, f"Angle {angle}: 72% g", rotation=angle,
                    fontsize=7 + i, fontweight="bold" if i % 2 else "normal")
        ax.text(0.5, 0.9, "multi\nline, and $x^2$ math", ha="center")
        return fig

    cached = []
    for i in range(2):  # the second draw reads everything from the caches
        path = tmp_path / f"cached{i}.png"
        figure().savefig(path, format="png", metadata={"Software": None})
        cached.append(path.read_bytes())
    fig = figure()
    FigureCanvasAgg(fig)
    fig.savefig(tmp_path / "agg.png", format="png", metadata={"Software": None})
    assert cached[0] == cached[1] == (tmp_path / "agg.png").read_bytes()
