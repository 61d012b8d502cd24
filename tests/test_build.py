"""End-to-end: `make reports`' build on the committed fixture (five authorities).

One build into a temporary folder is shared by the checks of its outputs;
then the same folder is rebuilt to check incremental builds, a broken
parameter file and a build killed midway. The failing-notebook path is
checked on one job in this process.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import docx
import pandas as pd
import pytest
import yaml
from pypdf import PdfReader

from analysis.core.paths import FIXTURE_DATA, PROJECT_ROOT
from analysis.core.slug import slugify
from analysis.data.validation import load_valid_extract
from analysis.methods.indicators import national_tables, read_national_tables, write_la_outputs
from analysis.pipeline.browsercheck import check_pages, chromium_path
from analysis.pipeline.build import FORMATS, Job, fail_job, long_date, renderer_note, run_job
from analysis.pipeline.render import RenderError
from analysis.present.markdown import plain_text
from analysis.reports import briefing as br
from analysis.reports.young_people import MAX_GRADE, page_words, readability

ROOT = PROJECT_ROOT
FIXTURE = FIXTURE_DATA
AUTHORITIES = (
    pd.read_csv(FIXTURE, usecols=["la_code", "la_name"], dtype=str)
    .drop_duplicates()
    .sort_values("la_code")
)
NAMES = dict(zip(AUTHORITIES["la_code"], AUTHORITIES["la_name"], strict=True))


def work_dir(reports: Path) -> Path:
    """The build folder the tests give each reports folder (BUILD_DIR), beside it in tmp."""
    return reports.parent / f"{reports.name}-build"


def build_env(reports: Path) -> dict[str, str]:
    return {**os.environ, "BUILD_DIR": str(work_dir(reports))}


def build(reports: Path, params: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """Run the build as `make reports` does; output is plain lines (not a terminal)."""
    return subprocess.run(
        [sys.executable, "-m", "analysis", "reports", "--data", str(FIXTURE),
         "--params-dir", str(params), "--reports-dir", str(reports), "--jobs", "2",
         # never a developer's own review/ folder (test_comments_build.py covers quotes)
         "--review-dir", str(reports.parent / "no-review"), *extra],
        cwd=ROOT, capture_output=True, text=True, timeout=900, env=build_env(reports),
    )


def summary(proc: subprocess.CompletedProcess[str]) -> dict[str, int]:
    found = re.search(r"Summary: (\d+) built, (\d+) up to date, (\d+) failed", proc.stderr)
    assert found, proc.stderr[-2000:]
    return dict(zip(("built", "up_to_date", "failed"), map(int, found.groups()), strict=True))


def slug_of(code: str) -> str:
    return slugify(NAMES[code])


def norm(text: str) -> str:
    """Whitespace collapsed; pandoc's no-break spaces ("St.\u00a0Aldwyn") become spaces."""
    return re.sub(r"\s+", " ", text.replace("\u00a0", " "))


def pdf_text(path: Path) -> str:
    return norm(" ".join(page.extract_text() for page in PdfReader(path).pages))


def docx_text(path: Path) -> str:
    return norm(" ".join(p.text for p in docx.Document(str(path)).paragraphs))


def html_text(path: Path) -> str:
    """The visible text of an HTML page, whitespace collapsed (images' data removed)."""
    raw = path.read_text(encoding="utf-8")
    raw = re.sub(r"<(script|style)\b.*?</\1>", " ", raw, flags=re.S)
    raw = re.sub(r"<[^>]+>", " ", raw)
    raw = re.sub(r"&nbsp;|&#160;", " ", raw)
    return norm(html.unescape(raw))


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("build")
    reports, params = root / "reports", root / "params"
    proc = build(reports, params)
    return {"proc": proc, "reports": reports, "params": params, "root": root}


def test_full_build_succeeds(built: dict) -> None:
    proc = built["proc"]
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert summary(proc) == {"built": len(NAMES) + 1, "up_to_date": 0, "failed": 0}
    assert "Traceback" not in proc.stderr


