"""`make reports`: validate, national stage once, every authority in parallel, index.

Stages
  1. validate the extract (nothing runs on a partly valid extract);
  2. national stage, once: pooled comparison tables, driver models (cached),
     focus areas for every authority, written to the build folder
     (``build_dir``: outside ``REPORTS_DIR``, private), the national CSVs, and
     every authority's contract CSVs (``indicators.csv``, ``wellbeing.csv``,
     ``breakdowns.csv``, ``change.csv``: fit once, slice many);
  3. per authority, ``JOBS`` worker processes at a time: the worker writes the
     young people's version and renders it in the background while Papermill
     runs the briefing notebook in the worker itself (``pipeline.execute``, no
     Jupyter kernel); then the briefing is rendered and the authority's files
     (its CSVs from the national stage among them) are published together;
  4. the index page.

Incremental: every stage records a fingerprint of its inputs (data bytes,
analysis code, notebooks, reference files, the authority's parameters). A
stage whose fingerprint is unchanged is skipped, so editing one parameter
file rebuilds that authority only and a second run with nothing changed does
nothing. The no-change path imports no pandas and reads only hashes.

Atomic: each authority is built in a scratch folder and its files are moved
into place with ``os.replace``; its fingerprint is written last, so a killed
build is simply redone next time and never leaves a file that looks finished.

Isolated: one authority failing (bad parameter file, a notebook error) is
reported with its failing cell and error, its executed notebook is kept for
debugging, the others still build, and the exit status is non-zero.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import contextlib
import datetime as dt
import functools
import json
import multiprocessing as mp
import os
import re
import shutil
import signal
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from analysis.core import guard
from analysis.core.errors import UserError
from analysis.core.escape import log_text
from analysis.core.files import write_atomic
from analysis.core.layout import AUTHORITY_CSVS, Paths, private_dir
from analysis.core.paths import PROJECT_ROOT
from analysis.core.provenance import code_hash, code_version, data_hash, text_hash
from analysis.data.params import Authority, authorities, ensure_params, resolve_params
from analysis.data.validation import load_valid_extract
from analysis.methods import drivers, indicators, national
from analysis.methods.comments import approved_quotes, quotes_fingerprint, write_quotes_file
from analysis.methods.national import compute_national
from analysis.pipeline.execute import run_notebook, warm_up
from analysis.pipeline.render import (
    available_renderer,
    render_index,
    render_markdown,
    render_notebook,
)
from analysis.reports import young_people

NOTEBOOKS = PROJECT_ROOT / "notebooks"
#: The one notebook the build runs per authority (``indicators.ipynb`` and
#: ``young_people.ipynb`` are the analyst's: their outputs come from the
#: national stage and from :func:`young_people_sections`).
LA_NOTEBOOKS = ("briefing",)
FORMATS = ("html", "pdf", "docx")
#: Documents besides the briefing, made in the worker from ``analysis.reports``:
#: (name, output stem, title, formats it comes in). The name is the analyst's
#: notebook whose front matter the document shares.
EXTRA_DOCUMENTS: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("young_people", "young-people", "what you told us, and what happens next", ("html", "pdf")),
)
STATE_VERSION = 3  # 2: authorities carry their answer counts; 3: contract CSVs per authority


def build_date() -> str:
    """Build date; SOURCE_DATE_EPOCH makes it reproducible."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    when = dt.datetime.fromtimestamp(int(epoch), dt.UTC) if epoch else dt.datetime.now(dt.UTC)
    return when.strftime("%Y-%m-%d")


def long_date(iso: str) -> str:
    """'2026-11-26' as a reader writes it on a cover, '26 November 2026'."""
    try:
        day = dt.date.fromisoformat(iso)
    except ValueError:
        return iso
    return f"{day.day} {day:%B %Y}"


def read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    write_atomic(path, json.dumps(data, indent=1, sort_keys=True))


# ---------------------------------------------------------------- national stage
def national_stage(
    data: Path, mapping: Path | None, paths: Paths, data_fp: str, code_fp: str, log: Logger,
    workers: Workers | None = None,
) -> list[Authority]:
    """Validate and do all once-per-run work; return the authorities in the data.

    The driver models, the longest step, are fitted (or read from their
    cache) in a process of their own, started first; meanwhile this process
    computes the comparison tables, and every authority's contract CSVs are
    sliced from them by the ``workers`` (idle until the national results are
    ready; by this process without them). The results are those of one
    process doing it all.
    """

    t0 = time.monotonic()
    df = load_valid_extract(data, mapping)
    # Folder names are checked before anything is written (two authorities, one folder).
    auths = authorities(df, source=str(data))
    log.info(f"Validated {data}: {len(df):,} answers from {df['la_code'].nunique()} authorities "
             f"({time.monotonic() - t0:.1f} s)")
    t1 = time.monotonic()
    years = briefing_years(auths, paths.params)
    fitter = cf.ProcessPoolExecutor(1, mp_context=mp.get_context("spawn"),
                                    initializer=_fitter_init, initargs=(os.getpid(),))
    written: dict[str, Any] = {}

    def contract_csvs(folder: Path) -> None:
        t = time.monotonic()
        written["failed"] = write_authority_csvs(folder, auths, years, workers)
        written["seconds"] = time.monotonic() - t

    try:
        fit = fitter.submit(_fit_models, df, private_dir(paths.models), data_fp)
        tables, results = compute_national(df, paths.national_work, paths.models,
                                           data_fp, years, fitted=fit.result,
                                           with_tables=contract_csvs)
    except BaseException:
        _stop_pool(fitter)  # an error or Ctrl-C: the fit is not waited for
        raise
    fitter.shutdown(wait=False)
    log.info(f"National stage: every authority compared with the others, driver models "
             f"and focus areas ready ({time.monotonic() - t1:.1f} s; meanwhile the contract "
             f"CSVs of {len(auths) - len(written['failed'])} authorities, "
             f"{written['seconds']:.1f} s)")
    drivers.write_drivers(results, paths.reports)
    national.write_national_csvs(tables, paths.reports / "national")
    return auths


def _fitter_init(parent_pid: int) -> None:
    """The model-fitting process dies with the build and leaves Ctrl-C to it."""
    guard.die_with_parent(parent_pid)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _fit_models(df: Any, models_dir: Path, data_fp: str) -> drivers.DriverResults:
    """The national stage's driver models (fitted, or read from their cache), in their process."""
    return drivers.cached_national_models(df, models_dir, data_fp)


