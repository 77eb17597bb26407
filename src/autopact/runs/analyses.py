"""Runs: a scenario with draws, a sensitivity analysis or a sweep, from definition to stored result.

Each run solves the central case here (the full result document of ``outcomes.document.result_json``),
plans its jobs, sends them to ``execution`` (serial or Dask), writes every job to the results
store and summarises: bands (``runs.uncertainty.bands``), tornado (``runs.uncertainty.tornado``) or
response surfaces (``sweeps.surfaces``). The summary is computed from the stored records, so a
resumed run and an uninterrupted one give the same document.
"""

from __future__ import annotations

import json
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from autopact.data.inputs import MAX_EVALUATIONS, check_seed
from autopact.errors import ScenarioError
from autopact.fit.estimated import estimate_distribution
from autopact.fit.market import MarketModel
from autopact.model.households import MAX_HOUSEHOLDS
from autopact.outcomes.document import SimulationResult, result_json
from autopact.outcomes.ranking import rank_partnerships
from autopact.policy.scenario import Scenario
from autopact.policy.uncertain_inputs import apply, centrals
from autopact.policy.variants import scenario_variants
from autopact.runs.draw_start import newton_start
from autopact.runs.execution import Job, Shared, check_scheduler, prepare, run_jobs
from autopact.runs.store import Store, default_path
from autopact.runs.uncertainty import CENTRAL_NOTE, bands, check_outcome, default_outcomes, draw_values, leaf, sensitivity_plan, tornado
from autopact.simulate import market_cached, market_for, simulate, solved_baseline


# Draws per variant from which a run computes its central result's Newton matrix (one evaluation of
# the equilibrium map per product, J + 1 in all) to start each draw's solve from: on ford-byd-jv
# (270 products) each draw then takes about half its evaluations, 12 to 15 fewer, so the matrix pays
# for itself after about 20 draws.
NEWTON_JOBS = 40
# Jobs from which the Newton start also holds the scenario's equilibrium at zero shadow costs and its
# matrix (``runs.draw_start.newton_start(free=True)``: about J + 20 evaluations more, 290 on ford-byd-jv),
# which start the draws whose capacity leaves a binding plant slack: about 9 evaluations fewer each,
# so with half the draws slack the matrix pays for itself after about 65 draws.
FREE_JOBS = 80
# Jobs from which the draws solve on numba's compiled map (``simulate.draw_kernel``, where numba is
# installed): about 10-14 ms of CPU fewer a draw on ford-byd-jv's cost draws, against a one-off
# 0.5-1.5 s a process to import numba and load the loops' cached machine code (local Dask workers
# load them as they start, ``runs.execution``): it pays for itself after about 100 draws a process.
COMPILED_JOBS = 100


@dataclass
class RunOptions:
    households: int = 1000
    household_seed: int = 0
    recalibration: str = "linear"
    serial: bool = False
    scheduler: str | None = None
    workers: int | None = None
    store: Path | None = None
    resume: bool = False

    def check(self) -> None:
        """Refuse options no run can use, before any work: sizes and seeds at their limits
        (``MAX_HOUSEHOLDS``, ``MAX_SEED``), choices, exclusive flags (ScenarioError naming the option)."""
        if isinstance(self.households, bool) or not isinstance(self.households, int) or \
                not 1 <= self.households <= MAX_HOUSEHOLDS:
            raise ScenarioError(f"--households must be a whole number from 1 to {MAX_HOUSEHOLDS:,} (MAX_HOUSEHOLDS: "
                                f"memory and time grow with it), got {self.households!r}")
        try:
            check_seed(self.household_seed, "--household-seed")
        except ValueError as error:
            raise ScenarioError(str(error)) from None
        if self.recalibration not in ("linear", "exact"):
            raise ValueError(f"--recalibrate must be linear or exact, got {self.recalibration!r}")
        if self.serial and self.scheduler:
            raise ValueError("--serial and --scheduler exclude each other")

    def backend(self) -> dict[str, Any]:
        return {"backend": "serial" if self.serial else "dask", "scheduler": self.scheduler, "workers": self.workers,
                "resume": self.resume}

    def key(self) -> dict[str, Any]:
        """What a run's results depend on (not where it ran)."""
        return {"households": self.households, "household_seed": self.household_seed,
                "recalibration": self.recalibration}


