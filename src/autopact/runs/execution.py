"""Running many scenario evaluations (draws, sensitivity runs, sweep points), serially or on Dask.

A ``Job`` is one evaluation: a validated scenario definition (policy-parameter draws already
written into it), calibration-target and market-assumption overrides (which re-calibrate demand)
and the drawn input values for the record. ``Shared`` is what every job reads and nobody changes:
the market (``MarketModel``, with its calibration), its solved baseline, the target-response
matrix for first-order re-calibration and the warm-start prices. On Dask, ``Shared`` is scattered to every worker once and jobs travel in
chunks, so the calibrated market crosses the network once per worker, not once per draw.

Every job's result depends only on (Shared, Job): warm starts come from ``Shared`` (never from
a previous job) and draws from (seed, draw), so serial, local-cluster and remote runs agree to
the bit. A job whose equilibrium fails to converge returns status "failed" with the solver's
message; it is stored and counted, never turned into a number.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from autopact.data import load_market
from autopact.data.schema import MarketDataError
from autopact.errors import ConvergenceError, EstimationError
from autopact.fit.calibration import calibrate, load_targets
from autopact.fit.recalibration import linear_recalibration, stored_parameter_response
from autopact.fit.estimated import estimated_market
from autopact.fit.market import MarketModel, calibrated_model
from autopact.outcomes.state import State
from autopact.policy.levers import DEMAND_KEY
from autopact.policy.scenario import Scenario
from autopact.runs.store import new_run_id
from autopact.simulate import NewtonStart, simulate

Recalibration = Literal["linear", "exact"]


@dataclass(frozen=True)
class Job:
    point: int  # sweep point or scenario variant
    draw: int  # -1: the central run (no input drawn)
    scenario: dict[str, Any]
    targets: dict[str, float] = field(default_factory=dict)
    assumptions: dict[str, Any] = field(default_factory=dict)
    inputs: dict[str, float] = field(default_factory=dict)
    estimates: dict[str, float] = field(default_factory=dict)  # estimated parameters drawn (estimated markets)


@dataclass
class Shared:
    market: MarketModel  # the market every job starts from (the calibrated 2025 one, or an estimated one)
    households: int
    household_seed: int
    response: tuple[list[str], Any] | None = None  # recalibration.parameter_response, for linear re-calibration
    recalibration: Recalibration = "linear"
    warm_prices: dict[int, dict[str, float]] = field(default_factory=dict)  # point -> product_id -> price
    baseline: State | None = None  # solve(market), for the jobs that keep the market as it is
    newton: dict[int, NewtonStart] = field(default_factory=dict)  # point -> its central result's Newton matrix


def evaluate(shared: Shared, job: Job) -> dict[str, Any]:
    """Solve one job (``autopact.simulate.simulate``): baseline and counterfactual metrics, their
    difference and solver facts. A job that draws calibration targets or market assumptions
    re-calibrates the market; one that draws estimates rebuilds the estimated market."""
    # the job's own inputs are drawn already: its scenario's uncertainty block (validated with the run,
    # a quarter of a cost draw's validation: centrals, domains) plays no part in solving it
    scenario = Scenario.model_validate({k: v for k, v in job.scenario.items() if k != "uncertainty"})
    record: dict[str, Any] = {"point": job.point, "draw": job.draw, "inputs": job.inputs}
    market, baseline = shared.market, shared.baseline
    try:
        if job.estimates:
            market, baseline = estimated_market(scenario.estimation, market.estimation, overrides=job.estimates), None
        elif job.targets or job.assumptions:
            market, baseline = _recalibrated(shared, job, scenario), None
            record["calibration"] = market.calibration.parameters
        result = simulate(scenario, market, initial_prices=shared.warm_prices.get(job.point), baseline=baseline,
                          newton=shared.newton.get(job.point))
    except (ConvergenceError, EstimationError, AssumptionRefused) as error:
        return {**record, "status": "failed", "error": str(error)}
    return {**record, **result.outcome()}


class AssumptionRefused(ValueError):
    """A draw's market assumptions that the data refuse (e.g. a market smaller than its own units): the
    draw fails alone, stored and counted, as a draw that does not converge does."""


def _recalibrated(shared: Shared, job: Job, scenario: Scenario) -> MarketModel:
    """The market re-calibrated to the job's targets and market assumptions: to first order
    (``linear_recalibration``) or exactly, from the shared calibration."""
    data = shared.market.data
    if job.assumptions:
        try:
            data = load_market(scenario.year, assumptions={**scenario.assumptions, **job.assumptions})
        except MarketDataError as error:
            raise AssumptionRefused(f"drawn market assumptions {job.assumptions}: {error}") from None
    targets = load_targets()
    for name, value in job.targets.items():
        targets.loc[targets["name"] == name, "value"] = value
    base = shared.market.calibration
    # the central mean utilities start the inversion where the products are the central market's
    # (about half the Newton steps of a start at the logit closed form)
    near = base.delta if data is shared.market.data else None
    if shared.recalibration == "linear" and shared.response is not None:
        if job.targets and not len(shared.response[0]):
            raise RuntimeError(f"job {job.point}/{job.draw} draws targets {sorted(job.targets)} but the run formed "
                               "no response matrix (prepare was given no target input)")
        theta = linear_recalibration(base, shared.response, targets)
        cal = calibrate(data, targets=targets, fixed=theta, draws=shared.households, seed=shared.household_seed,
                        form=base.form, initial_delta=near)
        cal.optimizer = {**cal.optimizer, "recalibration": "linear"}
        return calibrated_model(data, cal)
    fit_near = base.fit_state()[1] if near is not None else near  # the fit's households' mean utilities
    cal = calibrate(data, targets=targets, draws=shared.households, seed=shared.household_seed, start=base.parameters,
                    form=base.form, initial_delta=fit_near, fit_draws=base.fit_draws)
    if not cal.optimizer["success"]:
        raise ConvergenceError(f"re-calibration did not converge: {cal.optimizer['message']}")
    return calibrated_model(data, cal)


def evaluate_chunk(shared: Shared, jobs: list[Job]) -> list[dict[str, Any]]:
    """Evaluate jobs with BLAS held to one thread: a multi-threaded matrix product may add in another
    order, so fixing the thread count is what makes every backend agree to the bit."""
    with blas_controller().limit(limits=1, user_api="blas"):
        return [evaluate(shared, job) for job in jobs]


_CONTROLLER: list[Any] = []  # (modules loaded when it was made, threadpoolctl.ThreadpoolController)


def blas_controller() -> Any:
    """This process's ``threadpoolctl.ThreadpoolController``, made again only when modules were
    imported since (a new extension module may have loaded another BLAS). ``threadpool_limits``
    lists the loaded libraries afresh at every call (about 1.4 ms here, each serial draw paid it);
    ``controller.limit`` then costs about 10 us."""
    import sys

    from threadpoolctl import ThreadpoolController

    loaded = len(sys.modules)
    if not _CONTROLLER or _CONTROLLER[0] != loaded:
        _CONTROLLER[:] = [loaded, ThreadpoolController()]
    return _CONTROLLER[1]


_SHARED: dict[str, Shared] = {}  # per worker process: the unpickled Shared of each run, by token


def evaluate_remote(blob: bytes, token: str, jobs: list[Job]) -> list[dict[str, Any]]:
    """``evaluate_chunk`` on a Dask worker. ``Shared`` arrives as one pickled blob, unpickled once
    per worker and run: arrays rebuilt by pickle are aligned and writeable, whereas those Dask
    rebuilds from its frames made every job about a third slower here."""
    import pickle

    if token not in _SHARED:
        _SHARED.clear()
        _SHARED[token] = pickle.loads(blob)
    return evaluate_chunk(_SHARED[token], jobs)


CONNECT_TIMEOUT_S = 20  # how long a remote scheduler may take to answer (what execute gave Dask's Client before)


class SchedulerError(RuntimeError):
    """The Dask scheduler named by ``--scheduler`` cannot be reached."""


def check_scheduler(address: str) -> None:
    """Fail fast, before any work, when the scheduler at ``address`` (``tcp://host:port``) is not
    there: one TCP connection, refused at once or timed out after ``CONNECT_TIMEOUT_S``. Other
    protocols (tls, ucx, inproc) are left to Dask's own connection."""
    import socket

    from distributed.comm.addressing import parse_address, parse_host_port

    try:
        protocol, location = parse_address(address)
        if protocol != "tcp":
            return
        host, port = parse_host_port(location)
    except (ValueError, TypeError) as error:
        raise SchedulerError(f"--scheduler {address}: not a scheduler address (tcp://host:port): {error}") from None
    try:
        socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as error:
        raise SchedulerError(f"--scheduler {address}: no Dask scheduler there: {error.strerror or error}") from None


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))


