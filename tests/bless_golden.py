"""Re-execute the golden nbval notebooks from the committed test fixture.

    python tests/bless_golden.py [indicators|drivers|briefing|...|all] [...]

The nbval suite (``make test``) re-runs every ``tests/golden/*.ipynb`` and
compares its outputs with the stored ones, so any change to a figure, a
sentence or a table shows up as a failing cell. After an *intended* change,
run this script (``make bless``) and review the diff of the golden notebooks
before committing it.

To add a notebook, add an entry to ``GOLDEN`` below: the source notebook,
the golden file name pattern, which authorities of the fixture to run it
for, and its parameters. Parameters must be valid from any working
directory (nbval runs the kernel in ``tests/golden/``): give paths relative
to the repository root, which the notebooks resolve through
``analysis.data.codebook.PROJECT_ROOT``, never absolute paths.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
GOLDEN_DIR = ROOT / "tests" / "golden"
FIXTURE = "tests/fixtures/extract.csv"  # relative to ROOT, as the notebooks take it
#: The national folder the build-road goldens read (relative to ROOT; made by ``national_dir``).
GOLDEN_NATIONAL = ".cache/golden/national"


@dataclass(frozen=True)
class Golden:
    """One source notebook and how to run its golden copies."""

    notebook: str  # relative to ROOT
    pattern: str  # golden file name; {slug} is the authority's slug
    authorities: str | tuple[str, ...] = ("first", "last")  # selectors or la_codes
    parameters: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------
# The table: one entry per group of golden notebooks. Selectors: "first" / "last" (by slug, the
# build's order), "most" / "fewest" (answers in the latest year), or an la_code. An entry with
# authorities=() runs once, without la_code (e.g. a national notebook).
GOLDEN: dict[str, list[Golden]] = {
    "indicators": [
        Golden(
            notebook="notebooks/indicators.ipynb",
            pattern="indicators-{slug}.ipynb",
            authorities=("E99000001", "fewest"),  # two survey years; a tiny authority
            parameters={"data": FIXTURE, "national_dir": None, "out_dir": None},
        ),
    ],
    "briefing": [
        Golden(
            notebook="notebooks/briefing.ipynb",
            pattern="briefing-{slug}.ipynb",
            authorities=("first",),
            parameters={"data": FIXTURE, "national_dir": None, "out_dir": None,
                        # neighbours and a region, so the comparison section is checked too
                        "neighbours": ["E99000001", "E99000004", "E99000006"],
                        "region": "North Vale", "region_codes": ["E99000001", "E99000004"]},
        ),
    ],
    # The build's road: the national stage's folder given as national_dir and the
    # parameters the build passes (provenance, cohort sizes), as in `make reports`.
    "briefing_build": [
        Golden(
            notebook="notebooks/briefing.ipynb",
            pattern="briefing-build-{slug}.ipynb",
            authorities=("last",),
            parameters={"national_dir": GOLDEN_NATIONAL, "out_dir": None,
                        "data_hash": "fixture", "code_version": "golden",
                        "build_date": "2026-01-01", "cohort_sizes": {"ylyc_11_17": 60}},
        ),
    ],
    "young_people": [
        Golden(
            notebook="notebooks/young_people.ipynb",
            pattern="young-people-{slug}.ipynb",
            authorities=("first",),
            parameters={"data": FIXTURE, "national_dir": None, "out_dir": None,
                        "we_will": ["Make sure you know who your social worker is."]},
        ),
    ],
    "national": [
        Golden(
            notebook="notebooks/national.ipynb",
            pattern="national.ipynb",
            authorities=(),
            parameters={"data": FIXTURE, "national_dir": None, "out_dir": None},
        ),
    ],
    "drivers": [
        Golden(
            notebook="notebooks/drivers.ipynb",
            pattern="drivers.ipynb",
            authorities=(),  # national: fitted once on the whole fixture
            parameters={"data": FIXTURE, "reports_dir": None, "cache_dir": None},
        ),
    ],
}
# ---------------------------------------------------------------------------------------------


def _authorities() -> list[dict[str, Any]]:
    """Authorities in the fixture: code, name, slug, answers in their latest year."""
    import pandas as pd

    from analysis.core.slug import slugify

    df = pd.read_csv(ROOT / FIXTURE, dtype=str, usecols=["la_code", "la_name", "survey_year"])
    df["survey_year"] = df["survey_year"].astype(int)
    latest = df.groupby("la_code")["survey_year"].transform("max")
    sizes = df[df["survey_year"] == latest].groupby("la_code").size()
    names = df.groupby("la_code")["la_name"].first()
    out = [{"la_code": c, "la_name": names[c], "slug": slugify(names[c]), "answers": int(sizes[c])}
           for c in names.index]
    return sorted(out, key=lambda a: (a["slug"], a["la_code"]))


SELECTORS: dict[str, Callable[[list[dict[str, Any]]], dict[str, Any]]] = {
    "first": lambda auths: auths[0],
    "last": lambda auths: auths[-1],
    "most": lambda auths: max(auths, key=lambda a: (a["answers"], a["slug"])),
    "fewest": lambda auths: min(auths, key=lambda a: (a["answers"], a["slug"])),
}


def _choose(selectors: str | tuple[str, ...], auths: list[dict[str, Any]]) -> list[dict[str, Any]]:
    chosen: list[dict[str, Any]] = []
    for sel in (selectors,) if isinstance(selectors, str) else selectors:
        if sel in SELECTORS:
            auth = SELECTORS[sel](auths)
        else:
            matches = [a for a in auths if a["la_code"] == sel]
            if not matches:
                raise SystemExit(f"bless: authority {sel!r} is not in {FIXTURE}")
            auth = matches[0]
        if auth not in chosen:
            chosen.append(auth)
    return chosen


def tidy(path: Path) -> None:
    """Drop run-specific metadata (timings, absolute paths) so diffs show real changes."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    nb.get("metadata", {}).pop("papermill", None)
    for cell in nb.get("cells", []):
        meta = cell.get("metadata", {})
        meta.pop("papermill", None)
        meta.pop("execution", None)
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            for heavy in ("image/png", "image/jpeg", "image/svg+xml"):
                data.pop(heavy, None)
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def national_dir() -> Path:
    """Make the build-road goldens' national folder from the fixture, as the build's stage does.

    ``analysis.methods.national.compute_national`` is what the build's national
    stage runs; the driver models come from the project's model cache.
    """
    from analysis.core.layout import models_dir
    from analysis.core.provenance import code_hash, data_hash, text_hash
    from analysis.data.validation import load_valid_extract
    from analysis.methods.national import compute_national

    folder = ROOT / GOLDEN_NATIONAL
    fingerprint = text_hash(data_hash(ROOT / FIXTURE), code_hash())
    stamp = folder / "fixture-fingerprint"
    if not (stamp.exists() and stamp.read_text() == fingerprint):
        compute_national(load_valid_extract(ROOT / FIXTURE), folder,
                         models_dir(), data_hash(ROOT / FIXTURE))
        stamp.write_text(fingerprint)
    return folder


