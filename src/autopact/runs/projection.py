"""A yearly projection: one static equilibrium a year, each started from the year before's prices.

    for Y in start..to:  baseline_Y = the 2025 market carried to Y by the policy timeline
                         scenario_Y = the scenario's levers in force in Y (autopact.policy.dated) on it

Each year is a static Bertrand-Nash equilibrium on that year's state (the law and the scenario's
levers in force, the exogenous prices the timeline carries), solved from the previous year's
prices (the same equilibrium to the solver's tolerance, found faster). It is not a dynamic game:
firms do not price or invest with the future in view, entry and plant decisions are the scenario's
dated levers rather than choices (an entrant's build path: decision, lead time, capacity ramp, its
launch term by year on sale; ``autopact.policy.dated``), demand learns only through that launch term
(brand familiarity and dealer reach stay at their 2025 calibration), and incumbents' costs stay
at their calibrated 2025 levels but for their batteries (the pack price path times each BEV's
kWh). The exogenous paths (``autopact.data.paths``) move the market size with US households, each
household's income with real income growth, and consumer prices by the change in each product's
lifetime fuel or electricity cost (``autopact.policy.exogenous``); tastes, the product line-up
and charging stay at 2025. Beyond the last
dated row (August 2026) the law is the last known one; from 2027 it bars PRC-controlled makers'
connected vehicles, incumbents included (Volvo and Polestar, Geely-controlled in firms.csv), listed
in each year's ``baseline_excluded``.

With ``frozen`` every year is evaluated at the start year (no change in any path): the projection
is then the start year repeated, which the tests check to solver tolerance.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from autopact.data.paths import PATHS
from autopact.data.timeline import DATA_YEAR
from autopact.outcomes.metrics import difference
from autopact.policy.dated import BATTERY, at_year
from autopact.policy.scenario import POLICY_YEARS, Scenario, parse_scenario
from autopact.simulate import carried, market_for, simulate, solve


def project(scenario: Scenario, to: int, start: int = DATA_YEAR + 1, frozen: bool = False, households: int = 1000,
            household_seed: int = 0, progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """The projection of ``scenario`` from ``start`` to ``to`` (one record a year; see the module
    docstring). Refuses, naming the field, years outside the horizon and estimated markets.
    ``progress(years done, years)`` after each year, when given (the web app's jobs: an exception it
    raises stops the projection)."""
    low, high = POLICY_YEARS
    if scenario.estimation is not None:
        raise ValueError("estimation: a projection runs on the calibrated 2025 market, not an estimated one")
    if not low <= start <= to <= high:
        raise ValueError(f"--from/--to: years from {low} to {high} with from <= to, got {start} and {to}")
    market = market_for(parse_scenario({**scenario.model_dump(), "baseline_year": None, "policy_year": None},
                                       scenario.name), households, household_seed)
    records, prices, base_prices = [], None, None
    for year in range(start, to + 1):
        at = start if frozen else year
        dated = parse_scenario({**aged(scenario, at - start).model_dump(), "baseline_year": at, "policy_year": at},
                               scenario.name)
        base_market = carried(market, at, dated.paths)
        if base_prices:  # the baseline too starts from last year's prices (products new this year: at cost)
            start_at = np.array([base_prices.get(pid, np.nan) for pid in base_market.products["product_id"]])
            base_market = base_market.with_products(initial_prices=start_at)
        baseline = solve(base_market)
        base_prices = dict(zip(baseline.products["product_id"], baseline.products["price"].astype(float)))
        result = simulate(dated, base_market, initial_prices=prices, baseline=baseline)
        base, cf = result.metrics()
        p = result.counterfactual.products
        prices = dict(zip(p["product_id"], p["price"].astype(float)))
        records.append({"year": year, "policy_year": at, "baseline": base, "counterfactual": cf,
                        "change": difference(base, cf), "excluded": result.market.excluded,
                        "baseline_excluded": base_market.excluded, "entrants_on_sale": on_sale(dated, at),
                        "solver": {k: result.counterfactual.solver[k] for k in ("converged", "iterations",
                                                                                 "max_foc_residual")}})
        if progress is not None:
            progress(year - start + 1, to - start + 1)
    from autopact.data.assumptions import projection_assumptions
    from autopact.data.exogenous_assumptions import exogenous_assumptions

    assumptions = [{"name": a.name, "value": a.value, "unit": a.unit, "reason": a.reason, "source": a.source}
                   for a in (*projection_assumptions(), *exogenous_assumptions())]
    return {"scenario": scenario.name, "from": start, "to": to, "frozen": frozen, "records": records,
            "assumptions": assumptions,
            "method": "one static Bertrand-Nash equilibrium a year on that year's state, each solved from the "
                      "previous year's prices; not a dynamic game (see autopact.runs.projection)"}


def _years_on_sale_parameter(scenario: Scenario) -> int:
    """The policy parameter entrant_years_on_sale of the scenario (its own value, else the bundled one)."""
    if "entrant_years_on_sale" in scenario.parameters:
        return int(scenario.parameters["entrant_years_on_sale"])
    from autopact.data.tables import policy_parameters

    return int(policy_parameters().at["entrant_years_on_sale", "value"])


def aged(scenario: Scenario, years: int) -> Scenario:
    """The scenario ``years`` after the projection's first year: an undated entrant or new product (on
    sale in every year, in its ``entrant_years_on_sale``-th year in the first, the policy parameter's
    meaning) is that many years further on sale, so its launch term advances as a dated one's does."""
    if years == 0:
        return scenario
    first = _years_on_sale_parameter(scenario)
    undated = lambda item: item.effective is None and getattr(item, "decision", None) is None  # noqa: E731
    update = lambda item: item.model_copy(update={"years_on_sale": min((item.years_on_sale or int(first)) + years, 99)})  # noqa: E731,E501
    return scenario.model_copy(update={
        "entrants": [update(e) if undated(e) else e for e in scenario.entrants],
        "new_products": [update(p) if undated(p) else p for p in scenario.new_products]})


