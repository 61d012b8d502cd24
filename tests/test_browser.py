"""Browser checks of the rendered HTML: self-contained, error-free, accessible.

Skipped when no Chromium is installed (Debian: ``apt-get install chromium``).
One browser session checks the test briefing, the index page and a page that
is broken on purpose (to prove the checker notices problems).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from analysis.pipeline.browsercheck import (
    CHROMIUM_ARGS,
    PageReport,
    check_pages,
    chromium_path,
    main,
)
from analysis.pipeline.render import render_index, render_notebook
from analysis.reports import young_people as yp

try:  # pytest puts tests/ on sys.path (rootdir-relative when tests/ is a package)
    from test_render import INDEX_ENTRIES, make_briefing_notebook
    from test_young_people import planted_briefing
except ImportError:  # pragma: no cover
    from tests.test_render import INDEX_ENTRIES, make_briefing_notebook
    from tests.test_young_people import planted_briefing

#: Index entries with accents, punctuation and the young people's version.
SEARCH_ENTRIES = [*INDEX_ENTRIES,
                  {"name": "Véllacombe", "slug": "vellacombe", "survey_year": 2025,
                   "status": "built", "formats": {"html": "vellacombe/briefing.html"},
                   "young_people": {"html": "vellacombe/young-people.html"}},
                  {"name": "Corrowby, City of", "slug": "corrowby-city-of",
                   "survey_year": 2025, "status": "built",
                   "formats": {"html": "corrowby-city-of/briefing.html"}}]


def young_people_notebook(folder: Path) -> Path:
    """The young people's sections of a planted briefing as an executed-looking notebook."""
    import nbformat

    b = planted_briefing(folder)
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(section)
                for section in yp.document_markdown(b, ["Listen to you."])]
    path = folder / "young_people.ipynb"
    nbformat.write(nb, path)
    return path


pytestmark = pytest.mark.skipif(
    chromium_path() is None,
    reason="no Chromium installed (Debian: apt-get install chromium); browser checks skipped",
)

BROKEN_PAGE = """<!DOCTYPE html>
<html><head><title>broken</title>
<link rel="stylesheet" href="https://example.invalid/style.css"></head>
<body><img src="chart.png"><script>console.error("deliberate error")</script>
<p style="color:#bbb">faint text</p></body></html>
"""


@pytest.fixture(scope="module", params=[
    "pandoc",
    pytest.param("quarto", marks=pytest.mark.skipif(
        shutil.which("quarto") is None, reason="no quarto on PATH: Quarto route not checked")),
])
def pages(request: pytest.FixtureRequest,
          tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Render the test briefing to HTML (on each renderer), build an index, write a broken page."""
    folder = tmp_path_factory.mktemp("nb")
    notebook = make_briefing_notebook(folder)
    reports = tmp_path_factory.mktemp("reports")
    html = render_notebook(notebook, reports / "northbridge", formats=["html"],
                           renderer=request.param, metadata={"title": "Northbridge"})["html"]
    index = render_index(SEARCH_ENTRIES, reports / "index.html", "Well-being briefings")
    young = render_notebook(young_people_notebook(folder), reports / "northbridge",
                            stem="young-people", formats=["html"], renderer=request.param,
                            metadata={"title": "Northbridge: what you told us"})["html"]
    broken = reports / "broken.html"
    broken.write_text(BROKEN_PAGE, encoding="utf-8")
    return {"briefing": html, "index": index, "young": young, "broken": broken,
            "shots": reports / "shots"}


@pytest.fixture(scope="module")
def results(pages: dict[str, Path]) -> dict[str, PageReport]:
    reports = check_pages([pages["briefing"], pages["index"], pages["young"], pages["broken"]],
                          screenshot_dir=pages["shots"])
    return {"briefing": reports[0], "index": reports[1], "young": reports[2],
            "broken": reports[3]}


def test_index_search_filters_by_name(pages: dict[str, Path]) -> None:
    """Typing part of a name (any case, no accents) leaves only the matching rows."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.route("**/*", lambda route: route.continue_()
                       if route.request.url.startswith("file:") else route.abort())
            page.goto(pages["index"].as_uri())

            def visible() -> list[str]:
                return page.eval_on_selector_all(
                    "#briefings tbody tr:not([hidden]) th", "els => els.map(e => e.textContent)")

            assert len(visible()) == len(SEARCH_ENTRIES)
            page.get_by_label("Find an authority by name").fill("VELLA")
            assert visible() == ["National briefing", "Véllacombe"]  # national always shown
            assert "1 of 4 authorities match" in page.inner_text("#find-count")
            page.get_by_label("Find an authority by name").fill("city corrow")
            assert visible() == ["National briefing", "Corrowby, City of"]
            page.get_by_label("Find an authority by name").fill("zzz")
            assert visible() == ["National briefing"]
            assert page.is_visible("#find-none")
            page.get_by_label("Find an authority by name").fill("")
            assert len(visible()) == len(SEARCH_ENTRIES)
        finally:
            browser.close()


@pytest.mark.parametrize("name", ["briefing", "index", "young"])
def test_page_is_clean(results: dict[str, PageReport], name: str) -> None:
    report = results[name]
    assert report.console_errors == [], report.describe()
    assert report.failed_requests == [], report.describe()
    assert report.serious_violations == [], report.describe()
    assert report.ok


@pytest.mark.parametrize("name", ["briefing", "index", "young"])
def test_screenshot_taken(results: dict[str, PageReport], name: str) -> None:
    shot = results[name].screenshot
    assert shot is not None and shot.is_file()
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_checker_catches_problems(results: dict[str, PageReport]) -> None:
    report = results["broken"]
    assert not report.ok
    assert any("example.invalid" in url for url in report.failed_requests)
    assert any(url.startswith("file://") and url.endswith("chart.png")
               for url in report.failed_requests)
    assert any("deliberate error" in message for message in report.console_errors)
    rules = {v["id"] for v in report.serious_violations}
    assert {"image-alt", "html-has-lang", "color-contrast"} <= rules
    assert "FAIL" in report.describe()


def test_cli(pages: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(pages["briefing"]), str(pages["index"])]) == 0
    assert main([str(pages["broken"])]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "image-alt" in out
