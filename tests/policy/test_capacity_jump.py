"""A plant whose output jumps across its capacity as the shadow cost rises (several price
equilibria): the search reports the feasible side, flagged, instead of searching to its time limit.
partner-comparison's gm-geely is such a case with its plant at JUMP_CAPACITY: the Galaxy E5's price
leaps past the capacity (found by scanning capacities; at the default 150,000 the plant binds since
the entrants' range term; before the jump was handled such a run took 600 s and failed)."""

import time

import yaml

from autopact.policy.scenario import bundled_scenarios, parse_scenario
from autopact.simulate import simulate

JUMP_CAPACITY = 120_000  # units leap from above it to about 106,000 as the shadow cost passes about $1,477


def test_a_jump_across_capacity_is_reported_below_capacity_and_flagged():
    text = yaml.safe_load(bundled_scenarios()["partner-comparison"].read_text())
    variant = text["variants"]["gm-geely"]
    entrants = [dict(entrant, capacity=JUMP_CAPACITY) for entrant in variant["entrants"]]
    scenario = parse_scenario({"name": "gm-geely", **dict(variant, entrants=entrants)}, "gm-geely")
    start = time.monotonic()
    result = simulate(scenario)
    assert time.monotonic() - start < 120
    (plant,) = result.counterfactual.constraints
    assert plant["jump"] is True and plant["binding"] is False and plant["shadow_cost_usd"] > 0
    assert plant["units"] < plant["capacity"]
    assert result.counterfactual.solver["converged"] and result.counterfactual.solver["max_foc_residual"] < 1e-9
