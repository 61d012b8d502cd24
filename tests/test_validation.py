"""The extract contract: a valid extract is read and typed; every broken rule is refused.

Each failing case starts from the same small valid extract (built here, not by
the synthetic generator, so these tests pin the spec rather than the
generator) and breaks exactly one rule; the message must name the rule, the
column and the 1-based data row numbers, and the command line must exit
non-zero without a traceback.
"""

from __future__ import annotations

import subprocess
import sys
import warnings
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from analysis.core.errors import ExtractError
from analysis.data.codebook import load_codebook
from analysis.data.extract import ExtractWarning, load_mapping, read_extract
from analysis.data.validation import (
    Problem,
    format_problems,
    load_valid_extract,
    validate_frame,
)
from analysis.pipeline.cli import cmd_validate

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_MAPPING = ROOT / "data" / "reference" / "column-mapping.example.yaml"
CB = load_codebook()

# Two rows per survey, in this order (so row numbers below are easy to read):
# rows 1-2 ylyc_4_7, 3-4 ylyc_8_11, 5-6 ylyc_11_17, 7-8 ylbc.
SURVEYS = ["ylyc_4_7", "ylyc_4_7", "ylyc_8_11", "ylyc_8_11",
           "ylyc_11_17", "ylyc_11_17", "ylbc", "ylbc"]
AGES = ["5", "7", "8", "11", "11", "17", "16", "25"]


def valid_rows(n_per_survey: int = 2) -> pd.DataFrame:
    """A valid extract as text: every spec column, skip-logic cells blank.

    Answers cycle through each column's codes so that every code is used;
    some optional answers are left blank, as respondents do.
    """
    rows = []
    for i in range(4 * n_per_survey):
        survey = ["ylyc_4_7", "ylyc_8_11", "ylyc_11_17", "ylbc"][i // n_per_survey]
        lo, hi = CB.age_band(survey)
        row: dict[str, str] = {
            "response_id": f"R{i + 1:05d}",
            "la_code": "E06000001" if i % 2 == 0 else "W06000002",
            "la_name": "Northbridge" if i % 2 == 0 else "Afon Fawr",
            "survey": survey,
            "survey_year": str(2023 + i % 3),
            "age": str(lo if i % 2 == 0 else hi),
        }
        for name, col in CB.columns.items():
            if name in row:
                continue
            if survey not in col.surveys:
                row[name] = ""
            elif col.scale:
                s_lo, s_hi = col.scale
                row[name] = str(s_lo + (i * 3) % (s_hi - s_lo + 1))
            else:
                codes = list(col.allowed_codes(CB.group(survey)))
                row[name] = "" if (i + len(name)) % 9 == 0 else codes[i % len(codes)]
        rows.append(row)
    return pd.DataFrame(rows, columns=list(CB.columns), dtype=str)


def write_csv(df: pd.DataFrame, path: Path, encoding: str = "utf-8") -> Path:
    df.to_csv(path, index=False, encoding=encoding)
    return path


def message_for(df: pd.DataFrame, source: str = "data/x.csv") -> str:
    with pytest.raises(ExtractError) as info:
        validate_frame(df, source=source)
    return str(info.value)


def run_cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "analysis", "validate", *map(str, args)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )


def set_cell(column: str, row: int, value: str) -> Callable[[pd.DataFrame], None]:
    """Mutator: put ``value`` in data row ``row`` (1-based) of ``column``."""
    def mutate(df: pd.DataFrame) -> None:
        df.loc[row - 1, column] = value
    return mutate


# ----------------------------------------------------------------------------- valid input
def test_valid_extract_is_typed() -> None:
    df, warns = validate_frame(valid_rows())
    assert warns == []
    assert list(df.columns) == list(CB.columns)
    assert isinstance(df.index, pd.RangeIndex) and len(df) == 8
    for name in ("survey_year", "age", "wb_life_satisfaction", "wb_happy_faces"):
        assert df[name].dtype == "Int64", name
    assert df["gender"].dtype == "str" and df["survey"].dtype == "str"
    assert df["age"].tolist() == [4, 7, 8, 11, 11, 17, 16, 25]
    # Skip-logic cells are missing, not empty strings.
    assert df.loc[df["survey"] == "ylbc", "trust_carers"].isna().all()
    assert df.loc[df["survey"] == "ylyc_4_7", "wb_life_satisfaction"].isna().all()


