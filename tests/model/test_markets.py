"""Several markets solved together (autopact.model.markets) against the market-by-market solve."""

from dataclasses import replace

import numpy as np
import pytest

import autopact.model.zeta as zeta
from autopact.errors import ConvergenceError
from autopact.model.markets import solve_prices_markets
from autopact.model.sorted_kernel import SortedKernel
from autopact.model.supply import Taxes, ownership_matrix, solve_prices
from synthetic import plain_logit, synthetic_demand


def two_level(demand, rho_within):
    """The demand with each nest split in two subnests (as in test_fast_equilibrium)."""
    j = np.arange(len(demand.nests))
    return replace(demand, subnests=demand.nests * 2 + (j // 3) % 2, rho_within=rho_within, _cache={})


def markets():
    """Five markets of different sizes, demand models, ownerships (one a merger, one a joint venture's
    profit weights) and taxes: (costs, xi, demand, ownership, taxes, initial prices) each."""
    out = []
    settings = [(6, 40, dict(rho=0.0, pi=0.0, sigma=(0.0, 0.0))), (9, 50, dict(rho=0.5, pi=0.0, sigma=(0.0, 0.0))),
                (12, 30, dict(rho=0.0)), (10, 60, dict(rho=0.3)), (8, 25, dict(rho=0.3))]
    for seed, (products, households, model) in enumerate(settings):
        demand, xi, prices = synthetic_demand(products=products, households=households, seed=seed + 3, **model)
        if seed == 4:
            demand = two_level(demand, 0.6)
        owners = np.arange(products) % 4
        if seed == 1:
            owners[owners == 3] = 0  # a merger
        kappa = np.eye(4)
        if seed == 3:
            kappa[0, 1] = kappa[1, 0] = 0.5  # cross-ownership
        taxes = Taxes.none(products)
        if seed == 2:
            taxes = Taxes(np.full(products, 0.1), np.linspace(0.0, 2.0, products))
        costs = 0.7 * prices
        out.append((costs, xi, demand, ownership_matrix(owners, kappa), taxes, prices))
    return out


def solve_each(items, **options):
    return [solve_prices(c, x, d, o, t, initial=p, **options) for c, x, d, o, t, p in items]


def solve_together(items, **options):
    costs, xi, demands, ownerships, taxes, initial = (list(column) for column in zip(*items))
    return solve_prices_markets(costs, xi, demands, ownerships, taxes, initial=initial, **options)


@pytest.mark.parametrize("method", ["squarem", "anderson"])
def test_together_equals_market_by_market(method):
    items = markets()
    each, together = solve_each(items), solve_together(items, method=method)
    assert len(together) == len(items)
    for one, other in zip(each, together):
        assert other.converged and other.max_foc_residual < 1e-12
        np.testing.assert_allclose(other.prices, one.prices, rtol=1e-12, atol=0)
        np.testing.assert_allclose(other.shares, one.shares, rtol=1e-12, atol=0)
        np.testing.assert_allclose(other.consumer_prices, one.consumer_prices, rtol=1e-12, atol=0)
        if method == "squarem":
            assert other.iterations == one.iterations  # the same SQUAREM path, market by market
    # the markets need different numbers of evaluations, so some stopped while others went on
    assert len({eq.iterations for eq in together}) > 1


def test_anderson_takes_fewer_evaluations_than_squarem():
    """The default, Anderson acceleration, reaches the same equilibria in fewer evaluations of the
    map than SQUAREM (BLP 1995's merger: 183 against 226)."""
    items = markets()
    squarem, anderson = solve_together(items, method="squarem"), solve_together(items)
    assert sum(eq.iterations for eq in anderson) < sum(eq.iterations for eq in squarem)
    for one, other in zip(squarem, anderson):
        np.testing.assert_allclose(other.prices, one.prices, rtol=1e-12, atol=0)


def test_an_unknown_method_is_named():
    items = markets()
    with pytest.raises(ValueError, match="method must be 'anderson' or 'squarem', got 'newton'"):
        solve_together(items, method="newton")


@pytest.mark.parametrize("method", ["squarem", "anderson"])
def test_a_converged_market_stays_put(monkeypatch, method):
    """A market already at its equilibrium stops after one evaluation: its kernel is not evaluated
    again while the other markets iterate, and its prices are the ones it started from."""
    items = markets()
    solved = solve_each(items[:1])[0]
    items[0] = items[0][:5] + (solved.prices,)
    calls: dict[int, int] = {}

    def counting(terms):
        def counted(self, prices, margin):
            calls[id(self)] = calls.get(id(self), 0) + 1
            return terms(self, prices, margin)
        return counted

    for kernel in (zeta.FocKernel, SortedKernel):  # the two-level market keeps FocKernel
        monkeypatch.setattr(kernel, "terms", counting(kernel.terms))
    together = solve_together(items, method=method)
    assert together[0].iterations == 1
    np.testing.assert_array_equal(together[0].prices, solved.prices)
    assert min(eq.iterations for eq in together[1:]) > 2
    assert sorted(calls.values()) == sorted(eq.iterations for eq in together)


@pytest.mark.parametrize("method", ["squarem", "anderson"])
def test_a_far_start_solves_as_market_by_market(method):
    """A plain-logit market started with one product far above its price (test_supply's stale start)
    beside the others: the same prices as its own solve."""
    items = markets()
    demand = plain_logit(1.0, 3)
    items.insert(2, (np.array([1.0, 1.0, 1.0]), np.array([5.0, 4.0, 3.0]), demand, ownership_matrix(np.arange(3)),
                     Taxes.none(3), np.array([1000.0, 3.0, 3.0])))
    each, together = solve_each(items), solve_together(items, method=method)
    for one, other in zip(each, together):
        np.testing.assert_allclose(other.prices, one.prices, rtol=1e-12, atol=0)
        assert list(other.priced_out) == list(one.priced_out)


def test_no_markets_and_mismatched_inputs():
    assert solve_prices_markets([], [], [], [], []) == []
    items = markets()
    costs, xi, demands, ownerships, taxes, initial = (list(column) for column in zip(*items))
    with pytest.raises(ValueError, match=r"taxes: one entry a market expected \(5 markets in costs\), got 4"):
        solve_prices_markets(costs, xi, demands, ownerships, taxes[:4])
    with pytest.raises(ValueError, match=r"xi\[1\]: 9 products expected"):
        solve_prices_markets(costs, [xi[0], xi[1][:-1], *xi[2:]], demands, ownerships, taxes)


@pytest.mark.parametrize("method, evaluations", [("squarem", 4), ("anderson", 3)])
def test_a_market_that_cannot_converge_is_named(method, evaluations):
    """SQUAREM evaluates the map twice a step, Anderson once."""
    items = markets()
    with pytest.raises(ConvergenceError, match=rf"prices of market 0 did not converge in {evaluations} iterations "
                                               r"\(max \|FOC/s\| = "):
        solve_together(items, max_iterations=3, method=method)
