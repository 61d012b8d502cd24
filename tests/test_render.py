"""Tests for analysis.pipeline.render: notebook -> self-contained HTML, PDF and Word.

A small notebook is built programmatically with every kind of content the
briefings use (front matter, callouts, Markdown outputs with a table and an
image with fig-alt, an HTML table, hidden code, stderr noise), rendered once
through the pandoc + Typst path, and each output is inspected.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import re
import shutil
import stat
import sys
import time
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import docx
import matplotlib
import nbformat
import pandas as pd
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output, new_raw_cell
from pypdf import PdfReader

from analysis.pipeline import render as render_module
from analysis.pipeline.render import (
    FORMATS,
    RenderError,
    available_renderer,
    build_markdown,
    label_table_captions,
    quarto_error_detail,
    render_index,
    render_notebook,
    typst_partials,
)

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (backend must be chosen first)

SECRET = "SECRET_SOURCE_MARKER_42"
HEADING = "Key findings for children"
ALT_TEXT = "Bar chart: happy 81 per cent, safe 90 per cent, listened to 64 per cent"
CAPTION = "Three indicators compared"
NOTE_TITLE = "About this briefing"
NOTE_TEXT = "The figures come from the survey of children in care."
IMPORTANT_TITLE = "Small numbers"
WARNING_TEXT = "UserWarning: noisy library warning"
TITLE = "Northbridge: well-being briefing"
FRONT_MATTER = """---
title: "Well-being briefing"
subtitle: "Children in care"
format:
  html:
    embed-resources: true
  typst: default
  docx: default
execute:
  echo: false
---"""
MARKDOWN_OUTPUT = f"""## {HEADING}

Most children said they were happy.

| Indicator | This authority | Other authorities |
|---|---:|---:|
| Happy | 81.2 | 78.9 |
| Safe | 90.1 | 88.0 |

