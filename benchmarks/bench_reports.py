"""Benchmark `make reports` against a naive baseline, in one run.

Measured here, on this machine, in this order:
  0. the driver models are fitted into the project's model cache if they are
     not there yet (``.cache/models``: one fit per extract and model code,
     shared by every build and notebook), and the seconds that took are
     reported; both the build and the naive baseline then read them from it;
  1. full build of the demonstration set into a fresh folder (the real build:
     national stage once, JOBS workers running the notebooks in process), and
     the same into another fresh folder with an empty model cache
     (``BUILD_DIR``), so the models are fitted as by a first build;
  2. nothing changed: the same build again;
  3. one authority changed: its parameter file edited, build again;
  4. one authority's HTML only, as a researcher iterates: another parameter file
     edited, then ``make reports ONLY=<slug> FORMATS=html``;
  5. the naive baseline: for a sample of authorities, one after another, what
     an analyst would run by hand for the same files as the build: each of the
     three notebooks (``indicators`` for the contract CSVs, ``briefing``,
     ``young_people``) by a plain Papermill call on a fresh kernel, with the
     national work (validation, comparison tables, focus areas; the driver
     models from their cache, as in the build) redone inside each, then the
     briefing rendered to HTML, PDF and Word and the young people's version to
     HTML and PDF. The standalone national folder notebooks share
     (``analysis.reports.inputs``) is removed before each notebook, so none
     reuses another's national work.

Prints wall seconds per authority for both, their ratio, the incremental and
no-op times, and peak memory; `--json` also writes them to a file. Ratios are
what matter: both sides run on the same machine in the same run.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def run_build(data: Path, reports: Path, params: Path, jobs: int,
              *extra: str, build_dir: Path | None = None) -> tuple[float, int, str]:
    """One build as ``make reports`` runs it: wall seconds, exit status, its log (stderr)."""
    env = dict(os.environ)
    if build_dir is not None:
        env["BUILD_DIR"] = str(build_dir)
    start = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "analysis", "reports", "--data", str(data), "--reports-dir",
         str(reports), "--params-dir", str(params), "--jobs", str(jobs), *extra],
        cwd=ROOT, capture_output=True, text=True, env=env,
    )
    seconds = time.monotonic() - start
    if proc.returncode != 0:
        print(proc.stdout[-3000:], proc.stderr[-3000:], sep="\n", file=sys.stderr)
    return seconds, proc.returncode, proc.stderr


def stage_seconds(log: str) -> dict[str, float]:
    """The seconds the build's log gives its first stages (validation, national stage)."""
    out = {}
    for key, pattern in (("validation_s", r"^Validated .*\(([\d.]+) s\)"),
                         ("national_stage_s", r"^National stage: .*?\(([\d.]+) s")):
        match = re.search(pattern, log, flags=re.M)
        if match:
            out[key] = float(match.group(1))
    return out


@contextlib.contextmanager
def quiet_stderr() -> Iterator[None]:
    """Silence file descriptor 2: Papermill's fresh kernels inherit it and warn there."""
    sys.stderr.flush()
    saved = os.dup(2)
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def naive_authority(data: Path, la_code: str, year: int, out: Path) -> dict[str, float]:
    """One authority the naive way: fresh kernels, national work inside each notebook.

    Returns the seconds of the whole, and of the part the baseline measured
    before the build made the young people's version too (``without_young``).
    """
    import shutil

    from analysis.pipeline.build import parameters_for
    from analysis.pipeline.execute import run_notebook
    from analysis.pipeline.render import render_notebook
    from analysis.reports.inputs import national_folder

    standalone = national_folder(None, data.resolve())  # once, untimed: the model cache
    params = {"la_code": la_code, "survey_year": year, "data": str(data.resolve()),
              "national_dir": None, "out_dir": "."}
    times: dict[str, float] = {}
    start = time.monotonic()
    with quiet_stderr():
        for name in ("indicators", "briefing", "young_people"):
            shutil.rmtree(standalone, ignore_errors=True)  # national work redone inside
            source = ROOT / "notebooks" / f"{name}.ipynb"
            t = time.monotonic()
            run_notebook(source, out / f"{name}.ipynb", parameters_for(source, params),
                         cwd=out, warm=False)
            times[name] = time.monotonic() - t
        t = time.monotonic()
        render_notebook(out / "briefing.ipynb", out, stem="briefing")
        times["render_briefing"] = time.monotonic() - t
        t = time.monotonic()
        render_notebook(out / "young_people.ipynb", out, stem="young-people",
                        formats=("html", "pdf"))
        times["render_young"] = time.monotonic() - t
    times["total"] = time.monotonic() - start
    times["without_young"] = times["total"] - times["young_people"] - times["render_young"]
    return times


def fill_model_cache(data: Path) -> float | None:
    """Fit the driver models into the project's cache unless there; the seconds, or None."""
    from analysis.core.layout import models_dir, private_dir
    from analysis.core.provenance import data_hash
    from analysis.data.validation import load_valid_extract
    from analysis.methods import drivers

    before = drivers.FIT_COUNT
    start = time.monotonic()
    drivers.cached_national_models(load_valid_extract(data), private_dir(models_dir()),
                                   data_hash(data, None))
    return time.monotonic() - start if drivers.FIT_COUNT > before else None


