"""The exogenous paths' channels into a year's market (paths: ``autopact.data.paths``; assumptions:
``autopact.data.exogenous_assumptions``).

After the data year (2025) ``autopact.policy.dated.at_year`` puts each path's ratio to 2025 among
the year's parameters (``exogenous_parameters``); ``autopact.policy.levers.apply`` then moves the
market by the ratio of those to what the market already holds (1 on the calibrated 2025 market),
so a market carried to a year and a scenario evaluated at the same year agree, and a 2025 or
undated run never sees them:

- market size (``market_size_index``, US households over 2025's, JCHS):
      M_Y = M_2025 x H_Y / H_2025
  units q_j = M s_j and consumer surplus scale with it; shares do not (households choose alike).
- incomes (``income_index``, real household income over 2025's, held in the central case, SSA Trustees' productivity growth at the high end):
      y_iY = y_i2025 x I_Y / I_2025,   so   alpha_iY = alpha + pi / y_iY
  each simulated household's income is scaled (the distribution's shape held), so price
  sensitivity falls as incomes grow (the calibration's price form, ``autopact.fit.price_forms``).
- fuel and electricity (``gasoline_price_index``, ``electricity_price_index``, EIA): the change in a
  product's discounted lifetime operating cost against 2025, relative to that of the outside
  alternative, is a consumer-price wedge, like a credit (``autopact.policy.credits``; Busse, Knittel
  and Zettelmeyer 2013; Allcott and Wozny 2014):
      T_jY = s x D_c x L_c x f_j x (P_eY / P_e2025 - 1)              the new product's own change
      T_0Y = s x D_c x L_c x f_0 x (P_gY / P_g2025 - 1)              the outside alternative's
      wedge_jY = T_jY - T_0Y = s x D_c x L_c x [f_j (P_eY/P_e2025 - 1) - f_0 (P_gY/P_g2025 - 1)]
  with f_j the product's fuel cost per mile at 2025 prices (products_2025.csv), P_e the price of its
  energy e (gasoline for ICE, HEV and PHEV; residential electricity for BEV), P_g the gasoline
  price, L_c the lifetime miles and D_c their present-value factor of its class c (NHTSA, Lu 2006:
  car or light truck), and s the share of that present value buyers act on
  (``fuel_cost_valuation_share``, 0.76). f_0 is the fuel cost per mile of the outside alternative
  (no new vehicle: keep the current one, buy a used one, or none), the on-road light-duty fleet's:
  $3.10 a gallon (2025) over 23.4307 miles per gallon (FHWA VM-1 2024; ``outside_vehicle_fuel_economy``).
  Why relative: utility is relative to the outside good (economics.md: u_i0 normalised to 0), and
  the outside alternative burns gasoline too; the same miles are driven whichever vehicle drives
  them, so a gasoline price change moves its operating cost as well. With u_i0 = -alpha_i T_0,
  u_ij - u_i0 = ... - alpha_i (p_j + T_j - T_0): the form implemented is each inside product's
  wedge shifted by -T_0. T_0 takes each product's class miles (below), so it differs between a car
  and a light truck by s (D_car L_car - D_truck L_truck) f_0 (P_g change), $105 at 2026's $2.92;
  with one class it would be exactly a utility change of the outside good.
  Busse, Knittel and Zettelmeyer (2013) estimate how gasoline prices move the prices of new and used
  cars by fuel-economy quartile: used cars, the outside alternative here, reprice with their fuel
  costs, and valuation is identified from fuel-cost differences between vehicles, not their level.
  T_0 takes the miles and discount factor of the class of the product it is compared with (the
  same D_c and L_c): the household drives the same miles over the same horizon in the vehicle it
  keeps as in the new one that would replace it, so the wedge values the fuel-cost difference per
  mile, f_j P_e-change against f_0 P_g-change, over those miles. Electricity does not enter T_0:
  the fleet's miles per gallon are VM-1's miles over the fuel it burned. Grigolon, Reynaert and
  Verboven (2018) value fuel costs in a discrete-choice demand of the European car market; how they treat the outside
  good's fuel cost was not in the stored pages (a GAP). The wedge enters p^c_j = p_j + wedge_j:
  demand and consumer surplus see it, firms' revenue does not, and the average prices of a result
  leave it out (``operating_cost_wedge`` beside the products): it is weighed by buyers, not paid at
  purchase. A product's ``consumer_price`` in the JSON includes it. Consumer surplus is relative to
  the outside good (economics.md: up to a constant), so it leaves out the fuel saved on the vehicle
  a household keeps, -T_0 for every household whatever it chooses: a change of gasoline price
  moves it by the new vehicles' gain or loss against the vehicles they replace.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from autopact.data.exogenous_assumptions import (
    CAR_SEGMENTS,
    FUEL_COST_VALUATION_SHARE,
    LIFETIME_DISCOUNT_FACTOR,
    LIFETIME_MILES,
    OUTSIDE_VEHICLE_MPG,
)
from autopact.data.paths import DATA_YEAR, path_ratio, path_value
from autopact.errors import ScenarioError
from autopact.fit.calibration import build_demand
from autopact.fit.market import MarketModel

SIZE, INCOME, GASOLINE, ELECTRICITY = ("market_size_index", "income_index", "gasoline_price_index",
                                       "electricity_price_index")
EXOGENOUS = {SIZE: "households_million", INCOME: "real_income_index", GASOLINE: "gasoline_usd_per_gallon",
             ELECTRICITY: "electricity_usd_per_kwh"}
GASOLINE_POWERTRAINS = ("ICE", "HEV", "PHEV")


def exogenous_parameters(year: int, quantiles: dict[str, float]) -> dict[str, float]:
    """Each path's value in ``year`` over its 2025 value, at the scenario's ``paths`` quantile (else
    central), under the parameter name its channel reads."""
    return {name: path_ratio(path, year, quantiles.get(path)) for name, path in EXOGENOUS.items()}


def _move(params: dict[str, float], held: dict[str, float], name: str) -> float:
    """The ratio of the index in force to the one the market holds (1 where neither is set)."""
    return params.get(name, 1.0) / held.get(name, 1.0)


def with_market_size_and_incomes(market: MarketModel, params: dict[str, float]) -> MarketModel:
    """The market at ``params``' market size and income indices, from those it holds (see the module
    docstring); the market itself where both ratios are 1 (every 2025 and undated run)."""
    size, income = _move(params, market.parameters, SIZE), _move(params, market.parameters, INCOME)
    changes: dict = {}
    if size != 1.0:
        changes["market_size"] = market.market_size * size
    if income != 1.0:
        calibration = market.calibration
        if calibration is None:
            raise ScenarioError(f"{INCOME}: the market has no simulated households to scale (an estimated market)")
        households = replace(calibration.households, income=calibration.households.income * income)
        demand = build_demand(calibration.parameters, calibration.arrays, households, calibration.form)
        calibration = replace(calibration, households=households, demand=demand)
        changes.update(calibration=calibration, households=households,
                       demand=replace(market, calibration=calibration).demand_over(market.products))
    if not changes:
        return market
    moved = market.with_products(**changes)
    if "launch_gaps" in market.cache:  # they depend on the products and xi only, not on incomes or size
        moved.cache["launch_gaps"] = market.cache["launch_gaps"]
    if income == 1.0 and "inverse_jacobian" in market.cache:  # the equilibrium map reads shares, not the size
        moved.cache["inverse_jacobian"] = market.cache["inverse_jacobian"]  # (``policy.levers.path_inverse``)
    return moved


def fuel_cost_per_mile(products: pd.DataFrame, market: MarketModel) -> np.ndarray:
    """Each product's fuel cost per mile at 2025 prices (products_2025.csv); a product the data lack
    (an entrant, a new product) takes the mean of the data's products of its powertrain, and one
    with none (an FCEV) zero (named assumption ``operating_cost_energy``)."""
    data = market.data.products
    known = data.set_index("product_id")["fuel_cost_usd_per_mile"].astype(float)
    by_powertrain = data.groupby("powertrain")["fuel_cost_usd_per_mile"].mean()
    cost = known.reindex(products["product_id"]).to_numpy()
    fill = products["powertrain"].map(by_powertrain).to_numpy(float)
    cost = np.where(np.isnan(cost), fill, cost)
    return np.nan_to_num(cost, nan=0.0)


def outside_fuel_cost_per_mile() -> float:
    """f_0 of the module docstring: the outside alternative's fuel cost per mile at 2025 prices, the
    data year's gasoline price (exogenous_paths.csv, the price products_2025.csv's fuel costs are
    built on) over the on-road light-duty fleet's miles per gallon (``outside_vehicle_fuel_economy``)."""
    return path_value(EXOGENOUS[GASOLINE], DATA_YEAR) / OUTSIDE_VEHICLE_MPG


