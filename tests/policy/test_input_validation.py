"""Invalid numbers and names in scenarios, sweeps and estimation configs are refused naming the field
(issue 12, item 3); extreme inputs fail fast; results are strict JSON; the Dask recipe is not open."""

import json
import math
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from autopact.data import bundled_path
from autopact.errors import ConvergenceError, ScenarioError
from autopact.fit.saved import EstimationFileError, config_inputs
from autopact.model.supply import Taxes, solve_prices
from autopact.policy.scenario import load_scenario, parse_scenario
from autopact.runs.sweeps import load_sweep
from autopact.simulate import simulate
from synthetic import synthetic_demand

DOLPHIN = "byd--dolphin--active-44-9-kwh"
README = Path(__file__).parents[2] / "README.md"


def refused(text: str, tmp_path: Path) -> str:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ScenarioError) as caught:
        load_scenario(str(path))
    return str(caught.value)


@pytest.mark.parametrize("text, field", [
    ("extra_tariffs: [{name: t, origin: [China], ad_valorem_pct: .inf}]", "extra_tariffs.0.ad_valorem_pct"),
    ("extra_tariffs: [{name: t, specific_usd: .nan}]", "extra_tariffs.0.specific_usd"),
    ("quotas: [{name: q, quantity: .inf, in_quota_pct: 6.1}]", "quotas.0.quantity"),
    ("quotas: [{name: q, quantity: 100, in_quota_pct: .nan}]", "quotas.0.in_quota_pct"),
    (f"entrants: [{{candidate: {DOLPHIN}, maker: BYD, partner: Ford Motor Co., "
     "profit_shares: {BYD: .nan, Ford Motor Co.: 1}}]", "entrants.0.profit_shares.BYD"),
    (f"entrants: [{{candidate: {DOLPHIN}, maker: BYD, assembly: own_us_plant, capacity: .inf}}]",
     "entrants.0.capacity"),
    ("assumptions: {market_size_households: .inf}", "assumptions"),
    ("assumptions: {market_size_households: .nan}", "assumptions"),
    ("credits: [{name: c, amount_usd: .inf, source: s}]", "credits.0.amount_usd"),
    ("synergies: [{firm: Ford Motor Co., change_pct: .nan, reason: r}]", "synergies.0.change_pct"),
    ("uncertainty: {inputs: [{parameter: shipping_usd_per_vehicle, distribution: uniform, low: 0, high: .inf, "
     "source: s}]}", "uncertainty.inputs.0.high"),
])
def test_a_number_that_is_not_finite_is_refused_naming_the_field(tmp_path, text, field):
    message = refused(f"name: x\n{text}\n", tmp_path)
    assert f": {field}:" in message and "finite" in message


def test_a_year_without_a_bundled_market_is_refused_at_once(tmp_path):
    assert refused("name: x\nyear: 2024\n", tmp_path).endswith("year: no bundled market for 2024; bundled: 2025")


def test_a_price_beyond_the_ceiling_is_refused_with_the_reason(tmp_path):
    message = refused("name: x\ncredits: [{name: c, amount_usd: -2.0e+7, source: s}]\n", tmp_path)
    assert "credits.0.amount_usd" in message and "MAX_PRICE_USD, $10,000,000" in message and "unit error" in message


def test_a_profit_share_above_one_is_refused(tmp_path):
    message = refused(f"name: x\nentrants: [{{candidate: {DOLPHIN}, maker: BYD, partner: Ford Motor Co., "
                      "profit_shares: {BYD: 1.5, Ford Motor Co.: -0.5}}]\n", tmp_path)
    assert "entrants.0" in message and "[0, 1]" in message


@pytest.mark.parametrize("name, value", [("section_232_rate_year", 1.5), ("section_232_rate_year", 0),
                                         ("section_232_rate_year", 30000), ("entrant_years_on_sale", 0.3),
                                         ("entrant_years_on_sale", 2.5), ("entrant_years_on_sale", 500)])
