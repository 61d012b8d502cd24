"""Read a survey extract (a CSV file) into a frame of text, refusing bad files clearly.

The extract comes from a survey platform or a spreadsheet, so the things that
go wrong are ordinary ones: the wrong file, an empty file, an Excel workbook
instead of a CSV, a file saved in a Windows code page rather than UTF-8, a
header with no rows, or an export whose headers differ from the spec. Each of
these raises an :class:`~analysis.core.errors.ExtractError` whose message names the
file and says what to do, instead of a pandas traceback.

Everything is read **as text**: a blank cell becomes missing, whitespace around
every value and header is removed, and nothing is converted to numbers here. The
rules of the spec (``7.0`` is not a valid scale answer, ``Yes`` is not ``yes``)
can only be checked on the text as written, which :mod:`analysis.data.validation`
does next; it also types the columns.

An export with other headers (or other answer spellings) is read through a
**column-mapping file**, see ``docs/column-mapping.md``::

    columns:            # export header -> spec column
      Response ID: response_id
      Sex: gender
    values:             # spec column -> {export value: spec code}; ~ means blank
      gender: {Female: girl, Male: boy, Prefer not to say: not_said}
"""

from __future__ import annotations

import csv
import io
import re
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from analysis.core.errors import ExtractError
from analysis.data.codebook import load_codebook

#: A column-mapping file lists headers and recodes: a few kilobytes at most.
MAX_MAPPING_BYTES = 1_000_000
#: dtype of every column of a read extract: pandas' default text dtype (missing = NaN).
TEXT_DTYPE = pd.StringDtype(na_value=np.nan)

_LEADING_BLANK_LINES = re.compile(r"\A(?:[ \t]*\r?\n)+")


class ExtractWarning(UserWarning):
    """Something about the extract worth telling the user that does not stop the run."""


# ----------------------------------------------------------------------------- reading
def read_extract(path: str | Path, mapping: str | Path | None = None) -> pd.DataFrame:
    """Read the CSV at ``path`` as text (optionally through a column-mapping file).

    Returns one ``str`` column per header (after mapping), a blank cell as
    missing (NaN) and whitespace stripped, with a ``RangeIndex`` so that data
    row *n* (the n-th line after the header) is at position ``n - 1``.
    Raises :class:`ExtractError` for a file that cannot be read as a CSV.
    """
    path = Path(path)
    raw = _read_bytes(path)
    text = _decode(path, raw)
    df = _parse_csv(path, text)
    if mapping is not None:
        df = apply_mapping(df, load_mapping(mapping), source=str(path))
    return df


def _read_bytes(path: Path) -> bytes:
    """The file's bytes, or an ExtractError saying why there are none."""
    if not path.exists():
        raise ExtractError(
            f"{path}: no such file. Check the path (DATA=...) or run `make data` "
            "to write the demonstration extract."
        )
    if path.is_dir():
        raise ExtractError(f"{path}: is a folder, not a CSV file. Give the path of the extract.")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ExtractError(f"{path}: cannot be read ({exc.strerror or exc}).") from None
    if not raw.strip():
        raise ExtractError(
            f"{path}: the file is empty ({len(raw)} bytes). The extract needs a header "
            "row and at least one row of answers."
        )
    return raw


def _decode(path: Path, raw: bytes) -> str:
    """Decode UTF-8 (with or without BOM); explain binary and non-UTF-8 files."""
    if raw.startswith(b"PK\x03\x04") or raw.startswith(b"\xd0\xcf\x11\xe0"):
        raise ExtractError(
            f"{path}: this is a spreadsheet workbook (or another binary file), not a "
            "CSV file. Open it in the spreadsheet program and save it as 'CSV UTF-8 "
            "(comma delimited)'."
        )
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ExtractError(
            f"{path}: the file is UTF-16 text (a 'Unicode text' export), not UTF-8. "
            "Save it as 'CSV UTF-8 (comma delimited)'."
        )
    nul = raw.find(b"\x00")
    if nul >= 0:
        raise ExtractError(
            f"{path}: the file contains binary data (a NUL byte at offset {nul}), so it "
            "is not a CSV text file. Check that the right file was given and save the "
            "extract as 'CSV UTF-8 (comma delimited)'."
        )
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        offset = exc.start
        # Line and a readable snippet of it, decoded leniently for the message.
        line_no = raw.count(b"\n", 0, offset) + 1
        line_start = raw.rfind(b"\n", 0, offset) + 1
        line_end = raw.find(b"\n", offset)
        line = raw[line_start : line_end if line_end >= 0 else len(raw)]
        snippet = line.decode("cp1252", errors="replace").strip()
        if len(snippet) > 60:
            col = offset - line_start
            snippet = "..." + snippet[max(0, col - 30) : col + 30] + "..."
        raise ExtractError(
            f"{path}: the file is not UTF-8 text: byte 0x{raw[offset]:02X} at offset "
            f"{offset} (line {line_no}: {snippet!r}) is not valid UTF-8. It was probably "
            "saved in a Windows or Latin-1 encoding; save it again as 'CSV UTF-8 (comma "
            "delimited)'."
        ) from None


