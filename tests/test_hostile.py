"""Hostile and careless input (issue 12): names are data, commands are safe, builds exclusive.

One build of a four-authority cut of the fixture, whose authority names carry
HTML, CSS, Markdown and TeX injections (plus a non-Latin name and "NA"), is
shared by the checks of its outputs, including a real headless Chromium
with a script and network probe: a local HTTP server records every request,
at build time and at view time. The other cases (paths, limits, locks,
slugs, signals) are checked with quick runs that stop early, or on the
functions behind them.
"""

from __future__ import annotations

import base64
import contextlib
import csv
import errno
import fcntl
import http.server
import io
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import docx
import pytest
import yaml
from pypdf import PdfReader

from analysis.core import escape, guard
from analysis.core.errors import ExtractError, ParamsError, UserError
from analysis.core.paths import FIXTURE_DATA, PROJECT_ROOT
from analysis.core.slug import MAX_SLUG, SlugError, authority_slug, check_unique
from analysis.data.extract import MAX_CELL, MAX_MAPPING_BYTES, load_mapping, read_extract
from analysis.data.params import (
    MAX_PARAMS_BYTES,
    Authority,
    authorities,
    check_params,
    ensure_params,
    read_params,
)
from analysis.methods.indicators import csv_ready
from analysis.pipeline import build as bld
from analysis.pipeline.browsercheck import CHROMIUM_ARGS, chromium_path

ROOT = PROJECT_ROOT
FIXTURE = FIXTURE_DATA
#: Fixture authorities kept for the hostile build (the smaller ones: quicker).
KEEP = ("E99000004", "E99000007", "E99000006", "E99000040")


# ---------------------------------------------------------------- helpers
def read_rows() -> tuple[list[str], list[list[str]]]:
    with FIXTURE.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    return rows[0], rows[1:]


def write_extract(path: Path, names: dict[str, str], keep: tuple[str, ...] = KEEP,
                  recode: dict[str, str] | None = None) -> Path:
    """A cut of the fixture with the given authorities renamed (and codes recoded)."""
    header, rows = read_rows()
    code_i, name_i = header.index("la_code"), header.index("la_name")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        if row[code_i] not in keep:
            continue
        row = list(row)
        row[name_i] = names.get(row[code_i], row[name_i])
        row[code_i] = (recode or {}).get(row[code_i], row[code_i])
        writer.writerow(row)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(out.getvalue(), encoding="utf-8")
    return path


def run_build(data: Path, reports: Path, params: Path, *extra: str,
              timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "analysis", "reports", "--data", str(data), "--params-dir",
         str(params), "--reports-dir", str(reports), "--jobs", "2", *extra],
        cwd=ROOT, capture_output=True, text=True, timeout=timeout,
    )


def one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode != 0, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    return lines[0]


def norm(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("\u00a0", " ")).strip()


class Probe(http.server.ThreadingHTTPServer):
    """A local HTTP server that records every request it gets."""

    def __init__(self) -> None:
        self.hits: list[str] = []
        probe = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                probe.hits.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"probe")

            do_POST = do_GET  # noqa: N815

            def log_message(self, *args: object) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


def hostile_names(base: str, secret: Path) -> dict[str, str]:
    """Names an attacker (or a careless export) could put in la_name."""
    return {
        # HTML: scripts, event handlers, URLs fetched at build or view time.
        "E99000004": (
            f"Elder<script>window.__pwned='script';fetch('{base}/script')</script>"
            f"<svg onload=\"window.__pwned='svg'\"><img src={base}/img.png "
            f"onerror=\"window.__pwned='img'\"><iframe src=\"{base}/iframe\"></iframe>"
            f"<style>body{{background:url({base}/css.png)}}</style>"
            f"<meta http-equiv=\"refresh\" content=\"0;url={base}/refresh\">"
            f"<form action=\"{base}/form\"><input type=password name=pw></form>"
            f"<link rel=stylesheet href=\"{base}/link.css\"><img src={secret}> wick"
        ),
        # Markdown and TeX: a local file, a URL image, citations, maths, raw TeX.
        "E99000007": (
            f"# Head ![](/etc/hostname) ![]({secret}) ![x]({base}/md.png) [l]({base}/link) @x "
            "\\input{/etc/passwd} $x^2$ *b* _i_ ~s~ ^t^ | a | `c` <!-- c --> &amp; "
            "{.cls} [^1] :smile: -- ... 'q' \"d\" 1. - + > \\"
        ),
        "E99000006": "北京",  # no ASCII letter or digit: the code is the folder name
        "E99000040": "NA",  # pandas' default missing-value marker: must stay "NA"
    }


