"""Broyden's method from a nearby equilibrium's Newton matrix (``autopact.model.newton``): the same
equilibrium as SQUAREM, in fewer evaluations of the map, and SQUAREM again when the matrix is useless."""

import numpy as np
import pytest

from autopact.model.newton import BroydenMatrix, inverse_jacobian
from autopact.model.supply import CapacityConstraint, Taxes, ownership_matrix, solve_constrained, solve_prices
from synthetic import synthetic_demand

OWNERS = np.array([0, 0, 1, 1, 2, 2, 3, 3, 0, 1])


def central_and_draw():
    """A solved central market and a draw of it: costs moved by up to 3%."""
    demand, xi, prices = synthetic_demand(products=10, rho=0.3)
    omega, costs = ownership_matrix(OWNERS), 0.7 * prices
    central = solve_prices(costs, xi, demand, omega, Taxes.none(10))
    drawn = costs * (1 + 0.03 * np.sin(np.arange(10)))
    return demand, xi, omega, costs, central, drawn


def test_a_draw_solves_to_the_same_prices_in_fewer_evaluations():
    demand, xi, omega, costs, central, drawn = central_and_draw()
    matrix = inverse_jacobian(costs, xi, demand, omega, Taxes.none(10), central.prices)
    squarem = solve_prices(drawn, xi, demand, omega, Taxes.none(10), initial=central.prices)
    broyden = solve_prices(drawn, xi, demand, omega, Taxes.none(10), initial=central.prices, inverse_jacobian=matrix)
    assert broyden.prices == pytest.approx(squarem.prices, rel=1e-11)
    assert broyden.max_foc_residual < 1e-12
    assert broyden.iterations < squarem.iterations


def test_a_useless_matrix_falls_back_to_squarem():
    demand, xi, omega, costs, central, drawn = central_and_draw()
    squarem = solve_prices(drawn, xi, demand, omega, Taxes.none(10), initial=central.prices)
    for useless in (np.zeros((10, 10)), -5 * np.eye(10)):
        eq = solve_prices(drawn, xi, demand, omega, Taxes.none(10), initial=central.prices, inverse_jacobian=useless)
        assert eq.prices == pytest.approx(squarem.prices, rel=1e-11) and eq.converged


def test_a_constrained_draw_with_the_matrix_finds_the_same_shadow_cost():
    demand, xi, omega, costs, central, drawn = central_and_draw()
    size, plant = 1e6, np.array([2, 3])
    plants = [CapacityConstraint("plant", plant, 0.8 * size * central.shares[plant].sum())]
    solved = solve_constrained(costs, xi, demand, omega, Taxes.none(10), plants, size)
    matrix = inverse_jacobian(costs + solved.equilibrium.shadow_costs, xi, demand, omega, Taxes.none(10),
                              solved.equilibrium.prices)
    plain = solve_constrained(drawn, xi, demand, omega, Taxes.none(10), plants, size)
    fast = solve_constrained(drawn, xi, demand, omega, Taxes.none(10), plants, size,
                             initial=solved.equilibrium.prices, inverse_jacobian=matrix, search="secant")
    assert fast.shadow_costs["plant"] == pytest.approx(plain.shadow_costs["plant"], rel=1e-9)
    assert fast.equilibrium.prices == pytest.approx(plain.equilibrium.prices, rel=1e-11)


def test_a_broyden_matrix_is_carried_from_one_solve_to_the_next_and_reset_when_it_stalls():
    """The solves of a shadow-cost search share one ``BroydenMatrix``: each leaves its updates to the
    next (main started every solve from the central matrix again); a solve whose steps stall leaves
    the central matrix instead."""
    demand, xi, omega, costs, central, drawn = central_and_draw()
    matrix = inverse_jacobian(costs, xi, demand, omega, Taxes.none(10), central.prices)
    carried = BroydenMatrix(matrix)
    eq = solve_prices(drawn, xi, demand, omega, Taxes.none(10), initial=central.prices, inverse_jacobian=carried)
    assert eq.converged and not np.array_equal(carried.inverse, carried.start)
    assert np.array_equal(carried.start, -matrix)
    useless = BroydenMatrix(np.zeros((10, 10)))
    useless.inverse = useless.inverse + 1.0  # as if updated by an earlier solve
    eq = solve_prices(drawn, xi, demand, omega, Taxes.none(10), initial=central.prices, inverse_jacobian=useless)
    assert eq.converged and np.array_equal(useless.inverse, useless.start)
