"""The fused RC logit terms of the estimation (``autopact.fit.rc_logit``) against central differences.

Three BLP 1995 markets with the supply-side specification of PyBLP's tutorial: d delta / d theta
and the markups' derivatives (shares re-inverted at theta +- h) for firm ownership and for an
asymmetric profit-weight ownership, the adjoint gradient mu' dm/d theta against the full
derivatives, and the work of an evaluation near the last one (extrapolated start: two Newton
steps a market).
"""

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pyblp
import pytest

from autopact.fit import factors, rc_logit
from autopact.fit.estimation import Problem
from autopact.fit.market_terms import demand_terms, expanded_nodes
from autopact.fit.problem import Parameters
from autopact.model.demand import individual_shares
from autopact.model.supply import ownership_matrix

SPEC = {"x1": "1 + hpwt + air + mpd + space", "x2": "1 + prices + hpwt + air + mpd + space",
        "x3": "1 + log(hpwt) + air + log(mpg) + log(space) + trend", "demographics": "0 + I(1 / income)"}
SIGMA = np.array([3.612, 0, 4.628, 1.818, 1.050, 2.056])
PI = np.array([[0], [-43.501], [0], [0], [0], [0.0]])


@pytest.fixture(scope="module")
def problem():
    products = pd.read_csv(pyblp.data.BLP_PRODUCTS_LOCATION)
    agents = pd.read_csv(pyblp.data.BLP_AGENTS_LOCATION)
    markets = products["market_ids"].unique()[[0, 9, 19]]
    products = products[products["market_ids"].isin(markets)].reset_index(drop=True)
    agents = agents[agents["market_ids"].isin(markets)].reset_index(drop=True)
    agents["weights"] /= agents.groupby("market_ids")["weights"].transform("sum")
    return Problem.build(products, SPEC["x1"], SPEC["x2"], agents, SPEC["demographics"], x3=SPEC["x3"])


def _central(problem, market, p, h=1e-6):
    """Central differences of delta and the markups in each free theta, shares re-inverted."""
    lm = rc_logit.LogitMarket.build(market, p, problem.x2_names, expanded_nodes(market, p))
    theta = p.vector()
    d_delta, d_markups = np.empty((len(market.shares), len(theta))), np.empty((len(market.shares), len(theta)))
    for q in range(len(theta)):
        sides = []
        for step in (h, -h):
            moved = p.with_vector(theta + step * np.eye(len(theta))[q])
            delta, _, markups, _ = rc_logit.terms(lm, moved, None, False, True, 1e-14)
            sides.append((delta, markups.markups))
        d_delta[:, q] = (sides[0][0] - sides[1][0]) / (2 * h)
        d_markups[:, q] = (sides[0][1] - sides[1][1]) / (2 * h)
    return lm, d_delta, d_markups


def test_share_evaluations_of_the_inversion_equal_the_demand_kernels(problem):
    """``Tastes.probabilities`` (exp(mu) once per theta) and ``rc_logit.probabilities`` give
    ``autopact.model.demand``'s choice probabilities to 1e-13."""
    p = Parameters(SIGMA.copy(), PI.copy(), None)
    for market in problem.markets:
        lm = rc_logit.LogitMarket.build(market, p, problem.x2_names, expanded_nodes(market, p))
        mu = lm.utilities_net_of_delta(p)
        delta = lm.log_shares - np.log(1 - market.shares.sum()) + np.linspace(-3, 3, len(market.shares))
        demand, _ = demand_terms(market, p, problem.x2_names)
        direct = individual_shares(delta, market.prices, demand)[0]
        assert np.max(np.abs(rc_logit.probabilities(delta, mu) / direct - 1)) < 1e-13
        assert np.max(np.abs(rc_logit.Tastes(mu).probabilities(delta) / direct - 1)) < 1e-13


def _relative(a, b):
    return np.max(np.abs(a - b)) / np.max(np.abs(b))


@pytest.mark.parametrize("ownership", ["firms", "profit weights"])
def test_delta_and_markup_derivatives_match_central_differences(problem, ownership):
    market = problem.markets[1]
    if ownership == "profit weights":  # kappa(f, g) != kappa(g, f): O is not symmetric, so no Cholesky
        firms = pd.factorize(np.argmax(market.ownership, axis=1))[0]
        kappa = np.eye(firms.max() + 1)
        kappa[0, 1], kappa[2, 0] = 0.4, 0.25
        market = type(market)(**{**market.__dict__, "ownership": ownership_matrix(firms, kappa)})
    p = Parameters(SIGMA.copy(), PI.copy(), None)
    lm, d_delta, d_markups = _central(problem, market, p)
    assert lm.symmetric == (ownership == "firms")
    delta, analytic, markups, _ = rc_logit.terms(lm, p, None, True, True, 1e-14)
    assert _relative(analytic, d_delta) < 1e-6
    assert _relative(markups.derivatives(analytic), d_markups) < 1e-6
    mu = np.random.default_rng(0).standard_normal(len(delta))
    assert _relative(markups.gradient(analytic, mu), mu @ markups.derivatives(analytic)) < 1e-12


