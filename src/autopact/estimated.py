"""Scenarios on estimated parameters: one market of an estimation's data as the baseline.

For market t of a saved estimation (``autopact.estimation_io``) at its estimates theta-hat:

    u_ij    = xi_j - alpha_i p_j + mu_ij            households (weights, nodes, demographics) of market t
    delta_j = s^{-1}(observed shares; theta-hat)    share inversion, exact to 1e-13 in log shares
    xi_j    = delta_j + alpha p_j                   mean utility net of price, held fixed
    c_j     = p_j - m_j,  m = -(Omega o J^T)^{-1} s Bertrand-Nash FOCs, owners from firm_ids
    q_j     = M s_j                                 M: the scenario's market size, with its source

so the baseline reproduces the observed prices and shares. Money is in the data's price units
(BLP 1995: thousands of 1983 dollars). Levers (``policy`` shares them with the 2025 market):

    synergies     c0_j = c_j (1 + change_pct / 100) for the firm's products
    extra tariffs c'_j = c0_j (1 + tau_j) + T_j, tau_j from ``policy.extra_tariff_rates`` on the
                  origin mapping's assembly shares; the customs value is c0_j, the recovered cost,
                  which already holds any duty in force in the data year
    mergers       profit weights kappa between firms (``policy.merger_weights``)

The counterfactual solves the FOCs again with ``supply.solve_prices`` (through
``outcomes.solved_state``), from the same households, xi and costs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from autopact.demand import Demand, invert_shares, shares
from autopact.estimation import market_demand
from autopact.estimation_io import SavedEstimation, load_estimation
from autopact.households import Households
from autopact.outcomes import (
    NOT_STATED,
    State,
    difference,
    firm_table,
    metrics,
    product_rows,
    solved_state,
)
from autopact.policy import check_tariff_names, extra_tariff_rates, merger_weights
from autopact.scenario import Estimation, Scenario, ScenarioError
from autopact.supply import Taxes, marginal_costs, ownership_matrix


@dataclass(frozen=True)
class EstimatedMarket:
    """One market of an estimation's data at the estimated parameters: what a scenario holds fixed."""

    label: str
    market_id: Any
    products: pd.DataFrame  # product_id, name, owner, nationality, origin
    origin: pd.DataFrame  # (J, assembly countries) shares of each product's supply
    prices: np.ndarray
    observed_shares: np.ndarray
    delta: np.ndarray
    xi: np.ndarray
    costs: np.ndarray
    markups: np.ndarray
    owners: np.ndarray
    owner_names: list[str]
    demand: Demand
    households: Households
    market_size: float
    spec: Estimation
    estimation: SavedEstimation
    max_share_error: float
    income_groups: tuple[tuple[float, float, str], ...] = ()
    warnings: list[str] = field(default_factory=list)

    @property
    def money(self) -> dict[str, Any]:
        return self.estimation.money


def _labels(frame: pd.DataFrame, market_id: Any) -> tuple[list[str], list[str]]:
    """Product ids (product_ids or car_ids, else the row in the market) and names (clustering_ids,
    BLP's model-year code such as HDACCO90, else the id)."""
    column = next((c for c in ("product_ids", "car_ids") if c in frame.columns), None)
    ids = [str(v) for v in frame[column]] if column else [f"{market_id}-{k}" for k in range(len(frame))]
    names = [str(v) for v in frame["clustering_ids"]] if "clustering_ids" in frame.columns else ids
    return ids, names


def _origins(frame: pd.DataFrame, spec: Estimation) -> tuple[pd.DataFrame, list[str], list[str]]:
    """Assembly shares (J, countries), nationality and origin value of each product from the mapping."""
    if not spec.origin_column:
        return (pd.DataFrame({NOT_STATED: np.ones(len(frame))}), [NOT_STATED] * len(frame),
                [NOT_STATED] * len(frame))
    if spec.origin_column not in frame.columns:
        raise ScenarioError(f"estimation.origin_column: the data have no column {spec.origin_column!r}")
    values = [str(v) for v in frame[spec.origin_column]]
    missing = sorted(set(values) - set(spec.origins))
    if missing:
        raise ScenarioError(f"estimation.origins: no mapping for {spec.origin_column} value(s) {missing}; "
                            f"map every value the market has: {sorted(set(values))}")
    countries = sorted({c for v in set(values) for c in spec.origins[v].assembly})
    weights = pd.DataFrame([[spec.origins[v].assembly.get(c, 0.0) for c in countries] for v in values],
                           columns=countries)
    return weights, [spec.origins[v].nationality for v in values], values


