"""Command-line entry points behind the Makefile (`python -m analysis.pipeline.cli ...`).

Every command turns a ``UserError`` into a readable message and a non-zero
exit status: people see what is wrong with their input, not a traceback.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from analysis.core import guard
from analysis.core.errors import UserError
from analysis.core.guard import disk_message
from analysis.data.params import authorities, ensure_params
from analysis.data.validation import load_valid_extract


def cmd_params(args: argparse.Namespace) -> int:
    """Write a parameter file for every authority in the data that lacks one."""

    data, mapping = guard.inputs(args.data, args.mapping, {"PARAMS_DIR": args.params_dir})
    df = load_valid_extract(data, mapping)
    auths = authorities(df, source=str(data))
    created, updated, orphans = ensure_params(auths, Path(args.params_dir))
    print(f"{len(auths)} authorities in {args.data}: {len(created)} parameter file(s) written, "
          f"{len(updated)} completed with missing keys, "
          f"{len(auths) - len(created) - len(updated)} unchanged.")
    for path in orphans:
        print(f"  {path}: no authority of this name in the data (kept, not built)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m analysis.pipeline.cli")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("params", help=cmd_params.__doc__)
    p.add_argument("--data", required=True)
    p.add_argument("--mapping", default=None)
    p.add_argument("--params-dir", default="params")
    p.set_defaults(func=cmd_params)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except UserError as exc:
        print(str(exc), file=sys.stderr)
        return exc.exit_code
    except OSError as exc:

        print(disk_message(exc), file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