def write_authority_csvs(national_dir: Path, auths: list[Authority], years: dict[str, int],
                         workers: Workers | None = None) -> dict[str, str]:
    """Every authority's contract CSVs, in one pass here rather than one notebook each.

    ``indicators.csv``, ``wellbeing.csv``, ``breakdowns.csv`` and ``change.csv``
    (``indicators.write_la_outputs``) go to ``<national_dir>/authorities/<slug>/``
    (``Paths.authority_csvs``), private until the authority's job publishes
    them with its briefing (so a failed authority publishes none of them).
    With ``workers`` the authorities are shared among them (they are idle
    until the national stage ends, and read the tables they will need
    anyway). An authority whose figures cannot be sliced (e.g. a parameter
    file asking for a year it has no answers in) gets ``<slug>.error`` with
    the reason instead; its job fails with it and the others are unaffected.
    Returns slug -> reason of those.
    """
    root = Path(national_dir) / AUTHORITY_CSVS
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    jobs = [(a.slug, a.la_code, years[a.la_code]) for a in auths]
    if workers is None or workers.count < 2 or len(jobs) < 2:
        return slice_authority_csvs(national_dir, jobs)
    chunks = [jobs[i::workers.count] for i in range(workers.count)]
    failed: dict[str, str] = {}
    for fut in [workers.pool.submit(slice_authority_csvs, national_dir, c) for c in chunks]:
        failed.update(fut.result())
    return dict(sorted(failed.items()))


def slice_authority_csvs(national_dir: Path, jobs: list[tuple[str, str, int]]
                         ) -> dict[str, str]:
    """The contract CSVs of (slug, la_code, year) ``jobs`` from the tables in ``national_dir``.

    The tables are read back from the folder, as a notebook reads them, so
    the bytes are those an ``indicators.ipynb`` run on the build's folder
    writes. Returns slug -> reason of the authorities that could not be sliced.
    """
    tables = indicators.read_national_tables(national_dir)
    root = Path(national_dir) / AUTHORITY_CSVS
    failed: dict[str, str] = {}
    for slug, la_code, year in jobs:
        try:
            indicators.write_la_outputs(tables, la_code, year, root / slug)
        except Exception as exc:  # noqa: BLE001 - isolated: this authority fails, not all
            shutil.rmtree(root / slug, ignore_errors=True)
            failed[slug] = f"{getattr(exc, 'ename', type(exc).__name__)}: {exc}"
            write_atomic(root / f"{slug}.error", failed[slug])
    return failed


def briefing_years(auths: list[Authority], params_dir: Path) -> dict[str, int]:
    """The year each authority's briefing reports (its parameter file, else its latest).

    Disclosure control needs it at the national stage: the national figures
    are rounded against whatever a reader does not hold, which depends on
    the years the briefings publish. A broken parameter file counts as the
    latest year (that authority fails later with the reason).
    """
    out = {}
    for auth in auths:
        try:
            out[auth.la_code] = int(resolve_params(auth, params_dir)["survey_year"])
        except (UserError, KeyError, TypeError, ValueError):
            out[auth.la_code] = auth.latest_year
    return out


# ---------------------------------------------------------------- jobs
@dataclass
class Job:
    kind: str  # "authority" or "national"
    slug: str
    name: str
    params: dict[str, Any]
    fingerprint: str
    out_dir: Path
    scratch: Path
    stamp: Path
    log_file: Path
    renderer: str
    warm: bool = True
    notebooks: tuple[str, ...] = LA_NOTEBOOKS
    title: str = ""
    key: str = ""  # la_code ("national" for the national briefing): outcomes are keyed by it
    formats: tuple[str, ...] = FORMATS
    #: formats already published with this fingerprint (kept, not rendered again)
    kept_formats: tuple[str, ...] = ()
    #: where the national stage wrote the authorities' contract CSVs (``Paths.authority_csvs``)
    csv_root: Path | None = None
    #: fewer jobs than workers: a processor is idle, the renders may use it (``execute``)
    spare_core: bool = False


@dataclass
class Outcome:
    slug: str
    name: str
    ok: bool
    seconds: float
    error: str = ""
    cell: str = ""
    kept: str = ""
    files: list[str] = field(default_factory=list)
    key: str = ""


def _cell_of(exc: BaseException) -> str:
    """'cell [3] `b = br.prepare(`': the failing cell's number and first code line."""
    count = getattr(exc, "exec_count", None)
    if count is None:
        return ""
    lines = [ln.strip() for ln in str(getattr(exc, "source", "")).splitlines()]
    code = next((ln for ln in lines if ln and not ln.startswith("#")), "")
    return f"cell [{count}]" + (f" `{code[:60]}`" if code else "")


def run_job(job: Job) -> Outcome:
    """Build one authority (or the national briefing) in a scratch folder.

    The briefing notebook runs in this process; then the briefing is rendered
    in the background (pandoc and Typst) while the young people's version is
    written here (its picture too: matplotlib is not thread-safe) and then
    rendered beside it. With a processor idle (``job.spare_core``) each
    render writes its PDF beside the other formats. The contract CSVs the
    national stage wrote join the scratch folder, and everything is published
    together. The job's log gets each stage's seconds.
    """

    start = time.monotonic()
    shutil.rmtree(job.scratch, ignore_errors=True)
    job.scratch.mkdir(parents=True)
    job.log_file.parent.mkdir(parents=True, exist_ok=True)
    current = ""
    timings: dict[str, float] = {}
    try:
        for name in job.notebooks:
            current = name
            source = NOTEBOOKS / f"{name}.ipynb"
            _timed(timings, name, run_notebook,
                   source,
                   job.scratch / f"{name}.ipynb",
                   parameters_for(source, job.params),
                   cwd=job.scratch,
                   warm=job.warm,
                   )
        # The briefing renders (pandoc, Typst: other processes, or no GIL) while this
        # thread writes the young people's version, whose charts need it (matplotlib
        # is not thread-safe); that version then renders beside the briefing.
        with cf.ThreadPoolExecutor(2) as side:
            date = long_date(job.params.get("build_date", ""))
            notebook = job.notebooks[-1]
            formats = [f for f in job.formats if f in FORMATS]
            briefing = side.submit(
                _timed, timings, "render", render_notebook,
                job.scratch / f"{notebook}.ipynb", job.scratch, stem="briefing",
                formats=formats, renderer=job.renderer,
                metadata={"title": job.title, "date": date}, spare_core=job.spare_core,
            ) if formats else None
            extra = []
            for spec in extra_documents(job):
                current = spec[0]
                sections = _timed(timings, f"{spec[1]} (write)", young_people_sections, job)
                extra.append((spec, side.submit(_timed, timings, f"{spec[1]} (render)",
                                                render_young_people, job, spec, sections)))
            current = "render"
            if briefing is not None:
                briefing.result()
            for spec, fut in extra:
                current = spec[0]
                fut.result()
        if job.csv_root is not None:
            current = "indicators"
            copy_authority_csvs(job.csv_root, job.slug, job.scratch)
        current_formats = tuple(sorted(set(job.formats) | set(job.kept_formats),
                                       key=FORMATS.index))
        global _PUBLISHING
        _PUBLISHING = True  # a stop request now waits until the set is complete
        try:
            files = publish(job.scratch, job.out_dir, current_formats)
            withdraw_stale(job)
            write_json_atomic(job.stamp, {"fingerprint": job.fingerprint, "files": files,
                                          "formats": list(current_formats)})
        finally:
            _PUBLISHING = False
            if _STOP_REQUESTED is not None:
                _stop_worker(_STOP_REQUESTED, None)
        seconds = time.monotonic() - start
        stages = ", ".join(f"{k} {v:.2f} s" for k, v in timings.items())
        job.log_file.write_text(f"built {job.slug} in {seconds:.1f} s ({stages})\n",
                                encoding="utf-8")
        return Outcome(job.slug, job.name, True, seconds, files=files, key=job.key)
    except BaseException as exc:  # noqa: BLE001 - isolated: reported, never raised
        if isinstance(exc, KeyboardInterrupt | SystemExit):
            raise
        return fail_job(job, exc, current, start)