# ---------------------------------------------------------------- the hostile build
@pytest.fixture(scope="module")
def probe() -> Probe:
    server = Probe()
    yield server
    server.shutdown()


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory, probe: Probe) -> dict:
    root = tmp_path_factory.mktemp("hostile")
    secret = root / "secret.txt"  # a local file the names point at: never embedded
    secret.write_text("TOP-SECRET-" + os.urandom(24).hex(), encoding="utf-8")
    names = hostile_names(probe.base, secret)
    data = write_extract(root / "in put" / "extract.csv", names)  # a path with a space
    reports, params = root / "my reports", root / "my params"
    proc = run_build(data, reports, params)
    slugs = {code: authority_slug(name, code) for code, name in names.items()}
    return {"proc": proc, "reports": reports, "params": params, "names": names,
            "secret": secret,
            "slugs": slugs, "data": data, "root": root, "build_hits": list(probe.hits)}


def test_hostile_names_build_cleanly(hostile: dict) -> None:
    proc = hostile["proc"]
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    assert "5 built, 0 up to date, 0 failed" in proc.stderr


def test_nothing_fetched_at_build_time(hostile: dict) -> None:
    assert hostile["build_hits"] == []


def test_folder_names_follow_the_slug_rule(hostile: dict) -> None:
    slugs = hostile["slugs"]
    assert slugs["E99000006"] == "e99000006"  # 北京: its code
    assert slugs["E99000040"] == "na"
    assert len(slugs["E99000004"]) <= MAX_SLUG
    for code, slug in slugs.items():
        assert (hostile["reports"] / slug / "briefing.html").is_file(), code
        assert (hostile["params"] / f"{slug}.yaml").is_file(), code


def test_no_local_file_embedded(hostile: dict) -> None:
    secret = hostile["secret"].read_bytes()
    encoded = base64.b64encode(secret).decode()
    for path in hostile["reports"].rglob("*"):
        if path.is_file() and path.suffix in (".html", ".docx", ".pdf", ".csv", ".ipynb"):
            data = path.read_bytes()
            assert secret not in data and encoded.encode() not in data, path
    for slug in hostile["slugs"].values():
        page = (hostile["reports"] / slug / "briefing.html").read_text(encoding="utf-8")
        for src in re.findall(r'<img[^>]*\ssrc="([^"]*)"', page):
            assert src.startswith("data:image/png;base64,"), src[:80]
        document = docx.Document(str(hostile["reports"] / slug / "briefing.docx"))
        blobs = [rel.target_part.blob for rel in document.part.rels.values()
                 if "image" in rel.reltype]
        assert all(blob.startswith(b"\x89PNG") for blob in blobs)


def test_markup_stays_text_in_html_source(hostile: dict) -> None:
    for code in ("E99000004", "E99000007"):
        page = (hostile["reports"] / hostile["slugs"][code] / "briefing.html").read_text(
            encoding="utf-8")
        for tag in ("<script>window", "<svg onload", "<iframe", "<meta http-equiv",
                    "<form", "<link rel=stylesheet", "<img src=http"):
            assert tag not in page, tag
        for style in re.findall(r"<style\b.*?</style>", page, flags=re.S):
            assert "127.0.0.1" not in style  # the CSS url() beacon stayed text
    index = (hostile["reports"] / "index.html").read_text(encoding="utf-8")
    assert "<script>window" not in index and "&lt;script&gt;" in index


def test_name_is_literal_in_pdf_and_word(hostile: dict) -> None:
    for code in ("E99000007", "E99000040", "E99000006"):
        folder = hostile["reports"] / hostile["slugs"][code]
        name = norm(escape.one_line(hostile["names"][code]))
        words = norm(" ".join(p.text for p in docx.Document(str(folder / "briefing.docx"))
                              .paragraphs))
        assert name in words, (code, words[:300])
        pdf = norm(" ".join(page.extract_text() for page in PdfReader(folder / "briefing.pdf")
                            .pages))
        # 北京 is checked in Word and HTML only: the PDF fonts have no CJK glyphs.
        for part in ("@x", "\\input{/etc/passwd}", "$x^2$", "NA"):
            if part in name:
                assert part in pdf, (code, part)


def test_na_stays_na(hostile: dict) -> None:
    folder = hostile["reports"] / "na"
    text = norm(" ".join(p.text for p in docx.Document(str(folder / "briefing.docx"))
                         .paragraphs))
    assert "NA, surveys of" in text and "None" not in text and "nan," not in text
    page = (folder / "briefing.html").read_text(encoding="utf-8")
    assert "<title>NA: children&#39;s well-being briefing</title>" in page


