"""Supply: closed-form markups, profit-weight ownership, tax wedges, capacity constraints, entry."""

import numpy as np
import pytest

from autopact.model.demand import shares
from autopact.errors import ConvergenceError
from autopact.model.constrained import CapacityConstraint, solve_constrained
from autopact.model.supply import Taxes, add_products, foc_residual, marginal_costs, ownership_matrix, solve_prices
from synthetic import plain_logit, synthetic_demand


def test_single_product_logit_monopoly_markup():
    """Markup = 1 / (alpha (1 - s)) for a single-product firm facing logit demand."""
    demand = plain_logit(0.15, 1)
    eq = solve_prices(np.array([12.0]), np.array([3.0]), demand, np.ones((1, 1)), Taxes.none(1))
    assert eq.converged and eq.max_foc_residual < 1e-12
    assert eq.markups[0] == pytest.approx(1 / (0.15 * (1 - eq.shares[0])), rel=1e-11)


def test_multiproduct_logit_monopolist_has_a_common_markup():
    """A firm owning every product: markup_j = 1 / (alpha (1 - S)) for all j (S = inside share)."""
    demand = plain_logit(0.1, 4)
    eq = solve_prices(np.array([10.0, 14.0, 18.0, 25.0]), np.array([2.0, 2.5, 3.0, 3.5]), demand,
                      np.ones((4, 4)), Taxes.none(4))
    assert eq.markups == pytest.approx(np.full(4, 1 / (0.1 * (1 - eq.shares.sum()))), rel=1e-10)


def test_symmetric_nested_logit_single_product_markup():
    """ds_j/dp_j = -alpha s_j [1/(1-rho) - rho/(1-rho) s_{j|g} - s_j]; s_{j|g} = 1/N by symmetry."""
    from autopact.model.demand import Demand
    rho, n, alpha = 0.5, 5, 0.2
    demand = Demand(alpha=alpha, pi=0.0, sigma=np.zeros(0), rho=rho, characteristics=np.zeros((n, 0)),
                    nests=np.zeros(n, int), weights=np.ones(1), income=np.ones(1), nu=np.zeros((1, 0)))
    eq = solve_prices(np.full(n, 10.0), np.full(n, 3.0), demand, np.eye(n), Taxes.none(n))
    s = eq.shares[0]
    expected = 1 / (alpha * (1 / (1 - rho) - rho / (1 - rho) / n - s))
    assert eq.markups == pytest.approx(np.full(n, expected), rel=1e-10)


def test_costs_recovered_at_observed_prices_reproduce_those_prices():
    demand, xi, prices = synthetic_demand()
    owners = np.array([0, 0, 1, 1, 2, 3, 3, 3])
    omega = ownership_matrix(owners)
    costs, markups = marginal_costs(prices, xi - demand.alpha * prices, demand, omega, Taxes.none(8))
    eq = solve_prices(costs, xi, demand, omega, Taxes.none(8))
    assert eq.prices == pytest.approx(prices, rel=1e-10)
    assert markups == pytest.approx(prices - costs)


def _objective(firm, kappa, owners, prices, costs, xi, demand, taxes):
    consumer = taxes.consumer_prices(prices)
    s = shares(xi - demand.alpha * consumer, consumer, demand)
    profit_by_owner = np.bincount(owners, weights=(prices - costs) * s, minlength=kappa.shape[0])
    return kappa[firm] @ profit_by_owner


@pytest.mark.parametrize("ad_valorem, specific", [(0.0, 0.0), (0.08, 0.0), (0.05, 2.5)])
def test_equilibrium_is_a_best_response_under_profit_weights_and_taxes(ad_valorem, specific):
    """Joint venture (owner 2) split 50/50 between Ford-like (0) and BYD-like (1): each firm's
    weighted profit is maximised at its own products' prices, with a tax wedge on consumer prices."""
    demand, xi, prices = synthetic_demand()
    owners = np.array([0, 0, 1, 1, 2, 2, 3, 3])
    kappa = np.eye(4)
    kappa[0, 2] = kappa[1, 2] = 0.5  # each parent owns half the JV's profit
    kappa[2, 0] = kappa[2, 1] = 0.5  # the JV's managers weigh each parent's profit by their stake
    taxes = Taxes(np.full(8, ad_valorem), np.full(8, specific))
    costs = prices * 0.7
    eq = solve_prices(costs, xi, demand, ownership_matrix(owners, kappa), taxes)
    assert np.max(np.abs(foc_residual(eq.prices, costs, xi, demand, ownership_matrix(owners, kappa), taxes))) < 1e-10
    for j, firm in enumerate(owners):
        best = _objective(firm, kappa, owners, eq.prices, costs, xi, demand, taxes)
        for step in (-1e-3, 1e-3):
            moved = eq.prices.copy()
            moved[j] += step
            assert _objective(firm, kappa, owners, moved, costs, xi, demand, taxes) < best


