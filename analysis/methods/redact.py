"""Redaction of personal details in children's comments, with Microsoft Presidio.

Why this module: free text is the most identifying part of the extract
(survey-extract.md, *Free text*). Before a researcher reads a comment, and
again before an approved (possibly edited) comment is quoted, every personal
detail is replaced by a bracketed tag (interfaces.md): ``[name]``,
``[place]``, ``[school]``, ``[phone]``, ``[email]``, ``[address]``,
``[postcode]``.

How: Presidio's ``AnalyzerEngine`` finds the details and its
``AnonymizerEngine`` replaces them. Presidio normally leans on a spaCy
language model for names and places; no model is installable here from the
package registry, so the analyzer runs with Presidio's ``NoOpNlpEngine`` and
recognisers that need no model:

* patterns for UK phone numbers (and Presidio's ``PhoneRecognizer`` on
  Google's libphonenumber), e-mail addresses, UK postcodes (Presidio's
  ``UkPostcodeRecognizer`` patterns, any case), street addresses;
* school names (capitalised words before Primary, Academy, High School ...);
* a per-authority **deny-list** of local places and schools (the
  ``local_places`` and ``local_schools`` keys of its parameter file);
* :class:`NameRecognizer`: first names from Faker's name lists (a maintained
  package; many locales, since children in care have names from everywhere),
  names after a title (``Mrs ...``) or a relation (``my friend ...``,
  ``my social worker ...``), surnames after a first name, and capitalised
  words that are not ordinary English (as ``[name]``, or ``[place]`` after
  ``in``/``to``/``from`` or with a place-like ending).

The rules are tuned for **recall**: a researcher reads every comment before
approval and can undo an over-eager tag by editing, but cannot see a detail
that was never tagged. Measured recall and precision: ``docs/comments.md``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

TAGS = {
    "PERSON": "[name]",
    "LOCATION": "[place]",
    "SCHOOL": "[school]",
    "PHONE_NUMBER": "[phone]",
    "EMAIL_ADDRESS": "[email]",
    "STREET_ADDRESS": "[address]",
    "UK_POSTCODE": "[postcode]",
}
KIND_OF_TAG = {v.strip("[]"): k for k, v in TAGS.items()}
TAG_RE = re.compile(r"\[(?:name|place|school|phone|email|address|postcode)\]")

_WORD = re.compile(r"[A-Za-zÀ-ÖØ-öø-ÿĀ-ſ]+(?:['’-][A-Za-zÀ-ÖØ-öø-ÿĀ-ſ]+)*")
TITLES = {"mr", "mrs", "miss", "ms", "mx", "dr", "sir", "auntie", "aunty", "aunt", "uncle",
          "nan", "nana", "nanna", "nanny", "grandad", "grandma", "grandpa", "gran", "sister",
          "brother", "cousin", "coach", "mister", "madam", "lady", "master"}
RELATIONS = {"friend", "friends", "mate", "mates", "bestie", "bff", "bf", "gf", "boyfriend",
             "girlfriend", "partner", "brother", "sister", "bro", "sis", "cousin", "cousins",
             "carer", "carers", "mum", "mam", "mom", "mummy", "mommy", "dad", "daddy", "stepdad",
             "stepmum", "nan", "worker", "sw", "pa", "adviser", "advisor", "teacher", "keyworker",
             "ta", "called", "named", "baby", "son", "daughter", "niece", "nephew", "manager",
             "officer", "counsellor", "therapist", "mentor", "iro", "neighbour", "auntie",
             "uncle", "grandad", "grandma", "gran", "siblings", "kid", "child", "foster"}
LINKS = {"is", "was", "and", "called", "named", "my", "our", "new", "old", "best", "little",
         "big", "older", "younger", "social", "personal", "foster", "key", "support", "youth",
         "step", "half", "former"}
SOCIAL_VERBS = {"tell", "with", "see", "miss", "love", "call", "ring", "text", "ask", "thank",
                "visit", "meet", "met", "hug", "phone", "like", "likes", "hate"}
PLACE_PREFIXES = {"low", "high", "upper", "lower", "great", "little", "north", "south", "east",
                  "west", "old", "new", "nether", "long", "st", "saint", "kings", "bishops",
                  "market", "church", "castle", "steeple", "much", "higher", "over", "under"}
STRICT_TITLES = {"mr", "mrs", "miss", "ms", "mx", "dr"}
PLACE_PREPS = {"in", "to", "from", "at", "near", "round", "around", "outside", "visit",
               "visiting", "towards", "into"}
PLACE_ENDINGS = ("by", "ford", "ton", "ham", "wick", "mere", "combe", "bury", "field", "worth",
                 "dale", "thorpe", "borough", "bridge", "mouth", "stow", "leigh", "ley", "gill",
                 "fen", "croft", "holme", "hurst", "chester", "minster", "well", "pool", "port",
                 "haven", "shaw", "wood", "den", "don", "cliffe", "moor", "bourne", "stead")
PLACE_WORDS = {"bay", "sands", "hill", "hills", "wood", "fold", "marsh", "green", "park", "vale",
               "moor", "cross", "heath", "estate", "common", "end", "rise", "valley", "beach",
               "village", "town", "city", "island", "sea", "water", "fields", "gate", "moss"}
#: Capitalised words that are not personal details (days, months, festivals,
#: school subjects, services, brands children name). Not exhaustive: an
#: unknown capitalised word is treated as a possible name or place (recall first).
NOT_DETAILS = {
    "i", "i'm", "i've", "i'd", "i'll", "monday", "tuesday", "wednesday", "thursday", "friday",
    "saturday", "sunday", "january", "february", "march", "april", "may", "june", "july",
    "august", "september", "october", "november", "december", "christmas", "easter", "eid",
    "diwali", "halloween", "ramadan", "xmas", "english", "maths", "math", "science", "art",
    "pe", "re", "history", "geography", "french", "spanish", "music", "drama", "year", "camhs",
    "gcse", "gcses", "lac", "cla", "cic", "sen", "send", "ehcp", "nhs", "gp", "uk", "england",
    "wales", "scotland", "ireland", "britain", "british", "god", "allah", "jesus", "xbox",
    "playstation", "ps4", "ps5", "nintendo", "switch", "youtube", "tiktok", "snapchat", "snap",
    "instagram", "insta", "facebook", "whatsapp", "fortnite", "minecraft", "roblox", "netflix",
    "mcdonalds", "mcdonald's", "tesco", "asda", "primark", "lego", "cubs", "scouts", "brownies",
    "guides", "beavers", "ok", "okay", "lol", "omg", "pa", "sw", "iro", "bursary", "council",
    "mum", "dad", "nan", "nanna", "mummy", "daddy", "grandad", "grandma", "pizza", "covid",
    "mr", "mrs", "miss", "ms", "dr", "sir", "thanks", "thank", "hi", "hello", "yes", "no",
    "please", "sorry", "btw", "tbh", "idk", "n/a", "na", "ps", "amazon", "apple", "iphone",
    "keyworker", "keyworkers", "iros", "sws", "pas", "foster", "fostering", "looked",
    "mummy's", "daddy's", "nan's", "ofsted", "pep", "peps", "adhd", "asd",
    "android", "google", "bright", "spots", "survey", "children", "care", "leaver", "leavers",
    "mental", "health", "social", "services", "team", "leaving", "job", "centre", "universal",
    "mondays", "tuesdays", "wednesdays", "thursdays", "fridays", "saturdays", "sundays",
    "credit", "uni", "college", "school", "primary", "academy", "high", "sixth", "form",
}
_COMMON_EXTRA = {
    "will", "may", "june", "april", "mark", "bill", "rose", "dawn", "grace", "hope", "joy",
    "faith", "amber", "summer", "autumn", "winter", "spring", "sky", "river", "ray", "art",
    "jack", "frank", "honey", "star", "sunny", "page", "young", "brown", "green", "white",
    "black", "gray", "grey", "king", "rich", "love", "loves", "lovely", "happy", "sad", "fun",
    "nice", "good", "bad", "kind", "lol", "home", "house", "flat", "room", "bedroom", "school",
    "work", "job", "money", "food", "sleep", "dog", "cat", "pet", "pets", "hamster", "rabbit",
    "mum", "mam", "mummy", "dad", "daddy", "nan", "nana", "nanna", "gran", "grandad", "auntie",
    "uncle", "sister", "brother", "carer", "carers", "foster", "worker", "teacher", "friend",
    "friends", "mate", "mates", "family", "baby", "kids", "kid", "people", "everyone", "someone",
    "nobody", "anyone", "thanks", "thank", "please", "sorry", "honestly", "really", "actually",
    "proper", "cheaper", "stop", "seeing", "knowing", "being", "more", "less", "help", "helps",
    "support", "life", "better", "best", "worse", "worst", "yeah", "yes", "no", "nothing",
    "anything", "everything", "something", "survey", "fine", "great", "ok", "okay", "hard",
    "sometimes", "always", "never", "often", "things", "thing", "stuff", "lot", "lots", "bit",
    "tell", "told", "want", "wanted", "need", "like", "liked", "miss", "missed", "feel", "felt",
    "wish", "hate", "live", "lived", "living", "moved", "move", "moving", "go", "going", "went",
    "see", "saw", "seen", "play", "playing", "said", "says", "ask", "asked", "trust",
    "safe", "scared", "bullied", "bullying", "sixth", "form", "college", "uni", "care", "leaver",
    "council", "review", "reviews", "meeting", "meetings", "plan", "pathway", "bursary", "rent",
    "bills", "week", "weeks", "month", "months", "year", "years", "day", "days", "today",
    "tomorrow", "yesterday", "weekend", "night", "morning", "time", "times", "bus", "train",
    "car", "phone", "number", "email", "text", "letter", "letters", "address", "town", "city",
    "beach", "park", "seaside", "holiday", "holidays", "trip", "club", "football", "swimming",
    "dance", "dancing", "boxing", "gym", "music", "reading", "homework", "wifi",
    "internet", "laptop", "tablet", "tablets", "apprenticeship", "mechanics", "story", "file",
    "anxiety", "counsellor", "waiting", "list", "appointment", "appointments", "rights",
    "entitled", "permission", "sleepover", "weird", "different", "normal", "new", "old",
    "little", "big", "own", "first", "last", "next", "other", "another", "only", "just",
    "still", "again", "now", "then", "here", "there", "where", "when", "why", "how", "what",
    "who", "which", "because", "but", "and", "so", "if", "or", "not", "too", "very",
    "with", "without", "about", "after", "before", "since", "until", "while", "during",
    "placement", "placements", "staff", "home's", "kinship", "residential", "supported",
    "accommodation", "independent", "dinner", "lunch", "breakfast", "tea", "sunday", "dinosaurs",
    "trampoline", "cupboard", "film", "match", "team", "talent", "show", "spiders", "ankle",
    "head", "hair", "pizza", "tired", "fight", "ball", "face", "accident", "sick", "gutted",
    "starving", "haha", "lad", "man", "woman", "girl", "boy", "girls", "boys", "men", "women",
    "lady", "gentleman", "sir", "madam", "officer", "manager", "adviser", "advisor", "parents",
}


@lru_cache(maxsize=1)
def common_words() -> frozenset[str]:
    """Ordinary English words (never a name on their own): spaCy's stop words,
    Faker's list of common English words, and this module's additions."""
    from faker.providers.lorem.en_US import Provider as Lorem
    from spacy.lang.en.stop_words import STOP_WORDS

    words = {w.lower() for w in Lorem.word_list} | {w.lower() for w in STOP_WORDS}
    return frozenset(words | _COMMON_EXTRA | NOT_DETAILS)


#: Faker locales whose person providers give the first-name and surname lists.
NAME_LOCALES = ("en_GB", "en_US", "en_IE", "en_IN", "en_NZ", "en_NG", "en_KE", "en_PK",
                "ga_IE", "pl_PL", "ro_RO", "lt_LT", "tr_TR", "es_ES", "pt_PT", "it_IT",
                "fr_FR", "de_DE", "nl_NL", "yo_NG", "ig_NG", "ha_NG", "tw_GH", "zu_ZA",
                "bn_BD", "hi_IN", "fa_IR", "ar_AA", "sw", "cs_CZ", "sk_SK", "hu_HU",
                "bg_BG", "hr_HR", "sq_AL", "uk_UA", "el_GR")


@lru_cache(maxsize=1)
def name_lists() -> tuple[frozenset[str], frozenset[str]]:
    """(first names, surnames), lower case, from Faker's person providers."""
    import importlib

    first: set[str] = set()
    last: set[str] = set()
    for loc in NAME_LOCALES:
        try:
            prov = importlib.import_module(f"faker.providers.person.{loc}").Provider
        except ImportError:
            continue
        for attr, dest in (("first_names", first), ("first_names_female", first),
                           ("first_names_male", first), ("last_names", last)):
            for n in getattr(prov, attr, ()) or ():
                n = str(n).strip().lower()
                if n.isalpha() or "-" in n or "'" in n:
                    dest.add(n)
    return frozenset(first), frozenset(last)


