"""Apply a scenario to a market: ``apply(scenario, market) -> MarketModel``, the market the scenario makes.

Each lever transforms the market (the project's economics reference sheet):
- policy parameters replace the tariff rates and cost components in force (``parameters``);
- the connected-vehicle rule removes Chinese-controlled makers' products (joint ventures when the
  Chinese profit share reaches ``connected_vehicle_threshold``);
- synergies scale the customs value (cost before tariffs) of a firm's products: v'_j = v_j (1 + g);
- tariffs: c_j = v_j (1 + tau_j) + T_j with the stack in force at the scenario's rates plus extra
  rules (``autopact.policy.tariffs``); from 2026 each import's customs value is the one its costs
  have once the whole 2025 Section 232 duty reaches prices (``tariffs.customs_catch_up``);
- entrants and new products add rows (``autopact.policy.entry``, ``autopact.policy.new_products``);
- joint ventures and mergers set profit weights (``autopact.policy.ownership``);
- credits (or surcharges) put a wedge between consumer and producer prices (``autopact.policy.credits``);
- quotas and plant capacities become constraints of the equilibrium (``autopact.simulate``);
- after 2025, the exogenous paths' market size and incomes scale the market, and fuel and
  electricity prices add an operating-cost wedge to consumer prices (``autopact.policy.exogenous``).
A dated scenario is first evaluated at its year (``autopact.policy.dated``: the levers in force then,
over the bundled policy timeline after the data year); an undated one is used as it is.
A lever that needs something the market lacks is refused with one line naming the field, and so is
a market whose marginal costs or mean utilities it makes non-finite, or whose costs it lifts above
``autopact.data.inputs.MAX_PRICE_USD`` (``check_costs``): the solver is never handed them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from autopact.data.inputs import MAX_PRICE_USD
from autopact.data.tariffs import US, origin_weights
from autopact.errors import ScenarioError
from autopact.fit.market import DEMAND_KEY, MarketModel  # DEMAND_KEY: the market.cache entry of ``demand_for``
from autopact.model.demand import Demand
from autopact.model.continuation import Origin, origin
from autopact.model.newton import inverse_jacobian
from autopact.model.supply import Taxes, ownership_matrix
from autopact.policy import entry, new_products
from autopact.policy.credits import consumer_wedges
from autopact.policy.dated import evaluated
from autopact.policy.exogenous import operating_cost_wedge, with_market_size_and_incomes
from autopact.policy.hedonic import Hedonic
from autopact.policy.ownership import ownership
from autopact.policy.scenario import Scenario
from autopact.policy.tariffs import check_tariff_names, customs_catch_up, tariff_rates


def parameters(scenario: Scenario, market: MarketModel) -> dict[str, float]:
    """The policy parameters of the scenario: the market's, with the scenario's overrides."""
    return {**market.parameters, **scenario.parameters}


def assembly_origin(products: pd.DataFrame, market: MarketModel, params: dict[str, float]) -> pd.DataFrame:
    """Assembly shares (J, countries): from the listed assembly countries where the products have
    them (``unknown_assembly_import_share`` for those without), else the market's own."""
    if "assembly_countries" not in products.columns:
        return market.origin
    return origin_weights(products["assembly_countries"], products["home_country"],
                          params["unknown_assembly_import_share"])


def market_origin(market: MarketModel, params: dict[str, float]) -> pd.DataFrame:
    """``assembly_origin`` of the market's own products, once per market and value of
    ``unknown_assembly_import_share`` (``market.cache``): every draw of a run applies its scenario to
    the same market (a list of the products' countries parsed row by row each time). Read only."""
    key = params.get("unknown_assembly_import_share")
    found = market.cache.get("origin")
    if found is None or found[0] != key or found[1] is not market.products:
        found = market.cache["origin"] = (key, market.products, assembly_origin(market.products, market, params))
    return found[2]