def test_merger_as_profit_weights_equals_merged_ownership():
    demand, xi, prices = synthetic_demand()
    owners = np.array([0, 0, 1, 1, 2, 2, 3, 3])
    kappa = np.eye(4)
    kappa[0, 1] = kappa[1, 0] = 1.0
    merged = ownership_matrix(np.array([0, 0, 0, 0, 2, 2, 3, 3]))
    assert np.array_equal(ownership_matrix(owners, kappa), merged)
    costs = 0.7 * prices
    after = solve_prices(costs, xi, demand, merged, Taxes.none(8))
    before = solve_prices(costs, xi, demand, ownership_matrix(owners), Taxes.none(8))
    assert (after.prices[:4] > before.prices[:4]).all()  # merging firms raise prices


def test_tax_incidence_does_not_depend_on_who_pays_it():
    """A specific tax T on consumers gives the same consumer prices as a cost increase of T."""
    demand, xi, prices = synthetic_demand()
    omega = ownership_matrix(np.arange(8))
    costs = 0.7 * prices
    taxed = solve_prices(costs, xi, demand, omega, Taxes(np.zeros(8), np.full(8, 3.0)))
    costlier = solve_prices(costs + 3.0, xi, demand, omega, Taxes.none(8))
    assert taxed.consumer_prices == pytest.approx(costlier.consumer_prices, rel=1e-10)


def test_tax_on_a_negligible_logit_product_is_fully_passed_through():
    """As s -> 0 a logit firm's markup tends to 1/alpha, so a cost or tax change passes through fully."""
    demand = plain_logit(0.2, 1)
    xi = np.array([-25.0])  # share about 1e-11
    base = solve_prices(np.array([10.0]), xi, demand, np.ones((1, 1)), Taxes.none(1))
    taxed = solve_prices(np.array([10.0]), xi, demand, np.ones((1, 1)), Taxes(np.zeros(1), np.array([4.0])))
    assert taxed.consumer_prices[0] - base.consumer_prices[0] == pytest.approx(4.0, rel=1e-9)


def test_unconverged_equilibrium_raises():
    demand, xi, prices = synthetic_demand()
    with pytest.raises(ConvergenceError, match="did not converge"):
        solve_prices(0.7 * prices, xi, demand, ownership_matrix(np.arange(8)), Taxes.none(8), max_iterations=2)


def test_capacity_constraint_binds_with_a_shadow_cost():
    demand, xi, prices = synthetic_demand()
    omega = ownership_matrix(np.array([0, 0, 1, 1, 2, 2, 3, 3]))
    costs, market = 0.7 * prices, 1_000_000.0
    free = solve_prices(costs, xi, demand, omega, Taxes.none(8))
    group = np.array([2, 3])
    free_units = market * free.shares[group].sum()
    result = solve_constrained(costs, xi, demand, omega, Taxes.none(8),
                               [CapacityConstraint("plant", group, 0.8 * free_units),
                                CapacityConstraint("loose", np.array([5]), 10 * market)], market)
    assert result.binding == {"plant": True, "loose": False}
    assert result.units["plant"] == pytest.approx(0.8 * free_units, rel=1e-8)
    assert result.shadow_costs["plant"] > 0 and result.shadow_costs["loose"] == 0
    assert (result.equilibrium.prices[group] > free.prices[group]).all()


def test_slack_capacity_leaves_the_equilibrium_unchanged():
    demand, xi, prices = synthetic_demand()
    omega = ownership_matrix(np.arange(8))
    costs = 0.7 * prices
    free = solve_prices(costs, xi, demand, omega, Taxes.none(8))
    result = solve_constrained(costs, xi, demand, omega, Taxes.none(8),
                               [CapacityConstraint("plant", np.array([0, 1]), 1e12)], 1e6)
    assert result.binding == {"plant": False}
    assert result.equilibrium.prices == pytest.approx(free.prices, rel=1e-12)


