"""Why an entrant's US price sits where it does: its price split into cost parts, markup and shadow
cost, the demand that sets the markup, and the incumbents priced like it.

Each entrant of a solved scenario (``autopact.policy.entry``) is priced by the same Bertrand-Nash
first-order condition as every incumbent, so its price is

    p = sum of cost parts (entrant_cost) + markup + shadow cost (a binding plant or quota)

and the ratio the entry yardstick reads (``runs.backtest_policy.entry_yardsticks``), its US price net
of the duty it pays over its China list price at the market's trim-mix price scale, splits the same
way: (p - duty) / (scale x L) = home cost / (scale x L) + ... + markup / (scale x L). The home cost
alone is (1 - margin) / (1 + VAT) = 0.82 of it (policy parameters); everything else is US cost or markup.

The markup is set by demand: a single-product firm's Lerner index is about 1 / |own-price
elasticity|, and in the calibrated demand a household's price sensitivity is alpha + pi / income, so
a model that draws low-income buyers has an elastic demand and a thin markup. Hence the buyers'
income mix (shares of its units bought by each income group of ``MarketModel.income_groups``) and
the incumbents within ``PEER_BAND`` of its price, whose costs are backed out of the same first-order
condition at their observed prices: if the entrant's Lerner matches theirs, its pricing follows the
demand that fits the 2025 market, and a gap to prices abroad is a question about demand, not about
the entrant's pricing rule or its cost build-up.

The Lerner index on Rhodium's basis. Rhodium's profit per car abroad (the Seal U in Germany) is the
price net of VAT less the production cost built from the China price (China price net of VAT less
the China profit), the duty and shipping: 42,000 / 1.19 - (20,500 / 1.13 - 1,300) - 14,300 = EUR
4,152 left for the 10% duty on a customs value of about EUR 18,000 and shipping, so no selling cost
abroad beyond the China one already in the China price is deducted. Like with like, the entrant's
Lerner on that basis counts its US selling costs (dealer gross, destination, warranty, homologation:
``SELLING_PARTS``) and its shadow cost as profit: (markup + shadow + selling costs) / price.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from autopact.data import load_chinese_candidates
from autopact.model.demand import individual_shares, jacobian_parts
from autopact.outcomes.low_income import weighted_median

# the parts of an entrant's cost build-up (policy.entry.entrant_cost) that are selling costs in the US,
# beyond what the China price already holds; Rhodium's profit abroad does not deduct their like
SELLING_PARTS = ("us_dealer_gross", "us_destination", "us_warranty", "homologation")
# the parts that add up to the cost (customs_value is the base of the tariff, not a cost)
COST_PARTS = ("home_cost", "shipping", "tariff", "tariff_specific", "us_labour", "us_battery_premium", "credit_45x",
              *SELLING_PARTS)
# the parts that are not costs incurred in the US: what the "US costs" of the price split leave out
NOT_US_COSTS = ("home_cost", "tariff", "tariff_specific")
PEER_BAND = 0.10  # incumbents priced within +/-10% of the entrant's price are its peers


def income_mix(buyers: np.ndarray, income: np.ndarray, groups: tuple[tuple[float, float, str], ...]
               ) -> dict[str, float]:
    """Shares of a product's buyers (``buyers``: each household's weight times its choice
    probability) in each income group, and their median income."""
    total = float(buyers.sum())
    mix = {label: float(buyers[(income >= low) & (income < high)].sum()) / total for low, high, label in groups}
    return {**mix, "median_income": weighted_median(income, buyers)}


def price_decomposition(result: Any, peer_band: float = PEER_BAND) -> list[dict[str, Any]]:
    """Each entrant of a solved scenario (``simulate.SimulationResult``): its price in cost parts,
    markup and shadow cost, each also over its China list price at the market's price scale; its
    Lerner index (maker's, and on Rhodium's basis, module docstring); its own-price elasticity and
    its buyers' income mix; and the units-weighted Lerner index and own-price elasticity of the
    incumbents priced within ``peer_band`` of it (its nearest-priced incumbent where none is). Empty when the scenario has no entrants."""
    cf = result.counterfactual.products
    market = result.market
    entrants = np.flatnonzero(cf["product_id"].str.startswith("entrant--").to_numpy())
    if not len(entrants):
        return []
    prices = cf["consumer_price"].to_numpy(float)
    demand = market.demand
    delta = market.xi - demand.alpha * prices
    shares, lam, gamma = jacobian_parts(delta, prices, demand)
    own = (lam - np.diag(gamma)) * prices / shares  # own-price elasticities, the diagonal of ds/dp p / s
    choice = individual_shares(delta, prices, demand)[0]
    buyers = demand.weights[:, None] * choice  # (I, J) each household's expected purchases of each product
    income = demand.income
    scale = market.data.price_scale
    fx = market.parameters["fx_cny_per_usd"]
    candidates = load_chinese_candidates()
    reports = {row["product_id"]: row for row in market.entrant_costs}
    price = cf["price"].to_numpy(float)
    lerner = cf["markup"].to_numpy(float) / price
    incumbent = np.ones(len(cf), bool)
    incumbent[entrants] = False
    units = cf["units"].to_numpy(float)
    everyone = income_mix(buyers.sum(axis=1), income, market.income_groups)
    out = []
    for j in entrants:
        row = cf.iloc[j]
        report = reports[row["product_id"]]
        parts = {k: float(report[k]) for k in COST_PARTS if k in report}
        # the duty the solved state charges: under a tariff-rate quota the in-quota rate, with the
        # quota's shadow cost on top, not the full rate of the cost build-up
        duty = float(row["tariff_rate"] * row["customs_value"] + row["tariff_specific"])
        parts["tariff"], parts["tariff_specific"] = duty - float(row["tariff_specific"]), float(row["tariff_specific"])
        listed = float(candidates.at[row["product_id"].removeprefix("entrant--"), "price_china_cny_first"]) / fx
        base = listed * scale
        markup, cost = float(row["markup"]), float(row["cost"])
        shadow = float(price[j]) - cost - markup
        selling = sum(parts.get(k, 0.0) for k in SELLING_PARTS)
        peers = incumbent & (np.abs(price / price[j] - 1) <= peer_band)
        if not peers.any():  # priced below (or above) every incumbent's band: its nearest-priced incumbent
            peers = np.arange(len(price)) == np.flatnonzero(incumbent)[np.argmin(np.abs(price[incumbent] - price[j]))]
        out.append({
            "product_id": row["product_id"], "name": row["name"], "units": float(row["units"]), "price": float(price[j]),
            "cost": cost, "cost_parts": parts, "markup": markup, "shadow_cost": shadow, "duty": duty,
            "china_list_usd": listed, "price_scale": scale,
            "ratio_parts": {**{k: v / base for k, v in parts.items()}, "markup": markup / base, "shadow_cost": shadow / base},
            "us_costs_ratio": sum(v for k, v in parts.items() if k not in NOT_US_COSTS) / base,
            "price_to_china_list": (float(price[j]) - duty) / base,
            "lerner": float(lerner[j]), "lerner_rhodium_basis": (markup + shadow + selling) / float(price[j]),
            "own_elasticity": float(own[j]), "buyers": income_mix(buyers[:, j], income, market.income_groups),
            "all_buyers": everyone,
            "peers": {"band": peer_band, "count": int(peers.sum()),
                      "lerner": float(np.average(lerner[peers], weights=units[peers])),
                      "own_elasticity": float(np.average(own[peers], weights=units[peers])),
                      "largest": [str(n) for n in cf.loc[peers].sort_values("units", ascending=False)["name"].head(3)]},
        })
    return out
