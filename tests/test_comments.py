"""Children's own words: reading, synthetic comments, redaction, safeguarding, review, quotes.

Everything runs on the committed fixture (tests/fixtures/extract.csv) and its
planted truth (tests/fixtures/comments-truth.csv). The end-to-end checks that
no comment leaks are in tests/test_comments_build.py (one module-scoped build).
"""

from __future__ import annotations

import csv
import os
import stat
from pathlib import Path

import pandas as pd
import pytest

from analysis.core import escape
from analysis.core.errors import ExtractError
from analysis.core.paths import FIXTURE_DATA, PROJECT_ROOT
from analysis.core.slug import slugify
from analysis.data import synthetic
from analysis.data.codebook import load_codebook
from analysis.data.params import write_yaml_atomic
from analysis.data.synthetic_comments import (
    TRUTH_NAME,
    comment_truth,
    local_deny_lists,
    read_truth,
)
from analysis.data.validation import load_valid_extract, validate_frame
from analysis.methods import comments as cm
from analysis.methods.comments_eval import score_redaction, score_safeguarding
from analysis.methods.redact import TAG_RE, redact
from analysis.methods.safeguarding import flag

ROOT = PROJECT_ROOT
FIXTURE = FIXTURE_DATA
CB = load_codebook()
TAGS = {"[name]", "[place]", "[school]", "[phone]", "[email]", "[address]", "[postcode]"}


@pytest.fixture(scope="module")
def extract() -> pd.DataFrame:
    return load_valid_extract(FIXTURE, free_text=True)


@pytest.fixture(scope="module")
def truth() -> pd.DataFrame:
    return read_truth(FIXTURE)


@pytest.fixture(scope="module")
def deny() -> dict[str, dict[str, list[str]]]:
    return local_deny_lists(synthetic.load_config(fixture=True))


# ----------------------------------------------------------------------------- reading
def _small(extra: dict[str, list[str]] | None = None) -> pd.DataFrame:
    df = pd.read_csv(FIXTURE, dtype=str, keep_default_na=False).head(40)
    df = df.drop(columns=list(CB.free_text))
    for k, v in (extra or {}).items():
        df[k] = v
    return df


def test_free_text_survives_exactly(tmp_path: Path) -> None:
    tricky = ['Commas, "quotes" and\nline breaks\r\nhere', "Zoë’s café – très bien 😀👍🏽",
              "<script>alert(1)</script> *stars* [link](x) # heading", "", "  spaced  "]
    df = _small()
    n = len(df)
    df["comment_other"] = (tricky * n)[:n]
    df["comment_better"] = ""
    path = tmp_path / "x.csv"
    df.to_csv(path, index=False)
    typed = load_valid_extract(path, free_text=True)
    got = typed["comment_other"].tolist()
    want = [(t.strip() or None) for t in (tricky * n)[:n]]
    assert [None if pd.isna(g) else g for g in got] == want


def test_older_extract_without_free_text_is_valid(tmp_path: Path) -> None:
    path = tmp_path / "v1.csv"
    _small().to_csv(path, index=False)
    plain = load_valid_extract(path)
    assert not set(CB.free_text) & set(plain.columns)
    with_text = load_valid_extract(path, free_text=True)
    assert with_text[list(CB.free_text)].isna().all().all()


def test_answers_never_carry_free_text(extract: pd.DataFrame) -> None:
    """The analysis' frame has no comment columns: no notebook can print one."""
    assert not set(CB.free_text) & set(load_valid_extract(FIXTURE).columns)
    assert extract["comment_other"].notna().any()


def test_too_long_and_skip_logic_name_the_row_not_the_words() -> None:
    df = _small()
    df["comment_other"] = ""
    df["comment_better"] = ""
    young = int((df["survey"] == "ylyc_4_7").to_numpy().nonzero()[0][0])
    df.loc[young, "comment_better"] = "secret words of a small child"
    df.loc[2, "comment_other"] = "private " * 251  # 2,008 characters
    with pytest.raises(ExtractError) as info:
        validate_frame(df, source="x.csv")
    msg = str(info.value)
    assert f"row {young + 1}" in msg and "comment_better" in msg and "skip logic" in msg
    assert "row 3" in msg and "longer than 2,000 characters" in msg
    assert "secret" not in msg and "private" not in msg
    df.loc[2, "comment_other"] = "x" * 2000
    df.loc[young, "comment_better"] = ""
    validate_frame(df, source="x.csv")