def _parse_csv(path: Path, text: str) -> pd.DataFrame:
    """Parse CSV text into a frame of stripped strings; check the header and row lengths."""
    text = _LEADING_BLANK_LINES.sub("", text)  # the header is the first line with text
    if "\r" in text and "\n" not in text:
        # Line ends of bare carriage returns (old Mac exports): read as line ends.
        text = text.replace("\r", "\n")
    lengths = _record_lengths(path, text)
    header = next(csv.reader(io.StringIO(text)))
    long_rows = [i for i, n in enumerate(lengths[1:], start=1) if n > len(header)]
    if long_rows:
        shown = ", ".join(str(r) for r in long_rows[:5])
        raise ExtractError(
            f"{path}: {len(long_rows)} data row(s) have more fields than the header's "
            f"{len(header)} (row {shown}{', ...' if len(long_rows) > 5 else ''}). A value "
            "probably contains a comma without being quoted, or a column has no header."
        )
    header = [h.strip() for h in header]
    if len(header) == 1 and any(sep in header[0] for sep in (";", "\t", "|")):
        sep = next(s for s in (";", "\t", "|") if s in header[0])
        raise ExtractError(
            f"{path}: the header is a single column separated by {sep!r}, not by commas. "
            "The extract must be a comma-separated CSV; save it again as 'CSV UTF-8 "
            "(comma delimited)'."
        )
    header = [h if h else f"<unnamed column {i + 1}>" for i, h in enumerate(header)]
    dupes = [h for h, n in Counter(header).items() if n > 1]
    if dupes:
        raise ExtractError(
            f"{path}: the header names {_quoted(dupes)} more than once; every column "
            "must have its own name."
        )
    try:
        df = pd.read_csv(
            io.StringIO(text),
            header=0,  # the first record (read above); replaced by the stripped names
            names=range(len(header)),
            dtype=str,
            keep_default_na=False,
            skip_blank_lines=True,
            engine="c",
        )
    except (pd.errors.ParserError, ValueError, csv.Error) as exc:
        msg = " ".join(str(exc).split())
        raise ExtractError(
            f"{path}: the file cannot be read as CSV ({msg}). Check for a stray quote "
            "mark or a row with more fields than the header."
        ) from None
    if df.empty:
        raise ExtractError(
            f"{path}: the file has a header but no rows of answers. An extract needs at "
            "least one completed questionnaire."
        )
    short = np.asarray(lengths[1:]) < len(header)
    if short.any():
        rows = np.flatnonzero(short) + 1
        shown = ", ".join(str(r) for r in rows[:5])
        raise ExtractError(
            f"{path}: {len(rows)} data row(s) have fewer fields than the header's "
            f"{len(header)} (row {shown}{', ...' if len(rows) > 5 else ''}). A row was "
            "probably cut short or split by a line break inside an unquoted value."
        )
    df.columns = pd.Index(header)
    df = strip_text(df)
    empty_tail = _trailing_empty_rows(df)
    if empty_tail:
        df = df.iloc[: len(df) - empty_tail]
        warnings.warn(
            f"{path}: ignored {empty_tail} empty row(s) at the end of the file.",
            ExtractWarning,
            stacklevel=3,
        )
        if df.empty:
            raise ExtractError(
                f"{path}: the file has a header but no rows of answers (only empty rows)."
            )
    return df.reset_index(drop=True)


#: Longest value accepted in one cell (Python's csv default limit, 128 KiB):
#: no survey answer comes near it, so a longer one is a broken export.
MAX_CELL = 131_072


def _record_lengths(path: Path, text: str) -> list[int]:
    """Field counts per record (blank lines skipped, as pandas does), checking quotes.

    pandas fills a short row with blanks silently, which would hide a broken
    row. Strict mode catches an unclosed quote, which would swallow the rest
    of the file: it is reported at the line where the quoted value *opens*.
    A cell longer than ``MAX_CELL`` is reported as such, with its line.
    """
    previous = csv.field_size_limit()
    csv.field_size_limit(2**31 - 1)  # measured here, so an overlong cell is named as one
    reader = csv.reader(io.StringIO(text), strict=True)
    lengths: list[int] = []
    start = 1  # line where the record being read starts
    try:
        for record in reader:
            if record:
                lengths.append(len(record))
                longest = max(map(len, record))
                if longest > MAX_CELL:
                    column = max(range(len(record)), key=lambda i: len(record[i])) + 1
                    raise ExtractError(
                        f"{path}: line {start}, field {column}: a value of {longest:,} "
                        f"characters, over the {MAX_CELL:,}-character limit for one cell. "
                        "The export is probably broken there (a stray quote mark or a "
                        "pasted document); fix or remove that value."
                    )
            start = reader.line_num + 1
    except csv.Error as exc:
        raise ExtractError(_csv_problem(path, text, start, reader.line_num, exc)) from None
    finally:
        csv.field_size_limit(previous)
    return lengths


