"""Synthetic free-text comments for the demonstration extract (spec v2), with planted truth.

Why this exists: the comment pipeline (redaction, safeguarding flags, review,
quotes) must be measured, not assumed. So the generator writes comments that
look like children's (short, misspelt, lower case, emoji, line breaks, quotes
and commas inside the CSV field), across the Bright Spots themes, and plants in
some of them fictional personal details (names, schools, places, phone numbers,
e-mail addresses, street addresses, postcodes) and a few possible disclosures
of harm beside harmless look-alikes. Every planted item is recorded with its
exact character position in a **ground-truth table** written beside the extract
(``comments-truth.csv``; never published), so that
:mod:`analysis.methods.comments` can be scored against it (``docs/comments.md``).

Held out on purpose: the planted first names are not taken from the name list
the redaction uses, half the places and schools are in no authority's
deny-list, and half the disclosures were written apart from the rules that
flag them. Recall on those parts is the honest estimate for comments nobody
has seen.

Deterministic: every draw comes from the generator's named random streams
(``comments``, ...), so the rest of the extract is byte-for-byte what it was
without comments, and the comments are the same bytes every run.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis.core import yamlfile
from analysis.core.paths import REFERENCE_DIR
from analysis.core.provenance import stable_key
from analysis.data.codebook import Codebook

COMMENTS_CONFIG = REFERENCE_DIR / "synthetic_comments.yaml"
TRUTH_NAME = "comments-truth.csv"
TRUTH_COLUMNS = ["response_id", "la_code", "question", "kind", "value", "start", "end",
                 "known", "split"]
DETAIL_KINDS = ("name", "place", "school", "phone", "email", "address", "postcode")
SLOT_KIND = {"first": "name", "First": "name", "first2": "name", "surname": "name",
             "school": "school", "place": "place", "phone": "phone", "email": "email",
             "address": "address", "postcode": "postcode"}
GROUP_OF_SURVEY = {"ylyc_4_7": "young", "ylyc_8_11": "child", "ylyc_11_17": "teen",
                   "ylbc": "leaver"}
QUESTION_KEY = {"comment_better": "better", "comment_other": "other"}
EMOJI = ["😀", "😊", "🙂", "❤️", "👍", "😢", "🙏", "⭐"]
_SLOT = re.compile(r"\{(\w+)\}")
_POSTCODE_AREAS = ["NB", "KM", "AV", "WX", "HF", "LF", "CR", "SM", "TV", "PY"]
_POSTCODE_INWARD = "ABDEFGHJLNPQRSTUWXYZ"


@lru_cache(maxsize=2)
def load_comment_config(path: str | None = None) -> dict[str, Any]:
    """The comment templates and pools (``data/reference/synthetic_comments.yaml``)."""
    with Path(path or COMMENTS_CONFIG).open(encoding="utf-8") as fh:
        return yamlfile.safe_load(fh)


def _pick(rng: np.random.Generator, items: list[Any]) -> Any:
    return items[int(rng.integers(len(items)))]


def local_deny_lists(cfg: dict[str, Any], ccfg: dict[str, Any] | None = None
                     ) -> dict[str, dict[str, list[str]]]:
    """Each authority's local places and schools (its parameter file's deny-list).

    Drawn from the ``deny_list`` pools by a stream keyed on the authority code,
    so the fixture and the full extract agree for the same authority.
    """

    ccfg = ccfg or load_comment_config()
    out = {}
    for a in sorted(cfg["authorities"], key=lambda a: str(a["code"])):
        code = str(a["code"])
        seed = np.random.SeedSequence([stable_key("deny-list"), stable_key(code)])
        rng = np.random.default_rng(seed)
        places = list(rng.choice(ccfg["places"]["deny_list"], size=3, replace=False))
        schools = list(rng.choice(ccfg["schools"]["deny_list"], size=3, replace=False))
        out[code] = {"local_places": [str(p) for p in places],
                     "local_schools": [str(s) for s in schools]}
    return out


class _Filler:
    """Fills one template's slots, recording each planted detail's position."""

    def __init__(self, rng: np.random.Generator, ccfg: dict[str, Any],
                 local: dict[str, list[str]]):
        self.rng = rng
        self.c = ccfg
        self.local = local

    def value(self, slot: str) -> tuple[str, bool]:
        """(text, known): ``known`` = in the authority's deny-list (places, schools)."""
        r, c = self.rng, self.c
        if slot in ("first", "first2"):
            name = str(_pick(r, c["first_names"]))
            return (name.lower() if r.random() < 0.2 else name), False
        if slot == "First":
            return str(_pick(r, c["first_names"])), False
        if slot == "surname":
            return str(_pick(r, c["surnames"])), False
        if slot in ("place", "school"):
            pool = c["places" if slot == "place" else "schools"]
            if r.random() < 0.5:
                return str(_pick(r, self.local[f"local_{slot}s"])), True
            return str(_pick(r, pool["held_out"])), False
        if slot == "phone":
            return _phone(r), False
        if slot == "email":
            name = str(_pick(r, c["first_names"])).lower()
            name = re.sub(r"[^a-z]", "", name.encode("ascii", "ignore").decode()) or "kid"
            sep = _pick(r, ["", ".", "_"])
            tail = _pick(r, ["", str(int(r.integers(1, 99))), str(int(r.integers(2005, 2012)))])
            return f"{name}{sep}{tail}@{_pick(r, c['email_domains'])}", False
        if slot == "address":
            num = int(r.integers(1, 120))
            street = str(_pick(r, c["streets"]))
            if r.random() < 0.25:
                return f"Flat {int(r.integers(1, 30))}, {num} {street}", False
            return f"{num} {street}", False
        if slot == "postcode":
            return _postcode(r), False
        raise KeyError(f"synthetic_comments.yaml: unknown slot {{{slot}}}")

    def fill(self, template: str) -> tuple[str, list[tuple[str, str, int, int, bool]]]:
        """The comment and its planted details as (kind, value, start, end, known)."""
        out: list[str] = []
        details = []
        pos = 0
        last = 0
        for m in _SLOT.finditer(template):
            lit = template[last:m.start()]
            out.append(lit)
            pos += len(lit)
            text, known = self.value(m.group(1))
            details.append((SLOT_KIND[m.group(1)], text, pos, pos + len(text), known))
            out.append(text)
            pos += len(text)
            last = m.end()
        out.append(template[last:])
        return "".join(out), details