def test_outputs_are_named_in_logs_on_one_line(hostile: dict) -> None:
    for line in hostile["proc"].stderr.splitlines():
        assert "\x1b" not in line


@pytest.mark.skipif(chromium_path() is None, reason="no Chromium installed")
def test_browser_runs_nothing_and_fetches_nothing(hostile: dict, probe: Probe) -> None:
    """Open every page in Chromium with the network open and a local server listening."""
    from playwright.sync_api import sync_playwright

    pages = [hostile["reports"] / s / "briefing.html" for s in hostile["slugs"].values()]
    pages.append(hostile["reports"] / "index.html")
    before = len(probe.hits)
    requests: list[str] = []
    errors: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(service_workers="block")
            for path in pages:
                page = context.new_page()
                page.on("request", lambda r: requests.append(r.url))
                page.on("console", lambda m: errors.append(m.text) if m.type == "error" else 0)
                page.on("pageerror", lambda e: errors.append(str(e)))
                page.on("dialog", lambda d: (errors.append(f"dialog {d.message}"), d.dismiss()))
                page.goto(path.as_uri(), wait_until="load")
                page.wait_for_timeout(800)  # a meta refresh or a late onload would show
                assert page.url == path.as_uri(), "the page navigated away"
                assert page.evaluate("window.__pwned === undefined"), path
                if path.name == "briefing.html":
                    text = norm(page.inner_text("body"))
                    code = next(c for c, s in hostile["slugs"].items() if s == path.parent.name)
                    assert norm(escape.one_line(hostile["names"][code])) in text, code
                page.close()
        finally:
            browser.close()
    outside = [u for u in requests if not u.startswith(("file:", "data:"))]
    assert outside == [] and probe.hits[before:] == [], (outside, probe.hits)
    assert [r for r in requests if r.startswith("file:") and not r.endswith(".html")] == []
    assert errors == []


# ---------------------------------------------------------------- reruns on the same folder
def test_parameter_failure_withdraws_every_file(hostile: dict) -> None:
    """A cohort smaller than the answers (a rate over 100%) and a quoted year."""
    reports, params = hostile["reports"], hostile["params"]
    slug_rate, slug_year = hostile["slugs"]["E99000007"], hostile["slugs"]["E99000040"]
    rate_file, year_file = params / f"{slug_rate}.yaml", params / f"{slug_year}.yaml"
    kept = {p: p.read_text(encoding="utf-8") for p in (rate_file, year_file)}
    try:
        data = yaml.safe_load(kept[rate_file])
        data["cohort_sizes"] = {"ylyc_11_17": 5}
        rate_file.write_text(yaml.safe_dump(data), encoding="utf-8")
        year_file.write_text(kept[year_file].replace("survey_year: 2025", 'survey_year: "2025"'),
                             encoding="utf-8")
        proc = run_build(hostile["data"], reports, params, "--formats", "html")
        assert proc.returncode == 1 and "Traceback" not in proc.stderr
        assert f"{rate_file}: " in proc.stderr and "over 100%" in proc.stderr
        assert f"{year_file}: " in proc.stderr and "survey_year: 2025" in proc.stderr
        for slug in (slug_rate, slug_year):
            assert not (reports / slug).exists(), "a failed authority keeps no published file"
        index = (reports / "index.html").read_text(encoding="utf-8")
        assert f'href="{slug_rate}/' not in index and "Not built" in index
    finally:
        for path, text in kept.items():
            path.write_text(text, encoding="utf-8")


def test_disk_full_at_the_index_still_summarises(hostile: dict, monkeypatch, capsys) -> None:
    """Index write fails with ENOSPC: summary printed, one line, non-zero, nothing half-written."""

    def full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", str(hostile["reports"] /
                                                                  "index.html"))

    index = hostile["reports"] / "index.html"
    before = index.read_bytes()
    monkeypatch.setattr(bld, "render_index", full)
    monkeypatch.setattr(bld, "plan_jobs", lambda *a, **k: ([], []))  # nothing to rebuild
    monkeypatch.setattr(bld, "national_job", lambda *a, **k: bld.Job(
        kind="national", slug="national", name="n", params={}, fingerprint="x",
        out_dir=hostile["reports"] / "national", scratch=hostile["root"] / "s",
        stamp=hostile["root"] / "never.json", log_file=hostile["root"] / "n.log",
        renderer="pandoc", key="national"))
    monkeypatch.setattr(bld, "execute", lambda jobs, workers, log: ({}, None))
    status = bld.main(["--data", str(hostile["data"]), "--params-dir", str(hostile["params"]),
                       "--reports-dir", str(hostile["reports"])])
    err = capsys.readouterr().err
    assert status == 1 and "Summary:" in err and "no space left" in err
    assert "Traceback" not in err
    assert index.read_bytes() == before


