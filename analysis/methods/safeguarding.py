"""Possible disclosures of harm in children's comments: flagged for a person, never decided.

Why this module: a child may use the free-text box to tell someone that they
are being hurt, that they are hurting themselves, or that an adult is doing
something that frightens them. Such a comment must reach the programme's
safeguarding procedure (``REVIEW_DIR/safeguarding.csv``) and must never reach a
briefing. The rules here only *flag*: a trained person reads every flagged
comment and decides. So they are tuned for **recall**: a missed disclosure is
far worse than a false alarm, which costs a minute of a person's time.

Each rule names the kind of harm (the ``reason`` column). A few harmless
look-alikes are excluded where the words themselves say so ("I was hit by a
ball", "I hurt my ankle", "the cat scratched me"); anything less clear is
flagged. Measured recall and false-alarm rate: ``docs/comments.md``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_ME = r"(?:me|us|my\b(?!\s*self)|myself|him|her)"
_VIOLENT = (r"hit|hits|hitting|punch\w*|kick\w*|slap\w*|smack\w*|beat|beats|beating|beaten|"
            r"batter\w*|chok\w*|strangl\w*|push\w*|shov\w*|grab\w*|burn\w*|hurt\w*|bit|bite|"
            r"bites|biting|scratch\w*|throw\w*|threw|thump\w*|whack\w*|belt\w*|pinch\w*|"
            r"stab\w*|strike\w*|struck|bruis\w*|attack\w*|assault\w*")


@dataclass(frozen=True)
class Rule:
    reason: str
    pattern: re.Pattern[str]


def _r(reason: str, *patterns: str) -> list[Rule]:
    return [Rule(reason, re.compile(p, re.IGNORECASE)) for p in patterns]


RULES: list[Rule] = [
    *_r("physical harm",
        rf"\b(?:{_VIOLENT})\s+{_ME}",
        r"\b(?:get|gets|got|getting|been|was|were|am|be|being|is)\s+(?:\w+\s+)?(?:hit|smacked|"
        r"slapped|punched|kicked|beaten|battered|hurt|strangled|choked|burn[te]d?|belted|"
        r"whacked|thumped|attacked|stabbed|pushed|thrown|bitten)\b",
        r"\bbruis\w*", r"\b(?:stab|kill|murder|batter|beat up|hurt)\s+(?:me|you|us)\b",
        r"\b(?:he|she|they)['’]?(?:ll| will| would| said| says)\b.{0,40}\b(?:hurt|kill|stab|"
        r"hit|beat|batter)\b", r"\bthreaten\w*", r"\bpull\w*\s+my\s+hair\b",
        r"\bwith\s+a\s+(?:belt|stick|knife|slipper|shoe|spoon|cable|wire)\b"),
    *_r("sexual harm",
        r"\btouch(?:es|ed|ing)?\s+(?:me|my|us|him|her)\b", r"\bprivate\s+(?:parts|places|bits)\b",
        r"\bsex\w*", r"\b(?:rape\w*|molest\w*|groom\w*|abus\w*|pervert\w*|paedo\w*|pedo\w*)",
        r"\b(?:nudes?|naked|undress\w*)\b", r"\b(?:pictures?|pics?|photos?|videos?)\s+of\s+me\b",
        r"\b(?:asks?|asking|asked|wants?|wanted|send|sent|sends)\s+(?:me\s+)?(?:for\s+)?"
        r"(?:some\s+)?(?:pictures|pics|photos|selfies|videos)\b",
        r"\b(?:our|a|my|his|her)\s+(?:little\s+)?secret\b",
        r"\bmakes?\s+me\s+do\s+(?:stuff|things|something|bad)\b",
        r"\b(?:comes?|came|coming|gets?|got)\s+(?:in|into)\s+my\s+(?:room|bed|bedroom)\b",
        r"\b(?:in|into)\s+my\s+bed\b", r"\bkiss\w*\s+me\b",
        r"\b(?:man|men|lad|boy|guy|person|someone)\s+online\b",
        r"\bonline\b.{0,40}\b(?:meet|pictures|pics|photos|secret)\b"),
    *_r("self-harm or suicide",
        r"\b(?:cut|cuts|cutting|harm|harming|hurt|hurting|burn|burning|starve|starving|hit|"
        r"hitting|punch\w*)\s+(?:my\s?self|myself|my\s+(?:arms?|legs?|wrists?|skin))\b",
        r"\bself[\s-]?harm\w*", r"\bsuicid\w*", r"\bkill(?:ing)?\s+my\s?self\b",
        r"\bend\s+(?:it\s+all|my\s+life|it)\b",
        r"\b(?:don['’]?t|dont|do\s+not|never)\s+want\s+to\s+(?:be\s+alive|live|be\s+here|"
        r"wake\s+up|exist|be\s+around)\b",
        r"\b(?:better\s+off|wish\s+i\s+was|wish\s+i\s+were|want\s+to\s+be|wanna\s+be)\s+dead\b",
        r"\b(?:want|wanna|going)\s+to\s+die\b", r"\bno\s+(?:point|reason)\s+(?:in\s+)?living\b",
        r"\b(?:take|took|taking|taken|swallow\w*)\s+(?:\w+\s+){0,3}(?:tablets|pills|"
        r"paracetamol)\b", r"\boverdos\w*", r"\bnot\s+wake\s+up\b",
        r"\bnobody\s+would\s+(?:even\s+)?(?:notice|care|miss\s+me)\b"),
    *_r("neglect",
        r"\b(?:no|never\s+any|never\s+enough|not\s+enough|not\s+any)\s+food\b",
        r"\b(?:always|often|really|so|very)\s+hungry\b", r"\bhungry\s+(?:a\s+lot|all\s+the\s+time|"
        r"every|most)\b", r"\bnothing\s+to\s+eat\b",
        r"\bnot\s+allowed\s+(?:to\s+)?(?:eat|food|dinner|tea|a\s+shower|to\s+wash)\b",
        r"\b(?:don['’]?t|dont|never)\s+(?:get\s+)?(?:fed|feed\s+me)\b",
        r"\block(?:s|ed|ing)?\s+(?:me\s+)?(?:in|out|up)\b",
        r"\block(?:s|ed|ing)?\s+me\b",
        r"\bleft\s+(?:on\s+my\s+own|alone|home\s+alone|by\s+myself)\b",
        r"\bno\s+(?:heating|electric\w*|bed|clean\s+clothes)\b"),
    *_r("exploitation",
        r"\b(?:older|old|grown)\s+(?:man|men|boys?|lads?|guys?|people)\b",
        r"\bgives?\s+me\s+(?:money|drugs|weed|vapes?|alcohol|drink|cigs|presents|gifts)\b",
        r"\b(?:take|carry|deliver|drop\s+off|hold|keep)\s+(?:\w+\s+){0,2}(?:parcels?|packages?|"
        r"bags?|drugs|things|stuff)\s+(?:for|to)\b",
        r"\bcounty\s+lines\b", r"\bdrugs?\b", r"\bdealing\b", r"\bgang\w*\b"),
    *_r("fear or threat at home",
        r"\b(?:scared|afraid|frightened|terrified)\s+(?:of|to)\s+(?:him|her|them|my\s+\w+|one\s+of|"
        r"the\s+staff|staff|going\s+home|go\s+home|tell|be\s+at\s+home|be\s+home|sleep)\b",
        r"\b(?:scared|afraid|frightened|terrified)\s+(?:of\s+)?(?:my\s+)?(?:dad|mum|stepdad|"
        r"stepmum|carer|carers|uncle|brother|sister|boyfriend|girlfriend|staff)\b",
        r"\b(?:don['’]?t|dont|do\s+not|never|not)\s+feel\s+safe\b", r"\bnot\s+safe\b",
        r"\bscream\w*\s+at\s+me\b", r"\bshout\w*\s+at\s+me\b", r"\b(?:if|when)\s+i\s+tell\b",
        r"\b(?:can['’]?t|cannot|not\s+allowed\s+to|mustn['’]?t)\s+tell\b",
        r"\brun\s+away\b", r"\bran\s+away\b"),
]

#: Harmless look-alikes, excluded only when the words say so plainly.
_BENIGN = [re.compile(p, re.IGNORECASE) for p in (
    r"\bby\s+(?:a|the)\s+(?:ball|football|door|branch|swing|car\s+door|wave)\b",
    r"\b(?:cat|dog|kitten|puppy|hamster|rabbit|guinea\s+pig|horse|pony)['’]?s?"
    r"\s+(?:\w+\s+)?(?:scratch\w*|bit|bite\w*|kick\w*|push\w*|jump\w*)",
    r"\bi\s+(?:hit|hurt|bruised|banged|cut|burnt|burned)\s+my\s+(?:head|knee|ankle|arm|leg|foot|"
    r"toe|finger|hand|hair|back|elbow|wrist|shoulder)\b(?!.*\bmyself\b)",
    r"\bpillow\s+fight|\bplay\s+fight\w*|\bjust\s+(?:for\s+)?fun\b",
)]


def flag(text: str) -> str:
    """The reasons a comment may disclose harm ('; '-joined), or '' when none.

    The look-alike exclusions only remove the rule that matched inside the
    harmless phrase; any other match still flags the comment.
    """
    if not text or not text.strip():
        return ""
    benign = [m.span() for p in _BENIGN for m in p.finditer(text)]
    reasons: list[str] = []
    for rule in RULES:
        for m in rule.pattern.finditer(text):
            # inside a harmless phrase, or just before one ("was hit | by a ball")
            if any(b0 - 20 <= m.start() < b1 for b0, b1 in benign):
                continue
            if rule.reason not in reasons:
                reasons.append(rule.reason)
            break
    return "; ".join(reasons)