def on_sale(scenario: Scenario, year: int) -> list[dict[str, Any]]:
    """The scenario's entrants on sale in ``year`` (its build path): year on sale (launch year 1; an
    undated one's the policy parameter entrant_years_on_sale) and plant capacity after any ramp
    (None: the policy parameter entrant_plant_capacity, or an import)."""
    return [{"candidate": e.candidate, "years_on_sale": e.years_on_sale or _years_on_sale_parameter(scenario),
             "capacity": e.capacity} for e in at_year(scenario, year).entrants]


FLOWS = ("consumer_surplus_usd", "total_profit_usd", "tariff_revenue_usd", "total_units", "us_assembled_units",
         "us_assembly_jobs")
BAND_METRICS = ("bev_share", "total_units", "average_price_usd", "consumer_surplus_usd", "total_profit_usd",
                "tariff_revenue_usd", "us_assembly_jobs")


def discount_rate() -> float:
    from autopact.data.assumptions import dated_assumptions

    return float(next(a.value for a in dated_assumptions() if a.name == "discount_rate"))


def totals(records: list[dict[str, Any]], rate: float | None = None, side: str = "change") -> dict[str, Any]:
    """Cumulative and discounted totals over the years of the yearly flows of ``side`` (a change by
    default): sum_Y x_Y and sum_Y x_Y / (1 + r)^(Y - first year), r the named assumption
    ``discount_rate`` unless given. Jobs add up to job-years."""
    rate = discount_rate() if rate is None else rate
    if rate < 0:
        raise ValueError(f"--discount-rate must be >= 0, got {rate}")
    first = records[0]["year"]
    out: dict[str, Any] = {"discount_rate": rate, "first_year": first, "cumulative": {}, "discounted": {}}
    for key in FLOWS:
        values = [(r["year"], r[side].get(key)) for r in records]
        if any(v is None for _, v in values):
            continue
        out["cumulative"][key] = float(sum(v for _, v in values))
        out["discounted"][key] = float(sum(v / (1 + rate) ** (y - first) for y, v in values))
    return out


