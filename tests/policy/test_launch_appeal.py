"""The launch-appeal term: the entry back-test's launch errors carried into a scenario's bands
(policy parameter ``launch_appeal_quantile``; ``autopact.policy.launch.launch_spread``)."""

from statistics import NormalDist

import numpy as np
import pytest

from autopact.errors import ScenarioError
from autopact.policy.launch import MIN_CELL_LAUNCHES, appeal_term, band, launch_gaps, launch_spread
from autopact.policy.scenario import bundled_scenarios, load_scenario, parse_scenario
from autopact.simulate import market_for, simulate


@pytest.fixture(scope="module")
def market():
    return market_for(load_scenario("baseline-2025"))


def test_the_spread_is_the_prediction_error_of_the_gaps_the_launch_term_averages_by_hand(market):
    gaps = launch_gaps(market)
    cell = gaps[(gaps["band"] == band(3)) & (gaps["powertrain_class"] == "BEV")]["gap"].to_numpy()
    assert len(cell) >= MIN_CELL_LAUNCHES
    n, mean = len(cell), cell.sum() / len(cell)
    by_hand = (((cell - mean) ** 2).sum() / (n - 1)) ** 0.5 * (1 + 1 / n) ** 0.5
    assert launch_spread(market, 3, "BEV") == pytest.approx(by_hand, rel=1e-12)
    # the first-year ICE cell has fewer than MIN_CELL_LAUNCHES launches: the band's pooled launches
    first = gaps[gaps["band"] == band(1)]["gap"].to_numpy()
    assert launch_spread(market, 1, "ICE") == pytest.approx(np.std(first, ddof=1) * (1 + 1 / len(first)) ** 0.5)


def test_the_central_quantile_adds_exactly_nothing_and_others_add_z_times_the_spread(market):
    assert appeal_term(market, 3, "BEV", 0.5) == 0.0
    spread = launch_spread(market, 3, "BEV")
    assert appeal_term(market, 3, "BEV", 0.95) == pytest.approx(1.6448536269514722 * spread, rel=1e-12)
    assert appeal_term(market, 3, "BEV", 0.05) == pytest.approx(-appeal_term(market, 3, "BEV", 0.95), rel=1e-12)
    for bad in (0.0, 1.0, 1.5):
        with pytest.raises(ValueError, match="strictly between 0 and 1"):
            appeal_term(market, 3, "BEV", bad)


@pytest.mark.parametrize("value", [0, 1, 1.2])
def test_a_quantile_at_or_beyond_the_ends_is_refused_naming_it(value):
    with pytest.raises(ScenarioError, match="launch_appeal_quantile"):
        parse_scenario({"name": "x", "parameters": {"launch_appeal_quantile": value}}, "x.yaml")


def test_an_entrants_mean_utility_moves_by_the_appeal_term_and_its_units_with_it(market):
    scenario = load_scenario("chinese-imports-mfn")
    moved = scenario.model_copy(update={"parameters": {**scenario.parameters, "launch_appeal_quantile": 0.9}})
    base, high = simulate(scenario, market), simulate(moved, market)
    z = NormalDist().inv_cdf(0.9)
    for a, b in zip(base.market.entrant_costs, high.market.entrant_costs):
        assert a["appeal_term"] == 0.0
        assert b["appeal_term"] == pytest.approx(z * launch_spread(market, 3, "BEV"), rel=1e-12)
    entrants = lambda result: result.counterfactual.products.loc[result.market.products["entrant"].fillna(False).to_numpy(bool), "units"].sum()  # noqa: E731
    assert entrants(high) > 1.5 * entrants(base)


def test_every_bundled_entry_scenario_draws_the_launch_appeal():
    for name in bundled_scenarios():
        scenario = load_scenario(name)
        if scenario.entrants or scenario.new_products:
            keys = [i.key for i in scenario.uncertainty.inputs] if scenario.uncertainty else []
            assert "parameter:launch_appeal_quantile" in keys, name


def test_uncertain_inputs_alone_do_not_make_a_scenario_of_variants_run_itself():
    """partner-comparison changes nothing but through its variants; its uncertainty section (the
    launch appeal) must not add a run of the unchanged market as its central case."""
    from autopact.policy.variants import scenario_variants

    labels = [label for label, _ in scenario_variants(load_scenario("partner-comparison"))]
    assert "partner-comparison" not in labels and len(labels) == 5