def bless(group: str, verbose: bool = True) -> list[Path]:
    """Re-execute every golden notebook of ``group``; returns the files written."""
    import papermill

    national_dir()

    written: list[Path] = []
    auths = _authorities() if (ROOT / FIXTURE).exists() else []
    if not auths:
        raise SystemExit(f"bless: {FIXTURE} is missing; it is the input of every golden notebook")
    GOLDEN_DIR.mkdir(parents=True, exist_ok=True)
    for entry in GOLDEN[group]:
        runs = _choose(entry.authorities, auths) if entry.authorities else [None]
        for auth in runs:
            params = dict(entry.parameters)
            slug = "national"
            if auth is not None:
                params["la_code"] = auth["la_code"]
                slug = auth["slug"]
            out = GOLDEN_DIR / entry.pattern.format(slug=slug)
            if verbose:
                print(f"bless: {entry.notebook} -> {out.relative_to(ROOT)} {params}")
            papermill.execute_notebook(
                str(ROOT / entry.notebook), str(out), parameters=params,
                cwd=str(GOLDEN_DIR), kernel_name="python3", progress_bar=False,
            )
            tidy(out)
            written.append(out)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("groups", nargs="*", default=["all"],
                        help=f"which golden notebooks: {', '.join(GOLDEN)} or all")
    args = parser.parse_args(argv)
    groups = list(GOLDEN) if "all" in args.groups else args.groups
    unknown = [g for g in groups if g not in GOLDEN]
    if unknown:
        print(f"bless: unknown group(s) {', '.join(unknown)}; known: {', '.join(GOLDEN)}",
              file=sys.stderr)
        return 2
    for group in groups:
        bless(group)
    return 0


if __name__ == "__main__":
    sys.exit(main())
