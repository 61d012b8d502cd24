"""The disclosure attacker (tests/attacker.py) on a whole extract: what can be recovered.

Usage: python benchmarks/attack_demo.py [DATA] [--authorities N] [--drivers]

Writes every CSV the build publishes (no rendering) into a temporary folder,
runs every attack of issue 11 on it and prints how many withheld counts were
pinned to within 2 and how many published rows expose a count of 1-4. The
demonstration extract (60 authorities) takes about a minute.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import pandas as pd  # noqa: E402
from attacker import publish_csvs, score  # noqa: E402

from analysis.data.validation import load_valid_extract  # noqa: E402


def disclosure_cost(reports: Path) -> pd.DataFrame:
    """Per survey: figures published, withheld, and how the comparators are rounded."""
    rows = []
    frames = {name: pd.concat([pd.read_csv(p) for p in reports.glob(f"*/{name}.csv")],
                              ignore_index=True)
              for name in ("indicators", "wellbeing", "breakdowns")
              if list(reports.glob(f"*/{name}.csv"))}
    rates = reports / "national" / "rates.csv"
    rates = pd.read_csv(rates) if rates.exists() else None
    for survey in sorted(set(frames["indicators"]["survey"])):
        rec: dict[str, object] = {"survey": survey}
        for name, f in frames.items():
            sel = f[f["survey"] == survey]
            rec[f"{name} rows"] = len(sel)
            rec[f"{name} withheld %"] = round(100 * sel["suppressed"].astype(bool).mean(), 1)
        ind = pd.concat([frames["indicators"], frames["wellbeing"]])
        ind = ind[ind["survey"] == survey]
        rec["comparator shown %"] = round(100 * ind["others_pct"].notna().mean(), 1)
        if rates is not None and "pct_step" in rates.columns:
            latest = rates[(rates["survey"] == survey)]
            steps = latest["pct_step"].value_counts(dropna=False).sort_index()
            rec["national steps (1/2/5/10/withheld)"] = "/".join(
                str(int(steps.get(v, 0))) for v in (1, 2, 5, 10)) + "/" + str(
                int(latest["pct_step"].isna().sum()))
        else:
            rec["national steps (1/2/5/10/withheld)"] = "exact (0.1)"
        rows.append(rec)
    return pd.DataFrame(rows).set_index("survey").T


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("data", nargs="?", default=str(ROOT / "data" / "synthetic" / "extract.csv"))
    p.add_argument("--authorities", type=int, default=0, help="keep only the first N")
    p.add_argument("--drivers", action="store_true", help="fit the models (performance.csv)")
    args = p.parse_args(argv)
    df = load_valid_extract(args.data)
    if args.authorities:
        keep = sorted(df["la_code"].unique())[: args.authorities]
        df = df[df["la_code"].isin(keep)]
    with tempfile.TemporaryDirectory(prefix="wb-attack-") as tmp:
        tables = publish_csvs(df, Path(tmp), drivers=args.drivers)
        result = score(Path(tmp), tables)
        cost = disclosure_cost(Path(tmp))
    print(json.dumps(result["summary"], indent=1, default=int))
    print("Cost of disclosure control (published files):")
    print(cost.to_string())
    for pin in result["pins"][:10]:
        print("pinned:", pin)
    for exp in result["exposures"][:5]:
        print("exposed:", exp)
    return 0


if __name__ == "__main__":
    sys.exit(main())