def _phone(r: np.random.Generator) -> str:
    """A fictional UK number from Ofcom's ranges for drama (07700 900xxx, 01632 960xxx...)."""
    tail = f"{int(r.integers(0, 1000)):03d}"
    form = int(r.integers(6))
    return [f"07700 900{tail}", f"07700900{tail}", f"+44 7700 900{tail}",
            f"01632 960{tail}", f"0207 946 0{tail}", f"07700-900-{tail}"][form]


def _postcode(r: np.random.Generator) -> str:
    """A postcode-shaped string (fictional areas), as people type it."""
    area = str(_pick(r, _POSTCODE_AREAS))
    inward = "".join(_pick(r, list(_POSTCODE_INWARD)) for _ in range(2))
    code = f"{area}{int(r.integers(1, 20))} {int(r.integers(1, 10))}{inward}"
    if r.random() < 0.2:
        code = code.lower()
    if r.random() < 0.2:
        code = code.replace(" ", "")
    return code


def _templates(ccfg: dict[str, Any], group: str, qkey: str) -> tuple[list[list[Any]],
                                                                    list[list[Any]]]:
    """Templates a group may write in a question: (without slots, with slots)."""
    plain, slotted = [], []
    for t in ccfg["templates"]:
        who, q, _theme, text = t
        groups = set(str(who).split("+"))
        if "all" not in groups and group not in groups:
            continue
        if q not in ("any", qkey):
            continue
        (slotted if _SLOT.search(text) else plain).append(t)
    return plain, slotted


def _decorate(r: np.random.Generator, text: str, group: str, ccfg: dict[str, Any]) -> str:
    """Lower case, a line break, an emoji: offsets of earlier characters never move."""
    if group in ("teen", "leaver") and r.random() < float(ccfg["lowercase_rate"]):
        lowered = text.lower()
        if len(lowered) == len(text):
            text = lowered
    if r.random() < float(ccfg["lines_rate"]):
        i = text.find(". ")
        text = text[:i + 1] + "\n" + text[i + 2:] if i > 0 else text + "\nthank you"
    if r.random() < float(ccfg["emoji_rate"]):
        text = f"{text} {_pick(r, EMOJI)}"
    return text


def second_set_config(ccfg: dict[str, Any] | None = None) -> dict[str, Any]:
    """The ``evaluation`` set as a comment config: other names, places, schools, sentences,
    no deny-list entries, no disclosures (for ``comments_eval --second-set``)."""
    ccfg = dict(ccfg or load_comment_config())
    ev = ccfg["evaluation"]
    out = {**ccfg, "first_names": ev["first_names"], "surnames": ev["surnames"],
           "templates": ev["templates"], "share_detail": 1.0, "share_two_thoughts": 0.0,
           "disclosure_rate": 0.0, "lookalike_rate": 0.0}
    out["places"] = {"deny_list": ev["places"], "held_out": ev["places"]}
    out["schools"] = {"deny_list": ev["schools"], "held_out": ev["schools"]}
    return out


