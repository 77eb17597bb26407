"""Entrants' marginal costs built by hand from their components (audit U2) and new products'
implied costs checked by their own first-order conditions (audit #13).

BYD Dolphin (chinese_models.csv): CNY 116,800 in China, 44.9 kWh LFP (Blade) pack.
    home cost = price / (1 + VAT) x (1 - margin) / (CNY per USD) x price scale
    import      : + China BEV stack x home cost + shipping
    US plant    : + hours x wage (union in a partner's plant, transplant in its own)
                  + Chinese cells: kWh x LFP pack price x cell share x (Section 301 battery + IEEPA)
                  or US pack: kWh x pack price x US premium - kWh x (45X cells + 45X modules)
    both        : + US dealer gross + destination delivery + US warranty + homologation
"""

import numpy as np
import pytest

from hand_tariffs import parameters, stack_pct
from autopact.model.supply import foc_residual, ownership_matrix
from autopact.policy.levers import apply
from autopact.policy.scenario import parse_scenario

DOLPHIN = "byd--dolphin--active-44-9-kwh"
PRICE_CNY, KWH = 116_800.0, 44.9


def _hand(assembly, battery, price_scale):
    p = parameters()
    home = PRICE_CNY / (1 + p["china_vat_pct"] / 100) * (1 - p["home_margin_share"]) / p["fx_cny_per_usd"] * price_scale
    us = {"homologation": p["homologation_usd_per_vehicle"], "us_dealer_gross": p["us_dealer_gross_usd_per_vehicle"],
          "us_destination": p["us_destination_usd_per_vehicle"], "us_warranty": p["us_warranty_usd_per_vehicle"]}
    total = home + sum(us.values())
    if assembly == "import":
        return {"home_cost": home, **us, "customs_value": home, "tariff": home * stack_pct("China", "car", "BEV") / 100,
                "total": total + home * stack_pct("China", "car", "BEV") / 100 + p["shipping_usd_per_vehicle"]}
    wage = p["labour_cost_union_usd_per_hour"] if assembly == "partner_us_plant" else p["labour_cost_transplant_usd_per_hour"]
    labour = p["assembly_hours_per_vehicle"] * wage
    pack = KWH * p["battery_pack_lfp_usd_per_kwh"]
    if battery == "china":
        cells = pack * p["battery_cell_share_of_pack"]
        tariff = cells * (p["section_301_china_battery_pct"] + p["ieepa_china_pct"]) / 100
        return {"home_cost": home, **us, "us_labour": labour, "customs_value": cells, "tariff": tariff,
                "total": total + labour + tariff}
    premium = pack * p["battery_us_pack_premium"]
    credit = KWH * (p["credit_45x_cells_usd_per_kwh"] + p["credit_45x_modules_usd_per_kwh"])
    return {"home_cost": home, **us, "us_labour": labour, "customs_value": 0.0, "tariff": 0.0, "us_battery_premium": premium,
            "credit_45x": -credit, "total": total + labour + premium - credit}


CASES = [("import", "china", None), ("own_us_plant", "china", None), ("own_us_plant", "us", None),
         ("partner_us_plant", "china", "Ford Motor Co."), ("partner_us_plant", "us", "Ford Motor Co.")]


@pytest.mark.parametrize("assembly, battery, partner", CASES)
def test_entrant_cost_from_its_components(market_2025, assembly, battery, partner):
    from autopact.data import load_chinese_candidates

    row = load_chinese_candidates().loc[DOLPHIN]
    assert (row["price_china_cny_first"], row["battery_kwh_first"]) == (PRICE_CNY, KWH)
    assert "LFP" in str(row["chemistry"]).upper()
    expected = _hand(assembly, battery, market_2025.data.price_scale)
    entrant = {"candidate": DOLPHIN, "maker": "BYD", "assembly": assembly, "battery_origin": battery,
               **({"partner": partner} if partner else {})}
    cf = apply(parse_scenario({"name": "entry", "entrants": [entrant]}, "test"), market_2025)
    (report,) = cf.entrant_costs
    for key, value in expected.items():
        assert report[key] == pytest.approx(value, rel=1e-14, abs=1e-9), key  # exact to rounding
    j = int(np.flatnonzero(cf.products["entrant"].to_numpy())[0])
    assert cf.costs[j] == pytest.approx(expected["total"], rel=1e-14)
    # the product row: customs value, tariff rate on it, cost before tariffs
    row = cf.products.iloc[j]
    assert row["customs_value"] == pytest.approx(expected["customs_value"], rel=1e-14, abs=1e-9)
    if expected["customs_value"] > 0:
        assert row["tariff_rate"] * row["customs_value"] == pytest.approx(expected["tariff"], rel=1e-14)
    assert row["base_cost"] + expected["tariff"] == pytest.approx(expected["total"], rel=1e-14)


