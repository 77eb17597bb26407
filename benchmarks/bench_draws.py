"""Draws per second on the 2025 market (1,000 households): serial, on a local Dask cluster, and on
as many plain Python processes (the ceiling Dask's scaling is measured against).

(a) draws that change only costs or policy (no re-calibration): ford-byd-jv's parameter inputs;
(b) draws that re-calibrate demand: its target inputs (first-order re-calibration, the default;
    one exact re-calibration is timed too).
Prints draws/s for each (medians of --repeats runs), the cluster/serial and cluster/plain-processes
ratios, the largest difference of any number between the serial records and the others' (0: the
same to the bit), and a profile of one draw of each kind.

Plain processes: --workers fresh interpreters that import autopact and wait; their time runs from
then (as the cluster's from its start-up, its workers having preloaded autopact) to the last one's
end, handing over the pickled ``Shared`` and every --workers-th job (files) included. The three
settings alternate within each repeat, so that the machine's load moves them alike.

    python benchmarks/bench_draws.py [--draws 24] [--workers 2] [--repeats 3]

``--against OTHER/src`` (e.g. a checkout of main) times serial draws of both packages instead, each
in fresh processes, alternating run by run: draws/s, their ratio, map evaluations, the one-off
set-up and the largest difference of any number between the two sides' records.

    python benchmarks/bench_draws.py --against ../main/src --kinds ab --draws 100 --repeats 3
"""

from __future__ import annotations

import argparse
import cProfile
import io
import math
import os
import pickle
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from autopact.fit.calibration import calibrate, load_targets
from autopact.policy.scenario import load_scenario, parse_scenario
from autopact.policy.uncertain_inputs import apply, centrals
from autopact.runs.execution import Job, evaluate_chunk, execute, prepare
from autopact.runs.uncertainty import draw_values
from autopact.model.sorted_kernel import SortedKernel

try:  # --against runs this file on packages without them
    from autopact.model.draw_map import CompiledMap, dask_setup
    from autopact.runs.execution import worker_preload
except ImportError:
    CompiledMap = dask_setup = worker_preload = None
from autopact.model.zeta import FocKernel
from autopact.runs.draw_start import newton_start
from autopact.simulate import market_for, simulate


def jobs_for(scenario, draws: int) -> list[Job]:
    values = centrals(scenario)
    out = []
    for d in range(draws):
        drawn = draw_values(scenario.uncertainty, values, d, scenario.uncertainty.seed)
        definition, targets, assumptions, _ = apply(scenario, drawn)
        out.append(Job(0, d, definition, targets, assumptions, drawn))
    return out


def timed(shared, jobs, backend: str, workers: int) -> tuple[float, float, list[dict]]:
    """(seconds from the cluster's start-up to the last result, seconds including the cluster's start-up
    and shut-down, records)."""
    began = time.perf_counter()
    ready = [began]
    out = []
    for records in execute(shared, jobs, backend=backend, workers=workers,
                           on_start=lambda _: ready.append(time.perf_counter())):
        out += records
        last = time.perf_counter()  # the generator closes the cluster after the last result: not counted here
        assert all(r["status"] == "ok" for r in records), records
    assert len(out) == len(jobs)
    return last - ready[-1], time.perf_counter() - began, out


PLAIN = """
import importlib, os, pickle, sys, time
from autopact.runs.execution import evaluate_chunk
folder, worker = sys.argv[1], sys.argv[2]
for name in sys.argv[3:]:  # as the cluster's workers preload them (``execution.worker_preload``)
    module = importlib.import_module(name)
    if hasattr(module, "dask_setup"):
        module.dask_setup()
open(os.path.join(folder, f"ready{worker}"), "w").close()
while not os.path.exists(os.path.join(folder, "go")):
    time.sleep(0.001)
with open(os.path.join(folder, "shared.pickle"), "rb") as f:
    shared = pickle.load(f)
with open(os.path.join(folder, f"jobs{worker}.pickle"), "rb") as f:
    jobs = pickle.load(f)
records = evaluate_chunk(shared, jobs)
with open(os.path.join(folder, f"out{worker}.pickle"), "wb") as f:
    pickle.dump((time.monotonic(), records), f)
"""