def test_entry_takes_sales_from_incumbents_and_a_prohibitive_cost_changes_nothing():
    demand, xi, prices = synthetic_demand()
    owners = np.arange(8)
    costs = 0.7 * prices
    base = solve_prices(costs, xi, demand, ownership_matrix(owners), Taxes.none(8))
    for cost, expect_effect in ((20.0, True), (1e4, False)):
        xi2, costs2, owners2, demand2 = add_products(
            xi, costs, owners, demand.characteristics, demand.nests, np.array([3.0]), np.array([cost]),
            np.array([8]), np.array([[0.5, -0.2]]), np.array([0]), demand)
        after = solve_prices(costs2, xi2, demand2, ownership_matrix(owners2), Taxes.none(9))
        lost = base.shares - after.shares[:8]
        if expect_effect:
            assert (lost > 0).all() and after.shares[8] > 1e-3
        else:
            assert np.max(np.abs(lost)) < 1e-12


def test_warm_start_from_a_priced_out_state_still_solves():
    """A product priced out at the starting prices must still be re-solved when its cost falls."""
    demand = plain_logit(1.0, 3)
    xi, costs = np.array([5.0, 4.0, 3.0]), np.array([1.0, 1.0, 1.0])
    omega = ownership_matrix(np.arange(3))
    stale_start = np.array([1000.0, 3.0, 3.0])
    eq = solve_prices(costs, xi, demand, omega, Taxes.none(3), initial=stale_start)
    fresh = solve_prices(costs, xi, demand, omega, Taxes.none(3))
    assert eq.prices == pytest.approx(fresh.prices, rel=1e-10) and len(eq.priced_out) == 0


def test_mild_capacity_constraint_on_a_small_logit_market():
    demand = plain_logit(1.0, 3)
    xi, costs, market = np.array([5.0, 4.0, 3.0]), np.array([1.0, 1.0, 1.0]), 100.0
    omega = ownership_matrix(np.arange(3))
    free = solve_prices(costs, xi, demand, omega, Taxes.none(3))
    capacity = 0.9 * market * free.shares[0]
    result = solve_constrained(costs, xi, demand, omega, Taxes.none(3),
                               [CapacityConstraint("plant", np.array([0]), capacity)], market)
    assert result.units["plant"] == pytest.approx(capacity, rel=1e-8)
    lam = result.shadow_costs["plant"]
    eq = result.equilibrium
    # markups exclude the shadow cost: p - c - lambda is the FOC markup 1 / (alpha (1 - s))
    assert lam > 0 and eq.prices[0] > free.prices[0]  # the binding plant raises its price
    assert eq.markups[0] == pytest.approx(eq.prices[0] - costs[0] - lam)
    assert eq.markups[0] == pytest.approx(1 / (1 - eq.shares[0]), rel=1e-9)


def test_household_weights_must_sum_to_one():
    from autopact.model.demand import Demand
    with pytest.raises(ValueError, match="weights"):
        Demand(alpha=1.0, pi=0.0, sigma=np.zeros(0), rho=0.0, characteristics=np.zeros((2, 0)),
               nests=np.zeros(2, int), weights=np.array([0.154]), income=np.ones(1), nu=np.zeros((1, 0)))


def test_an_early_exit_ends_a_solve_only_where_it_says_so():
    """``early_exit(shares, residual)`` (a shadow-cost search's first solve, ``constrained.DECIDED``):
    one that never fires leaves the solve's path and prices as they were, to the bit; one that fires
    returns the prices reached there, flagged unconverged, in fewer evaluations."""
    demand, xi, prices = synthetic_demand()
    omega, costs = ownership_matrix(np.arange(8)), 0.7 * prices
    plain = solve_prices(costs, xi, demand, omega, Taxes.none(8))
    asked = []
    never = solve_prices(costs, xi, demand, omega, Taxes.none(8), early_exit=lambda s, r: asked.append(r) and False)
    assert np.array_equal(never.prices, plain.prices) and never.iterations == plain.iterations and never.converged
    assert len(asked) == plain.iterations - 1  # asked at every evaluation but the equilibrium's
    early = solve_prices(costs, xi, demand, omega, Taxes.none(8), early_exit=lambda s, r: r < 1e-4)
    assert not early.converged and 1e-12 <= early.max_foc_residual < 1e-4 and early.iterations < plain.iterations
    assert early.prices == pytest.approx(plain.prices, rel=1e-3)