def operating_cost_wedge(products: pd.DataFrame, market: MarketModel, params: dict[str, float]) -> np.ndarray | None:
    """wedge_j = T_j - T_0 of the module docstring for each of ``products`` (in the market's money
    unit), or None when ``params`` carry no fuel or electricity price index (every 2025 and undated
    run)."""
    if GASOLINE not in params and ELECTRICITY not in params:
        return None
    if market.data is None or "fuel_cost_usd_per_mile" not in market.data.products.columns:
        raise ScenarioError(f"{GASOLINE}: the market's data have no fuel_cost_usd_per_mile")
    powertrain = products["powertrain"].to_numpy(str)
    ratio = np.ones(len(products))
    ratio[np.isin(powertrain, GASOLINE_POWERTRAINS)] = params.get(GASOLINE, 1.0)
    ratio[powertrain == "BEV"] = params.get(ELECTRICITY, 1.0)
    car = products["segment"].isin(CAR_SEGMENTS).to_numpy()
    miles = np.where(car, LIFETIME_MILES["car"] * LIFETIME_DISCOUNT_FACTOR["car"],
                     LIFETIME_MILES["light_truck"] * LIFETIME_DISCOUNT_FACTOR["light_truck"])
    own = fuel_cost_per_mile(products, market) * (ratio - 1.0)
    outside = outside_fuel_cost_per_mile() * (params.get(GASOLINE, 1.0) - 1.0)
    dollars = FUEL_COST_VALUATION_SHARE * miles * (own - outside)
    return dollars / (market.money.get("dollars_per_unit") or 1.0)
