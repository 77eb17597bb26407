import pytest

from autopact.data import load_market
from autopact.fit.stored_calibration import calibrated_market
from autopact.fit.market import calibrated_model
from autopact.simulate import solve


@pytest.fixture(scope="session")
def market_2025():
    """The calibrated 2025 market (bundled calibration), loaded once for the policy oracles."""
    market = load_market(2025)
    return calibrated_model(market, calibrated_market(market))


@pytest.fixture(scope="session")
def baseline_2025(market_2025):
    """Its solved baseline (scenarios reuse it, as variants do)."""
    return solve(market_2025)


@pytest.fixture(scope="session")
def bundled_results(market_2025, baseline_2025):
    """Every bundled scenario and variant simulated once: (scenario, variant label) -> SimulationResult.
    2025 scenarios run on the session's market and baseline, their fixed point started at the
    baseline prices (the same equilibrium to the solver's tolerance, found faster)."""
    from autopact.policy.scenario import bundled_scenarios, load_scenario
    from autopact.policy.variants import scenario_variants
    from autopact.simulate import simulate

    start = dict(zip(baseline_2025.products["product_id"], baseline_2025.products["price"]))
    results = {}
    for name in sorted(bundled_scenarios()):
        for label, variant in scenario_variants(load_scenario(name)):
            if variant.estimation is not None:
                results[name, label] = simulate(variant)
            else:
                results[name, label] = simulate(variant, market_2025, initial_prices=start, baseline=baseline_2025)
    return results
