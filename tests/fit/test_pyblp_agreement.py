"""Agreement of autopact's demand and supply kernels with PyBLP on the BLP (1995) automobile data.

For three models -- plain logit, nested logit and random-coefficients nested logit (RCNL) with an
income interaction on price -- PyBLP is solved at fixed parameters (no estimation) on its bundled
BLP 1995 product and agent data, and every market (20 years, 72 to 150 products each) is recomputed
with autopact's one-market array kernels. Compared quantities:

    shares at the inverted delta, delta, ds/dp, elasticities, diversion ratios (incl. the outside
    good), marginal costs, post-merger equilibrium prices (firm 19 merged into firm 18) and consumer
    surplus per unit mass at observed and at post-merger prices.

Parameter mapping (autopact -> PyBLP): the agent price coefficient is -(alpha + pi / income).
X1 holds prices with beta_price = -alpha; X2 = '0 + prices + hpwt + space' with
sigma = diag(0, *sigma); agent formulation '0 + I(1 / income)' with pi = [[-pi], [0], [0]];
rho and nesting_ids for nests. autopact's xi for solve_prices is delta + alpha * prices.

Each PyBLP problem is built, solved and post-estimated once per module (module-scoped fixture).

Error measures (see ``REL``): vectors whose reference values are bounded away from zero (shares,
delta, costs, prices, outside diversion, consumer surplus) are compared elementwise,
max_j |a_j - b_j| / |b_j|; matrices (Jacobian, elasticities, diversion ratios), whose entries
include values many orders of magnitude below the largest ones, are compared in the max norm,
max |a - b| / max |b|.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pytest

import pyblp  # noqa: E402  (a declared test dependency: a broken import fails, not skips)

from autopact.model.demand import (  # noqa: E402
    Demand,
    consumer_surplus,
    diversion_ratios,
    elasticities,
    price_jacobian,
    shares,
)
from autopact.model.inversion import invert_shares  # noqa: E402
from autopact.model.markets import solve_prices_markets  # noqa: E402
from autopact.model.supply import Taxes, marginal_costs, ownership_matrix, solve_prices  # noqa: E402

pyblp.options.verbose = False

TOLERANCE = 1e-8
MERGED_FROM, MERGED_INTO = 19, 18
MARKET_SIZE = 2.5e6  # arbitrary; consumer_surplus is divided by it before comparison with PyBLP


def elementwise_relative(a: np.ndarray, b: np.ndarray) -> float:
    """max_j |a_j - b_j| / |b_j| (for references bounded away from zero)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    assert a.shape == b.shape, (a.shape, b.shape)
    assert np.all(np.isfinite(a)) and np.all(np.abs(b) > 0)
    return float(np.max(np.abs(a - b) / np.abs(b)))