# ---------------------------------------------------------------- paths and commands
@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_extract(tmp_path_factory.mktemp("small") / "extract.csv", {})


def test_bad_paths_are_one_line_errors(tmp_path: Path, small: Path) -> None:
    folder = tmp_path / "a folder"
    folder.mkdir()
    a_file = tmp_path / "a file"
    a_file.write_text("x", encoding="utf-8")
    cases = [
        (["--data", str(folder)], "is a folder", "DATA"),
        (["--data", str(tmp_path / "missing.csv")], "no such file", "DATA"),
        (["--data", str(small), "--mapping", str(tmp_path / "none.yaml")], "no such file",
         "MAPPING"),
        (["--data", str(small), "--mapping", str(folder)], "is a folder", "MAPPING"),
        (["--data", str(small), "--reports-dir", str(a_file)], "is a file", "REPORTS_DIR"),
        (["--data", str(small), "--params-dir", str(a_file)], "is a file", "PARAMS_DIR"),
        (["--data", str(small), "--reports-dir", str(a_file / "sub")], "cannot write",
         "REPORTS_DIR"),
        (["--data", str(small), "--jobs", "0"], "positive whole number", "JOBS"),
        (["--data", str(small), "--jobs", "-1"], "positive whole number", "JOBS"),
        (["--data", str(small), "--jobs", "lots"], "positive whole number", "JOBS"),
        (["--data", str(small), "--formats", "html,exe"], "comma-separated", "FORMATS"),
        (["--data", str(small), "--reports-dir", ""], "is empty", "REPORTS_DIR"),
        (["--data", ""], "is empty", "DATA"),
    ]
    base = ["--params-dir", str(tmp_path / "p"), "--reports-dir", str(tmp_path / "r")]
    for args, words, variable in cases:
        proc = subprocess.run([sys.executable, "-m", "analysis", "reports", *base, *args],
                              cwd=ROOT, capture_output=True, text=True, timeout=120)
        line = one_line_error(proc)
        assert words in line and variable in line, (args, line)


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write to read-only folders")
def test_read_only_folders_are_one_line_errors(tmp_path: Path, small: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        for flag, variable in (("--reports-dir", "REPORTS_DIR"), ("--params-dir", "PARAMS_DIR")):
            other = "--params-dir" if flag == "--reports-dir" else "--reports-dir"
            proc = subprocess.run(
                [sys.executable, "-m", "analysis", "reports", "--data", str(small), flag,
                 str(locked), other, str(tmp_path / "ok")],
                cwd=ROOT, capture_output=True, text=True, timeout=120)
            assert variable in one_line_error(proc)
    finally:
        locked.chmod(0o700)


def test_unreadable_data_is_one_line_error(tmp_path: Path, small: Path) -> None:
    target = Path("/proc/self/mem")  # exists, is a file, cannot be read from the start
    proc = subprocess.run(
        [sys.executable, "-m", "analysis", "reports", "--data", str(target), "--params-dir",
         str(tmp_path / "p"), "--reports-dir", str(tmp_path / "r")],
        cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert "cannot be read" in one_line_error(proc)


def _make(target: str, **variables: str) -> subprocess.CompletedProcess[str]:
    args = ["make", "--no-print-directory", target, *(f"{k}={v}" for k, v in variables.items())]
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("folder", ["", "/", "~", ".", ".."])
def test_clean_reports_refuses_unsafe_folders(folder: str) -> None:
    proc = _make("clean-reports", REPORTS_DIR=os.path.expanduser(folder))
    assert proc.returncode != 0 and "nothing deleted" in proc.stderr


def test_clean_reports_needs_the_marker_and_handles_spaces(tmp_path: Path) -> None:
    spaced = tmp_path / "my reports"
    (spaced / "northbridge").mkdir(parents=True)
    (spaced / "northbridge" / "briefing.html").write_text("x", encoding="utf-8")
    sibling = tmp_path / "my"
    sibling.mkdir()
    proc = _make("clean-reports", REPORTS_DIR=str(spaced))
    assert proc.returncode != 0 and "no .wellbeing-reports" in proc.stderr
    assert (spaced / "northbridge" / "briefing.html").exists()
    (spaced / guard.MARKER).write_text(guard.MARKER_TEXT, encoding="utf-8")
    proc = _make("clean-reports", REPORTS_DIR=str(spaced))
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in spaced.iterdir()) == [guard.MARKER]
    assert sibling.is_dir()  # "/…/my" of "/…/my reports" is untouched


def test_make_passes_paths_with_spaces() -> None:
    proc = subprocess.run(["make", "-n", "reports", "DATA=/a b/c d.csv",
                           "REPORTS_DIR=/x y", "PARAMS_DIR=/p q", "MAPPING=/m n.yaml"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert '--data "$DATA"' in proc.stdout and '--mapping "$MAPPING"' in proc.stdout
    assert '--reports-dir "$REPORTS_DIR"' in proc.stdout


def test_make_validate_with_a_space_in_the_path(tmp_path: Path) -> None:
    data = write_extract(tmp_path / "with space" / "extract.csv", {}, keep=KEEP[:2])
    proc = _make("validate", DATA=str(data))
    assert proc.returncode == 0 and proc.stdout.startswith(f"OK: {data}"), proc.stderr


# ---------------------------------------------------------------- slugs
@pytest.mark.parametrize(("names", "recode"), [
    ({"E99000004": "Elderwick", "E99000007": "Elderwick!!"}, None),  # two names, one slug
    ({"E99000004": "Elderwick", "E99000007": "Elderwick"}, None),  # one name, two codes
])
def test_slug_collisions_refused_before_anything_is_written(
        tmp_path: Path, names: dict[str, str], recode: dict[str, str] | None) -> None:
    data = write_extract(tmp_path / "extract.csv", names, keep=KEEP[:2])
    reports, params = tmp_path / "r", tmp_path / "p"
    proc = run_build(data, reports, params)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert "E99000004" in proc.stderr and "E99000007" in proc.stderr
    assert "'elderwick'" in proc.stderr and "nothing was written" in proc.stderr
    assert [p.name for p in reports.rglob("*") if p.name != guard.MARKER] == []
    assert list(params.rglob("*")) == []
    cli = subprocess.run([sys.executable, "-m", "analysis", "params", "--data", str(data),
                          "--params-dir", str(params)], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert cli.returncode == 2 and "E99000007" in cli.stderr and list(params.rglob("*")) == []
    val = subprocess.run([sys.executable, "-m", "analysis", "validate", str(data)], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert val.returncode == 2 and "elderwick" in val.stderr


def test_mapping_that_recodes_into_an_existing_name(tmp_path: Path) -> None:
    data = write_extract(tmp_path / "extract.csv", {"E99000007": "Old Name"}, keep=KEEP[:2])
    mapping = tmp_path / "mapping.yaml"
    name_4 = "St. Aldwyn & Marsh"
    mapping.write_text(yaml.safe_dump({"columns": {}, "values": {"la_name": {
        "Old Name": name_4}}}), encoding="utf-8")
    proc = run_build(data, tmp_path / "r", tmp_path / "p", "--mapping", str(mapping))
    assert proc.returncode == 2 and "st-aldwyn-marsh" in proc.stderr, proc.stderr


@pytest.mark.parametrize("name", ["!!!", "..", "北京", "x" * 245, "Ab " * 1700, "-" * 300])
def test_awkward_names_give_safe_folder_names(tmp_path: Path, name: str) -> None:
    slug = authority_slug(name, "E99000009")
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", slug) and len(slug) <= MAX_SLUG
    assert slug not in (".", "..")
    auth = Authority("E99000009", name, 2025, (2025,))
    created, _, _ = ensure_params([auth], tmp_path)  # temp file names < 255 bytes
    assert [p.name for p in created] == [f"{slug}.yaml"]
    assert yaml.safe_load(created[0].read_text(encoding="utf-8"))["la_name"] == name


def test_check_unique_names_both_authorities() -> None:
    with pytest.raises(SlugError) as info:
        check_unique([("E1", "Elderwick"), ("E2", "Elderwick!!"), ("E3", "Other")])
    assert "E1 'Elderwick' and E2 'Elderwick!!'" in str(info.value)
    check_unique([("E1", "!!!"), ("E2", "...")])  # both fall back to their own codes


def test_long_names_truncate_deterministically() -> None:
    a, b = "Ab " * 1700, "Ab " * 1700 + "x"
    assert authority_slug(a, "E1") == authority_slug(a, "E1")
    with pytest.raises(SlugError):  # the cut makes them one folder: refused, not merged
        check_unique([("E1", a), ("E2", b)])


def test_dropped_authority_is_withdrawn(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("BUILD_DIR", str(tmp_path / "work"))
    paths = bld.Paths(reports=tmp_path / "r", params=tmp_path / "p")
    for slug in ("kept", "gone"):
        (paths.reports / slug / "failed").mkdir(parents=True)
        (paths.reports / slug / "briefing.pdf").write_text("x", encoding="utf-8")
    (paths.reports / "not-ours").mkdir()
    paths.work.mkdir(parents=True)
    bld.write_json_atomic(paths.work / "published.json", {"slugs": ["kept", "gone"]})
    log = bld.Logger(io.StringIO())
    bld.withdraw_dropped(paths, [Authority("E1", "Kept", 2025, (2025,))], log)
    assert (paths.reports / "kept" / "briefing.pdf").exists()
    assert not (paths.reports / "gone").exists()
    assert (paths.reports / "not-ours").exists()  # never published by the build: left alone
    assert "Withdrew" in log.stream.getvalue()


# ---------------------------------------------------------------- escaping functions
@pytest.mark.parametrize("text", [
    "<script>alert(1)</script>", "![](/etc/hostname)", "@x", "\\input{/etc/passwd}",
    "# heading", "1. item", "- item", "| a | b |", "$x$", "~a~ ^b^", "*b* _i_ `c`",
    "[l](http://x)", "<http://x>", "&amp;", "::: div", "line\n# two", "a\\", "--- ...",
])
def test_markdown_escape_round_trips_through_pandoc(text: str) -> None:
    import pypandoc

    out = pypandoc.convert_text(f"Name: {escape.markdown(text)}", "plain", format="markdown",
                                extra_args=["--wrap=none"])
    assert norm(out) == norm(f"Name: {escape.one_line(text)}")
    html_out = pypandoc.convert_text(escape.markdown(text), "html", format="markdown")
    assert "<script" not in html_out and "<img" not in html_out and "<a " not in html_out


def test_attribute_and_log_escapes() -> None:
    assert escape.markdown_attribute('a "b" \\') == '"a \\"b\\" \\\\"'
    assert escape.log_text("a\x1b[2Jb\nc") == "a\\x1b[2Jb\\x0ac"
    assert escape.html_text("<a href='x'>") == "&lt;a href=&#x27;x&#x27;&gt;"


# ---------------------------------------------------------------- parameter files and limits
def _auth() -> Authority:
    return Authority("E99000001", "Northbridge", 2025, (2024, 2025),
                     ((2025, "ylbc", 22), (2025, "ylyc_11_17", 40)))


@pytest.mark.parametrize(("params", "words"), [
    ({"survey_year": "2024"}, "without quotes (survey_year: 2024)"),
    ({"survey_year": 2024.5}, "is not a year"),
    ({"survey_year": True}, "is not a year"),
    ({"la_code": 99000001}, "la_code"),
    ({"cohort_sizes": {"ylbc": 5}}, "over 100%"),
    ({"cohort_sizes": {"ylbc": "120"}}, "positive whole numbers"),
    ({"cohort_sizes": {"ylbc": 10**9}}, "at most"),
])
def test_parameter_types_and_limits(tmp_path: Path, params: dict, words: str) -> None:
    with pytest.raises(ParamsError) as info:
        check_params(tmp_path / "northbridge.yaml", params, _auth())
    assert str(info.value).startswith(f"{tmp_path / 'northbridge.yaml'}: ") and words in str(
        info.value)


def test_cohort_sizes_at_or_over_answers_pass(tmp_path: Path) -> None:
    check_params(tmp_path / "n.yaml", {"cohort_sizes": {"ylbc": 22, "ylyc_11_17": 80}}, _auth())


def test_oversized_parameter_file_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_bytes(b"# " + b"x" * MAX_PARAMS_BYTES + b"\n")
    with pytest.raises(ParamsError, match="over the 1,000,000-byte limit"):
        read_params(path)


def test_jobs_are_capped_by_cores_and_memory(monkeypatch) -> None:
    monkeypatch.setattr(guard, "cpu_count", lambda: 2)
    monkeypatch.setattr(guard, "available_memory", lambda: 3 * guard.WORKER_MEMORY)
    assert guard.worker_count(100, 60) == (2, guard.worker_count(100, 60)[1])
    assert "JOBS=100 capped to 2" in guard.worker_count(100, 60)[1]
    monkeypatch.setattr(guard, "cpu_count", lambda: 8)
    workers, note = guard.worker_count(8, 60)
    assert workers == 3 and "capped to 3" in note
    assert guard.worker_count(1, 60) == (1, "")
    for bad in ("0", "-1", "1.5", "", "x"):
        with pytest.raises(UserError):
            guard.parse_jobs(bad)


def test_authorities_keep_na_and_count_answers() -> None:
    import pandas as pd

    frame = pd.DataFrame({"la_code": ["E1", "E1", "E2"], "la_name": ["NA", "NA", "B"],
                          "survey_year": [2025, 2025, 2025], "survey": ["ylbc"] * 3})
    auths = authorities(frame)
    assert [a.la_name for a in auths] == ["B", "NA"]
    assert auths[1].answers_in(2025) == {"ylbc": 2}


# ---------------------------------------------------------------- lock and processes
def test_second_build_on_a_folder_waits_or_refuses(tmp_path: Path) -> None:
    reports = tmp_path / "r"
    reports.mkdir()
    data = write_extract(tmp_path / "extract.csv",
                         {"E99000004": "Elderwick", "E99000007": "Elderwick"}, keep=KEEP[:2])
    fd = os.open(reports / guard.MARKER, os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        proc = run_build(data, reports, tmp_path / "p", "--no-wait", timeout=120)
        assert "Another build is running on" in one_line_error(proc)
        waiting = subprocess.Popen(
            [sys.executable, "-m", "analysis", "reports", "--data", str(data), "--params-dir",
             str(tmp_path / "p"), "--reports-dir", str(reports)],
            cwd=ROOT, stderr=subprocess.PIPE, text=True)
        first = waiting.stderr.readline()
        assert "waiting for it to finish" in first
        time.sleep(1)
        assert waiting.poll() is None  # still waiting while the lock is held
    finally:
        os.close(fd)  # releases the lock
    rest = waiting.communicate(timeout=120)[1]
    assert waiting.returncode == 2 and "would share one output folder" in rest


def _descendants(pid: int) -> set[int]:
    import psutil

    try:
        return {p.pid for p in psutil.Process(pid).children(recursive=True)}
    except psutil.NoSuchProcess:
        return set()


def _alive(pids: set[int]) -> set[int]:
    import psutil

    alive = set()
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                alive.add(pid)
        except psutil.NoSuchProcess:
            pass
    return alive


def _start_and_wait_for_workers(tmp_path: Path, small: Path, sigint_ignored: bool = False
                                ) -> tuple[subprocess.Popen, set]:
    # sigint_ignored: started as a shell starts a background job (SIGINT ignored).
    proc = subprocess.Popen(
        [sys.executable, "-m", "analysis", "reports", "--data", str(small), "--params-dir",
         str(tmp_path / "p"), "--reports-dir", str(tmp_path / "r"), "--jobs", "2",
         "--formats", "html"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        preexec_fn=(lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)) if sigint_ignored
        else None)
    deadline = time.monotonic() + 240
    kids: set[int] = set()
    while time.monotonic() < deadline:
        kids = _descendants(proc.pid)
        if len(_workers(proc.pid, kids)) >= 2:  # both workers started
            break
        time.sleep(0.3)
    assert len(_workers(proc.pid, kids)) >= 2, "the build did not start its workers"
    return proc, kids


def _workers(build: int, kids: set[int]) -> set[int]:
    """The build's worker processes: forked from it, so with its command line."""
    import psutil

    found = set()
    with contextlib.suppress(psutil.NoSuchProcess):
        line = psutil.Process(build).cmdline()
        for pid in kids:
            with contextlib.suppress(psutil.NoSuchProcess):
                if psutil.Process(pid).cmdline() == line:
                    found.add(pid)
    return found


def test_kill_9_of_the_build_stops_its_workers(tmp_path: Path, small: Path) -> None:
    pytest.importorskip("psutil")
    proc, kids = _start_and_wait_for_workers(tmp_path, small)
    proc.kill()
    proc.wait(timeout=30)
    deadline = time.monotonic() + 20
    while _alive(kids) and time.monotonic() < deadline:
        time.sleep(0.3)
    assert _alive(kids) == set(), "orphaned workers"


def test_ctrl_c_stops_cleanly_with_a_summary(tmp_path: Path, small: Path) -> None:
    pytest.importorskip("psutil")
    # Started as `make reports &` is: SIGINT inherited ignored; the build still stops on it.
    proc, kids = _start_and_wait_for_workers(tmp_path, small, sigint_ignored=True)
    proc.send_signal(signal.SIGINT)
    err = proc.communicate(timeout=120)[1]
    # 130, or ended by the SIGINT itself (-2): a shell reports both as status 130.
    assert proc.returncode in (130, -signal.SIGINT) and "Traceback" not in err, err[-2000:]
    assert "Summary:" in err and "Interrupted" in err
    deadline = time.monotonic() + 20
    while _alive(kids) and time.monotonic() < deadline:
        time.sleep(0.3)
    assert _alive(kids) == set()


def test_probe_server_records_requests(probe: Probe) -> None:
    """The network probe itself works (so an empty record means nothing was fetched)."""
    before = len(probe.hits)
    with socket.create_connection(probe.server_address, timeout=5) as sock:
        sock.sendall(b"GET /self-test HTTP/1.0\r\n\r\n")
        sock.recv(100)
    time.sleep(0.2)
    assert probe.hits[before:] == ["/self-test"]


@pytest.mark.parametrize(("name", "slug"), [("National", "national-e99000009"),
                                            ("LOGS", "logs-e99000009")])
def test_names_of_the_builds_own_folders_get_the_code(name: str, slug: str) -> None:
    assert authority_slug(name, "E99000009") == slug


def test_oversized_mapping_file_refused(tmp_path: Path) -> None:

    path = tmp_path / "mapping.yaml"
    path.write_bytes(b"columns: {}\n# " + b"x" * MAX_MAPPING_BYTES)
    with pytest.raises(ExtractError, match="over the 1,000,000-byte limit"):
        load_mapping(path)


# ---------------------------------------------------------------- extract files
def _fixture_text() -> str:
    return FIXTURE.read_text(encoding="utf-8")


def test_unclosed_quote_is_reported_where_it_opens(tmp_path: Path) -> None:

    lines = _fixture_text().splitlines(keepends=True)
    lines[6] = lines[6].replace(",E99", ',"E99', 1)  # line 7 of the file
    path = tmp_path / "quote.csv"
    path.write_text("".join(lines), encoding="utf-8")
    with pytest.raises(ExtractError) as info:
        read_extract(path)
    assert str(info.value).startswith(f"{path}: line 7: a quote mark")


def test_cr_only_line_ends_are_read(tmp_path: Path) -> None:

    path = tmp_path / "mac.csv"
    path.write_bytes(_fixture_text().replace("\r\n", "\n").replace("\n", "\r").encode())
    assert len(read_extract(path)) == len(read_rows()[1])


def test_overlong_cell_is_named_as_such(tmp_path: Path) -> None:

    header, rows = read_rows()
    rows[2][header.index("la_name")] = "x" * (MAX_CELL + 10)
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([header, *rows])
    path = tmp_path / "big.csv"
    path.write_text(out.getvalue(), encoding="utf-8")
    with pytest.raises(ExtractError) as info:
        read_extract(path)
    message = str(info.value)
    assert message.startswith(f"{path}: line 4, field 3: a value of 131,082 characters")
    assert "never closed" not in message  # not mistaken for an unclosed quote


def test_published_csv_cells_never_run_as_spreadsheet_formulas() -> None:
    """A name such as ``=HYPERLINK(...)`` is published as text, numbers untouched."""
    import pandas as pd

    frame = pd.DataFrame({
        "la_name": ["=HYPERLINK(\"http://127.0.0.1/x\",\"click\")", "+1 Elderwick", "@SUM(A1)",
                    "-Marsh", "\tTab", "Elderwick"],
        "pct": [-1.5, 2.0, 3.0, 4.0, 5.0, 6.0],
        "suppressed": [True, False, False, False, False, False],
    })
    out = csv_ready(frame)
    assert out["la_name"].tolist()[:5] == ["'" + v for v in frame["la_name"][:5]]
    assert out["la_name"].iloc[5] == "Elderwick"
    assert out["pct"].tolist() == frame["pct"].tolist()
    assert out["suppressed"].tolist()[:2] == ["true", "false"]
    assert not any(str(v).startswith(escape.CSV_FORMULA_START) for v in out["la_name"])


def test_error_messages_show_control_characters_from_data_as_text() -> None:
    """A name carrying an ANSI escape or a carriage return cannot rewrite the terminal."""

    message = str(ExtractError("extract.csv: la_name 'Elder\x1b[2Jwick\r' has two codes\nrows: 3"))
    assert "\x1b" not in message and "\r" not in message
    assert "Elder\\x1b[2Jwick\\x0d" in message
    assert message.split("\n")[1] == "rows: 3"
