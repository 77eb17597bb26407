"""Calibration recovers known parameters, and its first-order re-calibration tracks exact moves
(audit #1, #2).

Targets are made from known interior parameters on the 2025 arrays (the model's own statistics at
those parameters, 200 simulated households); calibrating from the default start must find them
again. At that optimum every target is hit, so d theta / d target (``parameter_response``) is the
exact derivative up to the finite-difference step, and a linear re-calibration must track an exact
one's moves (not levels) with an error that shrinks with the size of the target move.
"""

import numpy as np
import pytest

from autopact.data import income_distribution, load_market
from autopact.fit.calibration import (PARAMETERS, START, SCALE, MarketArrays, build_demand, calibrate,
                                      load_targets, model_statistics)
from autopact.fit.recalibration import linear_recalibration, parameter_response
from autopact.model.inversion import invert_shares
from autopact.model.households import draw_households

TRUTH = {"alpha": 5e-5, "pi": 3.0, "sigma_bev": 1.5, "sigma_size": 0.8, "rho": 0.4, "bev_income": 0.3}
DRAWS = 200


@pytest.fixture(scope="module")
def synthetic():
    market = load_market(2025)
    arrays = MarketArrays.from_market(market)
    demand = build_demand(TRUTH, arrays, draw_households(income_distribution(), DRAWS, tastes=2, seed=0))
    delta, _ = invert_shares(arrays.shares, arrays.prices, demand, tol=1e-13)
    targets = load_targets()
    targets["value"] = model_statistics(targets, delta, demand, arrays)
    return market, targets, calibrate(market, targets=targets, draws=DRAWS, seed=0)


def test_calibration_recovers_known_parameters(synthetic):
    _, targets, cal = synthetic
    start = dict(zip(PARAMETERS, START * SCALE))
    assert all(abs(start[k] / TRUTH[k] - 1) > 0.2 for k in PARAMETERS)  # a real search: 25% to 100% away
    # measured: parameters 4.0e-12 relative (3.7e-12 on the compact-car group target before Dec 2026), targets 4.0e-12
    assert cal.parameters == pytest.approx(TRUTH, rel=1e-11)
    np.testing.assert_allclose(cal.achieved, targets["value"], rtol=1e-11)  # measured 4.0e-12
    assert cal.warnings == [] and cal.max_share_error < 1e-12


@pytest.mark.parametrize("name, move, tolerance", [
    # measured error of the linear move relative to the exact one, largest over the six parameters (Dec 2026,
    # the Sentra's elasticity among the targets): 1.05% (sigma_size) at +1% of the Sentra's elasticity and
    # 0.66% at +0.5%, 4.1% (pi) at +1% of the aggregate elasticity and 2.0% at +0.5%: second order, it
    # halves with the step (with the compact-car group's target before: 5.8% and 2.9%, 6.0% and 2.9%)
    ("own_elasticity_nissan_sentra", 0.01, 0.02),
    ("own_elasticity_nissan_sentra", 0.005, 0.01),
    ("aggregate_elasticity", 0.01, 0.05),
    ("aggregate_elasticity", 0.005, 0.025),
])
def test_first_order_recalibration_tracks_exact_moves_at_an_interior_optimum(synthetic, name, move, tolerance):
    market, targets, cal = synthetic
    response = parameter_response(cal)
    assert response[0] == list(PARAMETERS)  # interior: every parameter moves
    moved = targets.copy()
    moved.loc[moved["name"] == name, "value"] *= 1 + move
    linear = linear_recalibration(cal, response, moved)
    exact = calibrate(market, targets=moved, draws=DRAWS, seed=0, start=cal.parameters).parameters
    for k in PARAMETERS:
        exact_move, linear_move = exact[k] - cal.parameters[k], linear[k] - cal.parameters[k]
        assert abs(exact_move) > 1e-4 * abs(cal.parameters[k])  # the move is real
        assert abs(linear_move - exact_move) <= tolerance * abs(exact_move), k


def test_the_response_of_a_parameter_just_off_its_bound_steps_inside_the_bounds(synthetic):
    """rho 3e-6 is off its lower bound 0 (not held) but closer than the finite-difference step
    (1e-4): a central difference would build a demand with rho < 0, which the model refuses (the
    bundled calibration of 6 Dec 2026, rho 3.3e-6, failed every re-calibrating draw so). The step
    is one-sided there (an interior parameter's central difference is checked by the test above)."""
    import dataclasses

    _, _, cal = synthetic
    near = dataclasses.replace(cal, parameters={**cal.parameters, "rho": 3e-6})
    names, response = parameter_response(near)
    assert "rho" in names and np.isfinite(response).all()
