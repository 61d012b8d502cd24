"""Open rendered HTML pages in a real browser and check what a reader would get.

Why: the briefings promise to be self-contained (nothing fetched from the
network or from other files when opened) and accessible (WCAG 2.2 AA). Both
are only really visible in a browser, so this module loads each page in
headless Chromium through Playwright and records

* console errors and uncaught page errors,
* every request other than the page itself and ``data:`` URIs (such a request
  means the page is not self-contained; it is blocked, not sent),
* axe-core violations for the WCAG 2.0/2.1/2.2 A and AA rules (axe-core is
  bundled with the ``axe-playwright-python`` package, so nothing is downloaded),
* optionally a screenshot of the first 1280x900 viewport.

The browser is the system Chromium (Debian: ``apt-get install chromium``);
Playwright's own browser download is never used. Command line::

    python -m analysis.pipeline.browsercheck reports/index.html reports/*/briefing.html

prints a report and exits 1 when any page has a problem (2 when no browser).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser",
                       "/usr/bin/google-chrome", "/usr/bin/google-chrome-stable")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
SERIOUS_IMPACTS = frozenset({"serious", "critical"})
VIEWPORT = {"width": 1280, "height": 900}
LOAD_TIMEOUT_MS = 30_000


@dataclass
class PageReport:
    """What one page did in the browser. ``ok`` is False when anything needs fixing."""

    path: Path
    console_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    axe_violations: list[dict[str, Any]] = field(default_factory=list)
    serious_violations: list[dict[str, Any]] = field(default_factory=list)
    screenshot: Path | None = None

    @property
    def ok(self) -> bool:
        """No console errors, no outside requests and no serious/critical axe violations."""
        return not (self.console_errors or self.failed_requests or self.serious_violations)

    def describe(self, strict: bool = False) -> str:
        """A readable multi-line report; ``strict`` counts every axe violation as a failure."""
        passed = self.ok and not (strict and self.axe_violations)
        lines = [f"{'OK  ' if passed else 'FAIL'} {self.path}"]
        for message in self.console_errors:
            lines.append(f"  console error: {message}")
        for url in self.failed_requests:
            lines.append(f"  outside request (blocked): {url}")
        for violation in self.axe_violations:
            targets = "; ".join(
                ", ".join(node.get("target", [])) for node in violation.get("nodes", [])[:5]
            )
            lines.append(
                f"  axe {violation.get('impact') or 'unknown'}: {violation.get('id')}: "
                f"{violation.get('help')} ({len(violation.get('nodes', []))} element(s): "
                f"{targets})"
            )
        if self.screenshot is not None:
            lines.append(f"  screenshot: {self.screenshot}")
        if len(lines) == 1:
            lines.append("  no console errors, no outside requests, no axe violations")
        return "\n".join(lines)


def chromium_path() -> str | None:
    """Path of a system Chromium/Chrome executable, or None if none is installed.

    ``CHROMIUM_PATH`` in the environment takes precedence.
    """
    env = os.environ.get("CHROMIUM_PATH")
    if env and Path(env).is_file() and os.access(env, os.X_OK):
        return env
    for candidate in CHROMIUM_CANDIDATES:
        if Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _trim_violation(violation: dict[str, Any]) -> dict[str, Any]:
    """Keep what a reader of the report needs, not axe's full check data."""
    return {
        "id": violation.get("id"),
        "impact": violation.get("impact"),
        "description": violation.get("description"),
        "help": violation.get("help"),
        "helpUrl": violation.get("helpUrl"),
        "tags": violation.get("tags", []),
        "nodes": [
            {
                "target": [str(t) for t in node.get("target", [])],
                "html": node.get("html", ""),
                "failureSummary": node.get("failureSummary", ""),
            }
            for node in violation.get("nodes", [])
        ],
    }


def _screenshot_name(path: Path, taken: set[str]) -> str:
    base = re.sub(r"[^A-Za-z0-9_.-]+", "-", f"{path.parent.name}-{path.stem}").strip("-")
    name, counter = f"{base}.png", 2
    while name in taken:
        name, counter = f"{base}-{counter}.png", counter + 1
    taken.add(name)
    return name