![{CAPTION}](figures/chart.png){{fig-alt="{ALT_TEXT}"}}
"""


def make_briefing_notebook(folder: Path, *, image: str = "figures/chart.png") -> Path:
    """Write a small executed briefing notebook (and its figure) into ``folder``."""
    (folder / "figures").mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(4, 2.5))
    ax.bar(["Happy", "Safe", "Listened to"], [81, 90, 64], color="#1d4f91")
    ax.set_ylabel("Per cent")
    fig.savefig(folder / "figures" / "chart.png", dpi=80)
    plt.close(fig)

    table = pd.DataFrame(
        {"Measure": ["Low life satisfaction", "Low overall well-being"], "Per cent": [12.3, 9.8]}
    )
    markdown = MARKDOWN_OUTPUT.replace("figures/chart.png", image)
    nb = new_notebook(
        cells=[
            new_raw_cell(FRONT_MATTER),
            new_markdown_cell(
                "::: {.callout-note}\n"
                f"## {NOTE_TITLE}\n"
                f"{NOTE_TEXT}\n"
                ":::\n\n"
                f'::: {{.callout-important title="{IMPORTANT_TITLE}"}}\n'
                "Some values are suppressed because the base is under 10.\n"
                ":::\n"
            ),
            new_code_cell(
                f"{SECRET} = 1 + 1\nfrom IPython.display import Markdown\nMarkdown(text)",
                outputs=[
                    new_output("stream", name="stderr", text=WARNING_TEXT + "\n"),
                    new_output(
                        "display_data",
                        data={
                            "text/markdown": markdown,
                            "text/plain": "<IPython.core.display.Markdown object>",
                        },
                    ),
                ],
            ),
            new_code_cell(
                f"# {SECRET} again\ntable.style.hide(axis='index')",
                outputs=[
                    new_output(
                        "execute_result",
                        data={
                            "text/html": table.to_html(index=False),
                            "text/plain": table.to_string(),
                        },
                        execution_count=3,
                    )
                ],
            ),
            new_code_cell(
                f"{SECRET}\n",
                outputs=[
                    new_output(
                        "execute_result",
                        data={"text/plain": "<Figure size 640x480 with 1 Axes>"},
                        execution_count=4,
                    )
                ],
            ),
        ]
    )
    nbformat.validate(nb)
    path = folder / "briefing.ipynb"
    nbformat.write(nb, path)
    return path


class _CalloutText(HTMLParser):
    """Collects the text inside elements whose class list contains "callout"."""

    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
            "source", "track", "wbr"}

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[bool] = []
        self.texts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.VOID:
            return
        classes = (dict(attrs).get("class") or "").split()
        self.stack.append("callout" in classes)

    def handle_endtag(self, tag: str) -> None:
        if tag not in self.VOID and self.stack:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        if any(self.stack):
            self.texts.append(data)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """Render the test notebook once via pandoc; report the time per format."""
    folder = tmp_path_factory.mktemp("nb")
    notebook = make_briefing_notebook(folder)
    out_dir = tmp_path_factory.mktemp("out")
    timings = {}
    for fmt in ("html", "pdf", "docx"):
        start = time.perf_counter()
        render_notebook(notebook, out_dir / fmt, formats=[fmt], renderer="pandoc",
                        metadata={"title": TITLE})
        timings[fmt] = time.perf_counter() - start
    start = time.perf_counter()
    paths = render_notebook(notebook, out_dir, renderer="pandoc", metadata={"title": TITLE})
    timings["all three"] = time.perf_counter() - start
    print("render timings (s):", {k: round(v, 3) for k, v in timings.items()})
    yield {"notebook": notebook, "out_dir": out_dir, "paths": paths, "timings": timings}


def test_outputs_exist_with_stem_names(rendered: dict) -> None:
    out_dir = rendered["out_dir"]
    assert rendered["paths"] == {
        "html": out_dir / "briefing.html",
        "pdf": out_dir / "briefing.pdf",
        "docx": out_dir / "briefing.docx",
    }
    for path in rendered["paths"].values():
        assert path.is_file() and path.stat().st_size > 1000
    leftovers = [p.name for p in out_dir.iterdir() if p.name.startswith(".")]
    assert leftovers == []


def test_html_is_self_contained(rendered: dict) -> None:
    page = rendered["paths"]["html"].read_text(encoding="utf-8")
    assert 'src="http' not in page and "src='http" not in page
    assert 'href="http' not in page
    assert "<script src" not in page.lower()
    assert not re.search(r"<link[^>]+stylesheet", page, re.I)
    assert "mathjax" not in page.lower()
    assert "@import" not in page and "url(http" not in page
    sources = re.findall(r'<img[^>]*\ssrc="([^"]*)"', page)
    assert sources, "the chart should be in the page"
    assert all(src.startswith("data:image/") for src in sources)


def test_html_structure_and_metadata(rendered: dict) -> None:
    page = rendered["paths"]["html"].read_text(encoding="utf-8")
    assert '<html lang="en-GB">' in page
    assert "<title>Northbridge: well-being briefing</title>" in page
    assert "<main" in page and "</main>" in page
    assert '<h1 class="title">Northbridge: well-being briefing</h1>' in page
    levels = [int(n) for n in re.findall(r"<h([1-6])", page)]
    assert levels[0] == 1
    assert all(b - a <= 1 for a, b in itertools.pairwise(levels)), levels


def test_html_image_alt_text(rendered: dict) -> None:
    page = rendered["paths"]["html"].read_text(encoding="utf-8")
    assert f'alt="{ALT_TEXT}"' in page
    assert CAPTION in page


def test_html_tables_have_header_cells(rendered: dict) -> None:
    page = rendered["paths"]["html"].read_text(encoding="utf-8")
    tables = re.findall(r"<table.*?</table>", page, re.S)
    assert len(tables) == 2
    for table in tables:
        assert "<thead>" in table and "<th" in table
    assert "Low life satisfaction" in tables[1]
    assert "<style" not in page.split("</head>")[1]  # pandas' inline CSS is gone


def test_code_and_noise_are_hidden(rendered: dict) -> None:
    page = rendered["paths"]["html"].read_text(encoding="utf-8")
    pdf_text = "\n".join(p.extract_text() for p in PdfReader(rendered["paths"]["pdf"]).pages)
    document = docx.Document(str(rendered["paths"]["docx"]))
    docx_text = "\n".join(p.text for p in document.paragraphs)
    for text in (page, pdf_text, docx_text):
        assert SECRET not in text
        assert "import Markdown" not in text
        assert WARNING_TEXT not in text
        assert "<Figure size" not in text and "&lt;Figure size" not in text


def test_html_callouts_are_boxed(rendered: dict) -> None:
    page = rendered["paths"]["html"].read_text(encoding="utf-8")
    parser = _CalloutText()
    parser.feed(page)
    inside = " ".join(" ".join(parser.texts).split())
    assert NOTE_TITLE in inside and NOTE_TEXT in inside and IMPORTANT_TITLE in inside
    assert 'class="callout callout-note"' in page
    assert 'class="callout callout-important"' in page
    # The callout title is not a heading (it would break the outline).
    assert not re.search(rf"<h\d[^>]*>{NOTE_TITLE}", page)


def test_pdf(rendered: dict) -> None:
    reader = PdfReader(rendered["paths"]["pdf"])
    assert len(reader.pages) >= 1
    text = "\n".join(page.extract_text() for page in reader.pages)
    assert HEADING in text
    assert NOTE_TITLE in text and IMPORTANT_TITLE in text
    assert "Low life satisfaction" in text
    assert "Page 1 of" in text
    assert reader.metadata.title == TITLE
    width, height = reader.pages[0].mediabox.width, reader.pages[0].mediabox.height
    assert abs(float(width) - 595.3) < 1 and abs(float(height) - 841.9) < 1  # A4


def test_docx(rendered: dict) -> None:
    document = docx.Document(str(rendered["paths"]["docx"]))
    paragraphs = [(p.style.name, p.text) for p in document.paragraphs]
    assert ("Title", TITLE) in paragraphs
    assert ("Heading 2", HEADING) in paragraphs
    assert ("Callout Title", NOTE_TITLE) in paragraphs
    assert ("Callout", NOTE_TEXT) in paragraphs
    assert len(document.tables) == 2
    first = document.tables[0]
    assert [c.text for c in first.rows[0].cells] == ["Indicator", "This authority",
                                                     "Other authorities"]
    assert first.rows[1].cells[1].text == "81.2"
    assert "Low life satisfaction" in [c.text for c in document.tables[1].columns[0].cells]
    body_xml = document.element.xml
    assert f'descr="{ALT_TEXT}"' in body_xml


def test_metadata_fills_front_matter(tmp_path: Path) -> None:
    notebook = make_briefing_notebook(tmp_path)
    markdown, meta = build_markdown(notebook, tmp_path, {"title": "St. Aldwyn & Marsh"})
    assert meta["title"] == "St. Aldwyn & Marsh"
    assert meta["subtitle"] == "Children in care"
    assert meta["lang"] == "en-GB"
    assert "format" not in meta and "execute" not in meta
    assert SECRET not in markdown


def test_cell_options_and_other_outputs(tmp_path: Path) -> None:
    make_briefing_notebook(tmp_path)
    encoded = base64.b64encode((tmp_path / "figures" / "chart.png").read_bytes()).decode()
    nb = new_notebook(cells=[
        new_raw_cell(FRONT_MATTER),
        new_code_cell("#| fig-alt: Inline chart alt\n#| fig-cap: Inline chart\nplot()",
                      outputs=[new_output("display_data", data={"image/png": encoded,
                                                                "text/plain": "<Figure>"})]),
        new_code_cell("#| include: false\nprint('hidden')",
                      outputs=[new_output("stream", name="stdout", text="HIDDEN_PRINT\n")]),
        new_code_cell("#| output: asis\nprint('**bold**')",
                      outputs=[new_output("stream", name="stdout", text="**ASIS_BOLD**\n")]),
        new_code_cell("print('x')", outputs=[new_output("stream", name="stdout",
                                                        text="VISIBLE_PRINT\n")]),
        new_code_cell("x", metadata={"tags": ["remove-cell"]},
                      outputs=[new_output("stream", name="stdout", text="REMOVED_CELL\n")]),
    ])
    notebook = tmp_path / "options.ipynb"
    nbformat.write(nb, notebook)
    paths = render_notebook(notebook, tmp_path / "out", formats=["html", "pdf"],
                            renderer="pandoc", metadata={"date": "2024-03-01"})
    page = paths["html"].read_text(encoding="utf-8")
    assert 'alt="Inline chart alt"' in page and "<figcaption>Inline chart</figcaption>" in page
    assert "HIDDEN_PRINT" not in page and "REMOVED_CELL" not in page
    assert "<strong>ASIS_BOLD</strong>" in page
    assert "VISIBLE_PRINT" in page
    assert re.search(r'<img[^>]*src="data:image/png', page)
    reader = PdfReader(paths["pdf"])
    assert "Inline chart" in reader.pages[0].extract_text()
    assert reader.metadata["/CreationDate"].startswith("D:20240301")


def test_render_is_deterministic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    notebook = make_briefing_notebook(tmp_path / "nb")
    first = render_notebook(notebook, tmp_path / "a", renderer="pandoc")
    second = render_notebook(notebook, tmp_path / "b", renderer="pandoc")
    for fmt in ("html", "pdf", "docx"):
        assert first[fmt].read_bytes() == second[fmt].read_bytes(), fmt


def _count_pandoc_runs(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Record the options of every pandoc run the renderer makes."""
    runs: list[list[str]] = []
    real = render_module._pandoc_process

    def spy(args: list[str], *rest: object, **kwargs: object) -> object:
        runs.append(list(args))
        return real(args, *rest, **kwargs)

    monkeypatch.setattr(render_module, "_pandoc_process", spy)
    return runs


