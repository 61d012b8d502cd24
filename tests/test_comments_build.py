"""Never leaked: children's words in the published outputs of a real build of the fixture.

One module-scoped build with a review folder in which nothing is approved:
no comment's words may appear in any published file (HTML, PDF, Word, CSV,
executed notebooks, logs). Then every comment is approved (flagged ones too,
by hand in the file, as a careless researcher might) and the authorities are
rebuilt: the briefings now quote children, yet no planted personal detail and
no flagged comment reaches any published file.
"""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from analysis.core.paths import FIXTURE_DATA, PROJECT_ROOT
from analysis.core.slug import slugify
from analysis.data import synthetic
from analysis.data.params import write_yaml_atomic
from analysis.data.synthetic_comments import DETAIL_KINDS, local_deny_lists, read_truth
from analysis.data.validation import load_valid_extract
from analysis.methods import comments as cm

ROOT = PROJECT_ROOT
FIXTURE = FIXTURE_DATA


def norm(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("\u00a0", " ")).strip()


def published_text(reports: Path) -> dict[str, str]:
    """The readable text of every published file (everything but the build's own folder)."""
    import docx
    from pypdf import PdfReader

    out = {}
    for p in sorted(reports.rglob("*")):
        if not p.is_file() or ".build" in p.relative_to(reports).parts:
            continue
        if p.suffix == ".pdf":
            text = " ".join(page.extract_text() for page in PdfReader(p).pages)
        elif p.suffix == ".docx":
            d = docx.Document(str(p))
            text = " ".join([x.text for x in d.paragraphs]
                            + [c.text for t in d.tables for row in t.rows for c in row.cells])
        elif p.suffix == ".ipynb":
            text = json.dumps(json.loads(p.read_text(encoding="utf-8")), ensure_ascii=False)
            text = text.replace("\\n", " ").replace('\\"', '"')
        elif p.suffix == ".html":
            raw = p.read_text(encoding="utf-8")
            raw = re.sub(r"data:[^\"')\s]+", " ", raw)  # embedded images
            import html as h

            text = h.unescape(re.sub(r"<[^>]+>", " ", raw))
        elif p.suffix in (".png", ".svg", ".jpg"):
            continue
        else:
            text = p.read_text(encoding="utf-8", errors="replace")
        out[str(p.relative_to(reports))] = norm(text.replace("\\", ""))
    return out


def build(reports: Path, params: Path, review: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "analysis", "reports", "--data", str(FIXTURE), "--params-dir",
         str(params), "--reports-dir", str(reports), "--review-dir", str(review),
         "--jobs", "2"],
        cwd=ROOT, capture_output=True, text=True, timeout=900)


def _write_rows(path: Path, rows: list[dict[str, str]]) -> None:
    cm._write_private(path, cm._csv_text(rows, cm.REVIEW_COLUMNS))


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("words")
    params, review, reports = root / "params", root / "review", root / "reports"
    cfg = synthetic.load_config(fixture=True)
    deny = local_deny_lists(cfg)
    for a in cfg["authorities"]:
        write_yaml_atomic(params / f"{slugify(a['name'])}.yaml",
                          {"la_code": a["code"], **deny[str(a["code"])]})
    cm.write_review(FIXTURE, params, review)
    first = build(reports, params, review)
    nothing = published_text(reports)
    # approve everything, flagged comments too (by hand, unflagging them in the file)
    for slug in cm.review_authorities(review):
        path = review / slug / "comments.csv"
        rows = cm.read_csv_rows(path)
        for r in rows:
            r["approved"] = "yes"
            r["safeguarding"] = "false"
        _write_rows(path, rows)
    second = build(reports, params, review)
    everything = published_text(reports)
    # withdrawing one approval rebuilds that authority only
    path = review / "northbridge" / "comments.csv"
    rows = cm.read_csv_rows(path)
    flagged = {(r["response_id"], r["question"]) for r in cm.read_csv_rows(
        review / "safeguarding.csv")}
    next(r for r in rows if (r["response_id"], r["question"]) not in flagged)["approved"] = ""
    _write_rows(path, rows)
    third = build(reports, params, review)
    return {"first": first, "second": second, "third": third, "nothing": nothing,
            "everything": everything, "review": review}


