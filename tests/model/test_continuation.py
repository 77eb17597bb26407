"""The equilibrium path from the market before a scenario (``autopact.model.continuation``).

Oracles: where the price game has one equilibrium (a synthetic random-coefficients nested logit),
the path's end is SQUAREM's equilibrium; the first-order condition holds at it; a scenario that
changes nothing returns today's prices; a new product enters along the path from a share of about
tau; and on the 2025 market, where the game has several equilibria, a small entrant leaves every
incumbent's price within ten dollars of today's, where SQUAREM from today's prices moved cheap cars
by $2,000-3,000."""

import numpy as np
import pytest

from autopact.model.continuation import Origin, _point, best_responses, continued_prices, origin
from autopact.model.newton import inverse_jacobian
from autopact.model.supply import Taxes, ownership_matrix, solve_prices
from synthetic import synthetic_demand

OWNERS = np.array([0, 0, 1, 1, 2, 2, 3, 3, 0, 1])


def today():
    demand, xi, prices = synthetic_demand(products=10, rho=0.3)
    omega, costs = ownership_matrix(OWNERS), 0.7 * prices
    eq = solve_prices(costs, xi, demand, omega, Taxes.none(10))
    return demand, xi, omega, costs, eq


def start_of(demand, xi, omega, costs, prices, new=None) -> Origin:
    """The market before: every product but the ``new`` ones, at ``prices``."""
    ids = [f"p{j}" for j in range(len(xi))]
    keep = np.ones(len(xi), bool) if new is None else ~new
    before = [i for i, k in zip(ids, keep) if k]
    inverse = inverse_jacobian(costs[keep], xi[keep], demand.with_products(demand.characteristics[keep], demand.nests[keep]),
                               omega[np.ix_(keep, keep)], Taxes.none(int(keep.sum())), prices[keep])
    return origin(before, costs[keep], xi[keep], Taxes.none(int(keep.sum())), omega[np.ix_(keep, keep)], inverse,
                  ids, costs, xi, Taxes.none(len(xi)), omega)


def test_a_scenario_that_changes_nothing_returns_todays_prices_in_one_evaluation():
    demand, xi, omega, costs, eq = today()
    found = continued_prices(costs, xi, demand, omega, Taxes.none(10), start_of(demand, xi, omega, costs, eq.prices), eq.prices)
    assert found.evaluations == 1 and found.points == 1 and not found.jumps
    assert np.array_equal(found.equilibrium.prices, eq.prices)


def test_where_the_equilibrium_is_unique_the_path_ends_at_squarems():
    """Costs up 0 to 20%, a 10% ad valorem tax on two products and a merger of firms 2 and 3: the
    path's end and SQUAREM's fixed point from today's prices are one equilibrium (measured 2e-14)."""
    demand, xi, omega, costs, eq = today()
    start = start_of(demand, xi, omega, costs, eq.prices)
    moved = costs * (1 + 0.2 * np.linspace(0, 1, 10))
    taxes = Taxes(np.where(np.arange(10) < 2, 0.1, 0.0), np.zeros(10))
    merged = ownership_matrix(np.where(OWNERS == 3, 2, OWNERS))
    found = continued_prices(moved, xi, demand, merged, taxes, start, eq.prices)
    squarem = solve_prices(moved, xi, demand, merged, taxes, initial=eq.prices)
    assert found.equilibrium.prices == pytest.approx(squarem.prices, rel=1e-10)
    assert found.equilibrium.max_foc_residual < 1e-12 and found.points >= 8 and not found.jumps


def test_a_new_product_enters_along_the_path_and_ends_at_a_global_best_response():
    """Product 9 is new: at tau its mean utility is xi + ln tau (its demand about tau times its own);
    the path ends where SQUAREM from today's prices ends (one equilibrium here), with the new product's
    price no worse for its owner than any price on the grid."""
    demand, xi, omega, costs, eq = today()
    new = np.arange(10) == 9
    before = solve_prices(costs[~new], xi[~new], demand.with_products(demand.characteristics[~new], demand.nests[~new]),
                          omega[np.ix_(~new, ~new)], Taxes.none(9))
    start = start_of(demand, xi, omega, costs, np.append(before.prices, np.nan), new)
    assert start.new.tolist() == new.tolist() and start.inverse_jacobian[9, 9] == 1.0
    point = _point(1e-3, costs, xi, omega, Taxes.none(10), start)
    assert point[1][9] == pytest.approx(xi[9] + np.log(1e-3)) and np.allclose(point[1][:9], xi[:9], rtol=1e-15, atol=0)
    initial = np.append(before.prices, np.nan)
    found = continued_prices(costs, xi, demand, omega, Taxes.none(10), start, initial)
    squarem = solve_prices(costs, xi, demand, omega, Taxes.none(10), initial=np.where(np.isfinite(initial), initial, costs))
    assert found.equilibrium.prices == pytest.approx(squarem.prices, rel=1e-10)
    polished, evaluations, rounds = best_responses(found.equilibrium, (costs, xi, omega, Taxes.none(10)), demand, new)
    assert rounds == 0 and evaluations == 0 and polished is found.equilibrium


def test_on_the_2025_market_a_small_entrant_leaves_todays_equilibrium_where_it_was():
    """An imported BYD Dolphin (about 200 a year) on the ninth session's calibration: by SQUAREM from
    today's prices the Elantra hybrid moved -$3,260 and the K4 +$2,294 (another equilibrium); along the
    path no incumbent moves by more than $100 (measured $9)."""
    from autopact.policy.levers import apply
    from autopact.policy.scenario import parse_scenario
    from autopact.simulate import market_for, solve

    scenario = parse_scenario({"name": "dolphin", "connected_vehicle_rule": {"enabled": False}, "entrants": [
        {"candidate": "byd--dolphin--active-44-9-kwh", "maker": "BYD", "assembly": "import"}]}, "test")
    market = market_for(scenario)
    after = apply(scenario, market)
    state = solve(after)
    incumbents = np.isfinite(after.initial_prices)
    moved = state.products["price"].to_numpy()[incumbents] - after.initial_prices[incumbents]
    assert np.max(np.abs(moved)) < 100
    assert not state.solver.get("path_jumps") and not state.solver.get("path_ended")


@pytest.mark.parametrize("rho", [0.0, 0.3])
def test_an_owners_profit_over_a_grid_of_one_price_is_the_one_every_share_recomputed_gives(rho):
    """``owner_profits`` takes the shares at each grid price from sums over households taken once; the
    oracle recomputes every share at every grid price (``demand.shares``). A 10% ad valorem tax and a
    $500 specific one on the product, a multiproduct owner (products 0, 1 and 8)."""
    from autopact.model.continuation import owner_profits
    from autopact.model.demand import shares

    demand, xi, prices = synthetic_demand(products=10, rho=rho)
    omega, costs = ownership_matrix(OWNERS), 0.7 * prices
    taxes = Taxes(np.where(np.arange(10) == 1, 0.1, 0.0), np.where(np.arange(10) == 1, 500.0 / 1e4, 0.0))
    grid = costs[1] * np.linspace(1.02, 3.0, 7)
    fast = owner_profits(1, prices, grid, (costs, xi, omega, taxes), demand)
    slow = []
    for price in grid:
        trial = prices.copy()
        trial[1] = price
        consumer = taxes.consumer_prices(trial)
        slow.append(omega[1] @ ((trial - costs) * shares(xi - demand.alpha * consumer, consumer, demand)))
    assert fast == pytest.approx(np.array(slow), rel=1e-12)