def test_valid_csv_via_load_and_cli(tmp_path: Path) -> None:
    path = write_csv(valid_rows(), tmp_path / "extract.csv")
    df = load_valid_extract(path)
    assert len(df) == 8 and df["la_code"].nunique() == 2
    result = run_cli(path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"OK: {path}: 8 answers from 2 authorities, years 2023-2025")
    assert result.stderr == ""


def test_bom_file_accepted(tmp_path: Path) -> None:
    path = write_csv(valid_rows(), tmp_path / "bom.csv", encoding="utf-8-sig")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    df = load_valid_extract(path)
    assert df.columns[0] == "response_id" and df["response_id"].iloc[0] == "R00001"


def test_whitespace_around_values_and_headers_accepted(tmp_path: Path) -> None:
    raw = valid_rows()
    padded = raw.apply(lambda s: s.map(lambda v: f"  {v}\t" if v else "   "))
    padded.columns = [f" {c} " for c in raw.columns]
    df = load_valid_extract(write_csv(padded, tmp_path / "padded.csv"))
    expected, _ = validate_frame(raw)
    pd.testing.assert_frame_equal(df, expected)


def test_columns_in_another_order_accepted(tmp_path: Path) -> None:
    raw = valid_rows()
    shuffled = raw[list(reversed(raw.columns))]
    df = load_valid_extract(write_csv(shuffled, tmp_path / "reordered.csv"))
    assert list(df.columns) == list(CB.columns)
    pd.testing.assert_frame_equal(df, validate_frame(raw)[0])


def test_extra_column_warned_and_dropped(tmp_path: Path) -> None:
    raw = valid_rows().assign(notes="free text", Submitted="2025-03-01")
    df, warns = validate_frame(raw, source="x.csv")
    assert "notes" not in df.columns
    assert len(warns) == 1 and "'notes'" in warns[0] and "'Submitted'" in warns[0]
    path = write_csv(raw, tmp_path / "extra.csv")
    with pytest.warns(ExtractWarning, match="not in the spec: 'notes', 'Submitted'"):
        load_valid_extract(path)
    result = run_cli(path)
    assert result.returncode == 0
    assert "warning:" in result.stderr and "'notes'" in result.stderr
    assert result.stdout.startswith("OK:")


def test_in_memory_numeric_columns_accepted() -> None:
    raw = valid_rows()
    raw["age"] = raw["age"].astype(int)
    raw["wb_life_satisfaction"] = pd.to_numeric(raw["wb_life_satisfaction"])  # float, NaN
    df, _ = validate_frame(raw)
    assert df["age"].tolist()[:2] == [4, 7]


def test_trailing_empty_rows_ignored_with_warning(tmp_path: Path) -> None:
    path = write_csv(valid_rows(), tmp_path / "tail.csv")
    with path.open("a", encoding="utf-8") as fh:
        fh.write("," * (len(CB.columns) - 1) + "\n")
        fh.write("," * (len(CB.columns) - 1) + "\n")
    with pytest.warns(ExtractWarning, match="ignored 2 empty row"):
        df = load_valid_extract(path)
    assert len(df) == 8


