"""A run that reads its market from the disk cache (``autopact.data.cache``) writes the document a
run that computes the market writes, to the bit: the cached market, its launch gaps, its solved
baseline and the scenario's solved equilibrium are the objects the computation returned. A warm
run loads no data, calibrates nothing, fits no launch gap and solves nothing."""

import io
import json

from rich.console import Console

from autopact import simulate as pipeline
from autopact.policy import launch
from autopact.policy.scenario import load_scenario
from autopact.runs.analyses import RunOptions, simulate_with_draws

SCENARIO = "chinese-imports-mfn"  # entrants: their launch term reads the launch gaps


def document(tmp_path, name: str) -> str:
    """What ``autopact simulate SCENARIO --json`` writes, without the run id, as sorted JSON text."""
    doc, _ = simulate_with_draws(load_scenario(SCENARIO), 0, None, RunOptions(store=tmp_path / f"{name}.duckdb"),
                                 Console(file=io.StringIO()))
    doc.pop("run_id")
    return json.dumps(doc, sort_keys=True, default=str)


def test_a_cached_market_gives_the_computed_document_to_the_bit(tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOPACT_CACHE", "off")
    computed = document(tmp_path, "off")
    monkeypatch.setenv("AUTOPACT_CACHE", str(tmp_path / "cache"))
    cold = document(tmp_path, "cold")
    assert len(list((tmp_path / "cache").glob("calibrated-market-*.pickle"))) == 1

    def no_work(*_, **__):
        raise AssertionError("a cached market was loaded, calibrated or measured again")

    solved = []
    solve = pipeline.solve
    monkeypatch.setattr(pipeline, "load_market", no_work)
    monkeypatch.setattr(pipeline, "calibrated_market", no_work)
    monkeypatch.setattr(launch, "reentry_prediction", no_work)
    monkeypatch.setattr(pipeline, "solve", lambda market, *rest: solved.append(market) or solve(market, *rest))
    warm = document(tmp_path, "warm")
    assert solved == []  # the baseline came with the market, the scenario's equilibrium from its entry
    assert len(list((tmp_path / "cache").glob("solved-state-*.pickle"))) == 1  # the cold run's, read by the warm
    assert computed == cold == warm


def test_each_call_gets_a_market_of_its_own(tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOPACT_CACHE", str(tmp_path / "cache"))
    scenario = load_scenario("baseline-2025")
    first = pipeline.market_for(scenario)
    first.products.loc[0, "name"] = "changed by a caller"
    first.cache["baseline"].products.loc[0, "price"] = -1.0
    second = pipeline.market_for(scenario)
    assert second.products.loc[0, "name"] != "changed by a caller"
    assert second.cache["baseline"].products.loc[0, "price"] > 0
    assert {"launch_gaps", "baseline"} <= set(second.cache)