def _timed(timings: dict[str, float], name: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)``, its wall seconds recorded as ``timings[name]`` (the job log)."""
    t0 = time.monotonic()
    try:
        return fn(*args, **kwargs)
    finally:
        timings[name] = time.monotonic() - t0


def extra_documents(job: Job) -> list[tuple[str, str, str, tuple[str, ...]]]:
    """The documents besides the briefing this job renders (in at least one format)."""
    if job.kind != "authority":
        return []
    return [spec for spec in EXTRA_DOCUMENTS if any(f in spec[3] for f in job.formats)]


def young_people_sections(job: Job) -> list[str]:
    """The young people's version as Markdown sections, from ``analysis.reports.young_people``.

    The same call, with the same parameters, as the cell of
    ``notebooks/young_people.ipynb`` (which stays the analyst's way to read
    it), without a Papermill run: its sections are Markdown already. Its one
    figure goes to the scratch folder's ``figures/`` like the briefing's.
    """
    p = job.params
    _, sections = young_people.prepare(
        we_will=p.get("we_will") or [], la_code=p["la_code"], survey_year=p["survey_year"],
        national_dir=p["national_dir"], reports_dir=p.get("reports_dir"), out_dir=job.scratch,
    )
    return sections


def render_young_people(job: Job, spec: tuple[str, str, str, tuple[str, ...]],
                        sections: list[str]) -> None:
    """Render the young people's version with its notebook's front matter."""
    name, stem, title, allowed = spec
    render_markdown(sections, job.scratch / f"{name}.ipynb", job.scratch, stem=stem,
                    formats=[f for f in job.formats if f in allowed], renderer=job.renderer,
                    metadata={"title": f"{job.name}: {title}",
                              "date": long_date(job.params.get("build_date", ""))},
                    front_from=NOTEBOOKS / f"{name}.ipynb", spare_core=job.spare_core)


def copy_authority_csvs(root: Path, slug: str, scratch: Path) -> None:
    """Put the authority's contract CSVs (from the national stage) into its scratch folder."""
    folder = root / slug
    if not folder.is_dir():
        error = root / f"{slug}.error"
        reason = (error.read_text(encoding="utf-8") if error.exists()
                  else f"no contract CSVs in {folder}")
        raise UserError(f"its indicators could not be computed: {reason}")
    for src in sorted(folder.glob("*.csv")):
        shutil.copyfile(src, scratch / src.name)


@functools.lru_cache(maxsize=16)
def notebook_parameters(notebook: Path) -> frozenset[str] | None:
    """Names assigned in a notebook's ``parameters`` cell (None: no such cell, pass all)."""
    import re

    try:
        cells = json.loads(notebook.read_text(encoding="utf-8")).get("cells", [])
    except (OSError, ValueError):
        return None
    for cell in cells:
        if "parameters" in (cell.get("metadata", {}).get("tags") or []):
            source = "".join(cell.get("source") or [])
            return frozenset(re.findall(r"^([A-Za-z_]\w*)\s*=", source, flags=re.M))
    return None


def parameters_for(notebook: Path, params: dict[str, Any]) -> dict[str, Any]:
    """The build's parameters a notebook declares (Papermill warns about any others)."""
    names = notebook_parameters(notebook)
    return dict(params) if names is None else {k: v for k, v in params.items() if k in names}


def output_files(kind: str, formats: tuple[str, ...] | list[str] = FORMATS) -> list[str]:
    """File names of the documents of an authority (or the national job) in ``formats``."""
    docs = [("briefing", FORMATS)] + (
        [(stem, fmts) for _, stem, _, fmts in EXTRA_DOCUMENTS] if kind == "authority" else [])
    return [f"{stem}.{f}" for stem, fmts in docs for f in formats if f in fmts]


def withdraw_stale(job: Job) -> None:
    """Remove documents in formats not rendered now and not current (``FORMATS`` subset).

    A PDF built before a parameter change would otherwise sit beside the new
    HTML and be linked from the index as if it were current.
    """
    current = set(job.formats) | set(job.kept_formats)
    for name in output_files(job.kind):
        if name.rsplit(".", 1)[1] not in current:
            (job.out_dir / name).unlink(missing_ok=True)


def stage_label(job: Job, stage: str, cell: str = "") -> str:
    """Where a job failed, as its summary line says it ("briefing.ipynb cell [3] ...")."""
    if stage in job.notebooks:
        return f"{stage}.ipynb {cell}".strip()
    extra = {name: f"{stem} ({name}.ipynb's content)" for name, stem, _, _ in EXTRA_DOCUMENTS}
    return {"render": "rendering", "indicators": "contract CSVs", **extra}.get(stage, stage)