def _csv_problem(path: Path, text: str, start: int, line: int, exc: csv.Error) -> str:
    """A readable message for a csv.Error, naming the line where the bad record starts."""
    lines = text.splitlines()
    opening = lines[start - 1] if 0 < start <= len(lines) else ""
    rest = "\n".join(lines[start - 1:])
    if "new-line character" in str(exc):
        return (f"{path}: line {line}: a line ends with a bare carriage return (CR) inside "
                "a row; save the file again as 'CSV UTF-8 (comma delimited)' with ordinary "
                "line ends.")
    if rest.count('"') % 2 == 1 or "unexpected end of data" in str(exc):
        where = opening.find('"')
        snippet = opening[max(0, where):][:40] if where >= 0 else opening[:40]
        return (f"{path}: line {start}: a quote mark (\") opens a value that is never "
                f"closed (it starts {snippet!r}), so the rest of the file would be read as "
                "one value. Close or remove that quote mark.")
    return (f"{path}: line {start}: the file cannot be read as CSV ({exc}). Check for a "
            "stray quote mark (\") on that line.")


def strip_text(df: pd.DataFrame) -> pd.DataFrame:
    """Every column as text with surrounding whitespace removed and blanks as missing.

    Also used by validation on frames built in memory, where a column may be
    numeric: whole numbers become ``"7"`` (not ``"7.0"``) because a float
    dtype says nothing about how the value was written; other values keep
    their text (``7.5`` stays ``"7.5"``, which validation then rejects).
    """
    out = {}
    for name, col in df.items():
        out[name] = _as_text(col)
    return pd.DataFrame(out, index=df.index)


def _as_text(col: pd.Series) -> pd.Series:
    if pd.api.types.is_bool_dtype(col.dtype):
        col = col.astype(object)
    elif pd.api.types.is_numeric_dtype(col.dtype):
        num = col.astype("Float64")
        whole = (num.round() == num).fillna(False)
        text = num.astype(TEXT_DTYPE)
        ints = num.where(whole).round().astype("Int64").astype(TEXT_DTYPE)
        col = ints.where(whole, text)
    s = col.astype(TEXT_DTYPE) if col.dtype != TEXT_DTYPE else col
    return map_unique(s, _clean_value, TEXT_DTYPE)


def _clean_value(value: str) -> object:
    value = value.strip()
    return value if value else np.nan


def map_unique(s: pd.Series, fn: Any, dtype: Any = None, na: Any = np.nan) -> pd.Series:
    """``fn`` applied to each distinct non-missing value of ``s``, broadcast back.

    An extract has few distinct values per column (answer codes, scale
    points), so a Python function over the distinct values is far faster than
    one over every cell; missing cells get ``na``.
    """
    codes, uniques = pd.factorize(s, use_na_sentinel=True)
    mapped = np.array([fn(u) for u in uniques] + [na], dtype=object)
    out = mapped[codes]  # code -1 (missing) picks the trailing ``na``
    return pd.Series(out, index=s.index, dtype=dtype, name=s.name)


def _trailing_empty_rows(df: pd.DataFrame) -> int:
    """How many rows at the end are blank in every column (a spreadsheet artefact)."""
    filled = df.notna().any(axis=1).to_numpy()
    if filled.all():
        return 0
    last = np.flatnonzero(filled)
    return len(df) - (int(last[-1]) + 1 if len(last) else 0)


def _quoted(names: list[str] | tuple[str, ...]) -> str:
    return ", ".join(f"'{n}'" for n in names)


# ----------------------------------------------------------------------------- mapping
class _StringLoader(yaml.SafeLoader):
    """YAML loader that keeps every scalar as text except null.

    Plain YAML turns ``Yes``/``No`` into booleans and ``0`` into a number, so
    ``values: {has_pet: {Yes: yes}}`` would silently become ``{True: True}``.
    In a mapping file the export's spellings matter, so they stay strings;
    ``~``, ``null`` or an empty value means *blank* (not answered).
    """


_StringLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag == "tag:yaml.org,2002:null"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


@dataclass
class ColumnMapping:
    """A parsed column-mapping file: header renames and value recodes."""

    source: str
    columns: dict[str, str] = field(default_factory=dict)
    values: dict[str, dict[str, str | None]] = field(default_factory=dict)