def income_quarters(income: np.ndarray, weights: np.ndarray) -> tuple[tuple[float, float, str], ...]:
    """Household groups by weighted quartiles of income (in the data's units)."""
    order = np.argsort(income)
    cumulative = np.cumsum(weights[order])
    cuts = [float(income[order][np.searchsorted(cumulative, q)]) for q in (0.25, 0.5, 0.75)]
    bounds = [-np.inf, *cuts, np.inf]
    names = ("lowest income quarter", "second income quarter", "third income quarter", "highest income quarter")
    return tuple((bounds[k], bounds[k + 1], names[k]) for k in range(4))


def estimate_distribution(saved: SavedEstimation) -> tuple[list[str], np.ndarray, np.ndarray]:
    """The estimated parameters that move a counterfactual (the free nonlinear ones and the X1
    coefficient on prices, if any), their estimates and a square root L of their covariance
    (Cholesky; eigenvalues clipped at 0 if the matrix is not positive definite), for joint draws
    theta = theta_hat + L z (``uncertainty.draw_values``)."""
    record = saved.record
    if record["covariance"]["matrix"] is None:
        raise ScenarioError(f"uncertainty: {saved.label} was saved without a covariance, so its estimates cannot be drawn")
    all_labels = record["covariance"]["labels"]
    labels = [*record["nonlinear"], *(["prices"] if "prices" in record["estimates"]["beta"] else [])]
    index = [all_labels.index(label) for label in labels]
    covariance = np.asarray(record["covariance"]["matrix"], float)[np.ix_(index, index)]
    mean = np.array([record["nonlinear"][label]["estimate"] for label in labels if label != "prices"]
                    + ([record["estimates"]["beta"]["prices"]] if "prices" in labels else []))
    try:
        root = np.linalg.cholesky(covariance)
    except np.linalg.LinAlgError:
        values, vectors = np.linalg.eigh(covariance)
        root = vectors * np.sqrt(np.clip(values, 0.0, None))
    return labels, mean, root


def estimated_market(spec: Estimation, saved: SavedEstimation | None = None,
                     overrides: dict[str, float] | None = None) -> EstimatedMarket:
    """Market ``spec.market`` of the estimation ``spec.result`` at its estimates (see module docstring),
    or with ``overrides`` (parameter label -> value, as ``estimate_distribution`` labels them) in their place."""
    saved = saved or load_estimation(spec.result)
    problem = saved.problem()
    if overrides:
        from dataclasses import replace as with_fields

        labels = saved.parameters.labels(problem)
        theta = saved.parameters.vector()
        theta = np.array([overrides.get(label, value) for label, value in zip(labels, theta)])
        beta = {**saved.beta, **({"prices": overrides["prices"]} if "prices" in overrides else {})}
        saved = with_fields(saved, parameters=saved.parameters.with_vector(theta), beta=beta)
    products = saved.inputs.products
    ids = list(products.groupby("market_ids", sort=False).indices)
    matches = [k for k, market_id in enumerate(ids) if str(market_id) == str(spec.market)]
    if not matches:
        raise ScenarioError(f"estimation.market: no market {spec.market!r} in {saved.label}; "
                            f"markets: {', '.join(str(m) for m in ids)}")
    market, market_id = problem.markets[matches[0]], ids[matches[0]]
    frame = products.iloc[market.rows].reset_index(drop=True)
    if "firm_ids" not in frame.columns:
        raise ScenarioError(f"estimation.result: {saved.label}'s data have no firm_ids, so no owners to set prices")
    demand = market_demand(market, saved.parameters, problem.x2_names, saved.beta.get("prices", 0.0))
    delta, _ = invert_shares(market.shares, market.prices, demand, tol=1e-13)
    predicted = shares(delta, market.prices, demand)
    codes, firms = pd.factorize(frame["firm_ids"], sort=True)
    owner_names = [f"firm {f}" for f in firms]
    costs, markups = marginal_costs(market.prices, delta, demand, ownership_matrix(codes), Taxes.none(len(codes)))
    origin, nationality, values = _origins(frame, spec)
    product_ids, names = _labels(frame, market_id)
    table = pd.DataFrame({"product_id": product_ids, "name": names, "owner": [owner_names[c] for c in codes],
                          "nationality": nationality, "origin": values})
    agents = saved.inputs.agents
    income = None
    if agents is not None and "income" in agents.columns:
        income = agents.loc[agents["market_ids"] == market_id, "income"].to_numpy(float)
    households = Households(weights=market.weights, income=income if income is not None else np.full(len(market.weights), np.nan),
                            nu=market.nodes, seed=-1)
    warnings = [f"non-positive marginal cost for {names[j]}: {costs[j]:.4g} (price {market.prices[j]:.4g})"
                for j in np.flatnonzero(costs <= 0)]
    return EstimatedMarket(
        label=f"{saved.label}, market {market_id}", market_id=market_id, products=table, origin=origin,
        prices=market.prices, observed_shares=market.shares, delta=delta, xi=delta + demand.alpha * market.prices,
        costs=costs, markups=markups, owners=codes, owner_names=owner_names, demand=demand, households=households,
        market_size=spec.market_size.households, spec=spec, estimation=saved,
        max_share_error=float(np.max(np.abs(predicted - market.shares) / market.shares)),
        income_groups=income_quarters(income, market.weights) if income is not None else (), warnings=warnings)