def add_comments(df: pd.DataFrame, cfg: dict[str, Any], cb: Codebook,
                 rng: Callable[..., np.random.Generator],
                 ccfg: dict[str, Any] | None = None) -> pd.DataFrame:
    """``df`` with ``comment_better`` and ``comment_other`` appended; truth in ``attrs``.

    ``rng(*keys)`` is the generator's named-stream factory. Skip logic comes
    from the codebook (``comment_better`` is not asked of 4-7s). The planted
    truth is :func:`comment_truth` of the result (columns ``TRUTH_COLUMNS``).
    """
    ccfg = ccfg or load_comment_config()
    n = len(df)
    local = local_deny_lists(cfg, ccfg)
    questions = list(cb.free_text)
    survey = df["survey"].to_numpy(dtype=object)
    la = df["la_code"].to_numpy(dtype=object)
    rid = df["response_id"].to_numpy(dtype=object)
    asked = {q: np.isin(survey, list(cb.free_text[q].surveys)) for q in questions}
    r = rng("comments")
    writes = r.random(n) < float(ccfg["share_writing"])
    both = r.random(n) < float(ccfg["share_both"])
    first = r.random(n)
    values = {q: np.full(n, None, dtype=object) for q in questions}
    truth: list[dict[str, Any]] = []
    cache: dict[tuple[str, str], tuple[list[list[Any]], list[list[Any]]]] = {}
    for i in np.flatnonzero(writes):
        avail = [q for q in questions if asked[q][i]]
        if not avail:
            continue
        if len(avail) > 1 and not both[i]:
            avail = [avail[0] if first[i] < 0.6 else avail[1]]
        group = GROUP_OF_SURVEY[str(survey[i])]
        for q in avail:
            ri = rng("comments", str(rid[i]), q)
            filler = _Filler(ri, ccfg, local[str(la[i])])
            u = ri.random()
            mark = len(truth)
            base = {"response_id": rid[i], "la_code": la[i], "question": q}
            if group != "young" and u < float(ccfg["disclosure_rate"]):
                split = "held_out" if ri.random() < 0.5 else "tuning"
                text = str(_pick(ri, ccfg["disclosures"][split]))
                truth.append({**base, "kind": "disclosure", "value": text, "start": 0,
                              "end": len(text), "known": False, "split": split})
            elif u < float(ccfg["disclosure_rate"]) + float(ccfg["lookalike_rate"]):
                split = "held_out" if ri.random() < 0.5 else "tuning"
                text = str(_pick(ri, ccfg["lookalikes"][split]))
                truth.append({**base, "kind": "lookalike", "value": text, "start": 0,
                              "end": len(text), "known": False, "split": split})
            else:
                key = (group, QUESTION_KEY[q])
                if key not in cache:
                    cache[key] = _templates(ccfg, *key)
                plain, slotted = cache[key]
                pool = slotted if (slotted and ri.random() < float(ccfg["share_detail"])) \
                    else plain
                if not pool:
                    continue
                template = _pick(ri, pool)
                text, details = filler.fill(str(template[3]))
                if plain and group != "young" and ri.random() < float(
                        ccfg.get("share_two_thoughts", 0)):
                    # a second thought after the first (details keep their offsets)
                    more = str(_pick(ri, plain)[3])
                    if more.lower() != text.lower() and len(more) > 12:
                        sep = _pick(ri, [". ", ". Also ", " and ", "\n", ". ", " - "])
                        text = text.rstrip(".!") + sep + (more[0].lower() + more[1:]
                                                          if sep in (" and ", ". Also ") else more)
                for kind, value, start, end, known in details:
                    truth.append({**base, "kind": kind, "value": value, "start": start,
                                  "end": end, "known": known, "split": ""})
            text = _decorate(ri, text, group, ccfg)
            for rec in truth[mark:]:  # as written (lower case, a line break, an emoji)
                if rec["kind"] in DETAIL_KINDS:
                    rec["value"] = text[rec["start"]:rec["end"]]
                else:
                    rec["value"], rec["end"] = text, len(text)
            values[q][i] = text
    out = df.copy()
    for q in questions:
        out[q] = pd.Series(values[q], index=df.index, dtype=df["survey"].dtype)
    # rows as tuples: pandas compares and copies ``attrs`` on every operation, which a
    # DataFrame there would break (see :func:`comment_truth`)
    out.attrs["comment_truth"] = tuple(tuple(r[c] for c in TRUTH_COLUMNS) for r in truth)
    return out


def comment_truth(df: pd.DataFrame) -> pd.DataFrame | None:
    """The planted truth of a generated extract (None for one without comments)."""
    rows = df.attrs.get("comment_truth")
    return None if rows is None else pd.DataFrame(list(rows), columns=TRUTH_COLUMNS)


def truth_path(extract: str | Path) -> Path:
    """Where the ground truth of an extract's planted comments is written (beside it)."""
    return Path(extract).with_name(TRUTH_NAME)


def read_truth(extract: str | Path) -> pd.DataFrame:
    """The planted truth written beside ``extract`` (empty frame when there is none)."""
    path = truth_path(extract)
    if not path.exists():
        return pd.DataFrame(columns=TRUTH_COLUMNS)
    return pd.read_csv(path, dtype={"response_id": str, "la_code": str, "value": str},
                       keep_default_na=False)