def plain_processes(shared, jobs, workers: int) -> tuple[float, list[dict]]:
    """(seconds, records) on ``workers`` plain processes, timed as the cluster is: from processes
    that have imported autopact (as Dask's workers preload it) to the last one's end, pickling
    ``Shared`` and the jobs, handing them over (files) and unpickling them included."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    with tempfile.TemporaryDirectory(prefix="autopact-plain-") as name:
        folder = Path(name)
        preload = worker_preload(shared) if worker_preload else []
        procs = [subprocess.Popen([sys.executable, "-c", PLAIN, name, str(w), *preload], env=env)
                 for w in range(workers)]
        while not all((folder / f"ready{w}").exists() for w in range(workers)):
            if any(p.poll() not in (None, 0) for p in procs):
                raise SystemExit("a plain worker process failed")
            time.sleep(0.005)
        began = time.monotonic()
        (folder / "shared.pickle").write_bytes(pickle.dumps(shared, protocol=pickle.HIGHEST_PROTOCOL))
        for w in range(workers):
            (folder / f"jobs{w}.pickle").write_bytes(pickle.dumps(jobs[w::workers]))
        (folder / "go").touch()
        for p in procs:
            if p.wait() != 0:
                raise SystemExit("a plain worker process failed")
        ends, records = [], []
        for w in range(workers):
            end, mine = pickle.loads((folder / f"out{w}.pickle").read_bytes())
            ends.append(end)
            records += mine
    return max(ends) - began, records


EVALUATIONS = [0]  # evaluations of the equilibrium map in this process (serial runs): either kernel's


def _counting(terms):
    def counted(self, *args):
        EVALUATIONS[0] += 1
        return terms(self, *args)
    return counted


for _kernel in (FocKernel, SortedKernel):  # SortedKernel: the draws' kernel (``simulate.draw_kernel``)
    _kernel.terms = _counting(_kernel.terms)
if CompiledMap is not None:  # the draws' compiled map
    CompiledMap.zeta = _counting(CompiledMap.zeta)


def evaluations(shared, jobs) -> int:
    """Map evaluations of one serial run of ``jobs``."""
    EVALUATIONS[0] = 0
    timed(shared, jobs, "serial", 1)
    return EVALUATIONS[0]


def numbers(record: dict, path: str = "") -> dict[str, float]:
    """Every number of a record's baseline, counterfactual and change, by path."""
    out: dict[str, float] = {}

    def walk(value, where):
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, f"{where}/{k}")
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            out[where] = float(value)
    for key in ("baseline", "counterfactual", "change"):
        walk(record.get(key), key)
    return out


def largest_difference(a: list[dict], b: list[dict]) -> float:
    """Largest difference of any outcome between two sets of records of the same draws, relative to
    the larger of the two and 1 (a change is compared with its own size, so this overstates it)."""
    first = {r["draw"]: numbers(r) for r in a}
    worst = 0.0
    for r in b:
        mine, theirs = numbers(r), first[r["draw"]]
        assert mine.keys() == theirs.keys()
        for k, v in mine.items():
            if not (math.isnan(v) and math.isnan(theirs[k])):
                worst = max(worst, abs(v - theirs[k]) / max(abs(v), abs(theirs[k]), 1.0))
    return worst


SIDE = """
import inspect, pickle, sys, time
sys.path.insert(0, sys.argv[1])
from bench_draws import EVALUATIONS, kind_scenarios, jobs_for
from threadpoolctl import threadpool_limits
from autopact.runs import analyses
from autopact.runs.execution import evaluate_chunk, prepare
from autopact.policy.scenario import load_scenario
from autopact.simulate import market_for, simulate
try:
    from autopact.runs.draw_start import newton_start
except ImportError:  # main before the eleventh session: in autopact.simulate
    from autopact.simulate import newton_start
kind, draws, out = sys.argv[2], int(sys.argv[3]), sys.argv[4]
base = load_scenario("ford-byd-jv")
scenario = kind_scenarios(base)[kind]
model = market_for(base)
central = simulate(base, model)
warm = {0: dict(zip(central.counterfactual.products["product_id"], central.counterfactual.products["price"]))}
began = time.perf_counter()
with threadpool_limits(limits=1, user_api="blas"):  # as the draws run (evaluate_chunk)
    free = "free" in inspect.signature(newton_start).parameters  # main before this branch: no free start
    compiled = {"compiled": draws >= analyses.COMPILED_JOBS} if hasattr(analyses, "COMPILED_JOBS") else {}
    start = (newton_start(central, free=draws >= getattr(analyses, "FREE_JOBS", 80), **compiled) if free
             else newton_start(central))
    if compiled.get("compiled"):  # numba's loops loaded in the set-up, as a Dask worker loads them
        from autopact.model.draw_map import dask_setup
        dask_setup()
shared = prepare(model, 1000, 0, scenario.uncertainty.inputs, "linear", warm, central.baseline, {0: start})
setup = time.perf_counter() - began
jobs = jobs_for(scenario, draws)
EVALUATIONS[0] = 0
began, cpu = time.perf_counter(), time.process_time()
records = evaluate_chunk(shared, jobs)
seconds, cpu = time.perf_counter() - began, time.process_time() - cpu
with open(out, "wb") as f:
    pickle.dump({"seconds": seconds, "cpu": cpu, "setup": setup, "evaluations": EVALUATIONS[0], "records": records}, f)
"""