def _open(options: RunOptions, jobs: bool) -> Store:
    """Before any work: the options agree, a remote scheduler that jobs will go to answers, and the
    results store opens (a corrupt or unwritable one fails now, not after the run)."""
    options.check()
    if jobs and options.scheduler:
        check_scheduler(options.scheduler)
    return Store(options.store)


@contextmanager
def _progress(console, label: str) -> Iterator[Any]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=console, transient=False) as bar:
        task = bar.add_task(label, total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)


def _existing_store(options: RunOptions, jobs: bool) -> Store | None:
    """An existing results store, opened (so checked: a corrupt one fails) before any work; None when
    there is none yet: a new store is created only after the scenario's market is built, so a refused
    saved estimation result leaves no store behind."""
    path = Path(options.store) if options.store else default_path()
    return _open(options, jobs) if path.exists() else None


def _estimated(scenario: Scenario, options: RunOptions) -> MarketModel | None:
    """The market of a scenario on an estimation, built before the store is opened: building it
    verifies the saved result (its hash, settings, data), so a refused one leaves no store behind.
    None for the calibrated market, whose calibration is the long part and comes after. Households and
    their seed are the estimation's: other values are refused (ScenarioError naming the option), not ignored."""
    options.check()
    if scenario.estimation is None:
        return None
    defaults = RunOptions()
    for option, value, default in (("--households", options.households, defaults.households),
                                   ("--household-seed", options.household_seed, defaults.household_seed)):
        if value != default:
            raise ScenarioError(f"{option} {value}: scenario {scenario.name} runs on its estimation's market "
                                f"({scenario.estimation.result}), whose simulated households the estimation fixed; "
                                f"{option} applies to the calibrated data-year market only")
    return market_for(scenario, options.households, options.household_seed)


def _central(scenario: Scenario, options: RunOptions, console, market: MarketModel | None = None
             ) -> tuple[MarketModel, list[tuple[str, Scenario, SimulationResult, dict[str, Any]]]]:
    """The market the scenario runs on (``market`` when the caller holds it already) and each
    variant's central result (its document too)."""
    options.check()
    with console.status("loading the market and its calibration ...") as status:
        if market is None:
            market = market_for(scenario, options.households, options.household_seed)
        baseline = solved_baseline(market)
        runs = []
        variants = scenario_variants(scenario)
        for k, (label, variant) in enumerate(variants, 1):
            status.update(f"solving {label} ({k}/{len(variants)}) ...")
            result = simulate(variant, market, baseline=baseline, cache=True)
            runs.append((label, variant, result, result_json(result)))
    return market, runs


def _shared(scenario: Scenario, market: MarketModel, options: RunOptions,
            runs: list[tuple[str, Scenario, SimulationResult, dict[str, Any]]], jobs: int = 0) -> Shared:
    """What every job of the run reads: the market, its solved baseline and each variant's warm start,
    with its Newton matrix when the variant has at least ``NEWTON_JOBS`` jobs to spend it on."""
    warm = {k: _warm(result) for k, (_, _, result, _) in enumerate(runs)}
    newton = ({k: newton_start(result, free=jobs >= FREE_JOBS, compiled=jobs >= COMPILED_JOBS)
               for k, (_, _, result, _) in enumerate(runs)}
              if jobs >= NEWTON_JOBS else None)
    inputs = [item for _, variant, _, _ in runs for item in variant.uncertainty.inputs]  # a variant may draw its own
    return prepare(market, options.households, options.household_seed, inputs,
                   options.recalibration, warm, runs[0][2].baseline, newton)


def _estimates(scenario: Scenario, market: MarketModel):
    """(labels, estimates, covariance root) for an ``estimate: demand`` input, else None."""
    if scenario.estimation is None or not any(i.kind == "estimate" for i in scenario.uncertainty.inputs):
        return None
    return estimate_distribution(market.estimation)


def _record(point: int, document: dict[str, Any]) -> dict[str, Any]:
    s = document["solver"]
    return {"point": point, "draw": -1, "status": "ok", "inputs": {}, "baseline": document["baseline"],
            "counterfactual": document["counterfactual"], "change": document["change"],
            "solver": {"converged": s["converged"], "iterations": s["iterations"], "max_foc_residual": s["max_foc_residual"]}}