@dataclass
class EstimatedSimulation:
    """Baseline and counterfactual of a scenario on an estimated market (``outcomes.result_json`` reads it)."""

    scenario: Scenario
    baseline: State
    counterfactual: State
    calibration: EstimatedMarket
    warnings: list[str] = field(default_factory=list)


def _check_levers(scenario: Scenario, market: EstimatedMarket) -> None:
    """Origins, nationalities and firms the levers name must be ones this market has."""
    check_tariff_names(scenario.extra_tariffs, set(market.origin.columns), set(market.products["nationality"]))
    for k, rule in enumerate(scenario.extra_tariffs):
        if rule.specific_usd and not market.money.get("dollars_per_unit"):
            raise ScenarioError(f"extra_tariffs[{k}].specific_usd: the estimation's money unit "
                                f"({market.money['unit']}) has no dollars_per_unit to convert dollars with")
    for k, synergy in enumerate(scenario.synergies):
        if synergy.firm not in market.owner_names:
            raise ScenarioError(f"synergies[{k}].firm: unknown firm {synergy.firm!r}; known: "
                                f"{', '.join(market.owner_names)}")


def simulate_estimated(scenario: Scenario, market: EstimatedMarket | None = None) -> EstimatedSimulation:
    """The scenario's equilibrium and the baseline's on its estimated market, solved in the same run."""
    if scenario.estimation is None:
        raise ScenarioError("estimation: this scenario runs on the 2025 market; use autopact.policy.simulate")
    market = market or estimated_market(scenario.estimation)
    _check_levers(scenario, market)
    table, n = market.products, len(market.products)
    stakes = pd.get_dummies(table["owner"]).astype(float)
    baseline = solved_state(table.assign(tariff_rate=0.0, tariff_specific=0.0, customs_value=market.costs,
                                         base_cost=market.costs),
                            market.origin, market.xi, market.costs, stakes, market, Taxes.none(n),
                            initial=market.prices, owners=market.owners, kappa=None, demand=market.demand)
    base_cost = market.costs.copy()
    for synergy in scenario.synergies:
        base_cost[table["owner"].eq(synergy.firm).to_numpy()] *= 1 + synergy.change_pct / 100
    rate, specific = extra_tariff_rates(table, market.origin, scenario.extra_tariffs)
    # dollars -> the data's money unit (_check_levers refused dollar amounts when the unit has no conversion)
    specific = specific / (market.money.get("dollars_per_unit") or 1.0)
    kappa = merger_weights(np.eye(len(market.owner_names)), market.owner_names, scenario.mergers)
    counterfactual = solved_state(table.assign(tariff_rate=rate, tariff_specific=specific, customs_value=base_cost,
                                               base_cost=base_cost),
                                  market.origin, market.xi, base_cost * (1 + rate) + specific, stakes, market,
                                  Taxes.none(n), initial=market.prices, owners=market.owners, kappa=kappa,
                                  demand=market.demand)
    return EstimatedSimulation(scenario, baseline, counterfactual, market, list(market.warnings))