def compare(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Two projections over the same years, year by year: scenario A's counterfactual minus B's
    (both against the same yearly baselines), the totals of the differences, and B's own changes
    by year (``changes_b``: the report charts both scenarios on one chart)."""
    if [r["year"] for r in a["records"]] != [r["year"] for r in b["records"]]:
        raise ValueError("the two projections must cover the same years")
    rows = [{"year": ra["year"], "difference": difference(rb["counterfactual"], ra["counterfactual"])}
            for ra, rb in zip(a["records"], b["records"])]
    changes_b = [{"year": rb["year"], **{k: rb["change"].get(k) for k in BAND_METRICS}} for rb in b["records"]]
    return {"a": a["scenario"], "b": b["scenario"], "records": rows, "totals": totals(rows, side="difference"),
            "changes_b": changes_b}


def _draw(definition: dict[str, Any], to: int, start: int, quantiles: dict[str, float],
          parameters: dict[str, float] | None = None) -> list[dict[str, Any]]:
    """One draw: the whole projection with each exogenous path at its quantile and the scenario's
    uncertain policy parameters at their drawn values (its changes by year)."""
    drawn = {**definition, "paths": quantiles}
    if parameters:
        drawn["parameters"] = {**definition.get("parameters", {}), **parameters}
    scenario = parse_scenario(drawn, definition["name"])
    return [{"year": r["year"], **{k: r["change"].get(k) for k in BAND_METRICS},
             "baseline_bev_share": r["baseline"]["bev_share"]} for r in project(scenario, to, start)["records"]]


def path_bands(scenario: Scenario, to: int, start: int, draws: int, seed: int = 0, serial: bool = False,
               scheduler: str | None = None, workers: int | None = None) -> dict[str, Any]:
    """5-50-95% bands by year of the changes (and the baseline BEV share) over ``draws`` draws of the
    exogenous paths, each draw whole paths (one quantile for all years of a path, each path its own,
    independent; ``autopact.data.paths``), run serially or on Dask (a local cluster or ``scheduler``)
    like the other runs. The battery path's quantiles are the first numbers of the seeded stream, as
    before the other paths were added, so a seed draws the same battery paths.

    The scenario's uncertain policy parameters (``uncertainty.inputs`` with ``parameter:``, e.g. the
    launch appeal or the plant capacity) are drawn too, each its own quantile from a second stream
    (``default_rng([seed, 1])``), so the paths of a seed stay as they were; calibration targets and
    market assumptions would re-calibrate every year's market and are left out (listed)."""
    from autopact.policy.uncertain_inputs import centrals, quantile

    rng = np.random.default_rng(seed)
    battery = rng.uniform(0.0, 1.0, draws)
    others = [path for path in PATHS if path != BATTERY]
    rest = rng.uniform(0.0, 1.0, (draws, len(others)))
    quantiles = [{BATTERY: float(b), **{path: float(q) for path, q in zip(others, row)}} for b, row in zip(battery, rest)]
    items = list(scenario.uncertainty.inputs) if scenario.uncertainty else []
    drawn = [item for item in items if item.kind == "parameter"]
    left_out = [item.key for item in items if item.kind != "parameter"]
    central = centrals(scenario) if drawn else {}
    u = np.random.default_rng([seed, 1]).uniform(0.0, 1.0, (draws, len(drawn)))
    parameters = [{item.name: quantile(item, float(u[d, k]), central[item.key]) for k, item in enumerate(drawn)}
                  for d in range(draws)]
    definition = scenario.model_dump(mode="json")
    if serial:
        results = [_draw(definition, to, start, q, p) for q, p in zip(quantiles, parameters)]
    else:
        from dask.distributed import Client, LocalCluster

        cluster = None if scheduler else LocalCluster(n_workers=workers or 2, threads_per_worker=1, processes=True,
                                                      dashboard_address=None, silence_logs=40)
        client = Client(scheduler or cluster)
        try:
            results = client.gather(client.map(_draw, [definition] * draws, [to] * draws, [start] * draws,
                                               quantiles, parameters, pure=False))
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
    bands = []
    for k, year in enumerate(range(start, to + 1)):
        row: dict[str, Any] = {"year": year}
        for key in (*BAND_METRICS, "baseline_bev_share"):
            values = np.array([r[k][key] for r in results if r[k][key] is not None], float)
            if len(values):
                row[key] = {q: float(np.percentile(values, p)) for q, p in (("p05", 5), ("p50", 50), ("p95", 95))}
        bands.append(row)
    return {"draws": draws, "seed": seed, "paths": list(PATHS), "inputs": [item.key for item in drawn],
            "inputs_left_out": left_out, "bands": bands}