def _one_run_per_format(monkeypatch: pytest.MonkeyPatch) -> None:
    """The renderer as it was: one pandoc run per format, pandoc's own runtime options."""
    monkeypatch.setattr(render_module, "_render_together", lambda *args: False)
    monkeypatch.setattr(render_module, "_pandoc_rts", lambda: ())


def _svg_notebook(folder: Path) -> Path:
    """The test briefing with an SVG chart added (pandoc gives SVGs PNG fallbacks in Word)."""
    notebook = make_briefing_notebook(folder)
    (folder / "figures" / "bar.svg").write_text(
        '<svg xmlns="http://www.w3.org/2000/svg" width="40" height="20">'
        '<rect width="40" height="20" fill="#1d4f91"/></svg>', encoding="utf-8")
    nb = nbformat.read(notebook, as_version=4)
    nb.cells.append(new_markdown_cell('![A bar](figures/bar.svg){fig-alt="A blue bar"}'))
    nbformat.write(nb, notebook)
    return notebook


@pytest.mark.parametrize("formats", [("html", "pdf", "docx"), ("pdf", "docx"), ("html", "docx")])
def test_one_pandoc_run_writes_what_one_run_per_format_writes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, formats: tuple[str, ...]) -> None:
    """pandoc parses the document once and writes every format (templates/briefing-outputs.lua);
    the files are byte for byte those of one pandoc run per format (the renderer before)."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    notebook = make_briefing_notebook(tmp_path / "nb")
    runs = _count_pandoc_runs(monkeypatch)
    together = render_notebook(notebook, tmp_path / "together", formats=formats,
                               renderer="pandoc", metadata={"title": TITLE})
    assert len(runs) == 1
    _one_run_per_format(monkeypatch)
    separate = render_notebook(notebook, tmp_path / "separate", formats=formats,
                               renderer="pandoc", metadata={"title": TITLE})
    assert len(runs) == 1 + len(formats)
    for fmt in formats:
        assert together[fmt].read_bytes() == separate[fmt].read_bytes(), fmt


@pytest.mark.parametrize("formats", [("html", "pdf", "docx"), ("pdf", "docx"), ("html", "docx")])
def test_a_spare_core_writes_the_pdf_in_its_own_run_and_the_same_files(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, formats: tuple[str, ...]) -> None:
    """With a processor idle the PDF gets a pandoc run of its own, beside the others' one run
    (two runs at once, not one after the other); every file is byte for byte the same."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    notebook = make_briefing_notebook(tmp_path / "nb")
    runs = _count_pandoc_runs(monkeypatch)
    alone = render_notebook(notebook, tmp_path / "alone", formats=formats,
                            renderer="pandoc", metadata={"title": TITLE})
    spare = render_notebook(notebook, tmp_path / "spare", formats=formats, renderer="pandoc",
                            metadata={"title": TITLE}, spare_core=True)
    targets = [run[run.index("--to") + 1] for run in runs[1:]]
    if "pdf" in formats:
        assert sorted(targets) == ["html5" if "html" in formats else "docx", "typst"]
    else:
        assert targets == ["html5"]
    for fmt in formats:
        assert alone[fmt].read_bytes() == spare[fmt].read_bytes(), fmt


