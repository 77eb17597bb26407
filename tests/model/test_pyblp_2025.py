"""Agreement with PyBLP on the bundled 2025 US market (RC nested logit by segment, income-dependent
price sensitivity, taste draws on BEV and size, the BEV taste correlated with log income): shares,
Jacobian, elasticities, costs, merger prices."""

import warnings

import numpy as np
import pandas as pd
import pyblp
import pytest

from autopact.fit.calibration import MarketArrays, build_demand
from autopact.data import income_distribution, load_market
from autopact.model.demand import elasticities, price_jacobian, shares
from autopact.model.inversion import invert_shares
from autopact.model.households import draw_households
from autopact.model.supply import Taxes, marginal_costs, ownership_matrix, solve_prices

MODELS = {
    "logit": {"alpha": 1.2e-4, "pi": 0.0, "sigma_bev": 0.0, "sigma_size": 0.0, "rho": 0.0},
    "nested_logit": {"alpha": 8e-5, "pi": 0.0, "sigma_bev": 0.0, "sigma_size": 0.0, "rho": 0.4},
    "rc_nested_logit": {"alpha": 2e-5, "pi": 6.0, "sigma_bev": 1.0, "sigma_size": 1.5, "rho": 0.3},
    # the BEV taste correlated with log income (households.income_correlated): in PyBLP, sigma_bev sqrt(1 - r^2)
    # on the BEV draw and a demographic interaction sigma_bev r on standardised log income, computed here
    "rc_bev_income": {"alpha": 2e-5, "pi": 6.0, "sigma_bev": 1.2, "sigma_size": 1.5, "rho": 0.3, "bev_income": 0.4},
}
TOL = 1e-8


@pytest.fixture(scope="module", params=list(MODELS))
def both(request):
    PARAMETERS = MODELS[request.param]
    market = load_market(2025)
    arrays = MarketArrays.from_market(market)
    households = draw_households(income_distribution(), 300, 2, seed=11)
    demand = build_demand(PARAMETERS, arrays, households)
    delta, _ = invert_shares(arrays.shares, arrays.prices, demand, tol=1e-14)
    omega = ownership_matrix(arrays.owners)
    costs, _ = marginal_costs(arrays.prices, delta, demand, omega, Taxes.none(len(delta)))
    # Ford (Ford Motor Co.) and BYD do not both exist in 2025: merge Ford and GM for the test.
    merged = arrays.owners.copy()
    ford, gm = arrays.owner_names.index("Ford Motor Co."), arrays.owner_names.index("General Motors")
    merged[merged == gm] = ford
    ours = solve_prices(costs, delta + demand.alpha * arrays.prices, demand, ownership_matrix(merged),
                        Taxes.none(len(delta)), initial=arrays.prices)

    product_data = pd.DataFrame({
        "market_ids": 2025, "firm_ids": arrays.owners, "shares": arrays.shares, "prices": arrays.prices,
        "bev": arrays.characteristics[:, 0], "size": arrays.characteristics[:, 1], "nesting_ids": arrays.nests})
    if not PARAMETERS["rho"]:
        product_data = product_data.drop(columns="nesting_ids")
    log_income = np.log(households.income)
    mean = households.weights @ log_income
    z = (log_income - mean) / np.sqrt(households.weights @ (log_income - mean) ** 2)
    r = PARAMETERS.get("bev_income", 0.0)
    agent_data = pd.DataFrame({"market_ids": 2025, "weights": households.weights, "income": households.income,
                               "z": z, "nodes0": 0.0, "nodes1": households.nu[:, 0], "nodes2": households.nu[:, 1]})
    pyblp.options.verbose = False
    problem = pyblp.Problem((pyblp.Formulation("0 + prices"), pyblp.Formulation("0 + prices + bev + size")),
                            product_data, pyblp.Formulation("0 + I(1 / income) + z"), agent_data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rho = PARAMETERS["rho"] if PARAMETERS["rho"] else None
        results = problem.solve(sigma=np.diag([0.0, PARAMETERS["sigma_bev"] * np.sqrt(1 - r * r),
                                               PARAMETERS["sigma_size"]]),
                                pi=np.array([[-PARAMETERS["pi"], 0.0], [0.0, PARAMETERS["sigma_bev"] * r], [0.0, 0.0]]),
                                rho=rho,
                                beta=[-PARAMETERS["alpha"]], method="1s",
                                optimization=pyblp.Optimization("return"),
                                iteration=pyblp.Iteration("squarem", {"atol": 1e-14}), check_optimality="gradient")
        pyblp_costs = results.compute_costs().ravel()
        pyblp_prices = results.compute_prices(firm_ids=merged, costs=pyblp_costs,
                                              iteration=pyblp.Iteration("simple", {"atol": 1e-14})).ravel()
        reference = {"delta": results.delta.ravel(), "jacobian": results.compute_demand_jacobians(),
                     "elasticities": results.compute_elasticities(), "costs": pyblp_costs,
                     "prices": pyblp_prices}
    mine = {"delta": delta, "jacobian": price_jacobian(delta, arrays.prices, demand),
            "elasticities": elasticities(delta, arrays.prices, demand), "costs": costs, "prices": ours.prices,
            "shares": shares(delta, arrays.prices, demand), "observed": arrays.shares,
            "observed_prices": arrays.prices, "merged": np.isin(arrays.owners, [ford, gm])}
    return mine, reference


def _relative(a, b):
    """Entry by entry for vectors (a low-cost product's own error counts), in the max norm for the
    matrices, whose cross entries near zero would make an entrywise ratio meaningless."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if a.ndim == 1:
        return float(np.max(np.abs(a - b) / np.abs(b)))
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


@pytest.mark.parametrize("quantity", ["delta", "jacobian", "elasticities", "costs", "prices"])
def test_2025_market_agrees_with_pyblp(both, quantity):
    mine, reference = both
    assert _relative(mine[quantity], reference[quantity]) < TOL


def test_2025_market_fit_and_merger_moves_prices(both):
    mine, reference = both
    assert np.max(np.abs(mine["shares"] / mine["observed"] - 1)) < 1e-12
    rise = mine["prices"] / mine["observed_prices"] - 1
    assert (rise[mine["merged"]] > 1e-4).all()  # the merging firms raise every price
    assert np.abs(rise[~mine["merged"]]).max() < rise[mine["merged"]].min()