def fail_job(job: Job, exc: BaseException, stage: str, start: float) -> Outcome:
    """Record a failure: log, keep the executed notebook, withdraw stale outputs."""
    job.stamp.unlink(missing_ok=True)
    ename = getattr(exc, "ename", type(exc).__name__)
    evalue = getattr(exc, "evalue", str(exc))
    reason = f"{ename}: {evalue}".strip().splitlines()[0][:300]
    cell = _cell_of(exc)
    where = stage_label(job, stage, cell)
    if isinstance(exc, OSError) and not getattr(exc, "ename", None):
        reason = guard.disk_message(exc)
    kept = ""
    failed_nb = job.scratch / f"{stage}.ipynb"
    if job.kind == "authority":
        # Everything this authority had published goes (never a mix of old and new).
        withdraw(job.out_dir, keep_failed=False)
    else:  # the national folder also holds drivers.csv from the national stage
        for fmt in FORMATS:
            (job.out_dir / f"briefing.{fmt}").unlink(missing_ok=True)
    try:
        if failed_nb.exists():
            debug = job.out_dir / "failed"
            debug.mkdir(parents=True, exist_ok=True)
            os.replace(failed_nb, debug / failed_nb.name)
            kept = str(debug / failed_nb.name)
        renderer_log = getattr(exc, "log", "")  # RenderError: the renderer's own output
        job.log_file.write_text(
            f"FAILED {job.slug} at {where}: {reason}\n\n"
            f"{''.join(traceback.format_exception(exc))}"
            + (f"\nRenderer output:\n{renderer_log}\n" if renderer_log else ""),
            encoding="utf-8",
        )
    except OSError:
        pass  # disk full: the summary still names the failure
    shutil.rmtree(job.scratch, ignore_errors=True)
    return Outcome(job.slug, job.name, False, time.monotonic() - start, reason, where, kept,
                   key=job.key)


def withdraw(out_dir: Path, keep_failed: bool = False) -> None:
    """Remove every published file of one authority (its folder is named by its slug).

    ``keep_failed`` keeps ``failed/`` (the executed notebook of a failed build).
    """
    if out_dir.is_symlink() or not out_dir.is_dir():
        return
    for child in out_dir.iterdir():
        if keep_failed and child.name == "failed":
            continue
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)
    if not any(out_dir.iterdir()):
        out_dir.rmdir()


