"""Markdown building blocks: the one writer of tables, callouts and notebook output.

Every document (briefings, the national briefing, the young people's version,
the analyst's notebooks) is Markdown that Quarto or pandoc renders to HTML,
PDF and Word. Writing it in one place means one escaping rule, one table
format that every output and screen reader reads as a real table, and one
callout syntax the Lua filter and the Typst template understand.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import pandas as pd

from analysis.core import escape
from analysis.methods.comments import Quote
from analysis.present.text import is_missing


# ---------------------------------------------------------------- display
def markdown(text: str) -> Any:
    """An ``IPython.display.Markdown`` whose plain-text form is the Markdown itself.

    Renderers use the text/markdown output; nbval compares text/plain, so the
    words of the briefing (not ``<IPython.core.display.Markdown object>``) are
    what the regression tests check.
    """
    from IPython.display import Markdown

    class _Markdown(Markdown):
        def __repr__(self) -> str:
            return str(self.data)

    return _Markdown(text)


def show(text: str) -> None:
    """Display Markdown in the notebook (one call per section)."""
    from IPython.display import display

    display(markdown(text))


def pipe_table(frame: pd.DataFrame, caption: str = "", right: Iterable[str] | None = None,
               index: bool = False) -> str:
    """A pandoc/Quarto pipe table with a header row (and an optional caption).

    The one Markdown table writer: briefings, notebooks and docs all use it.
    Pipe tables are read by every output format (HTML, Typst, Word), render
    in JupyterLab, and are read by screen readers as real tables. ``right``
    names the columns to right-align so figures line up; None right-aligns
    every column whose cells all look like figures ('12%', '[c]', '0.4').
    ``index`` writes the frame's index as the first column.
    """
    frame = frame.reset_index() if index else frame
    cols = [str(c) for c in frame.columns]
    if right is None:
        right = [str(c) for c in frame.columns
                 if len(frame) and all(_looks_numeric(v) for v in frame[c])]
    right = set(right)

    def cell(value: Any) -> str:
        text = "" if is_missing(value) and not isinstance(value, str) else str(value)
        return text.replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cell(c) for c in cols) + " |",
             "|" + "|".join("---:" if c in right else ":---" for c in cols) + "|"]
    for row in frame.itertuples(index=False):
        lines.append("| " + " | ".join(cell(v) for v in row) + " |")
    text = "\n".join(lines)
    if caption:
        text += f"\n\n: {caption}"
    return text


def _looks_numeric(value: Any) -> bool:
    text = str(value).strip()
    if text in ("[c]", "[x]", "", "nan", "None", "<NA>"):
        return True
    try:
        float(text.rstrip("%"))
        return True
    except ValueError:
        return False


def callout(kind: str, title: str, body: str) -> str:
    """A Quarto callout block (rendered as a styled box by Quarto and by render.py).

    The title is an attribute rather than a heading inside the box, so the
    document's heading levels stay in order for screen readers.
    """
    safe = title.replace('"', "'")
    return f'::: {{.callout-{kind} title="{safe}"}}\n{body}\n:::'


def plain_text(markdown_text: str) -> str:
    """Markdown reduced to words (for tests and word counts): markup stripped."""
    text = re.sub(r"!\[[^\]]*\]\([^)]*\)(\{[^}]*\})?", " ", markdown_text)
    text = re.sub(r"[*_`#>|]", " ", text)
    return re.sub(r"\s+", " ", text).strip()


def quote_markdown(q: Quote) -> str:
    """One quote as a Markdown block quote with its attribution."""
    return f"> “{escape.markdown(q.text)}”\n>\n> — {q.attribution}"
