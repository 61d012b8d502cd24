"""The one command line: ``python -m analysis <command>`` (or ``wellbeing <command>``).

Every make target that runs project code calls one of these subcommands, so
``make help`` and ``python -m analysis --help`` list the same jobs. Each
command keeps its own options (``python -m analysis reports --help``) and
turns a ``UserError`` into a readable message and a non-zero exit status:
people see what is wrong with their input, not a traceback.
"""

from __future__ import annotations

import argparse
import runpy
import shutil
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from analysis.core import guard
from analysis.core.errors import UserError
from analysis.core.layout import build_dir
from analysis.core.paths import PROJECT_ROOT
from analysis.data import synthetic, validation
from analysis.data.params import authorities, ensure_params
from analysis.data.validation import load_valid_extract
from analysis.methods import comments
from analysis.pipeline import build

BENCHMARK = PROJECT_ROOT / "benchmarks" / "bench_reports.py"


def cmd_params(argv: Sequence[str]) -> int:
    """Write a parameter file for every authority in the data that lacks one."""
    ap = argparse.ArgumentParser(prog="python -m analysis params", description=cmd_params.__doc__)
    ap.add_argument("--data", required=True)
    ap.add_argument("--mapping", default=None)
    ap.add_argument("--params-dir", default="params")
    args = ap.parse_args(argv)
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


def cmd_bench(argv: Sequence[str]) -> int:
    """Run the performance benchmark (benchmarks/bench_reports.py) and print its figures."""
    sys.argv = [str(BENCHMARK), *argv]
    try:
        runpy.run_path(str(BENCHMARK), run_name="__main__")
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def cmd_forget_build(argv: Sequence[str]) -> int:
    """Delete the build's private working folder for a reports folder (make clean-reports)."""
    ap = argparse.ArgumentParser(prog="python -m analysis forget-build",
                                 description=cmd_forget_build.__doc__)
    ap.add_argument("reports_dir")
    folder = build_dir(ap.parse_args(argv).reports_dir)
    shutil.rmtree(folder, ignore_errors=True)
    return 0


#: name -> (what it does, the function taking the remaining arguments)
COMMANDS: dict[str, tuple[str, Callable[[Sequence[str]], int]]] = {
    "data": ("write the synthetic demonstration extract (same bytes every run)", synthetic.main),
    "validate": ("validate an extract and nothing else", validation.main),
    "params": ("write a parameter file for every authority that lacks one", cmd_params),
    "review": ("write the confidential comment-review files", comments.main),
    "reports": ("build every authority's briefing, the national briefing and the index",
                build.main),
    "bench": ("run the performance benchmark and print its figures", cmd_bench),
    "forget-build": ("delete the build's private working folder", cmd_forget_build),
}


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help") or args[0] not in COMMANDS:
        width = max(map(len, COMMANDS))
        lines = [f"  {name:<{width}}  {what}" for name, (what, _) in COMMANDS.items()]
        print("usage: python -m analysis <command> [options]   (<command> --help for its options)"
              "\n\ncommands:\n" + "\n".join(lines))
        if args and args[0] not in ("-h", "--help"):
            print(f"\nunknown command: {args[0]}", file=sys.stderr)
            return 2
        return 0 if args else 2
    _, func = COMMANDS[args[0]]
    try:
        return int(func(args[1:]) or 0)
    except UserError as exc:
        print(str(exc), file=sys.stderr)
        return exc.exit_code
    except OSError as exc:
        print(guard.disk_message(exc), file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
