"""The briefing's fixed copy (``data/reference/briefing_copy.yaml``), read once.

Why a data file: the questions for leaders and the domain introductions are
editorial words, changed by the people who write the briefing, not by code.
Kept beside the codebook, they change without a code review of Python, and
a test checks every indicator still has its question.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from analysis.core import yamlfile
from analysis.core.errors import UserError
from analysis.core.paths import REFERENCE_DIR

COPY_PATH = REFERENCE_DIR / "briefing_copy.yaml"
KEYS = ("domain_intro", "questions", "default_question", "closing_question", "no_worse_question")


@dataclass(frozen=True)
class BriefingCopy:
    domain_intro: dict[str, str]
    questions: dict[str, str]
    default_question: str
    closing_question: str
    no_worse_question: str


@lru_cache(maxsize=2)
def briefing_copy(path: Path = COPY_PATH) -> BriefingCopy:
    """The copy, checked: every key present, every value text."""
    doc = yamlfile.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    missing = [k for k in KEYS if k not in doc]
    if missing:
        raise UserError(f"{path}: missing {', '.join(missing)}")
    for key in ("domain_intro", "questions"):
        bad = [k for k, v in doc[key].items() if not isinstance(v, str) or not v.strip()]
        if bad:
            raise UserError(f"{path}: {key} needs text for {', '.join(map(str, bad))}")
    return BriefingCopy(**{k: doc[k] for k in KEYS})
