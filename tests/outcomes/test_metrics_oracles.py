"""Outcome accounting on tiny hand-built markets, against closed forms computed here.

1. Plain logit, built backwards from chosen equilibrium prices and shares: with utility
   xi_j - alpha p_j, a single-price-setter firm f's Bertrand-Nash markup is the same on all its
   products, m_f = 1 / (alpha (1 - S_f)) (S_f: the firm's total share), so costs c = p - m and
   xi_j = ln(s_j / s_0) + alpha p_j make (p, s) the equilibrium. ``solve`` must find exactly those
   prices, and ``metrics`` must give the units, profits by firm and nationality (a joint venture's
   profit and units split 50/50 to its parents), HHI, tariff revenue (tau v + T) q, US-assembled
   units and jobs, and consumer surplus M ln(1 / s_0) / alpha that follow from them by hand.
2. Two household types (income-dependent price sensitivity): shares, the FOC and consumer surplus
   by income group recomputed household by household with plain numpy formulas.
"""

import numpy as np
import pandas as pd
import pytest

from autopact.fit.market import MarketModel
from autopact.model.demand import Demand
from autopact.model.households import Households
from autopact.model.supply import Taxes
from autopact.outcomes.metrics import metrics
from autopact.simulate import solve

US = "United States"
ALPHA = 1 / 8000.0  # utility per dollar
M = 1_000_000.0  # households
PER_WORKER = 32.0

# product, owner, nationality, price, share, origin shares, tariff rate, specific tariff, powertrain, segment
ROWS = [
    ("a", "Detroit Co", US, 30_000.0, 0.10, {US: 1.0}, 0.0, 0.0, "BEV", "car"),
    ("b", "Detroit Co", US, 45_000.0, 0.15, {US: 0.5, "Mexico": 0.5}, 0.125, 0.0, "ICE", "pickup"),
    ("c", "Nippon Co", "Japan", 28_000.0, 0.08, {"Japan": 1.0}, 0.275, 1_000.0, "ICE", "car"),
    ("d", "Detroit Co-Beijing Co JV", "China", 40_000.0, 0.05, {US: 1.0}, 0.0, 0.0, "BEV", "SUV-crossover"),
]
STAKES = {"d": {"Detroit Co": 0.5, "Beijing Co": 0.5}}


def _households(income: np.ndarray, weights: np.ndarray) -> Households:
    return Households(weights=weights, income=income, nu=np.zeros((len(income), 0)), seed=0)


def _market(xi, costs, alpha, pi, households) -> MarketModel:
    names = [r[0] for r in ROWS]
    origin = pd.DataFrame([r[5] for r in ROWS]).fillna(0.0)
    rate = np.array([r[6] for r in ROWS])
    specific = np.array([r[7] for r in ROWS])
    customs = (costs - specific) / (1 + rate)  # the cost before tariffs: c = v (1 + tau) + T
    products = pd.DataFrame({
        "product_id": names, "name": names, "owner": [r[1] for r in ROWS], "nationality": [r[2] for r in ROWS],
        "powertrain": [r[8] for r in ROWS], "segment": [r[9] for r in ROWS],
        "tariff_rate": rate, "tariff_specific": specific, "customs_value": customs, "base_cost": customs})
    holders = ["Beijing Co", "Detroit Co", "Nippon Co"]
    stakes = pd.DataFrame([[STAKES.get(n, {r[1]: 1.0}).get(h, 0.0) for h in holders] for n, r in zip(names, ROWS)],
                          columns=holders)
    owner_names = list(dict.fromkeys(products["owner"]))
    demand = Demand(alpha=alpha, pi=pi, sigma=np.zeros(0), rho=0.0, characteristics=np.zeros((len(ROWS), 0)),
                    nests=np.zeros(len(ROWS), int), weights=households.weights, income=households.income,
                    nu=households.nu)
    return MarketModel(kind="calibrated", products=products, origin=origin, xi=np.asarray(xi, float),
                       costs=np.asarray(costs, float), stakes=stakes,
                       owners=np.array([owner_names.index(o) for o in products["owner"]]), owner_names=owner_names,
                       demand=demand, households=households, market_size=M,
                       money={"unit": "dollars", "dollars_per_unit": 1.0}, document={},
                       taxes=Taxes.none(len(ROWS)))


