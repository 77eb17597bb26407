"""Scenario levers on the calibrated 2025 market against numbers worked out by hand (audit: synergies,
partial mergers, local production, imported new products).

- synergies (``autopact.policy.levers``): a synergy g on a firm's products (those of the given
  powertrains where filtered) scales their customs value v (the cost before tariffs and US
  distribution): v' = v (1 + g), so with the 2025 stack tau and the dealer's gross D outside the
  customs value, c' = v (1 + g)(1 + tau) + D = c + g v (1 + tau); every other product keeps its cost.
- mergers with ``profit_weight`` w < 1: kappa(a, b) = w between the merger's firms (O'Brien and Salop
  profit weights), Omega_jk = kappa(owner(j), owner(k)), and the solved prices satisfy
  s_j + sum_k Omega_jk (p_k - c_k) ds_k/dp_j = 0 with that Omega (BLP 1995, eq. 3.6).
- ``local_production.required``: an imported entrant is left out and listed; a US-built one stays.
- ``new_products`` with ``assembled_in_us: false``: the product is assembled where its ``like``
  model is (its assembly countries and assembly shares), with no US plant, and pays that model's tariff
  on a customs value of its own, v = (c - D) / (1 + tau) from the cost its announced price implies; a
  scenario's extra tariff on that origin adds to its rate as to the comparable's.
"""

import numpy as np
import pytest

from hand_tariffs import parameters, stack_pct
from autopact.errors import ScenarioError
from autopact.model.supply import foc_residual
from autopact.policy.levers import apply
from autopact.policy.scenario import parse_scenario
from autopact.simulate import simulate

FORD, GM, STELLANTIS, TESLA, BYD = "Ford Motor Co.", "General Motors", "Stellantis", "Tesla", "BYD"
DOLPHIN, SEALION = "byd--dolphin--active-44-9-kwh", "byd--sealion-7--comfort-rwd-eu-range"
GALAXY = "geely-galaxy--galaxy-e5--49-52-60-22-kwh"
MAVERICK = "ford--maverick--ice"  # assembled in Mexico (products_2025.csv)
US = "United States"


def _synergy(firm, change_pct, powertrain=None):
    return {"firm": firm, "change_pct": change_pct, "reason": "test",
            **({"powertrain": powertrain} if powertrain else {})}


# (synergies, factor (1 + g) by (owner, powertrain): "*" any powertrain; products not listed keep theirs)
SYNERGY_CASES = {
    "whole firm": ([_synergy(FORD, -10)], {(FORD, "*"): 0.9}),
    "powertrain filter": ([_synergy(FORD, -25, ["BEV", "HEV"])], {(FORD, "BEV"): 0.75, (FORD, "HEV"): 0.75}),
    "stacked and two firms": ([_synergy(FORD, 5), _synergy(FORD, -20, ["BEV"]), _synergy(GM, 3)],
                              {(FORD, "BEV"): 1.05 * 0.8, (FORD, "*"): 1.05, (GM, "*"): 1.03}),
}


# the products each case's synergies reach, read off the products table
MATCHED = {"whole firm": lambda rows: rows["owner"].eq(FORD),
           "powertrain filter": lambda rows: rows["owner"].eq(FORD) & rows["powertrain"].isin(["BEV", "HEV"]),
           "stacked and two firms": lambda rows: rows["owner"].isin([FORD, GM])}


def _factors(products, table):
    """(1 + g) of each product from the hand table (1 where the table does not name it)."""
    out = np.ones(len(products))
    for j, (owner, powertrain) in enumerate(zip(products["owner"], products["powertrain"])):
        out[j] = table.get((owner, powertrain), table.get((owner, "*"), 1.0))
    return out


