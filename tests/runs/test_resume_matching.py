"""``--resume`` finishes only the run it would repeat (audit U11, ``Store.resumable``): the same
scenario definition, options (draws, seed, households, re-calibration) and code version; any change
starts a new run, and a resumed complete run evaluates no job again."""

import io

import pytest
from rich.console import Console

from autopact.policy.scenario import parse_scenario
from autopact.runs import execution
from autopact.runs.analyses import RunOptions, simulate_with_draws
from autopact.runs.store import Store

HOURS = {"parameter": "assembly_hours_per_vehicle", "distribution": "uniform", "low": 30.37, "high": 33.88, "source": "test"}


def _scenario(capacity=150_000):
    return parse_scenario({"name": "resume-matching", "entrants": [
        {"candidate": "byd--dolphin--active-44-9-kwh", "maker": "BYD", "assembly": "own_us_plant", "capacity": capacity}],
        "uncertainty": {"seed": 4, "inputs": [HOURS]}}, "test")


@pytest.fixture()
def counted(monkeypatch):
    """The number of jobs evaluated, counted where every backend evaluates one."""
    calls = []
    evaluate = execution.evaluate
    monkeypatch.setattr(execution, "evaluate", lambda *a, **k: calls.append(1) or evaluate(*a, **k))
    return calls


def _run(store, scenario=None, draws=2, seed=None, resume=True):
    document, _ = simulate_with_draws(scenario or _scenario(), draws, seed, RunOptions(store=store, serial=True, resume=resume),
                                      Console(file=io.StringIO()))
    return document["run_id"]


def test_resume_repeats_only_the_identical_run(tmp_path, counted):
    store = tmp_path / "s.duckdb"
    first = _run(store, resume=False)
    assert len(counted) == 2
    assert _run(store) == first and len(counted) == 2  # complete: nothing evaluated again
    changed = {"seed": _run(store, seed=5), "draws": _run(store, draws=3),
               "definition": _run(store, scenario=_scenario(capacity=160_000))}
    assert len(set(changed.values()) | {first}) == 4, changed  # each a new run
    assert len(counted) == 2 + 2 + 3 + 2
    runs = {r["run_id"]: r for r in Store(store).runs()}
    assert all(runs[r]["status"] == "complete" for r in [first, *changed.values()])
