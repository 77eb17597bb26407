"""Outcomes: solve one state of the market and measure it; compare scenario with baseline.

Definitions (all annual, 2025 dollars at the model's price level; a scenario on an estimated
market counts in its data's money unit instead, see ``autopact.estimated``):
- units q_j = M s_j; average price = units-weighted consumer price; BEV share = BEV units / units.
- consumer surplus: M sum_i w_i log(1 + sum_g exp(IV_ig)) / alpha_i (only changes are meaningful);
  by income group the same sum over the households in the group, per household.
- profit of product j: (p_j - c_j) q_j, with c_j including tariffs; split to owners by profit
  shares (joint ventures to their parents), totalled by firm and by the owner's nationality.
- tariff revenue: sum_j (tau_j v_j + T_j) q_j over customs values v_j (plus in-quota rates).
- US-assembled units: q_j times the share of j's listed assembly countries that is the US;
  US assembly jobs = those units / vehicles per assembly worker (policy parameter).
- HHI on owners' unit shares, joint-venture units attributed by profit shares, 0 to 10,000.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from autopact.demand import Demand, log_sum
from autopact.policy import NEW_BRAND_MAKES, US, State
from autopact.supply import CapacityConstraint, Taxes, ownership_matrix, solve_constrained, solve_prices

NOT_STATED = "not stated"  # assembly country of products whose origin the data do not give
INCOME_GROUPS = ((0, 50_000, "under $50k"), (50_000, 100_000, "$50k-100k"), (100_000, 200_000, "$100k-200k"),
                 (200_000, np.inf, "$200k and over"))


def solved_state(products: pd.DataFrame, origin: pd.DataFrame, xi: np.ndarray, costs: np.ndarray,
                 stakes: pd.DataFrame, cal, taxes: Taxes, initial: np.ndarray | None, owners: np.ndarray,
                 kappa: np.ndarray | None, quotas: list | None = None, params: dict | None = None,
                 extra_rules: list | None = None, capacities: list | None = None,
                 demand: Demand | None = None) -> State:
    """Solve the Bertrand-Nash equilibrium of this product set (with quotas and capacities).

    ``cal`` is the market's calibration (or estimated market): its ``market_size`` M gives
    units = M s. ``demand`` over exactly these products may be given; by default it is the 2025
    calibration's demand over the products' characteristics and segments.
    """
    from autopact.policy import _characteristics, _nests

    if demand is None:
        demand = cal.demand.with_products(_characteristics(products), _nests(products, cal))
    omega = ownership_matrix(owners, kappa)
    market_size = cal.market_size
    constraints = [CapacityConstraint(f"plant: {pid}", np.flatnonzero(products["product_id"].eq(pid).to_numpy()), cap)
                   for pid, cap in (capacities or [])]
    rates = products["tariff_rate"].to_numpy(float).copy()
    regimes = []
    for quota in quotas or []:
        in_group = (origin.get(quota.origin, pd.Series(0.0, index=origin.index)).to_numpy() == 1.0)
        if quota.powertrain:
            in_group &= products["powertrain"].isin(quota.powertrain).to_numpy()
        group = np.flatnonzero(in_group)
        value = products["customs_value"].to_numpy(float)
        full_cost = costs.copy()
        low_cost = costs.copy()
        low_cost[group] = costs[group] + value[group] * (quota.in_quota_pct / 100 - rates[group])
        low = solve_prices(low_cost, xi, demand, omega, taxes, initial=initial)
        if market_size * low.shares[group].sum() <= quota.quantity:
            costs, regime = low_cost, "below quota: all imports at the in-quota rate"
            rates[group] = quota.in_quota_pct / 100
        else:
            high = solve_prices(full_cost, xi, demand, omega, taxes, initial=initial)
            if market_size * high.shares[group].sum() >= quota.quantity:
                regime = "above quota: the marginal import pays the full rate"
            else:
                costs, regime = low_cost, "at quota: imports equal the quota, rationed by a shadow cost"
                rates[group] = quota.in_quota_pct / 100
                constraints.append(CapacityConstraint(f"quota: {quota.name}", group, quota.quantity))
        regimes.append({"name": quota.name, "products": len(group), "quantity": quota.quantity,
                        "in_quota_pct": quota.in_quota_pct, "regime": regime, "group": group,
                        "full_rates": products["tariff_rate"].to_numpy(float)[group]})
    if constraints:
        result = solve_constrained(costs, xi, demand, omega, taxes, constraints, market_size)
        eq = result.equilibrium
        constraint_report = [{"name": c.name, "binding": result.binding[c.name],
                              "shadow_cost_usd": result.shadow_costs[c.name], "units": result.units[c.name],
                              "capacity": c.capacity} for c in constraints]
    else:
        eq, constraint_report = solve_prices(costs, xi, demand, omega, taxes, initial=initial), []
    for r in regimes:
        report = next((c for c in constraint_report if c["name"] == f"quota: {r['name']}"), None)
        if report is not None:
            r["shadow_cost_usd"] = report["shadow_cost_usd"]
            gap = (r["full_rates"] - r["in_quota_pct"] / 100) * products["customs_value"].to_numpy(float)[r["group"]]
            over = int((gap < report["shadow_cost_usd"]).sum())
            if over:
                r["warning"] = (f"the quota's shadow cost exceeds the full-tariff saving of {over} of its "
                                f"{len(r['group'])} products; their marginal units would rather pay the full "
                                "tariff, which this one-price quota model does not capture (it overstates "
                                "their cost at the margin)")
    units = market_size * eq.shares
    value = products["customs_value"].to_numpy(float)
    revenue = (rates * value + products["tariff_specific"].to_numpy(float)) * units
    quota_rent = np.zeros(len(products))
    for r in regimes:  # above quota: the quota's units pay the in-quota rate (the rent goes to importers)
        if r["regime"].startswith("above"):
            g = r["group"]
            imports = units[g].sum()
            in_share = r["quantity"] / imports if imports > 0 else 0.0
            paid = (in_share * r["in_quota_pct"] / 100 + (1 - in_share) * r["full_rates"]) * value[g] * units[g]
            quota_rent[g] = revenue[g] - paid
            revenue[g] = paid
    us_share = origin[US].to_numpy() if US in origin.columns else np.zeros(len(products))
    solved = products.assign(tariff_rate=rates, price=eq.prices, consumer_price=eq.consumer_prices, units=units,
                             cost=costs,
                             markup=eq.markups, profit=(eq.prices - costs) * units + quota_rent,
                             tariff_revenue=revenue, us_assembled_units=us_share * units)
    per_household = log_sum(xi - demand.alpha * eq.consumer_prices, eq.consumer_prices, demand) / demand.price_sensitivity
    solver = {"converged": bool(eq.converged), "iterations": int(eq.iterations),
              "max_foc_residual": float(eq.max_foc_residual), "priced_out": [products["name"].iloc[j] for j in eq.priced_out]}
    for r in regimes:
        r.pop("group"), r.pop("full_rates")
    return State(solved, per_household, stakes, solver, constraint_report + regimes, origin)


def metrics(state: State, cal, params: dict[str, float],
            income_groups: tuple[tuple[float, float, str], ...] = INCOME_GROUPS) -> dict[str, Any]:
    """The headline numbers of one state (the JSON contract's baseline/counterfactual objects).

    A number the market cannot define is None: the BEV share without powertrains, a named firm's
    share where it does not sell, jobs without ``vehicles_per_assembly_worker``, US-assembled units
    where the products' assembly is not known (an ``origin`` column ``not stated``).
    """
    p = state.products
    units = p["units"].to_numpy()
    total = float(units.sum())
    by_owner = state.stakes.mul(units, axis=0).sum()
    nationality_of = _nationality_of_owner(p, state.stakes)
    by_nationality = by_owner.groupby(nationality_of).sum()
    shares = by_owner / total
    households = cal.households
    cs_total = float(cal.market_size * households.weights @ state.consumer_surplus)
    by_income = {}
    for low, high, label in income_groups:
        members = (households.income >= low) & (households.income < high)
        by_income[label] = (float(np.average(state.consumer_surplus[members], weights=households.weights[members]))
                            if members.any() else None)  # no simulated household in the group
    by_assembly = state.origin.mul(units, axis=0).sum()
    profit_by_owner = state.stakes.mul(p["profit"].to_numpy(), axis=0).sum()
    weighted = lambda column, mask=slice(None): float(np.average(p.loc[mask, column], weights=p.loc[mask, "units"]))  # noqa: E731

    def by(column: str, value) -> dict[str, float]:
        return {s: value(p[column].eq(s)) for s in sorted(p[column].unique())} if column in p.columns else {}

    assembled = None if NOT_STATED in state.origin.columns else float(p["us_assembled_units"].sum())
    per_worker = params.get("vehicles_per_assembly_worker")
    return {
        "total_units": total,
        "average_price_usd": weighted("consumer_price"),
        "bev_share": float(units[p["powertrain"].eq("BEV").to_numpy()].sum() / total) if "powertrain" in p.columns
        else None,
        "consumer_surplus_usd": cs_total,
        "consumer_surplus_per_household_by_income_usd": by_income,
        "total_profit_usd": float(p["profit"].sum()),
        "tariff_revenue_usd": float(p["tariff_revenue"].sum()),
        "us_assembled_units": assembled,
        "us_assembly_jobs": None if assembled is None or per_worker is None else assembled / per_worker,
        "hhi": float(10_000 * (shares ** 2).sum()),
        "units_share_by_nationality": {k: float(v / total) for k, v in by_nationality.items()},
        "units_by_nationality": {k: float(v) for k, v in by_nationality.items()},
        "gm_share": float(shares["General Motors"]) if "General Motors" in shares.index else None,
        "ford_share": float(shares["Ford Motor Co."]) if "Ford Motor Co." in shares.index else None,
        "average_price_by_segment_usd": by("segment", lambda m: weighted("consumer_price", m)),
        "average_price_by_powertrain_usd": by("powertrain", lambda m: weighted("consumer_price", m)),
        "units_by_assembly_country": {k: float(v) for k, v in by_assembly.items() if v > 0},
        "profit_by_nationality_usd": {k: float(v) for k, v in profit_by_owner.groupby(nationality_of).sum().items()},
        "profit_by_firm_usd": {k: float(v) for k, v in profit_by_owner.items()},
        "units_by_segment": by("segment", lambda m: float(p.loc[m, "units"].sum())),
    }


def _nationality_of_owner(products: pd.DataFrame, stakes: pd.DataFrame) -> pd.Series:
    """Each owner's nationality: from its own products, or China for a maker with no incumbent line."""
    direct = products.loc[~products["owner"].str.endswith(" JV")].groupby("owner")["nationality"].first()
    return pd.Series({o: direct.get(o, "China") for o in stakes.columns})


def firm_table(base: State, cf: State) -> list[dict[str, Any]]:
    """Units and profits by firm (joint-venture profits split to parents), baseline and scenario."""
    owners = sorted(set(base.stakes.columns) | set(cf.stakes.columns))
    nationality = {**_nationality_of_owner(base.products, base.stakes), **_nationality_of_owner(cf.products, cf.stakes)}

    def totals(state: State, column: str) -> pd.Series:
        return state.stakes.mul(state.products[column].to_numpy(), axis=0).sum()

    ub, uc = totals(base, "units"), totals(cf, "units")
    pb, pc = totals(base, "profit"), totals(cf, "profit")
    rows = [{"firm": o, "nationality": nationality.get(o, "China"),
             "units_baseline": float(ub.get(o, 0.0)), "units_counterfactual": float(uc.get(o, 0.0)),
             "profit_baseline_usd": float(pb.get(o, 0.0)), "profit_counterfactual_usd": float(pc.get(o, 0.0))}
            for o in owners]
    return sorted(rows, key=lambda r: -r["units_counterfactual"])


def difference(a: Any, b: Any) -> Any:
    """b - a for numbers and (recursively) dicts of numbers; keys missing on one side count as 0."""
    if isinstance(a, dict) or isinstance(b, dict):
        a, b = a or {}, b or {}
        return {k: difference(a.get(k, 0.0), b.get(k, 0.0)) for k in sorted(set(a) | set(b))}
    if a is None or b is None:
        return None
    return float(b) - float(a)


def product_rows(base: State, cf: State, keep: list[str]) -> list[dict[str, Any]]:
    """The scenario's products (columns ``keep``) with their baseline price and units (None if new)."""
    base_p = base.products.set_index("product_id")
    rows = []
    for row in cf.products[keep].to_dict(orient="records"):
        before = base_p.loc[row["product_id"]] if row["product_id"] in base_p.index else None
        row["price_baseline"] = None if before is None else float(before["price"])
        row["units_baseline"] = None if before is None else float(before["units"])
        rows.append({k: (bool(v) if isinstance(v, (np.bool_,)) else v) for k, v in row.items()})
    return rows


def result_json(result) -> dict[str, Any]:
    """The JSON contract: scenario, baseline, counterfactual, change, firms, products, assumptions, solver
    (and ``market``: what was simulated, the baseline's label and the unit of money)."""
    from autopact.policy import policy_parameters

    if result.scenario.estimation is not None:
        from autopact.estimated import estimated_result_json

        return estimated_result_json(result)

    cal, params = result.calibration, result.parameters
    base, cf = metrics(result.baseline, cal, params), metrics(result.counterfactual, cal, params)
    change = difference(base, cf)
    table = policy_parameters()
    assumptions = [{"name": a.name, "value": a.value, "source": a.source, "kind": "market assumption"}
                   for a in result.market.assumptions.values()]
    assumptions += [{"name": name, "value": params[name], "unit": row["unit"], "source": row["source"],
                     "confidence": row["confidence"], "kind": "policy parameter",
                     "changed_by_scenario": name in result.scenario.parameters}
                    for name, row in table.iterrows()]
    choices = {
        "assembly_origin_weights": ("equal shares of the listed assembly countries (NHTSA AALA MY2024 lists them "
                                    "without volumes); unknown assembly: the owner's home country"),
        "customs_value": "the importer's marginal cost before tariffs (vertically integrated importer)",
        "parts_tariffs": "not modelled: US-assembled vehicles pay no tariff here, and incumbents' battery tariffs sit in their calibrated costs",
        "entrant_brand_term": (f"young US brands' mean hedonic residual ({', '.join(NEW_BRAND_MAKES)}), or the US "
                               "partner's own mean residual when the partner's dealers sell the model"),
        "entrant_trim_mix": f"entrants' home-based costs scaled by the market's price scale ({result.market.price_scale:.3f}), as base MSRPs are",
        "entrant_home_labour": "home-country labour is not removed when a model is built in the US (overstates US-built cost)",
        "us_production_preference": "none: Cosar et al. (2018) find one, but its size was not found (GAP)",
    }
    assumptions += [{"name": k, "value": v, "kind": "modelling choice", "source": "autopact.policy / autopact.outcomes"}
                    for k, v in choices.items()]
    assumptions += [{"name": "calibration", "value": cal.parameters, "kind": "demand parameters",
                     "source": "autopact calibrate (targets in calibration_targets.csv)"}]
    keep = ["product_id", "name", "owner", "nationality", "segment", "powertrain", "entrant", "price",
            "consumer_price", "units", "cost", "profit", "tariff_rate", "tariff_revenue", "us_assembled_units"]
    products = product_rows(result.baseline, result.counterfactual, keep)
    return {
        "scenario": {"name": result.scenario.name, "description": result.scenario.description,
                     "definition": result.scenario.model_dump(mode="json"), "excluded": result.excluded},
        "market": {"kind": "calibrated", "label": f"US new light-vehicle market {result.market.facts.year}",
                   "baseline_label": f"{result.market.facts.year} baseline",
                   "money": {"unit": f"{result.market.facts.year} US dollars a year, prices at the model's price "
                                     "level (assumption price_level)", "dollars_per_unit": 1.0}},
        "baseline": base, "counterfactual": cf, "change": change,
        "firms": firm_table(result.baseline, result.counterfactual),
        "products": products,
        "entrant_costs": result.entrant_costs,
        "constraints": result.counterfactual.constraints,
        "assumptions": assumptions,
        "solver": {**result.counterfactual.solver, "baseline": result.baseline.solver,
                   "hedonic_r2": result.hedonic_r2},
    }
