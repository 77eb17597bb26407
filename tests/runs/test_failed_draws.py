"""Draws that fail (audit U10): a draw whose solve or exact re-calibration does not converge is stored
as failed with its error, counted, and left out of the bands, which are the percentiles of the other
draws alone; the run still completes."""

import io

import pytest
from rich.console import Console

from autopact.errors import ConvergenceError
from autopact.policy.scenario import parse_scenario
from autopact.runs import execution
from autopact.runs.analyses import RunOptions, simulate_with_draws
from autopact.runs.store import Store

ENTRANT = {"candidate": "byd--dolphin--active-44-9-kwh", "maker": "BYD", "assembly": "own_us_plant"}
HOURS = {"parameter": "assembly_hours_per_vehicle", "distribution": "uniform", "low": 30.37, "high": 33.88, "source": "test"}


def _run(tmp_path, inputs, draws=3, **options):
    scenario = parse_scenario({"name": "failing-draws", "entrants": [ENTRANT],
                               "uncertainty": {"seed": 4, "inputs": inputs}}, "test")
    store = tmp_path / "s.duckdb"
    document, _ = simulate_with_draws(scenario, draws, None, RunOptions(store=store, serial=True, **options),
                                      Console(file=io.StringIO()))
    return document, [r for r in Store(store).records(document["run_id"]) if r["draw"] >= 0], Store(store)


def test_a_draw_that_does_not_converge_is_stored_as_failed_and_left_out_of_the_bands(tmp_path, monkeypatch):
    solve, calls = execution.simulate, []

    def second_fails(*args, **kwargs):  # serial draws run in order: the second call is draw 1
        calls.append(1)
        if len(calls) == 2:
            raise ConvergenceError("did not converge in the test")
        return solve(*args, **kwargs)

    monkeypatch.setattr(execution, "simulate", second_fails)
    document, records, store = _run(tmp_path, [HOURS])
    status = {r["draw"]: r["status"] for r in records}
    assert status == {0: "ok", 1: "failed", 2: "ok"}
    assert next(r for r in records if r["draw"] == 1)["error"] == "did not converge in the test"
    u = document["uncertainty"]
    assert (u["draws"], u["failed"]) == (3, 1) and u["failures"] == [{"draw": 1, "error": "did not converge in the test"}]
    ok = [r["change"]["total_units"] for r in records if r["status"] == "ok"]
    low, high = sorted(ok)  # two draws: numpy's linear percentiles lie on the segment between them
    band = document["bands"]["total_units"]
    assert band["p05"] == pytest.approx(low + 0.05 * (high - low), rel=1e-12)
    assert band["p50"] == pytest.approx((low + high) / 2, rel=1e-12)
    assert band["p95"] == pytest.approx(low + 0.95 * (high - low), rel=1e-12)
    assert low != high and store.runs()[0]["status"] == "complete"


def test_an_exact_recalibration_that_does_not_converge_fails_its_draw_with_the_optimiser_message(tmp_path, monkeypatch):
    class NotConverged:
        optimizer = {"success": False, "message": "stopped at the test's limit"}

    monkeypatch.setattr(execution, "calibrate", lambda *args, **kwargs: NotConverged())
    target = {"target": "own_elasticity_nissan_sentra", "distribution": "uniform", "low": -6.6, "high": -6.0,
              "source": "test"}
    document, records, _ = _run(tmp_path, [target], draws=2, recalibration="exact")
    assert [r["status"] for r in records] == ["failed", "failed"]
    assert all(r["error"] == "re-calibration did not converge: stopped at the test's limit" for r in records)
    assert document["uncertainty"]["failed"] == 2
    assert document["bands"] == {}  # no draw to take percentiles of