def test_an_evaluation_near_the_last_takes_few_newton_steps(problem, monkeypatch):
    """From delta extrapolated along d delta / d theta, a 1% move in theta needs one Newton step
    and chord steps on its matrix (at most four share evaluations a market, one
    factorisation before the solution's); from the last delta alone it needs more."""
    p = Parameters(SIGMA.copy(), PI.copy(), None)
    moved = p.with_vector(p.vector() * 1.01)
    counts = {"calls": 0}
    original = rc_logit.Tastes.parts  # one share evaluation

    def counted(self, delta):
        counts["calls"] += 1
        return original(self, delta)

    monkeypatch.setattr(rc_logit.Tastes, "parts", counted)
    plain = extrapolated = 0
    for market in problem.markets:
        lm = rc_logit.LogitMarket.build(market, p, problem.x2_names, expanded_nodes(market, p))
        delta, slope, _, _ = rc_logit.terms(lm, p, None, True, False, 1e-14)
        exact, _, _, _ = rc_logit.terms(lm, moved, None, False, False, 1e-14)
        counts["calls"] = 0
        again, _, _, _ = rc_logit.terms(lm, moved, delta, False, False, 1e-14)
        plain += counts["calls"]
        counts["calls"] = 0
        predicted = delta + slope @ (moved.vector() - p.vector())
        solved, _, _, _ = rc_logit.terms(lm, moved, delta, False, False, 1e-14, predicted)
        extrapolated += counts["calls"]
        assert np.max(np.abs(solved - exact)) < 1e-12 and np.max(np.abs(again - exact)) < 1e-12
    assert extrapolated <= 4 * len(problem.markets) < plain


def test_chord_steps_on_the_last_factor_leave_one_factorisation_a_market(problem, monkeypatch):
    """With the last evaluation's ds/d delta factored, an evaluation after a 0.1% move in theta
    factors ds/d delta once a market (at the solution: d delta / d theta and the next evaluation
    need it; main before: also once a Newton step), and reaches the same delta as without it."""
    p = Parameters(SIGMA.copy(), PI.copy(), None)
    moved = p.with_vector(p.vector() * 1.001)
    counts = {"factorisations": 0}
    original = factors.lapack

    def dpotrf(*args, **kwargs):
        counts["factorisations"] += 1
        return original.dpotrf(*args, **kwargs)

    monkeypatch.setattr(factors, "lapack", SimpleNamespace(dpotrf=dpotrf, dpotrs=original.dpotrs))
    chord = newton = 0
    for market in problem.markets:
        lm = rc_logit.LogitMarket.build(market, p, problem.x2_names, expanded_nodes(market, p))
        delta, slope, _, factor = rc_logit.terms(lm, p, None, True, False, 1e-14)
        exact, _, _, _ = rc_logit.terms(lm, moved, None, False, False, 1e-14)
        predicted = delta + slope @ (moved.vector() - p.vector())
        counts["factorisations"] = 0
        solved, _, _, _ = rc_logit.terms(lm, moved, delta, True, False, 1e-14, predicted, factor)
        chord += counts["factorisations"]
        counts["factorisations"] = 0
        again, _, _, _ = rc_logit.terms(lm, moved, delta, True, False, 1e-14, predicted)
        newton += counts["factorisations"]
        assert np.max(np.abs(solved - exact)) < 1e-12 and np.max(np.abs(again - exact)) < 1e-12
    assert chord == len(problem.markets) < newton


def test_a_stalled_newton_inversion_falls_back_to_invert_shares(problem, monkeypatch):
    """When the fused Newton steps stall, ``invert_shares`` (Newton, then SQUAREM) solves from the
    same start, and every later term is computed at its delta."""
    p = Parameters(SIGMA.copy(), PI.copy(), None)
    market = problem.markets[0]
    lm = rc_logit.LogitMarket.build(market, p, problem.x2_names, expanded_nodes(market, p))
    delta, d_delta, markups, _ = rc_logit.terms(lm, p, None, True, True, 1e-14)
    original = rc_logit.invert
    monkeypatch.setattr(rc_logit, "invert", lambda lm, mu, start, tol, factor: (start,) + original(lm, mu, start, tol)[1:3]
                        + (False,))
    again, d_again, markups_again, _ = rc_logit.terms(lm, p, None, True, True, 1e-14)
    assert np.max(np.abs(again - delta)) < 1e-12
    assert _relative(d_again, d_delta) < 1e-10 and _relative(markups_again.markups, markups.markups) < 1e-10