# ----------------------------------------------------------------------------- every rule
# (mutation, column, words of the rule, rows that must be named)
RULE_CASES: list[tuple[str, Callable[[pd.DataFrame], None], str, str, list[int]]] = [
    ("code Yes", set_cell("has_pet", 3, "Yes"), "has_pet", "answer not one of yes, no", [3]),
    ("code YES", set_cell("gender", 2, "YES"), "gender",
     "answer not one of girl, boy, other, not_said", [2]),
    ("code unknown", set_cell("feel_safe", 8, "mostly"), "feel_safe",
     "answer not one of always, sometimes, never", [8]),
    ("scale 7.5", set_cell("wb_life_satisfaction", 4, "7.5"), "wb_life_satisfaction",
     "not a whole number (scale 0 to 10)", [4]),
    ("scale 7.0", set_cell("wb_worthwhile", 6, "7.0"), "wb_worthwhile",
     "not a whole number (scale 0 to 10)", [6]),
    ("scale 11", set_cell("wb_happy_yesterday", 5, "11"), "wb_happy_yesterday",
     "outside the scale 0 to 10", [5]),
    ("scale -1", set_cell("happy_appearance", 7, "-1"), "happy_appearance",
     "outside the scale 0 to 10", [7]),
    ("faces 0", set_cell("wb_happy_faces", 1, "0"), "wb_happy_faces",
     "outside the faces scale 1 to 5", [1]),
    ("faces 6", set_cell("wb_happy_faces", 3, "6"), "wb_happy_faces",
     "outside the faces scale 1 to 5", [3]),
    ("age out of band", set_cell("age", 2, "8"), "age",
     "outside 4 to 7, the age band of survey ylyc_4_7", [2]),
    ("leaver too young", set_cell("age", 7, "15"), "age",
     "outside 16 to 25, the age band of survey ylbc", [7]),
    ("age not a number", set_cell("age", 4, "ten"), "age", "not a whole number", [4]),
    ("bad la_code", set_cell("la_code", 5, "E0600001"), "la_code",
     r"does not match the pattern ^[EWSN]\d{8}$", [5]),
    ("lower-case la_code", set_cell("la_code", 3, "e06000001"), "la_code",
     "does not match the pattern", [3]),
    ("two names for one code", set_cell("la_name", 5, "Northbridge Council"), "la_name",
     "la_code E06000001 has more than one la_name (most rows say 'Northbridge')", [5]),
    ("unknown survey", set_cell("survey", 6, "ylyc"), "survey",
     "answer not one of ylyc_4_7, ylyc_8_11, ylyc_11_17, ylbc", [6]),
    ("year too late", set_cell("survey_year", 2, "2036"), "survey_year",
     "outside 2013 to 2035", [2]),
    ("year too early", set_cell("survey_year", 8, "2012"), "survey_year",
     "outside 2013 to 2035", [8]),
    ("year 2024.0", set_cell("survey_year", 1, "2024.0"), "survey_year",
     "not a whole number", [1]),
    ("skipped question answered", set_cell("lonely", 3, "never"), "lonely",
     "answered but not asked in survey ylyc_8_11 (skip logic)", [3]),
    ("skipped scale answered", set_cell("wb_life_satisfaction", 1, "5"), "wb_life_satisfaction",
     "answered but not asked in survey ylyc_4_7 (skip logic)", [1]),
    ("leaver placement for a child", set_cell("placement", 4, "independent"), "placement",
     "not a placement code for children in care (one of foster, kinship, residential, other)",
     [4]),
    ("child placement for a leaver", set_cell("placement", 8, "foster"), "placement",
     "not a placement code for care leavers (one of independent, supported, "
     "with_former_carers, other)", [8]),
    ("years_in_care for a leaver", set_cell("years_in_care", 7, "gt3"), "years_in_care",
     "answered but not asked in survey ylbc (skip logic)", [7]),
    ("disability for a child", set_cell("disability", 5, "no"), "disability",
     "answered but not asked in survey ylyc_11_17 (skip logic)", [5]),
    ("duplicate response_id", set_cell("response_id", 6, "R00002"), "response_id",
     "the same response_id on more than one row", [2, 6]),
]
REQUIRED = [n for n, c in CB.columns.items() if c.required]
RULE_CASES += [
    (f"blank {name}", set_cell(name, 4, "   "), name,
     "blank, but this column must be filled in on every row", [4])
    for name in REQUIRED
]


@pytest.mark.parametrize(
    ("mutate", "column", "rule", "rows"),
    [pytest.param(m, c, r, rows, id=case) for case, m, c, r, rows in RULE_CASES],
)
def test_each_rule_names_rule_column_and_rows(
    mutate: Callable[[pd.DataFrame], None], column: str, rule: str, rows: list[int]
) -> None:
    df = valid_rows()
    mutate(df)
    msg = message_for(df)
    assert msg.startswith("data/x.csv: the extract breaks ")
    lines = [ln for ln in msg.splitlines() if ln.startswith(f"  - column '{column}': ")]
    assert any(rule in ln for ln in lines), msg
    line = next(ln for ln in lines if rule in ln)
    for r in rows:
        assert f"row {r} " in line + " ", msg
    assert f"{len(rows)} row" in line


def test_required_columns_are_the_spec_ones() -> None:
    assert set(REQUIRED) == {"response_id", "la_code", "la_name", "survey", "survey_year"}


@pytest.mark.parametrize("column", ["trust_carers", "lonely", "response_id", "age"])
def test_missing_column_is_an_error(column: str) -> None:
    msg = message_for(valid_rows().drop(columns=[column]))
    assert f"column '{column}': missing from the file" in msg


def test_missing_column_points_at_a_lookalike_header() -> None:
    msg = message_for(valid_rows().rename(columns={"gender": "Gender"}))
    assert "column 'gender': missing from the file" in msg
    assert "the file has a column 'Gender'" in msg


