"""Turn an executed briefing notebook into HTML, PDF and Word documents.

Two renderers produce the same three files (``<stem>.html``, ``<stem>.pdf``,
``<stem>.docx``):

* **Quarto** (``quarto render <copy> --to html,typst,docx --no-execute``),
  used when the ``quarto`` executable is on PATH. The notebook is written for
  it: a raw first cell holds the Quarto front matter, callouts use Quarto
  syntax. A copy gets the metadata and the house look (Typst partials cut from
  ``templates/briefing.typ``, the CSS, the reference document) in its front
  matter; see :func:`quarto_front_matter` and docs/briefing.md. A Quarto
  failure is never replaced by a pandoc render: it fails, with Quarto's error.
* **pandoc + Typst** (the fallback, and the only one on machines where Quarto
  cannot be installed). The notebook's visible content is assembled into one
  pandoc-Markdown document (outputs only: code never reaches readers), then
  pandoc, from the ``pypandoc-binary`` wheel, parses it once and writes a
  self-contained HTML page, a Word file styled by ``templates/reference.docx``
  and Typst markup that the ``typst`` wheel compiles to PDF: pandoc writes
  its own output format as usual, and ``templates/briefing-outputs.lua``
  writes the others from the same parsed document, as ``pandoc --to`` each of
  them would (see :func:`_render_together`; one run per format remains the
  fallback). ``templates/briefing.lua`` reproduces the Quarto features the
  briefings use (callouts, ``fig-alt``, HTML tables in PDF/Word).

The Markdown is assembled here rather than with nbconvert's MarkdownExporter
because the briefings need different choices from its defaults (text/markdown
preferred over text/html, stderr dropped, Quarto cell options honoured) and
because importing and configuring nbconvert costs more than the whole
assembly, which matters when every authority is rendered in turn.

Every output is written to a temporary file in the output folder and moved
into place only once all requested formats have succeeded, so a failure never
leaves a partial or mixed set of files. Failures raise :class:`RenderError`
with a one-line message naming the notebook and the format.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import html
import json
import os
import re
import shutil
import string
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import yaml

from analysis.core import escape, yamlfile
from analysis.core.files import write_atomic
from analysis.core.paths import TEMPLATES_DIR

TEMPLATES = TEMPLATES_DIR
HTML_TEMPLATE = TEMPLATES / "briefing.html"
TYPST_TEMPLATE = TEMPLATES / "briefing.typ"
CSS_FILE = TEMPLATES / "briefing.css"
LUA_FILTER = TEMPLATES / "briefing.lua"
OUTPUTS_FILTER = TEMPLATES / "briefing-outputs.lua"
REFERENCE_DOCX = TEMPLATES / "reference.docx"

FORMATS: tuple[str, ...] = ("html", "pdf", "docx")
RENDERERS: tuple[str, ...] = ("auto", "quarto", "pandoc")
EXTENSIONS = {"html": ".html", "pdf": ".pdf", "docx": ".docx"}
QUARTO_FORMATS = {"html": "html", "pdf": "typst", "docx": "docx"}
DEFAULT_LANG = "en-GB"

# Output MIME types in order of preference. Markdown first: it is what the
# briefing cells emit on purpose, and it renders natively in all formats.
MIME_PRIORITY: tuple[str, ...] = (
    "text/markdown",
    "text/html",
    "image/svg+xml",
    "image/png",
    "image/jpeg",
    "text/plain",
)
IMAGE_EXTENSIONS = {"image/svg+xml": "svg", "image/png": "png", "image/jpeg": "jpg"}

# Front-matter keys that configure Quarto itself; pandoc must not see them.
QUARTO_ONLY_KEYS = frozenset(
    {"format", "execute", "jupyter", "engine", "editor", "filters", "params", "knitr",
     "freeze", "project", "crossref", "keep-ipynb", "keep-md"}
)

# Object reprs such as "<Figure size 640x480 with 1 Axes>" or
# "[<matplotlib.lines.Line2D at 0x7f...>]": noise, never content.
REPR_PATTERN = re.compile(r"^\[?<[^\n]*>\]?$")
CELL_OPTION_PATTERN = re.compile(r"^#\|\s?(.*)$")
TIMEOUT_SECONDS = 300
# The briefing Markdown never uses inline raw HTML or TeX (notebook HTML
# outputs arrive as ``{=html}`` raw blocks): with those extensions off, any
# markup that slipped past the escaping of data (analysis.core.escape) stays text.
PANDOC_MARKDOWN = "markdown-raw_html-raw_tex"
#: Metadata fields that are text for readers (escaped as Markdown when overridden).
TEXT_METADATA = frozenset({"title", "subtitle", "author", "abstract", "description"})


class RenderError(RuntimeError):
    """A briefing could not be rendered; the message is one line naming notebook and format.

    ``log`` holds the renderer's full output, when there is one, for the
    authority's build log.
    """

    def __init__(self, message: str, log: str = "") -> None:
        super().__init__(message)
        self.log = log


# --------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------


def available_renderer(requested: str = "auto") -> str:
    """Return the renderer to use: "quarto" or "pandoc".

    ``auto`` picks Quarto when its executable is on PATH, else pandoc + Typst
    (both come from Python wheels, so the fallback is always available).
    """
    if requested not in RENDERERS:
        raise RenderError(f"unknown renderer {requested!r}: use one of {', '.join(RENDERERS)}")
    if requested == "pandoc":
        return "pandoc"
    if shutil.which("quarto"):
        return "quarto"
    if requested == "quarto":
        raise RenderError(
            "renderer 'quarto' requested but no 'quarto' executable is on PATH "
            "(install Quarto, or use renderer 'pandoc' or 'auto')"
        )
    return "pandoc"


def render_notebook(
    notebook: Path,
    out_dir: Path,
    stem: str = "briefing",
    formats: Sequence[str] = FORMATS,
    renderer: str = "auto",
    metadata: Mapping[str, str] | None = None,
    spare_core: bool = False,
) -> dict[str, Path]:
    """Render an executed notebook to ``out_dir/<stem>.<ext>`` for each format.

    ``metadata`` sets or overrides front-matter fields (title, subtitle, date,
    author, lang, ...): the notebook's front matter is shared by every
    authority, so the build supplies the authority's name this way.
    ``spare_core``: a processor is idle (the build has fewer briefings than
    workers), so pandoc + Typst write the PDF beside the other formats instead
    of after them: the same files, sooner, for a little more work in all.

    Returns a mapping from format ("html", "pdf", "docx") to the written path.
    Raises :class:`RenderError` on any failure; nothing is then written.
    """
    notebook = Path(notebook).resolve()
    out_dir = Path(out_dir).resolve()
    wanted = _check_formats(notebook, formats)
    if not notebook.is_file():
        raise RenderError(f"{notebook}: notebook not found")
    if not stem or Path(stem).name != stem:
        raise RenderError(f"{notebook}: invalid output stem {stem!r}")
    which = available_renderer(renderer)
    out_dir.mkdir(parents=True, exist_ok=True)
    meta = {str(k): str(v) for k, v in (metadata or {}).items()}
    if which == "quarto":
        return _render_with_quarto(notebook, out_dir, stem, wanted, meta)
    return _render_with_pandoc(notebook, out_dir, stem, wanted, meta, spare_core)


def markdown_notebook(blocks: Sequence[str], front_matter: str = "") -> dict[str, Any]:
    """An executed-looking notebook whose cells' outputs are ``blocks`` of Markdown.

    For a document made outside a kernel (the build's young people's version):
    each block is one cell's display output, exactly as
    ``display(Markdown(block))`` leaves it in a notebook Papermill executed,
    so both renderers treat it as they treat that notebook (pandoc gets the
    same Markdown; Quarto sees ordinary cell outputs, code hidden).
    """
    cells: list[dict[str, Any]] = []
    if front_matter.strip():
        cells.append({"cell_type": "raw", "metadata": {"raw_mimetype": "text/markdown"},
                      "source": front_matter})
    for block in blocks:
        cells.append({"cell_type": "code", "execution_count": None, "metadata": {},
                      "source": "", "outputs": [{
                          "output_type": "display_data", "metadata": {},
                          "data": {"text/markdown": block,
                                   "text/plain": "<IPython.core.display.Markdown object>"}}]})
    return {"nbformat": 4, "nbformat_minor": 5, "cells": cells,
            "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python",
                                        "name": "python3"},
                         "language_info": {"name": "python"}}}


def front_matter_of(notebook: Path) -> str:
    """The source of a notebook's first cell when it is a raw front-matter cell, else ''."""
    cells = _read_notebook(Path(notebook)).get("cells") or []
    if cells and cells[0].get("cell_type") == "raw":
        source = _text(cells[0].get("source"))
        if _front_matter(source) is not None:
            return source
    return ""


