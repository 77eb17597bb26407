"""Broyden's method from a nearby equilibrium's Newton matrix (``autopact.model.newton``): the same
equilibrium as SQUAREM, in fewer evaluations of the map, and SQUAREM again when the matrix is useless."""

import numpy as np
import pytest

from autopact.model.newton import BroydenMatrix, CapacityStart, inverse_jacobian
from autopact.model.constrained import CapacityConstraint, solve_constrained
from autopact.model.supply import Taxes, ownership_matrix, solve_prices
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


def bordered_case(share: float):
    """A synthetic central market whose plant (products 2 and 3) binds at 80% of its free units, its
    Newton matrix and border, and a draw with costs moved and the capacity at ``share`` of the
    central one."""
    from autopact.model.newton import border, jacobians

    demand, xi, omega, costs, central, drawn = central_and_draw()
    size, plant = 1e6, np.array([2, 3])
    plants = [CapacityConstraint("plant", plant, 0.8 * size * central.shares[plant].sum())]
    solved = solve_constrained(costs, xi, demand, omega, Taxes.none(10), plants, size)
    marginal = costs + solved.equilibrium.shadow_costs
    matrix, share_derivative = jacobians(marginal, xi, demand, omega, Taxes.none(10), solved.equilibrium.prices)
    edge = border("plant", plant, solved.shadow_costs["plant"], marginal, xi, demand, omega, Taxes.none(10),
                  solved.equilibrium.prices, share_derivative, size)
    drawn_plants = [CapacityConstraint("plant", plant, share * plants[0].capacity)]
    return demand, xi, omega, drawn, drawn_plants, size, solved, matrix, edge


def counted_solves(monkeypatch):
    from autopact.model.zeta import FocKernel

    count, terms = [0], FocKernel.terms

    def counted(self, *args):
        count[0] += 1
        return terms(self, *args)

    monkeypatch.setattr(FocKernel, "terms", counted)
    return count


@pytest.mark.parametrize("share", [0.9, 1.0, 1.1])
def test_a_binding_draw_solves_prices_and_shadow_cost_jointly_in_fewer_evaluations(share, monkeypatch):
    """With the central plant's border (``newton.border``) a draw's equilibrium and shadow cost are
    solved together by Broyden's method on the bordered system (``newton.solve_at_capacity``): the
    shadow cost of the secant search to 1e-9 relative, the prices to 1e-11, at capacity, in fewer
    evaluations of the map than the search (which solves an equilibrium for each trial shadow cost)."""
    demand, xi, omega, drawn, plants, size, solved, matrix, edge = bordered_case(share)
    count = counted_solves(monkeypatch)
    searched = solve_constrained(drawn, xi, demand, omega, Taxes.none(10), plants, size,
                                 initial=solved.equilibrium.prices, inverse_jacobian=matrix, search="secant")
    by_search, count[0] = count[0], 0
    joint = solve_constrained(drawn, xi, demand, omega, Taxes.none(10), plants, size,
                              initial=solved.equilibrium.prices, inverse_jacobian=matrix, search="secant",
                              capacity_start=CapacityStart((edge,)))
    assert joint.binding["plant"] and searched.binding["plant"]
    assert joint.shadow_costs["plant"] == pytest.approx(searched.shadow_costs["plant"], rel=1e-9)
    assert joint.equilibrium.prices == pytest.approx(searched.equilibrium.prices, rel=1e-11)
    assert joint.units["plant"] == pytest.approx(plants[0].capacity, rel=1e-9)
    assert count[0] <= by_search, (count[0], by_search)


def test_a_slack_draw_takes_the_search_and_a_useless_border_is_left_for_it():
    """A draw whose capacity leaves the plant slack (the joint solve steps to a negative shadow cost)
    and a border that leads nowhere both end in the shadow-cost search's result, to the bit."""
    from dataclasses import replace

    demand, xi, omega, drawn, plants, size, solved, matrix, edge = bordered_case(2.0)
    for given in (edge, replace(edge, units_row=-edge.units_row * 1e-6)):
        args = (drawn, xi, demand, omega, Taxes.none(10), plants, size)
        kw = dict(initial=solved.equilibrium.prices, inverse_jacobian=matrix, search="secant")
        searched = solve_constrained(*args, **kw)
        joint = solve_constrained(*args, **kw, capacity_start=CapacityStart((given,)))
        assert np.array_equal(joint.equilibrium.prices, searched.equilibrium.prices)
        assert joint.shadow_costs == searched.shadow_costs
    assert not searched.binding["plant"]


def test_a_slack_draw_starts_from_the_central_equilibrium_at_zero_shadow_cost(monkeypatch):
    """With the central scenario's equilibrium at zero shadow cost and its Newton matrix in the start
    (``runs.draw_start.newton_start(free=True)``), a draw whose capacity leaves the plant slack is solved at
    zero from there: the search's equilibrium to 1e-11, in no more evaluations than the search's (whose
    first trial solves at zero from the central prices with the central matrix; on ford-byd-jv's draws
    7-15 evaluations against 17-21, here 7 against 7)."""
    from autopact.model.newton import jacobians

    demand, xi, omega, drawn, plants, size, solved, matrix, edge = bordered_case(2.0)
    costs = solved.equilibrium.prices - solved.equilibrium.markups - solved.equilibrium.shadow_costs
    free = solve_prices(costs, xi, demand, omega, Taxes.none(10), initial=solved.equilibrium.prices)
    free_matrix = jacobians(free.prices - free.markups, xi, demand, omega, Taxes.none(10), free.prices)[0]
    args = (drawn, xi, demand, omega, Taxes.none(10), plants, size)
    kw = dict(initial=solved.equilibrium.prices, inverse_jacobian=matrix, search="secant")
    count = counted_solves(monkeypatch)
    searched = solve_constrained(*args, **kw)
    by_search, count[0] = count[0], 0
    joint = solve_constrained(*args, **kw, capacity_start=CapacityStart((edge,), free.prices, free_matrix))
    assert not joint.binding["plant"] and joint.shadow_costs["plant"] == 0.0
    assert joint.equilibrium.prices == pytest.approx(searched.equilibrium.prices, rel=1e-11)
    assert count[0] <= by_search, (count[0], by_search)