def max_norm_relative(a: np.ndarray, b: np.ndarray) -> float:
    """max |a - b| / max |b| (for matrices with entries near zero)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    assert a.shape == b.shape, (a.shape, b.shape)
    assert np.all(np.isfinite(a)) and np.max(np.abs(b)) > 0
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


REL = {
    "inversion_fit": elementwise_relative,  # our shares at our delta against the data: the inversion, not PyBLP
    "shares_at_pyblp_delta": elementwise_relative,
    "delta": elementwise_relative,
    "jacobian": max_norm_relative,
    "elasticities": max_norm_relative,
    "diversion": max_norm_relative,
    "outside_diversion": elementwise_relative,
    "costs": elementwise_relative,
    "merger_prices": elementwise_relative,
    "merger_prices_all_markets_at_once": elementwise_relative,  # autopact.model.markets.solve_prices_markets
    "consumer_surplus": elementwise_relative,
    "merger_consumer_surplus": elementwise_relative,
}


# ---------------------------------------------------------------------------------------------
# Data and model specifications
# ---------------------------------------------------------------------------------------------

def load_data() -> tuple[pd.DataFrame, pd.DataFrame]:
    products = pd.read_csv(pyblp.data.BLP_PRODUCTS_LOCATION)
    agents = pd.read_csv(pyblp.data.BLP_AGENTS_LOCATION)
    # Two nests: high versus low horsepower per weight.
    products["nesting_ids"] = (products["hpwt"] > products["hpwt"].median()).astype(int)
    agents = agents[["market_ids", "weights", "nodes0", "nodes1", "nodes2", "income"]].copy()
    # autopact requires integration weights that sum to one in each market; both sides get the same.
    agents["weights"] /= agents.groupby("market_ids")["weights"].transform("sum")
    return products, agents


@dataclass(frozen=True)
class Model:
    name: str
    alpha: float
    pi: float = 0.0
    sigma: np.ndarray = field(default_factory=lambda: np.zeros(0))
    rho: float = 0.0
    characteristics: tuple[str, ...] = ()
    nested: bool = False
    uses_agents: bool = False

    def pyblp_problem(self, products: pd.DataFrame, agents: pd.DataFrame) -> "pyblp.Problem":
        x1 = pyblp.Formulation("0 + prices + hpwt + air")
        data = products if self.nested else products.drop(columns="nesting_ids")
        if not self.uses_agents:
            return pyblp.Problem(x1, data)
        x2 = pyblp.Formulation("0 + prices + " + " + ".join(self.characteristics))
        agent_formulation = pyblp.Formulation("0 + I(1 / income)")
        return pyblp.Problem((x1, x2), data, agent_formulation, agents)

    def pyblp_solve(self, problem: "pyblp.Problem") -> "pyblp.ProblemResults":
        kwargs: dict = dict(beta=[-self.alpha, None, None], method="1s",
                            optimization=pyblp.Optimization("return"),
                            iteration=pyblp.Iteration("squarem", {"atol": 1e-14}),
                            check_optimality="gradient")  # skips a finite-difference Hessian
        if self.uses_agents:
            kwargs["sigma"] = np.diag([0.0, *self.sigma])
            kwargs["pi"] = np.array([[-self.pi]] + [[0.0]] * len(self.sigma))
        if self.nested:
            kwargs["rho"] = self.rho
        return problem.solve(**kwargs)

    def demand(self, market_products: pd.DataFrame, market_agents: pd.DataFrame) -> Demand:
        J = len(market_products)
        nests = (market_products["nesting_ids"].to_numpy() if self.nested else np.zeros(J, int))
        if not self.uses_agents:
            return Demand(alpha=self.alpha, pi=0.0, sigma=np.zeros(0), rho=self.rho,
                          characteristics=np.zeros((J, 0)), nests=nests, weights=np.array([1.0]),
                          income=np.array([1.0]), nu=np.zeros((1, 0)))
        nodes = [f"nodes{k + 1}" for k in range(len(self.sigma))]  # nodes0 goes with price (sigma 0)
        return Demand(alpha=self.alpha, pi=self.pi, sigma=np.asarray(self.sigma, float), rho=self.rho,
                      characteristics=market_products[list(self.characteristics)].to_numpy(float),
                      nests=nests, weights=market_agents["weights"].to_numpy(float),
                      income=market_agents["income"].to_numpy(float),
                      nu=market_agents[nodes].to_numpy(float))


MODELS = {
    "logit": Model("logit", alpha=0.3),
    "nested_logit": Model("nested_logit", alpha=0.3, rho=0.5, nested=True),
    "rcnl": Model("rcnl", alpha=0.3, pi=5.0, sigma=np.array([1.2, 0.8]), rho=0.4,
                  characteristics=("hpwt", "space"), nested=True, uses_agents=True),
}


# ---------------------------------------------------------------------------------------------
# Both implementations, once per model
# ---------------------------------------------------------------------------------------------

@dataclass
class Comparison:
    model: Model
    markets: list
    ours: dict[str, list[np.ndarray]]
    theirs: dict[str, list[np.ndarray]]
    pyblp_delta: list[np.ndarray]
    demands: list[Demand]
    prices: list[np.ndarray]


def pyblp_quantities(model: Model, products: pd.DataFrame, agents: pd.DataFrame):
    with warnings.catch_warnings():
        # The BLP agent weights sum to 0.154 per market (importance sampling); PyBLP warns about it.
        warnings.simplefilter("ignore")
        results = model.pyblp_solve(model.pyblp_problem(products, agents))
        merger_ids = products["firm_ids"].replace(MERGED_FROM, MERGED_INTO).to_numpy()
        costs = results.compute_costs()
        merger_prices = results.compute_prices(firm_ids=merger_ids, costs=costs,
                                               iteration=pyblp.Iteration("simple", {"atol": 1e-14}))
        out = {
            "delta": results.delta.ravel(),
            "jacobian": results.compute_demand_jacobians(),
            "elasticities": results.compute_elasticities(),
            "diversion": results.compute_diversion_ratios(),
            "costs": costs.ravel(),
            "merger_prices": merger_prices.ravel(),
            "consumer_surplus": results.compute_consumer_surpluses().ravel(),
            "merger_consumer_surplus": results.compute_consumer_surpluses(prices=merger_prices).ravel(),
        }
    return out, merger_ids


def compare(model: Model) -> Comparison:
    products, agents = load_data()
    theirs_all, merger_ids = pyblp_quantities(model, products, agents)
    market_ids = products["market_ids"].to_numpy()
    markets = list(pd.unique(market_ids))
    ours: dict[str, list] = {key: [] for key in REL}
    theirs: dict[str, list] = {key: [] for key in REL}
    pyblp_delta, demands, all_prices = [], [], []
    together: list[tuple] = []  # each market's (costs, xi, merger ownership, taxes) for solve_prices_markets
    for t, market in enumerate(markets):
        rows = market_ids == market
        J = int(rows.sum())
        market_products = products.loc[rows]
        demand = model.demand(market_products, agents.loc[agents["market_ids"] == market])
        prices = market_products["prices"].to_numpy(float)
        observed = market_products["shares"].to_numpy(float)
        taxes = Taxes.none(J)

        delta, _ = invert_shares(observed, prices, demand)
        jac = price_jacobian(delta, prices, demand)
        d, outside = diversion_ratios(delta, prices, demand)
        costs, _ = marginal_costs(prices, delta, demand,
                                  ownership_matrix(market_products["firm_ids"].to_numpy()), taxes)
        xi = delta + model.alpha * prices
        equilibrium = solve_prices(costs, xi, demand, ownership_matrix(merger_ids[rows]), taxes,
                                   initial=prices, tol=1e-13)
        new_prices = equilibrium.prices
        together.append((costs, xi, ownership_matrix(merger_ids[rows]), taxes))
        ours["inversion_fit"].append(shares(delta, prices, demand))
        ours["shares_at_pyblp_delta"].append(shares(theirs_all["delta"][rows], prices, demand))
        ours["delta"].append(delta)
        ours["jacobian"].append(jac)
        ours["elasticities"].append(elasticities(delta, prices, demand))
        ours["diversion"].append(d)
        ours["outside_diversion"].append(outside)
        ours["costs"].append(costs)
        ours["merger_prices"].append(new_prices)
        ours["consumer_surplus"].append(
            np.array([consumer_surplus(delta, prices, demand, MARKET_SIZE) / MARKET_SIZE]))
        ours["merger_consumer_surplus"].append(np.array(
            [consumer_surplus(xi - model.alpha * new_prices, new_prices, demand, MARKET_SIZE) / MARKET_SIZE]))

        # PyBLP stacks matrices by market: rows are this market's products, columns padded to max J.
        their_diversion = theirs_all["diversion"][rows][:, :J]
        theirs["inversion_fit"].append(observed)
        theirs["shares_at_pyblp_delta"].append(observed)
        theirs["delta"].append(theirs_all["delta"][rows])
        theirs["jacobian"].append(theirs_all["jacobian"][rows][:, :J])
        theirs["elasticities"].append(theirs_all["elasticities"][rows][:, :J])
        # PyBLP reports the outside good's diversion on the diagonal; autopact's diagonal is zero.
        theirs["diversion"].append(their_diversion - np.diag(np.diag(their_diversion)))
        theirs["outside_diversion"].append(np.diag(their_diversion).copy())
        theirs["costs"].append(theirs_all["costs"][rows])
        theirs["merger_prices"].append(theirs_all["merger_prices"][rows])
        theirs["merger_prices_all_markets_at_once"].append(theirs_all["merger_prices"][rows])
        theirs["consumer_surplus"].append(theirs_all["consumer_surplus"][[t]])
        theirs["merger_consumer_surplus"].append(theirs_all["merger_consumer_surplus"][[t]])
        pyblp_delta.append(theirs_all["delta"][rows])
        demands.append(demand)
        all_prices.append(prices)
    costs, xis, ownerships, taxes = (list(column) for column in zip(*together))
    found = solve_prices_markets(costs, xis, demands, ownerships, taxes, initial=all_prices, tol=1e-13)
    ours["merger_prices_all_markets_at_once"] = [equilibrium.prices for equilibrium in found]
    return Comparison(model, markets, ours, theirs, pyblp_delta, demands, all_prices)


@pytest.fixture(scope="module", params=list(MODELS))
def comparison(request) -> Comparison:
    return compare(MODELS[request.param])


# ---------------------------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------------------------

def worst(comparison: Comparison, quantity: str) -> tuple[float, object]:
    errors = [REL[quantity](a, b) for a, b in zip(comparison.ours[quantity], comparison.theirs[quantity])]
    t = int(np.argmax(errors))
    return errors[t], comparison.markets[t]


def test_twenty_markets_compared(comparison: Comparison) -> None:
    assert len(comparison.markets) == 20
    for quantity in REL:
        assert len(comparison.ours[quantity]) == 20
    # The merger changes prices: otherwise the price comparison would only restate observed prices.
    changed = [np.max(np.abs(p - q) / q) for p, q in zip(comparison.theirs["merger_prices"], comparison.prices)]
    assert min(changed) > 1e-3


@pytest.mark.parametrize("quantity", list(REL))
def test_agrees_with_pyblp(comparison: Comparison, quantity: str) -> None:
    error, market = worst(comparison, quantity)
    assert error < TOLERANCE, (f"{comparison.model.name}: {quantity} differs from PyBLP by "
                               f"{error:.2e} (relative) in market {market}")


def test_merger_lowers_consumer_surplus(comparison: Comparison) -> None:
    """A merger raises prices, so consumer surplus falls in every market (both implementations)."""
    before, after = comparison.ours["consumer_surplus"], comparison.ours["merger_consumer_surplus"]
    assert all(a[0] < b[0] for a, b in zip(after, before))


def test_comparison_detects_a_small_parameter_error(comparison: Comparison) -> None:
    """The harness is not a tautology: a relative error of 1e-6 in alpha moves the elasticities by
    roughly 1e-6 relative, at least 10 times the 1e-8 tolerance, so the comparison would fail."""
    model = comparison.model
    for t in (0, len(comparison.markets) - 1):
        demand = comparison.demands[t]
        perturbed = Demand(alpha=demand.alpha * (1 + 1e-6), pi=demand.pi, sigma=demand.sigma, rho=demand.rho,
                           characteristics=demand.characteristics, nests=demand.nests, weights=demand.weights,
                           income=demand.income, nu=demand.nu)
        prices = comparison.prices[t]
        delta = comparison.pyblp_delta[t]
        e = elasticities(delta, prices, perturbed)
        assert max_norm_relative(e, comparison.theirs["elasticities"][t]) > 10 * TOLERANCE, model.name