@pytest.fixture(scope="module")
def words() -> dict[str, list[str]]:
    df = load_valid_extract(FIXTURE, free_text=True)
    texts = [str(t) for q in ("comment_better", "comment_other") for t in df[q].dropna()]
    return {"comments": sorted({norm(t) for t in texts if len(norm(t)) >= 20})}


def test_builds_succeed(builds: dict) -> None:
    for key in ("first", "second"):
        assert builds[key].returncode == 0, builds[key].stderr[-3000:]
    assert "Summary: 5 built, 1 up to date" in builds["second"].stderr  # every authority
    assert "Summary: 1 built, 5 up to date" in builds["third"].stderr  # only northbridge
    assert "northbridge: built" in builds["third"].stderr


def test_no_approvals_no_comment_text(builds: dict, words: dict) -> None:
    corpus = builds["nothing"]
    assert any(k.endswith("briefing.html") for k in corpus)
    review = builds["review"]
    redacted = [norm(r["text"]) for s in cm.review_authorities(review)
                for r in cm.read_csv_rows(review / s / "comments.csv")]
    for text in words["comments"] + [t for t in redacted if len(t) >= 20]:
        for name, body in corpus.items():
            assert text not in body, f"comment text in {name} with nothing approved"
    html = corpus["northbridge/briefing.html"]
    assert "In their own words" in html and "No comments are quoted" in html


def test_everything_approved_quotes_children(builds: dict) -> None:
    corpus = builds["everything"]
    quoted = [slug for slug in cm.review_authorities(builds["review"])
              if any(a in corpus.get(f"{slug}/briefing.html", "")
                     for a in cm.ATTRIBUTION.values())]
    assert len(quoted) >= 4, quoted  # Little Ferrow has only a handful of comments
    assert "a young person aged 11 to 17" in corpus["northbridge/briefing.html"]
    for name, body in corpus.items():
        assert not re.search(r"SYN20\d\d-\d{6}", body), f"a response id in {name}"


def test_no_planted_detail_or_flagged_comment_published(builds: dict) -> None:
    corpus = builds["everything"]
    truth = read_truth(FIXTURE)
    details = truth[truth["kind"].isin(DETAIL_KINDS)]["value"].unique()
    for value in details:
        pattern = re.compile(r"(?<![\w@])" + re.escape(norm(value)) + r"(?![\w@])", re.I)
        for name, body in corpus.items():
            assert not pattern.search(body), f"planted detail {value!r} in {name}"
    with (builds["review"] / "safeguarding.csv").open(encoding="utf-8", newline="") as fh:
        flagged = list(csv.DictReader(fh))
    assert flagged
    by_key = {(r["response_id"], r["question"]) for r in flagged}
    review = builds["review"]
    redacted = [norm(r["text"]) for s in cm.review_authorities(review)
                for r in cm.read_csv_rows(review / s / "comments.csv")
                if (r["response_id"], r["question"]) in by_key]
    # whole texts: a flagged comment may begin like an unflagged one ("I moved 4 times.
    # Also ...") that is rightly quoted
    for text in [norm(r["text"]) for r in flagged] + redacted:
        for name, body in corpus.items():
            assert text not in body, f"flagged comment in {name}"
    disclosures = truth[truth["kind"] == "disclosure"]["value"]
    for text in disclosures:
        for name, body in corpus.items():
            assert norm(text) not in body, f"planted disclosure in {name}"


def test_quote_counts_need_ten(builds: dict) -> None:
    html = builds["everything"]["little-ferrow/briefing.html"]
    rows = pd.DataFrame(cm.read_csv_rows(builds["review"] / "little-ferrow" / "comments.csv"))
    small = rows["theme"].value_counts() if len(rows) else pd.Series(dtype=int)
    assert (small < 10).all()
    assert "Comments by theme" not in html
