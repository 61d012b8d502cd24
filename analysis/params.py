"""Per-authority parameter files (``params/<slug>.yaml``).

Each authority's notebooks run with its own parameters. They are derived from
the data so a new extract needs no hand-written files, but a file that already
exists is never overwritten: only keys it lacks are added, so hand-edited
values (a chosen survey year, cohort sizes for response rates) survive.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from analysis.codebook import load_codebook
from analysis.errors import ParamsError
from analysis.files import write_atomic
from analysis.slug import slugify

if TYPE_CHECKING:
    import pandas as pd

def header() -> str:
    """The comment block at the top of every parameter file (survey codes from the codebook)."""
    codes = list(load_codebook().surveys)
    return (
        "# Parameters for this authority's briefing. Written by `make params`;\n"
        "# edit freely: existing values are kept when the file is refreshed.\n"
        "# survey_year: the year the briefing reports (default: latest in the data).\n"
        "# cohort_sizes: optional, per survey code, children eligible to answer;\n"
        "#   when given, the briefing shows a response rate. Survey codes:\n"
        f"#   {', '.join(codes)}. Example:\n"
        f"#   cohort_sizes: {{{codes[-2]}: 120, {codes[-1]}: 90}}\n"
        "# local_places, local_schools: names of local places (towns, estates,\n"
        "#   children's homes) and schools that children may mention in comments;\n"
        "#   redacted as [place] and [school] wherever they appear (docs/comments.md).\n"
    )


KNOWN_KEYS = ("la_code", "la_name", "slug", "survey_year", "cohort_sizes", "local_places",
              "local_schools")
#: Deny-lists for redacting comments (analysis.redact): lists of names.
DENY_LIST_KEYS = ("local_places", "local_schools")


@dataclass(frozen=True)
class Authority:
    """What the data say about one authority."""

    la_code: str
    la_name: str
    latest_year: int
    years: tuple[int, ...]

    @property
    def slug(self) -> str:
        return slugify(self.la_name)


def authorities(df: pd.DataFrame) -> list[Authority]:
    """Every authority in a validated extract, sorted by slug (stable order)."""
    years = df.groupby("la_code")["survey_year"].agg(lambda s: tuple(sorted({int(v) for v in s})))
    names = df.groupby("la_code")["la_name"].first()
    out = [
        Authority(str(code), str(names[code]), int(ys[-1]), ys) for code, ys in years.items()
    ]
    return sorted(out, key=lambda a: a.slug)


def default_params(auth: Authority) -> dict[str, Any]:
    return {
        "la_code": auth.la_code,
        "la_name": auth.la_name,
        "slug": auth.slug,
        "survey_year": auth.latest_year,
        "cohort_sizes": {},
        "local_places": [],
        "local_schools": [],
    }


def read_params(path: Path) -> dict[str, Any]:
    """Read one parameter file, with a clear error for broken YAML."""
    try:
        with path.open(encoding="utf-8") as fh:
            data = yaml.safe_load(fh)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ParamsError(f"{path}: cannot read parameter file: {reason}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ParamsError(f"{path}: parameter file must be a YAML mapping of key: value")
    return data


def check_params(path: Path, params: dict[str, Any], auth: Authority) -> None:
    """Reject parameters that contradict the data (wrong code, unknown year...)."""
    problems = []
    if str(params.get("la_code", auth.la_code)) != auth.la_code:
        problems.append(f"la_code {params.get('la_code')!r} is not {auth.la_code!r}")
    year = params.get("survey_year", auth.latest_year)
    if not isinstance(year, int) or year not in auth.years:
        problems.append(
            f"survey_year {year!r} has no answers for this authority "
            f"(years in the data: {', '.join(map(str, auth.years))})"
        )
    sizes = params.get("cohort_sizes") or {}
    surveys = list(load_codebook().surveys)
    if not isinstance(sizes, dict) or not all(
        isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in sizes.values()
    ):
        problems.append("cohort_sizes must map survey codes to positive whole numbers")
    elif unknown_surveys := sorted(map(str, set(sizes) - set(surveys))):
        problems.append(
            f"cohort_sizes has unknown survey code(s) {', '.join(unknown_surveys)}"
            f" (survey codes: {', '.join(surveys)})"
        )
    for key in DENY_LIST_KEYS:
        value = params.get(key) or []
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip()
                                                  for v in value):
            problems.append(f"{key} must be a list of names (e.g. [Millbrook, Oakfield Primary])")
    unknown = sorted(set(params) - set(KNOWN_KEYS))
    if unknown:
        problems.append(f"unknown key(s) {', '.join(unknown)}")
    if problems:
        raise ParamsError(f"{path}: " + "; ".join(problems))


def write_yaml_atomic(path: Path, data: dict[str, Any], header: str = "") -> None:
    """Write YAML via a temp file + rename so a killed run never leaves half a file."""
    write_atomic(path, header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True))


def ensure_params(
    auths: Iterable[Authority], params_dir: Path
) -> tuple[list[Path], list[Path], list[Path]]:
    """Write missing parameter files and add missing keys to existing ones.

    Returns (created, updated, orphans): orphans are parameter files for
    authorities absent from the data; they are reported, never deleted.
    """
    params_dir.mkdir(parents=True, exist_ok=True)
    created: list[Path] = []
    updated: list[Path] = []
    slugs = set()
    for auth in auths:
        slugs.add(auth.slug)
        path = params_dir / f"{auth.slug}.yaml"
        defaults = default_params(auth)
        if not path.exists():
            write_yaml_atomic(path, defaults, header())
            created.append(path)
            continue
        try:
            current = read_params(path)
        except ParamsError:
            continue  # reported when that authority is built; never overwritten
        missing = {k: v for k, v in defaults.items() if k not in current}
        if missing:
            write_yaml_atomic(path, {**current, **missing}, header())
            updated.append(path)
    orphans = sorted(p for p in params_dir.glob("*.yaml") if p.stem not in slugs)
    return created, updated, orphans


def resolve_params(auth: Authority, params_dir: Path) -> dict[str, Any]:
    """The parameters an authority is built with: its file over the defaults."""
    path = params_dir / f"{auth.slug}.yaml"
    params = default_params(auth)
    if path.exists():
        given = read_params(path)
        check_params(path, given, auth)
        params.update({k: v for k, v in given.items() if v is not None})
    return params