def check_pages(paths: Sequence[Path], screenshot_dir: Path | None = None) -> list[PageReport]:
    """Load each page from disk in headless Chromium and report what happened.

    Raises RuntimeError if no Chromium is installed (see :func:`chromium_path`).
    """
    executable = chromium_path()
    if executable is None:
        raise RuntimeError("no Chromium found: install it (Debian: apt-get install chromium)")
    from axe_playwright_python.sync_playwright import Axe
    from playwright.sync_api import sync_playwright

    axe = Axe()
    axe_options = {"runOnly": {"type": "tag", "values": AXE_TAGS}, "resultTypes": ["violations"]}
    if screenshot_dir is not None:
        screenshot_dir = Path(screenshot_dir)
        screenshot_dir.mkdir(parents=True, exist_ok=True)
    taken: set[str] = set()
    reports: list[PageReport] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            for raw_path in paths:
                path = Path(raw_path).resolve()
                report = PageReport(path=path)
                reports.append(report)
                if not path.is_file():
                    report.console_errors.append("file not found")
                    continue
                url = path.as_uri()
                context = browser.new_context(viewport=VIEWPORT, service_workers="block",
                                              java_script_enabled=True)
                try:
                    _check_one(context, url, report, axe, axe_options)
                    if screenshot_dir is not None:
                        shot = screenshot_dir / _screenshot_name(path, taken)
                        context.pages[0].screenshot(path=str(shot), full_page=False)
                        report.screenshot = shot
                finally:
                    context.close()
        finally:
            browser.close()
    return reports


def _check_one(context: Any, url: str, report: PageReport, axe: Any,
               axe_options: dict[str, Any]) -> None:
    """Load ``url`` in a fresh page, blocking and recording every outside request."""

    def on_route(route: Any) -> None:
        request_url = route.request.url
        if request_url == url and route.request.is_navigation_request():
            route.continue_()
            return
        if request_url not in report.failed_requests:
            report.failed_requests.append(request_url)
        route.abort()

    def on_request(request: Any) -> None:
        # Belt and braces: anything the router did not see (e.g. a navigation
        # to another document) is still recorded.
        request_url = request.url
        if request_url.startswith("data:") or request_url == url:
            return
        if request_url not in report.failed_requests:
            report.failed_requests.append(request_url)

    def on_console(message: Any) -> None:
        if message.type == "error":
            report.console_errors.append(message.text)

    def on_page_error(error: Any) -> None:
        report.console_errors.append(f"uncaught: {error}")

    context.route("**/*", on_route)
    page = context.new_page()
    page.on("request", on_request)
    page.on("console", on_console)
    page.on("pageerror", on_page_error)
    page.goto(url, wait_until="load", timeout=LOAD_TIMEOUT_MS)
    results = axe.run(page, options=axe_options)
    violations = [_trim_violation(v) for v in results.response.get("violations", [])]
    report.axe_violations = violations
    report.serious_violations = [v for v in violations if v.get("impact") in SERIOUS_IMPACTS]


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point: check pages, print a report, return the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m analysis.pipeline.browsercheck",
        description="Check rendered HTML pages in headless Chromium: console errors, "
        "outside requests and WCAG 2.2 AA (axe-core) violations.",
    )
    parser.add_argument("files", nargs="+", type=Path, help="HTML files to check")
    parser.add_argument("--screenshots", type=Path, default=None,
                        help="folder for a screenshot of each page's first viewport")
    parser.add_argument("--strict", action="store_true",
                        help="also fail on moderate and minor axe violations")
    args = parser.parse_args(argv)
    if chromium_path() is None:
        print("browsercheck: no Chromium found; install it (Debian: apt-get install chromium)",
              file=sys.stderr)
        return 2
    reports = check_pages(args.files, args.screenshots)
    failed = 0
    for report in reports:
        print(report.describe(strict=args.strict))
        if not report.ok or (args.strict and report.axe_violations):
            failed += 1
    print(f"\n{len(reports) - failed} of {len(reports)} page(s) passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