def load_mapping(path: str | Path) -> ColumnMapping:
    """Read and check a column-mapping file; every problem is an ExtractError."""
    path = Path(path)
    where = f"column mapping {path}"
    if not path.exists():
        raise ExtractError(f"{where}: no such file. Check the path (MAPPING=...).")
    if path.is_dir():
        raise ExtractError(f"{where}: is a folder, not a mapping file. Give the file's path "
                           "(MAPPING=...).")
    if path.stat().st_size > MAX_MAPPING_BYTES:
        raise ExtractError(f"{where}: the file is {path.stat().st_size:,} bytes, over the "
                           f"{MAX_MAPPING_BYTES:,}-byte limit for a mapping file (it holds "
                           "header names and value recodes); give the right file.")
    try:
        raw: Any = yaml.load(path.read_text(encoding="utf-8-sig"), Loader=_StringLoader)
    except UnicodeDecodeError:
        raise ExtractError(f"{where}: the file is not UTF-8 text.") from None
    except OSError as exc:
        raise ExtractError(f"{where}: cannot be read ({exc.strerror or exc}).") from None
    except yaml.YAMLError as exc:
        msg = " ".join(str(exc).split())
        raise ExtractError(f"{where}: not valid YAML ({msg}).") from None
    if not isinstance(raw, dict) or not raw:
        raise ExtractError(
            f"{where}: expected a YAML mapping with 'columns:' (export header: spec "
            "column) and optionally 'values:'; see docs/column-mapping.md."
        )
    problems: list[str] = []
    unknown = sorted(set(raw) - {"columns", "values"})
    if unknown:
        problems.append(f"unknown section(s) {_quoted(unknown)} (expected 'columns', 'values')")
    spec = set(load_codebook().all_columns)
    columns_raw = raw.get("columns") or {}
    values_raw = raw.get("values") or {}
    columns: dict[str, str] = {}
    if not isinstance(columns_raw, dict):
        problems.append("'columns' must map each export header to a spec column")
    else:
        for src, dst in columns_raw.items():
            if not isinstance(dst, str) or not dst.strip():
                problems.append(f"header '{src}' is mapped to nothing; give a spec column")
                continue
            dst = dst.strip()
            if dst not in spec:
                problems.append(f"header '{src}' is mapped to '{dst}', which is not a spec column")
            columns[str(src).strip()] = dst
        targets = Counter(columns.values())
        for dst, n in targets.items():
            if n > 1:
                srcs = [s for s, d in columns.items() if d == dst]
                problems.append(f"headers {_quoted(srcs)} are all mapped to column '{dst}'")
    values: dict[str, dict[str, str | None]] = {}
    if not isinstance(values_raw, dict):
        problems.append("'values' must map spec columns to {export value: code}")
    else:
        for col, recode in values_raw.items():
            if col not in spec:
                problems.append(f"'values' names '{col}', which is not a spec column")
                continue
            if not isinstance(recode, dict):
                problems.append(f"'values: {col}' must map each export value to a code")
                continue
            values[col] = {
                str(k).strip(): (None if v is None or not str(v).strip() else str(v).strip())
                for k, v in recode.items()
            }
    if problems:
        raise ExtractError(
            f"{where}: the file has {len(problems)} problem(s):\n"
            + "\n".join(f"  - {p}" for p in problems)
        )
    return ColumnMapping(source=str(path), columns=columns, values=values)


def apply_mapping(df: pd.DataFrame, mapping: ColumnMapping, source: str = "<data>") -> pd.DataFrame:
    """Rename the export's headers and recode its values as the mapping says."""
    problems: list[str] = []
    absent = [src for src in mapping.columns if src not in df.columns]
    if absent:
        problems.append(
            f"mapped header(s) {_quoted(absent)} are not in the file (its headers are "
            f"{_quoted(list(df.columns)[:12])}{', ...' if len(df.columns) > 12 else ''})"
        )
    renamed = [mapping.columns.get(h, h) for h in df.columns]
    for name, n in Counter(renamed).items():
        if n > 1:
            srcs = [h for h, r in zip(df.columns, renamed, strict=True) if r == name]
            problems.append(f"headers {_quoted(srcs)} would all become column '{name}'")
    if problems:
        raise ExtractError(
            f"{source}: the column mapping {mapping.source} does not fit the file:\n"
            + "\n".join(f"  - {p}" for p in problems)
        )
    out = df.set_axis(renamed, axis=1)
    # Kept so that messages can name the export's header next to the spec column.
    out.attrs["export_headers"] = {
        dst: src for src, dst in mapping.columns.items() if src != dst
    }
    out.attrs["mapping"] = mapping.source
    for col, recode in mapping.values.items():
        if col in out.columns and recode:
            out[col] = out[col].replace(recode).astype(TEXT_DTYPE)
    return out
