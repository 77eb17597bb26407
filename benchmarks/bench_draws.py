"""Draws per second on the 2025 market (1,000 households), serial and on a local Dask cluster.

(a) draws that change only costs or policy (no re-calibration): ford-byd-jv's parameter inputs;
(b) draws that re-calibrate demand: its target inputs (first-order re-calibration, the default;
    one exact re-calibration is timed too).
Prints draws/s for each (medians of --repeats runs), the cluster/serial ratio, and a profile of one
draw of each kind.

    python benchmarks/bench_draws.py [--draws 24] [--workers 2] [--repeats 3]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import statistics
import time

from autopact.fit.calibration import calibrate, load_targets
from autopact.policy.scenario import load_scenario, parse_scenario
from autopact.policy.uncertain_inputs import apply, centrals
from autopact.runs.execution import Job, evaluate_chunk, execute, prepare
from autopact.runs.uncertainty import draw_values
from autopact.simulate import market_for, simulate


def jobs_for(scenario, draws: int) -> list[Job]:
    values = centrals(scenario)
    out = []
    for d in range(draws):
        drawn = draw_values(scenario.uncertainty, values, d, scenario.uncertainty.seed)
        definition, targets, assumptions, _ = apply(scenario, drawn)
        out.append(Job(0, d, definition, targets, assumptions, drawn))
    return out


def timed(shared, jobs, backend: str, workers: int) -> tuple[float, float]:
    """(seconds from the first job sent to the last result, seconds including cluster start-up)."""
    began = time.perf_counter()
    ready = [began]
    count = 0
    for records in execute(shared, jobs, backend=backend, workers=workers,
                           on_start=lambda _: ready.append(time.perf_counter())):
        count += len(records)
        assert all(r["status"] == "ok" for r in records), records
    assert count == len(jobs)
    end = time.perf_counter()
    return end - ready[-1], end - began


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--draws", type=int, default=24)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3, help="timings per setting; medians are printed")
    args = parser.parse_args()
    base = load_scenario("ford-byd-jv")
    definition = base.model_dump(mode="json")
    kinds = {
        "(a) cost/policy draws": parse_scenario({**definition, "uncertainty": {**definition["uncertainty"], "inputs": [
            i for i in definition["uncertainty"]["inputs"] if i.get("parameter")]}}, "a"),
        "(b) re-calibrating draws": parse_scenario({**definition, "uncertainty": {**definition["uncertainty"], "inputs": [
            i for i in definition["uncertainty"]["inputs"] if i.get("target")]}}, "b"),
    }
    model = market_for(base)
    market, cal = model.data, model.calibration
    central = simulate(base, model)
    warm = {0: dict(zip(central.counterfactual.products["product_id"], central.counterfactual.products["price"]))}
    print(f"2025 market, {len(cal.households.weights)} households, {len(market.products)} products, "
          f"{args.draws} draws per kind, local cluster of {args.workers} single-threaded workers")
    for label, scenario in kinds.items():
        began = time.perf_counter()
        shared = prepare(model, 1000, 0, scenario.uncertainty.inputs, "linear", warm, central.baseline)
        setup = time.perf_counter() - began
        jobs = jobs_for(scenario, args.draws)
        serial = statistics.median(timed(shared, jobs, "serial", 1)[0] for _ in range(args.repeats))
        runs = [timed(shared, jobs, "dask", args.workers) for _ in range(args.repeats)]
        cluster = statistics.median(r[0] for r in runs)
        with_startup = statistics.median(r[1] for r in runs)
        print(f"{label}: serial {args.draws / serial:.2f} draws/s ({serial / args.draws:.3f} s/draw); "
              f"Dask x{args.workers} {args.draws / cluster:.2f} draws/s ({args.draws / with_startup:.2f} with cluster "
              f"start-up); speed-up {serial / cluster:.2f}x; one-off set-up {setup:.2f} s")
        profile = cProfile.Profile()
        profile.enable()
        evaluate_chunk(shared, jobs[:1])
        profile.disable()
        text = io.StringIO()
        pstats.Stats(profile, stream=text).sort_stats("cumulative").print_stats(12)
        print("\n".join(line for line in text.getvalue().splitlines() if "autopact" in line or "function calls" in line))
    targets = load_targets()
    targets.loc[targets["name"] == "own_elasticity_compact_car", "value"] = -6.4
    began = time.perf_counter()
    calibrate(market, targets=targets, start=cal.parameters)
    print(f"one exact re-calibration (--recalibrate exact): {time.perf_counter() - began:.1f} s")


if __name__ == "__main__":
    main()