@dataclass(frozen=True)
class Span:
    """One personal detail found: character offsets in the original text, and its kind."""

    start: int
    end: int
    entity: str
    score: float

    @property
    def tag(self) -> str:
        return TAGS[self.entity]


# ----------------------------------------------------------------------------- recognisers
def _name_recognizer_class() -> type:
    """The Presidio recogniser for names and unknown proper nouns (built lazily: Presidio
    imports spaCy, which only the comment review and a build with approved quotes need)."""
    from presidio_analyzer import EntityRecognizer, RecognizerResult

    class NameRecognizer(EntityRecognizer):
        """Names from lists and context; capitalised unknown words as names or places."""

        def __init__(self) -> None:
            super().__init__(supported_entities=["PERSON", "LOCATION"], name="NameRecognizer",
                             supported_language="en")

        def load(self) -> None:  # lists are loaded on first use (cached)
            pass

        def analyze(self, text: str, entities: list[str], nlp_artifacts: Any = None
                    ) -> list[Any]:
            return [RecognizerResult(s.entity, s.start, s.end, s.score)
                    for s in find_names(text)]

    return NameRecognizer


def _sentence_start(text: str, start: int) -> bool:
    """Is the word at ``start`` the first of a sentence (or of a line, or in quotes)?"""
    i = start - 1
    while i >= 0 and text[i] in " \t\"'“‘(":
        i -= 1
    return i < 0 or text[i] in ".!?\n:;"


