"""Demand kernels: closed forms, finite differences of every analytic derivative, inversion."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from autopact.model.demand import (
    Demand, aggregate_elasticity, consumer_surplus, diversion_ratios, elasticities, price_jacobian, shares,
)
from autopact.model.inversion import invert_shares
from synthetic import plain_logit, synthetic_demand


def full_shares(xi, consumer_prices, demand):
    """Shares as a function of consumer prices alone (delta moves with price)."""
    return shares(xi - demand.alpha * consumer_prices, consumer_prices, demand)


def assert_jacobian_matches_finite_differences(xi, prices, demand, h=1e-5):
    analytic = price_jacobian(xi - demand.alpha * prices, prices, demand)
    numeric = np.empty_like(analytic)
    for k in range(len(prices)):
        up, down = prices.copy(), prices.copy()
        up[k] += h
        down[k] -= h
        numeric[:, k] = (full_shares(xi, up, demand) - full_shares(xi, down, demand)) / (2 * h)
    assert np.max(np.abs(analytic - numeric)) < 1e-7 * np.max(np.abs(analytic))


@pytest.mark.parametrize("rho, pi, sigma", [(0.0, 0.0, (0.0, 0.0)), (0.5, 0.0, (0.0, 0.0)),
                                            (0.0, 4.0, (1.0, 0.5)), (0.4, 6.0, (1.5, 0.8))])
def test_price_jacobian_matches_central_finite_differences(rho, pi, sigma):
    demand, xi, prices = synthetic_demand(rho=rho, pi=pi, sigma=sigma)
    assert_jacobian_matches_finite_differences(xi, prices, demand)


def test_consumer_surplus_gradient_is_minus_market_shares_with_constant_alpha():
    """Roy's identity: dCS/dp_j = -M s_j when alpha_i = alpha (the log-sum is exact then)."""
    demand, xi, prices = synthetic_demand(pi=0.0, rho=0.35)
    h, market = 1e-5, 1000.0
    for j in range(len(prices)):
        up, down = prices.copy(), prices.copy()
        up[j] += h
        down[j] -= h
        slope = (consumer_surplus(xi - demand.alpha * up, up, demand, market)
                 - consumer_surplus(xi - demand.alpha * down, down, demand, market)) / (2 * h)
        assert slope == pytest.approx(-market * full_shares(xi, prices, demand)[j], rel=1e-6)


def test_logit_closed_forms():
    alpha, prices = 0.2, np.array([10.0, 12.0, 15.0])
    demand = plain_logit(alpha, 3)
    delta = np.array([1.0, 1.5, 2.0]) - alpha * prices
    s = shares(delta, prices, demand)
    assert s == pytest.approx(np.exp(delta) / (1 + np.exp(delta).sum()), rel=1e-14)
    e = elasticities(delta, prices, demand)
    assert np.diag(e) == pytest.approx(-alpha * prices * (1 - s), rel=1e-12)
    assert e[0, 1] == pytest.approx(alpha * prices[1] * s[1], rel=1e-12)
    d, outside = diversion_ratios(delta, prices, demand)
    assert d[0, 1] == pytest.approx(s[1] / (1 - s[0]), rel=1e-12)  # logit diversion is proportional to share
    assert outside[0] == pytest.approx((1 - s.sum()) / (1 - s[0]), rel=1e-12)
    assert aggregate_elasticity(delta, prices, demand) == pytest.approx(
        -alpha * (s * prices).sum() / s.sum() * (1 - s.sum()), rel=1e-12)


def test_nested_logit_closed_form_inversion_and_symmetric_shares():
    """Berry (1994): ln s_j - ln s_0 = delta_j + rho ln s_{j|g}; symmetric nest: s_{j|g} = 1/N."""
    rho, n = 0.6, 4
    demand = Demand(alpha=0.1, pi=0.0, sigma=np.zeros(0), rho=rho, characteristics=np.zeros((n, 0)),
                    nests=np.zeros(n, int), weights=np.ones(1), income=np.ones(1), nu=np.zeros((1, 0)))
    prices = np.full(n, 20.0)
    delta = np.full(n, 1.0) - 0.1 * prices
    s = shares(delta, prices, demand)
    inclusive = (1 - rho) * np.log(n * np.exp(delta[0] / (1 - rho)))
    assert s == pytest.approx(np.full(n, np.exp(inclusive) / (1 + np.exp(inclusive)) / n), rel=1e-14)
    recovered, iterations = invert_shares(s, prices, demand)
    assert iterations == 0 and recovered == pytest.approx(delta, rel=1e-13)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), rho=st.floats(0.0, 0.8), pi=st.floats(0.0, 10.0))