def test_a_year_parameter_that_is_not_a_whole_year_in_range_is_refused(tmp_path, name, value):
    """Found by the scenario fuzz test on CI: a year of 1.5 or 0 reached the tariff layer as a ValueError."""
    message = refused(f"name: x\nparameters: {{{name}: {value}}}\n", tmp_path)
    assert f"parameters: parameter {name} must be a whole number from" in message, message
    assert "\n" not in message.strip()


def test_a_misspelt_maker_is_refused_listing_the_known_makers(tmp_path):
    message = refused(f"name: x\nentrants: [{{candidate: {DOLPHIN}, maker: BYDD}}]\n", tmp_path)
    assert "entrants.0.maker" in message and "'BYDD'" in message and "BYD, " in message and "Geely" in message


def test_a_new_product_announced_at_a_billion_dollars_is_refused_at_once(tmp_path):
    began = time.perf_counter()
    message = refused("name: x\nnew_products: [{name: N, firm: Ford Motor Co., segment: pickup, powertrain: BEV, "
                      "like: ford--ranger--ice, announced_price_usd: 1.0e9, price_source: s}]\n", tmp_path)
    assert "new_products.0.announced_price_usd" in message and time.perf_counter() - began < 5


def test_a_cost_parameter_that_lifts_costs_beyond_the_ceiling_is_refused_before_solving(market_2025, baseline_2025):
    scenario = parse_scenario({"name": "x", "parameters": {"shipping_usd_per_vehicle": 1e12},
                               "entrants": [{"candidate": DOLPHIN, "maker": "BYD"}]}, "x")
    began = time.perf_counter()
    with pytest.raises(ScenarioError, match="above \\$10,000,000 a vehicle"):
        simulate(scenario, market_2025, baseline=baseline_2025)
    assert time.perf_counter() - began < 30


def test_a_consideration_share_of_zero_is_refused_not_solved(market_2025, baseline_2025):
    scenario = parse_scenario({"name": "x", "parameters": {"chinese_brand_consideration_share": 0},
                               "entrants": [{"candidate": DOLPHIN, "maker": "BYD"}]}, "x")
    with pytest.raises(ScenarioError, match="chinese_brand_consideration_share"):
        simulate(scenario, market_2025, baseline=baseline_2025)


def test_the_equilibrium_solve_stops_at_its_time_limit():
    demand, xi, prices = synthetic_demand()
    began = time.perf_counter()
    with pytest.raises(ConvergenceError, match="time limit"):  # tol 0 is never met
        solve_prices(prices * 0.7, xi, demand, np.eye(8), Taxes.none(8), tol=0.0, max_iterations=10**9,
                     max_seconds=0.5)
    assert time.perf_counter() - began < 5


@pytest.mark.parametrize("setting, value", [("method", "3s"), ("se_type", "clustred"), ("weighting", "unadjustd")])
def test_a_misspelt_estimation_choice_is_refused_naming_the_allowed_values(tmp_path, setting, value):
    config = tmp_path / "config.yaml"
    config.write_text(f"products: {bundled_path('blp1995/blp_products.csv')}\nx1: 1 + prices\n{setting}: {value}\n")
    with pytest.raises(EstimationFileError, match=f"{setting}: '{value}' is not one of"):
        config_inputs(config)


