"""Authority slugs: the folder and file name of each authority's outputs (interfaces.md).

The slug is made from the authority's *name* (``slugify``, the interfaces
rule), so folders are readable. Names are data, though, and some give no
usable folder name, so ``authority_slug`` applies two documented rules:

* a name with no ASCII letter or digit (``!!!``, ``..``, ``北京``) takes
  its ``la_code`` instead: ``北京`` with code E99000009 -> ``e99000009``;
* a slug longer than ``MAX_SLUG`` (64) characters is cut at the last ``-``
  within the limit (or at the limit), so every file name built from it
  (``<slug>.yaml``, temporary ``.<slug>.yaml.XXXX.tmp`` files, logs) stays
  far below the 255-byte limit of file systems;
* a slug that names one of the build's own folders (``national``, ``logs``)
  gets the code appended: ``National`` with code E99000009 ->
  ``national-e99000009``.

Two authorities with one slug (``Elderwick`` and ``Elderwick!!``, one name
under two codes, a mapping that recodes a name into another) would
overwrite each other's outputs: ``check_unique`` refuses them before
anything is written, naming both authorities.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from analysis.core.errors import UserError
from analysis.core.escape import log_text

MAX_SLUG = 64
#: Folders of REPORTS_DIR that belong to the build, never to an authority.
RESERVED = frozenset({"national", "logs", "failed", "figures"})


class SlugError(UserError):
    """Two authorities would share one output folder."""


def slugify(name: str) -> str:
    """Lower-case ASCII, accents dropped, runs of other characters -> one '-'.

    >>> slugify("Kingston upon Hull")
    'kingston-upon-hull'
    >>> slugify("St. Aldwyn & Marsh")
    'st-aldwyn-marsh'
    >>> slugify("Sélby Fen")
    'selby-fen'
    """
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")
    if not slug:
        raise ValueError(f"authority name {name!r} gives an empty slug")
    return slug


def _shorten(slug: str) -> str:
    if len(slug) <= MAX_SLUG:
        return slug
    cut = slug[:MAX_SLUG]
    if "-" in cut[MAX_SLUG // 2:]:
        cut = cut[: cut.rindex("-")]
    return cut.strip("-")


def authority_slug(la_name: str, la_code: str) -> str:
    """The authority's folder name: its name's slug, else its code's (see module doc).

    >>> authority_slug("Northbridge", "E99000001")
    'northbridge'
    >>> authority_slug("!!!", "E99000002")
    'e99000002'
    """
    for text in (str(la_name), str(la_code)):
        try:
            slug = _shorten(slugify(text))
        except ValueError:
            continue
        if slug in RESERVED:
            slug = f"{slug}-{slugify(str(la_code)) if text != str(la_code) else 'la'}"
        return slug
    raise SlugError(f"authority {la_code!r} ({la_name!r}) has neither a name nor a code "
                    "with a letter or digit, so it has no folder name; fix la_code in the extract")


def check_unique(authorities: Iterable[tuple[str, str]], source: str = "the extract") -> None:
    """Refuse (la_code, la_name) pairs that share a slug, naming every pair involved."""
    seen: dict[str, list[tuple[str, str]]] = {}
    for code, name in authorities:
        seen.setdefault(authority_slug(name, code), []).append((str(code), str(name)))
    clashes = {slug: pairs for slug, pairs in seen.items() if len(pairs) > 1}
    if not clashes:
        return

    lines = [
        f"  - folder '{slug}': " + " and ".join(f"{code} {log_text(repr(name), 80)}"
                                                for code, name in sorted(pairs))
        for slug, pairs in sorted(clashes.items())
    ]
    raise SlugError(
        f"{source}: {len(clashes)} set(s) of authorities would share one output folder "
        "(folder names come from la_name; each authority needs its own):\n" + "\n".join(lines)
        + "\nGive each authority a distinct la_name in the extract (or in the column "
        "mapping's `values: la_name:` recodes); nothing was written."
    )