# ----------------------------------------------------------------------------- synthetic
def test_fixture_comments_shape(extract: pd.DataFrame, truth: pd.DataFrame) -> None:
    writers = extract[list(CB.free_text)].notna().any(axis=1).mean()
    assert 0.25 <= writers <= 0.36
    assert extract.loc[extract["survey"] == "ylyc_4_7", "comment_better"].isna().all()
    themes = {cm.theme_of(t) for t in extract["comment_other"].dropna()}
    assert {"relationships", "rights", "resilience", "recovery", "wellbeing"} <= themes
    kinds = set(truth["kind"])
    assert {"name", "place", "school", "phone", "email", "address", "postcode",
            "disclosure", "lookalike"} <= kinds


def test_truth_positions_match_the_text(extract: pd.DataFrame, truth: pd.DataFrame) -> None:
    text = {(r.response_id, q): getattr(r, q) for r in extract.itertuples()
            for q in CB.free_text}
    for r in truth.itertuples():
        assert text[(r.response_id, r.question)][int(r.start):int(r.end)] == r.value


def test_committed_truth_is_current() -> None:
    df = synthetic.generate_fixture()
    expected = synthetic.to_csv_text(comment_truth(df)).encode("utf-8")
    assert (FIXTURE.parent / TRUTH_NAME).read_bytes() == expected


def test_answers_unchanged_by_comments() -> None:
    """Comments draw from their own streams: the answers are what they were without them."""
    cfg = synthetic.load_config(fixture=True)
    with_text = synthetic.generate(cfg)
    without = synthetic.generate({**cfg, "comments": False})
    pd.testing.assert_frame_equal(with_text[list(without.columns)], without)


# ----------------------------------------------------------------------------- redaction
@pytest.mark.parametrize("text, tags", [
    ("ring me on 07700 900123 or +44 7700 900456", ["[phone]", "[phone]"]),
    ("landline 01632 960321 please", ["[phone]"]),
    ("email me at kacper_2009@example.co.uk", ["[email]"]),
    ("I live at Flat 3, 22 Mill Lane, NB4 7QT", ["[address]", "[postcode]"]),
    ("my postcode is sw1a1aa", ["[postcode]"]),
    ("she lives on Station Road now", ["[address]"]),
    ("I go to Oakfield Primary and St Bede's Primary School", ["[school]", "[school]"]),
    ("Mrs Okafor at school is the only adult I trust", ["[name]"]),
    ("my social worker Ciarán Szymański listens", ["[name]"]),
    ("me and tyler went to Glenwick", ["[name]", "[place]"]),
    ("i used to live in crickmere", ["[place]"]),
    ("Honestly I'm doing ok. Christmas was good", []),
    ("I love Football and Minecraft", []),
])
def test_redaction_examples(text: str, tags: list[str]) -> None:
    out, n = redact(text)
    assert TAG_RE.findall(out) == tags and n == len(tags), out


def test_deny_list_catches_local_names_in_any_case() -> None:
    out, n = redact("we moved from upper snoddington to the Snoddington Arms",
                    places=["Upper Snoddington"], schools=["Snoddington Arms"])
    assert out == "we moved from [place] to the [school]" and n == 2


def test_tags_already_there_are_kept() -> None:
    assert redact("I want to see my [name] more at [place]") == (
        "I want to see my [name] more at [place]", 0)


def test_redaction_recall_on_planted_details(extract: pd.DataFrame, truth: pd.DataFrame,
                                             deny: dict) -> None:
    details, totals = score_redaction(extract, truth, deny)
    assert len(details) >= 40
    assert totals["recall"] >= 0.98, details[~details["caught"]]
    assert totals["precision"] >= 0.9
    for kind in ("phone", "email", "postcode", "address"):
        assert details.loc[details["kind"] == kind, "caught"].all(), kind