def _warm(result) -> dict[str, float]:
    p = result.counterfactual.products
    return dict(zip(p["product_id"], p["price"].astype(float)))


def describe_inputs(scenario: Scenario) -> list[dict[str, Any]]:
    values = centrals(scenario)
    out = []
    for item in scenario.uncertainty.inputs:
        if item.kind == "estimate":
            shape = (f"joint normal at the estimates of {scenario.estimation.result} with their covariance "
                     "(the free nonlinear parameters and the price coefficient)")
        elif item.distribution == "normal":
            shape = f"mean {values[item.key] if item.mean is None else item.mean:g}, sd {item.sd:g} (truncated to the admissible range)"
        elif item.distribution == "lognormal":
            shape = f"median {values[item.key] if item.median is None else item.median:g}, log sd {item.log_sd:g}"
        elif item.distribution == "uniform":
            shape = f"[{item.low:g}, {item.high:g}]"
        else:
            shape = f"[{item.low:g}, {item.mode:g}, {item.high:g}]"
        out.append({"key": item.key, "central": values[item.key], "distribution": item.distribution,
                    "summary": shape, "source": item.source})
    return out


def simulate_with_draws(scenario: Scenario, draws: int, seed: int | None, options: RunOptions, console,
                        progress: Callable[[int, int], None] | None = None, market: MarketModel | None = None
                        ) -> tuple[dict[str, Any], list[tuple[str, dict[str, Any]]]]:
    """The central result of each variant and, with ``draws``, the bands of every change.
    ``progress(done, total)``, when given, is told of the draws instead of a progress bar on ``console``
    (the web app's jobs: an exception it raises stops the run, which stays unfinished in the store).
    ``market``: the scenario's market (``market_for``) when the caller keeps it in memory (the web app)."""
    if draws and not scenario.uncertainty.inputs:
        raise ValueError(f"scenario {scenario.name} has no uncertain inputs: add an 'uncertainty' section "
                         "(see the ford-byd-jv scenario) to use --draws")
    if draws * (1 + len(scenario.variants)) > MAX_EVALUATIONS:
        raise ValueError(f"--draws {draws} for up to {1 + len(scenario.variants)} runs (the scenario and its variants): at most "
                         f"{MAX_EVALUATIONS:,} evaluations (autopact.data.inputs.MAX_EVALUATIONS)")
    seed = scenario.uncertainty.seed if seed is None else seed
    try:
        check_seed(seed, "--seed")
    except ValueError as error:
        raise ScenarioError(str(error)) from None
    if not draws and (market is not None or market_cached(scenario, options.households, options.household_seed)):
        # a run of about a second: the store opened once, before the work (so checked), and written at its end
        options.check()
        with Store.held(options.store) as store:
            return _simulate_stored(scenario, draws, seed, options, console, progress, store, market)
    store = _existing_store(options, jobs=bool(draws))
    estimated = market if market is not None else _estimated(scenario, options)
    store = _open(options, jobs=bool(draws)) if store is None else store
    return _simulate_stored(scenario, draws, seed, options, console, progress, store, estimated)


