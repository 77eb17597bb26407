"""Entrants' build path in projections (issue 14): a plant decision and its lead time, the launch term
by years on sale, and a capacity ramp."""

from datetime import date

import pytest

from autopact.policy.dated import at_year, launch_date
from autopact.policy.entry import entrants
from autopact.policy.hedonic import Hedonic
from autopact.policy.launch import launch_term
from autopact.policy.scenario import ScenarioError, parse_scenario
from autopact.runs.projection import project
from autopact.simulate import market_for, simulate

DOLPHIN = "byd--dolphin--active-44-9-kwh"
PLANT = {"candidate": DOLPHIN, "maker": "BYD", "assembly": "own_us_plant", "decision": "2026-03-01",
         "lead_time_months": 30}
REPEAL = {"connected_vehicle_rule": {"repealed": True}}  # the law bars BYD's own sales from model year 2027


def test_a_decision_in_2026_with_a_30_month_lead_sells_nothing_before_its_launch_year():
    scenario = parse_scenario({"name": "plant", "entrants": [PLANT], **REPEAL}, "test")
    assert launch_date(scenario.entrants[0], 30) == date(2028, 9, 1)  # after 1 July: 2029 is its first year
    assert [len(at_year(scenario, y).entrants) for y in (2026, 2027, 2028, 2029)] == [0, 0, 0, 1]
    records = project(scenario, 2029, 2028)["records"]
    assert [r["entrants_on_sale"] for r in records] == [[], [{"candidate": DOLPHIN, "years_on_sale": 1,
                                                             "capacity": None}]]
    assert records[0]["change"]["total_units"] == pytest.approx(0.0, abs=1.0)
    assert records[1]["counterfactual"]["total_units"] > records[1]["baseline"]["total_units"]


def test_the_default_lead_time_is_the_named_assumption_and_an_entrant_may_set_its_own():
    default = parse_scenario({"name": "p", "entrants": [{**PLANT, "lead_time_months": None}]}, "test")
    assert [len(at_year(default, y).entrants) for y in (2028, 2029)] == [0, 1]  # 30 months: 1 Sep 2028
    short = parse_scenario({"name": "p", "entrants": [{**PLANT, "lead_time_months": 26}]}, "test")
    assert launch_date(short.entrants[0], 30) == date(2028, 5, 1)
    assert at_year(short, 2028).entrants[0].years_on_sale == 1  # on sale on 1 July 2028


def test_a_decision_with_an_effective_date_or_on_an_import_is_refused():
    with pytest.raises(ScenarioError, match="decision .* or effective"):
        parse_scenario({"name": "p", "entrants": [{**PLANT, "effective": "2028-01-01"}]}, "test")
    with pytest.raises(ScenarioError, match="US-built entrants"):
        parse_scenario({"name": "p", "entrants": [{**PLANT, "assembly": "import"}]}, "test")
    with pytest.raises(ScenarioError, match=r"capacity_ramp\[1\].*got 1.5"):
        parse_scenario({"name": "p", "entrants": [{**PLANT, "capacity_ramp": [0.5, 1.5]}]}, "test")


def test_the_launch_term_follows_the_bands_by_year_on_sale(market_2025):
    scenario = parse_scenario({"name": "plant", "entrants": [PLANT], **REPEAL}, "test")
    hedonic = Hedonic.fit(market_2025.products, market_2025.xi, market_2025.data.units)
    terms = {}
    for year, on_sale in ((2029, 1), (2030, 2), (2033, 5), (2034, 6), (2035, 7)):
        plain = at_year(scenario, year)
        assert plain.entrants[0].years_on_sale == on_sale
        entry = entrants(plain, market_2025, {**market_2025.parameters, **plain.parameters}, hedonic)
        terms[on_sale] = entry.report[0]["launch_term"]
        assert terms[on_sale] == launch_term(market_2025, on_sale, "BEV")
    assert terms[1] != terms[2] == terms[5] != terms[6] == terms[7]  # first year; years 2-5; year 6 and later
    undated = parse_scenario({"name": "u", "entrants": [{**PLANT, "decision": None, "lead_time_months": None}]}, "test")
    assert at_year(undated, 2029).entrants[0].years_on_sale is None  # the policy parameter, as before


def test_a_capacity_ramp_binds_at_the_dated_capacity():
    ramp = {**PLANT, "capacity": 1000, "capacity_ramp": [0.2, 0.4, 1.0]}
    for year, capacity in ((2029, 200.0), (2030, 400.0)):
        scenario = parse_scenario({"name": "ramp", "entrants": [ramp], "policy_year": year, "baseline_year": year,
                                   **REPEAL}, "test")
        assert at_year(scenario, year).entrants[0].capacity == capacity
        result = simulate(scenario, market_for(scenario))
        plant = next(c for c in result.counterfactual.constraints if c.get("name", "").startswith("plant:"))
        assert plant["capacity"] == capacity and plant["binding"], (year, plant)
        assert plant["units"] == pytest.approx(capacity, rel=1e-6)


def test_an_undated_entrant_in_a_projection_is_one_year_further_on_sale_each_year():
    # the policy parameter entrant_years_on_sale (3) is its year on sale in the projection's first year
    undated = {**PLANT, "decision": None, "lead_time_months": None, "assembly": "import"}
    scenario = parse_scenario({"name": "undated", "entrants": [undated], **REPEAL}, "test")
    records = project(scenario, 2027, 2026)["records"]
    assert [r["entrants_on_sale"][0]["years_on_sale"] for r in records] == [3, 4]
    frozen = project(scenario, 2027, 2026, frozen=True)["records"]
    assert [r["entrants_on_sale"][0]["years_on_sale"] for r in frozen] == [3, 3]
