"""Children's own words: the confidential review files, and the quotes a briefing may use.

The path of a comment, and why each step exists (interfaces.md, *Children's
own words*):

1. ``make review`` (:func:`write_review`) reads the extract's free text (the
   only place in the project that does), and for every authority writes
   ``REVIEW_DIR/<slug>/comments.csv``: each comment of its briefing year
   **redacted** (:mod:`analysis.methods.redact`), **flagged** when it may disclose
   harm (:mod:`analysis.methods.safeguarding`) and given a **theme** (the Bright Spots
   domain it is mostly about). ``REVIEW_DIR/safeguarding.csv`` lists every
   flagged comment, with its original text, for the programme's safeguarding
   procedure. The folder is private (0700, files 0600) and never in git.
2. A researcher reads the file (``notebooks/review.ipynb``), writes ``yes`` in
   ``approved`` for comments that may be quoted, and may edit ``text``. A
   re-run keeps approvals and edits (keyed by ``response_id`` + ``question``,
   so they survive a new extract); a comment whose original words changed in
   a new extract loses its approval, since the researcher approved other words.
3. ``make reports`` (:func:`approved_quotes`) reads only approved rows, drops
   anything flagged (in the file, in ``safeguarding.csv``, or by the rules run
   again on the text), redacts the text again (an edit may have put a name
   back), drops a quote that still looks identifying, and attributes the rest
   only to a survey group. With no approvals nothing is quoted.

Nothing here prints or logs a comment's words.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import stat
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from analysis.core.errors import UserError
from analysis.core.files import write_atomic
from analysis.data.codebook import load_codebook
from analysis.data.params import authorities, ensure_params, resolve_params
from analysis.data.validation import load_valid_extract
from analysis.methods.redact import NOT_DETAILS, TAG_RE, common_words, name_lists, redact
from analysis.methods.safeguarding import flag

REVIEW_COLUMNS = ["response_id", "survey", "question", "text", "redactions", "safeguarding",
                  "theme", "approved"]
SAFEGUARDING_COLUMNS = ["la_code", "response_id", "survey", "question", "reason", "text"]
THEMES = ("relationships", "rights", "resilience", "recovery", "wellbeing", "other")
STATE_NAME = ".review-state.json"
#: A theme's number of comments is shown in a briefing only from this many.
MIN_THEME_COUNT = 10
#: Attribution of a quote: a survey group, nothing more.
ATTRIBUTION = {
    "ylyc_4_7": "a child aged 4 to 7 (written down by a trusted adult)",
    "ylyc_8_11": "a child aged 8 to 11",
    "ylyc_11_17": "a young person aged 11 to 17",
    "ylbc": "a care leaver",
}

# ----------------------------------------------------------------------------- themes
THEME_WORDS: dict[str, tuple[str, ...]] = {
    "relationships": (
        "friend", "mate", "mum", "mam", "mummy", "dad", "daddy", "brother", "sister", "sibling",
        "nan", "nanna", "grandma", "grandad", "family", "carer", "carers", "social worker",
        "worker", "pa ", "personal adviser", "adviser", "contact", "see my", "lonely",
        "boyfriend", "girlfriend", "trust", "cousin", "auntie", "uncle", "visit", "miss my",
        "miss her", "miss him", "love my", "people", "anyone", "adult",
    ),
    "rights": (
        "bully", "bullied", "bullying", "why i am in care", "why i came into care",
        "why i can't", "told why", "decide", "decision", "meeting", "review", "safe",
        "embarrassed", "treat me different", "treats me different", "permission", "rights",
        "entitled", "pathway plan", "involved", "asked before", "listened", "talking over",
        "in front of everyone", "looked after child", "lac", "call me names", "it's my life",
        "allowed",
    ),
    "resilience": (
        "school", "college", "uni", "job", "work", "apprenticeship", "money", "afford", "£",
        "football", "club", "hobby", "dance", "swimming", "activities", "activity", "wifi",
        "internet", "laptop", "homework", "gcse", "bus", "trip", "art", "boxing", "cubs",
        "reading", "teacher", "trampoline", "beach", "days out", "rent", "bills", "café",
    ),
    "recovery": (
        "settled", "move", "moved", "moving", "bedroom", "home", "house", "flat", "stay",
        "staying", "placement",
        "mental health", "anxiety", "camhs", "worry", "worries", "counsellor", "how i look",
        "getting better", "waiting list", "support with", "accommodation", "felt like home",
    ),
    "wellbeing": (
        "happy", "happier", "sad", "my life is", "doing ok", "doing well", "future", "anxious",
        "good about", "most of the time", "life is",
    ),
}


def theme_of(text: str) -> str:
    """The Bright Spots domain a comment is mostly about (most theme words; first on ties)."""
    low = f" {text.lower()} "
    best, score = "other", 0
    for theme, words in THEME_WORDS.items():
        n = sum(1 for w in words if re.search(r"(?<![a-z])" + re.escape(w.strip())
                                              + r"(?:s|es|ed|d|ing)?(?![a-z])", low))
        if n > score:
            best, score = theme, n
    return best


# ----------------------------------------------------------------------------- private files
def _private_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    return path


def _write_private(path: Path, text: str) -> None:
    """Write atomically as a private file (0600): review files are confidential."""
    _private_dir(path.parent)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        os.chmod(name, stat.S_IRUSR | stat.S_IWUSR)
        os.replace(name, path)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise


def _csv_text(rows: Iterable[Mapping[str, Any]], columns: list[str]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n", extrasaction="ignore")
    w.writeheader()
    for r in rows:
        w.writerow({c: r.get(c, "") for c in columns})
    return buf.getvalue()


def read_csv_rows(path: Path) -> list[dict[str, str]]:
    """Rows of a review CSV as text (empty when the file is absent); a BOM is tolerated."""
    if not path.exists():
        return []
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return [dict(r) for r in csv.DictReader(fh)]


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:20]


def _key(response_id: str, question: str) -> str:
    return f"{response_id}\x1f{question}"


def _truthy(value: Any) -> bool:
    return str(value or "").strip().lower() in ("yes", "true", "y", "1")


# ----------------------------------------------------------------------------- make review
@dataclass
class ReviewSummary:
    authorities: int = 0
    comments: int = 0
    flagged: int = 0
    redactions: int = 0
    kept_approvals: int = 0
    kept_edits: int = 0
    reset_approvals: int = 0
    #: authorities skipped (a broken parameter file), with the reason
    failures: list[str] = field(default_factory=list)


def review_rows(comments: Any, places: Iterable[str] = (), schools: Iterable[str] = (),
                ) -> list[dict[str, Any]]:
    """Redacted, flagged and themed rows for one authority's comments.

    ``comments`` is a frame with ``response_id``, ``survey``, ``question`` and
    ``original`` (the comment as written). Each row also carries ``original``,
    ``reason`` and the digests :func:`merge_review` needs; they are never
    written to ``comments.csv``.
    """

    out = []
    places, schools = tuple(places), tuple(schools)
    for rec in comments.to_dict("records"):
        original = str(rec["original"])
        text, n = redact(original, places, schools)
        reason = flag(original)
        out.append({
            "response_id": str(rec["response_id"]), "survey": str(rec["survey"]),
            "question": str(rec["question"]), "text": text, "redactions": n,
            "safeguarding": "true" if reason else "false", "theme": theme_of(original),
            "approved": "", "original": original, "reason": reason,
        })
    return out


def merge_review(fresh: list[dict[str, Any]], existing: list[dict[str, str]],
                 state: dict[str, dict[str, str]], summary: ReviewSummary
                 ) -> tuple[list[dict[str, Any]], dict[str, dict[str, str]]]:
    """Fresh rows with the researcher's approvals and edits kept.

    ``state`` holds, per comment, digests of what the last run wrote (the
    original words, the machine's text and theme), never the words: a text or
    theme that differs from what the machine wrote was edited and is kept; an
    approval is kept unless the original words changed. A comment once
    flagged stays flagged.
    """
    old = {_key(r.get("response_id", ""), r.get("question", "")): r for r in existing}
    new_state: dict[str, dict[str, str]] = {}
    for row in fresh:
        key = _key(row["response_id"], row["question"])
        machine = {"original": _digest(row["original"]), "text": _digest(row["text"]),
                   "theme": row["theme"]}
        prev, seen = old.get(key), state.get(key, {})
        if prev is not None:
            same_words = seen.get("original") in (None, machine["original"])
            if same_words and _truthy(prev.get("approved")):
                row["approved"] = "yes"
                summary.kept_approvals += 1
            elif _truthy(prev.get("approved")):
                summary.reset_approvals += 1
            edited = "text" in seen and _digest(prev.get("text", "")) != seen["text"]
            if same_words and edited:
                row["text"] = prev.get("text", "")
                summary.kept_edits += 1
                machine["text"] = seen["text"]
            if same_words and seen.get("theme") and prev.get("theme") != seen["theme"] \
                    and prev.get("theme") in THEMES:
                row["theme"] = prev["theme"]
                machine["theme"] = seen["theme"]
            if _truthy(prev.get("safeguarding")):
                row["safeguarding"] = "true"
        new_state[key] = machine
    return fresh, new_state


def authority_comments(df: Any, la_code: str, year: int) -> Any:
    """One row per non-blank comment of an authority's year: response_id, survey, question,
    original."""
    import pandas as pd

    cols = [c for c in load_codebook().free_text if c in df.columns]
    sel = df[(df["la_code"] == la_code) & (df["survey_year"] == int(year))]
    parts = []
    for q in cols:
        part = sel.loc[sel[q].notna(), ["response_id", "survey", q]].rename(
            columns={q: "original"})
        parts.append(part.assign(question=q))
    if not parts:
        return pd.DataFrame(columns=["response_id", "survey", "question", "original"])
    out = pd.concat(parts, ignore_index=True)
    out = out[out["original"].astype(str).str.strip() != ""]
    return out.sort_values(["response_id", "question"], kind="stable").reset_index(drop=True)


def write_review(data: Path, params_dir: Path, review_dir: Path,
                 mapping: Path | None = None, only: Iterable[str] | None = None
                 ) -> ReviewSummary:
    """``make review``: the review files of every authority (or of ``only`` slugs)."""

    df = load_valid_extract(data, mapping, free_text=True)
    auths = authorities(df)
    ensure_params(auths, params_dir)
    wanted = set(only or ())
    summary = ReviewSummary()
    _private_dir(review_dir)
    flagged_rows: list[dict[str, Any]] = []
    sg_path = review_dir / "safeguarding.csv"
    done_failed: set[str] = set()
    keep_sg = [r for r in read_csv_rows(sg_path)] if wanted else []
    for auth in auths:
        if wanted and auth.slug not in wanted:
            continue
        try:
            params = resolve_params(auth, params_dir)
        except UserError as exc:  # one broken file never stops the others
            summary.failures.append(f"{auth.la_name} [{auth.slug}]: {exc}")
            done_failed.add(auth.la_code)
            continue
        year = int(params["survey_year"])
        comments = authority_comments(df, auth.la_code, year)
        fresh = review_rows(comments, params.get("local_places") or (),
                            params.get("local_schools") or ())
        folder = _private_dir(review_dir / auth.slug)
        state_path = folder / STATE_NAME
        try:
            state = json.loads(state_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            state = {}
        rows, new_state = merge_review(fresh, read_csv_rows(folder / "comments.csv"),
                                       state, summary)
        _write_private(folder / "comments.csv", _csv_text(rows, REVIEW_COLUMNS))
        _write_private(state_path, json.dumps(new_state, sort_keys=True, indent=0))
        summary.authorities += 1
        summary.comments += len(rows)
        summary.redactions += sum(int(r["redactions"]) for r in rows)
        for r in rows:
            if r["safeguarding"] == "true":
                summary.flagged += 1
                flagged_rows.append({**r, "la_code": auth.la_code, "text": r["original"],
                                     "reason": r["reason"] or "flagged earlier"})
    done = {a.la_code for a in auths if (not wanted or a.slug in wanted)
            and a.la_code not in done_failed}
    if done_failed:  # keep what was flagged before for the authorities not redone
        keep_sg += [r for r in read_csv_rows(sg_path) if r.get("la_code") in done_failed
                    and r not in keep_sg]
    keep_sg = [r for r in keep_sg if r.get("la_code") not in done]
    _write_private(sg_path, _csv_text(keep_sg + flagged_rows, SAFEGUARDING_COLUMNS))
    return summary


# ----------------------------------------------------------------------------- review notebook
def review_authorities(review_dir: str | Path) -> list[str]:
    """Slugs with a review file, sorted."""
    root = Path(review_dir)
    return sorted(p.parent.name for p in root.glob("*/comments.csv"))


def load_review(review_dir: str | Path, slug: str) -> Any:
    """One authority's review file as a frame (text columns; ``approved`` blank or ``yes``)."""
    import pandas as pd

    rows = read_csv_rows(Path(review_dir) / slug / "comments.csv")
    return pd.DataFrame(rows, columns=REVIEW_COLUMNS).fillna("")


def set_review(review_dir: str | Path, slug: str, response_id: str, question: str,
               approved: bool | None = None, text: str | None = None,
               theme: str | None = None) -> dict[str, str]:
    """Approve (or withdraw) one comment, and optionally edit its text or theme.

    A flagged comment cannot be approved. The edit is kept by ``make review``
    and redacted again by ``make reports``. Returns the row as written.
    """
    path = Path(review_dir) / slug / "comments.csv"
    rows = read_csv_rows(path)
    hit = [r for r in rows if r.get("response_id") == response_id
           and r.get("question") == question]
    if not hit:
        raise KeyError(f"{slug}: no comment {response_id} / {question} in {path}")
    row = hit[0]
    if approved is not None:
        if approved and _truthy(row.get("safeguarding")):
            raise ValueError("a comment flagged for safeguarding is never quoted; it goes to "
                             "the safeguarding procedure (safeguarding.csv)")
        row["approved"] = "yes" if approved else ""
    if text is not None:
        row["text"] = text
    if theme is not None:
        if theme not in THEMES:
            raise ValueError(f"theme must be one of {', '.join(THEMES)}")
        row["theme"] = theme
    _write_private(path, _csv_text(rows, REVIEW_COLUMNS))
    return row


# ----------------------------------------------------------------------------- quotes
@dataclass(frozen=True)
class Quote:
    survey: str
    theme: str
    text: str

    @property
    def attribution(self) -> str:
        return ATTRIBUTION.get(self.survey, "a child or young person")


def approved_rows(review_dir: str | Path | None, slug: str, la_code: str
                  ) -> tuple[list[dict[str, str]], dict[str, int]]:
    """The approved, unflagged rows of an authority's review file, and comments per theme.

    Plain ``csv`` (no pandas): the build fingerprints these on its no-change
    path. A comment listed in ``safeguarding.csv`` is never returned, whatever
    its own file says.
    """
    if not review_dir:
        return [], {}
    folder = Path(review_dir)
    rows = read_csv_rows(folder / slug / "comments.csv")
    flagged = {_key(r.get("response_id", ""), r.get("question", ""))
               for r in read_csv_rows(folder / "safeguarding.csv")
               if r.get("la_code") == la_code}
    counts: dict[str, int] = {}
    for r in rows:
        t = r.get("theme") if r.get("theme") in THEMES else "other"
        counts[t] = counts.get(t, 0) + 1
    ok = [r for r in rows if _truthy(r.get("approved")) and not _truthy(r.get("safeguarding"))
          and _key(r.get("response_id", ""), r.get("question", "")) not in flagged
          and r.get("survey") in ATTRIBUTION and (r.get("text") or "").strip()]
    return ok, counts


def quotes_fingerprint(review_dir: str | Path | None, slug: str, la_code: str) -> str:
    """What of the review folder an authority's briefing depends on (approved quotes, counts)."""
    rows, counts = approved_rows(review_dir, slug, la_code)
    payload = [[r.get("response_id"), r.get("question"), r.get("survey"), r.get("theme"),
                r.get("text")] for r in rows]
    return _digest(json.dumps([payload, sorted(counts.items())], ensure_ascii=False))


_DIGITS = re.compile(r"\d{3,}")


def publishable(text: str) -> bool:
    """A last check on a redacted quote: nothing left that looks like a detail.

    Refuses a run of three or more digits (a phone or house number), an ``@``,
    and any capitalised word the name rules would not call ordinary English
    (a name at the start of a sentence is the one place the recogniser gives
    the benefit of the doubt).
    """

    if _DIGITS.search(text) or "@" in text:
        return False
    common = common_words()
    first, last = name_lists()
    plain = TAG_RE.sub(" ", text)
    for m in re.finditer(r"[A-Za-zÀ-ÖØ-öø-ÿĀ-ſ]+(?:['’-][A-Za-zÀ-ÖØ-öø-ÿĀ-ſ]+)*", plain):
        w = re.sub(r"['’]s$", "", m.group(0))
        lw = w.lower()
        if lw in first or lw in last:
            if lw not in common:
                return False
        if w[:1].isupper() and lw not in common and lw not in NOT_DETAILS and not w.isupper():
            return False
    return True


def approved_quotes(review_dir: str | Path | None, slug: str, la_code: str,
                    places: Iterable[str] = (), schools: Iterable[str] = ()
                    ) -> tuple[list[Quote], dict[str, int]]:
    """The quotes a briefing may use, and the number of comments per theme (>= 10 only).

    Approved (``yes``), not flagged (in the file, in ``safeguarding.csv``, or
    by the rules run again), redacted again, and passing :func:`publishable`.
    Ordered by a digest of the comment's key, so the choice is stable and
    favours no survey.
    """
    rows, counts = approved_rows(review_dir, slug, la_code)
    shown = {t: n for t, n in counts.items() if n >= MIN_THEME_COUNT}
    if not rows:
        return [], shown

    out = []
    places, schools = tuple(places), tuple(schools)
    for r in sorted(rows, key=lambda r: _digest(_key(r["response_id"], r["question"]))):
        text, _ = redact(" ".join(str(r["text"]).split()), places, schools)
        if flag(text) or not publishable(text):
            continue
        theme = r.get("theme") if r.get("theme") in THEMES else "other"
        out.append(Quote(survey=str(r["survey"]), theme=str(theme), text=text))
    return out, shown


# ----------------------------------------------------------------------------- build hand-over
def write_quotes_file(path: Path, quotes: list[Quote], counts: Mapping[str, int]) -> Path:
    """The quotes one briefing may use, for its notebook (the notebook never reads REVIEW_DIR)."""

    data = {"quotes": [{"survey": q.survey, "theme": q.theme, "text": q.text} for q in quotes],
            "theme_counts": {t: int(n) for t, n in sorted(counts.items())}}
    return write_atomic(path, json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True))