def _assumptions(market: EstimatedMarket) -> list[dict[str, Any]]:
    spec, saved = market.spec, market.estimation
    rows = [{"name": "market_size_households", "value": spec.market_size.households, "kind": "market assumption",
             "source": spec.market_size.source},
            {"name": "money", "value": market.money["unit"], "kind": "unit",
             "source": market.money.get("source", "the estimation's settings")}]
    rows += [{"name": f"origin {spec.origin_column}={value}", "value": {"assembly": m.assembly, "nationality": m.nationality},
              "kind": "origin mapping", "source": m.source} for value, m in spec.origins.items()]
    record = saved.record
    rows.append({"name": "estimation", "kind": "demand and supply parameters",
                 "value": {"result": saved.label, "market": str(market.market_id),
                           "nonlinear": {k: v["estimate"] for k, v in record["nonlinear"].items()},
                           "linear": {k: v["estimate"] for k, v in record["linear"].items()},
                           "objective": record["objective"], "converged": record["converged"]},
                 "source": f"autopact estimate ({saved.label}); data sha256 "
                           + ", ".join(f"{role} {digest[:12]}" for role, digest in saved.data_sha256.items())})
    choices = {
        "customs_value": ("the recovered marginal cost (after any synergy); any duty in force in the data year is "
                          "inside it and not modelled separately"),
        "tariffs_fall_on_imports": "a product pays a tariff on the share of its supply assembled in a tariffed origin",
        "ownership": "firm_ids of the data; mergers add profit weights between firms",
        "fixed_market": "households, mean utilities net of price (xi) and marginal costs stay at their estimated values",
        "agent_weights": ("normalised to sum to one in each market, as in the estimation"
                          if saved.inputs.settings.get("normalise_agent_weights") else "as in the data"),
        "not_defined_here": ("BEV share, named-firm shares (GM, Ford), price by segment or powertrain and US assembly "
                             "jobs need the 2025 data; they are null"),
    }
    rows += [{"name": k, "value": v, "kind": "modelling choice", "source": "autopact.estimated"} for k, v in choices.items()]
    return rows


def estimated_result_json(result: EstimatedSimulation) -> dict[str, Any]:
    """The JSON contract of ``outcomes.result_json`` for a scenario on an estimated market."""
    market = result.calibration
    base = metrics(result.baseline, market, {}, market.income_groups)
    cf = metrics(result.counterfactual, market, {}, market.income_groups)
    keep = ["product_id", "name", "owner", "nationality", "origin", "price", "consumer_price", "units", "cost",
            "profit", "tariff_rate", "tariff_revenue", "us_assembled_units"]
    money = market.money
    return {
        "scenario": {"name": result.scenario.name, "description": result.scenario.description,
                     "definition": result.scenario.model_dump(mode="json"), "excluded": []},
        "market": {"kind": "estimated", "label": f"estimated market: {market.label}",
                   "baseline_label": f"{market.market_id} baseline",
                   "money": {**money, "note": "every money value in this JSON is in this unit"},
                   "estimation": market.estimation.label, "market_id": str(market.market_id),
                   "products": len(market.products), "max_share_error": market.max_share_error},
        "baseline": base, "counterfactual": cf, "change": difference(base, cf),
        "firms": firm_table(result.baseline, result.counterfactual),
        "products": product_rows(result.baseline, result.counterfactual, keep),
        "entrant_costs": [], "constraints": [],
        "assumptions": _assumptions(market),
        "warnings": result.warnings,
        "solver": {**result.counterfactual.solver, "baseline": result.baseline.solver, "hedonic_r2": None},
    }
