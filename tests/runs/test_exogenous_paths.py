"""The exogenous paths of market size, incomes and fuel and electricity prices (issue 14, part 3):
their channels into a year's equilibrium (``autopact.policy.exogenous``) and the projection."""

import numpy as np
import pytest

import autopact.data.paths as paths
from autopact.policy.exogenous import EXOGENOUS
from autopact.policy.scenario import Scenario, load_scenario
from autopact.runs.projection import project
from autopact.simulate import carried, market_for, simulate, solve

NEW_PATHS = tuple(EXOGENOUS.values())


def with_rows(monkeypatch, change) -> None:
    """Replace the bundled path table by ``change(rows)`` (rows: the bundled ones, as dicts)."""
    rows = tuple(change([dict(r) for r in paths._rows()]))
    monkeypatch.setattr(paths, "_rows", lambda: rows)


def flat(rows: list[dict]) -> list[dict]:
    """The new paths held at their 2025 value (low = central = high) in every sourced year."""
    level = {r["path"]: r["central"] for r in rows if r["year"] == 2025}
    return [{**r, **({k: level[r["path"]] for k in ("central", "low", "high")} if r["path"] in NEW_PATHS else {})}
            for r in rows]


def records(document: dict) -> list[dict]:
    return [{k: r[k] for k in ("year", "baseline", "counterfactual", "change")} for r in document["records"]]


def test_flat_paths_reproduce_the_projection_without_their_channels_exactly(monkeypatch):
    scenario = load_scenario("ford-byd-jv")
    with_rows(monkeypatch, flat)
    with_flat_paths = project(scenario, 2027, 2026)
    # the projection before these paths: no market size, income or energy price among a year's parameters
    monkeypatch.setattr("autopact.policy.dated.exogenous_parameters", lambda year, quantiles: {})
    without = project(scenario, 2027, 2026)
    assert records(with_flat_paths) == records(without)  # equal to the bit, not to a tolerance


def ice_units_and_bev_share(market) -> tuple[float, float]:
    state = solve(market).products
    units = state["units"].to_numpy()
    return float(units[state["powertrain"].eq("ICE").to_numpy()].sum()), \
        float(units[state["powertrain"].eq("BEV").to_numpy()].sum() / units.sum())


def test_a_higher_gasoline_price_lowers_ice_units_and_raises_the_bev_share_in_that_year_only(monkeypatch):
    market = market_for(Scenario(name="calibrated"))
    with_rows(monkeypatch, flat)
    before = {year: ice_units_and_bev_share(carried(market, year)) for year in (2026, 2027)}

    def dear_2026(rows: list[dict]) -> list[dict]:  # $4.00 in 2026 only, back to $3.10 from 2027
        rows = [r for r in flat(rows) if not (r["path"] == "gasoline_usd_per_gallon" and r["year"] != 2025)]
        base = next(r for r in rows if r["path"] == "gasoline_usd_per_gallon")
        return rows + [{**base, "year": 2026, "central": 4.0, "low": 4.0, "high": 4.0},
                       {**base, "year": 2027}]

    with_rows(monkeypatch, dear_2026)
    after = {year: ice_units_and_bev_share(carried(market, year)) for year in (2026, 2027)}
    assert after[2026][0] < before[2026][0]  # fewer ICE units
    assert after[2026][1] > before[2026][1]  # a higher BEV share
    assert after[2027] == pytest.approx(before[2027], rel=1e-12)  # nothing else moves


def test_the_income_path_changes_nothing_in_2025_and_scales_every_income_after():
    market = market_for(Scenario(name="calibrated"))
    plain = simulate(load_scenario("ford-byd-jv"), market)
    with_paths = simulate(Scenario(**{**load_scenario("ford-byd-jv").model_dump(), "policy_year": 2025,
                                      "paths": {"real_income_index": 1.0, "households_million": 0.0}}), market)
    assert with_paths.metrics() == plain.metrics()
    assert np.array_equal(with_paths.market.households.income, market.households.income)
    in_2030 = carried(market, 2030, {"real_income_index": 1.0})
    ratio = paths.path_value("real_income_index", 2030, 1.0) / paths.path_value("real_income_index", 2025)
    assert ratio > 1.05
    assert np.allclose(in_2030.households.income, market.households.income * ratio, rtol=1e-15)
    assert np.allclose(in_2030.demand.price_sensitivity - in_2030.demand.alpha,
                       (market.demand.price_sensitivity - market.demand.alpha) / ratio, rtol=1e-12)
    assert in_2030.market_size == pytest.approx(market.market_size * paths.path_ratio("households_million", 2030))


def test_each_path_has_a_source_and_a_2025_row_without_a_range():
    for path in paths.PATHS:
        rows = [r for r in paths.path_table() if r["path"] == path]
        first = next(r for r in rows if r["year"] == 2025)
        assert first["low"] == first["central"] == first["high"], path
        assert all("http" in r["source"] for r in rows), path


def test_average_prices_leave_out_the_operating_cost_wedge_buyers_weigh_but_do_not_pay():
    from autopact.outcomes.metrics import metrics

    market = carried(market_for(Scenario(name="calibrated")), 2026)
    state = solve(market)
    p = state.products
    wedge = p["operating_cost_wedge"].to_numpy()
    # gasoline $2.92 in 2026 against $3.10, relative to the outside vehicle's (the on-road fleet's 23.4307 mpg):
    # an ICE more efficient than the fleet weighs more, one less efficient less
    from autopact.policy.exogenous import fuel_cost_per_mile, outside_fuel_cost_per_mile

    ice = p["powertrain"].eq("ICE").to_numpy()
    gap = outside_fuel_cost_per_mile() - fuel_cost_per_mile(p, market)[ice]
    assert np.array_equal(np.sign(wedge[ice]), np.sign(gap))
    assert wedge[p["powertrain"].eq("BEV").to_numpy()].min() > 0  # electricity 17.9 against 17.16 cents
    paid = np.average(p["consumer_price"].to_numpy() - wedge, weights=p["units"].to_numpy())
    assert metrics(state, market, market.parameters)["average_price_usd"] == pytest.approx(paid, rel=1e-12)