def test_redaction_without_deny_lists_still_finds_most(extract: pd.DataFrame,
                                                      truth: pd.DataFrame) -> None:
    _, totals = score_redaction(extract, truth, None)
    assert totals["recall"] >= 0.95


# ----------------------------------------------------------------------------- safeguarding
def test_safeguarding_recall_and_lookalikes(extract: pd.DataFrame, truth: pd.DataFrame) -> None:
    sg = score_safeguarding(extract, truth)
    disclosures = sg[sg["kind"] == "disclosure"]
    assert len(disclosures) >= 3 and disclosures["flagged"].all()
    assert not sg.loc[sg["kind"] == "lookalike", "flagged"].any()
    assert sg.loc[sg["kind"] == "none", "flagged"].mean() < 0.1


@pytest.mark.parametrize("text, flagged", [
    ("my brother hits me at football", True),
    ("I was hit by a ball", False),
    ("my stepdad said he would hurt me if I told", True),
    ("I hurt my knee at trampolining", False),
    ("sometimes I want to die", True),
    ("I'm dying to go to the beach", False),
    ("a man I met on snap keeps asking me for pics", True),
    ("we smashed it at the match", False),
])
def test_safeguarding_examples(text: str, flagged: bool) -> None:
    assert bool(flag(text)) is flagged


# ----------------------------------------------------------------------------- review files
@pytest.fixture()
def reviewed(tmp_path: Path, deny: dict) -> dict:
    params = tmp_path / "params"
    review = tmp_path / "review"
    cfg = synthetic.load_config(fixture=True)

    for a in cfg["authorities"]:
        write_yaml_atomic(params / f"{slugify(a['name'])}.yaml",
                          {"la_code": a["code"], **deny[str(a["code"])]})
    cm.write_review(FIXTURE, params, review)
    return {"params": params, "review": review}


def test_review_files(reviewed: dict, extract: pd.DataFrame) -> None:
    review = reviewed["review"]
    assert stat.S_IMODE(os.stat(review).st_mode) == 0o700
    slugs = cm.review_authorities(review)
    assert len(slugs) == 5
    total = 0
    for slug in slugs:
        path = review / slug / "comments.csv"
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        with path.open(encoding="utf-8", newline="") as fh:
            reader = csv.DictReader(fh)
            assert reader.fieldnames == cm.REVIEW_COLUMNS
            rows = list(reader)
        total += len(rows)
        for r in rows:
            assert r["approved"] == "" and r["theme"] in cm.THEMES
            assert r["safeguarding"] in ("true", "false")
            assert set(TAG_RE.findall(r["text"])) <= TAGS
    year = extract.groupby("la_code")["survey_year"].transform("max")
    latest = extract[extract["survey_year"] == year]
    assert total == int(latest[list(CB.free_text)].notna().sum().sum())
    with (review / "safeguarding.csv").open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        assert reader.fieldnames == cm.SAFEGUARDING_COLUMNS
        flagged = list(reader)
    assert flagged and all(r["reason"] for r in flagged)
    originals = {(r.response_id, q): getattr(r, q) for r in extract.itertuples()
                 for q in CB.free_text}
    for r in flagged:  # the original words, for the safeguarding procedure
        assert r["text"] == originals[(r["response_id"], r["question"])]


def test_review_keeps_approvals_and_edits(reviewed: dict, tmp_path: Path) -> None:
    review, params = reviewed["review"], reviewed["params"]
    df = cm.load_review(review, "northbridge")
    open_rows = df[df["safeguarding"] == "false"]
    a, b = open_rows.iloc[0], open_rows.iloc[1]
    cm.set_review(review, "northbridge", a["response_id"], a["question"], approved=True)
    cm.set_review(review, "northbridge", b["response_id"], b["question"], approved=True,
                  text="An edit by the researcher", theme="rights")
    flagged = df[df["safeguarding"] == "true"]
    if len(flagged):
        with pytest.raises(ValueError):
            cm.set_review(review, "northbridge", flagged.iloc[0]["response_id"],
                          flagged.iloc[0]["question"], approved=True)
    # a new extract: rows in another order, one comment's words changed
    new = pd.read_csv(FIXTURE, dtype=str, keep_default_na=False).iloc[::-1]
    changed = (new["response_id"] == a["response_id"])
    new.loc[changed, a["question"]] = "Completely different words now"
    path = tmp_path / "new.csv"
    new.to_csv(path, index=False)
    summary = cm.write_review(path, params, review)
    again = cm.load_review(review, "northbridge").set_index(["response_id", "question"])
    rb = again.loc[(b["response_id"], b["question"])]
    assert rb["approved"] == "yes" and rb["text"] == "An edit by the researcher"
    assert rb["theme"] == "rights"
    ra = again.loc[(a["response_id"], a["question"])]
    assert ra["approved"] == "" and "Completely different" in ra["text"]
    assert summary.kept_approvals == 1 and summary.kept_edits == 1
    assert summary.reset_approvals == 1