def test_a_number_that_is_not_finite_in_an_estimation_config_is_refused(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text(f"products: {bundled_path('blp1995/blp_products.csv')}\nx1: 1 + prices\nx2: 1 + prices\n"
                      "sigma: [[1, 0], [0, .nan]]\n")
    with pytest.raises(EstimationFileError, match=r"sigma\[1\]\[1\]: must be a finite number"):
        config_inputs(config)


def test_a_sweep_range_that_is_not_finite_is_refused(tmp_path):
    path = tmp_path / "sweep.yaml"
    path.write_text("name: s\nscenario: baseline-2025\nsample: {points: 3, ranges: {parameters.mfn_passenger_pct: [0, .inf]}}\n")
    with pytest.raises(ScenarioError, match="sample.ranges.parameters.mfn_passenger_pct.1: Input should be a finite number"):
        load_sweep(str(path))


def test_a_sweep_of_too_many_points_is_refused_before_planning_them(tmp_path):
    path = tmp_path / "sweep.yaml"
    grid = "\n".join(f"  parameters.p{k}: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]" for k in range(10))  # 10^10 points
    path.write_text(f"name: s\nscenario: baseline-2025\ngrid:\n{grid}\n")
    with pytest.raises(ScenarioError, match="at most 100,000"):
        load_sweep(str(path))


def test_the_json_writer_writes_strict_json_with_a_reason_for_each_null(tmp_path):
    from autopact.interfaces.console import _write_outputs
    from autopact.interfaces.outputs import check

    out = tmp_path / "r.json"
    _write_outputs({"change": {"a": float("nan"), "b": [1.5, float("inf")]}, "c": 2.0}, {"--json": check("--json", out)})
    document = json.loads(out.read_text(), parse_constant=lambda name: pytest.fail(f"{name} in the JSON"))
    assert document["change"] == {"a": None, "b": [1.5, None]} and document["c"] == 2.0
    assert [(n["path"], n["value"]) for n in document["non_finite"]] == [("change.a", "nan"), ("change.b[1]", "inf")]
    assert all(n["reason"] for n in document["non_finite"])


def test_a_state_that_sells_nothing_has_no_average_price_rather_than_a_crash(market_2025, baseline_2025):
    """All products priced out: shares and unit-weighted averages are undefined (None), not an error."""
    from autopact.outcomes.metrics import metrics

    state = baseline_2025
    empty = type(state)(state.products.assign(units=0.0), state.consumer_surplus, state.stakes, state.solver,
                        state.constraints, state.origin)
    m = metrics(empty, market_2025, market_2025.parameters)
    assert m["average_price_usd"] is None and m["hhi"] is None and m["bev_share"] is None
    assert all(v is None for v in m["units_share_by_nationality"].values())
    assert not any(isinstance(v, float) and not math.isfinite(v) for v in m.values())


def test_the_readme_dask_recipe_keeps_the_scheduler_off_open_networks():
    """Dask moves pickled code: a scheduler or worker anyone can reach runs anyone's code."""
    lines = [line for line in README.read_text().splitlines() if line.strip().startswith(("dask scheduler", "dask worker"))]
    assert lines
    for line in lines:
        assert "0.0.0.0" not in line
        assert "--host 127.0.0.1" in line or "tls" in line, line
    assert "pickle" in README.read_text()


def test_cli_simulate_refuses_a_not_finite_tariff_with_one_line(tmp_path):
    path, out = tmp_path / "bad.yaml", tmp_path / "out.json"
    path.write_text("name: x\nquotas: [{name: q, quantity: .inf, in_quota_pct: 6.1}]\n")
    result = subprocess.run([sys.executable, "-m", "autopact.interfaces.cli", "simulate", str(path), "--json", str(out)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 2 and "quotas.0.quantity" in result.stderr
    assert "Traceback" not in result.stderr and not out.exists()


def test_a_variant_label_that_does_not_print_is_refused_on_one_line():
    """A variant labelled by a newline (found by the scenario fuzz test in a fresh clone) whose entrant
    names the wrong maker: the one-line message writes the label as its escape."""
    from autopact.data.inputs import clipped
    from autopact.policy.scenario import parse_scenario

    assert clipped("a\nb\tc") == "a\\nb\\tc" and clipped("Škoda") == "Škoda"
    with pytest.raises(ScenarioError) as caught:
        parse_scenario({"name": "x", "variants": {"\n": {"entrants": [{"maker": "Chery",
                                                                       "candidate": "byd--seagull--active-30-kwh"}]}}},
                       "fuzz.yaml")
    message = str(caught.value)
    assert "\n" not in message and "variants.\\n" in message and "its maker is BYD" in message
    with pytest.raises(ScenarioError) as caught:  # a mapping's key in the field's path
        parse_scenario({"name": "x", "parameters": {"a\nb": 1.0}}, "fuzz.yaml")
    assert "\n" not in str(caught.value) and "a\\nb" in str(caught.value)
