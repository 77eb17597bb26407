"""The secant shadow-cost search of ``solve_constrained`` (issue 13): the same constrained equilibrium
as a bracketing root-finder on q_G(lambda) = K_G, in fewer equilibrium solves than the brentq search
(15 solves for one binding plant, 168 for a plant and a quota, on these markets), and brentq's
result where the units jump across the capacity."""

import numpy as np
import pytest
from scipy.optimize import brentq

from autopact.model.supply import CapacityConstraint, Taxes, ownership_matrix, solve_constrained, solve_prices
from synthetic import synthetic_demand

OWNERS = np.array([0, 0, 1, 1, 2, 2, 3, 3, 0, 1])


def market():
    demand, xi, prices = synthetic_demand(products=10, rho=0.3)
    omega, costs = ownership_matrix(OWNERS), 0.7 * prices
    return demand, xi, omega, costs, solve_prices(costs, xi, demand, omega, Taxes.none(10))


def test_one_binding_plant_matches_a_root_finder_in_fewer_solves():
    demand, xi, omega, costs, free = market()
    size, plant = 1e6, np.array([2, 3])
    capacity = 0.8 * size * free.shares[plant].sum()
    result = solve_constrained(costs, xi, demand, omega, Taxes.none(10),
                               [CapacityConstraint("plant", plant, capacity)], size, search="secant")

    def excess(lam: float) -> float:
        shifted = costs.copy()
        shifted[plant] += lam
        return size * solve_prices(shifted, xi, demand, omega, Taxes.none(10)).shares[plant].sum() / capacity - 1

    oracle = brentq(excess, 0.0, 100.0, xtol=1e-12, rtol=1e-14)
    assert result.shadow_costs["plant"] == pytest.approx(oracle, rel=1e-9)
    assert result.units["plant"] == pytest.approx(capacity, rel=1e-10)
    assert result.solves <= 9


def test_a_plant_and_a_quota_in_fewer_solves():
    demand, xi, omega, costs, free = market()
    size, plant, imports = 1e6, np.array([2, 3]), np.array([4, 5, 6])
    constraints = [CapacityConstraint("plant", plant, 0.8 * size * free.shares[plant].sum()),
                   CapacityConstraint("quota", imports, 0.9 * size * free.shares[imports].sum())]
    result = solve_constrained(costs, xi, demand, omega, Taxes.none(10), constraints, size, search="secant")
    assert result.binding == {"plant": True, "quota": True}
    for c in constraints:
        assert result.units[c.name] == pytest.approx(c.capacity, rel=1e-9)
    assert result.solves <= 80



def test_a_jump_across_the_capacity_hands_over_to_brentq(monkeypatch):
    """Where the search stops without meeting the capacity (as at a jump between equilibria), the
    secant search gives way to brentq's, whose result it then reports."""
    import autopact.model.shadow as shadow

    demand, xi, omega, costs, free = market()
    size, plant = 1e6, np.array([2, 3])
    plants = [CapacityConstraint("plant", plant, 0.8 * size * free.shares[plant].sum())]
    brent = solve_constrained(costs, xi, demand, omega, Taxes.none(10), plants, size)
    monkeypatch.setattr(shadow, "JUMP", -1.0)  # every stop counts as a jump
    handed = solve_constrained(costs, xi, demand, omega, Taxes.none(10), plants, size, search="secant")
    assert handed.shadow_costs == brent.shadow_costs
    assert np.array_equal(handed.equilibrium.prices, brent.equilibrium.prices)