def execute(shared: Shared, jobs: list[Job], backend: Literal["serial", "dask"] = "dask",
            scheduler: str | None = None, workers: int | None = None, chunk_size: int | None = None,
            on_start: Callable[[str], None] | None = None) -> Iterator[list[dict[str, Any]]]:
    """Evaluate ``jobs``; yields lists of results as chunks finish (any order).

    ``backend="serial"`` runs them here in order. ``"dask"`` sends them to the cluster at
    ``scheduler`` (``tcp://host:8786``) or to a new local cluster of ``workers`` single-threaded
    processes (default: the machine's cores), scattering ``shared`` once to every worker.
    """
    if not jobs:
        return
    if backend == "serial":
        for job in jobs:
            yield evaluate_chunk(shared, [job])
        return
    import pickle
    import uuid

    import dask
    from dask.distributed import Client, LocalCluster, as_completed

    cluster = None
    if scheduler:
        try:
            client = Client(scheduler, timeout=f"{CONNECT_TIMEOUT_S}s")
        except (OSError, ValueError, TypeError) as error:  # unreachable, timed out, or not an address
            raise SchedulerError(f"--scheduler {scheduler}: no Dask scheduler answered: {' '.join(str(error).split())}") from None
    else:
        # Dask sets MALLOC_TRIM_THRESHOLD_ in its workers, which makes glibc map and unmap every large
        # temporary array: the equilibrium's (households x products) arrays then cost page faults on
        # each evaluation. Our local workers keep glibc's default and one BLAS thread each.
        # Workers import the models while they start (``WORKER_PRELOAD``), not in their first job, and do
        # not run Dask's statistical profiler (a thread sampling the job's stack every 10 ms, taking
        # the interpreter's lock from it: the dashboard's profile, which a local run has no use for).
        with dask.config.set({"distributed.nanny.pre-spawn-environ": {
                "OMP_NUM_THREADS": 1, "MKL_NUM_THREADS": 1, "OPENBLAS_NUM_THREADS": 1},
                "distributed.worker.profile.enabled": False}):
            cluster = LocalCluster(n_workers=workers or default_workers(), threads_per_worker=1, processes=True,
                                   dashboard_address=None, silence_logs=40, preload=worker_preload(shared))
        client = Client(cluster)
    try:
        if on_start:
            on_start(f"Dask: {len(client.scheduler_info()['workers'])} workers at {client.scheduler.address}")
        n_workers = max(1, len(client.scheduler_info()["workers"]))
        # each worker makes its own demand over the jobs' products: a pickled market leaves it out
        # (``fit.market.PROCESS_CACHE``)
        blob = pickle.dumps(shared, protocol=pickle.HIGHEST_PROTOCOL)
        payload = client.scatter(blob, broadcast=True)
        token = uuid.uuid4().hex
        futures = [client.submit(evaluate_remote, payload, token, jobs[part], pure=False)
                   for part in chunks(len(jobs), n_workers, chunk_size)]
        for future in as_completed(futures):
            yield future.result()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