@lru_cache(maxsize=65536)
def zipf(word: str) -> float:
    """How common a word is in English (wordfreq's Zipf scale: 3 = once per million words)."""
    from wordfreq import zipf_frequency

    return float(zipf_frequency(word, "en"))


#: At or above this Zipf frequency a word that is in no name list is ordinary English.
WORD_ZIPF = 3.3
#: A word in a name list this common is ordinary English ("ring"; "tyler" is 4.2).
LISTED_WORD_ZIPF = 4.5
#: A capitalised word this common mid-sentence is emphasis ("I love Football"), not a name.
CAPITAL_WORD_ZIPF = 4.3
#: Words after a sentence-initial unknown word that make it a name ("Kenzie is my friend").
NAME_FOLLOWERS = {"is", "was", "and", "has", "had", "said", "says", "helps", "helped", "always",
                  "never", "gave", "gives", "takes", "took", "came", "comes", "lives", "lived",
                  "does", "did", "will", "can", "from", "at", "who", "my", "me", "asked", "told"}


def find_names(text: str) -> list[Span]:
    """Names (PERSON) and capitalised unknown words (PERSON, or LOCATION in place context).

    A word is *ordinary English* when it is in the hand lists (stop words,
    Faker's common words, this module's additions) or, when it is in no name
    list, when wordfreq finds it common (Zipf >= 3.3). Names are the rest,
    where the context says so (see the module docstring).
    """
    first, last = name_lists()
    common = common_words()
    words = [(m.group(0), m.start(), m.end()) for m in _WORD.finditer(text)]
    out: list[Span] = []
    taken = -1
    for i, (w, s, e) in enumerate(words):
        if s < taken:
            continue
        core = re.sub(r"['’]s$", "", w)
        e = s + len(core)
        lw = core.lower()
        parts = lw.split("-")
        prev = [x[0].lower() for x in words[max(0, i - 3):i]]
        nxt = words[i + 1][0].lower() if i + 1 < len(words) else ""
        capital = core[:1].isupper() and not (len(core) > 1 and core.isupper())
        in_list = lw in first or (len(parts) > 1 and parts[0] in first)
        listed = in_list or lw in last
        hand_common = lw in common or (len(parts) > 1 and all(p in common for p in parts))
        freq = zipf(lw)
        # a listed name is still a word when English uses it a lot ("ring", "rose")
        is_word = hand_common or freq >= LISTED_WORD_ZIPF or (not listed and freq >= WORD_ZIPF)
        mid = not _sentence_start(text, s)
        strict_title = bool(prev) and prev[-1].rstrip(".") in STRICT_TITLES
        titled = bool(prev) and prev[-1].rstrip(".") in TITLES and (
            capital or (strict_title and not is_word))
        # after a relation word a name may be written in lower case ("my mate tyler")
        related = _after_relation(prev) and len(lw) > 1 and (
            in_list or not is_word or (capital and not hand_common))
        paired = bool(prev) and prev[-1] == "and" and len(prev) > 1 and prev[-2] in (
            "me", "i") and (in_list or not is_word)
        # "tell kerry", "play with chidi", "miss jess": someone a child talks of
        social = bool(prev) and prev[-1] in SOCIAL_VERBS and not is_word and len(lw) >= 3 \
            and lw not in NOT_DETAILS
        surname_next = (i + 1 < len(words) and words[i + 1][0][:1].isupper()
                        and words[i + 1][0].lower() in last and capital and not is_word)
        kind = ""
        score = 0.0
        if titled or related or paired:
            kind, score = "PERSON", 0.85
        elif social or surname_next:
            kind, score = "PERSON", 0.6
        elif capital and in_list and not hand_common:
            kind, score = "PERSON", 0.8
        elif capital and in_list and mid and lw not in NOT_DETAILS:
            kind, score = "PERSON", 0.6
        elif not capital and in_list and not hand_common and len(lw) >= 3 and freq < 4.5:
            kind, score = "PERSON", 0.5
        elif not capital and not is_word and len(lw) >= 4 and bool(prev) and (
                prev[-1] in ("in", "from", "near", "to")):
            kind, score = "LOCATION", 0.45  # "i used to live in crickmere"
        elif not capital and not is_word and lw.endswith(PLACE_ENDINGS) and len(lw) > 5:
            kind, score = "LOCATION", 0.4
        elif not capital and lw in last and not hand_common and len(lw) >= 4 \
                and freq < WORD_ZIPF:
            kind, score = "PERSON", 0.4
        elif not capital and not is_word and len(lw) >= 3 and (
                nxt in NAME_FOLLOWERS and not mid or freq < 1.5 and len(lw) >= 4):
            kind, score = "PERSON", 0.35  # "freddie is my best friend", "oluwaseun"
        elif capital and not hand_common and lw not in NOT_DETAILS:
            placey = bool(prev) and prev[-1] in PLACE_PREPS
            ending = lw.endswith(PLACE_ENDINGS) and len(lw) > 4 and not in_list
            if (placey or ending) and (not is_word or mid):
                kind, score = "LOCATION", 0.55
            elif mid and freq < CAPITAL_WORD_ZIPF:
                kind, score = "PERSON", 0.4
            elif not mid and not is_word and (nxt in NAME_FOLLOWERS or freq < 2.0):
                kind, score = "PERSON", 0.4
        if not kind:
            continue
        # extend over following capitalised words: surnames, multi-word places
        j = i + 1
        end = e
        while j < len(words):
            w2, s2, e2 = words[j]
            gap = text[end:s2]
            core2 = re.sub(r"['’]s$", "", w2)
            l2 = core2.lower()
            word2 = l2 in common or (l2 not in first and l2 not in last and zipf(l2) >= WORD_ZIPF)
            if gap.strip() or l2 in NOT_DETAILS or (len(core2) > 1 and core2.isupper()):
                break
            if core2[:1].isupper():
                if word2 and l2 not in PLACE_WORDS and l2 not in last:
                    break
            elif core[:1].isupper() or not (l2 in last or l2 in PLACE_WORDS or (
                    kind == "PERSON" and not word2)):
                break
            end = s2 + len(core2)
            if kind == "PERSON" and l2 in PLACE_WORDS:
                kind = "LOCATION"
            j += 1
        # and back over a place-name prefix: "Low Haddon", "Upper Snoddington"
        if i > 0 and kind == "LOCATION" or (i > 0 and kind == "PERSON" and score < 0.6):
            w0, s0, _ = words[i - 1]
            if w0[:1].isupper() and w0.lower() in PLACE_PREFIXES and not text[s0 + len(w0):s]\
                    .strip() and (not out or out[-1].end <= s0):
                s, kind = s0, "LOCATION"
        out.append(Span(s, end, kind, score))
        taken = end
    return out


