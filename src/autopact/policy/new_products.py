"""New products of incumbents (e.g. Ford's Universal EV pickup) with an announced price.

Characteristics come from a named comparable product (a BEV's range from ``range_miles`` where
announced); mean utility as for any entrant (hedonic
fit, its make's residual for the powertrain, else its firm's, the launch term); marginal cost from the product's own
first-order condition at its announced price (``implied_costs``); output capped by its plant.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from autopact.data.tariffs import US
from autopact.errors import ScenarioError
from autopact.fit.market import MarketModel
from autopact.model.demand import price_jacobian, shares
from autopact.model.supply import ownership_matrix
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
    firm's residual for the product's powertrain + the launch term of its year on sale (``years_on_sale``,
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


def announced_prices(scenario: Scenario, market: MarketModel) -> dict[str, float]:
    """Each new product's announced price at the model's price level (product_id -> price)."""
    return {product_id(p): p.announced_price_usd * market.data.scale_of(p.powertrain) for p in scenario.new_products}


def implied_costs(announced: dict[str, float], market: MarketModel, products: pd.DataFrame, xi: np.ndarray,
                  costs: np.ndarray, owners: np.ndarray, kappa: np.ndarray | None) -> np.ndarray:
    """Marginal cost of each product with an unknown cost (NaN) from its own first-order condition
    at its ``announced`` price (model price level), every other product at its baseline price and
    known cost (entrants at cost plus the baseline's mean markup), solved jointly:
        s_j + sum_k Omega_jk (p_k - c_k) ds_k/dp_j = 0 for each j with unknown c_j."""
    cal, data = market.calibration, market.data
    demand = market.demand_over(products)
    # the market's own rows (a carried market may have fewer than the calibration: rows barred by a rule)
    by_id = dict(zip(data.products["product_id"], data.prices))
    prices = np.array([by_id.get(pid, np.nan) for pid in products["product_id"]])
    mean_markup = float(np.average(cal.markups, weights=cal.arrays.units))  # the calibration's, over its rows
    for j, pid in enumerate(products["product_id"]):
        if pid in announced:
            prices[j] = announced[pid]
        elif np.isnan(prices[j]):
            prices[j] = costs[j] + mean_markup
    delta = xi - demand.alpha * prices
    s = shares(delta, prices, demand)
    jac = price_jacobian(delta, prices, demand)
    omega = ownership_matrix(owners, kappa)
    unknown = np.flatnonzero(np.isnan(costs))
    known = np.setdiff1d(np.arange(len(prices)), unknown)
    # FOC rows of the new products: s_j + sum_k Omega_jk (p_k - c_k) J_kj = 0, linear in their costs
    a = omega[np.ix_(unknown, unknown)] * jac[np.ix_(unknown, unknown)].T
    b = s[unknown] + (omega[np.ix_(unknown, known)] * jac[np.ix_(known, unknown)].T) @ (prices[known] - costs[known]) \
        + a @ prices[unknown]
    out = costs.copy()
    out[unknown] = np.linalg.solve(a, b)
    for j in unknown:
        if out[j] <= 0:
            raise ScenarioError(f"new product {products.at[j, 'name']!r}: its announced price implies a marginal "
                                f"cost of ${out[j]:,.0f}; the price is too low for this market's demand")
    return out
