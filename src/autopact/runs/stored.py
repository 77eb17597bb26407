"""A stored ``simulate`` run as the result document ``autopact simulate --json`` printed for it.

The store keeps each job's metrics (baseline, counterfactual, change, solver) and the run's scenario
definition and options, not the products, firms and assumptions of the full document. A stored run
is reproduced by solving its central case again from that definition and options (deterministic:
the same scenario, households and seed give the same numbers) and taking its bands from the stored
draws. The web app serves stored runs this way (``/api/runs/{run_id}``, permalinks by run id).
"""

from __future__ import annotations

import json
from typing import Any

from autopact.outcomes.ranking import rank_partnerships
from autopact.policy.scenario import parse_scenario
from autopact.runs.analyses import RunOptions, _central, describe_inputs
from autopact.runs.store import Store, StoreError
from autopact.runs.uncertainty import CENTRAL_NOTE, bands


def stored_document(store: Store, run_id: str, console, markets=None) -> dict[str, Any]:
    """The result document of stored simulate run ``run_id`` (its central case solved again, its bands
    from the stored draws); ``StoreError`` when the run is missing or is not a simulate run.
    ``markets(scenario, households, household_seed)``, if given, returns the market to solve on
    (one the caller keeps in memory) or None (loaded here)."""
    run = store.run(run_id)
    if run["kind"] != "simulate":
        raise StoreError(f"run {run['run_id']} is a {run['kind']} run; only simulate runs are served as results")
    options = json.loads(run["options"])
    scenario = parse_scenario(json.loads(run["definition"]), f"run {run['run_id']}")
    run_options = RunOptions(options.get("households", 1000), options.get("household_seed", 0),
                             options.get("recalibration", "linear"), serial=True)
    market = markets(scenario, run_options.households, run_options.household_seed) if markets else None
    _, runs = _central(scenario, run_options, console, market)
    records = store.records(run["run_id"]) if options.get("draws") else []
    results = []
    for point, (label, variant, _, doc) in enumerate(runs):
        doc["run_id"] = run["run_id"]
        mine = [r for r in records if r["point"] == point and r["draw"] >= 0]
        if mine:
            ok = [r for r in mine if r["status"] == "ok"]
            doc["bands"] = bands([r["change"] for r in ok]) if ok else {}
            doc["uncertainty"] = {"draws": len(mine), "failed": len(mine) - len(ok), "seed": run["seed"],
                                  "recalibration": run_options.recalibration, "run_id": run["run_id"],
                                  "inputs": describe_inputs(variant),
                                  "failures": [{"draw": r["draw"], "error": r.get("error")} for r in mine
                                               if r["status"] != "ok"],
                                  "band_definition": "5th, 50th and 95th percentiles across draws of each change",
                                  "central_definition": CENTRAL_NOTE}
        results.append((label, doc))
    if len(results) == 1:
        return results[0][1]
    return {**results[0][1], "variants": [{"variant": label, **r} for label, r in results],
            "ranking": rank_partnerships(results)}
