"""Joint ventures and the connected-vehicle rule against hand computations (audit #4, #14).

A joint venture is its own price setter whose parents weigh its profit by their stakes and which
weighs theirs by the same stakes (O'Brien and Salop profit weights): Omega_jk = s_parent between a
JV product and a parent's product. Its profit and units are split to the parents by the stakes.
"""

import numpy as np
import pytest

from hand_tariffs import parameters
from autopact.model.supply import foc_residual
from autopact.outcomes.document import result_json
from autopact.policy.levers import apply
from autopact.policy.scenario import parse_scenario
from autopact.simulate import simulate

FORD, BYD, JV = "Ford Motor Co.", "BYD", "Ford Motor Co.-BYD JV"
DOLPHIN = "byd--dolphin--active-44-9-kwh"


def _omega(owners, weights):
    """Omega_jk by hand: 1 within an owner, weights[{a, b}] between owners a and b, else 0."""
    owners = list(owners)
    omega = np.zeros((len(owners), len(owners)))
    for j, a in enumerate(owners):
        for k, b in enumerate(owners):
            omega[j, k] = 1.0 if a == b else weights.get(frozenset((a, b)), 0.0)
    return omega


def test_the_ford_byd_joint_venture_prices_by_symmetric_profit_weights(bundled_results):
    """The bundled ford-byd-jv (three BYD models, 50/50): its counterfactual prices solve the FOCs
    with Omega rebuilt from the profit shares, and not those of a one-sided weighting."""
    result = bundled_results["ford-byd-jv", "ford-byd-jv"]
    market, rows = result.market, result.counterfactual.products
    assert (rows["owner"] == JV).sum() == 3
    omega = _omega(rows["owner"], {frozenset((JV, FORD)): 0.5})  # BYD has no product of its own here
    p = rows["price"].to_numpy()
    jv = rows["owner"].eq(JV).to_numpy()
    costs = rows["cost"].to_numpy().copy()
    plant = [c for c in result.counterfactual.constraints if c["name"] == f"plant: {JV} US plant"]
    assert len(plant) == 1  # the JV's plant builds its three models; a binding one adds its shadow cost
    costs[jv] += plant[0]["shadow_cost_usd"]
    residual = foc_residual(p, costs, market.xi, market.demand, omega, market.taxes)
    assert np.max(np.abs(residual)) < 1e-11  # at most 9.3e-13 measured over the bundled scenarios
    ford = rows["owner"].eq(FORD).to_numpy()
    one_sided = omega.copy()
    one_sided[np.ix_(ford, jv)] = 0.0  # Ford ignoring the JV's profit
    bad = foc_residual(p, costs, market.xi, market.demand, one_sided, market.taxes)
    assert np.max(np.abs(bad[ford])) > 1e-4
    # (Ford's own prices need not rise: its buyers' mix changes too; `autopact validate` lists the signs)


def test_the_joint_ventures_profit_and_units_go_half_to_each_parent(bundled_results):
    result = bundled_results["ford-byd-jv", "ford-byd-jv"]
    document = result_json(result)
    firms = {f["firm"]: f for f in document["firms"]}
    rows = result.counterfactual.products
    jv, ford = rows["owner"].eq(JV), rows["owner"].eq(FORD)
    assert JV not in firms  # a JV's profit is its parents'
    assert firms[BYD]["profit_counterfactual_usd"] == pytest.approx(0.5 * rows.loc[jv, "profit"].sum(), rel=1e-14)
    assert firms[BYD]["units_counterfactual"] == pytest.approx(0.5 * rows.loc[jv, "units"].sum(), rel=1e-14)
    assert firms[FORD]["profit_counterfactual_usd"] == pytest.approx(
        rows.loc[ford, "profit"].sum() + 0.5 * rows.loc[jv, "profit"].sum(), rel=1e-13)
    assert firms[FORD]["units_counterfactual"] == pytest.approx(
        rows.loc[ford, "units"].sum() + 0.5 * rows.loc[jv, "units"].sum(), rel=1e-13)
    assert firms[BYD]["profit_baseline_usd"] == 0.0 and firms[BYD]["nationality"] == "China"
    # the JV's models are Chinese-controlled at 50% (the connected-vehicle threshold), so Chinese
    assert set(rows.loc[jv, "nationality"]) == {"China"}
    china = document["counterfactual"]["units_by_nationality"]["China"]
    incumbents_china = rows.loc[rows["nationality"].eq("China") & ~jv, "units"].sum()
    assert china == pytest.approx(incumbents_china + 0.5 * rows.loc[jv, "units"].sum(), rel=1e-13)


