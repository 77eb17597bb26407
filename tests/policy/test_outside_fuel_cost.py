"""The operating-cost wedge relative to the outside alternative (``autopact.policy.exogenous``;
issue 11, the 2026 back-test): a gasoline price change moves the running cost of the vehicle a
household keeps or buys used as well as that of a new one, so each product's wedge is T_j - T_0.

Hand numbers: s = 0.76 (Allcott and Wozny 2014); car 152,137 miles x 0.8304, light truck 179,954
x 0.8022 (NHTSA, Lu 2006); gasoline $3.10 (2025) -> $2.92 (2026, EIA), electricity 17.16 -> 17.9
cents; the outside vehicle's fuel cost f_0 = $3.10 / 23.4307 mpg (FHWA VM-1 2024, all light duty)."""

import numpy as np
import pytest

from autopact.policy.exogenous import ELECTRICITY, GASOLINE, operating_cost_wedge, outside_fuel_cost_per_mile

S = 0.76
CAR = 152_137 * 0.8304
TRUCK = 179_954 * 0.8022
F0 = 3.10 / 23.4307
GAS, POWER = 2.92 / 3.10, 0.179 / 0.1716
CIVIC, F150 = "honda--civic--ice", "ford--f-series-f-150-super-duty-excl-lightning--ice"
CAMRY, MODEL_Y = "toyota--camry--hev", "tesla--model-y--bev"


def rows(market, ids):
    products = market.products.set_index("product_id").loc[ids].reset_index()
    data = market.data.products.set_index("product_id")["fuel_cost_usd_per_mile"]
    return products, data.loc[ids].to_numpy(float)


def test_the_outside_vehicle_burns_the_fleets_gasoline_at_the_2025_price():
    assert outside_fuel_cost_per_mile() == pytest.approx(3.10 / 23.4307, rel=1e-15)


def test_each_wedge_is_its_own_change_less_the_outside_vehicles_over_the_same_miles_by_hand(market_2025):
    products, f = rows(market_2025, [CIVIC, F150, CAMRY, MODEL_Y])
    assert list(products["segment"]) == ["car", "pickup", "car", "SUV-crossover"]
    wedge = operating_cost_wedge(products, market_2025, {GASOLINE: GAS, ELECTRICITY: POWER})
    hand = [
        S * CAR * (f[0] * (GAS - 1) - F0 * (GAS - 1)),  # a 30-mpg car: more efficient than the fleet
        S * TRUCK * (f[1] * (GAS - 1) - F0 * (GAS - 1)),  # a 21-mpg pickup: less efficient
        S * CAR * (f[2] * (GAS - 1) - F0 * (GAS - 1)),  # a hybrid car
        S * TRUCK * (f[3] * (POWER - 1) - F0 * (GAS - 1)),  # a BEV: dearer electricity, the outside's cheaper gasoline
    ]
    assert wedge == pytest.approx(hand, rel=1e-12)
    # in dollars: cheaper gasoline favours the fleet vehicle over a Civic, a new F-150 over the fleet vehicle
    assert wedge == pytest.approx([161.5, -97.6, 373.8, 1081.8], abs=0.1)
    assert f[0] == pytest.approx(3.10 / 30.0, abs=1e-6) and f[1] == pytest.approx(3.10 / 21.0, abs=1e-6)


def test_a_new_vehicle_as_efficient_as_the_outside_vehicle_has_no_gasoline_wedge(market_2025, monkeypatch):
    products, _ = rows(market_2025, [CIVIC])
    monkeypatch.setattr("autopact.policy.exogenous.OUTSIDE_VEHICLE_MPG", 30.0)  # the Civic's 30 mpg
    assert operating_cost_wedge(products, market_2025, {GASOLINE: GAS})[0] == pytest.approx(0.0, abs=1e-9)
    # the outside term alone, by hand: a car's s D L f_0 (2.92/3.10 - 1) = -$737.6 at the fleet's 23.4307 mpg
    assert S * CAR * F0 * (GAS - 1) == pytest.approx(-737.6, abs=0.1)


def test_electricity_alone_leaves_the_outside_vehicle_as_it_was(market_2025):
    products, f = rows(market_2025, [MODEL_Y, CIVIC])
    wedge = operating_cost_wedge(products, market_2025, {ELECTRICITY: POWER})
    assert wedge == pytest.approx([S * TRUCK * f[0] * (POWER - 1), 0.0], rel=1e-12, abs=1e-12)


def test_the_units_weighted_wedge_is_positive_when_gasoline_falls_since_new_vehicles_beat_the_fleet(baseline_2025,
                                                                                                   market_2025):
    p = baseline_2025.products
    wedge = operating_cost_wedge(p, market_2025, {GASOLINE: GAS})
    units = p["units"].to_numpy()
    gasoline = p["powertrain"].isin(["ICE", "HEV", "PHEV"]).to_numpy()
    known = market_2025.data.products.set_index("product_id")["fuel_cost_usd_per_mile"]
    f = known.reindex(p["product_id"]).to_numpy(float)
    assert np.average(f[gasoline], weights=units[gasoline]) < F0  # new gasoline vehicles burn less a mile
    assert np.average(wedge, weights=units) > 0  # so cheaper gasoline helps the outside vehicle more
