"""Errors meant for people, not for debuggers.

A ``UserError`` carries a complete, readable message (file, rule, column,
rows). The command-line entry points print it and exit non-zero without a
traceback; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class UserError(Exception):
    """A problem with the user's input, explained in the message."""

    exit_code = 2


class ExtractError(UserError):
    """The survey extract cannot be read or breaks the spec."""


class ParamsError(UserError):
    """A parameter file is missing, unreadable or inconsistent with the data."""
