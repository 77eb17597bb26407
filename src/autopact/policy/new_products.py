"""New products of incumbents (e.g. Ford's Universal EV pickup) with an announced price.

Characteristics come from a named comparable product (a BEV's range from ``range_miles`` where
announced); mean utility as for any entrant (hedonic
fit, its make's and firm's residuals by powertrain and whole line, pooled and scaled by the brand term's
reliability (``autopact.policy.hedonic.Hedonic.brand_term``), the launch term); marginal cost where its
owner's best response reaches its announced price (``rationalised_costs``): the product's own first-order
condition at the announced price (``implied_costs``) where that price is a best response, else the cost at
which its owner is indifferent between the best prices below and above it; output capped by its plant.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from autopact.data.tariffs import US
from autopact.errors import ScenarioError
from autopact.fit.market import MarketModel
from autopact.model.continuation import owner_profits
from autopact.model.demand import Demand, price_jacobian, shares
from autopact.model.supply import ownership_matrix
from autopact.model.taxes import Taxes
from autopact.policy.hedonic import Hedonic
from autopact.policy.launch import appeal_term, launch_term
from autopact.policy.scenario import NewProduct, Scenario


def product_id(product) -> str:
    return f"new--{product.name.lower().replace(' ', '-')}"


def check(scenario: Scenario, market: MarketModel) -> None:
    """Each new product's firm and comparable product must be ones the market has."""
    if scenario.new_products and market.calibration is None:
        raise ScenarioError("new_products: needs the 2025 market data (characteristics of the comparable product)")
    firms, ids = set(market.products["owner"]), set(market.products["product_id"])
    for k, product in enumerate(scenario.new_products):
        if product.firm not in firms:
            raise ScenarioError(f"new_products[{k}].firm: unknown firm {product.firm!r}")
        if product.like not in ids:
            raise ScenarioError(f"new_products[{k}].like: unknown product {product.like!r}")


def new_product_range(product: NewProduct, like: pd.Series) -> float:
    """A new BEV's EPA range: the announced one (``range_miles``), else its comparable product's
    where that is a BEV with a known range, else unknown (NaN: the hedonic fit's mean BEV range,
    ``autopact.policy.hedonic``)."""
    if product.range_miles is not None:
        return float(product.range_miles)
    if like.get("powertrain") == "BEV" and pd.notna(like.get("range_miles", np.nan)):
        return float(like["range_miles"])
    return float("nan")


def new_product_rows(scenario: Scenario, market: MarketModel, hedonic: Hedonic, params: dict[str, float]
                     ) -> tuple[list[pd.DataFrame], list[float], list[tuple[str, tuple[str, ...], float]]]:
    """Product rows (cost unknown: NaN), mean utilities and US plant capacities of the scenario's new
    products. Mean utility as for any entrant (``autopact.policy.entry``): hedonic prediction + the
    brand term of its make and firm (``Hedonic.brand_term``) + the launch term of its year on sale (``years_on_sale``,
    set from its launch date in a dated evaluation), else of ``entrant_years_on_sale``."""
    table = market.products
    frames, xis, plants = [], [], []
    for product in scenario.new_products:
        like = table.set_index("product_id").loc[product.like]
        entry = pd.DataFrame([{
            "product_id": product_id(product), "name": product.name,
            "make": like["make"], "owner": product.firm,
            "nationality": table.loc[table["owner"] == product.firm, "nationality"].iloc[0],
            "home_country": like["home_country"], "luxury": False,
            "assembly_countries": US if product.assembled_in_us else like["assembly_countries"], "entrant": True,
            "segment": product.segment, "powertrain": product.powertrain, "footprint_sqft": like["footprint_sqft"],
            "horsepower": like["horsepower"], "range_miles": new_product_range(product, like)}])
        years = product.years_on_sale or params["entrant_years_on_sale"]
        xis.append(float(hedonic.predict(entry)[0]) + hedonic.brand_term(product.firm, product.powertrain, make=like["make"])
                   + launch_term(market, years, product.powertrain)
                   + appeal_term(market, years, product.powertrain, params["launch_appeal_quantile"]))
        frames.append(entry.assign(tariff_rate=0.0, tariff_specific=0.0, customs_value=0.0, base_cost=np.nan))
        if product.assembled_in_us:
            plants.append((f"{product.name} plant", (product_id(product),),
                           product.capacity or params["entrant_plant_capacity"]))
    return frames, xis, plants