def publish(scratch: Path, out_dir: Path, formats: tuple[str, ...] = FORMATS) -> list[str]:
    """Move a finished build into place, file by file, each move atomic.

    Briefing formats not built this time are removed: an old PDF beside a new
    web page would be a mix of two builds.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(out_dir / "failed", ignore_errors=True)
    for fmt in FORMATS:
        if fmt not in formats:
            (out_dir / f"briefing.{fmt}").unlink(missing_ok=True)
    moved = []
    for src in sorted(scratch.rglob("*")):
        if src.is_dir():
            continue
        rel = src.relative_to(scratch)
        dest = out_dir / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(src, dest)
        moved.append(str(rel))
    shutil.rmtree(scratch, ignore_errors=True)
    return moved


_PUBLISHING = False
_STOP_REQUESTED: int | None = None


def _stop_worker(signum: int, frame: Any) -> None:
    """A worker told to stop (the build was interrupted): exit now.

    While an authority's files are being moved into place the stop waits for
    the last one (renames: milliseconds), so a stop never leaves a mixed set.
    """
    global _STOP_REQUESTED
    if _PUBLISHING:
        _STOP_REQUESTED = signum
        return
    os._exit(128 + signum)


def _warm_up(parent_pid: int | None = None, national_dir: str | None = None) -> None:
    """Worker initialiser: die with the build, and load now what every job needs.

    Papermill, matplotlib (and its font cache) and the notebook engine's shell
    are loaded while the build is still busy (national stage, planning), and
    with ``national_dir`` (the national stage was up to date) the national
    tables too: the first authority then starts on a warm worker.

    Ctrl-C reaches every process of the terminal's group; workers ignore it so
    the build decides (it stops them with SIGTERM and prints its summary).
    """

    if parent_pid is not None:
        guard.die_with_parent(parent_pid)
        # Out of the terminal's process group: Ctrl-C reaches the build alone
        # (not the worker's pandoc, whose death would look like a failure).
        with contextlib.suppress(OSError):
            os.setpgid(0, 0)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _stop_worker)

    with contextlib.suppress(Exception):
        warm_up()
        if national_dir is not None and (Path(national_dir) / "comparisons.csv").exists():
            indicators.read_national_tables(national_dir)


def _ready() -> None:
    """A no-op job: submitted once per worker so every worker starts (and warms up) now."""


# ---------------------------------------------------------------- progress
class Logger:
    """Plain log lines when not on a terminal; a live progress line when on one."""

    def __init__(self, stream=None):
        self.stream = stream if stream is not None else sys.stderr
        self.tty = self.stream.isatty()

    def info(self, msg: str) -> None:
        print(msg, file=self.stream, flush=True)


class Progress:
    def __init__(self, total: int, log: Logger):
        self.total = total
        self.done = 0
        self.failed = 0
        self.start = time.monotonic()
        self.log = log
        self.bar = None
        if log.tty and total:
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="authority", file=log.stream, dynamic_ncols=True)

    def update(self, outcome: Outcome) -> None:
        self.done += 1
        self.failed += 0 if outcome.ok else 1
        elapsed = time.monotonic() - self.start
        eta = elapsed / self.done * (self.total - self.done)
        status = "built" if outcome.ok else f"FAILED ({log_text(outcome.error, 300)})"
        line = (f"[{self.done}/{self.total}] {outcome.slug}: {status} in {outcome.seconds:.1f} s"
                f" | elapsed {elapsed:.0f} s, about {eta:.0f} s left")
        if self.bar is not None:
            self.bar.set_postfix_str(f"failed={self.failed}")
            self.bar.update(1)
            if not outcome.ok:
                self.bar.write(line)
        else:
            self.log.info(line)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


# ---------------------------------------------------------------- main flow
def formats_needed(stamp: dict[str, Any], fingerprint: str, formats: tuple[str, ...],
                   out_dir: Path, kind: str, force: bool) -> tuple[bool, tuple[str, ...]]:
    """(must build, formats already current) for one job.

    A stamp records the fingerprint and the formats built with it; a job is
    up to date when the fingerprint matches and every requested format was
    built with it (and its files exist). Formats built with the same
    fingerprint and not requested now are kept as they are.
    """
    if force or stamp.get("fingerprint") != fingerprint:
        return True, ()
    done = tuple(f for f in stamp.get("formats", FORMATS) if f in FORMATS
                 and all((out_dir / n).exists() for n in output_files(kind, (f,))))
    kept = tuple(f for f in done if f not in formats)
    return not set(formats) <= set(done), kept


def parse_list(value: str | None, allowed: tuple[str, ...] | None, what: str) -> tuple[str, ...]:
    """'html, pdf' -> ('html', 'pdf'); unknown entries of a closed list are a clear error."""
    items = tuple(dict.fromkeys(v.strip() for v in (value or "").split(",") if v.strip()))
    if allowed is not None:
        unknown = [v for v in items if v not in allowed]
        if unknown:
            raise UserError(f"{what}: unknown value(s) {', '.join(unknown)} "
                            f"(use a comma-separated list of {', '.join(allowed)})")
    return items


def select_authorities(auths: list[Authority], only: tuple[str, ...], data: Path
                       ) -> list[Authority]:
    """The authorities ``ONLY`` names (all when it is empty); unknown slugs are an error."""
    if not only:
        return auths
    import difflib

    slugs = {a.slug: a for a in auths}
    unknown = [s for s in only if s not in slugs]
    if unknown:
        hints = []
        for slug in unknown:
            close = difflib.get_close_matches(slug, list(slugs), n=3)
            hints.append(f"{slug!r}" + (f" (did you mean {', '.join(close)}?)" if close else ""))
        raise UserError(f"ONLY: no authority in {data} has the slug {'; '.join(hints)}. "
                        "Slugs are the names of the parameter files, e.g. "
                        f"{next(iter(slugs), 'northbridge')}.")
    return [slugs[s] for s in only]


def plan_jobs(
    auths: list[Authority], paths: Paths, national_fp: str, code_fp: str, renderer: str,
    data_fp: str, force: bool, warm: bool, log: Logger, review_dir: Path | None = None,
    formats: tuple[str, ...] = FORMATS,
    every: list[Authority] | None = None,
) -> tuple[list[Job], list[Outcome]]:
    """Jobs whose inputs changed; parameter problems become failures up front.

    An authority's fingerprint includes its approved comments in ``review_dir``
    (:func:`analysis.methods.comments.quotes_fingerprint`), so approving, editing or
    withdrawing a quote rebuilds that authority only. ``every`` is every
    authority in the data (``auths`` may be the ``ONLY`` selection): neighbours
    are checked against it and regions gathered from it.
    """

    jobs: list[Job] = []
    failures: list[Outcome] = []
    version = code_version()
    date = build_date()
    every = every if every is not None else auths
    codes = [a.la_code for a in every]
    regions = region_members(every, paths.params, codes, paths.work / "regions.json")
    for auth in auths:
        out_dir = paths.reports / auth.slug
        try:
            params = resolve_params(auth, paths.params, codes)
        except UserError as exc:
            # All of its published files go: none would match the parameters asked for.
            withdraw(out_dir)
            (paths.stamps / f"{auth.slug}.json").unlink(missing_ok=True)
            failures.append(Outcome(auth.slug, auth.la_name, False, 0.0, str(exc), "parameters",
                                    key=auth.la_code))
            continue
        nb_params = {
            "la_code": auth.la_code,
            "survey_year": int(params["survey_year"]),
            "cohort_sizes": params.get("cohort_sizes") or {},
            "we_will": list(params.get("we_will") or []),
            "neighbours": list(params.get("neighbours") or []),
            "region": str(params.get("region") or ""),
            "region_codes": [c for c in regions.get(str(params.get("region") or ""), [])
                             if c != auth.la_code],
            "national_dir": str(paths.national_work.resolve()),
            "reports_dir": str(paths.reports.resolve()),
            "out_dir": ".",
            "data_hash": data_fp,
            "code_version": version,
            "build_date": date,
            "quotes_file": None,
        }
        # approved quotes and the deny-lists they are redacted again with
        quotes_fp = text_hash(quotes_fingerprint(review_dir, auth.slug, auth.la_code),
                              params.get("local_places"), params.get("local_schools"))
        fingerprint = text_hash(nb_params | {"code_version": None, "build_date": None},
                                national_fp, code_fp, renderer, quotes_fp)
        stamp = paths.stamps / f"{auth.slug}.json"
        needed, kept = formats_needed(read_json(stamp), fingerprint, formats, out_dir,
                                      "authority", force)
        if not needed:
            continue
        if review_dir is not None:
            try:
                nb_params["quotes_file"] = str(prepare_quotes(review_dir, auth, params, paths))
            except Exception as exc:  # noqa: BLE001 - isolated: this authority fails, not all
                withdraw(out_dir)  # none of its old files may stay beside the failure
                (paths.stamps / f"{auth.slug}.json").unlink(missing_ok=True)
                failures.append(Outcome(auth.slug, auth.la_name, False, 0.0,
                                        f"{type(exc).__name__}: {exc}"[:300], "quotes",
                                        key=auth.la_code))
                continue
        jobs.append(Job(
            kind="authority", slug=auth.slug, name=auth.la_name, params=nb_params,
            fingerprint=fingerprint, out_dir=out_dir, scratch=paths.scratch / auth.slug,
            stamp=stamp, log_file=paths.logs / f"{auth.slug}.log", renderer=renderer,
            warm=warm, title=f"{auth.la_name}: children's well-being briefing",
            key=auth.la_code, formats=formats, kept_formats=kept, csv_root=paths.authority_csvs,
        ))
    return jobs, failures


def region_members(auths: list[Authority], params_dir: Path, codes: list[str],
                   memory: Path | None = None) -> dict[str, list[str]]:
    """Region name -> codes of the authorities whose parameter files give it.

    A file that cannot be read keeps the region it had when it was last read
    (remembered in ``memory``): its own authority fails with the reason, and
    the others' region comparisons, and so their builds, are unaffected.
    """
    known = read_json(memory) if memory is not None else {}
    regions: dict[str, str] = {}
    for auth in auths:
        try:
            region = resolve_params(auth, params_dir, codes).get("region")
        except UserError:
            region = known.get(auth.la_code)
        if region:
            regions[auth.la_code] = str(region)
    if memory is not None and regions != known:
        write_json_atomic(memory, regions)
    out: dict[str, list[str]] = {}
    for code, region in regions.items():
        out.setdefault(region, []).append(code)
    return out
def prepare_quotes(review_dir: Path, auth: Authority, params: dict[str, Any],
                   paths: Paths) -> Path:
    """Choose an authority's quotes (approved, unflagged, redacted again) for its notebook.

    Done here, not in the notebook, so that the notebook (whose executed copy
    is published) never reads the review folder or the deny-lists.
    """

    quotes, counts = approved_quotes(review_dir, auth.slug, auth.la_code,
                                     params.get("local_places") or (),
                                     params.get("local_schools") or ())
    return write_quotes_file(paths.work / "quotes" / f"{auth.slug}.json", quotes, counts)


def national_job(paths: Paths, national_fp: str, code_fp: str, renderer: str,
                 data_fp: str, warm: bool, formats: tuple[str, ...] = FORMATS) -> Job:
    params = {
        "national_dir": str(paths.national_work.resolve()),
        "reports_dir": str(paths.reports.resolve()),
        "data_hash": data_fp,
        "code_version": code_version(),
        "build_date": build_date(),
    }
    return Job(
        kind="national", slug="national", name="National briefing", params=params,
        fingerprint=text_hash(national_fp, code_fp, renderer),
        out_dir=paths.national, scratch=paths.scratch / "_national",
        stamp=paths.stamps / "_national.json", log_file=paths.logs / "national.log",
        renderer=renderer, warm=warm, notebooks=("national",),
        title="Children's well-being: the national picture",
        key="national", formats=formats,
    )


def build_index(paths: Paths, auths: list[Authority], outcomes: dict[str, Outcome],
                years: dict[str, int]) -> Path:

    def entry(key: str, slug: str, name: str, year: Any, folder: Path) -> dict[str, Any]:
        formats = {f: f"{slug}/briefing.{f}" for f in FORMATS
                   if (folder / f"briefing.{f}").exists()}
        young = {f: f"{slug}/young-people.{f}" for f in FORMATS
                 if (folder / f"young-people.{f}").exists()}
        out = outcomes.get(key)
        ok = bool(formats) and (out is None or out.ok)
        return {"name": name, "slug": slug, "survey_year": year, "formats": formats,
                "young_people": young, "status": "built" if ok else "failed",
                "note": "" if ok else (out.error if out else "not built")}

    entries = [entry("national", "national", "National briefing (all authorities)", "",
                     paths.national)]
    entries += [entry(a.la_code, a.slug, a.la_name, years.get(a.la_code, a.latest_year),
                      paths.reports / a.slug) for a in auths]
    return render_index(entries, paths.reports / "index.html",
                        title="Children's well-being briefings")


class Interrupted(Exception):
    """Ctrl-C or SIGTERM during the build: stop the workers, summarise, exit 130/143."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


