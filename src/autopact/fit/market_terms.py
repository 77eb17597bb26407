"""One market's terms of the GMM objective, the general path: any nesting, one Demand per market.

``demand_terms`` builds the market's ``Demand`` at nonlinear parameters theta with the utility
derivatives dV / d theta; ``share_gradient`` differentiates the shares in theta at fixed delta;
``nested_supply`` gives RC nested logit markups and their derivatives by central differences.
Random-coefficients logit without nesting takes the fused path of ``autopact.fit.rc_logit``.
"""

from __future__ import annotations

import numpy as np

from autopact.fit.problem import EstimationError, Market, Parameters
from autopact.model.demand import Demand, individual_shares
from autopact.model.inversion import invert_shares
from autopact.model.supply import Taxes, marginal_costs


def expanded_nodes(market: Market, p: Parameters) -> np.ndarray:
    """The agents' nodes (I, K2): as PyBLP, when there are fewer node columns than X2 columns they go
    to the free sigmas, in order."""
    nodes = market.nodes
    if nodes.shape[1] != len(p.sigma):
        used = np.flatnonzero(p.sigma_free)
        if len(used) > nodes.shape[1]:
            raise EstimationError(f"agents: {len(used)} nonzero sigmas need as many nodes columns, got {nodes.shape[1]}")
        nodes = np.zeros((len(market.weights), len(p.sigma)))
        nodes[:, used] = market.nodes[:, :len(used)]
    return nodes


def demand_terms(market: Market, p: Parameters, names: list[str]) -> tuple[Demand, np.ndarray]:
    """Demand for one market and the derivative of utilities with respect to each free theta (Q, I, J)."""
    nodes = expanded_nodes(market, p)
    coefficients = nodes * p.sigma + market.demographics @ p.pi.T  # (I, K2)
    price = names.index("prices") if "prices" in names else None
    others = [k for k in range(len(names)) if k != price]
    deviation = -coefficients[:, price] if price is not None else np.zeros(len(market.weights))
    demand = Demand(alpha=1.0, pi=0.0, sigma=np.ones(len(others)), rho=p.rho or 0.0,
                    characteristics=market.x2[:, others], nests=market.nests, weights=market.weights,
                    income=np.ones(len(market.weights)), nu=coefficients[:, others], price_deviation=deviation)
    # alpha=1 is a placeholder: delta is inverted directly and only alpha_i - alpha enters utilities.
    derivatives = [nodes[:, k][:, None] * market.x2[:, k][None, :] for k in np.flatnonzero(p.sigma_free)]
    derivatives += [market.demographics[:, d][:, None] * market.x2[:, k][None, :] for k, d in zip(*np.nonzero(p.pi_free))]
    return demand, np.array(derivatives).reshape(len(derivatives), len(market.weights), len(market.shares))




def share_gradient(delta: np.ndarray, market: Market, demand: Demand, dv: np.ndarray) -> np.ndarray:
    """ds_j/d theta_q = sum_i w_i sum_l (ds_ij/dV_il) dV_il/d theta_q for each q (J, Q); one nesting level."""
    s, within, _ = individual_shares(delta, market.prices, demand)
    rho = demand.rho
    out = np.empty((len(delta), len(dv)))
    nest = demand.nest_matrix
    for q, v in enumerate(dv):
        total = (s * v).sum(axis=1, keepdims=True)
        term = v / (1 - rho) - total
        if rho:
            term -= rho / (1 - rho) * ((within * v) @ nest) @ nest.T
        out[:, q] = market.weights @ (s * term)
    return out


def nested_markups(delta: np.ndarray, market: Market, demand: Demand) -> np.ndarray:
    """RC nested logit markups at observed prices, -(Omega o (ds/dp)^T)^{-1} s (``autopact.model.supply.marginal_costs``),
    with each household's price sensitivity alpha_i (price enters through X2 only)."""
    from dataclasses import replace

    alpha_i = demand.deviation
    mean = float(market.weights @ alpha_i)
    true = replace(demand, alpha=mean, price_deviation=alpha_i - mean, _cache={})
    # utilities are unchanged: delta - alpha_i p = (delta - mean p) - (alpha_i - mean) p
    _, markups = marginal_costs(market.prices, delta - mean * market.prices, true, market.ownership,
                                Taxes.none(len(delta)))
    return markups


def nested_supply(delta: np.ndarray, market: Market, p: Parameters, demand: Demand, names: list[str],
                   want_gradient: bool, tol: float) -> tuple[np.ndarray, np.ndarray]:
    """Markups with nesting and their total derivatives in the sigma and pi entries by central
    differences (shares re-inverted at each step; rho's column comes from the caller's central
    difference of all targets)."""
    markups = nested_markups(delta, market, demand)
    free = len(p.vector()) - 1  # the sigma and pi entries (rho is last)
    derivatives = np.zeros((len(delta), free))
    if want_gradient:
        theta = p.vector()
        for q in range(free):
            h = 1e-6 * max(1.0, abs(theta[q]))
            sides = []
            for step in (h, -h):
                moved = p.with_vector(theta + step * np.eye(len(theta))[q])
                demand_q, _ = demand_terms(market, moved, names)
                delta_q, _ = invert_shares(market.shares, market.prices, demand_q, tol=tol, initial=delta)
                sides.append(nested_markups(delta_q, market, demand_q))
            derivatives[:, q] = (sides[0] - sides[1]) / (2 * h)
    return markups, derivatives