# What a local Dask worker imports as it starts: this module (the models) and the draws' kernel
# (``simulate.draw_kernel``), whose import of scipy.sparse took 0.25-0.37 s (load 5) of each worker's
# first job; a serial run imports it at its first draw, and ``autopact simulate`` without draws never.
WORKER_PRELOAD = [__name__, "autopact.model.sorted_kernel"]


def worker_preload(shared: Shared) -> list[str]:
    """``WORKER_PRELOAD``, and where the jobs solve on numba's compiled map (``NewtonStart.compiled``)
    ``autopact.model.draw_map``, whose Dask hook loads the compiled loops as a worker starts."""
    compiled = any(start.compiled for start in shared.newton.values())
    return WORKER_PRELOAD + (["autopact.model.draw_map"] if compiled else [])


MAX_CHUNK = 8  # jobs a Dask task takes at most: results are stored, and progress shown, as chunks land


def chunks(count: int, workers: int, size: int | None = None) -> list[slice]:
    """The Dask tasks of ``count`` jobs on ``workers`` workers: chunks of ``size`` jobs where given, else
    guided (Polychronopoulos and Kuck 1987): each chunk half the jobs left per worker, at most
    ``MAX_CHUNK``, so that the last chunks are single jobs and no worker waits long for another's
    last chunk (chunks of 8 left one of 2 workers idle for up to 8 draws at the end of a run),
    while the many chunks before them keep Dask's per-task cost small."""
    if workers < 1 or (size is not None and size < 1):
        raise ValueError(f"chunks: workers must be at least 1 and size None or at least 1, got workers={workers}, "
                         f"size={size}")
    parts, start = [], 0
    while start < count:
        step = size or min(MAX_CHUNK, -(-(count - start) // (2 * workers)))
        parts.append(slice(start, min(count, start + step)))
        start += step
    return parts


def prepare(market: MarketModel, households: int, household_seed: int, uncertain: list | None = None,
            recalibration: Recalibration = "linear", warm_prices: dict[int, dict[str, float]] | None = None,
            baseline: State | None = None, newton: dict[int, NewtonStart] | None = None) -> Shared:
    """``Shared`` for a set of jobs. With linear re-calibration it computes the target-response matrix
    once when an uncertain input is a calibration target (read from the disk cache where a run on the
    same calibration computed it: ``stored_parameter_response``); market assumptions alone take an empty
    one, since theta + (d theta / d t) x 0 is the central parameters. ``newton`` (point ->
    ``runs.draw_start.newton_start`` of its central result) starts each job's solves."""
    market.cache.pop(DEMAND_KEY, None)  # the jobs make their own demand over their products (levers.demand_for)
    kinds = {item.kind for item in uncertain or []}
    response = None
    if recalibration == "linear" and "target" in kinds:  # a pure function of the calibration: once per market
        if "parameter_response" not in market.cache:
            market.cache["parameter_response"] = stored_parameter_response(market.calibration)
        response = market.cache["parameter_response"]
    elif recalibration == "linear" and "assumption" in kinds:
        response = ([], np.zeros((0, len(market.calibration.targets))))
    return Shared(market, households, household_seed, response, recalibration, warm_prices or {}, baseline,
                  newton or {})


def run_jobs(store, kind: str, name: str, definition: str, options: dict[str, Any], seed: int, jobs: list[Job],
             shared: Shared, labels: dict[int, str] | None = None, backend: Literal["serial", "dask"] = "dask",
             scheduler: str | None = None, workers: int | None = None, resume: bool = False,
             progress: Callable[[int, int], None] | None = None,
             on_start: Callable[[str], None] | None = None,
             central: list[dict[str, Any]] | None = None) -> tuple[str, list[dict[str, Any]]]:
    """Run ``jobs`` into ``store`` (with ``resume``, the latest identical run: its missing jobs, none
    when it is complete); returns the run id and all its records in (point, draw) order. ``central``
    records (computed by the caller) are stored first. ``progress(done, total)`` is called as chunks land. The run is claimed
    (``Store.claim``) before its first job is read or written, so a second process resuming the same
    run stops with a clear ``StoreError`` instead of computing and writing the same jobs again."""
    run_id = store.resumable(kind, definition, options) if resume else None
    if run_id is None:
        run_id = new_run_id()
        with store.claim(run_id):
            store.start(kind, name, definition, options, seed, len(jobs) + len(central or []), run_id=run_id)
            return run_id, _run(store, run_id, jobs, shared, labels, backend, scheduler, workers, progress, on_start,
                                central)
    with store.claim(run_id):
        if store.status(run_id) == "complete":
            if on_start:
                on_start(f"run {run_id} is complete already: its stored results stand")
            if progress:
                progress(len(jobs), len(jobs))
            return run_id, store.records(run_id)
        if on_start:
            on_start(f"resuming run {run_id}")
        return run_id, _run(store, run_id, jobs, shared, labels, backend, scheduler, workers, progress, on_start,
                            central)


# Test only, for the crash-resume test (tests/runs/test_runs.py): with this variable set to k, the process ends at
# once, as if killed (``os._exit(137)``: no cleanup, the run not marked complete), as soon as k of the run's jobs
# (its ``Job``s, not its central records) are in the store; each chunk is committed whole, so they are whole jobs.
# Unset, as everywhere outside that test, it does nothing (one environment lookup a run).
TEST_EXIT_AFTER_JOBS = "AUTOPACT_TEST_EXIT_AFTER_JOBS"


def _run(store, run_id: str, jobs: list[Job], shared: Shared, labels: dict[int, str] | None, backend, scheduler,
         workers, progress, on_start, central) -> list[dict[str, Any]]:
    """The jobs of a claimed run that are not in the store yet, written as chunks land; all its records."""
    exit_after = int(os.environ.get(TEST_EXIT_AFTER_JOBS) or 0)
    finished = store.done(run_id)
    missing = [r for r in central or [] if (r["point"], r["draw"]) not in finished]
    if missing:
        store.add(run_id, missing, labels)
    todo = [job for job in jobs if (job.point, job.draw) not in finished]
    done = len(jobs) - len(todo)
    if progress:
        progress(done, len(jobs))
    for records in execute(shared, todo, backend=backend, scheduler=scheduler, workers=workers, on_start=on_start):
        store.add(run_id, records, labels)
        done += len(records)
        if exit_after and done >= exit_after:  # TEST_EXIT_AFTER_JOBS
            os._exit(137)
        if progress:
            progress(done, len(jobs))
    store.finish(run_id)
    return store.records(run_id)
