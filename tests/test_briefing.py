"""Tests for the authority briefing (analysis/reports/briefing.py, notebooks/briefing.ipynb).

What must hold, whatever the data:

* the key messages are three to six sentences, generated from the results:
  a planted "worse" indicator produces an improvement message that names it
  in plain words, a planted "better" one a bright spot;
* numbers are said in words ("about 1 in 6"), never as ids or decimals;
* reflection questions follow the worse results;
* nothing suppressed is quoted, and an authority's briefing names no other
  authority;
* the executed notebook renders, and the HTML holds every key message.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.core.paths import PROJECT_ROOT
from analysis.data.codebook import load_codebook
from analysis.methods import indicators
from analysis.present.markdown import callout, markdown, pipe_table
from analysis.present.text import _count_word, comparison_sentence, infinitive
from analysis.reports import briefing as br

CB = load_codebook()
AUTHORITIES = [
    ("E06000101", "Northbridge"), ("E06000102", "Southmoor Vale"), ("E06000103", "Eastwick"),
    ("E06000104", "Westerby"), ("E06000105", "Kingsholm"), ("E06000106", "Tiny Fen"),
]
SENTENCE_END = re.compile(r"[.!?](?=\s|$)")


# ---------------------------------------------------------------- helpers
def la_rows(kind: str = "indicator", pct: float = 50.0, others: float = 50.0,
            n: int = 100) -> pd.DataFrame:
    """An la_indicators-shaped frame: every measure of ``kind`` in every survey, all similar."""
    source = CB.indicators if kind == "indicator" else CB.wellbeing
    rows = [
        {"la_code": "E06000101", "survey_year": 2025, "survey": s, "indicator": m.id,
         "domain": m.domain, "direction": m.direction, "n": n, "pct": pct,
         "ci_low": pct - 9, "ci_high": pct + 9, "others_pct": others, "genpop_pct": np.nan,
         "flag": "similar", "suppressed": False}
        for m in source.values() for s in m.surveys
    ]
    frame = pd.DataFrame(rows)
    frame["n"] = frame["n"].astype("Int64")
    return frame


def plant(frame: pd.DataFrame, survey: str, indicator: str, pct: float, others: float,
          flag: str) -> pd.DataFrame:
    out = frame.copy()
    hit = (out["survey"] == survey) & (out["indicator"] == indicator)
    assert hit.any(), (survey, indicator)
    out.loc[hit, ["pct", "others_pct", "flag"]] = [pct, others, flag]
    return out


def sentences(text: str) -> int:
    return len(SENTENCE_END.findall(text))


def fake_extract(seed: int = 7) -> pd.DataFrame:
    """A small typed extract: six authorities, two years, every survey.

    Northbridge's children rarely know their worker (a planted 'worse');
    Tiny Fen has a handful of answers (everything suppressed).
    """
    rng = np.random.default_rng(seed)
    rows = []
    rid = 0
    for code, name in AUTHORITIES:
        for year in (2023, 2025):
            for survey in CB.surveys:
                group = CB.group(survey)
                lo, hi = CB.age_band(survey)
                count = 6 if name == "Tiny Fen" else int(rng.integers(40, 70))
                for _ in range(count):
                    rid += 1
                    r = {"response_id": f"R{rid:05d}", "la_code": code, "la_name": name,
                         "survey": survey, "survey_year": year,
                         "age": int(rng.integers(lo, hi + 1)),
                         "gender": str(rng.choice(["girl", "boy"]))}
                    r["placement"] = str(rng.choice(
                        list(CB.columns["placement"].allowed_codes(group))))
                    if group == "in_care":
                        r["years_in_care"] = str(rng.choice(["lt1", "1to3", "gt3"]))
                    else:
                        r["disability"] = str(rng.choice(["yes", "no"]))
                    for q, col in CB.questions.items():
                        if survey not in col.surveys:
                            continue
                        if col.type == "scale_0_10":
                            r[q] = int(np.clip(rng.normal(6.5, 2.3), 0, 10))
                        elif col.type == "faces_1_5":
                            r[q] = int(np.clip(rng.normal(4, 1), 1, 5))
                        else:
                            codes = list(col.codes)
                            p = np.linspace(2, 0.6, len(codes))
                            if q == "know_worker" and name == "Northbridge" and year == 2025:
                                p = np.array([0.15, 1.0, 0.3])
                            r[q] = str(rng.choice(codes, p=p / p.sum()))
                    rows.append(r)
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def national_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """National tables of the fake extract, written as the build writes them."""

    folder = tmp_path_factory.mktemp("national")
    indicators.write_national_tables(indicators.national_tables(fake_extract()), folder)
    return folder


def full_markdown(b: br.Briefing) -> str:
    """Every section of the briefing, as the notebook shows them."""
    parts = [br.cover_markdown(b), br.key_messages_markdown(b.messages),
             br.wellbeing_markdown(b)]
    parts += [br.domain_markdown(b, d) for d in br.DOMAINS]
    parts += [br.leavers_markdown(b), br.drivers_markdown(b), br.focus_markdown(b),
              br.change_markdown(b), br.questions_markdown(b), br.method_markdown(b)]
    return "\n\n".join(parts)


# ---------------------------------------------------------------- key messages
def test_key_messages_are_three_to_six_sentences_in_every_case() -> None:
    ind, wb = la_rows("indicator"), la_rows("wellbeing", pct=20, others=20)
    cases = {
        "all similar": (ind, wb),
        "many flags": (
            plant(plant(plant(ind, "ylyc_8_11", "know_worker", 30, 60, "worse"),
                        "ylbc", "lonely_often", 10, 25, "better"),
                  "ylyc_11_17", "trusted_adult", 95, 85, "better"),
            plant(wb, "ylbc", "low_overall_wellbeing", 40, 25, "worse"),
        ),
        "all suppressed": (
            ind.assign(pct=np.nan, others_pct=np.nan, flag="suppressed", suppressed=True),
            wb.assign(pct=np.nan, others_pct=np.nan, flag="suppressed", suppressed=True),
        ),
    }
    for name, (i, w) in cases.items():
        msgs = br.key_messages(i, w)
        assert br.MIN_MESSAGES <= len(msgs) <= br.MAX_MESSAGES, name
        for m in msgs:
            assert sentences(m) == 1, (name, m)
            assert not m[0].islower(), m


def test_planted_worse_indicator_yields_an_improvement_message_in_plain_words() -> None:
    ind = plant(la_rows(), "ylyc_8_11", "know_worker", 30.0, 60.0, "worse")
    msgs = br.key_messages(ind, la_rows("wellbeing", 20, 20))
    hits = [m for m in msgs if "know who their social worker or personal adviser is" in m]
    assert len(hits) == 1
    text = hits[0]
    assert text.startswith("To improve: fewer children aged 8 to 11 here than in other "
                           "authorities")
    assert "3 in 10 (30%)" in text and "60% across all authorities" in text
    assert "know_worker" not in " ".join(msgs)


def test_planted_better_lower_is_better_indicator_is_a_bright_spot() -> None:
    ind = plant(la_rows(), "ylbc", "lonely_often", 10.0, 25.0, "better")
    msgs = br.key_messages(ind, la_rows("wellbeing", 20, 20))
    assert any(m.startswith("Going well: fewer care leavers here than in other authorities "
                            "feel lonely") for m in msgs)
    assert any("No result was clearly worse" in m for m in msgs)


def test_wellbeing_message_compares_with_other_authorities_and_general_population() -> None:
    wb = plant(la_rows("wellbeing", 20, 20), "ylbc", "low_overall_wellbeing", 32, 24, "worse")
    wb.loc[(wb["survey"] == "ylbc") & (wb["indicator"] == "low_life_satisfaction"),
           ["pct", "genpop_pct"]] = [25.0, 3.0]
    msgs = br.key_messages(la_rows(), wb)
    leavers = [m for m in msgs if m.startswith("About 1 in 3 care leavers")]
    assert leavers, msgs
    assert "worse than other authorities (24% across all authorities)" in leavers[0]
    assert "against 3% of young people of the same age in general" in leavers[0]


def test_numbers_are_said_in_words_not_ids_or_decimals() -> None:
    ind = plant(plant(la_rows(), "ylyc_11_17", "trust_worker", 71.4, 58.2, "better"),
                "ylyc_4_7", "reason_explained", 38.6, 52.0, "worse")
    msgs = br.key_messages(ind, la_rows("wellbeing", 16.4, 15.0))
    text = " ".join(msgs)
    assert re.search(r"\b\d+ in \d+\b", text)
    assert not re.search(r"\d\.\d", text), text
    assert not re.search(r"\b[a-z]+_[a-z_]+\b", text), text


def test_suppressed_results_are_never_quoted() -> None:
    ind = plant(la_rows(), "ylyc_8_11", "know_worker", 10.0, 60.0, "worse")
    hit = (ind["survey"] == "ylyc_8_11") & (ind["indicator"] == "know_worker")
    ind.loc[hit, ["pct", "others_pct", "flag", "suppressed"]] = [np.nan, np.nan, "suppressed",
                                                                 True]
    ind.loc[hit, "n"] = 7
    msgs = br.key_messages(ind, la_rows("wellbeing", 20, 20))
    assert not any("social worker" in m for m in msgs)
    table = br.indicator_table(ind[hit])
    assert table.iloc[0]["Here"] == "[c]" and table.iloc[0]["Compared with others"] == "[c]"
    assert table.iloc[0]["Answers"] == "7"


# ---------------------------------------------------------------- reflection questions
def test_reflection_questions_follow_worse_flags() -> None:
    ind = plant(plant(la_rows(), "ylyc_8_11", "know_worker", 30, 60, "worse"),
                "ylyc_11_17", "know_worker", 40, 55, "worse")
    qs = br.reflection_questions(ind, la_rows("wellbeing", 20, 20))
    assert qs[0] == (
        "Children aged 8 to 11 and young people aged 11 to 17 here are less likely than in "
        "other authorities to know who their social worker or personal adviser is. "
        "What would help every child know who their worker is?"
    )
    assert qs[-1] == br.CLOSING_QUESTION
    more = plant(la_rows(), "ylyc_11_17", "worker_changes_3plus", 35, 20, "worse")
    q = br.reflection_questions(more, la_rows("wellbeing", 20, 20))[0]
    assert q.startswith("Young people aged 11 to 17 here are more likely than in other "
                        "authorities to have had three or more social workers")


def test_without_worse_results_questions_ask_what_next() -> None:
    qs = br.reflection_questions(la_rows(), la_rows("wellbeing", 20, 20))
    assert qs == [br.NO_WORSE_QUESTION, br.CLOSING_QUESTION]


def test_questions_are_capped_and_every_indicator_has_a_question() -> None:
    ind = la_rows()
    for m in list(CB.indicators)[:8]:
        s = CB.indicators[m].surveys[0]
        ind = plant(ind, s, m, 20, 60, "worse") if CB.indicators[m].direction == \
            "higher_is_better" else plant(ind, s, m, 60, 20, "worse")
    assert len(br.reflection_questions(ind, la_rows("wellbeing"))) <= 5
    assert set(CB.indicators) <= set(br.QUESTIONS)


def test_infinitives_read_as_plain_english() -> None:
    for mid in CB.measures():
        phrase = infinitive(mid)
        assert phrase.split()[0] not in ("are", "had", "chose", "felt", "can", "of"), phrase


# ---------------------------------------------------------------- markdown helpers
def test_pipe_table_has_header_alignment_and_caption() -> None:
    text = pipe_table(pd.DataFrame({"Measure": ["A|B"], "Here": ["12%"]}), "Cap",
                         right=("Here",))
    lines = text.splitlines()
    assert lines[0] == "| Measure | Here |"
    assert lines[1] == "|:---|---:|"
    assert lines[2] == "| A\\|B | 12% |"
    assert lines[-1] == ": Cap"


def test_markdown_display_text_is_the_markdown_itself() -> None:
    obj = markdown("## Key messages")
    assert repr(obj) == "## Key messages"
    assert obj._repr_markdown_() == "## Key messages"


def test_callout_uses_quarto_syntax() -> None:
    assert callout("tip", "Focus", "Body") == '::: {.callout-tip title="Focus"}\nBody\n:::'


# ---------------------------------------------------------------- whole briefing
def test_briefing_from_tables_names_no_other_authority(national_dir: Path,
                                                       tmp_path: Path) -> None:
    b = br.prepare(la_code="E06000101", national_dir=national_dir, out_dir=tmp_path)
    text = full_markdown(b)
    assert "Northbridge" in text
    for _, name in AUTHORITIES[1:]:
        assert name not in text, name
    assert br.MIN_MESSAGES <= len(b.messages) <= br.MAX_MESSAGES
    # The planted result surfaces as an improvement message and a question.
    assert any("know who their social worker" in m for m in b.messages)
    assert any("know who their social worker" in q for q in b.questions)
    assert '::: {.callout-tip title="Focus areas"}' in text
    assert "causes" not in text.replace("not proof that one thing causes another", "")
    assert len(list((tmp_path / "figures").glob("*.png"))) == 5


def test_small_authority_shows_no_small_numbers(national_dir: Path, tmp_path: Path) -> None:
    b = br.prepare(la_code="E06000106", national_dir=national_dir, out_dir=tmp_path)
    assert b.indicators["suppressed"].all()
    assert b.indicators["pct"].isna().all()
    text = full_markdown(b)
    assert not re.search(r"\|\s*[1-4]\s*\|", text)  # no count 1-4 in any table cell
    assert not re.search(r"\b\d+%", br.key_messages_markdown(b.messages))
    assert "[c]" in text


def test_defaults_pick_first_authority_and_latest_year(national_dir: Path,
                                                        tmp_path: Path) -> None:
    b = br.prepare(national_dir=national_dir, out_dir=tmp_path)
    assert b.la_name == "Eastwick"  # first by slug
    assert b.survey_year == 2025
    assert not b.change.empty and "Change since the last survey" in br.change_markdown(b)


def test_response_rates_from_cohort_sizes(national_dir: Path, tmp_path: Path) -> None:
    b = br.prepare(la_code="E06000101", national_dir=national_dir, out_dir=tmp_path,
                   cohort_sizes={"ylbc": 200})
    cover = br.cover_markdown(b)
    assert "Response rate" in cover and "of 200" in cover
    assert "[x]" in cover  # cohort sizes not given for the other surveys


def test_low_response_rate_is_cautioned(national_dir: Path, tmp_path: Path) -> None:
    """Below 30% of the eligible children answering, the cover says to read with caution."""
    b = br.prepare(la_code="E06000101", national_dir=national_dir, out_dir=tmp_path)
    answered = b.answers.set_index("survey")["answers"]
    survey = next(s for s in answered.index if s != "total" and not pd.isna(answered[s]))
    count = int(answered[survey])
    ok = br.cover_markdown(br.prepare(la_code="E06000101", national_dir=national_dir,
                                      out_dir=tmp_path, cohort_sizes={survey: count * 2}))
    assert "Low response" not in ok and "(low)" not in ok
    low = br.cover_markdown(br.prepare(la_code="E06000101", national_dir=national_dir,
                                       out_dir=tmp_path, cohort_sizes={survey: count * 4}))
    assert "(low)" in low and 'callout-warning title="Low response"' in low
    assert "Fewer than 3 in 10 of the children eligible answered" in low
    over = br.cover_markdown(br.prepare(la_code="E06000101", national_dir=national_dir,
                                        out_dir=tmp_path, cohort_sizes={survey: count - 1}))
    assert "check `cohort_sizes`" in over


def test_national_tables_are_read_once_per_process(national_dir: Path) -> None:

    first = indicators.read_national_tables(national_dir)
    assert indicators.read_national_tables(national_dir) is first


# ---------------------------------------------------------------- notebook and render
def _fixture_data() -> Path | None:
    path = PROJECT_ROOT / "tests" / "fixtures" / "extract.csv"
    return path if path.exists() else None


def _normalise(text: str) -> str:
    text = html.unescape(re.sub(r"<[^>]+>", " ", text))
    text = text.replace("\u2019", "'").replace("\u2018", "'").replace("\u00a0", " ")
    return re.sub(r"\s+", " ", text)


def test_notebook_runs_and_html_holds_every_key_message(national_dir: Path,
                                                        tmp_path: Path) -> None:
    papermill = pytest.importorskip("papermill")
    render = pytest.importorskip("analysis.pipeline.render")
    params: dict[str, object] = {"la_code": "E06000101", "national_dir": str(national_dir)}
    data = _fixture_data()
    if data is not None and (PROJECT_ROOT / "analysis" / "validation.py").exists():
        params = {"data": str(data)}  # the committed fixture, through validation
    out = tmp_path / "briefing.ipynb"
    papermill.execute_notebook(str(PROJECT_ROOT / "notebooks" / "briefing.ipynb"), str(out),
                               parameters=params, cwd=str(tmp_path), progress_bar=False,
                               kernel_name="python3")
    nb = json.loads(out.read_text(encoding="utf-8"))
    cells = nb["cells"]
    assert cells[0]["cell_type"] == "raw" and "".join(cells[0]["source"]).startswith("---")
    assert "parameters" in cells[1]["metadata"].get("tags", [])
    outputs = [o for c in cells if c["cell_type"] == "code" for o in c.get("outputs", [])]
    assert outputs and all("text/markdown" in o.get("data", {}) for o in outputs
                           if o["output_type"] in ("display_data", "execute_result"))
    assert not any(o["output_type"] == "error" for o in outputs)
    # the key messages open the at-a-glance pages, up to the first callout
    glance = next("".join(o["data"]["text/markdown"]) for o in outputs
                  if "".join(o.get("data", {}).get("text/markdown", "")).startswith(
                      "## At a glance"))
    key = glance.split("### Key messages", 1)[1].split(":::", 1)[0]
    messages = [line[2:] for line in key.splitlines() if line.startswith("- ")]
    assert br.MIN_MESSAGES <= len(messages) <= br.MAX_MESSAGES
    files = render.render_notebook(out, tmp_path, stem="briefing", formats=["html"],
                                   renderer="pandoc",
                                   metadata={"title": "Test briefing", "date": "2025-01-01"})
    page = _normalise(files["html"].read_text(encoding="utf-8"))
    for message in messages:
        assert _normalise(message) in page, message
    assert "callout" in page.lower() or "Focus areas" in page


def test_focus_areas_come_with_real_practice_examples_in_a_tip_callout(
        national_dir: Path, tmp_path: Path) -> None:
    focus = pytest.importorskip("analysis.methods.focus")

    tables = indicators.read_national_tables(national_dir)
    drivers = pd.DataFrame([
        {"survey": s, "indicator": "know_worker", "effect": 0.5, "ci_low": 0.2, "ci_high": 0.8,
         "importance": 0.2, "rank": 1}
        for s in CB.indicators["know_worker"].surveys
    ])
    table = focus.all_focus_areas(drivers, tables["comparisons"])
    b = br.prepare(la_code="E06000101", national_dir=national_dir, out_dir=tmp_path)
    b.focus = focus.la_focus(table, b.la_code, b.survey_year)
    b.drivers = drivers
    assert not b.focus.empty
    text = br.focus_markdown(b)
    assert text.count("::: {.callout-tip") == 1 and text.rstrip().endswith(":::")
    assert "**Know their worker**" in text
    assert "What one council did." in text and "North Somerset" in text
    for _, name in AUTHORITIES[1:]:
        assert name not in text
    drivers_text = br.drivers_markdown(b)
    assert "associated with" in drivers_text and "worse here than elsewhere" in drivers_text
    assert "cause" not in drivers_text.replace("causes another", "")


def test_gender_table_shows_girls_and_boys_with_suppression() -> None:
    rows = pd.DataFrame([
        {"survey": "ylbc", "group": "girl", "pct": 31.0, "others_pct": 36.0, "suppressed": False},
        {"survey": "ylbc", "group": "boy", "pct": np.nan, "others_pct": np.nan,
         "suppressed": True},
        {"survey": "ylyc_4_7", "group": "girl", "pct": np.nan, "others_pct": np.nan,
         "suppressed": True},
    ])
    table = br.gender_table(rows)
    assert table is not None and list(table["Who"]) == ["Care leavers"]
    row = table.iloc[0]
    assert (row["Girls here"], row["Girls, all authorities"]) == ("31%", "36%")
    assert (row["Boys here"], row["Boys, all authorities"]) == ("[c]", "[c]")
    assert br.gender_table(rows.iloc[2:]) is None


# ---------------------------------------------------------------- fair comparisons in words
def test_words_say_how_sure_and_what_is_expected() -> None:
    rows = plant(la_rows(), "ylyc_11_17", "trusted_adult", 60.0, 85.0, "worse")
    row = rows[(rows["survey"] == "ylyc_11_17") & (rows["indicator"] == "trusted_adult")
               ].iloc[0].to_dict()
    row.update(expected_pct=80.0, certainty="clear")
    text = comparison_sentence(row, br.TO_IMPROVE)
    assert "80% expected for young people of the same age and gender" in text
    assert text.endswith("a clear difference.")
    row.update(certainty="likely")
    assert "probably a real difference" in comparison_sentence(row, br.TO_IMPROVE)
    leavers = {**row, "survey": "ylbc", "indicator": "trust_worker"}
    assert "same age, gender and disability" in comparison_sentence(leavers)
    # More / fewer follows the expectation the flag is about, not only the pooled figure.
    row.update(pct=70.0, others_pct=68.0, expected_pct=80.0)
    assert comparison_sentence(row).startswith("Fewer")


def test_summary_counts_match_the_flags_and_say_what_chance_would_give(
        national_dir: Path, tmp_path: Path) -> None:
    b = br.prepare(la_code="E06000101", national_dir=national_dir, out_dir=tmp_path)
    summary = b.messages[0]
    shown = b.wellbeing[b.wellbeing["indicator"].isin(br.WELLBEING_MEASURES)]
    pub = br.published(pd.concat([b.indicators, shown]))
    pub = pub[pub["others_pct"].notna()]
    better, worse = int((pub["flag"] == "better").sum()), int((pub["flag"] == "worse").sum())
    assert f"Of {len(pub)} results" in summary
    assert (f"{better} was better" if better == 1 else
            f"{_count_word(better)} were better") in summary
    assert f"{_count_word(worse)} worse" in summary
    m = int(b.indicators["family_size"].max())
    assert f"across all {m} results" in summary
    assert "no flag at all in about 19 briefings out of 20" in summary
    cover = br.cover_markdown(b)
    assert "How big a difference can be told from chance here" in cover
    assert re.search(r"differences of about \d+ percentage points or more", cover)
    notes = br.method_markdown(b)
    assert "Benjamini-Hochberg" in notes and "mid-p" in notes and "difference in differences" \
        in notes
    focus = br.focus_markdown(b)
    assert "expected difference" not in focus and "cause" not in focus
