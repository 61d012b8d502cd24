"""Authority slugs: the folder name of each authority's outputs (interfaces.md)."""

from __future__ import annotations

import re
import unicodedata


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