def _simulate_stored(scenario: Scenario, draws: int, seed: int, options: RunOptions, console,
                     progress: Callable[[int, int], None] | None, store: Store, market: MarketModel | None
                     ) -> tuple[dict[str, Any], list[tuple[str, dict[str, Any]]]]:
    """``simulate_with_draws`` once its results store is open: the central results, the draws, the bands."""
    market, runs = _central(scenario, options, console, market)
    jobs = []
    estimates = _estimates(scenario, market) if draws else None
    for point, (_, variant, _, _) in enumerate(runs):
        values = centrals(variant) if draws else {}  # the inputs' values are for the draws (checked already)
        for d in range(draws):
            drawn = draw_values(variant.uncertainty, values, d, seed, estimates)
            definition, targets, assumptions, drawn_estimates = apply(variant, drawn)
            jobs.append(Job(point, d, definition, targets, assumptions, drawn, drawn_estimates))
    shared = _shared(scenario, market, options, runs, draws) if draws else None
    definition = json.dumps(scenario.model_dump(mode="json"), sort_keys=True)
    bar = _progress(console, f"{scenario.name}: draws") if draws and progress is None else nullcontext(progress)
    # without draws, storing the run is a few quick writes: one connection to the store for them all
    with bar as progress, store.session() if not draws else nullcontext(store):
        run_id, records = run_jobs(store, "simulate", scenario.name, definition, {**options.key(), "draws": draws, "seed": seed},
                                   seed, jobs, shared, {k: label for k, (label, *_) in enumerate(runs)},
                                   **options.backend(), progress=progress,
                                   on_start=console.print, central=[_record(k, doc) for k, (*_, doc) in enumerate(runs)])
    console.print(f"stored as run {run_id} in {store.path} (autopact runs show {run_id})", highlight=False)
    results = []
    for point, (label, variant, _, doc) in enumerate(runs):
        doc["run_id"] = run_id
        if draws:
            mine = [r for r in records if r["point"] == point and r["draw"] >= 0]
            ok = [r for r in mine if r["status"] == "ok"]
            doc["bands"] = bands([r["change"] for r in ok])
            doc["uncertainty"] = {"draws": len(mine), "failed": len(mine) - len(ok), "seed": seed,
                                  "recalibration": options.recalibration, "run_id": run_id,
                                  "inputs": describe_inputs(variant),
                                  "failures": [{"draw": r["draw"], "error": r["error"]} for r in mine if r["status"] != "ok"],
                                  "band_definition": "5th, 50th and 95th percentiles across draws of each change",
                                  "central_definition": CENTRAL_NOTE}
        results.append((label, doc))
    document = results[0][1] if len(results) == 1 else {
        **results[0][1], "variants": [{"variant": label, **r} for label, r in results],
        "ranking": rank_partnerships(results)}
    return document, results