def _after_relation(prev: Sequence[str]) -> bool:
    """'my friend X', 'my social worker is X', 'called X': a relation word just before."""
    for k in range(len(prev) - 1, -1, -1):
        if prev[k] in RELATIONS:
            return all(p in LINKS for p in prev[k + 1:])
        if prev[k] not in LINKS:
            return False
    return False


_PHONE = (r"(?<![\w+])(?:\+44[\s-]?\(?0?\)?[\s-]?|\(?0)\d{2,4}\)?[\s-]?\d{3,4}[\s-]?\d{3,4}"
          r"(?![\w])")
_EMAIL = (r"\b[A-Za-z0-9._%+-]+\s?(?:@|\(at\)|\[at\])\s?[A-Za-z0-9-]+"
          r"(?:(?:\.|\s?dot\s?)[A-Za-z0-9-]+)*(?:\.|\s?dot\s?)[A-Za-z]{2,}\b")
_STREET = (r"(?:road|rd|street|st|lane|ln|avenue|ave|close|drive|dr|way|crescent|cres|court|ct|"
           r"place|pl|gardens|gdns|grove|terrace|walk|row|hill|mews|square|sq|view|rise|parade|"
           r"green|park|boulevard|wharf|yard|fold|gate|croft|meadows?)")
_ADDRESS_NUMBERED = (r"\b(?:(?:flat|apartment|apt|unit|room)\s*\d+[a-z]?,?\s*)?\d{1,4}[a-z]?,?\s+"
                     r"(?:[A-Za-z][\w'’-]*\s+){1,3}" + _STREET + r"\b")