def read_quotes_file(path: str | Path | None) -> tuple[list[Quote], dict[str, int]]:
    """Quotes and theme counts handed over by the build (none without a file)."""
    if not path or not Path(path).exists():
        return [], {}
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    quotes = [Quote(str(q["survey"]), str(q["theme"]), str(q["text"]))
              for q in data.get("quotes", []) if q.get("survey") in ATTRIBUTION]
    counts = {str(t): int(n) for t, n in (data.get("theme_counts") or {}).items()
              if int(n) >= MIN_THEME_COUNT}
    return quotes, counts


#: Quotes shown beside a domain (children in care), with the care leavers, and in
#: "In their own words" (the rest, a few per theme).
PER_DOMAIN = 2
PER_LEAVERS = 2
OWN_WORDS_MAX = 6


def allocate_quotes(quotes: list[Quote], in_care: Iterable[str], leavers: str
                    ) -> dict[str, list[Quote]]:
    """Which quote goes where: each domain's section, the care leavers', and the rest.

    Deterministic (the input order), and no quote is shown twice.
    """
    in_care = set(in_care)
    out: dict[str, list[Quote]] = {"leavers": [], "own_words": []}
    rest: list[Quote] = []
    for q in quotes:
        if q.survey in in_care and q.theme in ("relationships", "rights", "resilience",
                                                "recovery"):
            slot = out.setdefault(q.theme, [])
            if len(slot) < PER_DOMAIN:
                slot.append(q)
                continue
        elif q.survey == leavers and len(out["leavers"]) < PER_LEAVERS:
            out["leavers"].append(q)
            continue
        rest.append(q)
    by_theme: dict[str, list[Quote]] = {}
    for q in rest:
        by_theme.setdefault(q.theme, []).append(q)
    while len(out["own_words"]) < OWN_WORDS_MAX and any(by_theme.values()):
        for t in THEMES:
            if by_theme.get(t) and len(out["own_words"]) < OWN_WORDS_MAX:
                out["own_words"].append(by_theme[t].pop(0))
    return out