def render_markdown(
    blocks: Sequence[str],
    notebook: Path,
    out_dir: Path,
    stem: str,
    formats: Sequence[str] = FORMATS,
    renderer: str = "auto",
    metadata: Mapping[str, str] | None = None,
    front_from: Path | None = None,
    spare_core: bool = False,
) -> dict[str, Path]:
    """Render Markdown blocks as :func:`render_notebook` renders an executed notebook.

    The blocks are written as ``notebook`` (:func:`markdown_notebook`, with
    the front matter of ``front_from``, e.g. the analyst's notebook of the
    same document), rendered, and the notebook removed again; after a
    failure it is left for debugging.
    """
    front = front_matter_of(front_from) if front_from is not None else ""
    write_atomic(Path(notebook), json.dumps(markdown_notebook(blocks, front),
                                            ensure_ascii=False, indent=1))
    written = render_notebook(notebook, out_dir, stem=stem, formats=formats,
                              renderer=renderer, metadata=metadata, spare_core=spare_core)
    Path(notebook).unlink(missing_ok=True)
    return written


def render_index(entries: Sequence[Mapping[str, Any]], out_path: Path, title: str) -> Path:
    """Write an accessible, self-contained index page linking every briefing.

    Each entry has ``name``, ``slug``, ``survey_year``, ``formats`` (format ->
    href relative to the index), optionally ``young_people`` (the same for the
    young people's version), ``status`` ("built" or "failed") and an
    optional ``note``. The national briefing (slug ``national``) is listed
    first whatever its position; the others keep the order given.

    A search box filters the authorities by name as the reader types (accents
    and case ignored; the count of matches is announced to screen readers).
    It is a few lines of inline script, so the page works from a USB stick or
    a shared drive without a network; without script every row is shown.
    """
    out_path = Path(out_path)
    ordered = sorted(entries, key=lambda e: 0 if str(e.get("slug")) == "national" else 1)
    rows = "\n".join(_index_row(entry) for entry in ordered)
    built = sum(1 for e in ordered if e.get("status", "built") == "built")
    failed = len(ordered) - built
    summary = f"{built} briefing{'s' if built != 1 else ''} available"
    if failed:
        summary += f"; {failed} could not be built"
    page = _INDEX_TEMPLATE.substitute(
        title=html.escape(title),
        css=_read_css() + _INDEX_CSS,
        summary=html.escape(summary) + ".",
        rows=rows,
        total=sum(1 for e in ordered if str(e.get("slug")) != "national"),
        script=_INDEX_SCRIPT,
    )
    out_path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(out_path, page.encode("utf-8"))
    return out_path


# --------------------------------------------------------------------------
# Notebook -> pandoc Markdown
# --------------------------------------------------------------------------


def _check_formats(notebook: Path, formats: Sequence[str]) -> list[str]:
    if isinstance(formats, str):
        formats = [formats]
    wanted: list[str] = []
    for fmt in formats:
        if fmt not in EXTENSIONS:
            raise RenderError(
                f"{notebook}: unknown format {fmt!r} (use {', '.join(FORMATS)})"
            )
        if fmt not in wanted:
            wanted.append(fmt)
    if not wanted:
        raise RenderError(f"{notebook}: no output format requested")
    return wanted


def _text(value: Any) -> str:
    """Notebook strings may be stored as a list of lines."""
    if isinstance(value, list):
        return "".join(value)
    return "" if value is None else str(value)


