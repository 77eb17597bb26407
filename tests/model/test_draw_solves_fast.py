"""A draw's solves (issue 13, 50 draws a second): Broyden's inverse kept as the given Newton matrix and
its rank-one updates (``supply.LowRankInverse``), and the draw's kernel (``simulate.draw_kernel``:
SortedKernel where it covers the market)."""

from dataclasses import replace

import numpy as np
import pytest

from autopact.model.newton import inverse_jacobian
from autopact.model.sorted_kernel import SortedKernel
from autopact.model.supply import LowRankInverse, Taxes, ownership_matrix, solve_prices
from synthetic import synthetic_demand

OWNERS = np.array([0, 0, 1, 1, 2, 2, 3, 3, 0, 1])


def central_and_draw():
    """A solved central market, its Newton matrix and a draw of it: costs moved by up to 3%."""
    demand, xi, prices = synthetic_demand(products=10, rho=0.3)
    omega, costs = ownership_matrix(OWNERS), 0.7 * prices
    central = solve_prices(costs, xi, demand, omega, Taxes.none(10))
    matrix = inverse_jacobian(costs, xi, demand, omega, Taxes.none(10), central.prices)
    return demand, xi, omega, central, matrix, costs * (1 + 0.03 * np.sin(np.arange(10)))


def test_low_rank_products_are_the_dense_updates():
    """B = -H + sum_k a_k b_k' multiplies as the dense matrix Broyden's update wrote (to rounding)."""
    rng = np.random.default_rng(0)
    matrix = rng.standard_normal((6, 6))
    low, dense = LowRankInverse(matrix), -matrix.copy()
    for _ in range(4):
        left, right = rng.standard_normal(6), rng.standard_normal(6)
        low.update(left, right)
        dense += np.outer(left, right)
    x = rng.standard_normal(6)
    assert low @ x == pytest.approx(dense @ x, rel=1e-13, abs=1e-13)
    assert x @ low == pytest.approx(x @ dense, rel=1e-13, abs=1e-13)


def test_a_solve_from_a_newton_matrix_neither_copies_nor_rewrites_it(monkeypatch):
    """main copied the J x J matrix at every solve and rewrote the copy at every Broyden step (np.outer,
    a division and an addition over J x J numbers: about a tenth of a 2025 draw); the matrix given is
    now only read, and the solve reaches SQUAREM's prices."""
    demand, xi, omega, central, matrix, drawn = central_and_draw()
    squarem = solve_prices(drawn, xi, demand, omega, Taxes.none(10), initial=central.prices)
    matrix.flags.writeable = False

    def no_outer(*args, **kwargs):
        raise AssertionError("a J x J outer product in a solve from a plain Newton matrix")

    monkeypatch.setattr(np, "outer", no_outer)
    broyden = solve_prices(drawn, xi, demand, omega, Taxes.none(10), initial=central.prices, inverse_jacobian=matrix)
    assert broyden.prices == pytest.approx(squarem.prices, rel=1e-11)
    assert broyden.max_foc_residual < 1e-12 and broyden.iterations < squarem.iterations


def test_a_solve_on_the_sorted_kernel_reaches_the_same_prices():
    """A draw's kernel: SortedKernel's terms are FocKernel's to rounding, so Broyden's method on it stops
    at the same tolerance, at the same prices to 1e-11."""
    demand, xi, omega, central, matrix, drawn = central_and_draw()
    plain = solve_prices(drawn, xi, demand, omega, Taxes.none(10), initial=central.prices, inverse_jacobian=matrix)
    kernel = SortedKernel(xi, demand, omega)
    fast = solve_prices(drawn, xi, demand, omega, Taxes.none(10), initial=central.prices, inverse_jacobian=matrix,
                        kernel=kernel)
    assert fast.prices == pytest.approx(plain.prices, rel=1e-11)
    assert fast.max_foc_residual < 1e-12


def test_a_solve_on_the_compiled_map_reaches_the_same_prices():
    """A long run's draws solve on numba's compiled map (``draw_map.CompiledMap``, its ``zeta`` in place
    of the map from FocKernel's terms): the same prices to 1e-11, the same FOC tolerance; its ``terms``
    (for the joint capacity solve) are FocKernel's to rounding."""
    from autopact.model.fused import compiled_loops
    from autopact.model.zeta import FocKernel

    loops = compiled_loops()
    if loops is None:
        pytest.skip("numba is not installed")
    from autopact.model.draw_map import CompiledMap

    demand, xi, omega, central, matrix, drawn = central_and_draw()
    plain = solve_prices(drawn, xi, demand, omega, Taxes.none(10), initial=central.prices, inverse_jacobian=matrix)
    kernel = CompiledMap(xi, demand, omega, Taxes.none(10), drawn, loops)
    fast = solve_prices(drawn, xi, demand, omega, Taxes.none(10), initial=central.prices, inverse_jacobian=matrix,
                        kernel=kernel)
    assert fast.prices == pytest.approx(plain.prices, rel=1e-11)
    assert fast.max_foc_residual < 1e-12 and fast.converged
    margin = central.prices - drawn
    for mine, theirs in zip(kernel.terms(central.prices, margin), FocKernel(xi, demand, omega).terms(central.prices, margin)):
        assert mine == pytest.approx(theirs, rel=1e-13)


