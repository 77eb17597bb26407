"""The estimation's compiled loops (``autopact.fit.compiled_terms``: the share inversion's trial
evaluations, the markups' set-up and adjoint gradient) against the numpy path they replace, on
three BLP 1995 markets with PyBLP's tutorial specification; the numpy path kept where numba is
missing or broken; the markups' blocks in ``LogitMarket.block_order``'s order."""

import sys
import warnings

import numpy as np
import pandas as pd
import pyblp
import pytest

from autopact.fit import rc_logit
from autopact.fit.estimation import Problem, estimate
from autopact.fit.market_terms import expanded_nodes
from autopact.fit.problem import Parameters

pytest.importorskip("numba")

SPEC = {"x1": "1 + hpwt + air + mpd + space", "x2": "1 + prices + hpwt + air + mpd + space",
        "x3": "1 + log(hpwt) + air + log(mpg) + log(space) + trend", "demographics": "0 + I(1 / income)"}
SIGMA = np.array([3.612, 0, 4.628, 1.818, 1.050, 2.056])
PI = np.array([[0], [-43.501], [0], [0], [0], [0.0]])


def _problem(chosen: list[int] | None) -> Problem:
    products = pd.read_csv(pyblp.data.BLP_PRODUCTS_LOCATION)
    agents = pd.read_csv(pyblp.data.BLP_AGENTS_LOCATION)
    if chosen is not None:
        markets = products["market_ids"].unique()[chosen]
        products = products[products["market_ids"].isin(markets)].reset_index(drop=True)
        agents = agents[agents["market_ids"].isin(markets)].reset_index(drop=True)
    agents["weights"] /= agents.groupby("market_ids")["weights"].transform("sum")
    return Problem.build(products, SPEC["x1"], SPEC["x2"], agents, SPEC["demographics"], x3=SPEC["x3"])


def test_the_compiled_exponent_cap_is_the_demands():
    """compiled_terms writes EXP_CAP itself (numba's cache would keep a value read from another module
    after that module changed); the two must stay equal."""
    from autopact.fit import compiled_terms
    from autopact.model.demand import EXP_CAP

    assert compiled_terms.EXP_CAP == EXP_CAP


@pytest.fixture(scope="module")
def problem():
    return _problem([0, 9, 19])


def _relative(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


def test_compiled_terms_equal_the_numpy_path(problem):
    """delta, d delta / d theta, the markups, their derivatives and the adjoint gradient by the
    compiled loops equal the numpy path's to 1e-11 (the sums are taken in another order), from a
    cold start and from a start near the solution with the last factor (chord steps)."""
    loops = rc_logit.compiled_terms()
    assert loops is not None
    p = Parameters(SIGMA.copy(), PI.copy(), None)
    near = p.with_vector(p.vector() * 1.01)
    for market in problem.markets:
        nodes = expanded_nodes(market, p)
        numpy_lm = rc_logit.LogitMarket.build(market, p, problem.x2_names, nodes)
        compiled_lm = rc_logit.LogitMarket.build(market, p, problem.x2_names, nodes, loops)
        assert numpy_lm.loops is None and compiled_lm.blocks is not None
        mu = np.random.default_rng(1).standard_normal(len(market.shares))
        found = {}
        for lm in (numpy_lm, compiled_lm):
            delta, d_delta, markups, factor = rc_logit.terms(lm, p, None, True, True, 1e-14)
            found[lm.loops, "cold"] = (delta, d_delta, markups.markups, markups.derivatives(d_delta),
                                       markups.gradient(d_delta, mu))
            # the next evaluation, started from the extrapolated delta with chord steps on this factor
            predicted = delta + d_delta @ (near.vector() - p.vector())
            delta, d_delta, markups, _ = rc_logit.terms(lm, near, delta, True, True, 1e-14, predicted, factor)
            found[lm.loops, "warm"] = (delta, d_delta, markups.markups, markups.derivatives(d_delta),
                                       markups.gradient(d_delta, mu))
        for start in ("cold", "warm"):
            for ours, theirs in zip(found[loops, start], found[None, start]):
                assert _relative(ours, theirs) < 1e-11


def test_the_compiled_markups_blocks_are_in_the_markets_block_order(problem):
    """The markups' factored blocks take their product order from ``LogitMarket.block_order`` (the
    one source of it; ``factors.Blocks`` recomputed it before), on both paths."""
    p = Parameters(SIGMA.copy(), PI.copy(), None)
    market = problem.markets[0]
    for loops in (None, rc_logit.compiled_terms()):
        lm = rc_logit.LogitMarket.build(market, p, problem.x2_names, expanded_nodes(market, p), loops)
        _, _, markups, _ = rc_logit.terms(lm, p, None, True, True, 1e-14)
        assert markups.factored.order is lm.block_order


def test_an_estimation_by_numpy_equals_the_compiled_one():
    """``estimate(..., compiled=False)`` (the numpy path, selectable) and the default compiled
    loops give the same objective, gradient (the markups' part by the adjoint), linear parameters
    and structural errors at the starting values to 1e-10 (all 20 markets: with three, the weighting matrix's entries reach 1e14 and
    rounding moves the objective by 1e-3)."""
    problem = _problem(None)
    runs = [estimate(problem, sigma=np.diag(SIGMA), pi=PI, evaluate_only=True, compiled=compiled)
            for compiled in (False, True)]
    assert abs(runs[1].objective / runs[0].objective - 1) < 1e-10
    assert _relative(np.asarray(runs[1].details["gradient"]), np.asarray(runs[0].details["gradient"])) < 1e-10
    for field in ("beta", "xi", "delta"):
        assert _relative(getattr(runs[1], field), getattr(runs[0], field)) < 1e-10


def test_without_numba_the_estimation_takes_the_numpy_path(monkeypatch):
    """Where numba cannot be imported, ``compiled_terms`` is None (the numpy path) without a
    warning; where the compiled module is broken, None with one RuntimeWarning naming the error."""
    monkeypatch.setattr(rc_logit, "_LOADED", {})
    monkeypatch.setitem(sys.modules, "autopact.fit.compiled_terms", None)  # import raises ImportError
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert rc_logit.compiled_terms() is None

    def broken(module):
        raise RuntimeError("no LLVM here")

    monkeypatch.setattr(rc_logit, "_LOADED", {})
    monkeypatch.delitem(sys.modules, "autopact.fit.compiled_terms")
    monkeypatch.setattr(rc_logit, "_warm", broken)
    with pytest.warns(RuntimeWarning, match="RuntimeError: no LLVM here"):
        assert rc_logit.compiled_terms() is None


def test_an_inversion_from_a_start_with_no_positive_share_is_not_reported_solved(problem):
    """A start whose predicted shares are not all positive (a NaN delta) is not a solution on either
    path (the compiled trial returned size 0 there, so the first check took it as solved); the
    estimation then falls back to ``invert_shares``."""
    loops = rc_logit.compiled_terms()
    p = Parameters(SIGMA.copy(), PI.copy(), None)
    market = problem.markets[0]
    nodes = expanded_nodes(market, p)
    for lm in (rc_logit.LogitMarket.build(market, p, problem.x2_names, nodes),
               rc_logit.LogitMarket.build(market, p, problem.x2_names, nodes, loops)):
        start = np.full(len(market.shares), np.nan)
        *_, solved = rc_logit.invert(lm, rc_logit.Tastes.of(lm, p), start, 1e-12)
        assert not solved
