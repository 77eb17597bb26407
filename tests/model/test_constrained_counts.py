"""What a constrained equilibrium reports of its work (issue 13's review): ``evaluations`` counts every
evaluation of the map that the shadow-cost search made, its trials, the leap's solves and the Newton
matrix of brentq's search, not the last solve's alone (a reader saw "1 map evaluations" where
ford-geely-jv's search took 89)."""

import numpy as np
import pytest

from autopact.model.constrained import CapacityConstraint, solve_constrained
from autopact.model.supply import Taxes, ownership_matrix, solve_prices
from autopact.model.zeta import FocKernel
from synthetic import synthetic_demand

OWNERS = np.array([0, 0, 1, 1, 2, 2, 3, 3, 0, 1])


@pytest.mark.parametrize("search", ["secant", "brentq"])
def test_a_binding_plant_reports_every_evaluation_of_its_search(search, monkeypatch):
    demand, xi, prices = synthetic_demand(products=10, rho=0.3)
    omega, costs, taxes = ownership_matrix(OWNERS), 0.7 * prices, Taxes.none(10)
    free = solve_prices(costs, xi, demand, omega, taxes)
    size, plant = 1e6, np.array([2, 3])
    plants = [CapacityConstraint("plant", plant, 0.8 * size * free.shares[plant].sum())]
    calls = []
    terms = FocKernel.terms
    monkeypatch.setattr(FocKernel, "terms", lambda self, *a: calls.append(1) or terms(self, *a))
    result = solve_constrained(costs, xi, demand, omega, taxes, plants, size, search=search)
    assert result.binding == {"plant": True}
    assert result.evaluations == len(calls)  # every evaluation, on whichever kernel made it
    assert result.evaluations > result.equilibrium.iterations + result.solves  # more than the last solve's


def test_the_excess_is_the_units_over_capacity_less_one():
    plant = CapacityConstraint("plant", np.array([1, 2]), 50.0)
    shares = np.array([0.1, 0.2, 0.3])
    assert plant.units(shares, 100.0) == pytest.approx(50.0)
    assert plant.excess(shares, 100.0) == 100.0 * shares[[1, 2]].sum() / 50.0 - 1.0
    assert plant.excess(shares, 200.0) == pytest.approx(1.0)