_STREET_CAP = ("(?:Road|Rd|Street|St|Lane|Avenue|Ave|Close|Drive|Way|Crescent|Court|Place|"
               "Gardens|Grove|Terrace|Walk|Row|Mews|Square|Parade|Boulevard|Wharf|Yard)")
#: A street without a house number: capitalised words and a capitalised street word.
_ADDRESS_NAMED = (r"\b(?-i:[A-Z][\w'’-]*(?:\s+[A-Z][\w'’-]*)?\s+" + _STREET_CAP + r")\b")
_SCHOOL_KIND = (r"(?:primary|junior|infants?|nursery|secondary|high|grammar|academy|college|"
                r"school|c\.? ?of ?e|cofe|rc|catholic|community|church)")
_SCHOOL = (r"\b(?:st\.?\s+)?(?:[A-Za-z][\w'’.-]*\s+){1,3}" + _SCHOOL_KIND
           + r"(?:\s+" + _SCHOOL_KIND + r"){0,2}\b")


_HOME_KIND = (r"(?:children['’]?s\s+home|care\s+home|home|house|lodge|centre|center|hall|manor|"
              r"cottage|hostel|foyer|unit|refuge)")
#: A named children's home, hostel or unit ("Oak Tree Children's Home", "Beech Lodge").
_HOME = (r"\b(?-i:[A-Z][\w'’.-]*)(?:\s+(?-i:[A-Z])[\w'’.-]*){0,2}\s+(?-i:(?=[A-Z]))"
         + _HOME_KIND + r"\b")
