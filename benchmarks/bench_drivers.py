"""Benchmark the national driver models against the previous method, in one run.

    .venv/bin/python benchmarks/bench_drivers.py [--data PATH] [--baseline-ref REF]
                                                 [--repeats N] [--json FILE]

Fits, on the same extract and in the same process, alternately:

* the **baseline**: ``analysis/methods/drivers.py`` as it was at ``--baseline-ref``
  (default: the commit before the research-standard rewrite, issue 17:
  pooled OLS, 0-fill with missing indicators, standardised effects,
  coefficient-derived permutation importance), read from git and loaded as
  its own module;
* the **current** method (``analysis.methods.drivers.fit_national_models``):
  authority fixed effects, multiple imputation, relative weights with
  bootstrap rank intervals, the gradient-boosting check.

Prints the wall seconds of each fit, their ratio, and what the current fit
finds (cross-validated R^2 per survey, the planted drivers' ranks and
intervals on the demonstration extract). Ratios are what matter: both run on
the same machine in the same run. The model step is cached by the build, so
this is the cost of a build with new data or new model code, once.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from analysis.data import synthetic
from analysis.data.validation import load_valid_extract
from analysis.methods import drivers

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

#: The last commit before issue 17's driver models.
DEFAULT_BASELINE = "5f816c0ff799ef92f8990352e87df383a4af9c5a"


def load_baseline(ref: str) -> object:
    """The baseline drivers module, from git, as module ``drivers_baseline``."""
    source = subprocess.run(["git", "show", f"{ref}:analysis/methods/drivers.py"], cwd=ROOT,
                            capture_output=True, text=True, check=True).stdout
    folder = Path(tempfile.mkdtemp(prefix="bench-drivers-"))
    path = folder / "drivers_baseline.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("drivers_baseline", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["drivers_baseline"] = module
    spec.loader.exec_module(module)
    return module


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(ROOT / "data" / "synthetic" / "extract.csv"))
    ap.add_argument("--baseline-ref", default=DEFAULT_BASELINE)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--json", default=None, help="also write the figures to this file")
    args = ap.parse_args(argv)

    data = Path(args.data)
    if not data.exists():
        synthetic.write_extract(data)
    df = load_valid_extract(data)
    baseline = load_baseline(args.baseline_ref)
    times: dict[str, list[float]] = {"baseline": [], "current": []}
    result = None
    for _ in range(args.repeats):
        t = time.perf_counter()
        baseline.fit_national_models(df, random_state=0)  # type: ignore[attr-defined]
        times["baseline"].append(time.perf_counter() - t)
        t = time.perf_counter()
        result = drivers.fit_national_models(df, random_state=0)
        times["current"].append(time.perf_counter() - t)
    assert result is not None
    base, cur = min(times["baseline"]), min(times["current"])
    print(f"Extract: {data} ({len(df):,} answers, {df['la_code'].nunique()} authorities); "
          f"{os.cpu_count()} cores; best of {args.repeats}")
    print(f"baseline fit ({args.baseline_ref[:7]}): {base:6.1f} s")
    print(f"current fit:            {cur:6.1f} s   ({cur / base:.1f} x the baseline)")
    perf = result.performance.set_index("survey")
    print("\nCross-validated R^2 (authorities not seen), linear / gradient boosting:")
    for s, r in perf.iterrows():
        print(f"  {s:11s} {r['cv_r2']:.3f} / {r['hgb_cv_r2']:.3f}  (within-authority R^2 of "
              f"the drivers {r['within_r2']:.3f}; complete answers {r['complete_share']:.0%})")
    planted = synthetic.planted_drivers(include_null=False)
    d = result.drivers.set_index(["survey", "indicator"])
    ranks = []
    print("\nPlanted drivers: rank (95% bootstrap range), effect (95% interval), planted size:")
    for r in planted.to_dict("records"):
        key = (r["survey"], r["indicator"])
        if key not in d.index:
            continue
        g = d.loc[key]
        ranks.append({"survey": r["survey"], "indicator": r["indicator"],
                      "rank": int(g["rank"]), "rank_low": int(g["rank_low"]),
                      "rank_high": int(g["rank_high"]), "effect": round(float(g["effect"]), 3),
                      "planted": r["size"]})
        print(f"  {r['survey']:11s} {r['indicator']:22s} {int(g['rank']):2d} "
              f"({int(g['rank_low'])}-{int(g['rank_high'])})  {g['effect']:+.2f} "
              f"({g['ci_low']:+.2f} to {g['ci_high']:+.2f})  planted {r['size']:+.1f}")
    pairs = synthetic.correlated_pairs()
    print("\nCorrelated pairs (planted driver vs its non-causal partner): ranks")
    for p in pairs.to_dict("records"):
        a, b = d.loc[(p["survey"], p["planted"])], d.loc[(p["survey"], p["partner"])]
        ok = "ok" if a["rank"] < b["rank"] else "WRONG ORDER"
        print(f"  {p['survey']:11s} {p['planted']:20s} {int(a['rank']):2d}  vs  "
              f"{p['partner']:17s} {int(b['rank']):2d} (effect {b['effect']:+.2f})  {ok}")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "baseline_seconds": times["baseline"], "current_seconds": times["current"],
            "ratio": cur / base, "cv_r2": perf["cv_r2"].round(4).to_dict(),
            "hgb_cv_r2": perf["hgb_cv_r2"].round(4).to_dict(), "planted": ranks,
        }, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
