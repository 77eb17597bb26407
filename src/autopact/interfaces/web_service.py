"""What the web app does, without HTTP: resolve a scenario request, run it centrally, keep results,
read stored runs, render a result as JSON, CSV or the HTML report.

A central run is exactly ``autopact simulate --json``'s: ``runs.analyses.simulate_with_draws`` with no
draws, stored in the results store, and its document passed through ``finite_document``. The
calibrated market and its solved 2025 baseline are loaded once per process (``warm``) and stay in
memory (``simulate.market_for`` keeps them), so a run costs its own solve and store writes. Solves
take one lock (``compute``): the machine's cores are few and the market's caches are shared, so
runs queue instead of competing; a request that cannot get the lock within ``wait_s`` is answered
"busy" by the API.
"""

from __future__ import annotations

import csv
import io
import json
import threading
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from autopact.data.inputs import shown
from autopact.errors import ScenarioError
from autopact.fit.saved import BUNDLED as BUNDLED_ESTIMATIONS
from autopact.outcomes.definitions import HEADLINE
from autopact.policy.scenario import Scenario, bundled_scenarios, load_scenario, parse_scenario
from autopact.runs.store import Store, StoreError


MARKETS = 4  # calibrated markets kept in memory (about 5 MB each)


class Busy(RuntimeError):
    """The server is at its cap of concurrent runs or jobs: try again later."""


class Quiet:
    """A console that shows nothing: the runs' status lines and messages have no terminal here."""

    def print(self, *_: Any, **__: Any) -> None:
        return None

    @contextmanager
    def status(self, *_: Any, **__: Any) -> Iterator["Quiet"]:
        yield self

    def update(self, *_: Any, **__: Any) -> None:
        return None


@dataclass
class Settings:
    """How the server runs: where results are stored, its limits, its token and mode."""

    store: Path | None = None
    token: str | None = None
    read_only: bool = False
    max_jobs: int = 1  # background jobs (draws) at once
    max_waiting: int = 32  # central runs queued for the solver at once; beyond: busy
    wait_s: float = 120.0  # how long a central run waits for the solver before the answer is busy
    max_body_bytes: int = 256 * 1024
    rate_per_minute: int = 600  # requests a minute per client address
    max_draws: int = 500
    kept_results: int = 64  # result documents kept in memory, newest first
    warm: bool = True  # load the market at start-up


