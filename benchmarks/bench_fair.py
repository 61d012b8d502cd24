"""False and true findings per authority: shuffled labels and planted differences.

Why: a briefing sells chance as findings when it makes many comparisons at
5% each. This benchmark measures, on the demonstration extract (or any
extract), how many "better"/"worse" flags, "improved"/"declined" changes and
focus areas each authority's briefing gets when no authority differs from
any other (authority labels shuffled within each survey and year, so every
authority keeps its size but its children are a random draw of everyone's),
and whether the planted authority differences of the synthetic data are
still found without shuffling.

Every figure is for the rows a briefing publishes (its latest survey year;
not suppressed by disclosure control). The national driver models are
fitted once on the unshuffled data and reused: they are child-level models,
which a shuffle of authority labels does not change.

    .venv/bin/python benchmarks/bench_fair.py                 # 40 shuffles
    .venv/bin/python benchmarks/bench_fair.py --shuffles 5 --json out.json
    .venv/bin/python benchmarks/bench_fair.py --code /path/to/old/checkout

``--code`` imports ``analysis`` from another checkout (e.g. a ``git worktree``
of an older commit), so the same measurement is made of the code as it was.
The figures of both are in docs/comparisons.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from analysis.data import synthetic
from analysis.data.validation import load_valid_extract
from analysis.methods import drivers as drv
from analysis.methods.disclosure import rate_suppressed
from analysis.methods.focus import all_focus_areas
from analysis.methods.indicators import national_tables

ROOT = Path(__file__).resolve().parent.parent


def _parse() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shuffles", type=int, default=40)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--data", type=Path, default=None,
                    help="extract to read (default: the synthetic demonstration extract)")
    ap.add_argument("--code", type=Path, default=ROOT,
                    help="checkout whose `analysis` package is measured (default: this one)")
    ap.add_argument("--cache", type=Path,
                    default=Path(tempfile.gettempdir()) / "wb-bench-fair-models")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    return ap.parse_args()


def shuffle_labels(df, rng):  # noqa: ANN001, ANN201 - pandas frame in, frame out
    """Authority code and name permuted together within each survey and year."""
    out = df.copy()
    for _, idx in out.groupby(["survey_year", "survey"]).groups.items():
        idx = list(idx)
        perm = rng.permutation(len(idx))
        out.loc[idx, ["la_code", "la_name"]] = out.loc[idx, ["la_code", "la_name"]].to_numpy()[perm]
    return out


CASEMIX_LA = ("E99000999", "Casemix Test")


def add_casemix_authority(df, rng, size: int = 200):  # noqa: ANN001, ANN201
    """Relabel older children, mostly girls, as a new authority (latest year, 11-17s, leavers).

    Drawn at random from every authority's answers (after a shuffle, no authority has a
    practice effect), 85% girls aged 15-17 (21-25 for care leavers) and 15% boys of those
    ages: an authority whose children differ only in who they are.
    """
    import pandas as pd

    out = df.copy()
    years = pd.to_numeric(out["survey_year"], errors="coerce")
    ages = pd.to_numeric(out["age"], errors="coerce")
    for survey, old_age in (("ylyc_11_17", 15), ("ylbc", 21)):
        pool = out[(years == years.max()) & (out["survey"].astype(str) == survey)
                   & (ages >= old_age)]
        girls = pool[pool["gender"] == "girl"].index.to_numpy()
        boys = pool[pool["gender"] == "boy"].index.to_numpy()
        take = list(rng.choice(girls, int(0.85 * size), replace=False))
        take += list(rng.choice(boys, size - len(take), replace=False))
        out.loc[take, "la_code"] = CASEMIX_LA[0]
        out.loc[take, "la_name"] = CASEMIX_LA[1]
    return out


def findings(tables, drivers):  # noqa: ANN001, ANN201
    """Per authority (its latest year): better, worse, improved, declined, focus areas."""
    import pandas as pd

    comp = tables["comparisons"]
    latest = comp.groupby("la_code")["survey_year"].max().rename("latest")
    comp = comp.join(latest, on="la_code")
    shown = ~rate_suppressed(comp["n"], comp["k"])
    if "withheld" in comp.columns:  # the national stage's disclosure decision, where made
        shown = shown & ~comp["withheld"].astype(bool).to_numpy()
    comp = comp[(comp["survey_year"] == comp["latest"]) & shown]
    out = pd.DataFrame(index=latest.index)
    out["better"] = comp[comp["flag"] == "better"].groupby("la_code").size()
    out["worse"] = comp[comp["flag"] == "worse"].groupby("la_code").size()
    out["tests"] = comp.groupby("la_code").size()
    chg = tables["change"].join(latest, on="la_code")
    shown = ~rate_suppressed(chg["n"], chg["k"]) & ~rate_suppressed(chg["prev_n"],
                                                                     chg["prev_k"])
    for col in ("withheld", "prev_withheld"):
        if col in chg.columns:
            shown = shown & ~chg[col].astype(bool).to_numpy()
    chg = chg[(chg["survey_year"] == chg["latest"]) & shown]
    out["improved"] = chg[chg["flag"] == "improved"].groupby("la_code").size()
    out["declined"] = chg[chg["flag"] == "declined"].groupby("la_code").size()
    out["change_tests"] = chg.groupby("la_code").size()
    focus = all_focus_areas(drivers, tables["comparisons"])
    focus = focus.join(latest, on="la_code")
    focus = focus[focus["survey_year"] == focus["latest"]]
    out["focus"] = focus.groupby("la_code").size()
    return out.fillna(0).astype(int)


def summarise(per_la) -> dict[str, float]:  # noqa: ANN001
    flags = per_la["better"] + per_la["worse"]
    changes = per_la["improved"] + per_la["declined"]
    return {
        "authorities": int(len(per_la)),
        "comparisons_per_la": float(per_la["tests"].mean()),
        "better_per_la": float(per_la["better"].mean()),
        "worse_per_la": float(per_la["worse"].mean()),
        "flags_per_la": float(flags.mean()),
        "share_any_flag": float((flags > 0).mean()),
        "share_any_worse": float((per_la["worse"] > 0).mean()),
        "share_3plus_flags": float((flags >= 3).mean()),
        "change_tests_per_la": float(per_la["change_tests"].mean()),
        "improved_per_la": float(per_la["improved"].mean()),
        "declined_per_la": float(per_la["declined"].mean()),
        "share_any_change": float((changes > 0).mean()),
        "focus_per_la": float(per_la["focus"].mean()),
        "share_any_focus": float((per_la["focus"] > 0).mean()),
    }


def main() -> int:
    args = _parse()
    sys.path.insert(0, str(args.code.resolve()))
    import numpy as np
    import pandas as pd

    if args.data:
        df = load_valid_extract(args.data)
        planted = pd.DataFrame()
    else:
        df = synthetic.generate()
        planted = synthetic.planted_differences()
    results = drv.cached_national_models(df, args.cache, f"bench-fair-{len(df)}")

    start = time.perf_counter()
    tables = national_tables(df)
    national_seconds = time.perf_counter() - start
    real = findings(tables, results.drivers)
    comp = tables["comparisons"].set_index(["la_code", "survey_year", "survey", "indicator"])
    found = []
    for p in planted.to_dict("records"):
        key = (p["la_code"], int(p["survey_year"]), p["survey"], p["indicator"])
        found.append({"la_code": p["la_code"], "indicator": p["indicator"],
                      "expected": p["expected_flag"], "got": str(comp.loc[key, "flag"])})

    focus_found = []

    fa = all_focus_areas(results.drivers, tables["comparisons"])
    for p in planted.to_dict("records"):
        if p["expected_flag"] != "worse":
            continue
        hit = fa[(fa["la_code"] == p["la_code"]) & (fa["indicator"] == p["indicator"])
                 & (fa["survey"] == p["survey"])]
        focus_found.append({"la_code": p["la_code"], "indicator": p["indicator"],
                            "focus_rank": int(hit["focus_rank"].iloc[0]) if len(hit) else None})

    rng = np.random.default_rng(args.seed)
    runs = []
    casemix = []
    for i in range(args.shuffles):
        shuffled = shuffle_labels(df, rng)
        if i < max(1, args.shuffles // 4):  # a case-mix authority in a quarter of the runs
            shuffled = add_casemix_authority(shuffled, rng)
        result = findings(national_tables(shuffled), results.drivers).assign(run=i)
        if CASEMIX_LA[0] in result.index:
            casemix.append(result.loc[CASEMIX_LA[0]].to_dict())
            result = result.drop(index=CASEMIX_LA[0])
        runs.append(result)
    null = pd.concat(runs)
    per_run = [summarise(r) for _, r in null.groupby("run")]
    null_summary = {k: float(np.mean([r[k] for r in per_run])) for k in per_run[0]}
    report = {
        "code": str(args.code.resolve()),
        "shuffles": args.shuffles,
        "national_stage_seconds": round(national_seconds, 2),
        "shuffled": {k: round(v, 3) for k, v in null_summary.items()},
        "real": {k: round(v, 3) for k, v in summarise(real).items()},
        "planted": found,
        "planted_found": int(sum(f["got"] == f["expected"] for f in found)),
        "planted_focus": focus_found,
        "casemix_runs": len(casemix),
        "casemix_flags_per_run": round(float(np.mean(
            [c["better"] + c["worse"] for c in casemix])), 3) if casemix else None,
        "casemix_worse_per_run": round(float(np.mean([c["worse"] for c in casemix])), 3)
        if casemix else None,
        "casemix_focus_per_run": round(float(np.mean([c["focus"] for c in casemix])), 3)
        if casemix else None,
    }
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