#: The build's own process (the one that imports this module; workers are forked
#: from it). A forked worker inherits the build's signal handlers until its
#: initialiser replaces them, and a stop arriving in that window must end the
#: worker quietly (an exception there prints a traceback into the build's log).
_BUILD_PID = os.getpid()


def _raise_interrupted(signum: int, frame: Any) -> None:
    if os.getpid() != _BUILD_PID:
        os._exit(128 + signum)
    raise Interrupted(signum)


def _raise_keyboard_interrupt(signum: int, frame: Any) -> None:
    """Ctrl-C: ``KeyboardInterrupt`` in the build; ignored by a worker still starting."""
    if os.getpid() == _BUILD_PID:
        raise KeyboardInterrupt


def check_inputs(args: argparse.Namespace, paths: Paths) -> tuple[Path, Path | None]:
    """Every path the build reads or writes, checked before any work (one-line errors)."""
    for value, variable in ((args.reports_dir, "REPORTS_DIR"), (args.params_dir, "PARAMS_DIR")):
        if not str(value).strip():
            raise UserError(f"{variable} is empty: give a path ({variable}=path), or leave it "
                            "out for the default.")
    return guard.inputs(args.data, args.mapping,
                        {"REPORTS_DIR": paths.reports, "PARAMS_DIR": paths.params})


def withdraw_dropped(paths: Paths, auths: list[Authority], log: Logger) -> None:
    """Authorities no longer in the data: their published folders are removed.

    Only folders the build published are touched: those recorded in
    ``published.json`` (and, for builds before it existed, those with a stamp).
    """
    record = paths.work / "published.json"
    current = {a.slug for a in auths}
    before = set(read_json(record).get("slugs", []))
    if paths.stamps.is_dir():
        before |= {p.stem for p in paths.stamps.glob("*.json") if not p.stem.startswith("_")}
    for slug in sorted(before - current):
        if not re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", slug) or slug in ("national", "logs"):
            continue
        folder = paths.reports / slug
        if folder.is_dir() and not folder.is_symlink():
            shutil.rmtree(folder, ignore_errors=True)
            log.info(f"Withdrew {folder}: no authority with this folder name is in the data")
        (paths.stamps / f"{slug}.json").unlink(missing_ok=True)
        (paths.logs / f"{slug}.log").unlink(missing_ok=True)
    write_json_atomic(record, {"slugs": sorted(current)})


def run(args: argparse.Namespace, log: Logger) -> int:
    t0 = time.monotonic()
    paths = Paths(reports=Path(args.reports_dir), params=Path(args.params_dir))
    data, mapping = check_inputs(args, paths)
    formats = parse_formats(args.formats)
    lock = guard.BuildLock(paths.reports)
    lock.acquire(log, wait=not args.no_wait)
    try:
        return _run_locked(args, log, paths, data, mapping, formats, t0)
    finally:
        lock.release()


def _run_locked(args: argparse.Namespace, log: Logger, paths: Paths, data: Path,
                mapping: Path | None, formats: tuple[str, ...], t0: float) -> int:
    private_dir(paths.work)
    # Builds before the folder moved kept it inside the reports: not publishable.
    shutil.rmtree(paths.reports / ".build", ignore_errors=True)
    only = parse_list(args.only, None, "ONLY")
    data_fp = data_hash(data, mapping)
    code_fp = code_hash()
    state = read_json(paths.state_file)
    # The national figures depend on the years the briefings report (disclosure
    # control), so those years are part of the national stage's fingerprint.
    known = [Authority(a["la_code"], a["la_name"], a["latest_year"], tuple(a["years"]))
             for a in state.get("authorities", [])]
    national_fp = text_hash(data_fp, code_fp, briefing_years(known, paths.params))
    renderer = args.renderer
    if renderer == "auto" or renderer == "quarto":
        renderer = available_renderer(renderer)
    log.info(renderer_note(args.renderer, renderer))

    started: list[Workers] = []
    try:
        return _build(args, log, paths, data, mapping, formats, t0, state, known, national_fp,
                      renderer, data_fp, code_fp, only, started)
    except (KeyboardInterrupt, Interrupted) as exc:
        # Before the briefings (the workers start beside the national stage); an
        # interruption while they are built is summarised by ``execute``.
        signum = exc.signum if isinstance(exc, Interrupted) else signal.SIGINT
        for workers in started:
            workers.close(stop=True)
        log.info("")
        log.info(f"Summary: 0 built; {time.monotonic() - t0:.1f} s. Interrupted "
                 f"({signal.Signals(signum).name}) before any briefing was built; "
                 "run again to build them.")
        return 128 + signum
    finally:
        for workers in started:
            workers.close(stop=True)  # a no-op unless an error ended the build early