def test_svg_images_get_their_own_word_run(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Word output with an SVG comes from its own pandoc run, which adds the PNG fallback a
    Lua filter cannot; the other formats still come from the one run, all as before."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    notebook = _svg_notebook(tmp_path / "nb")
    runs = _count_pandoc_runs(monkeypatch)
    together = render_notebook(notebook, tmp_path / "together", renderer="pandoc")
    assert [run[run.index("--to") + 1] for run in runs] == ["html5", "docx"]
    _one_run_per_format(monkeypatch)
    separate = render_notebook(notebook, tmp_path / "separate", renderer="pandoc")
    for fmt in FORMATS:
        assert together[fmt].read_bytes() == separate[fmt].read_bytes(), fmt


@pytest.mark.parametrize("image", ["figures/missing.png", "https://example.org/chart.png"])
def test_failures_read_as_with_one_run_per_format(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  image: str) -> None:
    """A missing image or a URL fails with the error one run per format gives (it is rerun so)."""
    notebook = make_briefing_notebook(tmp_path / "nb", image=image)
    with pytest.raises(RenderError) as together:
        render_notebook(notebook, tmp_path / "out", renderer="pandoc")
    _one_run_per_format(monkeypatch)
    with pytest.raises(RenderError) as separate:
        render_notebook(notebook, tmp_path / "out", renderer="pandoc")
    assert str(together.value) == str(separate.value)
    assert "html rendering failed (pandoc)" in str(together.value)
    assert list((tmp_path / "out").iterdir()) == []


@pytest.mark.parametrize("formats", [("html",), ("pdf",), ("docx",), ("html", "pdf", "docx")])
def test_failure_leaves_no_output(tmp_path: Path, formats: tuple[str, ...]) -> None:
    notebook = make_briefing_notebook(tmp_path / "nb", image="figures/missing.png")
    out_dir = tmp_path / "out"
    with pytest.raises(RenderError) as info:
        render_notebook(notebook, out_dir, formats=formats, renderer="pandoc")
    message = str(info.value)
    assert "\n" not in message
    assert str(notebook) in message
    assert any(fmt in message for fmt in formats)
    assert list(out_dir.iterdir()) == []


def test_failure_keeps_previous_outputs_untouched(tmp_path: Path) -> None:
    out_dir = tmp_path / "out"
    good = make_briefing_notebook(tmp_path / "good")
    render_notebook(good, out_dir, formats=["html"], renderer="pandoc")
    before = (out_dir / "briefing.html").read_bytes()
    bad = make_briefing_notebook(tmp_path / "bad", image="figures/missing.png")
    with pytest.raises(RenderError):
        render_notebook(bad, out_dir, formats=["html"], renderer="pandoc")
    assert (out_dir / "briefing.html").read_bytes() == before
    assert sorted(p.name for p in out_dir.iterdir()) == ["briefing.html"]


def test_bad_arguments(tmp_path: Path) -> None:
    notebook = make_briefing_notebook(tmp_path)
    with pytest.raises(RenderError, match="unknown format"):
        render_notebook(notebook, tmp_path / "out", formats=["epub"], renderer="pandoc")
    with pytest.raises(RenderError, match="not found"):
        render_notebook(tmp_path / "nope.ipynb", tmp_path / "out", renderer="pandoc")
    with pytest.raises(RenderError, match="unknown renderer"):
        available_renderer("latex")
    (tmp_path / "broken.ipynb").write_text("{not json", encoding="utf-8")
    with pytest.raises(RenderError, match="broken.ipynb"):
        render_notebook(tmp_path / "broken.ipynb", tmp_path / "out", renderer="pandoc")


# --------------------------------------------------------------------------
# Quarto route: the stand-in (tests/quarto_standin.py, derived from Quarto's
# source, running the real pandoc and Typst) and, where installed, real Quarto
# --------------------------------------------------------------------------

STANDIN = Path(__file__).resolve().parent / "quarto_standin.py"
STANDIN_WRAPPER = """#!/bin/sh
printf '%s\\n' "$@" > "$QUARTO_STANDIN_LOG"
exec "{python}" "{script}" "$@"
"""
REAL_QUARTO = shutil.which("quarto")


def _local_links(page: str) -> list[str]:
    hrefs = re.findall(r'(?:href|src)="([^"]+)"', page)
    return [h for h in hrefs if not h.startswith(("#", "data:", "http:", "https:", "mailto:"))]


@pytest.fixture
def quarto_standin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Put the Quarto stand-in first on PATH; it logs its argv, one per line, to the file."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "quarto"
    script.write_text(STANDIN_WRAPPER.format(python=sys.executable, script=STANDIN),
                      encoding="utf-8")
    script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    log = tmp_path / "quarto-argv.txt"
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.setenv("QUARTO_STANDIN_LOG", str(log))
    return log


def test_standin_forwards_metadata_flags_verbatim(quarto_standin: Path, tmp_path: Path) -> None:
    """What broke every briefing: JSON-quoted -M values reach pandoc with their quotes."""
    import subprocess

    notebook = make_briefing_notebook(tmp_path / "nb")
    proc = subprocess.run(
        ["quarto", "render", notebook.name, "--to", "html,typst", "--no-execute",
         "-M", 'title:"Aldermere"', "-M", 'lang:"en-GB"'],
        cwd=notebook.parent, capture_output=True, text=True, check=False)
    assert proc.returncode == 1
    assert "Invalid 'lang' value" in proc.stderr  # pandoc's own warning
    assert "error:" in proc.stderr and "ERROR:" in proc.stderr  # Typst's, then Quarto's
    page = (notebook.parent / "briefing.html").read_text(encoding="utf-8")
    assert "<title>&quot;Aldermere&quot;</title>" in page or '<title>"Aldermere"</title>' in page
    # With --quiet the same failure prints nothing at all.
    quiet = subprocess.run(
        ["quarto", "render", notebook.name, "--to", "typst", "--quiet", "-M", 'lang:"en-GB"'],
        cwd=notebook.parent, capture_output=True, text=True, check=False)
    assert quiet.returncode == 1 and quiet.stderr == ""


def test_standin_format_links_and_dates(quarto_standin: Path, tmp_path: Path) -> None:
    import subprocess

    notebook = make_briefing_notebook(tmp_path / "nb")
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    nb["cells"][0]["source"] = ["---\n", "title: Links\n", "date: 2026-12-01\n", "---\n"]
    notebook.write_text(json.dumps(nb), encoding="utf-8")
    subprocess.run(["quarto", "render", notebook.name, "--to", "html,docx"],
                   cwd=notebook.parent, check=True, capture_output=True)
    page = (notebook.parent / "briefing.html").read_text(encoding="utf-8")
    assert "Other Formats" in page and 'href="briefing.docx"' in page
    assert '<p class="date">2026-12-01</p>' in page  # Quarto's default date-format: ISO


def test_quarto_route(quarto_standin: Path, tmp_path: Path) -> None:
    assert available_renderer("auto") == "quarto"
    assert available_renderer("quarto") == "quarto"
    assert available_renderer("pandoc") == "pandoc"
    notebook = make_briefing_notebook(tmp_path / "nb")
    out_dir = tmp_path / "out"
    paths = render_notebook(notebook, out_dir, stem="northbridge", renderer="auto",
                            metadata={"title": "Aldwyn & Marsh: briefing",
                                      "date": "1 December 2026"})
    argv = quarto_standin.read_text().splitlines()
    assert argv[0] == "render"
    copy = argv[1]
    assert copy.endswith(".ipynb") and "/" not in copy and copy != notebook.name
    assert argv[2:] == ["--to", "html,typst,docx", "--no-execute"]  # no -M, no --quiet
    assert paths == {fmt: out_dir / f"northbridge.{fmt}" for fmt in ("html", "pdf", "docx")}
    page = paths["html"].read_text(encoding="utf-8")
    assert "<title>Aldwyn &amp; Marsh: briefing</title>" in page
    assert '<html lang="en-GB"' in page
    assert '<p class="date">1 December 2026</p>' in page
    assert "Other Formats" not in page and _local_links(page) == []
    assert 'class="skip-link"' in page and '<main id="content">' in page
    assert 'class="callout callout-note" role="note"' in page  # as on the pandoc route
    assert "<style" in page and "<link" not in page  # the CSS is embedded
    reader = PdfReader(paths["pdf"])
    assert reader.metadata.title == "Aldwyn & Marsh: briefing"
    pdf_text = "\n".join(page.extract_text() for page in reader.pages)
    assert "1 December 2026" in pdf_text and "Page 1 of" in pdf_text  # the house partials
    assert abs(float(reader.pages[0].mediabox.width) - 595.3) < 1  # A4
    document = docx.Document(str(paths["docx"]))
    assert ("Title", "Aldwyn & Marsh: briefing") in [(p.style.name, p.text)
                                                         for p in document.paragraphs]
    # The private copy, its partials and Quarto's by-products are gone.
    assert sorted(p.name for p in notebook.parent.iterdir()) == ["briefing.ipynb", "figures"]
    assert sorted(p.name for p in out_dir.iterdir()) == [
        "northbridge.docx", "northbridge.html", "northbridge.pdf"]


def test_quarto_subset_of_formats(quarto_standin: Path, tmp_path: Path) -> None:
    notebook = make_briefing_notebook(tmp_path / "nb")
    paths = render_notebook(notebook, tmp_path / "out", formats=["pdf"], renderer="quarto")
    argv = quarto_standin.read_text().splitlines()
    assert argv[argv.index("--to") + 1] == "typst"
    assert list(paths) == ["pdf"]


def test_quarto_failure_shows_the_error(quarto_standin: Path, tmp_path: Path) -> None:
    notebook = make_briefing_notebook(tmp_path / "nb")
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    nb["cells"].append({"cell_type": "markdown", "metadata": {},
                        "source": ["```{=typst}\n", "#no-such-function()\n", "```\n"]})
    notebook.write_text(json.dumps(nb), encoding="utf-8")
    out_dir = tmp_path / "out"
    with pytest.raises(RenderError) as info:
        render_notebook(notebook, out_dir, renderer="quarto")
    message = str(info.value)
    assert "\n" not in message and "no details" not in message
    assert "(quarto;" in message and "unknown variable: no-such-function" in message
    assert "RENDERER=pandoc" in message
    assert "Output created" not in message and "to: html" not in message  # progress left out
    assert "pandoc" in info.value.log and "no-such-function" in info.value.log
    assert list(out_dir.iterdir()) == []
    assert sorted(p.name for p in notebook.parent.iterdir()) == ["briefing.ipynb", "figures"]


def test_quarto_error_detail_picks_error_lines() -> None:
    stderr = ("pandoc \n  to: typst\n  output-file: x.typ\n\n"
              "[typst]: Compiling x.typ to x.pdf...error: expected two or three letter "
              "language code\n   ┌─ x.typ:12:8\n\x1b[31mERROR\x1b[0m: Typst compilation failed\n")
    detail = quarto_error_detail(stderr)
    assert "expected two or three letter language code" in detail
    assert "ERROR: Typst compilation failed" in detail and "output-file" not in detail
    assert quarto_error_detail("") != ""


def test_table_captions_are_labelled_for_quarto(quarto_standin: Path, tmp_path: Path) -> None:
    text, count = label_table_captions(
        "| a | b |\n|---|---|\n| 1 | 2 |\n\n: Returns by survey\n\n"
        "Term\n: a definition, not a caption\n\n| c |\n|---|\n\n: Kept {#tbl-own}\n", 4)
    assert count == 5
    assert ": Returns by survey {#tbl-briefing-5}" in text
    assert ": a definition, not a caption\n" in text and "{#tbl-own}" in text
    notebook = make_briefing_notebook(tmp_path / "nb")
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    nb["cells"].append({"cell_type": "markdown", "metadata": {},
                        "source": ["| x | y |\n", "|---|---|\n", "| 1 | 2 |\n", "\n",
                                   ": Questionnaires returned\n"]})
    notebook.write_text(json.dumps(nb), encoding="utf-8")
    paths = render_notebook(notebook, tmp_path / "out", formats=["pdf"], renderer="quarto")
    text = "\n".join(p.extract_text() for p in PdfReader(paths["pdf"]).pages)
    assert "Questionnaires returned" in text  # Quarto would drop it without a label


def test_quarto_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert available_renderer("auto") == "pandoc"
    with pytest.raises(RenderError, match="quarto"):
        available_renderer("quarto")


def test_typst_partials_come_from_the_house_template(tmp_path: Path) -> None:
    template, show = typst_partials(tmp_path)
    assert (template.name, show.name) == ("typst-template.typ", "typst-show.typ")
    style = template.read_text(encoding="utf-8")
    assert "#set page(" in style and "justify: false" in style and "#set table(" in style
    assert "#let callout(" in style  # replaces Quarto's: briefing.lua writes the callouts
    assert "$title$" in show.read_text(encoding="utf-8")


@pytest.mark.skipif(REAL_QUARTO is None, reason="no quarto on PATH")
def test_real_quarto(tmp_path: Path) -> None:
    """The same briefing through the real Quarto CLI, when one is installed."""
    notebook = make_briefing_notebook(tmp_path / "nb")
    paths = render_notebook(notebook, tmp_path / "out", renderer="quarto",
                            metadata={"title": "Aldermere: briefing", "date": "1 December 2026"})
    page = paths["html"].read_text(encoding="utf-8")
    assert "<title>Aldermere: briefing</title>" in page
    assert 'lang="en-GB"' in page and "1 December 2026" in page
    assert "Other Formats" not in page and _local_links(page) == []
    assert all(src.startswith("data:") for src in re.findall(r'<img[^>]*\ssrc="([^"]*)"', page))
    reader = PdfReader(paths["pdf"])
    assert reader.metadata.title == "Aldermere: briefing"
    text = "\n".join(p.extract_text() for p in reader.pages)
    assert "1 December 2026" in text and "Page 1 of" in text and HEADING in text
    assert "Low over-" not in text and "well-be-" not in text  # no hyphenation
    assert NOTE_TITLE in text and IMPORTANT_TITLE in text and "Low life satisfaction" in text
    assert 'class="callout callout-note" role="note"' in page
    assert not re.search(rf"<h\d[^>]*>{NOTE_TITLE}", page)  # a callout title is no heading
    document = docx.Document(str(paths["docx"]))
    assert document.paragraphs[0].text == "Aldermere: briefing"
    assert ("Callout Title", NOTE_TITLE) in [(p.style.name, p.text) for p in document.paragraphs]
    assert sorted(p.name for p in notebook.parent.iterdir()) == ["briefing.ipynb", "figures"]


# --------------------------------------------------------------------------
# Index page
# --------------------------------------------------------------------------

INDEX_ENTRIES = [
    {"name": "Northbridge", "slug": "northbridge", "survey_year": 2024, "status": "built",
     "formats": {"html": "northbridge/briefing.html", "pdf": "northbridge/briefing.pdf",
                 "docx": "northbridge/briefing.docx"}},
    {"name": "St. Aldwyn & Marsh", "slug": "st-aldwyn-marsh", "survey_year": 2023,
     "status": "failed", "formats": {}, "note": "notebook failed: KeyError 'x'"},
    {"name": "National briefing", "slug": "national", "survey_year": "2022–2024",
     "status": "built",
     "formats": {"html": "national/briefing.html", "pdf": "national/briefing.pdf",
                 "docx": "national/briefing.docx"}},
]


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[str, str]] = []
        self._href: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._href, self._text = dict(attrs).get("href"), []

    def handle_data(self, data: str) -> None:
        if self._href is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._href is not None:
            self.links.append((self._href, "".join(self._text)))
            self._href = None