def test_contract_csvs_are_the_notebooks_bytes_and_no_analyst_notebook_is_published(
        built: dict, tmp_path: Path) -> None:
    """The national stage's CSVs are what ``write_la_outputs`` writes from the build's tables
    (as ``indicators.ipynb`` does); the build runs one notebook per authority."""
    work = work_dir(built["reports"]) / "national"
    tables = read_national_tables(work)
    for code in NAMES:
        folder = built["reports"] / slug_of(code)
        year = int(pd.read_csv(folder / "indicators.csv")["survey_year"].iloc[0])
        written = write_la_outputs(tables, code, year, tmp_path / code)
        for name, path in written.items():
            assert (folder / f"{name}.csv").read_bytes() == path.read_bytes(), (code, name)
        assert sorted(p.name for p in folder.glob("*.ipynb")) == ["briefing.ipynb"]


def test_every_authority_has_every_output(built: dict) -> None:
    for code in NAMES:
        folder = built["reports"] / slug_of(code)
        for name in ("indicators.csv", "wellbeing.csv", *(f"briefing.{f}" for f in FORMATS)):
            assert (folder / name).stat().st_size > 0, folder / name
        assert (built["params"] / f"{slug_of(code)}.yaml").is_file()
    national = built["reports"] / "national"
    for name in ("drivers.csv", *(f"briefing.{f}" for f in FORMATS)):
        assert (national / name).stat().st_size > 0, national / name
    logs = sorted(p.stem for p in (built["reports"] / "logs").glob("*.log"))
    assert logs == sorted([*map(slug_of, NAMES), "national"])


def test_every_authority_has_a_young_peoples_version_children_can_read(built: dict) -> None:
    """young-people.html and .pdf: readable by a 9-year-old, no percentages, a picture with alt."""

    index = (built["reports"] / "index.html").read_text(encoding="utf-8")
    pictures = 0
    for code, name in NAMES.items():
        folder = built["reports"] / slug_of(code)
        page = (folder / "young-people.html").read_text(encoding="utf-8")
        text = html_text(folder / "young-people.html")
        pdf = pdf_text(folder / "young-people.pdf")
        assert name in text and "what you told us" in text.lower()
        for words in (text, pdf):
            assert "%" not in words and "per cent" not in words.lower()
        assert "Good things you told us" in text and "What happens next" in text
        assert text.index("Good things") < text.index("need to get better")
        assert "Coming soon" in text  # no we_will in the fixture's parameter files
        score = readability(page_words(page))
        assert score["flesch_kincaid_grade"] <= MAX_GRADE, (code, score)
        images = re.findall(r"<img\b[^>]*>", page)
        assert all(re.search(r'alt="[^"]{20,}"', img) for img in images)
        pictures += len(images)
        assert f'href="{slug_of(code)}/young-people.html"' in index
        assert f'href="{slug_of(code)}/young-people.pdf"' in index
    assert pictures >= len(NAMES) - 1  # the smallest authority may have no published feelings


def test_neighbours_and_region_compared_where_given(built: dict) -> None:
    """The fixture's parameter files get the demonstration's neighbours and regions."""
    for code in NAMES:
        folder = built["reports"] / slug_of(code)
        spec = yaml.safe_load((built["params"] / f"{slug_of(code)}.yaml").read_text())
        assert spec["neighbours"] and spec["region"]
        text = html_text(folder / "briefing.html")
        assert "Compared with similar authorities" in text
        assert "statistical neighbours, pooled" in text.replace("neighbour, pooled",
                                                                 "neighbours, pooled")
        rows = pd.read_csv(folder / "comparators.csv")
        assert set(rows["group"]) <= {"neighbours", "region"} and len(rows)
        assert rows.loc[rows["suppressed"], "pct"].isna().all()


