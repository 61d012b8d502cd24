"""Measure redaction and safeguarding against the synthetic extract's planted truth.

``python -m analysis.methods.comments_eval [DATA]`` prints the tables in
``docs/comments.md``: recall per kind of personal detail (split into details
the recognisers' lists know and held-out ones they do not), precision, and
safeguarding recall and false-alarm rates. It reads ``comments-truth.csv``
beside the extract (written by ``make data``) and the deny-lists the
demonstration authorities' parameter files would hold
(:func:`analysis.data.synthetic_comments.local_deny_lists`); ``--no-deny-lists``
measures the general recognisers alone.
"""

from __future__ import annotations

import pandas as pd

from analysis.core.provenance import stable_key
from analysis.data.codebook import load_codebook
from analysis.data.synthetic_comments import (
    add_comments,
    comment_truth,
    second_set_config,
)
from analysis.methods.redact import KIND_OF_TAG, find, name_lists
from analysis.methods.safeguarding import flag

ENTITY_OF_KIND = {k: v for k, v in KIND_OF_TAG.items()}


def _comments(df: pd.DataFrame) -> pd.DataFrame:
    parts = []
    for q in ("comment_better", "comment_other"):
        if q in df.columns:
            sel = df.loc[df[q].notna(), ["response_id", "la_code", q]]
            parts.append(sel.rename(columns={q: "text"}).assign(question=q))
    return pd.concat(parts, ignore_index=True)


def score_redaction(df: pd.DataFrame, truth: pd.DataFrame,
                    deny: dict[str, dict[str, list[str]]] | None = None
                    ) -> tuple[pd.DataFrame, dict[str, float]]:
    """Per planted detail: caught (every letter and digit covered), tag right; and precision.

    Returns (one row per planted detail with ``caught``, ``tag_ok``, ``group``;
    totals with ``recall``, ``precision``, ``spans``, ``false_spans``).
    """
    deny = deny or {}
    first, _ = name_lists()
    comments = _comments(df)
    details = truth[truth["kind"].isin(list(ENTITY_OF_KIND))].copy()
    by_key = {(r.response_id, r.question): [] for r in comments.itertuples()}
    for r in details.itertuples():
        by_key.setdefault((r.response_id, r.question), []).append(r)
    rows = []
    spans_total = 0
    false_spans = 0
    for c in comments.itertuples():
        lists = deny.get(str(c.la_code), {})
        spans = find(str(c.text), lists.get("local_places", ()), lists.get("local_schools", ()))
        spans_total += len(spans)
        planted = by_key.get((c.response_id, c.question), [])
        for s in spans:
            if not any(s.start < int(p.end) and int(p.start) < s.end for p in planted):
                false_spans += 1
        for p in planted:
            start, end = int(p.start), int(p.end)
            need = [i for i in range(start, end) if str(c.text)[i].isalnum()]
            covering = [s for s in spans if s.start < end and start < s.end]
            caught = all(any(s.start <= i < s.end for s in covering) for i in need)
            tag_ok = caught and any(s.entity == ENTITY_OF_KIND[p.kind] for s in covering)
            if p.kind == "name":
                group = "in name list" if str(p.value).lower() in first else "not in name list"
            elif p.kind in ("place", "school"):
                group = "in deny-list" if str(p.known).lower() == "true" else "held out"
            else:
                group = "pattern"
            lower = str(p.value) == str(p.value).lower() and any(ch.isalpha() for ch in
                                                                 str(p.value))
            rows.append({"kind": p.kind, "value": p.value, "group": group, "caught": caught,
                         "tag_ok": tag_ok, "lower_case": lower})
    out = pd.DataFrame(rows)
    totals = {
        "details": float(len(out)),
        "recall": float(out["caught"].mean()) if len(out) else float("nan"),
        "tag_right": float(out["tag_ok"].mean()) if len(out) else float("nan"),
        "spans": float(spans_total),
        "false_spans": float(false_spans),
        "precision": (spans_total - false_spans) / spans_total if spans_total else float("nan"),
    }
    return out, totals