@pytest.mark.parametrize("case", list(SYNERGY_CASES))
def test_synergy_scales_the_customs_value_of_the_matched_products(market_2025, case):
    """Oracle: v'_j = v_j (1 + g) on the matched products (exactly, to rounding), the same v elsewhere;
    marginal cost c'_j = c_j + g v_j (1 + tau_j) with tau_j the 2025 stack (no tariff lever here), and
    cost before tariffs v'_j + D, D the dealer's gross of the parameter table ($2,247)."""
    synergies, table = SYNERGY_CASES[case]
    cf = apply(parse_scenario({"name": "synergy", "synergies": synergies}, "test"), market_2025)
    before = market_2025.products
    assert list(cf.products["product_id"]) == list(before["product_id"])  # no product added or removed
    factor = _factors(before, table)
    matched = factor != 1.0
    np.testing.assert_array_equal(matched, MATCHED[case](before).to_numpy())
    v = before["customs_value"].to_numpy(float)
    tau = before["tariff_rate"].to_numpy(float)
    dealer = parameters()["us_dealer_gross_usd_per_vehicle"]
    np.testing.assert_allclose(cf.products["customs_value"].to_numpy(float) / v, factor, rtol=1e-15, atol=0)
    np.testing.assert_allclose(cf.products["tariff_rate"].to_numpy(float), tau, rtol=1e-15, atol=0)
    np.testing.assert_allclose(cf.products["base_cost"].to_numpy(float), factor * v + dealer, rtol=1e-14, atol=0)
    hand = market_2025.costs + (factor - 1) * v * (1 + tau)
    np.testing.assert_allclose(cf.costs, hand, rtol=1e-14, atol=0)
    np.testing.assert_allclose(cf.costs[~matched] / market_2025.costs[~matched], 1.0, rtol=1e-15, atol=0)
    assert np.all(np.abs(cf.costs[matched] / market_2025.costs[matched] - 1) > 1e-3)  # the lever did act


@pytest.mark.parametrize("synergies, message", [
    ([_synergy(FORD, -5), _synergy(TESLA, -10, ["ICE", "HEV"])], r"^synergies\[1\]: firm 'Tesla' has no matching products$"),
    ([_synergy(FORD, -10, ["FCEV"])], r"^synergies\[0\]: firm 'Ford Motor Co\.' has no matching products$"),
])
def test_a_synergy_filter_that_matches_nothing_is_refused_naming_it(market_2025, synergies, message):
    """Oracle: the firm has no product of the filtered powertrains in products_2025 (checked here),
    so the lever is refused with its index and firm."""
    firm, powertrains = synergies[-1]["firm"], synergies[-1]["powertrain"]
    rows = market_2025.products
    assert rows["owner"].eq(firm).any() and not (rows["owner"].eq(firm) & rows["powertrain"].isin(powertrains)).any()
    with pytest.raises(ScenarioError, match=message):
        apply(parse_scenario({"name": "synergy", "synergies": synergies}, "test"), market_2025)


WEIGHT = 0.3


def _omega(owners, pairs, weight):
    """Omega_jk by hand: 1 within an owner, ``weight`` between the owners of a pair in ``pairs``, else 0."""
    owners = list(owners)
    omega = np.zeros((len(owners), len(owners)))
    for j, a in enumerate(owners):
        for k, b in enumerate(owners):
            omega[j, k] = 1.0 if a == b else (weight if frozenset((a, b)) in pairs else 0.0)
    return omega


@pytest.fixture(scope="module")
def partial_merger(market_2025, baseline_2025):
    """Ford and GM each weighing the other's profit by 0.3, solved from the baseline prices."""
    start = dict(zip(baseline_2025.products["product_id"], baseline_2025.products["price"]))
    scenario = parse_scenario({"name": "partial", "mergers": [
        {"name": "ford-gm", "firms": [FORD, GM], "profit_weight": WEIGHT}]}, "test")
    return simulate(scenario, market_2025, initial_prices=start, baseline=baseline_2025)


def test_partial_merger_profit_weights_are_the_given_weight(partial_merger, market_2025):
    """Oracle: kappa = identity but kappa(Ford, GM) = kappa(GM, Ford) = 0.3 exactly (the 2025 market has
    no profit weights of its own); a three-firm merger sets all six cross weights."""
    cf = partial_merger.market
    names = list(cf.owner_names)
    assert sorted(names) == sorted(market_2025.owner_names)
    hand = np.eye(len(names))
    hand[names.index(FORD), names.index(GM)] = hand[names.index(GM), names.index(FORD)] = WEIGHT
    np.testing.assert_array_equal(cf.kappa, hand)
    three = apply(parse_scenario({"name": "three", "mergers": [
        {"name": "m", "firms": [FORD, GM, STELLANTIS], "profit_weight": 0.45}]}, "test"), market_2025)
    names = list(three.owner_names)
    hand = np.eye(len(names))
    for a in (FORD, GM, STELLANTIS):
        for b in (FORD, GM, STELLANTIS):
            if a != b:
                hand[names.index(a), names.index(b)] = 0.45
    np.testing.assert_array_equal(three.kappa, hand)


