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
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

from analysis.core import guard
from analysis.core.errors import UserError
from analysis.core.layout import build_dir
from analysis.core.paths import PROJECT_ROOT
from analysis.data import synthetic
from analysis.data.extract import ExtractWarning, read_extract
from analysis.data.params import authorities, ensure_params
from analysis.data.synthetic import (
    DEFAULT_OUT,
    FIXTURE_PATH,
    calibration_table,
    generate,
    load_config,
    write_extract,
)
from analysis.data.synthetic_comments import local_deny_lists, read_truth
from analysis.data.validation import load_valid_extract, summary, validate_frame
from analysis.methods.comments import write_review
from analysis.methods.comments_eval import report, second_set
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


def cmd_validate(argv: Sequence[str] | None = None) -> int:
    """``python -m analysis validate PATH [--mapping FILE]``: check an extract, write nothing."""
    parser = argparse.ArgumentParser(
        prog="python -m analysis validate",
        description="Check a survey extract against the spec and report every problem.",
    )
    parser.add_argument("path", help="the survey extract (CSV, UTF-8)")
    parser.add_argument("--mapping", default=None,
                        help="column-mapping file for an export with other headers")
    args = parser.parse_args(argv)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ExtractWarning)
            df = read_extract(args.path, args.mapping)
        typed, warns = validate_frame(df, source=args.path)

        authorities(typed, source=args.path)  # two authorities, one output folder
    except UserError as exc:
        print(str(exc), file=sys.stderr)
        return exc.exit_code
    for w in caught:
        if issubclass(w.category, ExtractWarning):
            print(f"warning: {w.message}", file=sys.stderr)
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    for message in warns:
        print(f"warning: {message}", file=sys.stderr)
    print(summary(args.path, typed))
    return 0


# ----------------------------------------------------------------------------- command line
def cmd_review(argv: Sequence[str] | None = None) -> int:
    """``python -m analysis review --data D --params-dir P --review-dir R [--mapping M]``."""
    ap = argparse.ArgumentParser(prog="python -m analysis review",
                                 description="Write the confidential comment-review files.")
    ap.add_argument("--data", required=True)
    ap.add_argument("--mapping", default=None)
    ap.add_argument("--params-dir", default="params")
    ap.add_argument("--review-dir", default="review")
    ap.add_argument("--only", default="", help="comma-separated authority slugs")
    args = ap.parse_args(argv)
    try:
        s = write_review(Path(args.data), Path(args.params_dir), Path(args.review_dir),
                         Path(args.mapping) if args.mapping else None,
                         [x for x in args.only.split(",") if x.strip()] or None)
    except UserError as exc:
        print(str(exc), file=sys.stderr)
        return exc.exit_code
    print(f"Review files for {s.authorities} authorities in {args.review_dir}/: "
          f"{s.comments:,} comments, {s.redactions:,} personal details redacted, "
          f"{s.flagged:,} flagged for safeguarding (listed in {args.review_dir}/safeguarding.csv)."
          f" Kept {s.kept_approvals:,} approvals and {s.kept_edits:,} edits"
          + (f"; {s.reset_approvals:,} approvals withdrawn because the comment's words changed"
             if s.reset_approvals else "") + ".")
    for failure in s.failures:
        print(f"  SKIPPED {failure}", file=sys.stderr)
    return 1 if s.failures else 0


def cmd_data(argv: Sequence[str] | None = None) -> int:
    """``python -m analysis data [--out PATH] [--fixture] [--table]``."""
    ap = argparse.ArgumentParser(prog="python -m analysis data",
                                 description="Write the synthetic demonstration extract "
                                             "(fictional authorities; same bytes every run).")
    ap.add_argument("--out", default=None,
                    help=f"output CSV [default {DEFAULT_OUT.relative_to(PROJECT_ROOT)}, or "
                         f"{FIXTURE_PATH.relative_to(PROJECT_ROOT)} with --fixture]")
    ap.add_argument("--fixture", action="store_true",
                    help="write the small test fixture instead of the full extract")
    ap.add_argument("--table", action="store_true",
                    help="also print the calibration table (target vs achieved) as Markdown")
    args = ap.parse_args(argv)
    cfg = load_config(fixture=args.fixture)
    df = generate(cfg)
    out = Path(args.out) if args.out else (FIXTURE_PATH if args.fixture else DEFAULT_OUT)
    write_extract(out, df)
    print(f"Wrote {len(df)} rows for {df['la_code'].nunique()} authorities to {out}")
    if args.table:
        t = calibration_table(df, cfg)
        t["target"] = (100 * t["target"]).round(1)
        t["achieved"] = (100 * t["achieved"]).round(1)
        print(t.to_string(index=False))
    return 0


def cmd_eval_comments(argv: Sequence[str] | None = None) -> int:
    """Print the redaction and safeguarding tables of docs/comments.md (planted truth)."""
    ap = argparse.ArgumentParser(prog="python -m analysis eval-comments")
    ap.add_argument("data", nargs="?", default=str(synthetic.DEFAULT_OUT))
    ap.add_argument("--fixture", action="store_true", help="deny-lists of the fixture's config")
    ap.add_argument("--no-deny-lists", action="store_true")
    ap.add_argument("--second-set", action="store_true",
                    help="comments of the separate evaluation set (other names, places, "
                         "schools, sentences; no deny-lists) on the extract's respondents")
    args = ap.parse_args(argv)
    df = load_valid_extract(args.data, free_text=True)
    truth = read_truth(args.data)
    deny = None if args.no_deny_lists else local_deny_lists(
        synthetic.load_config(fixture=args.fixture))
    if args.second_set:
        df, truth = second_set(df, synthetic.load_config(fixture=args.fixture))
        deny = None
    print(report(df, truth, deny))
    return 0


#: name -> (what it does, the function taking the remaining arguments)
COMMANDS: dict[str, tuple[str, Callable[[Sequence[str]], int]]] = {
    "data": ("write the synthetic demonstration extract (same bytes every run)", cmd_data),
    "validate": ("validate an extract and nothing else", cmd_validate),
    "params": ("write a parameter file for every authority that lacks one", cmd_params),
    "review": ("write the confidential comment-review files", cmd_review),
    "reports": ("build every authority's briefing, the national briefing and the index",
                build.main),
    "bench": ("run the performance benchmark and print its figures", cmd_bench),
    "forget-build": ("delete the build's private working folder", cmd_forget_build),
    "eval-comments": ("measure redaction and safeguarding on planted comments (docs/comments.md)",
                      cmd_eval_comments),
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