def _build(args: argparse.Namespace, log: Logger, paths: Paths, data: Path, mapping: Path | None,
           formats: tuple[str, ...], t0: float, state: dict[str, Any], known: list[Authority],
           national_fp: str, renderer: str, data_fp: str, code_fp: str, only: tuple[str, ...],
           started: list[Workers]) -> int:
    """Everything after the fingerprints; ``started`` gets the workers once they start."""
    up_to_date_national = (not args.force and state.get("version") == STATE_VERSION
                           and state.get("national") == national_fp
                           and paths.authority_csvs.is_dir())
    # One start for the workers, before anything slow: forked (milliseconds), they
    # load matplotlib, Papermill (and, with the national stage up to date, its tables)
    # while this process runs the national stage or plans; stopped if nothing is to do.
    # With the national stage up to date, an unknown ONLY slug is reported before any
    # worker starts (otherwise it waits for the authorities the national stage finds).
    if up_to_date_national:
        auths = [Authority(a["la_code"], a["la_name"], a["latest_year"], tuple(a["years"]),
                           tuple(tuple(x) for x in a.get("answers", [])))
                 for a in state["authorities"]]
        select_authorities(auths, only, data)
    count, note = guard.worker_count(args.jobs, max(len(known), args.jobs) + 1)
    if note:
        log.info(note)
    workers = Workers(count, paths.national_work if up_to_date_national else None)
    started.append(workers)
    if up_to_date_national:
        log.info("Extract and code unchanged: national stage up to date "
                 f"({len(auths)} authorities)")
    else:
        auths = national_stage(data, mapping, paths, data_fp, code_fp, log, workers)
        national_fp = text_hash(data_fp, code_fp, briefing_years(auths, paths.params))
        write_json_atomic(paths.state_file, {
            "version": STATE_VERSION, "national": national_fp,
            "authorities": [{"la_code": a.la_code, "la_name": a.la_name,
                             "latest_year": a.latest_year, "years": list(a.years),
                             "answers": [list(x) for x in a.answers]} for a in auths],
        })

    selected = select_authorities(auths, only, data)
    created, updated, orphans = ensure_params(auths, paths.params)
    if created:
        log.info(f"Wrote {len(created)} new parameter file(s) in {paths.params}/")
    for p in updated:
        log.info(f"Added missing keys to {p}")
    for p in orphans:
        log.info(f"Skipped {p}: no authority with this name is in {data}")
    withdraw_dropped(paths, auths, log)

    review_dir = Path(args.review_dir) if args.review_dir else None
    jobs, failures = plan_jobs(selected, paths, national_fp, code_fp, renderer, data_fp,
                               args.force, not args.cold, log, review_dir=review_dir,
                               formats=formats, every=auths)
    nat = national_job(paths, national_fp, code_fp, renderer, data_fp, not args.cold, formats)
    needed, nat.kept_formats = formats_needed(read_json(nat.stamp), nat.fingerprint, formats,
                                              paths.national, "national", args.force)
    if needed:
        jobs.insert(0, nat)
    if only:
        log.info(f"ONLY: building {', '.join(only)} (and the national briefing and index "
                 "when they are out of date)")
    if formats != FORMATS:
        log.info(f"FORMATS: rendering {', '.join(formats)} only")

    outcomes: dict[str, Outcome] = {o.key: o for o in failures}
    up_to_date = len(selected) + 1 - len(jobs) - len(failures)
    interrupted: Interrupted | None = None
    index = paths.reports / "index.html"
    index_error = ""
    if jobs:
        log.info(f"Building {len(jobs)} briefing(s) with {min(len(jobs), workers.count)} "
                 f"worker(s); {up_to_date} already up to date")
        done, interrupted = execute(jobs, workers, log)
        outcomes.update(done)
    else:
        workers.close(stop=True)
    try:
        if jobs or failures or not index.exists():
            years = {a.la_code: a.latest_year for a in auths}
            for j in jobs:
                if j.kind == "authority":
                    years[j.key] = j.params["survey_year"]
            build_index(paths, auths, outcomes, years)
    except OSError as exc:
        index_error = guard.disk_message(exc)
    status = summarise(auths, outcomes, up_to_date, index, time.monotonic() - t0, log)
    if index_error:
        log.info(f"  Index not updated: {index_error}")
        status = 1
    if interrupted is not None:
        left = len(jobs) - len([j for j in jobs if j.key in outcomes])
        log.info(f"Interrupted ({interrupted}): {left} briefing(s) not finished; finished ones "
                 "are kept. Run again to finish the rest.")
        return 128 + interrupted.signum
    return status


def parse_formats(text: str | None) -> tuple[str, ...]:
    """``FORMATS``: a comma-separated subset of html, pdf, docx (in that order)."""
    if not text:
        return FORMATS
    wanted = {f.strip().lower() for f in str(text).split(",") if f.strip()}
    unknown = sorted(wanted - set(FORMATS))
    if unknown or not wanted:
        raise UserError(f"FORMATS={text!r}: use a comma-separated list of "
                        f"{', '.join(FORMATS)} (e.g. FORMATS=html,pdf)")
    return tuple(f for f in FORMATS if f in wanted)


#: How workers start: forked from the build, which has imported the package already
#: (a spawned worker imports it again: about a second). On Linux only: macOS's system
#: libraries are not safe to fork (Python's default there is spawn).
START_METHOD = "fork" if sys.platform.startswith("linux") else "spawn"