def test_directors_first_two_pages_hold_the_briefing_at_a_glance(built: dict) -> None:
    """Six at-a-glance elements in the PDF's first two pages; contents and folds in the HTML."""
    for code in NAMES:
        folder = built["reports"] / slug_of(code)
        pdf = PdfReader(folder / "briefing.pdf")
        first = norm(" ".join(p.extract_text() for p in pdf.pages[:2]))
        for element in ("Going well", "Needs attention", "What the children say",
                        "What to do next", "Change since the last survey",
                        "Every result at once"):
            assert element in first, (code, element)
        # the detail starts on a page of its own, after the spine chart
        starts = next(i for i, p in enumerate(pdf.pages) if "Contents" in p.extract_text())
        assert "Every result at once" not in pdf.pages[starts].extract_text()
        # no near-empty page before the last: text or a chart on each
        for number, page in enumerate(pdf.pages[:-1], 1):
            assert len(page.extract_text()) >= 400 or page.images, (code, number)
        page = (folder / "briefing.html").read_text(encoding="utf-8")
        targets = re.findall(r'<a href="#([^"]+)"', page)
        assert {"who-answered", "well-being", "appendix"} <= set(targets)
        for target in targets:
            assert f'id="{target}"' in page, (code, target)
        assert page.count('<details class="detail">') >= 8
        assert "<summary>" in page


def test_index_links_every_briefing_in_every_format(built: dict) -> None:
    index = (built["reports"] / "index.html").read_text(encoding="utf-8")
    for slug in [*map(slug_of, NAMES), "national"]:
        for fmt in FORMATS:
            assert f'href="{slug}/briefing.{fmt}"' in index, (slug, fmt)
            assert (built["reports"] / slug / f"briefing.{fmt}").is_file()


def test_pdf_has_pages_and_word_file_opens(built: dict) -> None:
    for code, name in NAMES.items():
        folder = built["reports"] / slug_of(code)
        pdf = PdfReader(folder / "briefing.pdf")
        assert len(pdf.pages) >= 3
        assert name in norm(pdf.pages[0].extract_text())
        assert name in docx_text(folder / "briefing.docx")
        assert "Key messages" in docx_text(folder / "briefing.docx")
        assert docx.Document(str(folder / "briefing.docx")).tables, "Word file has tables"


def test_html_holds_every_key_message(built: dict, tmp_path: Path) -> None:
    """Key messages computed afresh from the extract appear in the built HTML."""
    for code in NAMES:
        b = br.prepare(la_code=code, data=FIXTURE, out_dir=tmp_path)
        assert 3 <= len(b.messages) <= 6
        text = html_text(built["reports"] / slug_of(code) / "briefing.html")
        for message in b.messages:
            plain = norm(plain_text(message)).strip()
            assert plain in text, (code, plain)


def test_no_file_of_an_authority_names_another(built: dict) -> None:
    for code in NAMES:
        folder = built["reports"] / slug_of(code)
        others = [n for c, n in NAMES.items() if c != code]
        texts = {
            "html": html_text(folder / "briefing.html"),
            "pdf": pdf_text(folder / "briefing.pdf"),
            "docx": docx_text(folder / "briefing.docx"),
        }
        texts |= {p.name: p.read_text(encoding="utf-8") for p in folder.glob("*.csv")}
        for where, text in texts.items():
            assert NAMES[code] in text or where.endswith(".csv")
            for other in others:
                assert other not in text, (code, where, other)


def test_national_briefing_names_no_authority(built: dict) -> None:
    text = html_text(built["reports"] / "national" / "briefing.html")
    assert "funnel" in text.lower()
    for name in NAMES.values():
        assert name not in text


def test_reports_folder_holds_only_publishable_files(built: dict) -> None:
    """Internal tables, the model cache and fingerprints live outside REPORTS_DIR, privately."""
    reports = built["reports"]
    names = {p.name for p in reports.rglob("*")}
    assert ".build" not in names and "comparisons.csv" not in names
    assert not [p for p in reports.rglob("*") if p.suffix in (".pkl", ".joblib", ".json")]
    work = work_dir(reports)
    assert (work / "national" / "comparisons.csv").is_file()
    assert (work.stat().st_mode & 0o777) == 0o700


