"""Reading YAML, in one place: through libyaml's C parser when PyYAML has it.

A build with nothing to do reads every authority's parameter file several
times (new keys, briefing years, fingerprints, neighbours); PyYAML's pure-Python
parser spent about half of such a build on 60 files of twenty lines. The C
parser builds the same plain values (``CSafeLoader`` constructs only what
``SafeLoader`` does) and raises the same ``yaml.YAMLError`` types.
"""

from __future__ import annotations

from typing import IO, Any

import yaml

#: The safe loader, in C where PyYAML was built with libyaml (its wheels are).
SAFE_LOADER: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def safe_load(stream: str | bytes | IO[Any]) -> Any:
    """``yaml.safe_load`` with the fastest safe loader available."""
    return yaml.load(stream, Loader=SAFE_LOADER)  # noqa: S506 - a safe loader