# ----------------------------------------------------------------------------- quotes
def test_quotes_only_approved_unflagged_and_redacted_again(reviewed: dict) -> None:
    review = reviewed["review"]
    df = cm.load_review(review, "northbridge")
    code = "E99000001"
    assert cm.approved_quotes(review, "northbridge", code)[0] == []
    open_rows = df[df["safeguarding"] == "false"]
    r0 = open_rows.iloc[0]
    cm.set_review(review, "northbridge", r0["response_id"], r0["question"], approved=True,
                  text="My social worker Precious Okafor rang me on 07700 900111")
    r1 = open_rows.iloc[1]
    cm.set_review(review, "northbridge", r1["response_id"], r1["question"], approved=True,
                  text="I want to see my brother more, he hits me when nobody is looking")
    # a flagged row approved by hand in the file is still never quoted
    rows = cm.read_csv_rows(review / "northbridge" / "comments.csv")
    for r in rows:
        if r["safeguarding"] == "true":
            r["approved"] = "yes"
            r["safeguarding"] = "false"
    cm._write_private(review / "northbridge" / "comments.csv",
                      cm._csv_text(rows, cm.REVIEW_COLUMNS))
    quotes, _ = cm.approved_quotes(review, "northbridge", code)
    texts = [q.text for q in quotes]
    assert texts == ["My social worker [name] rang me on [phone]"]
    assert quotes[0].attribution in cm.ATTRIBUTION.values()


def test_publishable_guard() -> None:
    assert cm.publishable("I want to see my [name] more")
    assert not cm.publishable("Kenzie is my best friend")  # a name the rules let through
    assert not cm.publishable("call 0770090")
    assert not cm.publishable("email me kid@example.com")


def test_quotes_are_escaped_as_literal_markdown() -> None:
    out = escape.markdown("<b>hi</b> *x* [a](b) # 1.\nnext")
    assert "\n" not in out and "<b>" not in out and "*x*" not in out
    assert out.replace("\\", "") == "<b>hi</b> *x* [a](b) # 1. next"


def test_allocate_quotes_no_duplicates() -> None:
    qs = [cm.Quote(s, t, f"{s} {t} {i}") for i in range(3) for s in cm.ATTRIBUTION
          for t in cm.THEMES]
    out = cm.allocate_quotes(qs, ("ylyc_4_7", "ylyc_8_11", "ylyc_11_17"), "ylbc")
    shown = [q for part in out.values() for q in part]
    assert len(shown) == len(set(shown))
    assert all(len(out[d]) == cm.PER_DOMAIN for d in ("relationships", "rights"))
    assert len(out["own_words"]) == cm.OWN_WORDS_MAX


def test_review_skips_an_authority_with_a_broken_parameter_file(reviewed: dict) -> None:
    params, review = reviewed["params"], reviewed["review"]
    (params / "vellacombe.yaml").write_text("survey_year: 1999\n", encoding="utf-8")
    summary = cm.write_review(FIXTURE, params, review)
    assert summary.authorities == 4 and len(summary.failures) == 1
    assert "vellacombe" in summary.failures[0] and "survey_year" in summary.failures[0]
    flagged = cm.read_csv_rows(review / "safeguarding.csv")
    assert any(r["la_code"] == "E99000006" for r in flagged)  # earlier flags kept
