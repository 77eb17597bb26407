"""The low-income BEV buyers caveat (``autopact.outcomes.low_income``) on solved scenarios, against the
entrant price decomposition of ``autopact validate`` (another module's buyers and median income)."""

import pytest

import numpy as np

from autopact.outcomes.low_income import efmp_income_limit, low_income_bev_buyers, weighted_median
from autopact.policy.scenario import load_scenario, parse_scenario
from autopact.runs.entrant_pricing import price_decomposition
from autopact.simulate import market_for, simulate


@pytest.fixture(scope="module")
def market():
    return market_for(load_scenario("baseline-2025"))


def test_the_seagull_is_named_with_the_median_income_the_price_decomposition_finds(market):
    result = simulate(load_scenario("ford-byd-jv"), market)
    found = low_income_bev_buyers(result)
    decomposition = {d["name"]: d for d in price_decomposition(result)}
    named = {row["name"]: row for row in found["products"]}
    assert set(named) == {"BYD Seagull"}  # the Dolphin and the Sealion 7 sell to richer buyers
    for name, d in decomposition.items():
        below = d["buyers"]["median_income"] < efmp_income_limit()
        assert (name in named) == below
    assert named["BYD Seagull"]["median_buyer_income_usd"] == pytest.approx(
        decomposition["BYD Seagull"]["buyers"]["median_income"], rel=1e-12)
    assert found["measured_elasticity"] == -2.1 and found["model_elasticity"] < -2.1


def test_no_new_bev_no_caveat(market):
    assert low_income_bev_buyers(simulate(load_scenario("no-section-232"), market)) is None
    cheap_ice = parse_scenario({
        "name": "cheap-ice", "description": "a cheap GM ICE car",
        "new_products": [{"name": "Chevrolet Spark", "firm": "General Motors", "segment": "car", "powertrain": "ICE",
                          "like": "chevrolet--trax--ice", "announced_price_usd": 15000, "price_source": "test"}]}, "t")
    assert low_income_bev_buyers(simulate(cheap_ice, market)) is None  # the evidence is on EVs: an ICE car is not named


def test_the_weighted_median_has_less_than_half_the_weight_below_it_and_half_or_more_at_or_below():
    rng = np.random.default_rng(3)
    for _ in range(50):
        values, weights = rng.lognormal(11, 1, 40), rng.random(40)
        median = weighted_median(values, weights)
        assert weights[values < median].sum() < 0.5 * weights.sum() <= weights[values <= median].sum()
    assert weighted_median(np.array([1.0, 2.0, 3.0]), np.array([0.2, 0.2, 0.6])) == 3.0


def test_a_new_bev_of_an_incumbent_is_named_too(market):
    cheap_bev = parse_scenario({
        "name": "cheap-bev", "description": "a cheap GM BEV",
        "new_products": [{"name": "Chevrolet Bolt", "firm": "General Motors", "segment": "SUV-crossover",
                          "powertrain": "BEV", "like": "chevrolet--trailblazer--ice", "range_miles": 259,
                          "announced_price_usd": 21000, "price_source": "test"}]}, "t")
    found = low_income_bev_buyers(simulate(cheap_bev, market))
    assert [row["name"] for row in found["products"]] == ["Chevrolet Bolt"]
    assert found["products"][0]["buyers_under_limit"] > 0.5
