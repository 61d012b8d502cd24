"""Errors meant for people, not for debuggers.

A ``UserError`` carries a complete, readable message (file, rule, column,
rows). The command-line entry points print it and exit non-zero without a
traceback; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

from analysis.core.escape import log_text


class UserError(Exception):
    """A problem with the user's input, explained in the message.

    Messages often quote values from the data (an authority's name, a cell),
    and they reach terminals and logs: control characters in those values
    (ANSI escapes, carriage returns) are shown as ``\\xNN`` rather than acted
    on, so a hostile value cannot rewrite or forge the lines around it.
    """

    exit_code = 2

    def __str__(self) -> str:
        lines = super().__str__().split("\n")
        return "\n".join(log_text(line, limit=1_000_000) for line in lines)


class ExtractError(UserError):
    """The survey extract cannot be read or breaks the spec."""


class ParamsError(UserError):
    """A parameter file is missing, unreadable or inconsistent with the data."""
