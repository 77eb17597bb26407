"""Cost/policy draws of a scenario as jobs, for the draw tests (tests/runs)."""

from autopact.policy.uncertain_inputs import apply, centrals
from autopact.runs.execution import Job
from autopact.runs.uncertainty import draw_values


def cost_draw_jobs(scenario, draws: int | list[int]) -> list[Job]:
    """Draws of the scenario's cost and policy parameters (its uncertain inputs of kind "parameter"),
    each applied to the scenario, as jobs of point 0: the first ``draws`` or those numbered in it."""
    costs_only = [i for i in scenario.uncertainty.inputs if i.kind == "parameter"]
    uncertainty = scenario.uncertainty.model_copy(update={"inputs": costs_only})
    jobs = []
    for d in range(draws) if isinstance(draws, int) else draws:
        drawn = draw_values(uncertainty, centrals(scenario), d, uncertainty.seed)
        definition, targets, assumptions, _ = apply(scenario, drawn)
        jobs.append(Job(0, d, definition, targets, assumptions, drawn))
    return jobs
