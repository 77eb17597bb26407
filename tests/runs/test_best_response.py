"""Entrants' equilibrium prices are global best responses (``autopact.runs.best_response``): the
check passes on a solved scenario and catches a price that is only a first-order point or no
optimum at all."""

import dataclasses

import pytest

from autopact.policy.scenario import load_scenario
from autopact.runs.best_response import entrant_best_responses
from autopact.simulate import market_for, simulate


@pytest.fixture(scope="module")
def result():
    return simulate(load_scenario("chinese-imports-mfn"), market_for(load_scenario("baseline-2025")))


def test_the_solved_entrants_are_global_best_responses_and_the_search_finds_their_own_price(result):
    rows = entrant_best_responses(result)
    assert len(rows) == 6 and all(row["global_best_response"] for row in rows)
    for row in rows:  # the bounded search around the best grid point lands on the equilibrium price
        assert row["best_grid_price"] == pytest.approx(row["price"], abs=5.0)
        assert row["best_grid_profit"] == pytest.approx(row["owner_profit"], rel=1e-8)


def test_a_price_that_is_no_best_response_is_caught(result):
    products = result.counterfactual.products.copy()
    j = products.index[products["name"].eq("BYD Seagull")][0]
    products.loc[j, "price"] = products.loc[j, "cost"] * 1.02  # a 2% margin: far below the optimum
    moved = dataclasses.replace(result, counterfactual=dataclasses.replace(result.counterfactual, products=products))
    rows = {row["name"]: row for row in entrant_best_responses(moved)}
    assert not rows["BYD Seagull"]["global_best_response"]
    assert rows["BYD Seagull"]["best_grid_profit"] > rows["BYD Seagull"]["owner_profit"]


def test_entrants_at_a_binding_plant_are_not_checked():
    """ford-byd-jv's JV plant at 20,000 a year, below the 38k its entrants sell unconstrained (78k before the eighth
    session's calibration, when 40,000 bound)."""
    scenario = load_scenario("ford-byd-jv")
    scenario = scenario.model_copy(update={"entrants": [e.model_copy(update={"capacity": 20_000.0})
                                                        for e in scenario.entrants]})
    capped = simulate(scenario, market_for(load_scenario("baseline-2025")))
    assert any(c["binding"] for c in capped.counterfactual.constraints)
    assert entrant_best_responses(capped) == []
