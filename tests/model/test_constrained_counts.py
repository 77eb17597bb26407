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
    assert plant.excess(shares, 100.0) == pytest.approx(0.0, abs=1e-15)  # 50 units at a capacity of 50
    assert plant.excess(shares, 200.0) == pytest.approx(1.0)


@pytest.mark.parametrize("share", [1.2, 0.8])  # the plant slack at zero shadow cost, then over capacity
def test_a_draws_solve_before_the_search_counts_its_evaluations_and_hands_them_to_the_search(share, monkeypatch):
    """``before_search`` (a draw's first solve) reports the evaluations it made, as its result's count
    or as the count the search goes on from (``solve_constrained``'s ``spent``)."""
    from autopact.model.constrained import before_search
    from autopact.model.newton import inverse_jacobian

    demand, xi, prices = synthetic_demand(products=10, rho=0.3)
    omega, costs, taxes = ownership_matrix(OWNERS), 0.7 * prices, Taxes.none(10)
    free = solve_prices(costs, xi, demand, omega, taxes)
    size, plant = 1e6, np.array([2, 3])
    plants = [CapacityConstraint("plant", plant, share * size * free.shares[plant].sum())]
    start = 1.01 * free.prices  # a draw starts near, not at, its equilibrium
    matrix = inverse_jacobian(costs, xi, demand, omega, taxes, start)
    calls = []
    terms = FocKernel.terms
    monkeypatch.setattr(FocKernel, "terms", lambda self, *a: calls.append(1) or terms(self, *a))
    found, _, used = before_search(costs, xi, demand, omega, taxes, plants, size, start, matrix, None,
                                   FocKernel(xi, demand, omega))
    assert used == len(calls) > 1
    if share > 1:
        assert found is not None and found.evaluations == used and found.binding == {"plant": False}
        return
    assert found is None
    searched = solve_constrained(costs, xi, demand, omega, taxes, plants, size, search="secant", spent=used)
    assert searched.binding == {"plant": True} and searched.evaluations == len(calls)


def test_a_compiled_maps_evaluations_are_counted_and_a_kernel_without_one_offers_none():
    from autopact.model.constrained import CountingKernel

    class Compiled:
        def zeta(self, prices, costs, tol):
            return "mapped"

    counted = CountingKernel(Compiled(), spent=3)
    assert counted.zeta(None, None, 1e-12) == "mapped" and counted.evaluations == 4
    assert getattr(CountingKernel(object()), "zeta", None) is None  # supply.solve_prices's test for a compiled map