def peak_rss_mib() -> float:
    """Largest resident set of this process and of any child it waited for (MiB)."""
    kb = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
             resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    return kb / 1024


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(ROOT / "data" / "synthetic" / "extract.csv"))
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--baseline-sample", type=int, default=4,
                    help="authorities built the naive way (per-authority time is reported)")
    ap.add_argument("--json", default=None, help="also write the figures to this file")
    ap.add_argument("--no-baseline", action="store_true",
                    help="skip the naive baseline (builds and ONLY/FORMATS figures only)")
    args = ap.parse_args()
    data = Path(args.data)

    import pandas as pd

    frame = pd.read_csv(data, usecols=["la_code", "la_name", "survey_year"], dtype=str)
    las = frame.groupby("la_code")["survey_year"].max().sort_index()
    n_las = len(las)
    fit_s = fill_model_cache(data)
    with tempfile.TemporaryDirectory(prefix="wb-bench-") as tmp:
        tmp_path = Path(tmp)
        reports, params = tmp_path / "reports", tmp_path / "params"
        full, rc_full, full_log = run_build(data, reports, params, args.jobs)
        cold, rc_cold, _ = run_build(data, tmp_path / "reports-cold", tmp_path / "params-cold",
                                  args.jobs, build_dir=tmp_path / "build-cold")
        noop, rc_noop, _ = run_build(data, reports, params, args.jobs)
        one = sorted(params.glob("*.yaml"))[len(las) // 2]
        one.write_text(one.read_text() + "\n# edited by the benchmark\n")
        text = one.read_text().replace("cohort_sizes: {}", "cohort_sizes: {ylyc_11_17: 150}")
        one.write_text(text)
        incr, rc_incr, _ = run_build(data, reports, params, args.jobs)
        other = sorted(params.glob("*.yaml"))[len(las) // 3]
        other.write_text(other.read_text().replace("cohort_sizes: {}",
                                                   "cohort_sizes: {ylbc: 90}"))
        only, rc_only, _ = run_build(data, reports, params, args.jobs, "--only", other.stem,
                                  "--formats", "html")

        sample = las.iloc[:: max(1, n_las // max(1, args.baseline_sample))][: args.baseline_sample]
        naive_runs = []
        for code, year in ([] if args.no_baseline else sample.items()):
            out = tmp_path / "naive" / code
            out.mkdir(parents=True)
            naive_runs.append(naive_authority(data, code, int(year), out))
        naive_times = [r["total"] for r in naive_runs]
        naive_old = [r["without_young"] for r in naive_runs]

    per_la = full / n_las
    naive_per_la = sum(naive_times) / len(naive_times) if naive_times else float("nan")
    figures = {
        "machine": (f"{platform.machine()}, {os.cpu_count()} cores, "
                    f"Python {platform.python_version()}"),
        "authorities": n_las,
        "jobs": args.jobs,
        "full_build_s": round(full, 1),
        "full_build_per_authority_s": round(per_la, 2),
        **stage_seconds(full_log),
        "model_fit_s": round(fit_s, 1) if fit_s is not None else "cached before the run",
        "full_build_models_fitted_s": round(cold, 1),
        "full_build_models_fitted_per_authority_s": round(cold / n_las, 2),
        "naive_per_authority_s": round(naive_per_la, 2),
        "naive_sample": len(naive_times),
        "speed_up": round(naive_per_la / per_la, 1),
        "naive_without_young_per_authority_s": round(
            sum(naive_old) / len(naive_old), 2) if naive_old else float("nan"),
        "naive_parts_s": {k: round(sum(r[k] for r in naive_runs) / len(naive_runs), 2)
                          for k in (naive_runs[0] if naive_runs else {})},
        "one_authority_changed_s": round(incr, 1),
        "only_one_authority_html_s": round(only, 1),
        "nothing_changed_s": round(noop, 2),
        "peak_memory_mib": round(peak_rss_mib()),
        "exit_codes": [rc_full, rc_cold, rc_noop, rc_incr, rc_only],
    }
    print(f"Machine: {figures['machine']}; {n_las} authorities; JOBS={args.jobs}")
    fitted = f"fitted in {fit_s:.1f} s" if fit_s is not None else "already in the cache"
    print(f"Driver models:         {fitted} (.cache/models; the builds and the naive "
          "baseline read them from there)")
    print(f"Full build:            {full:7.1f} s  = {per_la:5.2f} s per authority")
    if "validation_s" in figures and "national_stage_s" in figures:
        print(f"  of which validating the extract {figures['validation_s']:.1f} s, "
              f"the national stage {figures['national_stage_s']:.1f} s")
    print(f"  with the models fitted by the build (empty cache): {cold:5.1f} s = "
          f"{cold / n_las:5.2f} s per authority")
    print(f"Naive baseline:        {naive_per_la:7.2f} s per authority "
          f"(mean of {len(naive_times)}, one after another, fresh kernels, national work repeated)")
    print(f"Speed-up:              {figures['speed_up']:7.1f} x")
    print(f"  (naive without the young people's version, as measured before: "
          f"{figures['naive_without_young_per_authority_s']:.2f} s per authority, "
          f"{figures['naive_without_young_per_authority_s'] / per_la:.1f} x)")
    print(f"One authority changed: {incr:7.1f} s")
    print(f"ONLY=<slug> FORMATS=html, its parameters edited: {only:5.1f} s")
    print(f"Nothing changed:       {noop:7.2f} s")
    print(f"Peak memory:           {figures['peak_memory_mib']:7d} MiB (largest single process)")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1))
    return 0 if not any(figures["exit_codes"]) else 1


if __name__ == "__main__":
    sys.exit(main())