def kept_incumbents(market: MarketModel, origin: pd.DataFrame, keep: np.ndarray) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The incumbents a scenario keeps (without an operating-cost wedge of the market's) and their
    assembly shares, renumbered from 0; where it keeps them all, once per market and ``origin``
    (``market.cache``: every draw of a run keeps the same). Read only."""
    def made() -> tuple[pd.DataFrame, pd.DataFrame]:
        kept = market.products[keep].drop(columns="operating_cost_wedge", errors="ignore").reset_index(drop=True)
        return kept, origin[keep].reset_index(drop=True)

    if not keep.all():
        return made()
    found = market.cache.get("incumbents")
    if found is None or found[0] is not market.products or found[1] is not origin:
        found = market.cache["incumbents"] = (market.products, origin, *made())
    return found[2], found[3]


def applied_origin(products: pd.DataFrame, market: MarketModel, params: dict[str, float],
                   incumbent_origin: pd.DataFrame, keep: np.ndarray) -> pd.DataFrame:
    """``assembly_origin(products, market, params)`` of an applied market whose first rows are all the
    market's incumbents: their shares as computed once per market (``kept_incumbents``), the added
    rows' parsed, on the union of both's countries. Each row's shares depend on that row alone, so
    the numbers are the same; where the scenario bars incumbents, the whole is parsed as before
    (their countries may leave the columns)."""
    if "assembly_countries" not in products.columns or not keep.all() or \
            "assembly_countries" not in market.products.columns:
        return assembly_origin(products, market, params)
    added = products.iloc[len(incumbent_origin):]
    own = origin_weights(added["assembly_countries"], added["home_country"], params["unknown_assembly_import_share"])
    columns = sorted(set(incumbent_origin.columns) | set(own.columns))
    # laid out as ``origin_weights`` lays out its frame (a C-ordered products x countries array): the
    # metrics' sums over products add in the order that layout gives (another added in another order)
    values = np.zeros((len(products), len(columns)))
    values[:len(incumbent_origin), [columns.index(c) for c in incumbent_origin.columns]] = incumbent_origin.to_numpy()
    values[len(incumbent_origin):, [columns.index(c) for c in own.columns]] = own.to_numpy()
    return pd.DataFrame(values, columns=columns, index=products.index)




def demand_for(market: MarketModel, products: pd.DataFrame) -> Demand:
    """``market.demand_over(products)``, reused while the products' characteristics and nests are the
    same as the last product set's (``market.cache``): the draws of a run that change costs, policy or
    mean utilities only keep their product set, so the demand's derived arrays (the households'
    tastes, an (I, J) product, and the nest indicators) are made once per run instead of every draw.
    The same numbers: the demand differs only in what it has cached. A run's jobs make their own
    (``runs.execution.prepare`` drops one made before them, e.g. by the central run, whose BLAS was
    not held to one thread), and a pickled market leaves it out (``fit.market.PROCESS_CACHE``: I x J
    numbers twice over, which each Dask worker makes for itself)."""
    demand = market.demand_over(products)
    if demand is market.demand or market.calibration is None:
        return demand
    key = (demand.characteristics.tobytes(), demand.nests.tobytes(),
           None if demand.subnests is None else demand.subnests.tobytes())
    found = market.cache.get(DEMAND_KEY)  # (the demand it was made from, key, demand)
    if found is not None and found[0] is market.calibration.demand and found[1] == key:
        return found[2]
    market.cache[DEMAND_KEY] = (market.calibration.demand, key, demand)
    return demand


def check_names(scenario: Scenario, market: MarketModel, origin: pd.DataFrame) -> None:
    """Origins, nationalities and firms the levers name must be ones the market has (Chinese
    origin and nationality are known wherever Chinese models can enter)."""
    china = {"China"} if market.data is not None else set()
    countries = set(origin.columns) | china
    check_tariff_names(scenario.extra_tariffs, countries, set(market.products["nationality"]) | china, market.money)
    for k, quota in enumerate(scenario.quotas):
        if quota.origin not in countries - {US}:
            raise ScenarioError(f"quotas[{k}].origin: unknown or domestic country {quota.origin!r}")
    for k, synergy in enumerate(scenario.synergies):
        if synergy.firm not in market.owner_names:
            raise ScenarioError(f"synergies[{k}].firm: unknown firm {synergy.firm!r}; known: "
                                f"{', '.join(market.owner_names)}")


def check_costs(products: pd.DataFrame, costs: np.ndarray, xi: np.ndarray, money: dict) -> None:
    """Refuse (ScenarioError, naming the products) marginal costs or mean utilities that are not finite,
    and marginal costs above MAX_PRICE_USD a vehicle (in the market's money unit): such products come
    from extreme tariffs, cost parameters or announced prices, and the equilibrium solver is not
    built for them (it would grind through its iteration limit)."""
    names = products["name"].to_numpy() if "name" in products.columns else products["product_id"].to_numpy()

    def listed(mask: np.ndarray, values: np.ndarray, dollars: bool = False) -> str:
        picked = np.flatnonzero(mask)
        return ", ".join(f"{names[j]!r} ({f'${values[j]:,.0f}' if dollars else f'{values[j]:.4g}'})"
                         for j in picked[:3]) + (f" and {len(picked) - 3} more" if len(picked) > 3 else "")

    bad = ~np.isfinite(xi)
    if bad.any():
        raise ScenarioError(f"the scenario makes the mean utility of {bad.sum()} product(s) not finite: "
                            f"{listed(bad, xi)}; check parameters such as chinese_brand_consideration_share, "
                            "which must be above 0 where Chinese models enter")
    bad = ~np.isfinite(costs)
    if bad.any():
        raise ScenarioError(f"the scenario makes the marginal cost of {bad.sum()} product(s) not finite: "
                            f"{listed(bad, costs)}; check its tariffs, cost parameters and announced prices")
    per_unit = money.get("dollars_per_unit")
    ceiling = MAX_PRICE_USD / per_unit if per_unit else np.inf
    bad = costs > ceiling
    if bad.any():
        raise ScenarioError(f"the scenario lifts the marginal cost of {bad.sum()} product(s) above "
                            f"${MAX_PRICE_USD:,.0f} a vehicle (autopact.data.inputs.MAX_PRICE_USD; beyond it a cost "
                            f"is a unit error): {listed(bad, costs * (per_unit or 1.0), dollars=True)}; check its tariffs, "
                            "cost parameters and announced prices")


BATTERY_CHANGE = "battery_pack_price_change_usd_per_kwh"  # kept in an applied market's parameters when not 0


def battery_cost_change(scenario: Scenario, market: MarketModel, incumbents: pd.DataFrame) -> np.ndarray:
    """Change of each incumbent's cost before tariffs from the battery pack price change (dollars a
    kWh, in the market's money unit) times its ``battery_kwh`` (products_2025.csv; BEVs only, and
    none for a BEV whose battery the data do not give). Zero when the scenario has no change."""
    # a market carried to a later year holds its year's change already (``autopact.simulate.carried``)
    change = scenario.battery_pack_price_change_usd_per_kwh - market.parameters.get(BATTERY_CHANGE, 0.0)
    if not change:
        return np.zeros(len(incumbents))
    if market.data is None or "battery_kwh" not in market.data.products.columns:
        raise ScenarioError("battery_pack_price_change_usd_per_kwh: the market's data have no battery_kwh")
    kwh = market.data.products.set_index("product_id")["battery_kwh"].astype(float)
    per_vehicle = kwh.reindex(incumbents["product_id"]).fillna(0.0).to_numpy()
    per_vehicle[~incumbents["powertrain"].eq("BEV").to_numpy()] = 0.0
    return per_vehicle * change / (market.money.get("dollars_per_unit") or 1.0)


def barred_incumbents(scenario: Scenario, market: MarketModel) -> np.ndarray:
    """Incumbents the connected-vehicle rule removes (Chinese-controlled makers' products)."""
    rule = scenario.connected_vehicle_rule
    if not (rule.enabled and rule.applies_to_incumbents):
        return np.zeros(len(market.products), bool)
    return market.products["nationality"].eq("China").to_numpy()


def hedonic_fit(market: MarketModel) -> Hedonic | None:
    """The hedonic fit of the market's mean utilities that entrants' come from (None for a market
    without data), fitted once per market (``market.cache``): every draw of a scenario on one market,
    and every variant, applies the scenario to it again, and a fit took 10-14 ms of a 0.17 s draw."""
    if market.data is None:
        return None
    if "hedonic" not in market.cache:
        market.cache["hedonic"] = Hedonic.fit(market.products, market.xi, market.data.units)
    return market.cache["hedonic"]


def fixed_point_start(market: MarketModel, products: pd.DataFrame,
                      initial_prices: dict[str, float] | None = None) -> np.ndarray | None:
    """Where the scenario's equilibrium search starts: each product at ``initial_prices`` where named,
    else at its price in the market before the scenario (``market.initial_prices``: the observed 2025
    prices of the calibrated market), else (an entrant, a new product) at its cost (NaN here).

    The choice selects the equilibrium where the game has more than one. With price sensitivity
    from income a cheap model's owner can have two profit peaks (``autopact.runs.best_response``),
    and the 2025 game then has other equilibria besides the observed prices: from costs the search
    reached one with the Elantra hybrid $2,550 cheaper under a scenario that changes nothing. Started
    at the status quo, a scenario that changes nothing returns it, and a scenario's equilibrium is
    the one its changes lead to from today's prices, as merger simulations start at pre-merger
    prices (PyBLP's ``compute_prices`` at the current ones). A market whose counterfactuals start at
    its baseline prices (``start_at_baseline``, an estimated one) keeps that start as it is."""
    if market.start_at_baseline:
        return market.initial_prices
    before = {} if market.initial_prices is None else dict(zip(market.products["product_id"], market.initial_prices))
    named = initial_prices or {}
    start = np.array([named.get(pid, before.get(pid, np.nan)) for pid in products["product_id"]], float)
    return None if np.isnan(start).all() else start


def path_origin(market: MarketModel, products: pd.DataFrame, costs: np.ndarray, xi: np.ndarray, taxes: Taxes,
                owners: np.ndarray, kappa: np.ndarray | None) -> Origin | None:
    """Where a scenario's equilibrium path starts (``autopact.model.continuation``): the market before
    it on the scenario's products, with the inverse Jacobian of the equilibrium map at today's prices
    (computed once per market, J + 1 evaluations of the map, kept in ``market.cache``). None for an
    estimated market (its counterfactuals start at its baseline prices) or one without today's prices."""
    if market.kind != "calibrated" or market.initial_prices is None or not np.isfinite(market.initial_prices).all():
        return None
    before_taxes = market.taxes if market.taxes is not None else Taxes.none(len(market.costs))
    return origin(list(market.products["product_id"]), market.costs, market.xi, before_taxes,
                  ownership_matrix(market.owners, market.kappa), path_inverse(market), list(products["product_id"]),
                  costs, xi, taxes, ownership_matrix(owners, kappa))


def path_inverse(market: MarketModel) -> np.ndarray:
    """(I - d zeta/dp)^{-1} at the market's own prices (``newton.inverse_jacobian``: J + 1 evaluations of
    the map, about 0.3 s on the 2025 market), once per market: kept in ``market.cache``, so a market read
    from the disk cache brings it (``autopact.simulate``)."""
    if "inverse_jacobian" not in market.cache:
        market.cache["inverse_jacobian"] = inverse_jacobian(
            market.costs, market.xi, market.demand, ownership_matrix(market.owners, market.kappa),
            market.taxes if market.taxes is not None else Taxes.none(len(market.costs)), market.initial_prices)
    return market.cache["inverse_jacobian"]


def apply(scenario: Scenario, market: MarketModel, initial_prices: dict[str, float] | None = None,
          path: bool = True) -> MarketModel:
    """The market under the scenario (see the module docstring for each lever).

    ``initial_prices`` (product_id -> price) starts the scenario's fixed point there; every other
    product starts at its baseline price, and one new to the market at its cost (``fixed_point_start``).
    ``path=False`` leaves out where the equilibrium path starts (``before`` None): for a draw, which
    solves from its central result's Newton matrix and never follows the path, so that a re-calibrated
    draw's market does not pay for its own Newton matrix (``path_inverse``, 0.3 s of a 0.4 s draw).
    """
    scenario = evaluated(scenario)
    params = parameters(scenario, market)
    if scenario.battery_pack_price_change_usd_per_kwh or BATTERY_CHANGE in params:
        params[BATTERY_CHANGE] = scenario.battery_pack_price_change_usd_per_kwh
    market = with_market_size_and_incomes(market, params)
    origin = market_origin(market, params)
    check_names(scenario, market, origin)
    hedonic = hedonic_fit(market)
    entered = entry.entrants(scenario, market, params, hedonic)
    barred = barred_incumbents(scenario, market)
    excluded = entered.excluded + [f"{n}: barred by the connected-vehicle rule"
                                   for n in market.products.loc[barred, "name"]]
    new_products.check(scenario, market)

    keep = ~barred
    incumbents, incumbent_origin = kept_incumbents(market, origin, keep)
    customs = incumbents["customs_value"].to_numpy(float).copy()
    caught_up = customs_catch_up(incumbents, params, market.parameters)
    if caught_up is not None:  # the 2025 duty 2025's prices did not carry, passed on in a later year
        customs *= caught_up
    for k, synergy in enumerate(scenario.synergies):
        match = incumbents["owner"].eq(synergy.firm).to_numpy()
        if synergy.powertrain:
            match &= incumbents["powertrain"].isin(synergy.powertrain).to_numpy()
        if not match.any():
            raise ScenarioError(f"synergies[{k}]: firm {synergy.firm!r} has no matching products")
        customs[match] *= 1 + synergy.change_pct / 100
    customs += battery_cost_change(scenario, market, incumbents)
    rate, specific = tariff_rates(incumbents, incumbent_origin, params, scenario.extra_tariffs,
                                  stack=market.tariff_stack)
    specific = specific / (market.money.get("dollars_per_unit") or 1.0)  # dollars -> the market's money unit
    # US distribution (the dealer's gross) sits in each incumbent's cost outside its customs value
    # (``fit.market.calibrated_model``): base_cost = customs value + distribution
    distribution = (incumbents["base_cost"] - incumbents["customs_value"]).to_numpy(float)
    frames = [incumbents.assign(tariff_rate=rate, tariff_specific=specific, customs_value=customs,
                                base_cost=customs + distribution)]
    xis, costs = [market.xi[keep]], [customs * (1 + rate) + specific + distribution]
    if entered.rows:
        frame, xi, cost = entry.entrant_frame(entered)
        frames.append(frame)
        xis.append(xi)
        costs.append(cost)
    if scenario.new_products:
        rows, xi, plants = new_products.new_product_rows(scenario, market, hedonic, params)
        entered.capacities += plants
        frames += rows
        xis.append(np.array(xi))
        costs.append(np.full(len(rows), np.nan))
    products = pd.concat(frames, ignore_index=True)
    xi_all, cost_all = np.concatenate(xis), np.concatenate(costs)
    holders = {*market.stakes.columns, *(h for split in entered.stakes.values() for h in split)}
    stakes, owners, owner_names, kappa = ownership(products, entered.stakes, scenario.mergers, list(holders))
    taxes = consumer_wedges(scenario.credits, products, market.money) if scenario.credits else Taxes.none(len(products))
    operating = operating_cost_wedge(products, market, params)
    if operating is not None:  # kept beside the products: averages of purchase prices leave it out (metrics)
        taxes = Taxes(taxes.ad_valorem, taxes.specific + operating)
        products = products.assign(operating_cost_wedge=operating)
    demand = demand_for(market, products)
    announced: list[dict[str, Any]] = []
    if scenario.new_products:  # their costs: where their owner's best response reaches the announced prices
        cost_all, announced = new_products.rationalised_costs(new_products.announced_prices(scenario, market), market,
                                                              products, xi_all, cost_all, owners, kappa, taxes, demand)
        unknown = products["base_cost"].isna()
        products.loc[unknown, "base_cost"] = cost_all[unknown.to_numpy()]
        if not all(p.assembled_in_us for p in scenario.new_products):  # imports pay their origin's tariff
            added = products[products["product_id"].isin([new_products.product_id(p) for p in scenario.new_products])]
            new_rates, new_specific = tariff_rates(
                added, origin_weights(added["assembly_countries"], added["home_country"],
                                      params["unknown_assembly_import_share"]),
                params, scenario.extra_tariffs, stack=market.tariff_stack)
            products, cost_all = new_products.imported_costs(
                scenario, market, products, cost_all, new_rates,
                new_specific / (market.money.get("dollars_per_unit") or 1.0))
    check_costs(products, cost_all, xi_all, market.money)
    start = fixed_point_start(market, products, initial_prices)
    return market.with_products(
        products=products, origin=applied_origin(products, market, params, incumbent_origin, keep), xi=xi_all,
        costs=cost_all,
        demand=demand,
        stakes=stakes, owners=owners, owner_names=owner_names, kappa=kappa, initial_prices=start,
        quotas=tuple(scenario.quotas), capacities=tuple(entered.capacities), parameters=params,
        excluded=excluded, entrant_costs=entered.report, announced_costs=announced, hedonic_r2=None if hedonic is None else hedonic.r2,
        taxes=taxes, before=path_origin(market, products, cost_all, xi_all, taxes, owners, kappa) if path else None)
