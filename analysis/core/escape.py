"""Strings from data are text: one escaping function per output language.

Why: an authority's name (from the extract, a column mapping or a parameter
file) is written into pandoc Markdown, Markdown attributes, HTML pages, YAML
metadata and log lines. Unescaped, a name such as ``<script>…``,
``![](/etc/hostname)``, ``@x`` or ``\\input{…}`` is read as markup: it runs
in the published page, makes the renderer embed a local file or fetch a URL,
breaks the PDF or silently vanishes. Every data value is therefore escaped
*where it is written*, by the function for that language here, and nowhere
else; generated prose around it stays Markdown.

* :func:`markdown` - inline pandoc/Quarto Markdown text (body, headings,
  table cells, captions, and metadata such as the title, which pandoc and
  Quarto parse as Markdown): every ASCII punctuation character pandoc may
  treat as markup is backslash-escaped (pandoc's ``all_symbols_escapable``),
  whitespace runs (newlines, tabs) become one space so a value can never
  start a block (heading, list, table, fence), and control characters go.
* :func:`markdown_attribute` - a double-quoted attribute value
  (``{fig-alt="…"}``): only ``\\`` and ``"`` are special there.
* :func:`html_text` - HTML text and attribute values (``html.escape``).
* :func:`log_text` - one line for a terminal or a log file: control
  characters (ANSI escapes, carriage returns, newlines) shown as ``\\xNN``.
* :func:`csv_text` - a text cell of a published CSV: a value that a
  spreadsheet would run as a formula (``=HYPERLINK(…)``, ``+``, ``-``, ``@``,
  a leading tab or carriage return) gets a leading apostrophe (OWASP's advice
  against CSV injection), so opening a published file never runs anything.

Typst is never written from Python: pandoc's Typst writer escapes text, and
the Lua filter's ``typst_string`` quotes the strings it writes.
"""

from __future__ import annotations

import html
import re
import string
import unicodedata
from typing import Any

#: ASCII punctuation escaped in Markdown text: all of it, which is always
#: safe because pandoc reads ``\<punct>`` as the literal character. Quote
#: marks, ``--`` and ``...`` are escaped too, so "smart" typography never
#: changes a name: it is shown exactly as the data give it.
MARKDOWN_SPECIAL = frozenset(string.punctuation)
_MARKDOWN_RE = re.compile("([" + re.escape("".join(sorted(MARKDOWN_SPECIAL))) + "])")


def _drop_controls(text: str) -> str:
    return "".join(ch for ch in text if unicodedata.category(ch) != "Cc")


def one_line(value: Any) -> str:
    """The value as text on one line: whitespace runs -> one space, controls removed."""
    return _drop_controls(" ".join(str(value).split()))


def markdown(value: Any) -> str:
    r"""``value`` as literal inline text in pandoc (and Quarto) Markdown.

    >>> print(markdown("<b>A & B</b> @x"))
    \<b\>A \& B\<\/b\> \@x
    """
    return _MARKDOWN_RE.sub(r"\\\1", one_line(value))


def markdown_attribute(value: Any) -> str:
    """``value`` as a double-quoted Markdown attribute value, quotes included."""
    text = one_line(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def html_text(value: Any) -> str:
    """``value`` as HTML text or a quoted attribute value."""
    return html.escape(str(value), quote=True)


def log_text(value: Any, limit: int = 200) -> str:
    """``value`` for a log line or terminal: one line, controls visible, shortened."""
    text = "".join(
        ch if unicodedata.category(ch) != "Cc" and ch not in "\u2028\u2029"
        else f"\\x{ord(ch):02x}" if ord(ch) < 256 else f"\\u{ord(ch):04x}"
        for ch in str(value)
    )
    return text if len(text) <= limit else text[: limit - 1] + "…"


#: First characters that make a spreadsheet read a cell as a formula.
CSV_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_text(value: Any) -> Any:
    """A published CSV text cell that no spreadsheet runs as a formula.

    Only strings change, and only those a spreadsheet would evaluate: numbers
    (also negative ones, which are not strings here) and blank cells are kept.

    >>> csv_text("=SUM(A1)"), csv_text("Elderwick"), csv_text(-1.5)
    ("'=SUM(A1)", 'Elderwick', -1.5)
    """
    if isinstance(value, str) and value.startswith(CSV_FORMULA_START):
        return "'" + value
    return value