def kind_scenarios(base) -> dict:
    """The two kinds of draws of ford-byd-jv: (a) its cost/policy inputs, (b) its calibration targets."""
    definition = base.model_dump(mode="json")
    return {kind: parse_scenario({**definition, "uncertainty": {**definition["uncertainty"], "inputs": [
        i for i in definition["uncertainty"]["inputs"] if i.get(key)]}}, kind)
        for kind, key in (("a", "parameter"), ("b", "target"))}


def against(other: Path, kinds: str, draws: int, repeats: int) -> None:
    """Serial draws of this checkout's package against another's (``--against OTHER/src``, e.g. main's),
    each run in a fresh process of its own (market, central result and Newton start built there, as a
    run of ``draws`` draws builds them, not timed), the two sides alternating run by run so that the
    machine's load moves them alike. Prints the medians of wall and of CPU seconds (the CPU less moved
    by the load of a shared machine), their ratios, the map evaluations, the one-off set-up and the
    largest difference of any number between the two sides' records, with the draws that differ by
    more than 1e-8 (another equilibrium of the price game: see the README)."""
    here = Path(__file__).resolve().parent
    mine = here.parent / "src"
    for kind in kinds:
        runs: dict[str, list[dict]] = {"branch": [], "other": []}
        with tempfile.TemporaryDirectory(prefix="autopact-against-") as folder:
            for r in range(repeats):
                for side, src in (("other", other), ("branch", mine)):
                    out = os.path.join(folder, f"{side}{r}.pickle")
                    env = {**os.environ, "PYTHONPATH": str(src), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
                           "OPENBLAS_NUM_THREADS": "1"}
                    subprocess.run([sys.executable, "-c", SIDE, str(here), kind, str(draws), out], env=env, check=True)
                    with open(out, "rb") as f:
                        runs[side].append(pickle.load(f))
        seconds = {side: statistics.median(r["seconds"] for r in found) for side, found in runs.items()}
        cpu = {side: statistics.median(r.get("cpu", math.nan) for r in found) for side, found in runs.items()}
        first = {side: found[0] for side, found in runs.items()}
        differ = [r["draw"] for r, o in zip(first["branch"]["records"], first["other"]["records"])
                  if largest_difference([o], [r]) > 1e-8]
        print(f"({kind}) {draws} draws, serial, medians of {repeats} (load {os.getloadavg()[0]:.1f}): "
              f"{other}: {draws / seconds['other']:.2f} draws/s ({seconds['other'] / draws * 1000:.1f} ms/draw, "
              f"{first['other']['evaluations']} map evaluations, set-up {first['other']['setup']:.2f} s); this "
              f"checkout: {draws / seconds['branch']:.2f} draws/s ({seconds['branch'] / draws * 1000:.1f} ms/draw, "
              f"{first['branch']['evaluations']} map evaluations, set-up {first['branch']['setup']:.2f} s); "
              f"ratio {seconds['other'] / seconds['branch']:.2f}x; CPU seconds (the machine's load moves them less) "
              f"{cpu['other']:.2f} against {cpu['branch']:.2f}, ratio {cpu['other'] / cpu['branch']:.2f}x; largest difference "
              f"{largest_difference(first['other']['records'], first['branch']['records']):.3g}; draws differing "
              f"by more than 1e-8: {len(differ)} {differ}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--draws", type=int, default=24)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3, help="timings per setting; medians are printed")
    parser.add_argument("--kinds", default="ab", help="which kinds of draws to time: a, b or ab")
    parser.add_argument("--no-newton", dest="newton", action="store_false",
                        help="solve draws by SQUAREM, without the central result's Newton matrix")
    parser.add_argument("--no-squarem", dest="squarem", action="store_false",
                        help="leave out the serial runs solved by SQUAREM (minutes for 100 draws)")
    parser.add_argument("--against", type=Path,
                        help="another checkout's src folder (e.g. main's): serial draws of both, run by run")
    args = parser.parse_args()
    if args.against:
        against(args.against, args.kinds, args.draws, args.repeats)
        return
    from autopact.runs.analyses import COMPILED_JOBS, FREE_JOBS  # here: --against runs this file on packages without them

    base = load_scenario("ford-byd-jv")
    scenarios = kind_scenarios(base)
    kinds = {"(a) cost/policy draws": scenarios["a"], "(b) re-calibrating draws": scenarios["b"]}
    model = market_for(base)
    market, cal = model.data, model.calibration
    central = simulate(base, model)
    warm = {0: dict(zip(central.counterfactual.products["product_id"], central.counterfactual.products["price"]))}
    print(f"2025 market, {len(cal.households.weights)} households, {len(market.products)} products, "
          f"{args.draws} draws per kind, local cluster of {args.workers} single-threaded workers")
    for label, scenario in kinds.items():
        if label[1] not in args.kinds:
            continue
        began = time.perf_counter()
        # as a run of --draws draws starts them (``runs.analyses``: the free start from FREE_JOBS)
        compiled = args.draws >= COMPILED_JOBS
        newton = ({0: newton_start(central, free=args.draws >= FREE_JOBS, compiled=compiled)} if args.newton
                  else None)
        if compiled:  # numba's loops loaded in the set-up, as a Dask worker loads them when it starts
            dask_setup()
        shared = prepare(model, 1000, 0, scenario.uncertainty.inputs, "linear", warm, central.baseline, newton)
        setup = time.perf_counter() - began
        squarem = prepare(model, 1000, 0, scenario.uncertainty.inputs, "linear", warm, central.baseline)
        jobs = jobs_for(scenario, args.draws)
        serial_runs, plain_runs, runs, squarem_runs = [], [], [], []
        for _ in range(args.repeats):
            if args.newton and args.squarem:
                squarem_runs.append(timed(squarem, jobs, "serial", 1))
            serial_runs.append(timed(shared, jobs, "serial", 1))
            plain_runs.append(plain_processes(shared, jobs, args.workers))
            runs.append(timed(shared, jobs, "dask", args.workers))
        serial = statistics.median(r[0] for r in serial_runs)
        plain = statistics.median(r[0] for r in plain_runs)
        cluster = statistics.median(r[0] for r in runs)
        with_startup = statistics.median(r[1] for r in runs)
        reference = serial_runs[0][2]
        print(f"{label} (load {os.getloadavg()[0]:.1f}): serial {args.draws / serial:.2f} draws/s ({serial / args.draws:.3f} s/draw); "
              f"{args.workers} plain processes {args.draws / plain:.2f} draws/s; "
              f"Dask x{args.workers} {args.draws / cluster:.2f} draws/s ({args.draws / with_startup:.2f} with cluster "
              f"start-up and shut-down); Dask/serial {serial / cluster:.2f}x, Dask/plain processes {plain / cluster:.2f}; "
              f"one-off set-up {setup:.2f} s")
        if squarem_runs:
            plain_squarem = statistics.median(r[0] for r in squarem_runs)
            print(f"  serial, each draw solved by SQUAREM instead of Broyden from the central Newton matrix: "
                  f"{args.draws / plain_squarem:.2f} draws/s (Newton/SQUAREM {plain_squarem / serial:.2f}x; map "
                  f"evaluations {evaluations(squarem, jobs)} vs {evaluations(shared, jobs)}); largest difference "
                  f"{largest_difference(squarem_runs[0][2], reference):.3g}")
        print(f"  largest difference from the serial records: plain processes "
              f"{max(largest_difference(reference, r[1]) for r in plain_runs):.3g}, Dask "
              f"{max(largest_difference(reference, r[2]) for r in runs):.3g}, serial repeats "
              f"{max(largest_difference(reference, r[2]) for r in serial_runs):.3g}")
        profile = cProfile.Profile()
        profile.enable()
        evaluate_chunk(shared, jobs[:1])
        profile.disable()
        text = io.StringIO()
        pstats.Stats(profile, stream=text).sort_stats("cumulative").print_stats(12)
        print("\n".join(line for line in text.getvalue().splitlines() if "autopact" in line or "function calls" in line))
    if "b" not in args.kinds:
        return
    targets = load_targets()
    targets.loc[targets["name"] == "own_elasticity_nissan_sentra", "value"] = -6.4
    began = time.perf_counter()
    calibrate(market, targets=targets, start=cal.parameters, fit_draws=cal.fit_draws)
    print(f"one exact re-calibration (--recalibrate exact): {time.perf_counter() - began:.1f} s")


if __name__ == "__main__":
    main()
