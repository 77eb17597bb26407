"""A plant whose output jumps across its capacity as the shadow cost rises (several price
equilibria): the search reports the feasible side, flagged, instead of searching to its time limit.
partner-comparison's gm-geely at the bundled US dealer gross ($2,247) is such a case: the Galaxy E5's
price leaps past the capacity (the helper's run took 600 s and failed before the jump was handled)."""

import time

import yaml

from autopact.policy.scenario import bundled_scenarios, parse_scenario
from autopact.simulate import simulate


def test_a_jump_across_capacity_is_reported_below_capacity_and_flagged():
    text = yaml.safe_load(bundled_scenarios()["partner-comparison"].read_text())
    scenario = parse_scenario({"name": "gm-geely", **text["variants"]["gm-geely"]}, "gm-geely")
    start = time.monotonic()
    result = simulate(scenario)
    assert time.monotonic() - start < 120
    (plant,) = result.counterfactual.constraints
    assert plant["jump"] is True and plant["binding"] is False and plant["shadow_cost_usd"] > 0
    assert plant["units"] < plant["capacity"]
    assert result.counterfactual.solver["converged"] and result.counterfactual.solver["max_foc_residual"] < 1e-9