_SCHOOL_KIND_RE = re.compile(_SCHOOL_KIND + r"$", re.I)
_SCHOOL_GLUE = {"st", "st.", "saint", "of", "the", "and", "&", "c", "e", "cofe"}


_HOME_KIND_RE = re.compile(r"(?:children['’]?s|care|" + _HOME_KIND[3:] + r"$", re.I)


def _home_span(text: str, start: int, end: int) -> tuple[int, int] | None:
    """A named home: capitalised words before 'Children's Home', 'Lodge' ... that are not
    just 'My' or 'The' (a child capitalising 'My House' names no place)."""
    from spacy.lang.en.stop_words import STOP_WORDS

    words = [(m.group(0), start + m.start()) for m in re.finditer(r"\S+", text[start:end])]
    k = len(words)
    while k > 0 and _HOME_KIND_RE.match(words[k - 1][0].strip(".,")):
        k -= 1
    head = 0
    while head < k and (re.sub(r"['’]s$", "", words[head][0].lower()) in STOP_WORDS
                        or re.sub(r"['’]s$", "", words[head][0].lower()) in NOT_DETAILS):
        head += 1
    return (words[head][1], end) if head < k else None


def _school_span(text: str, start: int, end: int,
                 kinds: re.Pattern[str] = _SCHOOL_KIND_RE) -> tuple[int, int] | None:
    """The school name inside a pattern match, or None when it is not one.

    The pattern takes up to three words before 'Primary', 'Academy' ...; the
    name is the run of words just before the school word(s) that are not
    ordinary English ('go to Oakfield Primary' -> 'Oakfield Primary'; 'at
    school' -> none).
    """
    common = common_words()
    words = [(m.group(0), start + m.start(), start + m.end())
             for m in re.finditer(r"[^\s]+", text[start:end])]
    k = len(words)
    while k > 0 and kinds.match(words[k - 1][0].strip(".,")):
        k -= 1
    if k == len(words) or k == 0:
        return None
    head = k
    while head > 0:
        w = words[head - 1][0].lower().strip("'’.,")
        w = re.sub(r"['’]s$", "", w)
        if w in _SCHOOL_GLUE or w in PLACE_WORDS or w not in common:
            head -= 1
        else:
            break
    names = [words[j][0].lower().strip("'’.,") for j in range(head, k)]
    names = [re.sub(r"['’]s$", "", w) for w in names]
    if not any(w not in common and w not in _SCHOOL_GLUE and not w.isdigit() for w in names):
        return None
    while head < k and words[head][0].lower().strip(".") in ("of", "the", "and", "&"):
        head += 1
    return words[head][1], end