@pytest.fixture(scope="module")
def dolphin_with_ford(market_2025, baseline_2025):
    """The Dolphin built in Ford's plant and sold by Ford's dealers, wholly BYD's two ways."""
    start = dict(zip(baseline_2025.products["product_id"], baseline_2025.products["price"]))
    entrant = {"candidate": DOLPHIN, "maker": BYD, "assembly": "partner_us_plant", "partner": FORD,
               "dealers": "partner"}
    splits = {"independent": None, "degenerate": {BYD: 1.0, FORD: 0.0}}
    return {name: simulate(parse_scenario({"name": name, "entrants": [
        {**entrant, **({"profit_shares": split} if split else {})}]}, "test"), market_2025,
        initial_prices=start, baseline=baseline_2025) for name, split in splits.items()}


def test_profit_shares_maker_one_partner_zero_are_an_independent_entrant(dolphin_with_ford):
    independent, degenerate = dolphin_with_ford["independent"], dolphin_with_ford["degenerate"]
    for column in ("price", "units", "profit", "cost"):
        np.testing.assert_allclose(degenerate.counterfactual.products[column],
                                   independent.counterfactual.products[column], rtol=1e-12)
    assert list(degenerate.counterfactual.products["owner"]) == list(independent.counterfactual.products["owner"])
    a, b = result_json(degenerate)["change"], result_json(independent)["change"]
    for key in ("total_units", "consumer_surplus_usd", "total_profit_usd", "hhi", "us_assembly_jobs"):
        assert a[key] == pytest.approx(b[key], rel=1e-12, abs=1e-6)


THRESHOLD = parameters()["connected_vehicle_threshold"]


@pytest.mark.parametrize("incumbents", [True, False])
@pytest.mark.parametrize("joint_ventures", [True, False])
@pytest.mark.parametrize("chinese", [round(THRESHOLD - 0.01, 6), THRESHOLD, 1.0])
def test_connected_vehicle_rule_by_chinese_share_and_flags(market_2025, chinese, joint_ventures, incumbents):
    """An entrant is barred when wholly Chinese, or (JV flag on) when the Chinese profit share
    reaches the threshold of the parameter table; Chinese-owned incumbents when the incumbent flag is on."""
    shares = {BYD: chinese, FORD: round(1 - chinese, 6)}
    scenario = parse_scenario({"name": "cv", "connected_vehicle_rule": {
        "enabled": True, "applies_to_joint_ventures": joint_ventures, "applies_to_incumbents": incumbents},
        "entrants": [{"candidate": DOLPHIN, "maker": BYD, "assembly": "partner_us_plant", "partner": FORD,
                      "profit_shares": shares}]}, "test")
    cf = apply(scenario, market_2025)
    barred = chinese == 1.0 or (joint_ventures and chinese >= THRESHOLD)
    entrants = cf.products[cf.products["entrant"]]
    assert len(entrants) == (0 if barred else 1)
    assert any(f"{DOLPHIN} (" in note and "connected-vehicle" in note for note in cf.excluded) == barred
    if not barred:  # Chinese-controlled at or above the threshold, else the partner's nationality
        partner = market_2025.products.loc[market_2025.products["owner"].eq(FORD), "nationality"].iloc[0]
        assert entrants["nationality"].iloc[0] == ("China" if chinese >= THRESHOLD else partner)
    chinese_incumbents = market_2025.products.loc[market_2025.products["nationality"].eq("China"), "product_id"]
    assert len(chinese_incumbents) > 0
    remaining = set(cf.products["product_id"])
    assert (set(chinese_incumbents) & remaining == set()) == incumbents
    assert (set(chinese_incumbents) <= remaining) == (not incumbents)
    assert len(cf.products) == len(market_2025.products) - incumbents * len(chinese_incumbents) + (not barred)


def test_connected_vehicle_rule_disabled_bars_nobody(market_2025):
    scenario = parse_scenario({"name": "cv", "entrants": [{"candidate": DOLPHIN, "maker": BYD}]}, "test")
    cf = apply(scenario, market_2025)
    assert len(cf.products) == len(market_2025.products) + 1 and not cf.excluded