def test_attacker_recovers_nothing_from_the_build(built: dict) -> None:
    """Every published file of the build, attacked at once (tests/attacker.py)."""
    from attacker import score

    result = score(built["reports"], national_tables(load_valid_extract(FIXTURE)))
    assert result["summary"]["pinned"] == 0, result["pins"][:5]
    assert result["summary"]["exposed"] == 0, result["exposures"][:5]
    assert result["summary"]["funnel_leaks"] == 0 and not result["text"]
    assert (built["reports"] / "national" / "rates.csv").is_file()


@pytest.mark.skipif(chromium_path() is None, reason="no Chromium (apt-get install chromium)")
def test_pages_load_cleanly_and_pass_axe_in_chromium(built: dict) -> None:
    reports = built["reports"]
    pages = [reports / "index.html", reports / "national" / "briefing.html",
             *(reports / slug_of(code) / "briefing.html" for code in list(NAMES)[:2]),
             *(reports / slug_of(code) / "young-people.html" for code in list(NAMES)[:2])]
    for report in check_pages(pages):
        assert report.ok, report.describe()


# ---------------------------------------------------------------- rebuilding
def test_rebuilds_only_what_changed(built: dict) -> None:
    reports, params = built["reports"], built["params"]
    again = build(reports, params)
    assert again.returncode == 0
    assert summary(again) == {"built": 0, "up_to_date": len(NAMES) + 1, "failed": 0}

    one = params / f"{slug_of(next(iter(NAMES)))}.yaml"
    one.write_text(one.read_text(encoding="utf-8").replace(
        "cohort_sizes: {}", "cohort_sizes: {ylyc_11_17: 80}"), encoding="utf-8")
    edited = build(reports, params)
    assert edited.returncode == 0, edited.stderr[-2000:]
    assert summary(edited) == {"built": 1, "up_to_date": len(NAMES), "failed": 0}
    assert "Response rate" in html_text(one.parent.parent / "reports" / one.stem
                                        / "briefing.html")


def test_broken_parameter_file_is_named_and_others_still_build(built: dict) -> None:
    reports, params = built["reports"], built["params"]
    codes = list(NAMES)
    broken = params / f"{slug_of(codes[1])}.yaml"
    good = broken.read_text(encoding="utf-8")
    broken.write_text(good.replace("survey_year:", "survey_year: ["), encoding="utf-8")
    other = params / f"{slug_of(codes[2])}.yaml"
    other.write_text(other.read_text(encoding="utf-8").replace(
        "cohort_sizes: {}", "cohort_sizes: {ylbc: 40}"), encoding="utf-8")
    try:
        proc = build(reports, params)
        assert proc.returncode == 1
        assert "Traceback" not in proc.stderr
        counts = summary(proc)
        assert counts["failed"] == 1 and counts["built"] == 1
        failed = [line for line in proc.stderr.splitlines() if "FAILED" in line]
        assert len(failed) == 1
        assert NAMES[codes[1]] in failed[0] and broken.name in failed[0]
        assert not (reports / slug_of(codes[1]) / "briefing.html").exists()
        assert (reports / slug_of(codes[2]) / "briefing.html").exists()
    finally:
        broken.write_text(good, encoding="utf-8")
    fixed = build(reports, params)
    assert fixed.returncode == 0 and summary(fixed)["built"] == 1


def test_killed_build_finishes_on_the_next_run(built: dict) -> None:
    """SIGKILL the whole build after its first finished authority, then build again."""
    reports = built["root"] / "killed"
    shutil.copytree(built["reports"], reports, symlinks=True)
    params = built["params"]
    cmd = [sys.executable, "-m", "analysis", "reports", "--data", str(FIXTURE), "--params-dir",
           str(params), "--reports-dir", str(reports), "--jobs", "2", "--force"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            text=True, start_new_session=True, env=build_env(reports))
    assert proc.stderr is not None
    try:
        for line in proc.stderr:
            if "built in" in line:
                break
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
    leftovers = list(reports.rglob("*.tmp"))
    assert leftovers == []
    again = build(reports, params)
    assert again.returncode == 0, again.stderr[-2000:]
    counts = summary(again)
    assert counts["failed"] == 0 and counts["built"] + counts["up_to_date"] == len(NAMES) + 1
    assert counts["up_to_date"] >= 1  # what finished before the kill is kept
    for code in NAMES:
        for fmt in FORMATS:
            assert (reports / slug_of(code) / f"briefing.{fmt}").stat().st_size > 0