def _pattern_recognizers() -> list[Any]:
    from presidio_analyzer import Pattern, PatternRecognizer
    from presidio_analyzer.predefined_recognizers import PhoneRecognizer, UkPostcodeRecognizer

    flags = re.IGNORECASE | re.MULTILINE | re.DOTALL
    postcode = UkPostcodeRecognizer()
    postcode.patterns = [Pattern(p.name, p.regex, 0.9) for p in postcode.patterns]
    postcode.global_regex_flags = flags
    return [
        PatternRecognizer("PHONE_NUMBER", name="UkPhone", patterns=[Pattern("uk phone", _PHONE,
                                                                            0.9)]),
        PhoneRecognizer(supported_regions=("GB",)),
        PatternRecognizer("EMAIL_ADDRESS", name="Email", patterns=[Pattern("email", _EMAIL,
                                                                           0.95)],
                          global_regex_flags=flags),
        postcode,
        PatternRecognizer("STREET_ADDRESS", name="Address",
                          patterns=[Pattern("numbered", _ADDRESS_NUMBERED, 0.9),
                                    Pattern("named", _ADDRESS_NAMED, 0.75)],
                          global_regex_flags=flags),
        PatternRecognizer("SCHOOL", name="School", patterns=[Pattern("school", _SCHOOL, 0.8)],
                          global_regex_flags=flags),
        PatternRecognizer("LOCATION", name="Home", patterns=[Pattern("home", _HOME, 0.8)],
                          global_regex_flags=flags),
        _name_recognizer_class()(),
    ]


