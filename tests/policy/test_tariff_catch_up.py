"""The 2025 Section 232 duty's catch-up against hand computations (``autopact.policy.tariffs``).

Makers carried only theta (``section_232_2025_pass_through_share``) of the 2025 Section 232 add-on
into 2025's prices. The calibration backs the customs value v_j out of 2025's prices as if they
carried the whole stack tau_j; the true one is v*_j = f_j v_j with
f_j = (1 + tau_j) / (1 + tau_j - (1 - theta) tau^232_j), and a year caught up by k
(``section_232_2025_catch_up_share``; 1 from 2026 by the policy timeline) prices each import on
v_j (1 + k (f_j - 1)). tau_j and tau^232_j are the 2025 rates computed here by hand from the parameter
table (``hand_tariffs``); the 2026 rates of the Japan, Germany and Mexico rows by hand from the deals.
"""

import numpy as np
import pytest

from hand_tariffs import parameters, stack_pct
from autopact.data.timeline import DATA_YEAR
from autopact.policy.dated import at_year
from autopact.policy.levers import apply
from autopact.policy.scenario import Scenario, parse_scenario
from autopact.policy.tariffs import CATCH_UP, PASS_THROUGH
from autopact.simulate import carried
# named products and their listed assembly countries (products_2025.csv), equal weights
NAMED = {
    "subaru--forester--ice": {"Japan": 1.0},
    "toyota--corolla--ice": {"Japan": 0.5, "United States": 0.5},
    "toyota--tacoma--ice": {"Mexico": 1.0},  # USMCA: Section 232 on non-US content, no MFN
    "volvo--s90--ice": {"China": 1.0},  # the stack holds Section 301 and IEEPA; the add-on alone is absorbed
    "bmw--i4--bev": {"Germany": 1.0},
    "tesla--model-y--bev": {"United States": 1.0},
}
P = parameters()
# the 2026 stack by hand: the deals all year (Japan's and the EU's all-in rates on cars, MFN included),
# the general rate on Mexican non-US content (a pickup: USMCA, no MFN)
STACK_2026 = {"subaru--forester--ice": P["section_232_japan_all_in_pct"] / 100,
              "toyota--corolla--ice": 0.5 * P["section_232_japan_all_in_pct"] / 100,
              "toyota--tacoma--ice": P["section_232_autos_pct"] * P["usmca_non_us_content_share"] / 100,
              "bmw--i4--bev": P["section_232_eu_all_in_pct"] / 100, "tesla--model-y--bev": 0.0}
D = P["us_dealer_gross_usd_per_vehicle"] + P["us_destination_usd_per_vehicle"]


def _f(stack, add_on, theta):
    """f_j = (1 + tau_j) / (1 + tau_j - (1 - theta) tau^232_j) (module docstring)."""
    return (1 + stack) / (1 + stack - (1 - theta) * add_on)


def _applied(market, **parameters):
    moved = apply(parse_scenario({"name": "catch-up", "parameters": parameters}, "test"), market, path=False)
    return moved.products.set_index("product_id"), dict(zip(moved.products["product_id"], moved.costs))


def _hand(market, pid):
    j = int(np.flatnonzero(market.products["product_id"].eq(pid).to_numpy())[0])
    segment, powertrain = market.products.at[j, "segment"], market.products.at[j, "powertrain"]
    stack = sum(w * stack_pct(o, segment, powertrain) for o, w in NAMED[pid].items()) / 100
    add_on = sum(w * stack_pct(o, segment, powertrain, section_232_only=True) for o, w in NAMED[pid].items()) / 100
    return j, stack, add_on, market.products.at[j, "customs_value"]


@pytest.mark.parametrize("pid", sorted(NAMED))
def test_a_caught_up_year_prices_imports_on_their_true_customs_value(market_2025, pid):
    """At 2025's rates, k = 1 moves c_j from v_j (1 + tau_j) + d to f_j v_j (1 + tau_j) + d, tau_j and
    tau^232_j by hand (measured: exact to 1e-15 relative); the customs value (so the tariff revenue)
    and the cost before tariffs move with it; k = 0.5 moves v_j halfway; theta = 1 changes nothing."""
    j, stack, add_on, customs = _hand(market_2025, pid)
    theta = P[PASS_THROUGH]
    assert 0 < theta < 1 and market_2025.parameters[CATCH_UP] == 0.0
    f = _f(stack, add_on, theta)
    products, before = _applied(market_2025)
    assert before[pid] == pytest.approx(market_2025.calibration.costs[j], rel=1e-13)  # the data year: none
    products, after = _applied(market_2025, **{CATCH_UP: 1.0})
    assert after[pid] == pytest.approx(f * customs * (1 + stack) + D, rel=1e-13)
    assert products.at[pid, "customs_value"] == pytest.approx(f * customs, rel=1e-13)
    assert products.at[pid, "base_cost"] == pytest.approx(f * customs + D, rel=1e-13)
    products, half = _applied(market_2025, **{CATCH_UP: 0.5, PASS_THROUGH: 0.4})
    f_half = 1 + 0.5 * (_f(stack, add_on, 0.4) - 1)
    assert half[pid] == pytest.approx(f_half * customs * (1 + stack) + D, rel=1e-13)
    assert _applied(market_2025, **{CATCH_UP: 1.0, PASS_THROUGH: 1.0})[1][pid] == before[pid]
    if pid == "tesla--model-y--bev":
        assert after[pid] == before[pid]


@pytest.mark.parametrize("pid", sorted(STACK_2026))
def test_the_2026_rates_fall_on_the_true_customs_value(market_2025, pid):
    """In a year at 2026's rates and k = 1, c_j = f_j v_j (1 + tau_2026,j) + d with f_j of the 2025 rates:
    the catch-up reads the data year's rates, not the year's."""
    j, stack, add_on, customs = _hand(market_2025, pid)
    f = _f(stack, add_on, P[PASS_THROUGH])
    products, cost = _applied(market_2025, **{CATCH_UP: 1.0, "section_232_rate_year": 2026})
    assert products.at[pid, "tariff_rate"] == pytest.approx(STACK_2026[pid], rel=1e-12, abs=1e-15)
    assert cost[pid] == pytest.approx(f * customs * (1 + STACK_2026[pid]) + D, rel=1e-13)


def test_the_timeline_catches_up_from_2026_and_a_carried_market_holds_it_once(market_2025):
    """The data year holds k = 0; the policy timeline sets k = 1 from 1 Jan 2026. A market carried to 2026
    holds the catch-up in its customs values: the 2026 law applied to it again changes no cost."""
    for year in (2026, 2027, 2030):
        assert at_year(Scenario(name="plain"), year).parameters[CATCH_UP] == 1.0
    assert CATCH_UP not in at_year(Scenario(name="plain"), DATA_YEAR).parameters
    moved = carried(market_2025, 2026)
    again = apply(Scenario(name="again", policy_year=2026), moved, path=False)
    np.testing.assert_allclose(again.costs, moved.costs, rtol=1e-13)
    j, stack, add_on, customs = _hand(market_2025, "subaru--forester--ice")
    f = _f(stack, add_on, P[PASS_THROUGH])
    k = int(np.flatnonzero(moved.products["product_id"].eq("subaru--forester--ice").to_numpy())[0])
    assert moved.products.at[k, "customs_value"] == pytest.approx(f * customs, rel=1e-13)