@pytest.fixture(scope="module")
def logit():
    """The plain-logit market built backwards from its equilibrium, with the hand computation."""
    p = np.array([r[3] for r in ROWS])
    s = np.array([r[4] for r in ROWS])
    s0 = 1 - s.sum()
    owner = [r[1] for r in ROWS]
    firm_share = {f: s[[o == f for o in owner]].sum() for f in set(owner)}
    markup = np.array([1 / (ALPHA * (1 - firm_share[o])) for o in owner])
    costs = p - markup
    xi = np.log(s / s0) + ALPHA * p
    # incomes in each of the four income groups; logit: every household has the same surplus
    households = _households(np.array([30e3, 70e3, 150e3, 400e3]), np.full(4, 0.25))
    market = _market(xi, costs, ALPHA, 0.0, households)
    state = solve(market)
    return market, state, {"p": p, "s": s, "s0": s0, "markup": markup, "costs": costs}


def test_the_solver_finds_the_equilibrium_the_market_was_built_from(logit):
    market, state, hand = logit
    rows = state.products
    assert state.solver["converged"] and state.solver["max_foc_residual"] < 1e-12
    # measured: prices 1.9e-13, units 7.4e-13, markups 6.1e-13, profits 1.2e-13 relative (the fixed
    # point stops at |FOC/s| < 1e-12)
    np.testing.assert_allclose(rows["price"], hand["p"], rtol=2e-12)
    np.testing.assert_allclose(rows["units"], M * hand["s"], rtol=5e-12)
    np.testing.assert_allclose(rows["markup"], hand["markup"], rtol=5e-12)
    np.testing.assert_allclose(rows["profit"], hand["markup"] * M * hand["s"], rtol=5e-12)


def test_logit_metrics_equal_the_hand_computation(logit):
    market, state, hand = logit
    out = metrics(state, market, {"vehicles_per_assembly_worker": PER_WORKER})
    q = M * hand["s"]
    profit = hand["markup"] * q
    a, b, c, d = range(4)
    exact = dict(rel=5e-12)  # measured: at most 7e-13 (the solver's units), CS 1.5e-13, total profit 2e-14
    assert out["total_units"] == pytest.approx(q.sum(), **exact)
    # firms: the JV's units and profit split 50/50 to Detroit Co and Beijing Co
    firm_units = {"Detroit Co": q[a] + q[b] + 0.5 * q[d], "Beijing Co": 0.5 * q[d], "Nippon Co": q[c]}
    firm_profit = {"Detroit Co": profit[a] + profit[b] + 0.5 * profit[d], "Beijing Co": 0.5 * profit[d],
                   "Nippon Co": profit[c]}
    assert out["profit_by_firm_usd"] == pytest.approx(firm_profit, **exact)
    assert out["total_profit_usd"] == pytest.approx(profit.sum(), **exact)
    # nationality of an owner: its own products' (a maker with only JV products is Chinese)
    assert out["units_by_nationality"] == pytest.approx(
        {US: firm_units["Detroit Co"], "China": firm_units["Beijing Co"], "Japan": q[c]}, **exact)
    assert out["units_share_by_nationality"] == pytest.approx(
        {US: firm_units["Detroit Co"] / q.sum(), "China": 0.5 * q[d] / q.sum(), "Japan": q[c] / q.sum()}, **exact)
    assert out["profit_by_nationality_usd"] == pytest.approx(
        {US: firm_profit["Detroit Co"], "China": firm_profit["Beijing Co"], "Japan": profit[c]}, **exact)
    assert out["hhi"] == pytest.approx(10_000 * sum((u / q.sum()) ** 2 for u in firm_units.values()), **exact)
    # tariffs on customs value v = (c - T) / (1 + tau): revenue (tau v + T) q
    v_b = hand["costs"][b] / 1.125
    v_c = (hand["costs"][c] - 1_000) / 1.275
    assert out["tariff_revenue_usd"] == pytest.approx((0.125 * v_b) * q[b] + (0.275 * v_c + 1_000) * q[c], **exact)
    # US assembly: a and d wholly, b half (Mexico the rest)
    us_units = q[a] + 0.5 * q[b] + q[d]
    assert out["us_assembled_units"] == pytest.approx(us_units, **exact)
    assert out["us_assembly_jobs"] == pytest.approx(us_units / PER_WORKER, **exact)
    assert out["units_by_assembly_country"] == pytest.approx(
        {US: us_units, "Mexico": 0.5 * q[b], "Japan": q[c]}, **exact)
    assert out["bev_share"] == pytest.approx((q[a] + q[d]) / q.sum(), **exact)
    assert out["average_price_usd"] == pytest.approx(hand["p"] @ q / q.sum(), **exact)
    assert out["units_by_segment"] == pytest.approx({"car": q[a] + q[c], "pickup": q[b], "SUV-crossover": q[d]},
                                                    **exact)
    # consumer surplus: M ln(1 / s_0) / alpha (Small and Rosen; logit inclusive value ln(1 + sum e^V) = -ln s_0)
    per_household = np.log(1 / hand["s0"]) / ALPHA
    assert out["consumer_surplus_usd"] == pytest.approx(M * per_household, **exact)
    groups = out["consumer_surplus_per_household_by_income_usd"]
    assert set(groups) == {"under $50k", "$50k-100k", "$100k-200k", "$200k and over"}
    assert list(groups.values()) == pytest.approx([per_household] * 4, **exact)