def test_every_problem_reported_at_once_in_order() -> None:
    df = valid_rows()
    df.loc[3, "gender"] = "Girl"
    df.loc[8 - 1, "trust_carers"] = "sometimes"
    df = df.drop(columns=["eet"])
    msg = message_for(df)
    lines = msg.splitlines()
    assert lines[0] == "data/x.csv: the extract breaks 3 rules (nothing was written)."
    assert lines[1].startswith("  - column 'eet': missing from the file")
    assert lines[2] == ("  - column 'gender': answer not one of girl, boy, other, not_said"
                        " — 1 row: row 4 'Girl'")
    assert lines[3] == ("  - column 'trust_carers': answered but not asked in survey ylbc"
                        " (skip logic) — 1 row: row 8 'sometimes'")


def test_many_rows_are_summarised() -> None:
    df = valid_rows(n_per_survey=10)
    df["has_pet"] = ["Yes", "No"] * 20
    msg = message_for(df)
    line = next(ln for ln in msg.splitlines() if "'has_pet'" in ln)
    assert "40 rows, e.g. row 1 'Yes', row 2 'No', row 3 'Yes', row 4 'No', row 5 'Yes'" in line
    assert "row 6" not in line
    assert "(values: 'Yes' ×20, 'No' ×20)" in line


def test_skip_logic_reported_per_survey() -> None:
    df = valid_rows()
    df.loc[0, "lonely"] = "never"   # ylyc_4_7
    df.loc[2, "lonely"] = "never"   # ylyc_8_11
    msg = message_for(df)
    assert "answered but not asked in survey ylyc_4_7 (skip logic) — 1 row: row 1" in msg
    assert "answered but not asked in survey ylyc_8_11 (skip logic) — 1 row: row 3" in msg


def test_error_carries_the_problems() -> None:
    df = valid_rows()
    df.loc[[1, 4], "feel_safe"] = "Always"
    with pytest.raises(ExtractError) as info:
        validate_frame(df)
    (problem,) = info.value.problems  # type: ignore[attr-defined]
    assert problem == Problem("answer not one of always, sometimes, never", "feel_safe",
                              [2, 5], ["Always", "Always"], 2)


def test_bad_survey_reported_once_not_as_skip_logic() -> None:
    df = valid_rows()
    df.loc[6, "survey"] = "YLBC"
    msg = message_for(df)
    assert "breaks 1 rule " in msg and "row 7 'YLBC'" in msg


def test_format_problems() -> None:
    problems = [
        Problem("answer not one of girl, boy, other, not_said", "gender",
                [4, 9, 12], ["Girl", "GIRL", "F"], 3),
        Problem("answered but not asked in survey ylbc (skip logic)", "trust_carers",
                [7], ["sometimes"], 1),
        Problem("blank, but this column must be filled in on every row", "la_name",
                [1, 2, 3], ["", "", ""], 3),
        Problem("missing from the file", "eet"),
    ]
    assert format_problems("data/x.csv", problems, max_rows=2) == (
        "data/x.csv: the extract breaks 4 rules (nothing was written).\n"
        "  - column 'gender': answer not one of girl, boy, other, not_said — 3 rows, "
        "e.g. row 4 'Girl', row 9 'GIRL' (values: 'Girl' ×1, 'GIRL' ×1, 'F' ×1)\n"
        "  - column 'trust_carers': answered but not asked in survey ylbc (skip logic) — "
        "1 row: row 7 'sometimes'\n"
        "  - column 'la_name': blank, but this column must be filled in on every row — "
        "3 rows, e.g. row 1 (blank), row 2 (blank)\n"
        "  - column 'eet': missing from the file"
    )