def imported_costs(scenario: Scenario, market: MarketModel, products: pd.DataFrame, costs: np.ndarray,
                   rates: np.ndarray, specific: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
    """Tariffs on the new products built abroad (``assembled_in_us: false``), whose cost the announced
    price gives (``rationalised_costs``): read against every other price before the scenario, that cost
    carries the tariff in force before it, its comparable product's (rate tau_0 and specific T_0 of
    ``like`` in the market), and its US distribution D (the comparable's base cost less its customs value,
    ``fit.market.calibrated_model``). As for an incumbent, the customs value is
        v = (c - T_0 - D) / (1 + tau_0),   and the scenario's cost   c' = v (1 + tau) + T + D
    at the scenario's rate tau and specific T of the product (``rates``, ``specific``: ``tariff_rates`` of
    its rows). A scenario that changes no tariff leaves c' = c. US-built new products pay none here
    (a plant of their own). Returns the products with their tariff columns and the costs."""
    products, costs = products.copy(), costs.copy()
    table = market.products.set_index("product_id")
    for product, rate, extra in zip(scenario.new_products, rates, specific):
        if product.assembled_in_us:
            continue
        j = int(np.flatnonzero(products["product_id"].eq(product_id(product)).to_numpy())[0])
        like = table.loc[product.like]
        distribution = float(like["base_cost"] - like["customs_value"])
        customs = (costs[j] - float(like["tariff_specific"]) - distribution) / (1.0 + float(like["tariff_rate"]))
        costs[j] = customs * (1.0 + rate) + extra + distribution
        products.loc[j, ["tariff_rate", "tariff_specific", "customs_value", "base_cost"]] = \
            [float(rate), float(extra), customs, customs + distribution]
    return products, costs


def announced_prices(scenario: Scenario, market: MarketModel) -> dict[str, float]:
    """Each new product's announced price at the model's price level (product_id -> price)."""
    return {product_id(p): p.announced_price_usd * market.data.scale_of(p.powertrain) for p in scenario.new_products}


def held_prices(market: MarketModel, products: pd.DataFrame, costs: np.ndarray) -> np.ndarray:
    """Every product's price before the scenario, where the announced prices are read against: the
    market's own (``initial_prices``: the observed 2025 prices, or a carried year's equilibrium), else
    the data's; a product new to the market at its cost plus the calibration's units-weighted mean
    markup (NaN for the announced products, whose cost is unknown)."""
    if market.initial_prices is not None:
        by_id = dict(zip(market.products["product_id"], market.initial_prices))
    else:  # a market with no start of its own: the data's prices
        by_id = dict(zip(market.data.products["product_id"], market.data.prices))
    mean_markup = float(np.average(market.calibration.markups, weights=market.calibration.arrays.units))
    prices = np.array([by_id.get(pid, np.nan) for pid in products["product_id"]], float)
    fill = np.isnan(prices)
    prices[fill] = costs[fill] + mean_markup
    return prices


def implied_costs(prices: np.ndarray, demand: Demand, xi: np.ndarray, costs: np.ndarray, omega: np.ndarray,
                  taxes: Taxes) -> np.ndarray:
    """Marginal cost of each product with an unknown cost (NaN) from its own first-order condition at
    ``prices`` (an announced product at its announced price, every other at its price before the scenario,
    ``held_prices``) and the known costs, at the consumer prices p^c = (1 + t) p + T the scenario's ``taxes``
    make (credits, operating-cost wedges), solved jointly:
        s_j + (1 + t_j) sum_k Omega_jk (p_k - c_k) ds_k/dp^c_j = 0 for each j with unknown c_j
    (BLP 1995, eq. 3.6, for the rows whose price is known and cost is not)."""
    consumer = taxes.consumer_prices(prices)
    delta = xi - demand.alpha * consumer
    s = shares(delta, consumer, demand)
    jac = (1 + taxes.ad_valorem)[None, :] * price_jacobian(delta, consumer, demand)  # ds_k / dp_j (producer)
    unknown = np.flatnonzero(np.isnan(costs))
    known = np.setdiff1d(np.arange(len(prices)), unknown)
    # FOC rows of the new products: s_j + sum_k Omega_jk (p_k - c_k) J_kj = 0, linear in their costs
    a = omega[np.ix_(unknown, unknown)] * jac[np.ix_(unknown, unknown)].T
    b = s[unknown] + (omega[np.ix_(unknown, known)] * jac[np.ix_(known, unknown)].T) @ (prices[known] - costs[known]) \
        + a @ prices[unknown]
    out = costs.copy()
    out[unknown] = np.linalg.solve(a, b)
    return out


RESPONSE_GRID = np.exp(np.linspace(np.log(0.5), np.log(3.0), 1201))  # announced price times these (0.15% steps)
TIE = 1e-9  # a grid price beats the announced one where it adds more than this share of the owner's profit


def rationalised_costs(announced: dict[str, float], market: MarketModel, products: pd.DataFrame, xi: np.ndarray,
                       costs: np.ndarray, owners: np.ndarray, kappa: np.ndarray | None,
                       taxes: Taxes | None = None, demand: Demand | None = None) -> tuple[np.ndarray, list[dict]]:
    """Each announced product's marginal cost: the cost at which its owner's best response, every other
    price held at its price before the scenario (``held_prices``), reaches the announced price; with a
    report row per product. ``demand`` is the market's demand over ``products`` (made here where None).

    The first-order condition (``implied_costs``) gives that cost where the announced price p_a is
    its owner's global best response at it. With price sensitivity from income the owner's profit in
    the product's own price,

        pi_f(p_j; c_j) = M sum_k Omega_jk (p_k - c_k) s_k(p_j, p_-j),

    can have two peaks, and a price between them is no best response at any cost: the first-order
    condition there holds at a profit minimum (or a lower peak), and the cost it implies would have the
    owner price elsewhere. The best response p*(c_j) is nondecreasing in c_j (Topkis 1978: the cross
    derivative d2 pi_f / dp_j dc_j = -Omega_jj ds_j/dp_j > 0), so it passes through p_a or jumps across
    it at one cost: the cost c* at which the owner is indifferent between its best price below p_a and
    its best price above it,

        max_{p < p_a} pi_f(p; c*) = max_{p > p_a} pi_f(p; c*),

    where pi_f(p; c) = pi_f(p; c_0) - M Omega_jj (c - c_0) s_j(p) is linear in c (bisection on the
    difference, increasing in c). Prices are taken over ``RESPONSE_GRID`` (0.5 to 3 times p_a). Several
    announced products are solved jointly by their first-order conditions, then each one not at its best
    response alone, the others' costs held. A cost of 0 or less where the announced price is a best
    response, or a positive gap at every positive cost, is an error: the price is too low."""
    demand = demand if demand is not None else market.demand_over(products)
    prices = held_prices(market, products, costs)
    ids = list(products["product_id"])
    for pid, price in announced.items():
        prices[ids.index(pid)] = price
    taxes = taxes if taxes is not None else Taxes.none(len(prices))
    omega = ownership_matrix(owners, kappa)
    costs = implied_costs(prices, demand, xi, costs, omega, taxes)
    report = []
    for pid, price in announced.items():
        j = ids.index(pid)
        grid = price * RESPONSE_GRID
        at = np.append(grid, price * np.array([1 - 1e-3, 1 + 1e-3, 1]))  # the grid, p_a's two sides, p_a
        profits = owner_profits(j, prices, at, (costs, xi, omega, taxes), demand)
        at_cost, sides = np.r_[profits[:-3], profits[-1]], profits[-3:-1]
        row = {"product_id": pid, "name": str(products.at[j, "name"]), "announced_price": float(price),
               "first_order_cost": float(costs[j])}
        if at_cost[:-1].max() - at_cost[-1] <= TIE * abs(at_cost[-1]):  # p_a is the best response
            if costs[j] <= 0:
                raise ScenarioError(f"new product {row['name']!r}: its announced price implies a marginal cost of "
                                    f"${costs[j]:,.0f}; the price is too low for this market's demand")
            report.append({**row, "cost": float(costs[j]), "rule": "first-order condition"})
            continue
        row["first_order_point"] = "profit minimum" if sides.min() > at_cost[-1] else "lower profit peak"
        raised = costs.copy()
        raised[j] += 1.0
        # s_j at each grid price, from d profit / d c_j = -Omega_jj s_j (profit is linear in c_j)
        sold = (profits[:-3] - owner_profits(j, prices, grid, (raised, xi, omega, taxes), demand)) / omega[j, j]
        below, above = grid < price, grid > price

        def profits_at(c: float) -> np.ndarray:  # the owner's profit over the grid at cost c
            return at_cost[:-1] - omega[j, j] * (c - costs[j]) * sold

        def gap(c: float) -> float:  # best profit above p_a less best below it, at cost c (increasing in c)
            found = profits_at(c)
            return float(found[above].max() - found[below].max())

        low, high = 0.0, float(price)  # at c = p_a no price below it pays: the gap is positive
        if gap(high) <= 0:
            raise ScenarioError(f"new product {row['name']!r}: its owner's best price stays below its announced price "
                                f"${price:,.0f} (model level) even at a marginal cost equal to it")
        if gap(low) > 0:
            raise ScenarioError(f"new product {row['name']!r}: its owner would price it above its announced price "
                                f"${price:,.0f} (model level) at any positive marginal cost; the price is too low "
                                "for this market's demand")
        while high - low > 0.01:
            middle = 0.5 * (low + high)
            low, high = (middle, high) if gap(middle) < 0 else (low, middle)
        cost = 0.5 * (low + high)
        found = profits_at(cost)
        peaks = (int(np.flatnonzero(below)[np.argmax(found[below])]),
                 int(np.flatnonzero(above)[np.argmax(found[above])]))
        costs[j] = cost
        report.append({**row, "cost": float(cost), "rule": "indifference",
                       "peaks": [{"price": float(grid[k]), "units": float(market.market_size * sold[k])}
                                 for k in peaks]})
    return costs, report