def score_safeguarding(df: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    """One row per comment: planted ``kind`` (disclosure, lookalike, none), split, flagged."""
    comments = _comments(df)
    sg = truth[truth["kind"].isin(["disclosure", "lookalike"])]
    kind = {(r.response_id, r.question): (r.kind, r.split) for r in sg.itertuples()}
    rows = []
    for c in comments.itertuples():
        k, split = kind.get((c.response_id, c.question), ("none", ""))
        rows.append({"kind": k, "split": split, "flagged": bool(flag(str(c.text)))})
    return pd.DataFrame(rows)


def report(df: pd.DataFrame, truth: pd.DataFrame,
           deny: dict[str, dict[str, list[str]]] | None) -> str:
    """The Markdown tables of docs/comments.md."""
    det, tot = score_redaction(df, truth, deny)
    lines = [f"Comments: {len(_comments(df)):,}; planted personal details: {len(det):,}.", "",
             "| kind | group | planted | caught | recall |", "| --- | --- | ---: | ---: | ---: |"]
    for (kind, group), g in det.groupby(["kind", "group"]):
        lines.append(f"| {kind} | {group} | {len(g)} | {int(g['caught'].sum())} | "
                     f"{100 * g['caught'].mean():.1f}% |")
    low = det[det["lower_case"]]
    lines += [f"| all | written in lower case | {len(low)} | {int(low['caught'].sum())} | "
              f"{100 * low['caught'].mean():.1f}% |" if len(low) else "",
              f"| **all** | | **{len(det)}** | **{int(det['caught'].sum())}** | "
              f"**{100 * tot['recall']:.1f}%** |", "",
              f"Right tag on {100 * tot['tag_right']:.1f}% of details. Precision: "
              f"{int(tot['spans'] - tot['false_spans']):,} of {int(tot['spans']):,} redactions "
              f"were planted details ({100 * tot['precision']:.1f}%).", ""]
    missed = det[~det["caught"]]
    if len(missed):
        lines.append("Missed: " + "; ".join(f"{r.kind} `{r.value}` ({r.group})"
                                            for r in missed.itertuples()) + ".")
        lines.append("")
    sg = score_safeguarding(df, truth)
    lines += ["| comments | split | count | flagged | rate |", "| --- | --- | ---: | ---: | ---: |"]
    for (kind, split), g in sg.groupby(["kind", "split"]):
        lines.append(f"| {kind} | {split or '-'} | {len(g)} | {int(g['flagged'].sum())} | "
                     f"{100 * g['flagged'].mean():.1f}% |")
    d = sg[sg["kind"] == "disclosure"]
    harmless = sg[sg["kind"] != "disclosure"]
    lines += ["", f"Safeguarding recall {100 * d['flagged'].mean():.1f}% "
              f"({int(d['flagged'].sum())} of {len(d)} planted disclosures); false alarms "
              f"{int(harmless['flagged'].sum())} of {len(harmless):,} harmless comments "
              f"({100 * harmless['flagged'].mean():.1f}%); precision of the flags "
              f"{100 * d['flagged'].sum() / max(1, sg['flagged'].sum()):.1f}%."]
    return "\n".join(lines)


def second_set(df: pd.DataFrame, cfg: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The extract's respondents with comments from the separate evaluation set."""
    import numpy as np

    def rng(*keys: str) -> np.random.Generator:
        return np.random.default_rng(np.random.SeedSequence([7, *map(stable_key, keys)]))

    cb = load_codebook()
    base = df.drop(columns=[c for c in cb.free_text if c in df.columns])
    out = add_comments(base, {**cfg, "authorities": cfg["authorities"]}, cb, rng,
                       second_set_config())
    truth = comment_truth(out)
    truth["known"] = False  # no deny-lists are used for the second set
    out.attrs.clear()
    return out, truth