def _read_notebook(notebook: Path) -> dict[str, Any]:
    try:
        nb = json.loads(notebook.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RenderError(f"{notebook}: cannot read notebook: {_one_line(str(exc))}") from exc
    if not isinstance(nb, dict) or nb.get("nbformat", 0) < 4 or "cells" not in nb:
        raise RenderError(f"{notebook}: not a Jupyter notebook in nbformat 4")
    return nb


def _front_matter(source: str) -> dict[str, Any] | None:
    """Parse a ``---``-delimited YAML block, or return None if there is none."""
    lines = source.strip().splitlines()
    if len(lines) < 2 or lines[0].strip() != "---":
        return None
    try:
        end = next(i for i in range(1, len(lines)) if lines[i].strip() in ("---", "..."))
    except StopIteration:
        return None
    data = yamlfile.safe_load("\n".join(lines[1:end])) or {}
    return data if isinstance(data, dict) else None


def _cell_options(source: str) -> dict[str, Any]:
    """Quarto ``#| key: value`` options at the top of a code cell."""
    option_lines = []
    for line in source.splitlines():
        match = CELL_OPTION_PATTERN.match(line)
        if not match:
            break
        option_lines.append(match.group(1))
    if not option_lines:
        return {}
    try:
        data = yamlfile.safe_load("\n".join(option_lines))
    except yaml.YAMLError:
        return {}
    return data if isinstance(data, dict) else {}


def _fence(text: str, info: str) -> str:
    """A fenced block longer than any backtick run inside ``text``."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}{info}\n{text.rstrip(chr(10))}\n{ticks}"


def _image_markdown(path: Path, caption: str, alt: str) -> str:
    return (f"![{escape.markdown(caption)}](<{path.as_posix()}>)"
            f"{{alt={escape.markdown_attribute(alt)}}}")


class _Assembler:
    """Collects the reader-visible content of a notebook as pandoc Markdown."""

    def __init__(self, notebook: Path, asset_dir: Path) -> None:
        self.notebook = notebook
        self.asset_dir = asset_dir
        self.meta: dict[str, Any] = {}
        self.blocks: list[str] = []

    def run(self, nb: Mapping[str, Any]) -> None:
        cells = list(nb.get("cells", []))
        if cells and cells[0].get("cell_type") == "raw":
            front = _front_matter(_text(cells[0].get("source")))
            if front is not None:
                self.meta = front
                cells = cells[1:]
        for index, cell in enumerate(cells):
            tags = set(cell.get("metadata", {}).get("tags", []) or [])
            if tags & {"remove-cell", "remove_cell"}:
                continue
            kind = cell.get("cell_type")
            if kind == "markdown":
                self._markdown_cell(index, cell)
            elif kind == "raw":
                self._raw_cell(cell)
            elif kind == "code" and not tags & {"remove-output", "remove_output"}:
                self._code_cell(index, cell)

    def _markdown_cell(self, index: int, cell: Mapping[str, Any]) -> None:
        source = _text(cell.get("source"))
        for name, bundle in (cell.get("attachments") or {}).items():
            for mime, ext in IMAGE_EXTENSIONS.items():
                if mime in bundle:
                    path = self._write_asset(f"attachment-{index}-{len(self.blocks)}.{ext}",
                                             mime, bundle[mime])
                    source = source.replace(f"attachment:{name}", path.as_posix())
                    break
        if source.strip():
            self.blocks.append(source)

    def _raw_cell(self, cell: Mapping[str, Any]) -> None:
        source = _text(cell.get("source"))
        mime = (cell.get("metadata", {}).get("raw_mimetype")
                or cell.get("metadata", {}).get("format") or "")
        if not source.strip():
            return
        if mime in ("", "text/markdown", "markdown"):
            self.blocks.append(source)
        elif mime in ("text/html", "html"):
            self.blocks.append(_fence(source, "{=html}"))

    def _code_cell(self, index: int, cell: Mapping[str, Any]) -> None:
        options = _cell_options(_text(cell.get("source")))
        if options.get("include") is False or options.get("output") is False:
            return
        asis = options.get("output") == "asis"
        for out_index, output in enumerate(cell.get("outputs", []) or []):
            kind = output.get("output_type")
            if kind == "stream":
                if output.get("name") != "stdout":
                    continue  # stderr: warnings and progress bars, never content
                text = _text(output.get("text"))
                if text.strip():
                    self.blocks.append(text if asis else _fence(text, " {.output}"))
            elif kind in ("display_data", "execute_result"):
                self._rich_output(index, out_index, output, options)
            # "error" outputs: the build fails on errors before rendering.

    def _rich_output(self, index: int, out_index: int, output: Mapping[str, Any],
                     options: Mapping[str, Any]) -> None:
        data = output.get("data") or {}
        mime = next((m for m in MIME_PRIORITY if m in data), None)
        if mime is None:
            return
        value = _text(data[mime])
        if mime == "text/markdown":
            self.blocks.append(value)
        elif mime == "text/html":
            self.blocks.append(_fence(value, "{=html}"))
        elif mime in IMAGE_EXTENSIONS:
            path = self._write_asset(
                f"output-{index}-{out_index}.{IMAGE_EXTENSIONS[mime]}", mime, value
            )
            caption = str(options.get("fig-cap") or "")
            alt = str(options.get("fig-alt") or caption or "Figure")
            self.blocks.append(_image_markdown(path, caption, alt))
        elif value.strip() and not REPR_PATTERN.match(value.strip()):
            self.blocks.append(_fence(value, " {.output}"))

    def _write_asset(self, name: str, mime: str, value: Any) -> Path:
        path = self.asset_dir / name
        text = _text(value)
        if mime == "image/svg+xml":
            path.write_text(text, encoding="utf-8")
        else:
            path.write_bytes(base64.b64decode(text))
        return path


def _resolve_special_date(value: Any) -> Any:
    """Quarto's date keywords ("today", "now", "last-modified") as a British date."""
    if isinstance(value, str) and value.strip().lower() in ("today", "now", "last-modified"):
        today = dt.date.today()
        return f"{today.day} {today:%B %Y}"
    if isinstance(value, dt.date):
        return f"{value.day} {value:%B %Y}"
    return value


def escape_metadata(meta: Mapping[str, str]) -> dict[str, str]:
    """Override values are plain text (an authority's name in the title): pandoc and
    Quarto read metadata text fields as Markdown, so those are escaped; settings
    such as ``lang`` are passed as they are."""
    return {k: escape.markdown(v) if k in TEXT_METADATA else v for k, v in meta.items()}


def _pandoc_metadata(front: Mapping[str, Any], overrides: Mapping[str, str]) -> dict[str, Any]:
    meta = {k: v for k, v in front.items() if k not in QUARTO_ONLY_KEYS}
    meta.update(overrides)
    meta.setdefault("lang", DEFAULT_LANG)
    if "date" in meta:
        meta["date"] = _resolve_special_date(meta["date"])
    return meta


def build_markdown(notebook: Path, asset_dir: Path,
                   metadata: Mapping[str, str] | None = None) -> tuple[str, dict[str, Any]]:
    """Return (pandoc Markdown, metadata) for the reader-visible notebook content.

    Images embedded in outputs are written to ``asset_dir`` and referenced by
    absolute path; images referenced from Markdown stay relative to the
    notebook folder (pandoc runs there). Exposed for debugging and tests.
    """
    notebook = Path(notebook).resolve()
    assembler = _Assembler(notebook, asset_dir)
    assembler.run(_read_notebook(notebook))
    meta = _pandoc_metadata(assembler.meta, metadata or {})
    written = {**meta, **escape_metadata({k: meta[k] for k in (metadata or {}) if k in meta})}
    header = yaml.safe_dump(written, allow_unicode=True, sort_keys=False,
                            default_flow_style=False)
    body = "\n\n".join(block.strip("\n") for block in assembler.blocks)
    return f"---\n{header}---\n\n{body}\n", meta


# --------------------------------------------------------------------------
# pandoc + Typst renderer
# --------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _pandoc_path() -> str:
    import pypandoc

    try:
        return pypandoc.get_pandoc_path()
    except OSError as exc:  # pragma: no cover - pypandoc-binary is a dependency
        raise RenderError(f"pandoc not found: {_one_line(str(exc))}") from exc


#: GHC runtime options for pandoc's garbage collector. The pandoc binary is
#: built with ``-with-rtsopts=-H64m``: a 64 MB allocation area, which is
#: collected out of cache. A 4 MB one, with 32 MB for the old generation
#: before its first major collection, takes about a quarter less CPU to render a
#: briefing (docs/performance.md). They change how memory is managed, never the output.
PANDOC_RTS: tuple[str, ...] = ("+RTS", "-H4k", "-A4m", "-O32m", "-RTS")


@functools.lru_cache(maxsize=1)
def _pandoc_rts() -> tuple[str, ...]:
    """:data:`PANDOC_RTS` when this pandoc accepts runtime options, else nothing."""
    try:
        proc = subprocess.run([_pandoc_path(), *PANDOC_RTS, "--version"], capture_output=True,
                              timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ()
    return PANDOC_RTS if proc.returncode == 0 else ()


@functools.lru_cache(maxsize=1)
def _typst_fonts() -> Any:
    """Fonts for Typst: its embedded ones plus matplotlib's DejaVu family.

    System fonts are ignored so that every machine lays the PDF out the same
    way, and loading the font set once per process keeps each compile fast.
    """
    import typst

    return typst.Fonts(include_system_fonts=False, include_embedded_fonts=True,
                       font_paths=[str(p) for p in _font_dirs()])


@functools.lru_cache(maxsize=1)
def _font_dirs() -> tuple[Path, ...]:
    """matplotlib's bundled DejaVu fonts: the house font on both routes."""
    import importlib.util

    # Located without importing matplotlib (that import alone costs ~0.2 s).
    spec = importlib.util.find_spec("matplotlib")
    if spec is not None and spec.origin:
        font_dir = Path(spec.origin).parent / "mpl-data" / "fonts" / "ttf"
        if font_dir.is_dir():
            return (font_dir,)
    return ()


def _source_date_epoch(meta: Mapping[str, Any]) -> int | None:
    """Timestamp embedded in PDF/DOCX metadata: SOURCE_DATE_EPOCH, else an ISO ``date``.

    A fixed timestamp makes repeated renders of the same notebook byte-identical.
    """
    env = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if env.isdigit():
        return int(env)
    value = meta.get("date")
    if isinstance(value, dt.date):
        value = value.isoformat()
    if not isinstance(value, str):
        return None
    day: dt.date | None = None
    try:
        day = dt.date.fromisoformat(value.strip()[:10])
    except ValueError:
        try:  # the British form _resolve_special_date writes, e.g. "1 March 2024"
            day = dt.datetime.strptime(value.strip(), "%d %B %Y").date()
        except ValueError:
            return None
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc).timestamp())