def test_an_early_exit_ends_a_solve_on_the_compiled_map():
    """``early_exit`` is asked on the compiled map's path too (main skipped it there: a shadow-cost
    search's first solve on a draw's CompiledMap ran to convergence whatever it said): one that fires
    at once returns the first prices, unconverged, after one evaluation; one that never fires leaves
    the solve as it was."""
    from autopact.model.fused import compiled_loops
    from autopact.model.zeta import FocKernel

    loops = compiled_loops()
    if loops is None:
        pytest.skip("numba is not installed")
    from autopact.model.draw_map import CompiledMap

    demand, xi, omega, central, matrix, drawn = central_and_draw()

    def solve(early_exit=None):
        kernel = CompiledMap(xi, demand, omega, Taxes.none(10), drawn, loops)
        return solve_prices(drawn, xi, demand, omega, Taxes.none(10), initial=central.prices, kernel=kernel,
                            early_exit=early_exit)

    plain, asked = solve(), []
    never = solve(lambda s, r: asked.append(r) and False)
    assert np.array_equal(never.prices, plain.prices) and never.iterations == plain.iterations and never.converged
    assert len(asked) == plain.iterations - 1  # asked at every evaluation but the equilibrium's
    early = solve(lambda s, r: True)
    assert not early.converged and early.iterations == 1 and np.array_equal(early.prices, central.prices)
    at_start = FocKernel(xi, demand, omega).terms(central.prices, central.prices - drawn)[0]
    assert early.max_foc_residual > 1e-12 and early.shares == pytest.approx(at_start, rel=1e-13)


def test_a_compiled_solve_from_cold_reaches_the_same_prices():
    """``solve_prices(compiled=True)`` (the 2025 market's cold start, issue 13): from prices at cost, numba's
    compiled map where numba is installed, the numpy kernel's prices to 1e-11 in the same evaluations;
    where the loops cannot serve the market (two levels of nests) it solves by FocKernel, to the bit."""
    demand, xi, omega, central, matrix, drawn = central_and_draw()
    pytest.importorskip("numba")
    from autopact.model.draw_map import compiled_map

    assert compiled_map(xi, demand, omega, Taxes.none(10), drawn) is not None  # the compiled map, not FocKernel
    plain = solve_prices(drawn, xi, demand, omega, Taxes.none(10))
    fast = solve_prices(drawn, xi, demand, omega, Taxes.none(10), compiled=True)
    assert fast.prices == pytest.approx(plain.prices, rel=1e-11)
    assert fast.converged and fast.max_foc_residual < 1e-12 and fast.iterations == plain.iterations
    # subnests within the nests: a market the compiled loops do not cover
    nested = replace(demand, nests=np.arange(10) % 2, subnests=np.arange(10) % 4, rho_within=0.5, _cache={})
    assert np.array_equal(solve_prices(drawn, xi, nested, omega, Taxes.none(10), compiled=True).prices,
                          solve_prices(drawn, xi, nested, omega, Taxes.none(10)).prices)


@pytest.mark.parametrize("capacity", [None, 20000.0])
def test_a_draw_never_pays_for_the_equilibrium_paths_start(capacity):
    """A draw solves from its central result's Newton matrix, so its market carries no path start
    (``before``: the market's own Newton matrix, 0.3 s of a 0.4 s re-calibrated draw before the tenth
    session); a draw whose products differ from the central result's, which no matrix fits, keeps it:
    those two are what this tests. The prices' equality with the same draw solved on the market with
    the path's start (the JV plant slack, and binding at 20,000: the shadow-cost search) is a guard that
    ``solve`` keeps ignoring the path wherever a Newton matrix fits, not evidence on its own."""
    from autopact.policy.levers import apply
    from autopact.policy.scenario import load_scenario
    from autopact.simulate import NewtonStart, market_for, simulate, solve
    from autopact.runs.draw_start import newton_start

    market = market_for(load_scenario("baseline-2025"))
    scenario = load_scenario("ford-byd-jv")
    if capacity is not None:
        scenario = scenario.model_copy(update={"entrants": [e.model_copy(update={"capacity": capacity})
                                                            for e in scenario.entrants]})
    central = simulate(scenario, market)
    assert central.market.before is not None  # a central result follows the path
    start = newton_start(central)
    draw = simulate(scenario, market, newton=start)
    assert draw.market.before is None
    with_path = solve(apply(scenario, market), start)
    assert np.array_equal(draw.counterfactual.products["price"], with_path.products["price"])
    assert draw.counterfactual.constraints == with_path.constraints
    if capacity is not None:
        assert any(c["binding"] for c in draw.counterfactual.constraints)
    other = NewtonStart(start.product_ids[:-1], start.inverse_jacobian[:-1, :-1])
    assert simulate(scenario, market, newton=other).market.before is not None