def sensitivity(scenario: Scenario, outcomes: list[str] | None, options: RunOptions, console,
                progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """One-at-a-time sensitivity: each uncertain input at its 5th and its 95th percentile, the others
    at their own values; a tornado per outcome (per variant). ``progress(done, total)``: as for
    ``simulate_with_draws`` (the web app's jobs)."""
    if not scenario.uncertainty.inputs:
        raise ValueError(f"scenario {scenario.name} has no uncertain inputs: add an 'uncertainty' section")
    for outcome in outcomes or []:  # before any work
        check_outcome(outcome)
    store = _existing_store(options, jobs=True)
    estimated = _estimated(scenario, options)
    store = _open(options, jobs=True) if store is None else store
    market, runs = _central(scenario, options, console, estimated)
    outcomes = outcomes or default_outcomes(runs[0][1])
    for outcome in outcomes:  # fail before the long part on an unknown outcome
        leaf(runs[0][3]["change"], outcome)
    jobs, plans = [], []
    for point, (_, variant, _, _) in enumerate(runs):
        plan = sensitivity_plan(variant.uncertainty, centrals(variant))
        plans.append(plan)
        for m, (key, low, high) in enumerate(plan):
            for side, value in ((0, low), (1, high)):
                definition, targets, assumptions, _ = apply(variant, {key: value})
                jobs.append(Job(point, 2 * m + side, definition, targets, assumptions, {key: value}))
    if not jobs:
        raise ValueError(f"scenario {scenario.name}: sensitivity moves one input at a time, and its only input is "
                         "drawn jointly (estimate: demand); use --draws for its bands")
    shared = _shared(scenario, market, options, runs)
    definition = json.dumps(scenario.model_dump(mode="json"), sort_keys=True)
    bar = _progress(console, f"{scenario.name}: sensitivity") if progress is None else nullcontext(progress)
    with bar as progress:
        run_id, records = run_jobs(store, "sensitivity", scenario.name, definition,
                                   {**options.key(), "outcomes": outcomes}, scenario.uncertainty.seed, jobs, shared,
                                   {k: label for k, (label, *_) in enumerate(runs)}, **options.backend(),
                                   progress=progress, on_start=console.print,
                                   central=[_record(k, doc) for k, (*_, doc) in enumerate(runs)])
    by_job = {(r["point"], r["draw"]): r for r in records}
    variants = []
    for point, (label, variant, _, doc) in enumerate(runs):
        plan = plans[point]
        side = [[(by_job.get((point, 2 * m + s)) or {}).get("change") for m in range(len(plan))] for s in (0, 1)]
        variants.append({"variant": label, "central_change": doc["change"],
                         "tornado": tornado(doc["change"], plan, side[0], side[1], outcomes),
                         "inputs": describe_inputs(variant),
                         "failures": [{"draw": r["draw"], "error": r["error"]} for r in records
                                      if r["point"] == point and r["status"] != "ok"]})
    return {"scenario": runs[0][3]["scenario"], "run_id": run_id, "outcomes": outcomes, "variants": variants,
            "assumptions": runs[0][3]["assumptions"],
            "method": "one at a time: each input at its 5th and 95th percentile, all others at their own values"}


def sweep(path: str, options: RunOptions, console, draws: int | None = None,
          progress: Callable[[int, int], None] | None = None,
          loaded: tuple[Any, Scenario, str] | None = None) -> dict[str, Any]:
    """Run a sweep file: every point centrally and with draws; response surfaces per outcome.
    ``loaded``: the sweep, its scenario and its text when the caller read them (the web app's inline
    sweeps: no file); ``progress`` as for ``simulate_with_draws``."""
    from autopact.runs.sweeps import load_sweep, points, surfaces  # here: its models cost a simulate 5-10 ms

    options.check()
    spec, scenario, text = loaded or load_sweep(path)
    if scenario.estimation is not None:
        raise ValueError(f"sweep {spec.name}: sweeps run on the 2025 market; {scenario.name} runs on an estimation result")
    draws = spec.draws if draws is None else draws
    if spec.point_count() * (1 + draws) > MAX_EVALUATIONS:
        raise ValueError(f"sweep {spec.name}: {spec.point_count():,} points x (1 + {draws} draws) evaluations; a run "
                         f"plans at most {MAX_EVALUATIONS:,} (autopact.data.inputs.MAX_EVALUATIONS)")
    if draws and not scenario.uncertainty.inputs:
        raise ValueError(f"sweep {spec.name}: draws need uncertain inputs in scenario {scenario.name}")
    seed = scenario.uncertainty.seed if spec.seed is None else spec.seed
    grid = points(spec, scenario)
    outcomes = spec.outcomes or default_outcomes(grid[0][1])
    store = _open(options, jobs=True)
    with console.status("loading the market and its calibration ..."):
        market = market_for(scenario, options.households, options.household_seed)
    jobs = []
    for point, (_, point_scenario) in enumerate(grid):
        jobs.append(Job(point, -1, point_scenario.model_dump(mode="json")))
        values = centrals(point_scenario) if draws else {}
        for d in range(draws):
            drawn = draw_values(point_scenario.uncertainty, values, d, seed)
            definition, targets, assumptions, _ = apply(point_scenario, drawn)
            jobs.append(Job(point, d, definition, targets, assumptions, drawn))
    inputs = [item for _, point_scenario in grid for item in point_scenario.uncertainty.inputs] if draws else []
    shared = prepare(market, options.households, options.household_seed, inputs, options.recalibration,
                     baseline=solved_baseline(market))
    labels = {k: json.dumps(levers, sort_keys=True) for k, (levers, _) in enumerate(grid)}
    bar = _progress(console, f"sweep {spec.name}") if progress is None else nullcontext(progress)
    with bar as progress:
        run_id, records = run_jobs(store, "sweep", spec.name, text, {**options.key(), "draws": draws, "seed": seed},
                                   seed, jobs, shared, labels, **options.backend(), progress=progress,
                                   on_start=console.print)
    rows, centrals_out, point_bands, table = [], [], [], []
    for point, (levers, _) in enumerate(grid):
        mine = [r for r in records if r["point"] == point]
        central = next((r for r in mine if r["draw"] == -1 and r["status"] == "ok"), None)
        ok = [r["change"] for r in mine if r["draw"] >= 0 and r["status"] == "ok"]
        band = bands(ok) if ok else None
        rows.append(levers)
        centrals_out.append(central["change"] if central else None)
        point_bands.append(band)
        table.append({"point": point, "levers": levers, "status": central["status"] if central else "failed",
                      "change": central["change"] if central else None, "bands": band,
                      "failed_draws": sum(1 for r in mine if r["draw"] >= 0 and r["status"] != "ok"),
                      "errors": [r["error"] for r in mine if r["status"] != "ok"]})
    return {"sweep": spec.model_dump(mode="json"), "scenario": scenario.name, "run_id": run_id, "draws": draws,
            "seed": seed, "outcomes": outcomes, "points": table, "surfaces": surfaces(rows, centrals_out, point_bands, outcomes)}
