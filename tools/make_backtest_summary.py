"""Regenerate the back-test snapshot every report shows (``autopact.runs.backtest_summary``).

Run after a change that moves a back-test (the calibration, the data, the entry machinery), from the
repository root with autopact installed; it runs ``autopact validate`` (minutes) and writes
``src/autopact/data/bundled/backtest_summary_2025.json``:

    python tools/make_backtest_summary.py
"""

import json
import subprocess
from datetime import date
from pathlib import Path

from autopact.policy.scenario import load_scenario
from autopact.runs.backtest_summary import SNAPSHOT, summary_rows
from autopact.runs.validate import validate
from autopact.simulate import market_for

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    market = market_for(load_scenario("baseline-2025"))
    result = validate(market)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    changed = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True,
                             text=True).stdout.strip()
    if commit and changed:  # made on a working tree ahead of its commit (the data change it snapshots, often)
        commit += " with uncommitted changes"
    record = json.loads((ROOT / "src/autopact/data/bundled/calibration_2025.json").read_text())
    snapshot = {"made": date.today().isoformat(), "commit": commit or "unknown",
                "calibration_fingerprint": record["fingerprint"], "rows": summary_rows(result),
                "entry_rows": {row["product_id"]: row["predicted_units"] for row in result["entry_backtest"]["products"]},
                "demand_backtest": result["demand_backtest"]}
    path = ROOT / "src/autopact/data/bundled" / SNAPSHOT
    path.write_text(json.dumps(snapshot, indent=1, default=str) + "\n")
    print(f"wrote {path}: {sum(r['passed'] is True for r in snapshot['rows'])} of {len(snapshot['rows'])} pass")


if __name__ == "__main__":
    main()
