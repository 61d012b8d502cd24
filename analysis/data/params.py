"""Per-authority parameter files (``params/<slug>.yaml``).

Each authority's notebooks run with its own parameters. They are derived from
the data so a new extract needs no hand-written files, but a file that already
exists is never overwritten: only keys it lacks are added, so hand-edited
values (a chosen survey year, cohort sizes for response rates) survive.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from analysis.core import yamlfile
from analysis.core.errors import ParamsError
from analysis.core.files import write_atomic
from analysis.core.paths import REFERENCE_DIR
from analysis.core.slug import authority_slug, check_unique
from analysis.data.codebook import load_codebook

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
        "# region: optional, the authority's region (a name); the briefing compares\n"
        "#   it with the other authorities whose files give the same region.\n"
        "# neighbours: optional, authority codes of its statistical neighbours,\n"
        "#   e.g. neighbours: [E06000001, E06000002]; compared with them pooled.\n"
        "# we_will: optional, the council's promises to its children, one short\n"
        "#   sentence each, shown in the young people's version (young-people.html),\n"
        "#   e.g. we_will: [\"Make sure every child knows who their social worker is.\"]\n"
    )


KNOWN_KEYS = ("la_code", "la_name", "slug", "survey_year", "cohort_sizes", "local_places",
              "local_schools", "we_will", "region", "neighbours")
#: Deny-lists for redacting comments (analysis.methods.redact): lists of names.
DENY_LIST_KEYS = ("local_places", "local_schools")
SYNTHETIC_CONFIG = REFERENCE_DIR / "synthetic.yaml"
MAX_REGION = 80
#: Longest promise accepted in ``we_will`` (characters): a sentence a child can read.
MAX_PROMISE = 300
#: A parameter file holds a handful of keys; anything bigger is a mistake (or
#: an attack: a 57 MB file once stalled every worker at 4.6 GB), refused unread.
MAX_PARAMS_BYTES = 1_000_000
#: Larger cohorts than any authority has: a typing slip (an extra zero or two).
MAX_COHORT = 100_000


@dataclass(frozen=True)
class Authority:
    """What the data say about one authority."""

    la_code: str
    la_name: str
    latest_year: int
    years: tuple[int, ...]
    #: (survey_year, survey, answers): checks cohort sizes (a rate over 100%).
    answers: tuple[tuple[int, str, int], ...] = ()

    @property
    def slug(self) -> str:
        return authority_slug(self.la_name, self.la_code)

    def answers_in(self, year: int) -> dict[str, int]:
        return {survey: n for y, survey, n in self.answers if y == year}


def authorities(df: pd.DataFrame, source: str = "the extract") -> list[Authority]:
    """Every authority in a validated extract, sorted by slug (stable order).

    Raises :class:`analysis.core.slug.SlugError` when two authorities would share
    an output folder, before anything is written.
    """
    years = df.groupby("la_code")["survey_year"].agg(lambda s: tuple(sorted({int(v) for v in s})))
    names = df.groupby("la_code")["la_name"].first()
    check_unique(((str(code), str(names[code])) for code in years.index), source)
    counts: dict[str, list[tuple[int, str, int]]] = {}
    if "survey" in df.columns:
        sizes = df.groupby(["la_code", "survey_year", "survey"]).size()
        for (code, year, survey), n in sizes.items():
            counts.setdefault(str(code), []).append((int(year), str(survey), int(n)))
    out = [
        Authority(str(code), str(names[code]), int(ys[-1]), ys,
                  tuple(sorted(counts.get(str(code), []))))
        for code, ys in years.items()
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
        "we_will": [],
    }


def read_params(path: Path) -> dict[str, Any]:
    """Read one parameter file, with a clear error for broken YAML or an oversized file."""
    try:
        size = path.stat().st_size
        if path.is_dir():
            raise ParamsError(f"{path}: is a folder, not a parameter file; remove or rename it")
        if size > MAX_PARAMS_BYTES:
            raise ParamsError(
                f"{path}: parameter file is {size:,} bytes, over the {MAX_PARAMS_BYTES:,}-byte "
                "limit (a parameter file holds a few lines); replace it with the few keys "
                "it needs, or delete it to have it written again")
        with path.open(encoding="utf-8") as fh:
            data = yamlfile.safe_load(fh)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ParamsError(f"{path}: cannot read parameter file: {reason}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ParamsError(f"{path}: parameter file must be a YAML mapping of key: value")
    return data


def check_params(path: Path, params: dict[str, Any], auth: Authority,
                 known_codes: Iterable[str] | None = None) -> None:
    """Reject parameters that contradict the data (wrong code, unknown year...).

    ``known_codes`` (the authorities in the data) lets ``neighbours`` be checked:
    a code that is not in the data is an error naming the file.
    """
    problems = []
    region = params.get("region")
    if region is not None and not (isinstance(region, str) and region.strip()
                                   and len(region) <= MAX_REGION):
        problems.append(f"region must be a name (1 to {MAX_REGION} characters)")
    neighbours = params.get("neighbours")
    if neighbours is not None:
        if not (isinstance(neighbours, list) and all(isinstance(c, str) for c in neighbours)):
            problems.append("neighbours must be a list of authority codes, "
                            "e.g. neighbours: [E06000001, E06000002]")
        else:
            if auth.la_code in neighbours:
                problems.append(f"neighbours lists the authority itself ({auth.la_code})")
            if known_codes is not None:
                known = set(known_codes)
                if unknown_codes := sorted(set(neighbours) - known - {auth.la_code}):
                    problems.append(f"neighbours has code(s) not in the data: "
                                    f"{', '.join(unknown_codes)}")
    code = params.get("la_code", auth.la_code)
    if not isinstance(code, str) or code != auth.la_code:
        problems.append(f"la_code {code!r} is not {auth.la_code!r}")
    year = params.get("survey_year", auth.latest_year)
    years = ", ".join(map(str, auth.years))
    if year is None:
        year = auth.latest_year
    if isinstance(year, str) and year.strip().isdigit():
        problems.append(f"survey_year is the text {year!r}, not a number: write it without "
                        f"quotes (survey_year: {year.strip()})")
    elif not isinstance(year, int) or isinstance(year, bool):
        problems.append(f"survey_year {year!r} is not a year: give a whole number such as "
                        f"{auth.latest_year} (years in the data: {years})")
    elif year not in auth.years:
        problems.append(
            f"survey_year {year!r} has no answers for this authority "
            f"(years in the data: {years})"
        )
    sizes = params.get("cohort_sizes") or {}
    surveys = list(load_codebook().surveys)
    if not isinstance(sizes, dict) or not all(
        isinstance(v, int) and not isinstance(v, bool) and 0 < v <= MAX_COHORT
        for v in sizes.values()
    ):
        problems.append("cohort_sizes must map survey codes to positive whole numbers "
                        f"(at most {MAX_COHORT:,}, written without quotes)")
    elif unknown_surveys := sorted(map(str, set(sizes) - set(surveys))):
        problems.append(
            f"cohort_sizes has unknown survey code(s) {', '.join(unknown_surveys)}"
            f" (survey codes: {', '.join(surveys)})"
        )
    elif isinstance(year, int) and auth.answers:
        answered = auth.answers_in(year)
        over = [f"{s}: {sizes[s]} eligible but {answered[s]} answered"
                for s in surveys if s in sizes and answered.get(s, 0) > sizes[s]]
        if over:
            problems.append(
                f"cohort_sizes are smaller than the answers in {year} ({'; '.join(over)}), "
                "a response rate over 100%: give the number of children eligible to answer")
    promises = params.get("we_will")
    if promises is not None and not (
        isinstance(promises, list)
        and all(isinstance(w, str) and w.strip() and len(w) <= MAX_PROMISE for w in promises)
    ):
        problems.append(f"we_will must be a list of sentences (each 1 to {MAX_PROMISE} "
                        "characters), e.g. we_will: [\"Tell every child who their social "
                        "worker is.\"]")
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
    try:
        return _ensure_params(auths, params_dir)
    except OSError as exc:
        raise ParamsError(
            f"{exc.filename or params_dir}: cannot write parameter files there "
            f"({exc.strerror or exc}). PARAMS_DIR must be a folder you can write to "
            f"(now {str(params_dir)!r}); give another with PARAMS_DIR=path"
        ) from None


def _ensure_params(
    auths: Iterable[Authority], params_dir: Path
) -> tuple[list[Path], list[Path], list[Path]]:
    if params_dir.exists() and not params_dir.is_dir():
        raise ParamsError(f"{params_dir}: is a file, not a folder. PARAMS_DIR must be the "
                          "folder of parameter files; give another with PARAMS_DIR=path")
    params_dir.mkdir(parents=True, exist_ok=True)
    created: list[Path] = []
    updated: list[Path] = []
    slugs = set()
    auths = list(auths)
    demo = demo_comparators([a.la_code for a in auths])
    for auth in auths:
        slugs.add(auth.slug)
        path = params_dir / f"{auth.slug}.yaml"
        defaults = {**default_params(auth), **demo.get(auth.la_code, {})}
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


def resolve_params(auth: Authority, params_dir: Path,
                   known_codes: Iterable[str] | None = None) -> dict[str, Any]:
    """The parameters an authority is built with: its file over the defaults."""
    path = params_dir / f"{auth.slug}.yaml"
    params = default_params(auth)
    if path.exists():
        given = read_params(path)
        check_params(path, given, auth, known_codes)
        params.update({k: v for k, v in given.items() if v is not None})
    return params


def demo_comparators(codes: Sequence[str], config: Path = SYNTHETIC_CONFIG
                     ) -> dict[str, dict[str, Any]]:
    """Fictional region and neighbours of the demonstration's authorities (others: none).

    The rule is the ``comparators`` section of ``data/reference/synthetic.yaml``:
    the fictional authorities, in the order listed there, are split into equal
    runs, one per region; an authority's neighbours are the authorities of
    ``codes`` closest to it in planned size (latest year), ties by code. Read
    with PyYAML only, so a build with nothing to do still imports no pandas.
    """
    try:
        with config.open(encoding="utf-8") as fh:
            raw = yamlfile.safe_load(fh) or {}
    except (OSError, yaml.YAMLError):
        return {}
    spec = raw.get("comparators") or {}
    listed = raw.get("authorities") or []
    regions = list(spec.get("regions") or [])
    if not regions or not listed:
        return {}
    order = {str(a["code"]): i for i, a in enumerate(listed)}
    size = {str(a["code"]): int(a["sizes"][max(a["sizes"])]) for a in listed}
    present = sorted(c for c in dict.fromkeys(codes) if c in order)
    count = int(spec.get("neighbours", 5))
    out: dict[str, dict[str, Any]] = {}
    for code in present:
        region = regions[order[code] * len(regions) // len(listed)]
        near = sorted((c for c in present if c != code),
                      key=lambda c, me=code: (abs(size[c] - size[me]), c))[:count]
        out[code] = {"region": str(region), "neighbours": sorted(near)}
    return out