class Workers:
    """The build's worker processes, started as soon as there is certainly work for them.

    Started before the national stage (or before planning), they load what
    the notebooks need while this process is still busy, so the first
    authority starts on a warm worker. Workers die with this process even
    when it is killed outright (parent-death signal).
    """

    def __init__(self, count: int, national_dir: Path | None = None):
        self.count = count
        self.closed = False
        self.pool = cf.ProcessPoolExecutor(
            count, mp_context=mp.get_context(START_METHOD), initializer=_warm_up,
            initargs=(os.getpid(), str(national_dir.resolve()) if national_dir else None))
        for _ in range(count):  # workers start on demand: one no-op each starts them all
            self.pool.submit(_ready)

    def close(self, stop: bool = False) -> None:
        """Wait for the workers to finish (``stop``: stop them now)."""
        if self.closed:
            return
        self.closed = True
        if stop:
            _stop_pool(self.pool)
        else:
            self.pool.shutdown(wait=True)


def execute(jobs: list[Job], workers: Workers, log: Logger
            ) -> tuple[dict[str, Outcome], Interrupted | None]:
    """Run the jobs on ``workers``; Ctrl-C or SIGTERM stops them all cleanly.

    On an interruption the workers are stopped here, unfinished jobs are
    dropped and what finished is returned.
    """
    progress = Progress(len(jobs), log)
    results: dict[str, Outcome] = {}
    previous_term = signal.signal(signal.SIGTERM, _raise_interrupted)
    interrupted: Interrupted | None = None
    for job in jobs:
        job.spare_core = len(jobs) < workers.count
    try:
        futures = {workers.pool.submit(run_job, job): job for job in jobs}
        for fut in cf.as_completed(futures):
            job = futures[fut]
            try:
                out = fut.result()
            except Exception as exc:  # noqa: BLE001 - a worker died
                out = Outcome(job.slug, job.name, False, 0.0, f"worker crashed: {exc}", "",
                              key=job.key)
                if job.kind == "authority":  # its files may be half old, half new
                    withdraw(job.out_dir)
                    job.stamp.unlink(missing_ok=True)
            results[job.key] = out
            progress.update(out)
    except KeyboardInterrupt:
        interrupted = Interrupted(signal.SIGINT)
    except Interrupted as exc:
        interrupted = exc
    finally:
        signal.signal(signal.SIGTERM, previous_term)
        progress.close()
        workers.close(stop=interrupted is not None)
    return results, interrupted


def _stop_pool(pool: cf.ProcessPoolExecutor) -> None:
    """Stop every worker now (SIGTERM), then SIGKILL stragglers."""
    procs = list((getattr(pool, "_processes", None) or {}).values())
    for proc in procs:
        with contextlib.suppress(Exception):
            proc.terminate()
    deadline = time.monotonic() + 10
    for proc in procs:
        with contextlib.suppress(Exception):
            proc.join(max(0.1, deadline - time.monotonic()))
            if proc.is_alive():
                proc.kill()
                proc.join(2)
    pool.shutdown(wait=False, cancel_futures=True)


def renderer_note(requested: str, chosen: str) -> str:
    """Which renderer the build uses, why, and how to choose the other one.

    ``auto`` does not fall back to pandoc when Quarto fails: a set of
    briefings half from one renderer and half from the other would look
    different and the failure would go unseen, so a Quarto failure fails the
    briefing and names ``RENDERER=pandoc``.
    """
    if chosen == "quarto":
        why = "installed" if requested == "auto" else "requested"
        return (f"Renderer: Quarto ({why}; RENDERER=pandoc renders with pandoc + Typst "
                "instead)")
    why = "no quarto on PATH" if requested == "auto" else "requested"
    return f"Renderer: pandoc + Typst ({why}; RENDERER=quarto uses Quarto when installed)"


def summarise(auths: list[Authority], outcomes: dict[str, Outcome], up_to_date: int,
              index: Path, seconds: float, log: Logger) -> int:
    built = [o for o in outcomes.values() if o.ok]
    failed = [o for o in outcomes.values() if not o.ok]
    log.info("")
    log.info(f"Summary: {len(built)} built, {up_to_date} up to date, {len(failed)} failed, "
             f"{len(auths)} authorities in the data; {seconds:.1f} s. Index: {index}")
    for o in sorted(failed, key=lambda o: o.slug):
        where = f" at {o.cell}" if o.cell else ""
        kept = f" (executed notebook kept: {o.kept})" if o.kept else ""
        log.info(f"  FAILED {log_text(o.name)} [{o.slug}]{where}: {log_text(o.error, 600)}{kept}")
    return 1 if failed else 0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="make reports", description=__doc__.splitlines()[0])
    p.add_argument("--data", default="data/synthetic/extract.csv")
    p.add_argument("--mapping", default=None)
    p.add_argument("--params-dir", default="params")
    p.add_argument("--reports-dir", default="reports")
    p.add_argument("--jobs", default=str(guard.cpu_count()),
                   help="authorities built at once (capped by cores and memory)")
    p.add_argument("--formats", default="",
                   help="comma-separated briefing formats: html,pdf,docx (default: all)")
    p.add_argument("--renderer", choices=("auto", "quarto", "pandoc"), default="auto")
    p.add_argument("--only", default="",
                   help="comma-separated slugs: build only these authorities (ONLY)")
    p.add_argument("--review-dir", default="review",
                   help="the comment-review folder (`make review`); approved quotes come from it")
    p.add_argument("--force", action="store_true", help="rebuild everything")
    p.add_argument("--no-wait", action="store_true",
                   help="stop at once if another build is running on REPORTS_DIR")
    p.add_argument("--cold", action="store_true",
                   help="a fresh kernel per notebook (slower; for comparison)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    log = Logger()
    previous_term = signal.signal(signal.SIGTERM, _raise_interrupted)
    # A process started in the background by a shell (``make reports &``, CI
    # runners) inherits SIGINT ignored, and Python then never raises
    # KeyboardInterrupt: a SIGINT sent to the build would be lost. The build
    # always stops cleanly on SIGINT, so it takes the default handler back.
    previous_int = signal.signal(signal.SIGINT, _raise_keyboard_interrupt)
    try:
        args.jobs = guard.parse_jobs(args.jobs)
        return run(args, log)
    except UserError as exc:
        log.info(str(exc))
        return exc.exit_code
    except (KeyboardInterrupt, Interrupted) as exc:
        signum = exc.signum if isinstance(exc, Interrupted) else signal.SIGINT
        log.info("Interrupted: finished authorities are kept; run again to finish the rest.")
        return 128 + signum
    except OSError as exc:
        log.info(guard.disk_message(exc))
        return 1
    finally:
        signal.signal(signal.SIGTERM, previous_term)
        signal.signal(signal.SIGINT, previous_int)


if __name__ == "__main__":
    sys.exit(main())
