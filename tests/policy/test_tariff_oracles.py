"""Tariffs on customs value against hand computations (audit #5, #29).

A tariff is levied on the customs value c0, the importer's cost before tariffs and before US
distribution D (the dealer's gross per vehicle, which the FOC cost holds and no tariff falls on). The
2025 stack is inside the calibrated costs c_2025 (from the FOCs at observed prices), so
c0 = (c_2025 - D) / (1 + tau_2025) and under a scenario c' = c0 (1 + tau') + T + D, with revenue
(tau' c0 + T) q. Expected 2025 rates come
from the parameter table the code reads (``hand_tariffs``); the scenario checks use relations that
hold for any rates in that table.
"""

import numpy as np
import pytest

from hand_tariffs import parameters, stack_pct, tariff_parameter_names
from autopact.policy.levers import apply
from autopact.policy.scenario import parse_scenario
from autopact.simulate import simulate

# named products and their listed assembly countries (products_2025.csv), equal weights
NAMED = {
    "subaru--forester--ice": {"Japan": 1.0},
    "toyota--corolla--ice": {"Japan": 0.5, "United States": 0.5},
    "toyota--tacoma--ice": {"Mexico": 1.0},  # a pickup under USMCA: no MFN, Section 232 on non-US content
    "ford--edge--ice": {"Canada": 1.0},
    "polestar--polestar-2--bev": {"China": 1.0},
    "volvo--s90--ice": {"China": 1.0},
    "bmw--i4--bev": {"Germany": 1.0},
    "mercedes-benz--eqe-sedan-suv--bev": {"Germany": 0.5, "United States": 0.5},
    "tesla--model-y--bev": {"United States": 1.0},
}
EXTRA_JAPAN, SPECIFIC_GERMANY = 0.20, 1_000.0
D = parameters()["us_dealer_gross_usd_per_vehicle"] + parameters()["us_destination_usd_per_vehicle"]


def _row(market, pid):
    return int(np.flatnonzero(market.products["product_id"].eq(pid).to_numpy())[0])


def _hand_rate(market, pid, params=None):
    j = _row(market, pid)
    segment, powertrain = market.products.at[j, "segment"], market.products.at[j, "powertrain"]
    return sum(w * stack_pct(o, segment, powertrain, params) for o, w in NAMED[pid].items()) / 100


def _scenario(**fields):
    return parse_scenario({"name": "oracle", **fields}, "test")


@pytest.mark.parametrize("pid", sorted(NAMED))
def test_the_2025_stack_and_the_customs_value_of_named_products(market_2025, baseline_2025, pid):
    """tau_2025 by hand from the parameter table; c0 = c_2025 / (1 + tau_2025) with c_2025 the
    calibration's FOC cost; baseline revenue tau c0 q (measured agreement: exact to 2e-16)."""
    j = _row(market_2025, pid)
    assert market_2025.origin.loc[j][market_2025.origin.loc[j] > 0].to_dict() == pytest.approx(NAMED[pid])
    tau = _hand_rate(market_2025, pid)
    c_2025 = market_2025.calibration.costs[j]
    assert market_2025.products.at[j, "tariff_rate"] == pytest.approx(tau, rel=1e-15, abs=1e-15)
    assert market_2025.products.at[j, "customs_value"] == pytest.approx((c_2025 - D) / (1 + tau), rel=1e-14)
    assert market_2025.products.at[j, "base_cost"] == pytest.approx((c_2025 - D) / (1 + tau) + D, rel=1e-14)
    row = baseline_2025.products.iloc[j]
    assert row["cost"] == pytest.approx(c_2025, rel=1e-14)
    assert row["tariff_revenue"] == pytest.approx(tau * (c_2025 - D) / (1 + tau) * row["units"], rel=1e-14, abs=1e-9)


@pytest.fixture(scope="module")
def extra(market_2025, baseline_2025):
    """+20% on the customs value of Japanese assembly and $1,000 a vehicle on German assembly."""
    scenario = _scenario(extra_tariffs=[{"name": "japan", "origin": ["Japan"], "ad_valorem_pct": 100 * EXTRA_JAPAN},
                                        {"name": "germany", "origin": ["Germany"], "specific_usd": SPECIFIC_GERMANY}])
    return simulate(scenario, market_2025, baseline=baseline_2025)


@pytest.mark.parametrize("pid", sorted(NAMED))
def test_an_extra_tariff_falls_on_the_customs_value_of_named_products(market_2025, extra, pid):
    """c' = c0 (1 + tau_2025 + 0.20 a_Japan) + 1000 a_Germany + D, revenue (tau' c0 + T) q, with
    c0 = (c_2025 - D) / (1 + tau_2025) and a_o the product's assembly share in o."""
    j = _row(market_2025, pid)
    tau = _hand_rate(market_2025, pid)
    c0 = (market_2025.calibration.costs[j] - D) / (1 + tau)
    japan, germany = NAMED[pid].get("Japan", 0.0), NAMED[pid].get("Germany", 0.0)
    tau_new, specific = tau + EXTRA_JAPAN * japan, SPECIFIC_GERMANY * germany
    row = extra.counterfactual.products.iloc[j]
    assert row["product_id"] == pid
    assert row["cost"] == pytest.approx(c0 * (1 + tau_new) + specific + D, rel=1e-14)
    assert row["tariff_revenue"] == pytest.approx((tau_new * c0 + specific) * row["units"], rel=1e-14, abs=1e-9)


def test_an_extra_tariff_on_every_product(market_2025, extra):
    """The same relation on all products, with each product's own 2025 rate (any rates)."""
    tau = market_2025.products["tariff_rate"].to_numpy()
    c0 = (market_2025.calibration.costs - D) / (1 + tau)
    origin = market_2025.origin
    tau_new = tau + EXTRA_JAPAN * origin["Japan"].to_numpy()
    specific = SPECIFIC_GERMANY * origin["Germany"].to_numpy()
    rows = extra.counterfactual.products
    np.testing.assert_allclose(rows["cost"], c0 * (1 + tau_new) + specific + D, rtol=1e-14)
    revenue = (tau_new * c0 + specific) * rows["units"].to_numpy()
    np.testing.assert_allclose(rows["tariff_revenue"], revenue, rtol=1e-13, atol=1e-9)
    assert rows["tariff_revenue"].sum() == pytest.approx(revenue.sum(), rel=1e-14)


@pytest.mark.parametrize("factor", [0.0, 2.0])
def test_every_tariff_rate_scaled_scales_the_wedge(market_2025, factor):
    """Every ad valorem rate of the parameter table times k (0: none; 2: doubled) makes
    c' = c0 (1 + k tau_2025) + D: the stack is linear in the rates and levied on c0 (any rates)."""
    params = parameters()
    scaled = {name: factor * params[name] for name in tariff_parameter_names()}
    cf = apply(_scenario(parameters=scaled), market_2025)
    tau = market_2025.products["tariff_rate"].to_numpy()
    c0 = (market_2025.calibration.costs - D) / (1 + tau)
    np.testing.assert_allclose(cf.costs, c0 * (1 + factor * tau) + D, rtol=1e-14)
    np.testing.assert_allclose(cf.products["tariff_rate"], factor * tau, rtol=1e-14, atol=1e-16)
    # and by hand for the named products, at the scaled parameters
    for pid in NAMED:
        j = _row(market_2025, pid)
        assert cf.costs[j] == pytest.approx(c0[j] * (1 + _hand_rate(market_2025, pid, {**params, **scaled})) + D,
                                            rel=1e-14)