def test_income_groups_and_foc_with_two_household_types():
    """alpha_i = alpha + pi / y_i for a $40k and a $250k household (weights 0.6, 0.4): shares,
    the first-order conditions and consumer surplus per household by group, household by household."""
    income, weights = np.array([40e3, 250e3]), np.array([0.6, 0.4])
    pi = 2.0
    xi = np.array([4.0, 6.5, 3.5, 5.0])
    costs = np.array([20_000.0, 30_000.0, 19_000.0, 27_000.0])
    market = _market(xi, costs, ALPHA, pi, _households(income, weights))
    state = solve(market)
    p = state.products["price"].to_numpy()
    alpha_i = ALPHA + pi / income
    e = np.exp(xi[None, :] - alpha_i[:, None] * p[None, :])  # (households, products)
    s_i = e / (1 + e.sum(axis=1, keepdims=True))
    s = weights @ s_i
    assert state.products["units"].to_numpy() == pytest.approx(M * s, rel=1e-14)  # measured 2e-16
    # ds_k/dp_j = sum_i w_i (-alpha_i) s_ik (1[j=k] - s_ij); Omega from the owners (the JV prices alone)
    jac = np.einsum("i,ik,jk->jk", -weights * alpha_i, s_i, np.eye(4)) + np.einsum(
        "i,ik,ij->jk", weights * alpha_i, s_i, s_i)
    owner = np.array([r[1] for r in ROWS])
    omega = (owner[:, None] == owner[None, :]).astype(float)
    foc = s + (omega * jac) @ (p - costs)
    assert np.max(np.abs(foc / s)) < 1e-12  # measured 1.3e-13 (the solver stops below 1e-12)
    cs_i = np.log(1 + e.sum(axis=1)) / alpha_i
    out = metrics(state, market, {"vehicles_per_assembly_worker": PER_WORKER})
    groups = out["consumer_surplus_per_household_by_income_usd"]
    assert groups["under $50k"] == pytest.approx(cs_i[0], rel=1e-14)  # measured 6e-16
    assert groups["$200k and over"] == pytest.approx(cs_i[1], rel=1e-14)
    assert groups["$50k-100k"] is None and groups["$100k-200k"] is None  # no simulated household there
    assert out["consumer_surplus_usd"] == pytest.approx(M * weights @ cs_i, rel=1e-14)