def test_failing_notebook_is_isolated_and_kept(built: dict, tmp_path: Path) -> None:
    """A notebook that fails: outcome names the cell and error, notebook kept, logged."""
    out = tmp_path / "nowhere"
    job = Job(
        kind="authority", slug="nowhere", name="Nowhere", fingerprint="x",
        params={"la_code": "E99999999", "survey_year": 2025, "data": str(FIXTURE),
                "national_dir": str(work_dir(built["reports"]) / "national"),
                "reports_dir": str(built["reports"]), "out_dir": "."},
        out_dir=out, scratch=tmp_path / "scratch", stamp=tmp_path / "stamp.json",
        log_file=tmp_path / "logs" / "nowhere.log", renderer="pandoc", warm=False,
    )
    outcome = run_job(job)
    assert not outcome.ok
    assert outcome.cell.startswith("briefing.ipynb cell")
    assert "E99999999" in outcome.error
    assert Path(outcome.kept).is_file() and Path(outcome.kept).parent == out / "failed"
    assert not job.stamp.exists()
    assert "FAILED nowhere" in job.log_file.read_text(encoding="utf-8")


def test_cover_date_is_written_as_people_write_it() -> None:

    assert long_date("2026-01-05") == "5 January 2026"
    assert long_date("") == ""


def test_only_and_formats_rebuild_one_authority_in_one_format(built: dict) -> None:
    """ONLY=slug FORMATS=html: that authority's HTML only; stale formats withdrawn; others kept."""
    reports = built["root"] / "only"
    params = built["root"] / "only-params"
    shutil.copytree(built["reports"], reports, symlinks=True)
    shutil.copytree(work_dir(built["reports"]), work_dir(reports), symlinks=True)
    shutil.copytree(built["params"], params)
    codes = list(NAMES)
    target, other = slug_of(codes[0]), slug_of(codes[1])
    before = {p: p.stat().st_mtime_ns for p in (reports / other).glob("briefing.*")}
    edit = params / f"{target}.yaml"
    edit.write_text(edit.read_text(encoding="utf-8").replace(
        "cohort_sizes: {}", "cohort_sizes: {ylbc: 60}").replace(
        "we_will: []", 'we_will: ["Visit you <b>more</b> *often*.", "Listen."]'),
        encoding="utf-8")
    (params / f"{other}.yaml").write_text((params / f"{other}.yaml").read_text(
        encoding="utf-8").replace("cohort_sizes: {}", "cohort_sizes: {ylbc: 70}"),
        encoding="utf-8")

    proc = build(reports, params, "--only", target, "--formats", "html")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert summary(proc) == {"built": 1, "up_to_date": 1, "failed": 0}  # it + national
    assert "Response rate" in html_text(reports / target / "briefing.html")
    young = html_text(reports / target / "young-people.html")
    assert "Visit you <b>more</b> *often*." in young and "Coming soon" not in young
    # its PDF and Word files were built from the old parameters: withdrawn, not linked
    assert not (reports / target / "briefing.pdf").exists()
    assert not (reports / target / "young-people.pdf").exists()
    index = (reports / "index.html").read_text(encoding="utf-8")
    assert f'href="{target}/briefing.html"' in index
    assert f'href="{target}/briefing.pdf"' not in index
    # the other authority (edited too, but not in ONLY) is untouched and still listed
    assert {p: p.stat().st_mtime_ns for p in (reports / other).glob("briefing.*")} == before
    assert f'href="{other}/briefing.pdf"' in index

    # asking for the missing format later renders it and keeps the current HTML
    html_before = (reports / target / "briefing.html").stat().st_mtime_ns
    again = build(reports, params, "--only", target, "--formats", "html")
    assert summary(again)["built"] == 0
    pdf = build(reports, params, "--only", target, "--formats", "pdf")
    assert summary(pdf) == {"built": 1, "up_to_date": 1, "failed": 0}
    assert (reports / target / "briefing.pdf").stat().st_size > 0
    assert (reports / target / "briefing.html").stat().st_mtime_ns == html_before


