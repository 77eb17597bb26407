"""A yearly projection: one static equilibrium a year, each started from the year before's prices.

    for Y in start..to:  baseline_Y = the 2025 market carried to Y by the policy timeline
                         scenario_Y = the scenario's levers in force in Y (autopact.policy.dated) on it

Each year is a static Bertrand-Nash equilibrium on that year's state (the law and the scenario's
levers in force, the exogenous prices the timeline carries), solved from the previous year's
prices (the same equilibrium to the solver's tolerance, found faster). It is not a dynamic game:
firms do not price or invest with the future in view, entry and plant decisions are the scenario's
dated levers rather than choices, demand does not learn (brand familiarity, dealer reach and the
market size stay at their 2025 calibration), incomes, fuel and electricity prices stay at 2025 (no
sourced paths here), and incumbents' costs stay at their calibrated 2025 levels but for their
batteries (the pack price path, ``autopact.data.paths``, times each BEV's kWh). Beyond the last
dated row (August 2026) the law is the last known one; from 2027 it bars PRC-controlled makers'
connected vehicles, incumbents included (Volvo and Polestar, Geely-controlled in firms.csv), listed
in each year's ``baseline_excluded``.

With ``frozen`` every year is evaluated at the start year (no change in any path): the projection
is then the start year repeated, which the tests check to solver tolerance.
"""

from __future__ import annotations

from typing import Any

from autopact.data.timeline import DATA_YEAR
from autopact.outcomes.metrics import difference
from autopact.policy.scenario import POLICY_YEARS, Scenario, parse_scenario
from autopact.simulate import carried, market_for, simulate, solve


def project(scenario: Scenario, to: int, start: int = DATA_YEAR + 1, frozen: bool = False, households: int = 1000,
            household_seed: int = 0) -> dict[str, Any]:
    """The projection of ``scenario`` from ``start`` to ``to`` (one record a year; see the module
    docstring). Refuses, naming the field, years outside the horizon and estimated markets."""
    low, high = POLICY_YEARS
    if scenario.estimation is not None:
        raise ValueError("estimation: a projection runs on the calibrated 2025 market, not an estimated one")
    if not low <= start <= to <= high:
        raise ValueError(f"--from/--to: years from {low} to {high} with from <= to, got {start} and {to}")
    market = market_for(parse_scenario({**scenario.model_dump(), "baseline_year": None, "policy_year": None},
                                       scenario.name), households, household_seed)
    records, prices = [], None
    for year in range(start, to + 1):
        at = start if frozen else year
        dated = parse_scenario({**scenario.model_dump(), "baseline_year": at, "policy_year": at}, scenario.name)
        base_market = carried(market, at)
        result = simulate(dated, base_market, initial_prices=prices, baseline=solve(base_market))
        base, cf = result.metrics()
        p = result.counterfactual.products
        prices = dict(zip(p["product_id"], p["price"].astype(float)))
        records.append({"year": year, "policy_year": at, "baseline": base, "counterfactual": cf,
                        "change": difference(base, cf), "excluded": result.market.excluded,
                        "baseline_excluded": base_market.excluded,
                        "solver": {k: result.counterfactual.solver[k] for k in ("converged", "iterations",
                                                                                 "max_foc_residual")}})
    return {"scenario": scenario.name, "from": start, "to": to, "frozen": frozen, "records": records,
            "method": "one static Bertrand-Nash equilibrium a year on that year's state, each solved from the "
                      "previous year's prices; not a dynamic game (see autopact.runs.projection)"}