def test_main_returns_2_on_a_broken_extract(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                            ) -> None:
    df = valid_rows()
    df.loc[0, "has_pet"] = "Yes"
    path = write_csv(df, tmp_path / "bad.csv")
    assert cmd_validate([str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}: the extract breaks 1 rule" in err and "row 1 'Yes'" in err


def test_validation_checks_every_one_of_30k_rows() -> None:
    """A national extract's size: all rows kept, and a rule broken only near the end is found.

    (How long validation takes is the benchmark's to report: ``make bench``,
    through the build's "Validated ... (s)" line; a timed assertion here would
    fail on a slow machine, not on slow code.)
    """
    base = valid_rows()
    big = pd.concat([base] * 3750, ignore_index=True)
    big["response_id"] = [f"R{i:06d}" for i in range(len(big))]
    assert len(big) == 30_000
    df, _ = validate_frame(big)
    assert len(df) == 30_000 and df["response_id"].is_unique
    big.loc[29_998, "has_pet"] = "Yes"
    with pytest.raises(ExtractError) as info:
        validate_frame(big)
    assert "breaks 1 rule" in str(info.value) and "row 29999 'Yes'" in str(info.value)


# ----------------------------------------------------------------------------- unreadable files
def _header_and(rows: str) -> str:
    return ",".join(CB.columns) + "\n" + rows


UNREADABLE: list[tuple[str, bytes, str]] = [
    ("empty", b"", "the file is empty (0 bytes)"),
    ("blank lines only", b"\n\n  \n", "the file is empty"),
    ("header only", _header_and("").encode(), "has a header but no rows of answers"),
    ("binary", b"response_id,la_code\x00\x01\x02\n",
     "contains binary data (a NUL byte at offset 19)"),
    ("xlsx", b"PK\x03\x04\x14\x00\x06\x00rest-of-zip", "spreadsheet workbook"),
    ("utf-16", "response_id,la_code\n".encode("utf-16"), "UTF-16"),
    ("latin-1", _header_and("R1,E06000001,Caf\xe9 Town,ylbc,2024\n").encode("latin-1"),
     "not UTF-8 text: byte 0xE9 at offset"),
    ("unclosed quote", _header_and('R1,"E06000001,x\nR2,y\n').encode(), "line 2: a quote mark"),
    ("long row", _header_and("," * len(CB.columns) + "\n").encode(), "more fields than the header"),
    ("short row", _header_and("R1,E06000001\n").encode(), "fewer fields than the header"),
    ("semicolons", ";".join(CB.columns).encode() + b"\n1;2\n", "separated by ';'"),
    ("duplicate header", b"response_id,response_id\n1,2\n", "names 'response_id' more than once"),
]


@pytest.mark.parametrize(("content", "words"),
                         [pytest.param(c, w, id=i) for i, c, w in UNREADABLE])
def test_unreadable_file_refused_cleanly(tmp_path: Path, content: bytes, words: str) -> None:
    path = tmp_path / "extract.csv"
    path.write_bytes(content)
    with pytest.raises(ExtractError) as info:
        read_extract(path)
    msg = str(info.value)
    assert msg.startswith(f"{path}: ") and words in msg, msg


def test_latin1_message_names_offset_and_line(tmp_path: Path) -> None:
    text = _header_and("R1,E06000001,Caf\xe9 Town,ylbc,2024\n")
    path = tmp_path / "latin1.csv"
    path.write_bytes(text.encode("latin-1"))
    offset = text.index("\xe9")
    with pytest.raises(ExtractError, match=rf"at offset {offset} \(line 2: "):
        read_extract(path)


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(ExtractError, match="no such file"):
        read_extract(tmp_path / "nope.csv")
    with pytest.raises(ExtractError, match="is a folder"):
        read_extract(tmp_path)


@pytest.mark.parametrize(("name", "content", "words"), [
    ("bad.csv", None, "breaks 1 rule"),
    ("empty.csv", b"", "the file is empty"),
    ("header.csv", _header_and("").encode(), "no rows of answers"),
    ("binary.csv", b"\x00\x01\x02\x03", "binary data"),
    ("latin1.csv", _header_and("R1,E06000001,Caf\xe9\n").encode("latin-1"), "not UTF-8"),
    ("missing.csv", "missing", "no such file"),
])
def test_cli_refuses_without_traceback(tmp_path: Path, name: str, content: bytes | str | None,
                                       words: str) -> None:
    path = tmp_path / name
    if content is None:
        df = valid_rows()
        df.loc[2, "wb_life_satisfaction"] = "7.5"
        write_csv(df, path)
    elif isinstance(content, bytes):
        path.write_bytes(content)
    result = run_cli(path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert words in result.stderr and str(path) in result.stderr
    assert result.stdout == ""


# ----------------------------------------------------------------------------- column mapping
def _export(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` as the example mapping's platform would export it (inverse of the mapping)."""
    mapping = load_mapping(EXAMPLE_MAPPING)
    out = df.copy()
    for column, recode in mapping.values.items():
        inverse = {code: export for export, code in recode.items() if code is not None}
        out[column] = out[column].map(lambda v, inv=inverse: inv.get(v, v))
    out["disability"] = out["disability"].mask(out["disability"] == "", "N/A")
    return out.rename(columns={spec: export for export, spec in mapping.columns.items()})


def test_example_mapping_reads_an_export(tmp_path: Path) -> None:
    raw = valid_rows()
    export = _export(raw)
    assert "Gender identity" in export.columns and "Female" in set(export["Gender identity"])
    path = write_csv(export, tmp_path / "export.csv")
    # Without the mapping the export breaks the spec...
    result = run_cli(path)
    assert result.returncode == 2 and "missing from the file" in result.stderr
    # ...with it, it reads exactly as the spec-shaped extract.
    df = load_valid_extract(path, EXAMPLE_MAPPING)
    pd.testing.assert_frame_equal(df, validate_frame(raw)[0])
    result = run_cli(path, "--mapping", EXAMPLE_MAPPING)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("OK:")


def test_mapping_errors_name_the_export_header(tmp_path: Path) -> None:
    export = _export(valid_rows())
    export.loc[1, "Gender identity"] = "F"
    path = write_csv(export, tmp_path / "export.csv")
    with pytest.raises(ExtractError) as info:
        load_valid_extract(path, EXAMPLE_MAPPING)
    msg = str(info.value)
    assert f"(read through column mapping {EXAMPLE_MAPPING})" in msg
    assert "column 'gender' (header 'Gender identity'): answer not one of" in msg
    assert "row 2 'F'" in msg


def _mapping(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mapping.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_mapping_keeps_yes_no_and_numbers_as_text(tmp_path: Path) -> None:
    raw = valid_rows()
    raw["has_pet"] = raw["has_pet"].map({"yes": "Y", "no": "N", "": ""})
    raw["worker_changes_12m"] = raw["worker_changes_12m"].replace({"3_plus": "3+"})
    path = write_csv(raw.rename(columns={"has_pet": "Pet"}), tmp_path / "export.csv")
    mapping = _mapping(tmp_path, (
        "columns:\n  Pet: has_pet\n"
        "values:\n  has_pet: {Y: yes, N: no}\n  worker_changes_12m: {3+: 3_plus, 0: 0}\n"
    ))
    df = load_valid_extract(path, mapping)
    assert set(df["has_pet"].dropna()) <= {"yes", "no"}
    assert "3_plus" in set(df["worker_changes_12m"].dropna())


def test_mapping_value_to_blank(tmp_path: Path) -> None:
    raw = valid_rows()
    raw["lonely"] = raw["lonely"].replace("", "Not asked")
    path = write_csv(raw, tmp_path / "export.csv")
    mapping = _mapping(tmp_path, "values:\n  lonely: {Not asked: ~}\n")
    df = load_valid_extract(path, mapping)
    assert df.loc[0, "lonely"] is not None and pd.isna(df.loc[0, "lonely"])


@pytest.mark.parametrize(("text", "words"), [
    ("columns:\n  Sex: gender\n", "mapped header(s) 'Sex' are not in the file"),
    ("columns:\n  gender: gender\n  placement: gender\n",
     "headers 'gender', 'placement' are all mapped to column 'gender'"),
    ("columns:\n  lonely: loneliness\n", "mapped to 'loneliness', which is not a spec column"),
    ("columns:\n  eet: gender\n", "headers 'gender', 'eet' would all become column 'gender'"),
    ("values:\n  sex: {F: girl}\n", "'values' names 'sex', which is not a spec column"),
    ("colums:\n  Sex: gender\n", "unknown section(s) 'colums'"),
    ("columns: [a, b]\n", "'columns' must map each export header to a spec column"),
    ("columns:\n  Sex: gender\n  bad: [\n", "not valid YAML"),
    ("just text\n", "expected a YAML mapping"),
])
def test_mapping_errors(tmp_path: Path, text: str, words: str) -> None:
    path = write_csv(valid_rows(), tmp_path / "extract.csv")
    mapping = _mapping(tmp_path, text)
    with pytest.raises(ExtractError) as info:
        read_extract(path, mapping)
    assert words in str(info.value), str(info.value)
    assert str(mapping) in str(info.value)
    result = run_cli(path, "--mapping", mapping)
    assert result.returncode == 2 and "Traceback" not in result.stderr


def test_missing_mapping_file(tmp_path: Path) -> None:
    path = write_csv(valid_rows(), tmp_path / "extract.csv")
    with pytest.raises(ExtractError, match="no such file"):
        read_extract(path, tmp_path / "nope.yaml")


def test_no_warnings_leak_from_a_valid_read(tmp_path: Path) -> None:
    path = write_csv(valid_rows(), tmp_path / "extract.csv")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_valid_extract(path)