def test_render_index(tmp_path: Path) -> None:
    out = render_index(INDEX_ENTRIES, tmp_path / "reports" / "index.html", "Well-being briefings")
    assert out == tmp_path / "reports" / "index.html"
    page = out.read_text(encoding="utf-8")
    parser = _Links()
    parser.feed(page)
    links = dict(parser.links)
    for entry in INDEX_ENTRIES:
        for href in entry["formats"].values():
            assert href in links
    assert links["northbridge/briefing.pdf"] == "Northbridge briefing (PDF)"
    assert links["northbridge/briefing.docx"] == "Northbridge briefing (Word)"
    assert links["northbridge/briefing.html"] == "Northbridge briefing (web page)"
    assert links["national/briefing.pdf"] == "National briefing (PDF)"
    # National first, whatever the order given.
    assert page.index("National briefing") < page.index("Northbridge")
    assert page.count('<th scope="col">') == 5  # with the young people's version
    assert '<html lang="en-GB">' in page and "<main" in page and "<title>" in page
    assert "St. Aldwyn &amp; Marsh" in page and "Not built" in page and "KeyError" in page
    # self-contained: the search box's script is inline, nothing is fetched
    assert "<link" not in page and "<script src" not in page and 'href="http' not in page
    assert page.count("<script>") == 1 and '<label for="find">' in page
    assert "<style>" in page
    assert not [p for p in out.parent.iterdir() if p.name != "index.html"]