def _one_line(text: str, limit: int = 300) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    message = " | ".join(lines[:3]) if lines else "no details"
    return message if len(message) <= limit else message[: limit - 1] + "…"


def _pandoc_process(args: list[str], markdown: str, cwd: Path, env: Mapping[str, str],
                    notebook: Path, fmt: str,
                    filters: Sequence[Path] = ()) -> subprocess.CompletedProcess[bytes]:
    """Run pandoc on ``markdown`` with the house filter (after ``filters``), in ``cwd``."""
    lua = [a for f in (*filters, LUA_FILTER) for a in ("--lua-filter", str(f))]
    cmd = [_pandoc_path(), *_pandoc_rts(), "--from", PANDOC_MARKDOWN, *lua,
           "--resource-path", str(cwd), *args]
    try:
        return subprocess.run(cmd, input=markdown.encode("utf-8"), cwd=cwd, env=dict(env),
                              capture_output=True, timeout=TIMEOUT_SECONDS, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RenderError(f"{notebook}: {fmt} rendering failed: {_one_line(str(exc))}") from exc


def _missing_resources(stderr: str) -> list[str]:
    """pandoc's warnings about images it could not read.

    pandoc only warns about a missing image and then links to it (HTML) or
    drops it (Word); either way the briefing would be wrong, so it fails.
    """
    return [ln for ln in stderr.splitlines() if "Could not fetch resource" in ln]


def _run_pandoc(args: list[str], markdown: str, cwd: Path, env: Mapping[str, str],
                notebook: Path, fmt: str) -> bytes:
    proc = _pandoc_process(args, markdown, cwd, env, notebook, fmt)
    stderr = proc.stderr.decode("utf-8", "replace")
    if proc.returncode != 0:
        raise RenderError(f"{notebook}: {fmt} rendering failed (pandoc): {_one_line(stderr)}")
    missing = _missing_resources(stderr)
    if missing:
        raise RenderError(f"{notebook}: {fmt} rendering failed (pandoc): {_one_line(missing[0])}")
    return proc.stdout


def _pandoc_args(fmt: str, ctx: _Context) -> list[str]:
    """The pandoc options that write ``fmt`` (Typst markup, on stdout, for "pdf")."""
    if fmt == "html":
        return ["--to", "html5", "--standalone", "--embed-resources",
                "--template", str(HTML_TEMPLATE), "--css", str(CSS_FILE), "--mathml",
                "--wrap", "none", "--output", str(ctx.temp["html"])]
    if fmt == "docx":
        return ["--to", "docx", "--reference-doc", str(REFERENCE_DOCX),
                "--output", str(ctx.temp["docx"])]
    return ["--to", "typst", "--standalone", "--template", str(TYPST_TEMPLATE), "--wrap", "none"]


def _render_html(markdown: str, ctx: _Context) -> None:
    _run_pandoc(_pandoc_args("html", ctx), markdown, ctx.cwd, ctx.env, ctx.notebook, "html")


def _render_docx(markdown: str, ctx: _Context) -> None:
    _run_pandoc(_pandoc_args("docx", ctx), markdown, ctx.cwd, ctx.env, ctx.notebook, "docx")


def _render_pdf(markdown: str, ctx: _Context) -> None:
    source = _run_pandoc(_pandoc_args("pdf", ctx), markdown, ctx.cwd, ctx.env,
                         ctx.notebook, "pdf")
    _compile_pdf(source, ctx)


def _compile_pdf(source: bytes, ctx: _Context) -> None:
    """Typst markup to ``ctx.temp["pdf"]``."""
    import typst

    # Image paths are made absolute by the Lua filter; Typst reads them
    # relative to its project root, so the root is the filesystem root.
    try:
        pdf = typst.compile(
            source, root=ctx.cwd.anchor, font_paths=_typst_fonts(), ignore_system_fonts=True,
            format="pdf", timestamp=ctx.epoch,
        )
    except Exception as exc:  # typst.TypstError and file errors
        detail = getattr(exc, "message", None) or str(exc)
        raise RenderError(
            f"{ctx.notebook}: pdf rendering failed (typst): {_one_line(str(detail))}"
        ) from exc
    ctx.temp["pdf"].write_bytes(pdf)


class _Context:
    """What each format's converter needs; one per render call."""

    def __init__(self, notebook: Path, cwd: Path, env: Mapping[str, str],
                 temp: dict[str, Path], epoch: int | None, scratch: Path) -> None:
        self.notebook = notebook
        self.cwd = cwd
        self.env = env
        self.temp = temp
        self.epoch = epoch
        self.scratch = scratch


_CONVERTERS: dict[str, Callable[[str, _Context], None]] = {
    "html": _render_html,
    "pdf": _render_pdf,
    "docx": _render_docx,
}

#: Marker the outputs filter writes to stderr when a format needs its own run.
_SEPARATE_RUN = "@@briefing-separate-run "
#: The Typst markup the outputs filter writes, in the render's scratch folder.
_TYPST_SOURCE = "typst-source.typ"


def _extra_output(fmt: str, ctx: _Context) -> dict[str, str]:
    """What the outputs filter needs to write ``fmt`` as ``pandoc`` + :func:`_pandoc_args` would."""
    if fmt == "docx":
        return {"format": "docx", "path": str(ctx.temp["docx"]), "wrap": "auto",
                "reference_doc": str(REFERENCE_DOCX), "outputfile": str(ctx.temp["docx"])}
    return {"format": "typst", "path": str(ctx.scratch / _TYPST_SOURCE), "wrap": "none",
            "template": str(TYPST_TEMPLATE), "outputfile": "-"}


def _render_together(markdown: str, ctx: _Context, formats: Sequence[str]) -> bool:
    """Write every format from one pandoc run; False if one run per format is needed.

    pandoc parses the Markdown once and writes its first format (HTML, else
    Typst, else Word) as the command line does; ``templates/briefing-outputs.lua``
    writes the others from the same parsed document, each as ``pandoc --to``
    that format would (the house filter run for it, the same writer options).
    Whenever pandoc fails or warns about a missing image, the caller renders
    with one run per format instead, which reports the error exactly as before.
    """
    order = [fmt for fmt in FORMATS if fmt in formats]
    main, extra = order[0], order[1:]
    spec = {"filter": str(LUA_FILTER), "outputs": [_extra_output(f, ctx) for f in extra]}
    env = {**ctx.env, "BRIEFING_OUTPUTS": json.dumps(spec)}
    proc = _pandoc_process(_pandoc_args(main, ctx), markdown, ctx.cwd, env, ctx.notebook,
                           main, filters=[OUTPUTS_FILTER])
    stderr = proc.stderr.decode("utf-8", "replace")
    if proc.returncode != 0 or _missing_resources(stderr):
        return False
    if "pdf" in formats:
        try:
            source = proc.stdout if main == "pdf" else (ctx.scratch / _TYPST_SOURCE).read_bytes()
        except OSError:
            return False
        _compile_pdf(source, ctx)
    separate = {ln[len(_SEPARATE_RUN):].strip() for ln in stderr.splitlines()
                if ln.startswith(_SEPARATE_RUN)}
    if "docx" in separate:
        _render_docx(markdown, ctx)
    return True


def _temp_paths(out_dir: Path, stem: str, formats: Iterable[str]) -> dict[str, Path]:
    token = uuid.uuid4().hex[:12]
    return {fmt: out_dir / f".{stem}.{token}{EXTENSIONS[fmt]}.tmp" for fmt in formats}


def _commit(temp: Mapping[str, Path], out_dir: Path, stem: str) -> dict[str, Path]:
    final: dict[str, Path] = {}
    for fmt, path in temp.items():
        target = out_dir / f"{stem}{EXTENSIONS[fmt]}"
        os.replace(path, target)
        final[fmt] = target
    return final


def _cleanup(paths: Iterable[Path]) -> None:
    for path in paths:
        try:
            path.unlink()
        except FileNotFoundError:
            pass


def _render_separately(markdown: str, ctx: _Context,
                       formats: Sequence[str]) -> list[BaseException | None]:
    """One pandoc run per format, in parallel; each format's exception or None, in order."""
    # pandoc runs as separate processes and typst releases the GIL, so
    # threads give real parallelism across the formats.
    with ThreadPoolExecutor(max_workers=len(formats)) as pool:
        futures = [pool.submit(_CONVERTERS[fmt], markdown, ctx) for fmt in formats]
        return [f.exception() for f in futures]


def _render_group(markdown: str, ctx: _Context, formats: Sequence[str]
                  ) -> list[BaseException | None]:
    """``formats`` from one pandoc run when it can, else one run per format (their errors)."""
    if len(formats) > 1 and _render_together(markdown, ctx, formats):
        return []
    return _render_separately(markdown, ctx, formats)


def _format_groups(formats: Sequence[str], spare_core: bool) -> list[list[str]]:
    """How the formats are split between pandoc runs.

    One run for all (least work) unless a processor is idle: then the PDF,
    whose Typst compile follows pandoc's run, gets a run of its own beside
    the others' (about 0.47 -> 0.28 s for a briefing, 0.07 s more work).
    """
    formats = list(formats)
    if spare_core and "pdf" in formats and len(formats) > 1:
        return [[f for f in formats if f != "pdf"], ["pdf"]]
    return [formats]


def _render_with_pandoc(notebook: Path, out_dir: Path, stem: str, formats: list[str],
                        overrides: Mapping[str, str],
                        spare_core: bool = False) -> dict[str, Path]:
    temp = _temp_paths(out_dir, stem, formats)
    try:
        with tempfile.TemporaryDirectory(prefix="render-assets-") as asset_dir:
            try:
                markdown, meta = build_markdown(notebook, Path(asset_dir), overrides)
            except RenderError:
                raise
            except Exception as exc:
                raise RenderError(
                    f"{notebook}: cannot assemble the notebook content: {_one_line(str(exc))}"
                ) from exc
            epoch = _source_date_epoch(meta)
            env = dict(os.environ)
            if epoch is not None:
                env["SOURCE_DATE_EPOCH"] = str(epoch)
            ctx = _Context(notebook, notebook.parent, env, temp, epoch, Path(asset_dir))
            groups = _format_groups(formats, spare_core)
            if len(groups) == 1:
                errors = _render_group(markdown, ctx, groups[0])
            else:  # pandoc runs as a process and Typst releases the GIL: threads suffice
                with ThreadPoolExecutor(max_workers=len(groups)) as pool:
                    futures = [pool.submit(_render_group, markdown, ctx, g) for g in groups]
                    errors = [e for f in futures for e in f.result()]
            for error in errors:
                if error is not None:
                    if isinstance(error, RenderError):
                        raise error
                    raise RenderError(f"{notebook}: rendering failed: {_one_line(str(error))}")
            for fmt, path in temp.items():
                if not path.is_file() or path.stat().st_size == 0:
                    raise RenderError(f"{notebook}: {fmt} rendering produced no output")
            return _commit(temp, out_dir, stem)
    finally:
        _cleanup(temp.values())


# --------------------------------------------------------------------------
# Quarto renderer
# --------------------------------------------------------------------------


QUARTO_HTML_TEMPLATE = TEMPLATES / "quarto-briefing.html"
# Quarto parses a date it recognises and writes it in `date-format` (ISO by
# default): "1 December 2026" would become "2026-12-01". Day.js tokens.
QUARTO_DATE_FORMAT = "D MMMM YYYY"
# Lines of Quarto's stderr that carry the error itself (Quarto's "ERROR:",
# pandoc's "[WARNING]"/"Error", Typst's "error:" and its "┌─ file:line" pointer).
_QUARTO_ERROR_LINE = re.compile(
    r"^(ERROR|Error|error|\[ERROR\]|\[WARNING\]|WARNING|WARN|panic)\b|^\s*(┌─|hint:)|"
    r"\berror\b.*:", re.IGNORECASE)
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def quarto_command(quarto: str, notebook_name: str, formats: Sequence[str]) -> list[str]:
    """The ``quarto render`` command line for a notebook in the working directory.

    ``--no-execute``: the notebook is already executed (by Papermill) and must be
    rendered as it is. No ``-M``: Quarto forwards ``-M key:value`` to pandoc
    verbatim, so document metadata goes in the copy's front matter instead
    (:func:`quarto_front_matter`). No ``--quiet``: Quarto's, pandoc's and
    Typst's error lines are needed in the :class:`RenderError`.
    """
    targets = ",".join(QUARTO_FORMATS[fmt] for fmt in formats)
    return [quarto, "render", notebook_name, "--to", targets, "--no-execute"]


def typst_partials(out_dir: Path) -> list[Path]:
    """Write Quarto's Typst partials, cut from the pandoc route's template.

    ``typst-template.typ`` gets the house style (page, fonts, tables, colours)
    and ``typst-show.typ`` the title block, so a Quarto PDF looks like a
    pandoc + Typst one; Quarto keeps its own ``definitions.typ`` (callouts).
    """
    source = TYPST_TEMPLATE.read_text(encoding="utf-8")
    partials = []
    for marker, name in (("quarto-style", "typst-template.typ"),
                         ("quarto-title", "typst-show.typ")):
        match = re.search(rf"^// {marker}: begin\n(.*?)^// {marker}: end$", source, re.S | re.M)
        if match is None:  # pragma: no cover - guarded by a test on the template
            raise RenderError(f"{TYPST_TEMPLATE}: no '// {marker}: begin/end' section")
        path = out_dir / name
        path.write_text(f"// Generated by analysis/pipeline/render.py from {TYPST_TEMPLATE.name}.\n"
                        + match.group(1), encoding="utf-8")
        partials.append(path)
    return partials


def quarto_filter(out_dir: Path) -> Path:
    """The project's Lua filter, copied beside the copy Quarto renders.

    On Quarto it renders only the callouts (as the pandoc route does); a
    relative path because Quarto reads "/..." paths as project-relative.
    """
    path = out_dir / LUA_FILTER.name
    shutil.copyfile(LUA_FILTER, path)
    return path


def quarto_front_matter(front: Mapping[str, Any], overrides: Mapping[str, str],
                        formats: Sequence[str], partials: Sequence[Path],
                        lua_filter: Path | None = None) -> dict[str, Any]:
    """The front matter of the copy Quarto renders: metadata plus the house formats.

    The notebook's own keys are kept (``execute`` and the like), the build's
    ``overrides`` (title, date, ...) replace them, and ``format`` is replaced by
    the project's look, set with documented Quarto options only: a page
    template and the CSS for HTML (self-contained, no "Other Formats" links:
    the outputs are renamed afterwards, so such links would be broken), the
    Typst partials for PDF, the reference document for Word.
    """
    meta = dict(front)
    meta.update(overrides)
    meta.setdefault("lang", DEFAULT_LANG)
    if "date" in meta:
        meta["date"] = _resolve_special_date(meta["date"])
        meta.setdefault("date-format", QUARTO_DATE_FORMAT)
    execute = dict(meta.get("execute") or {})
    execute.setdefault("echo", False)
    meta["execute"] = execute
    fonts = [str(p) for p in _font_dirs()]
    options: dict[str, dict[str, Any]] = {
        "html": {
            "minimal": True,
            "template": str(QUARTO_HTML_TEMPLATE),
            "css": [str(CSS_FILE)],
            "embed-resources": True,
            "format-links": False,
            "html-math-method": "mathml",
            "wrap": "none",
        },
        "typst": {
            "template-partials": [str(p) for p in partials],
            # Quarto lifts "##" to a level-1 heading in Typst when a document has
            # no "#" heading (src/format/typst/format-typst.ts); pandoc does not.
            "shift-heading-level-by": 0,
            "wrap": "none",
            "keep-typ": False,
            **({"font-paths": fonts} if fonts else {}),
        },
        "docx": {"reference-doc": str(REFERENCE_DOCX)},
    }
    if lua_filter is not None:
        for fmt_options in options.values():
            fmt_options["filters"] = [str(lua_filter)]
    meta["format"] = {QUARTO_FORMATS[fmt]: options[QUARTO_FORMATS[fmt]] for fmt in formats}
    return meta


def _quarto_notebook(nb: dict[str, Any], front: Mapping[str, Any]) -> dict[str, Any]:
    """The notebook with ``front`` as its first raw cell (a list of lines, as Jupyter writes)."""
    text = "---\n" + yaml.safe_dump(dict(front), allow_unicode=True, sort_keys=False,
                                      default_flow_style=False) + "---\n"
    cell = {"cell_type": "raw", "metadata": {"raw_mimetype": "text/markdown"},
            "source": text.splitlines(keepends=True)}
    cells = list(nb.get("cells", []))
    if cells and cells[0].get("cell_type") == "raw" and \
            _front_matter(_text(cells[0].get("source"))) is not None:
        cells = cells[1:]
    copy = dict(nb)
    copy["cells"] = [cell, *_label_notebook_tables([_quarto_cell(c) for c in cells])]
    return copy


_TABLE_CAPTION = re.compile(r"^(:|Table:)\s+(?P<text>\S.*?)\s*$")


def label_table_captions(markdown: str, start: int = 0) -> tuple[str, int]:
    """Give each captioned, unlabelled pipe table a ``tbl-`` label; return text and count.

    Quarto removes the caption of a table without a ``tbl-`` label while it
    parses tables (src/resources/filters/quarto-pre/parsefiguredivs.lua), so
    the PDF would lose every caption the pandoc route shows ("Table 1: ...").
    Only a caption line that follows a table (after a blank line) is labelled.
    """
    lines = markdown.split("\n")
    count = start
    for i, line in enumerate(lines):
        match = _TABLE_CAPTION.match(line)
        if not match or "{#" in line:
            continue
        before = [ln for ln in lines[max(0, i - 2):i] if ln.strip()]
        if before and before[-1].lstrip().startswith("|"):
            count += 1
            lines[i] = f"{line.rstrip()} {{#tbl-briefing-{count}}}"
    return "\n".join(lines), count


def _label_notebook_tables(cells: list[dict[str, Any]]) -> list[dict[str, Any]]:
    count = 0
    labelled = []
    for cell in cells:
        if cell.get("cell_type") == "markdown":
            text, count = label_table_captions(_text(cell.get("source")), count)
            cell = {**cell, "source": text.splitlines(keepends=True)}
        elif cell.get("cell_type") == "code" and cell.get("outputs"):
            outputs = []
            for output in cell["outputs"]:
                data = output.get("data") or {}
                if "text/markdown" in data:
                    text, count = label_table_captions(_text(data["text/markdown"]), count)
                    output = {**output, "data": {**data, "text/markdown": text}}
                outputs.append(output)
            cell = {**cell, "outputs": outputs}
        labelled.append(cell)
    return labelled


def _quarto_cell(cell: dict[str, Any]) -> dict[str, Any]:
    """A cell as Quarto should see it: tags only, static HTML outputs as Markdown.

    Papermill's metadata (timings) would reach the HTML as data attributes.
    Script-free ``text/html`` outputs (pandas tables) become raw HTML in
    Markdown: Quarto treats any ``text/html`` output as a possible JavaScript widget and
    then loads require.js and jQuery from a CDN into the page
    (src/core/jupyter/widgets.ts); a briefing must load nothing from outside.
    As a raw HTML block the table still reaches every format.
    """
    tags = (cell.get("metadata") or {}).get("tags")
    cell = {**cell, "metadata": {"tags": tags} if tags else {}}
    if cell.get("cell_type") != "code" or not cell.get("outputs"):
        return cell
    outputs = []
    for output in cell["outputs"]:
        data = output.get("data") or {}
        html_text = _text(data.get("text/html")) if "text/html" in data else ""
        if html_text and "text/markdown" not in data and "<script" not in html_text.lower():
            output = {**output, "data": {"text/markdown": _fence(html_text, "{=html}")}}
        outputs.append(output)
    return {**cell, "outputs": outputs}


def quarto_error_detail(stderr: str, limit: int = 600) -> str:
    """The error lines of a failed ``quarto render`` as one line, never empty.

    Without ``--quiet`` Quarto also prints its progress (the pandoc options it
    uses, "[typst]: Compiling ..."), so the lines that say what went wrong are
    picked out; when none matches, the last lines are given.
    """
    lines = [ln.rstrip() for ln in _ANSI.sub("", stderr).splitlines() if ln.strip()]
    picked = [ln.strip() for ln in lines if _QUARTO_ERROR_LINE.search(ln)]
    if not picked:
        picked = [ln.strip() for ln in lines[-3:]]
    message = " | ".join(dict.fromkeys(picked))
    if not message:
        return "quarto exited with an error and printed nothing"
    return message if len(message) <= limit else message[: limit - 1] + "…"


def _quarto_failure(notebook: Path, formats: Sequence[str], detail: str,
                    log: str = "") -> RenderError:
    return RenderError(
        f"{notebook}: {','.join(formats)} rendering failed (quarto; RENDERER=pandoc "
        f"renders with pandoc + Typst instead): {detail}",
        log,
    )


def _render_with_quarto(notebook: Path, out_dir: Path, stem: str, formats: list[str],
                        overrides: Mapping[str, str]) -> dict[str, Path]:
    """Render with Quarto on a private copy of the notebook.

    Quarto writes its outputs next to the input, named after it (``--output``
    cannot take a path and ``--output-dir`` needs a project), so the notebook
    is copied under a unique name *in its own folder* (relative figure paths
    keep working), with the metadata and the house formats in its front
    matter, rendered there, and the results are moved into ``out_dir``.
    """
    quarto = shutil.which("quarto")
    if quarto is None:
        raise RenderError(f"{notebook}: quarto not found on PATH")
    nb = _read_notebook(notebook)
    cells = nb.get("cells") or []
    front: dict[str, Any] = {}
    if cells and cells[0].get("cell_type") == "raw":
        front = _front_matter(_text(cells[0].get("source"))) or {}
    # Not a dot-file: Quarto skips hidden and _-prefixed files inside projects.
    work_name = f"{notebook.stem}-render-{uuid.uuid4().hex[:12]}"
    copy = notebook.parent / f"{work_name}.ipynb"
    produced = {fmt: notebook.parent / f"{work_name}{EXTENSIONS[fmt]}" for fmt in formats}
    leftovers = [copy, notebook.parent / f"{work_name}.typ", notebook.parent / f"{work_name}.md",
                 notebook.parent / f"{work_name}.quarto_ipynb"]
    partial_dir = notebook.parent / f"{work_name}_partials"
    temp = _temp_paths(out_dir, stem, formats)
    env = dict(os.environ)
    try:
        # Quarto reads an absolute template-partials path as relative to the
        # (single-file) project folder, so the partials sit beside the copy and
        # are named relative to it (src/command/render/template.ts).
        partial_dir.mkdir()
        partials = [p.relative_to(notebook.parent) for p in typst_partials(partial_dir)]
        lua_filter = quarto_filter(partial_dir).relative_to(notebook.parent)
        meta = quarto_front_matter(front, escape_metadata(overrides), formats, partials,
                                   lua_filter)
        epoch = _source_date_epoch(meta)
        if epoch is not None and "SOURCE_DATE_EPOCH" not in env:
            env["SOURCE_DATE_EPOCH"] = str(epoch)
        copy.write_text(json.dumps(_quarto_notebook(nb, meta), ensure_ascii=False, indent=1),
                        encoding="utf-8")
        cmd = quarto_command(quarto, copy.name, formats)
        try:
            proc = subprocess.run(cmd, cwd=notebook.parent, env=env, capture_output=True,
                                  timeout=TIMEOUT_SECONDS, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise _quarto_failure(notebook, formats, _one_line(str(exc))) from exc
        stderr = proc.stderr.decode("utf-8", "replace")
        stdout = proc.stdout.decode("utf-8", "replace")
        log = _ANSI.sub("", f"$ {' '.join(cmd)}\n{stderr}{stdout}")
        if proc.returncode != 0:
            raise _quarto_failure(notebook, formats,
                                  quarto_error_detail(stderr + "\n" + stdout), log)
        for fmt, path in produced.items():
            if not path.is_file() or path.stat().st_size == 0:
                raise _quarto_failure(
                    notebook, formats,
                    f"no {path.name} was written; " + quarto_error_detail(stderr), log)
            shutil.move(str(path), temp[fmt])  # same filesystem: a rename
        return _commit(temp, out_dir, stem)
    finally:
        _cleanup([*leftovers, *produced.values(), *temp.values()])
        shutil.rmtree(notebook.parent / f"{work_name}_files", ignore_errors=True)
        shutil.rmtree(partial_dir, ignore_errors=True)


# --------------------------------------------------------------------------
# Index page
# --------------------------------------------------------------------------

FORMAT_LABELS = {"html": "web page", "pdf": "PDF", "docx": "Word"}

_INDEX_TEMPLATE = string.Template(
    """<!DOCTYPE html>
<html lang="en-GB">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>$title</title>
<style>
$css
</style>
</head>
<body>
<a class="skip-link" href="#content">Skip to main content</a>
<header class="page-header">
<h1 class="title">$title</h1>
<p class="subtitle">$summary</p>
</header>
<main id="content">
<form class="finder" role="search" onsubmit="return false">
<label for="find">Find an authority by name</label>
<input type="search" id="find" name="find" autocomplete="off" spellcheck="false"
 aria-describedby="find-count">
<p id="find-count" role="status" aria-live="polite">$total authorities listed.</p>
</form>
<table id="briefings">
<caption>Briefings by local authority, with the survey year each one covers and
the formats it comes in</caption>
<thead>
<tr>
<th scope="col">Briefing</th>
<th scope="col">Survey year</th>
<th scope="col">Director's briefing</th>
<th scope="col">Young people's version</th>
<th scope="col">Status</th>
</tr>
</thead>
<tbody>
$rows
</tbody>
</table>
<p id="find-none" hidden>No authority has that name. Check the spelling, or clear the box
to see them all.</p>
</main>
<script>
$script
</script>
</body>
</html>
"""
)


@functools.lru_cache(maxsize=1)
def _read_css() -> str:
    return CSS_FILE.read_text(encoding="utf-8")


_INDEX_CSS = """
.finder { margin: 0 0 1rem; }
.finder label { display: block; font-weight: bold; margin-bottom: 0.25rem; }
.finder input { font-size: 1.1rem; padding: 0.35rem 0.5rem; width: min(24rem, 100%);
  border: 2px solid #0b0c0c; }
.finder input:focus { outline: 3px solid #ffdd00; outline-offset: 0; }
#find-count { margin: 0.4rem 0 0; }
"""

# Filters rows by their data-name (lower case, accents removed in Python); the
# query is normalised the same way. No network, no library.
_INDEX_SCRIPT = """(function () {
  var box = document.getElementById("find");
  var count = document.getElementById("find-count");
  var none = document.getElementById("find-none");
  var rows = Array.prototype.slice.call(
    document.querySelectorAll("#briefings tbody tr[data-name]"));
  function norm(text) {
    return text.normalize("NFD").replace(/[\\u0300-\\u036f]/g, "").toLowerCase()
      .replace(/[^a-z0-9]+/g, " ").trim();
  }
  function filter() {
    var words = norm(box.value).split(" ").filter(Boolean);
    var shown = 0;
    rows.forEach(function (row) {
      var name = row.getAttribute("data-name");
      var hit = words.every(function (w) { return name.indexOf(w) !== -1; });
      row.hidden = !hit;
      if (hit) { shown += 1; }
    });
    none.hidden = shown > 0;
    count.textContent = words.length ? shown + " of " + rows.length +
      " authorities match \u201c" + box.value.trim() + "\u201d." :
      rows.length + " authorities listed.";
  }
  box.addEventListener("input", filter);
  filter();
})();"""


def _search_name(name: str) -> str:
    """The name as the search box compares it: lower case, no accents, words only."""
    import unicodedata

    plain = unicodedata.normalize("NFKD", name)
    plain = "".join(c for c in plain if not unicodedata.combining(c)).lower()
    return " ".join(re.findall(r"[a-z0-9]+", plain))


def _format_links(label: str, formats: Mapping[str, Any] | None) -> str:
    links = []
    for fmt, href in (formats or {}).items():
        if not href:
            continue
        fmt_label = FORMAT_LABELS.get(fmt, str(fmt).upper())
        links.append(
            f'<li><a href="{html.escape(str(href), quote=True)}">'
            f"{html.escape(label)} ({html.escape(fmt_label)})</a></li>"
        )
    return f'<ul class="format-links">{"".join(links)}</ul>' if links else "None"


def _index_row(entry: Mapping[str, Any]) -> str:
    name = str(entry.get("name") or entry.get("slug") or "Unnamed")
    national = str(entry.get("slug")) == "national"
    label = name if national or name.lower().endswith("briefing") else f"{name} briefing"
    year = entry.get("survey_year")
    year_text = html.escape(str(year)) if year not in (None, "") else "All years"
    status = str(entry.get("status", "built"))
    links_html = _format_links(label, entry.get("formats"))
    young_html = ("Not applicable" if national else
                  _format_links(f"{name}: young people's version", entry.get("young_people")))
    if status == "built":
        status_html = "Built"
    else:
        status_html = '<span class="status-failed">Not built</span>'
    note = entry.get("note")
    if note:
        status_html += f": {html.escape(str(note))}"
    search = "" if national else f' data-name="{html.escape(_search_name(name), quote=True)}"'
    return (
        f'<tr{search}><th scope="row">{html.escape(name)}</th><td>{year_text}</td>'
        f"<td>{links_html}</td><td>{young_html}</td><td>{status_html}</td></tr>"
    )