def test_only_names_an_unknown_slug_and_formats_an_unknown_format(built: dict) -> None:
    reports, params = built["reports"], built["params"]
    known = slug_of(next(iter(NAMES)))
    proc = build(reports, params, "--only", f"{known[:-1]},nowhere-at-all")
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert "ONLY" in proc.stderr and "nowhere-at-all" in proc.stderr
    assert f"did you mean {known}" in proc.stderr
    bad = build(reports, params, "--formats", "html,rtf")
    assert bad.returncode != 0 and "FORMATS" in bad.stderr and "rtf" in bad.stderr


STOP_BEFORE_INITIALISER = """
import os, signal, sys, time
from analysis.pipeline import build
build._BUILD_PID = os.getpid()
signal.signal(signal.SIGTERM, build._raise_interrupted)   # as build.main installs them
signal.signal(signal.SIGINT, build._raise_keyboard_interrupt)
read, write = os.pipe()
child = os.fork()
if child == 0:            # a worker forked, its initialiser not yet run
    os.close(read)
    os.write(write, b"up")
    for _ in range(300):  # Ctrl-C (the terminal's whole group) is left to the build
        time.sleep(0.1)
    os._exit(0)
os.close(write)
os.read(read, 2)
os.kill(child, signal.SIGINT)
time.sleep(0.3)
os.kill(child, signal.SIGTERM)
_, status = os.waitpid(child, 0)
print(os.waitstatus_to_exitcode(status))
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="workers are forked on Linux only")
def test_a_stop_reaching_a_worker_before_its_initialiser_ends_it_quietly() -> None:
    """The race CI met: ONLY's error stops the workers while one is still being forked.

    The forked worker still has the build's handlers: Ctrl-C must leave it
    running (the build decides), and SIGTERM must end it with the stop's code,
    printing nothing: not the build's ``KeyboardInterrupt`` or ``Interrupted``,
    whose traceback went into the build's error output.
    """
    proc = subprocess.run([sys.executable, "-c", STOP_BEFORE_INITIALISER], cwd=PROJECT_ROOT,
                          capture_output=True, text=True, timeout=60)
    assert proc.stdout.split() == [str(128 + signal.SIGTERM)], proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr and "Interrupted" not in proc.stderr


def test_render_failure_log_keeps_the_renderer_output(tmp_path: Path) -> None:
    """A renderer failure: summary line with the renderer's error, full output in the log."""
    import time

    job = Job(kind="authority", slug="x", name="X", fingerprint="f", params={},
              out_dir=tmp_path / "out", scratch=tmp_path / "scratch", stamp=tmp_path / "s.json",
              log_file=tmp_path / "logs" / "x.log", renderer="quarto")
    job.log_file.parent.mkdir()
    error = RenderError("nb: pdf rendering failed (quarto; RENDERER=pandoc renders with pandoc"
                        " + Typst instead): error: unknown font", log="pandoc\n  to: typst\nFULL")
    outcome = fail_job(job, error, "render", time.monotonic())
    assert outcome.cell == "rendering" and "unknown font" in outcome.error
    assert "RENDERER=pandoc" in outcome.error
    log = job.log_file.read_text(encoding="utf-8")
    assert "Renderer output:" in log and "FULL" in log
    assert "RENDERER=pandoc" in renderer_note("auto", "quarto")
    assert "installed" in renderer_note("auto", "quarto")
    assert "no quarto on PATH" in renderer_note("auto", "pandoc")