def test_entrant_cost_adds_us_distribution_like_incumbents_by_hand():
    """An imported Dolphin at a 130% stack, every component set by hand (numbers, not the CSV):
    home = 116,800 / 1.13 x (1 - 0.0717) / 7.0809 x 1.35 = 18,293.55; tariff = 1.3 x home = 23,781.62;
    + shipping 1,250 + homologation 150 + dealer gross 2,247 + destination 400 + warranty 300
    = 46,422.17. On main the US distribution (4,347 - 1,250 - 150 = 2,947 here) was not in the cost."""
    from autopact.data import load_chinese_candidates
    from autopact.policy.entry import entrant_cost
    from autopact.policy.scenario import Entrant

    params = {"china_vat_pct": 13.0, "home_margin_share": 0.0717, "fx_cny_per_usd": 7.0809,
              "shipping_usd_per_vehicle": 1250.0, "homologation_usd_per_vehicle": 150.0,
              "us_dealer_gross_usd_per_vehicle": 2247.0, "us_destination_usd_per_vehicle": 400.0,
              "us_warranty_usd_per_vehicle": 300.0,
              "battery_pack_lfp_usd_per_kwh": 81.0, "battery_pack_nmc_usd_per_kwh": 128.0}
    row = load_chinese_candidates().loc[DOLPHIN]
    parts = entrant_cost(row, Entrant(candidate=DOLPHIN, maker="BYD", assembly="import"), params, 1.35, 1.3)
    assert parts["home_cost"] == pytest.approx(18_293.552754468372, rel=1e-12)
    assert parts["tariff"] == pytest.approx(23_781.618580808885, rel=1e-12)
    assert (parts["us_dealer_gross"], parts["us_destination"], parts["us_warranty"]) == (2247.0, 400.0, 300.0)
    assert parts["total"] == pytest.approx(46_422.171335277257, rel=1e-12)


def test_bundled_us_distribution_defaults_are_the_sourced_dealer_gross_only():
    """Dealer gross $2,247 (Presidio-NCM, 2024); destination 0 (prices exclude it); warranty and
    homologation 0 (unsourced excess over China's warranty; a cost per model, not per vehicle)."""
    p = parameters()
    assert p["us_dealer_gross_usd_per_vehicle"] == 2247
    assert p["us_destination_usd_per_vehicle"] == p["us_warranty_usd_per_vehicle"] == p["homologation_usd_per_vehicle"] == 0
    assert p["home_margin_share"] == pytest.approx(1300 / (20500 / 1.13), abs=5e-5)  # Rhodium's margin on the net price


def _new(name, like, price):
    return {"name": name, "firm": "Ford Motor Co.", "segment": "pickup", "powertrain": "BEV", "like": like,
            "announced_price_usd": price, "price_source": "test"}


@pytest.mark.parametrize("products", [[_new("A", "ford--ranger--ice", 42_000)],
                                      [_new("A", "ford--ranger--ice", 42_000), _new("B", "ford--maverick--ice", 45_000)]],
                         ids=["one", "two"])
def test_new_products_implied_costs_make_their_focs_vanish(market_2025, products):
    """At the announced prices (x the price scale of their powertrain) and every other product at its 2025
    price, the new products' FOC rows vanish with the counterfactual Omega; the two costs of
    siblings are solved jointly (each one's markup enters the other's FOC). Prices at which each is its
    owner's best response (a price between two profit peaks takes another cost: test_announced_costs.py)."""
    cf = apply(parse_scenario({"name": "new", "new_products": products}, "test"), market_2025)
    assert {row["rule"] for row in cf.announced_costs} == {"first-order condition"}
    new = cf.products["product_id"].str.startswith("new--").to_numpy()
    assert new.sum() == len(products)
    prices = np.r_[market_2025.calibration.arrays.prices,
                   [p["announced_price_usd"] * market_2025.data.scale_of(p["powertrain"]) for p in products]]
    omega = ownership_matrix(cf.owners, cf.kappa)
    assert omega[np.ix_(new, new)].min() == 1.0  # Ford's products, one price setter
    residual = foc_residual(prices, cf.costs, cf.xi, cf.demand, omega, cf.taxes)
    assert np.max(np.abs(residual[new])) < 1e-14  # measured 6e-16
    assert np.all(cf.costs[new] > 0)
    assert list(cf.products.loc[new, "base_cost"]) == pytest.approx(list(cf.costs[new]), rel=1e-15)