@dataclass
class Service:
    settings: Settings
    compute: threading.Lock = field(default_factory=threading.Lock)
    _waiting: int = 0
    _count_lock: threading.Lock = field(default_factory=threading.Lock)
    _results: OrderedDict = field(default_factory=OrderedDict)
    _results_lock: threading.Lock = field(default_factory=threading.Lock)

    _markets: OrderedDict = field(default_factory=OrderedDict)

    def warm(self) -> None:
        """Load the calibrated 2025 market and solve its baseline now, not on the first request."""
        self.market(Scenario(name="baseline"))

    def market(self, scenario: Scenario, households: int = 1000, household_seed: int = 0):
        """The calibrated market a scenario runs on, with its solved baseline, kept in memory (the last
        ``MARKETS`` of them: one per data year and market assumptions); None for a market of an
        estimation (loaded by the run). Called under the solver lock."""
        from autopact.simulate import market_for, solved_baseline

        if scenario.estimation is not None:
            return None
        key = json.dumps([scenario.year, scenario.assumptions, households, household_seed], sort_keys=True, default=repr)
        if key not in self._markets:
            market = market_for(scenario, households, household_seed)
            solved_baseline(market)
            self._markets[key] = market
            while len(self._markets) > MARKETS:
                self._markets.popitem(last=False)
        self._markets.move_to_end(key)
        return self._markets[key]

    @contextmanager
    def solver(self) -> Iterator[None]:
        """Hold the solver; ``Busy`` when too many runs wait already or the wait runs out."""
        with self._count_lock:
            if self._waiting >= self.settings.max_waiting:
                raise Busy(f"busy: {self._waiting} runs are waiting for the solver (cap {self.settings.max_waiting}); "
                           "try again shortly")
            self._waiting += 1
        try:
            if not self.compute.acquire(timeout=self.settings.wait_s):
                raise Busy(f"busy: the solver stayed occupied for {self.settings.wait_s:g} s (a background job may be "
                           "running); try again later")
            try:
                yield
            finally:
                self.compute.release()
        finally:
            with self._count_lock:
                self._waiting -= 1

    def scenario(self, name: str | None, document: dict[str, Any] | None) -> Scenario:
        """The scenario of a request: a bundled name or an inline document (never a path); ScenarioError naming
        the field otherwise."""
        if (name is None) == (document is None):
            raise ScenarioError("scenario: give exactly one of 'scenario' (a bundled name) and 'document' (a scenario)")
        if name is not None:
            if name not in bundled_scenarios():
                raise ScenarioError(f"scenario: no bundled scenario named {shown(name)}; bundled: "
                                    f"{', '.join(sorted(bundled_scenarios()))}")
            return load_scenario(name)  # a bundled name only (checked above): never a client's path
        scenario = parse_scenario(document, "document")
        if scenario.estimation is not None and scenario.estimation.result not in BUNDLED_ESTIMATIONS:
            # a saved result is a file: a document sent to the server may name a bundled estimation only
            raise ScenarioError(f"document: estimation.result: {shown(scenario.estimation.result)} is not a bundled "
                                f"estimation ({', '.join(BUNDLED_ESTIMATIONS)}); a saved result's file runs with the CLI")
        return scenario

    def run(self, scenario: Scenario, draws: int = 0, seed: int | None = None, progress: Any = None) -> dict[str, Any]:
        """``autopact simulate --json`` for ``scenario`` (with ``draws``: its bands too), stored; the document."""
        from autopact.outcomes.document import finite_document
        from autopact.runs.analyses import RunOptions, simulate_with_draws

        options = RunOptions(store=self.settings.store, serial=True)
        document, _ = simulate_with_draws(scenario, draws, seed, options, Quiet(), progress=progress,
                                          market=self.market(scenario))
        document = finite_document(document)
        self.keep(document)
        return document

    def keep(self, document: dict[str, Any]) -> None:
        with self._results_lock:
            self._results[document["run_id"]] = document
            self._results.move_to_end(document["run_id"])
            while len(self._results) > self.settings.kept_results:
                self._results.popitem(last=False)

    def store(self) -> Store:
        """The results store: read-only (and never created) in read-only mode."""
        return Store(self.settings.store, create=not self.settings.read_only, wait=10.0)

    def runs(self, limit: int) -> list[dict[str, Any]]:
        try:
            rows = self.store().runs(limit)
        except StoreError as error:
            if self.settings.read_only and "no results store" in str(error):
                return []
            raise
        return [{**r, "created_at": str(r["created_at"])} for r in rows]

    def result(self, run_id: str) -> dict[str, Any]:
        """The result document of run ``run_id``: kept in memory, else rebuilt from the store
        (``runs.stored``). ``StoreError`` when there is no such simulate run."""
        from autopact.outcomes.document import finite_document
        from autopact.runs.stored import stored_document

        with self._results_lock:
            if run_id in self._results:
                return self._results[run_id]
        store = self.store()
        full = store.run(run_id)["run_id"]  # a unique prefix is enough, as for ``autopact runs show``
        with self._results_lock:
            if full in self._results:
                return self._results[full]
        with self.solver():
            document = finite_document(stored_document(store, full, Quiet(), self.market))
        self.keep(document)
        return document


def result_csv(document: dict[str, Any]) -> str:
    """Every metric of a result (each variant's) as CSV rows: variant, metric path, baseline, scenario, change,
    and the 5th, 50th and 95th percentiles of the change when draws were run."""
    from autopact.runs.uncertainty import flatten

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["variant", "metric", "unit", "baseline", "scenario", "change", "change_p05", "change_p50",
                     "change_p95"])
    units = {m.key: m.unit for m in HEADLINE}
    for label, r in [(v["variant"], v) for v in document.get("variants", [])] or [("", document)]:
        base, scenario, change = flatten(r["baseline"]), flatten(r["counterfactual"]), flatten(r["change"])
        band = {path[:-1] + (path[-1],): v for path, v in flatten(r.get("bands") or {}).items()}
        for path in change:
            key = "/".join(path)
            quantiles = [band.get(path + (q,)) for q in ("p05", "p50", "p95")]
            writer.writerow([label, key, units.get(key, ""), _cell(base.get(path)), _cell(scenario.get(path)),
                             _cell(change[path]), *map(_cell, quantiles)])
    return buffer.getvalue()


def _cell(value: float | None) -> str:
    return "" if value is None else repr(float(value))


def result_report(document: dict[str, Any]) -> str:
    from autopact.interfaces.report import html_report

    return html_report(document)


def document_json(document: dict[str, Any]) -> str:
    return json.dumps(document, default=str, allow_nan=False)