@lru_cache(maxsize=1)
def analyzer() -> Any:
    """Presidio's AnalyzerEngine with model-free recognisers (built once per process)."""
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
    from presidio_analyzer.nlp_engine import NoOpNlpEngine

    registry = RecognizerRegistry(recognizers=_pattern_recognizers(), supported_languages=["en"])
    engine = NoOpNlpEngine(models=[{"lang_code": "en", "model_name": "none"}])
    engine.load()
    return AnalyzerEngine(registry=registry, nlp_engine=engine, supported_languages=["en"])


@lru_cache(maxsize=1)
def anonymizer() -> Any:
    from presidio_anonymizer import AnonymizerEngine

    return AnonymizerEngine()


@lru_cache(maxsize=256)
def _deny_recognizers(places: tuple[str, ...], schools: tuple[str, ...]) -> list[Any]:
    from presidio_analyzer import PatternRecognizer

    flags = re.IGNORECASE | re.MULTILINE | re.DOTALL
    out = []
    for entity, words in (("LOCATION", places), ("SCHOOL", schools)):
        words = tuple(w for w in words if w and w.strip())
        if words:
            out.append(PatternRecognizer(entity, name=f"DenyList{entity.title()}",
                                         deny_list=list(words), deny_list_score=0.95,
                                         global_regex_flags=flags))
    return out


def find(text: str, places: Iterable[str] = (), schools: Iterable[str] = ()) -> list[Span]:
    """Every personal detail in ``text``: non-overlapping spans, longest first on overlap."""
    if not text or not text.strip():
        return []
    adhoc = _deny_recognizers(tuple(sorted(set(places))), tuple(sorted(set(schools))))
    results = analyzer().analyze(text=text, language="en", entities=list(TAGS),
                                 ad_hoc_recognizers=adhoc or None, score_threshold=0.3)
    spans = []
    for r in results:
        start, end = r.start, r.end
        recogniser = r.recognition_metadata.get("recognizer_name")
        if recogniser in ("School", "Home"):
            trimmed = (_school_span(text, start, end) if recogniser == "School"
                       else _home_span(text, start, end))
            if trimmed is None:
                continue
            start, end = trimmed
        spans.append(Span(start, end, r.entity_type, float(r.score)))
    return _resolve(text, spans)


#: On overlap, which kind wins at equal length (a specific pattern over a guess).
_PRIORITY = {"EMAIL_ADDRESS": 7, "UK_POSTCODE": 6, "PHONE_NUMBER": 6, "STREET_ADDRESS": 5,
             "SCHOOL": 4, "LOCATION": 3, "PERSON": 2}


def _resolve(text: str, spans: list[Span]) -> list[Span]:
    """Non-overlapping spans: a span wholly inside a kept one is dropped; partial overlaps
    are merged into the longer span's kind (so nothing found is ever left visible)."""
    spans = sorted(spans, key=lambda s: (-(s.end - s.start), -_PRIORITY[s.entity], -s.score,
                                         s.start))
    kept: list[Span] = []
    for s in spans:
        clash = [k for k in kept if s.start < k.end and k.start < s.end]
        if not clash:
            kept.append(s)
            continue
        k = clash[0]
        if s.start >= k.start and s.end <= k.end:
            continue
        kept.remove(k)
        kept.append(Span(min(s.start, k.start), max(s.end, k.end), k.entity, k.score))
    return sorted(kept, key=lambda s: s.start)


def redact(text: str, places: Iterable[str] = (), schools: Iterable[str] = ()
           ) -> tuple[str, int]:
    """``text`` with every personal detail replaced by its tag, and how many were replaced.

    Tags already in the text (a researcher's edit of a redacted comment) are
    left as they are.
    """
    from presidio_anonymizer.entities import OperatorConfig, RecognizerResult

    spans = [s for s in find(text, places, schools) if not TAG_RE.fullmatch(text[s.start:s.end])]
    if not spans:
        return text, 0
    result = anonymizer().anonymize(
        text=text,
        analyzer_results=[RecognizerResult(s.entity, s.start, s.end, s.score) for s in spans],
        operators={e: OperatorConfig("replace", {"new_value": t}) for e, t in TAGS.items()},
    )
    return result.text, len(spans)
