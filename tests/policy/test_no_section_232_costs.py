"""The bundled ``no-section-232`` scenario on the 2025 market: costs and tariffs against hand computations.

The 2025 stack tau_j is inside the calibrated cost c_j (from the FOCs at observed prices) and falls
on the customs value v_j = (c_j - D) / (1 + tau_j) only, D the US distribution cost per vehicle (the
dealer's gross and destination delivery, which pays no tariff: ``fit.market.calibrated_model``,
``test_tariff_oracles``). A 2025 scenario keeps the 2025 customs values (``policy.tariffs``: no
catch-up in the data year), so without Section 232

    c'_j = v_j (1 + tau'_j) + D = (c_j - D) (1 + tau'_j) / (1 + tau_j) + D,

with tau'_j the stack by hand (``hand_tariffs.stack_pct``) at the parameter table with the
scenario file's Section 232 rates, and equally the 2025 stack less its Section 232 layer alone.
A US-built product pays no tariff either way, so its cost does not move.
"""

from pathlib import Path

import numpy as np
import pytest
import yaml

import autopact
from hand_tariffs import parameters, stack_pct
from autopact.policy.scenario import load_scenario
from autopact.simulate import simulate
from test_tariff_oracles import NAMED

D = parameters()["us_dealer_gross_usd_per_vehicle"] + parameters()["us_destination_usd_per_vehicle"]
SECTION_232 = {"section_232_autos_pct", "section_232_eu_all_in_pct", "section_232_japan_all_in_pct",
               "section_232_korea_all_in_pct", "section_232_uk_in_quota_pct"}


def _scenario_parameters() -> dict[str, float]:
    """The parameters the bundled scenario file sets, read from the YAML itself."""
    path = Path(autopact.__file__).parent / "scenarios" / "no-section-232.yaml"
    return {k: float(v) for k, v in yaml.safe_load(path.read_text())["parameters"].items()}


@pytest.fixture(scope="module")
def no_232(market_2025, baseline_2025):
    return simulate(load_scenario("no-section-232"), market_2025, baseline=baseline_2025)


def _row(market, pid):
    return int(np.flatnonzero(market.products["product_id"].eq(pid).to_numpy())[0])


def _rates(weights: dict[str, float], segment: str, powertrain: str) -> tuple[float, float, float]:
    """(tau_2025, tau' at the scenario's parameters, tau_2025 less its Section 232 layer), fractions."""
    before, after = parameters(), {**parameters(), **_scenario_parameters()}
    tau = sum(w * stack_pct(o, segment, powertrain, before) for o, w in weights.items()) / 100
    tau_new = sum(w * stack_pct(o, segment, powertrain, after) for o, w in weights.items()) / 100
    layer = sum(w * stack_pct(o, segment, powertrain, before, section_232_only=True) for o, w in weights.items()) / 100
    return tau, tau_new, tau - layer


def test_the_scenario_file_zeroes_every_section_232_rate_and_nothing_else():
    """The premise of the oracles below: the YAML sets the five Section 232 rates to 0, no other."""
    assert _scenario_parameters() == {name: 0.0 for name in SECTION_232}


@pytest.mark.parametrize("pid", sorted(NAMED))
def test_a_named_products_cost_loses_its_section_232_duty(market_2025, no_232, pid):
    """Oracle: c' = (c_2025 - D) (1 + tau') / (1 + tau_2025) + D with both stacks by hand for the
    product's assembly countries (``NAMED``), tau' computed two ways (the scenario's parameters; the
    2025 stack less its Section 232 layer); the counterfactual's rate is tau' and its revenue tau' v q."""
    j = _row(market_2025, pid)
    segment, powertrain = market_2025.products.at[j, "segment"], market_2025.products.at[j, "powertrain"]
    tau, tau_new, without_layer = _rates(NAMED[pid], segment, powertrain)
    assert tau_new == pytest.approx(without_layer, rel=1e-14, abs=1e-15)  # measured 1e-16
    c_2025 = market_2025.calibration.costs[j]
    row = no_232.counterfactual.products.iloc[j]
    assert row["product_id"] == pid
    assert row["tariff_rate"] == pytest.approx(tau_new, rel=1e-12, abs=1e-15)  # measured exact (0)
    assert row["cost"] == pytest.approx((c_2025 - D) * (1 + tau_new) / (1 + tau) + D, rel=1e-12, abs=0)  # measured 2e-16 at most
    assert row["tariff_revenue"] == pytest.approx(tau_new * (c_2025 - D) / (1 + tau) * row["units"], rel=1e-12, abs=1e-9)  # measured 2e-16
    if NAMED[pid].get("United States", 0.0) < 1.0:
        assert row["cost"] < c_2025 - 100  # an import: the layer was worth more than $100 a vehicle


def test_every_us_built_products_cost_is_unchanged(market_2025, baseline_2025, no_232):
    """Oracle: a product assembled only in the US pays no tariff before or after, so its cost, its
    rate (0) and its tariff revenue (0) stay as in the 2025 baseline."""
    us_built = (market_2025.origin["United States"] == 1.0).to_numpy()
    assert us_built.sum() > 50
    before, after = baseline_2025.products, no_232.counterfactual.products.iloc[:len(us_built)]
    assert (after["product_id"].to_numpy() == before["product_id"].to_numpy()).all()
    np.testing.assert_allclose(after["cost"].to_numpy()[us_built], before["cost"].to_numpy()[us_built], rtol=1e-15, atol=0)  # measured exact (0)
    assert (after["tariff_rate"].to_numpy()[us_built] == 0).all() and (after["tariff_revenue"].to_numpy()[us_built] == 0).all()


def test_every_products_cost_follows_the_hand_stacks(market_2025, no_232):
    """Oracle: the relation above for all 2025 products, each with its assembly shares (the market's
    origin table) and both stacks by hand."""
    products, origin = market_2025.products, market_2025.origin
    expected = np.empty(len(products))
    for j in range(len(products)):
        weights = {o: w for o, w in origin.loc[j].items() if w > 0}
        tau, tau_new, _ = _rates(weights, products.at[j, "segment"], products.at[j, "powertrain"])
        expected[j] = (market_2025.calibration.costs[j] - D) * (1 + tau_new) / (1 + tau) + D
    got = no_232.counterfactual.products["cost"].to_numpy()[:len(products)]
    np.testing.assert_allclose(got, expected, rtol=2e-15, atol=0)  # measured 2e-16
    assert (got <= market_2025.calibration.costs * (1 + 1e-15)).all()