def test_inversion_recovers_mean_utilities(seed, rho, pi):
    demand, xi, prices = synthetic_demand(seed=seed, rho=rho, pi=pi)
    delta = xi - demand.alpha * prices
    observed = shares(delta, prices, demand)
    recovered, _ = invert_shares(observed, prices, demand, tol=1e-13)
    assert np.max(np.abs(np.log(shares(recovered, prices, demand)) - np.log(observed))) < 1e-12
    assert recovered == pytest.approx(delta, abs=1e-9)
    assert 0 < observed.sum() < 1


def test_diversion_ratios_sum_to_one_with_the_outside_good():
    demand, xi, prices = synthetic_demand()
    d, outside = diversion_ratios(xi - demand.alpha * prices, prices, demand)
    assert np.allclose(d.sum(axis=1) + outside, 1.0)
    assert (d >= 0).all() and (outside > 0).all()


def test_bad_parameters_are_refused():
    demand, _, _ = synthetic_demand()
    with pytest.raises(ValueError, match="rho"):
        Demand(**{**demand.__dict__, "rho": 1.0, "_cache": {}})
    with pytest.raises(ValueError, match="alpha"):
        Demand(**{**demand.__dict__, "alpha": -0.1, "_cache": {}})


def _two_level(pi=0.0, sigma=(0.0, 0.0), rho=0.3, rho_within=0.6, seed=2):
    from dataclasses import replace
    demand, xi, prices = synthetic_demand(products=9, pi=pi, sigma=sigma, rho=rho, seed=seed, nests=2)
    subnests = np.array([0, 1, 0, 1, 2, 3, 2, 3, 0])  # nests are j % 2: subnests 0, 2 in nest 0; 1, 3 in nest 1
    nests = np.array([0, 1, 0, 1, 0, 1, 0, 1, 0])
    return replace(demand, nests=nests, subnests=subnests, rho_within=rho_within, _cache={}), xi, prices


@pytest.mark.parametrize("pi, sigma", [(0.0, (0.0, 0.0)), (5.0, (1.0, 0.7))])
def test_two_level_nested_logit_jacobian_and_inversion(pi, sigma):
    demand, xi, prices = _two_level(pi=pi, sigma=sigma)
    assert_jacobian_matches_finite_differences(xi, prices, demand)
    delta = xi - demand.alpha * prices
    observed = shares(delta, prices, demand)
    recovered, iterations = invert_shares(observed, prices, demand)
    assert recovered == pytest.approx(delta, abs=1e-9)
    assert (iterations == 0) == (pi == 0.0)


def test_two_level_reduces_to_one_level_when_rho_within_equals_rho():
    demand, xi, prices = _two_level(rho=0.4, rho_within=0.4)
    from dataclasses import replace
    one = replace(demand, subnests=None, rho_within=None, _cache={})
    delta = xi - demand.alpha * prices
    assert shares(delta, prices, demand) == pytest.approx(shares(delta, prices, one), rel=1e-13)
    assert price_jacobian(delta, prices, demand) == pytest.approx(price_jacobian(delta, prices, one), rel=1e-12)


def test_subnests_must_nest_and_rho_within_must_exceed_rho():
    demand, _, _ = _two_level()
    from dataclasses import replace
    with pytest.raises(ValueError, match="rho_within"):
        replace(demand, rho_within=0.1, _cache={})
    with pytest.raises(ValueError, match="single nest"):
        replace(demand, subnests=np.zeros(9, int), _cache={})


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_newton_and_contraction_inversions_agree(seed):
    demand, xi, prices = synthetic_demand(seed=seed, rho=0.5, pi=8.0, sigma=(2.0, 1.0))
    observed = shares(xi - demand.alpha * prices, prices, demand)
    newton, newton_steps = invert_shares(observed, prices, demand, method="newton")
    contraction, contraction_steps = invert_shares(observed, prices, demand, method="contraction")
    assert newton == pytest.approx(contraction, abs=1e-11)
    assert newton_steps < contraction_steps


def test_a_pickled_demand_leaves_its_cache_behind_and_rebuilds_the_same_taste():
    """A Demand sent to a worker or the disk cache carried its I x J taste matrix and the zeta map's
    cells (``_cache``); it now travels without them and rebuilds the same numbers on first use."""
    import pickle

    demand, _, _ = synthetic_demand(households=400)
    taste = demand.taste
    assert demand._cache  # filled by the first use
    back = pickle.loads(pickle.dumps(demand))
    assert back._cache == {} and demand._cache  # the original keeps its own
    assert np.array_equal(back.taste, taste)
    assert len(pickle.dumps(demand)) + demand.taste.nbytes < len(pickle.dumps(dict(demand.__dict__)))