@pytest.mark.parametrize("negative", [False, True])
def test_a_factor_in_place_that_is_not_definite_solves_with_the_rebuilt_matrix(negative):
    """``Symmetric`` factors a lower triangle in place (no copy); where the matrix is not definite
    (here indefinite) the solve is LU's on the matrix ``dense`` rebuilds, as for a full matrix."""
    rng = np.random.default_rng(1)
    full = rng.standard_normal((6, 6))
    full = full + full.T
    sign = -1.0 if negative else 1.0
    lower = np.asfortranarray(np.tril(sign * full))
    lower[0, 5] = np.nan  # the upper triangle is never read
    rhs = rng.standard_normal(6)
    solved = factors.Symmetric(lower, negative=negative, dense=lambda: full).solve(rhs)
    assert np.allclose(full @ solved, rhs, rtol=0, atol=1e-10)
    definite = full @ full.T + np.eye(6)
    lower = np.asfortranarray(np.tril(sign * definite))
    solved = factors.Symmetric(lower, negative=negative, dense=lambda: definite).solve(rhs)
    assert np.allclose(definite @ solved, rhs, rtol=0, atol=1e-10)


def test_markups_by_firm_blocks_equal_the_full_factorisation(problem):
    """With firm ownership O o J^T is block diagonal: factored by blocks (each firm with 12
    products or more, the others together; main before: the full J x J matrix) the markups, their
    derivatives and the adjoint gradient equal the full factorisation's to 1e-12."""
    p = Parameters(SIGMA.copy(), PI.copy(), None)
    for market in problem.markets:
        lm = rc_logit.LogitMarket.build(market, p, problem.x2_names, expanded_nodes(market, p))
        assert lm.blocks is not None and len(lm.blocks) >= 2
        assert sorted(np.concatenate([rows for rows, _ in lm.blocks])) == list(range(len(market.shares)))
        _, d_delta, blocked, _ = rc_logit.terms(lm, p, None, True, True, 1e-14)
        lm.blocks = None
        _, _, full, _ = rc_logit.terms(lm, p, None, True, True, 1e-14)
        mu = np.random.default_rng(0).standard_normal(len(market.shares))
        assert _relative(blocked.markups, full.markups) < 1e-12
        assert _relative(blocked.derivatives(d_delta), full.derivatives(d_delta)) < 1e-12
        assert _relative(blocked.gradient(d_delta, mu), full.gradient(d_delta, mu)) < 1e-12



def test_the_markups_blocks_solve_in_one_lapack_call(problem, monkeypatch):
    """The firms' blocks of O o J^T are solved together, one triangular solve over the blocks'
    products (main before: one LAPACK call per block, four a market in BLP 1995), with the same
    markups as block by block to 1e-12."""
    p = Parameters(SIGMA.copy(), PI.copy(), None)
    counts = {"solves": 0}
    original = factors.lapack

    def dpotrs(*args, **kwargs):
        counts["solves"] += 1
        return original.dpotrs(*args, **kwargs)

    for market in problem.markets:
        lm = rc_logit.LogitMarket.build(market, p, problem.x2_names, expanded_nodes(market, p))
        _, d_delta, markups, _ = rc_logit.terms(lm, p, None, True, True, 1e-14)
        mu = np.random.default_rng(0).standard_normal(len(market.shares))
        monkeypatch.setattr(factors, "lapack", SimpleNamespace(dpotrf=original.dpotrf, dpotrs=dpotrs))
        counts["solves"] = 0
        merged = markups.factored.solve(mu)
        assert counts["solves"] == 1 and len(markups.factored.blocks) >= 2
        monkeypatch.setattr(factors, "lapack", original)
        by_block = np.empty_like(mu)
        for rows, factor in markups.factored.blocks:
            by_block[rows] = factor.solve(mu[rows])
        assert _relative(merged, by_block) < 1e-12


def test_tastes_from_the_bound_on_mu_equal_the_exact_maximum(problem):
    """``Tastes.of`` shifts mu by a bound on each household's largest utility (one matrix product,
    no pass for the maximum; main before: ``Tastes(mu)`` only) and gives the same choice
    probabilities to 1e-13; where the bound's range could reach the floor of -250 it takes the
    exact maximum, so the floor applies as before."""
    p = Parameters(SIGMA.copy(), PI.copy(), None)
    market = problem.markets[0]
    lm = rc_logit.LogitMarket.build(market, p, problem.x2_names, expanded_nodes(market, p))
    delta, _, _, _ = rc_logit.terms(lm, p, None, False, False, 1e-14)
    exact = rc_logit.Tastes(lm.utilities_net_of_delta(p))
    bound = rc_logit.Tastes.of(lm, p)
    assert np.all(bound.top >= exact.top - 1e-9) and np.any(bound.top > exact.top + 1e-6)
    assert _relative(bound.probabilities(delta), exact.probabilities(delta)) < 1e-13
    wide = p.with_vector(p.vector() * 40.0)  # utilities spread over more than 250: the exact path
    assert np.array_equal(rc_logit.Tastes.of(lm, wide).factor, rc_logit.Tastes(lm.utilities_net_of_delta(wide)).factor)