def test_partial_merger_prices_solve_the_focs_with_omega_built_by_hand(partial_merger, baseline_2025):
    """Oracle: Omega built from the owners' names (1 within a firm, 0.3 between Ford's and GM's products,
    0 otherwise) makes the relative FOC residual of the solved prices vanish (< 1e-9; measured 7e-13);
    the Omega of independent firms (w = 0) and of a full merger (w = 1) leave Ford's and GM's FOCs
    unsolved at those prices."""
    cf, rows = partial_merger.market, partial_merger.counterfactual.products
    assert partial_merger.counterfactual.constraints == []  # no quota or plant: prices are interior
    p, c = rows["price"].to_numpy(), rows["cost"].to_numpy()
    np.testing.assert_allclose(c, cf.costs, rtol=1e-15, atol=0)
    pair = {frozenset((FORD, GM))}
    residual = foc_residual(p, c, cf.xi, cf.demand, _omega(rows["owner"], pair, WEIGHT), cf.taxes)
    assert np.max(np.abs(residual)) < 1e-9
    merged = rows["owner"].isin([FORD, GM]).to_numpy()
    for other in (0.0, 1.0):
        off = foc_residual(p, c, cf.xi, cf.demand, _omega(rows["owner"], pair, other), cf.taxes)
        assert np.max(np.abs(off[merged])) > 1e-3
        assert np.max(np.abs(off[~merged])) < 1e-9  # other firms' rows do not read the weight
    # the weight moved Ford's and GM's prices from the baseline (the oracle is not the status quo's)
    moved = np.abs(p / baseline_2025.products["price"].to_numpy() - 1)
    assert moved[merged].max() > 1e-3


def test_local_production_leaves_imports_out_and_names_them(market_2025):
    """Oracle: with ``local_production.required`` the imported Dolphin is left out with the note
    '<candidate> (<maker>): imports not allowed under local production' and nothing else is excluded;
    the Sealion 7 in BYD's own plant and the Galaxy E5 in Ford's plant stay, wholly US-assembled.
    Without the requirement all three enter, the Dolphin from China."""
    entrants = [{"candidate": DOLPHIN, "maker": BYD, "assembly": "import"},
                {"candidate": SEALION, "maker": BYD, "assembly": "own_us_plant"},
                {"candidate": GALAXY, "maker": "Geely", "assembly": "partner_us_plant", "partner": FORD,
                 "profit_shares": {"Geely": 0.5, FORD: 0.5}}]
    required = apply(parse_scenario({"name": "local", "local_production": {"required": True},
                                     "entrants": entrants}, "test"), market_2025)
    assert required.excluded == [f"{DOLPHIN} ({BYD}): imports not allowed under local production"]
    added = required.products.iloc[len(market_2025.products):]
    assert list(added["product_id"]) == [f"entrant--{SEALION}", f"entrant--{GALAXY}"]
    assert list(added["assembly_countries"]) == [US, US]
    np.testing.assert_array_equal(required.origin.loc[added.index, US].to_numpy(), [1.0, 1.0])
    assert len(required.products) == len(market_2025.products) + 2
    assert [ids for _, ids, _ in required.capacities] == [(f"entrant--{SEALION}",), (f"entrant--{GALAXY}",)]

    free = apply(parse_scenario({"name": "free", "entrants": entrants}, "test"), market_2025)
    assert free.excluded == []
    added = free.products.iloc[len(market_2025.products):]
    assert list(added["product_id"]) == [f"entrant--{c}" for c in (DOLPHIN, SEALION, GALAXY)]
    assert list(added["assembly_countries"]) == ["China", US, US]


def _new_product(assembled_in_us):
    return {"name": "Imported EV", "firm": FORD, "segment": "pickup", "powertrain": "BEV", "like": MAVERICK,
            "announced_price_usd": 42_000, "price_source": "test", "assembled_in_us": assembled_in_us}


@pytest.fixture(scope="module")
def new_products(market_2025):
    """The same new Ford BEV pickup, like the Mexico-built Maverick, imported and US-built."""
    return {us: apply(parse_scenario({"name": "new", "new_products": [_new_product(us)]}, "test"), market_2025)
            for us in (False, True)}


def _rows(cf):
    ids = list(cf.products["product_id"])
    return ids.index("new--imported-ev"), ids.index(MAVERICK)


