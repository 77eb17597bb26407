"""Scenarios on estimated parameters: one market of an estimation's data as a ``MarketModel``.

For market t of a saved estimation (``autopact.fit.saved``) at its estimates theta-hat:

    u_ij    = xi_j - alpha_i p_j + mu_ij            households (weights, nodes, demographics) of market t
    delta_j = s^{-1}(observed shares; theta-hat)    share inversion, exact to 1e-13 in log shares
    xi_j    = delta_j + alpha p_j                   mean utility net of price, held fixed
    c_j     = p_j - m_j,  m = -(Omega o J^T)^{-1} s Bertrand-Nash FOCs, owners from firm_ids
    q_j     = M s_j                                 M: the scenario's market size, with its source

so the baseline reproduces the observed prices and shares. Money is in the data's price units
(BLP 1995: thousands of 1983 dollars). The customs value of a product is its recovered cost,
which already holds any duty in force in the data year; the levers that apply here (extra
tariffs by origin or nationality, synergies, mergers) are those of ``autopact.policy``.
"""

from __future__ import annotations

import math
from dataclasses import replace as with_fields
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from pydantic import Field, field_validator, model_validator

from autopact.data.inputs import Strict, shown
from autopact.data.tariffs import NOT_STATED
from autopact.errors import ScenarioError
from autopact.fit.market import MarketModel
from autopact.model.demand import shares
from autopact.model.inversion import invert_shares
from autopact.model.households import Households
from autopact.model.supply import Taxes, marginal_costs, ownership_matrix

if TYPE_CHECKING:  # the estimation machinery (scipy.optimize, patsy) loads only for a scenario on an estimation
    from autopact.fit.saved import SavedEstimation


class OriginMapping(Strict):
    """What one value of the estimation data's origin column means: the assembly countries of its
    products (shares of their supply, summing to 1) and their owners' nationality, with a source."""

    assembly: dict[str, float] = Field(min_length=1, description="assembly country -> share of supply")
    nationality: str = Field(min_length=1)
    source: str = Field(min_length=1, description="the source of the mapping, or why it is assumed")

    @field_validator("assembly")
    @classmethod
    def _shares(cls, assembly: dict[str, float]) -> dict[str, float]:
        if any(not math.isfinite(v) or v < 0 for v in assembly.values()):
            raise ValueError(f"assembly shares must be finite and >= 0, got {shown(assembly)}")
        if abs(sum(assembly.values()) - 1) > 1e-9:
            raise ValueError(f"assembly shares must sum to 1, got {sum(assembly.values()):g}")
        return assembly


class MarketSize(Strict):
    """The potential market M (units = M x shares), with its source."""

    households: float = Field(gt=0)
    source: str = Field(min_length=1)


class Estimation(Strict):
    """Run the scenario on one market of an estimation's data at the estimated parameters."""

    result: str = Field(min_length=1, description="a bundled estimation (blp1995) or a saved result's path")
    market: int | str = Field(description="a value of the data's market_ids")
    market_size: MarketSize
    origin_column: str | None = Field(None, description="product column whose values ``origins`` maps")
    origins: dict[str, OriginMapping] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _origins(self) -> "Estimation":
        if bool(self.origin_column) != bool(self.origins):
            raise ValueError("origin_column and origins go together: name the column and map each of its values")
        return self



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
    theta = theta_hat + L z (``autopact.runs.uncertainty.draw_values``)."""
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
                     overrides: dict[str, float] | None = None) -> MarketModel:
    """Market ``spec.market`` of the estimation ``spec.result`` at its estimates (see module docstring),
    or with ``overrides`` (parameter label -> value, as ``estimate_distribution`` labels them) in their place."""
    from autopact.fit.estimation import market_demand
    from autopact.fit.saved import load_estimation

    saved = saved or load_estimation(spec.result)
    problem = saved.problem()
    if overrides:
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
    costs, _ = marginal_costs(market.prices, delta, demand, ownership_matrix(codes), Taxes.none(len(codes)))
    origin, nationality, values = _origins(frame, spec)
    product_ids, names = _labels(frame, market_id)
    table = pd.DataFrame({"product_id": product_ids, "name": names, "owner": [owner_names[c] for c in codes],
                          "nationality": nationality, "origin": values})
    table = table.assign(tariff_rate=0.0, tariff_specific=0.0, customs_value=costs, base_cost=costs)
    agents = saved.inputs.agents
    income = None
    if agents is not None and "income" in agents.columns:
        income = agents.loc[agents["market_ids"] == market_id, "income"].to_numpy(float)
    households = Households(weights=market.weights, income=income if income is not None else np.full(len(market.weights), np.nan),
                            nu=market.nodes, seed=-1)
    warnings = [f"non-positive marginal cost for {names[j]}: {costs[j]:.4g} (price {market.prices[j]:.4g})"
                for j in np.flatnonzero(costs <= 0)]
    label = f"{saved.label}, market {market_id}"
    money = saved.money
    document = {"kind": "estimated", "label": f"estimated market: {label}", "baseline_label": f"{market_id} baseline",
                "money": {**money, "note": "every money value in this JSON is in this unit"},
                "estimation": saved.label, "market_id": str(market_id), "products": len(table),
                "max_share_error": float(np.max(np.abs(predicted - market.shares) / market.shares))}
    assumptions, notes = _assumptions(spec, saved, market_id)
    return MarketModel(
        kind="estimated", products=table, origin=origin, xi=delta + demand.alpha * market.prices, costs=costs,
        stakes=pd.get_dummies(table["owner"]).astype(float), owners=codes, owner_names=owner_names, demand=demand,
        households=households, market_size=spec.market_size.households, money=money, document=document,
        taxes=Taxes.none(len(table)), initial_prices=market.prices,
        income_groups=income_quarters(income, market.weights) if income is not None else (),
        assumptions=assumptions, notes=notes, warnings=warnings, start_at_baseline=True, estimation=saved)


def _assumptions(spec: Estimation, saved: SavedEstimation, market_id: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The market's assumption rows (market size, money, origin mappings, estimates) and its modelling choices."""
    rows = [{"name": "market_size_households", "value": spec.market_size.households, "kind": "market assumption",
             "source": spec.market_size.source},
            {"name": "money", "value": saved.money["unit"], "kind": "unit",
             "source": saved.money.get("source", "the estimation's settings")}]
    rows += [{"name": f"origin {spec.origin_column}={value}", "value": {"assembly": m.assembly, "nationality": m.nationality},
              "kind": "origin mapping", "source": m.source} for value, m in spec.origins.items()]
    record = saved.record
    rows.append({"name": "estimation", "kind": "demand and supply parameters",
                 "value": {"result": saved.label, "market": str(market_id),
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
    notes = [{"name": k, "value": v, "kind": "modelling choice", "source": "autopact.fit.estimated"} for k, v in choices.items()]
    return rows, notes