def test_an_imported_new_product_is_assembled_where_its_like_model_is(new_products, market_2025):
    """Oracle: the Maverick is built in Mexico (products_2025.csv); the new product not assembled in
    the US takes its assembly countries and its row of assembly shares (Mexico 1, exactly) and has no
    US plant; the same product assembled in the US has United States 1 and a plant of its own."""
    assert market_2025.products.set_index("product_id").at[MAVERICK, "assembly_countries"] == "Mexico"
    cf = new_products[False]
    new, like = _rows(cf)
    assert cf.products.at[new, "assembly_countries"] == cf.products.at[like, "assembly_countries"] == "Mexico"
    assert cf.products.at[new, "home_country"] == cf.products.at[like, "home_country"]
    shares = cf.origin.loc[new]
    assert shares.to_dict() == cf.origin.loc[like].to_dict()
    assert shares["Mexico"] == 1.0 and shares.sum() == 1.0
    assert cf.capacities == ()  # no US plant caps an import
    built = new_products[True]
    new, _ = _rows(built)
    assert built.products.at[new, "assembly_countries"] == US
    assert built.origin.loc[new, US] == 1.0 and built.origin.loc[new].sum() == 1.0
    assert built.capacities == (("Imported EV plant", ("new--imported-ev",), parameters()["entrant_plant_capacity"]),)


def test_an_imported_new_product_pays_its_like_models_tariff_rate(new_products):
    """Oracle: the Mexico-built Maverick's 2025 stack is 273/365 x Section 232 x the non-US content share
    (USMCA; tests/policy/hand_tariffs.py), the same for a BEV pickup; the imported new product, assembled
    where the Maverick is, pays that rate on a customs value of its own."""
    cf = new_products[False]
    new, like = _rows(cf)
    rate = stack_pct("Mexico", "pickup", "BEV") / 100
    assert cf.products.at[like, "tariff_rate"] == pytest.approx(rate, rel=1e-12)
    assert cf.products.at[new, "tariff_rate"] == pytest.approx(cf.products.at[like, "tariff_rate"], rel=1e-12)
    assert cf.products.at[new, "customs_value"] > 0
    # its cost is customs value x (1 + rate) + the comparable's US distribution, as an incumbent's
    distribution = float(cf.products.at[like, "base_cost"] - cf.products.at[like, "customs_value"])
    assert cf.costs[new] == pytest.approx(cf.products.at[new, "customs_value"] * (1 + rate) + distribution, rel=1e-14)
    assert cf.products.at[new, "base_cost"] == pytest.approx(cf.products.at[new, "customs_value"] + distribution, rel=1e-14)
    built = new_products[True]  # a US-built one pays none
    new_us, _ = _rows(built)
    assert built.products.at[new_us, "tariff_rate"] == 0.0 and built.products.at[new_us, "customs_value"] == 0.0


def test_an_extra_tariff_on_its_origin_falls_on_an_imported_new_product(new_products, market_2025):
    """Oracle: 25% more on vehicles assembled in Mexico adds 0.25 to the imported new product's rate, as to
    the Maverick's, and 0.25 x its customs value to its cost (the customs value itself moves only with what the
    announced price implies once the Maverick's own cost moves: under 1%); the US-built one is untouched."""
    extra = {"name": "25% on Mexico", "origin": ["Mexico"], "ad_valorem_pct": 25}
    taxed = {us: apply(parse_scenario({"name": "new", "new_products": [_new_product(us)], "extra_tariffs": [extra]},
                                      "test"), market_2025) for us in (False, True)}
    cf, before = taxed[False], new_products[False]
    new, like = _rows(cf)
    rate = before.products.at[new, "tariff_rate"]
    assert cf.products.at[new, "tariff_rate"] == pytest.approx(rate + 0.25, rel=1e-14)
    assert cf.products.at[like, "tariff_rate"] == pytest.approx(before.products.at[like, "tariff_rate"] + 0.25, rel=1e-14)
    customs = cf.products.at[new, "customs_value"]
    assert customs == pytest.approx(before.products.at[new, "customs_value"], rel=1e-2)
    moved = cf.costs[new] - before.costs[new]
    assert moved == pytest.approx(0.25 * customs + (customs - before.products.at[new, "customs_value"]) * (1 + rate), rel=1e-9)
    new_us, _ = _rows(taxed[True])
    assert taxed[True].products.at[new_us, "tariff_rate"] == 0.0
