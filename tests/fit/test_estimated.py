"""Scenarios on estimated parameters: saved results round-trip, changed data are refused, the
estimated market reproduces its data, and the bundled BLP 1995 scenario runs with sound economics."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from autopact.model.demand import individual_shares, shares
from autopact.fit.estimated import estimated_market
from autopact.fit.saved import (
    EstimationFileError,
    build_problem,
    config_inputs,
    example_inputs,
    load_estimation,
    run_estimation,
    save_estimation,
)
from autopact.outcomes.document import result_json
from autopact.simulate import simulate
from autopact.policy.scenario import (
    ScenarioError,
    bundled_scenarios,
    load_scenario,
    parse_scenario,
)
from autopact.model.supply import Taxes, foc_residual, ownership_matrix

SCENARIO = "blp1995-import-tariff"
CONTRACT = ("scenario", "baseline", "counterfactual", "change", "firms", "products", "assumptions", "solver")


@pytest.fixture(scope="module")
def bundled():
    scenario = load_scenario(SCENARIO)
    return scenario, estimated_market(scenario.estimation)


def run(bundled, **fields):
    scenario, market = bundled
    base = scenario.model_dump(exclude={"extra_tariffs"})
    return result_json(simulate(parse_scenario({**base, **fields}, "test"), market))


@pytest.fixture(scope="module")
def small_config(tmp_path_factory):
    """Three BLP markets, RC logit with an income interaction on price: a quick real estimation."""
    folder = tmp_path_factory.mktemp("estimation")
    inputs = example_inputs("blp1995")
    keep = [1988, 1989, 1990]
    inputs.products[inputs.products["market_ids"].isin(keep)].to_csv(folder / "products.csv", index=False)
    agents = pd.read_csv(inputs.files["agents"])
    agents[agents["market_ids"].isin(keep)].to_csv(folder / "agents.csv", index=False)
    (folder / "config.yaml").write_text(
        "products: products.csv\nagents: agents.csv\nx1: '1 + hpwt + air + mpd + space'\nx2: '1 + prices'\n"
        "demographics: '0 + I(1 / income)'\nsigma: [[1.0, 0], [0, 0]]\npi: [[0], [-40.0]]\nmethod: 1s\n"
        "normalise_agent_weights: true\n")
    return folder


def copy_config(small_config, folder):
    """The small config and its data in ``folder`` (a saved result must lie beside or above its data)."""
    folder.mkdir(exist_ok=True)
    for name in ("products.csv", "agents.csv", "config.yaml"):
        (folder / name).write_bytes((small_config / name).read_bytes())
    return folder / "config.yaml"


def test_save_and_load_round_trip_reproduces_the_estimates_exactly(small_config, tmp_path):
    inputs = config_inputs(small_config / "config.yaml")
    result = run_estimation(inputs)
    assert result.converged
    path = small_config / "round-trip.json"
    save_estimation(result, inputs, build_problem(inputs), path)
    saved = load_estimation(str(path))
    assert np.array_equal(saved.parameters.sigma, result.parameters.sigma)
    assert np.array_equal(saved.parameters.pi, result.parameters.pi)
    assert np.array_equal(saved.parameters.sigma_free, result.parameters.sigma_free)
    assert saved.parameters.rho is None
    assert list(saved.beta.values()) == result.beta.tolist()
    assert np.array_equal(np.array(saved.record["covariance"]["matrix"]), result.covariance)
    assert saved.record["objective"] == result.objective and saved.record["converged"] is True
    assert saved.record["settings"]["x2"] == "1 + prices" and saved.record["autopact_version"]
    # the data are found relative to the saved file and verified
    import hashlib

    assert saved.data_sha256["products"] == hashlib.sha256((small_config / "products.csv").read_bytes()).hexdigest()
    pd.testing.assert_frame_equal(saved.inputs.products, inputs.products)


def test_a_scenario_runs_on_a_saved_result_named_by_path(small_config, tmp_path):
    inputs = config_inputs(copy_config(small_config, tmp_path))
    save_estimation(run_estimation(inputs), inputs, build_problem(inputs), tmp_path / "result.json")
    (tmp_path / "what-if.yaml").write_text(
        "name: what-if\nestimation:\n  result: result.json\n  market: 1989\n"
        "  market_size: {households: 1000000, source: test}\n  origin_column: region\n  origins:\n"
        "    US: {assembly: {United States: 1}, nationality: US, source: test}\n"
        "    JP: {assembly: {Japan: 1}, nationality: Japan, source: test}\n"
        "    EU: {assembly: {Europe: 1}, nationality: Europe, source: test}\n"
        "extra_tariffs: [{name: t, nationality: [Japan], ad_valorem_pct: 10}]\n")
    scenario = load_scenario(str(tmp_path / "what-if.yaml"))  # the relative path resolves beside the YAML
    assert Path(scenario.estimation.result) == tmp_path / "result.json"
    r = result_json(simulate(scenario))
    assert r["solver"]["converged"] and r["market"]["market_id"] == "1989"
    observed = inputs.products.query("market_ids == 1989")["shares"].to_numpy()
    np.testing.assert_allclose([p["units_baseline"] for p in r["products"]], 1e6 * observed, rtol=1e-10)
    japan = [p for p in r["products"] if p["nationality"] == "Japan"]
    assert all(p["units"] < p["units_baseline"] for p in japan) and r["change"]["tariff_revenue_usd"] > 0


def test_a_changed_data_file_is_refused(small_config, tmp_path):
    inputs = config_inputs(small_config / "config.yaml")
    result = run_estimation(inputs)
    data = tmp_path / "data"
    inputs = config_inputs(copy_config(small_config, data))
    save_estimation(result, inputs, build_problem(inputs), tmp_path / "result.json")
    load_estimation(str(tmp_path / "result.json"))  # unchanged: loads
    products = pd.read_csv(data / "products.csv")
    products.loc[0, "prices"] *= 1.01
    products.to_csv(data / "products.csv", index=False)
    with pytest.raises(EstimationFileError, match="products data file .* changed since the estimation was saved"):
        load_estimation(str(tmp_path / "result.json"))
    (data / "products.csv").write_bytes((small_config / "products.csv").read_bytes())  # restored exactly
    load_estimation(str(tmp_path / "result.json"))
    (data / "agents.csv").unlink()
    with pytest.raises(EstimationFileError, match="agents data file .* is missing"):
        load_estimation(str(tmp_path / "result.json"))


def test_cli_estimate_saves_a_result(small_config):
    out = small_config / "cli-result.json"
    done = subprocess.run([sys.executable, "-m", "autopact.interfaces.cli", "estimate", str(small_config / "config.yaml"),
                           "--save", str(out), "--json"], capture_output=True, text=True, check=False, timeout=600)
    assert done.returncode == 0, done.stderr
    record = json.loads(out.read_text())
    assert record["converged"] and set(record["estimates"]) >= {"sigma", "pi", "rho", "beta", "gamma"}
    assert record["nonlinear"] == json.loads(done.stdout)["nonlinear"]
    # the same fit in this process: a check of the CLI's plumbing (PyBLP is the oracle in
    # tests/fit/test_estimation.py::test_cli_estimate_from_a_config_file)
    in_process = run_estimation(config_inputs(small_config / "config.yaml"))
    saved = [v["estimate"] for v in record["nonlinear"].values()]
    np.testing.assert_allclose(saved, in_process.theta, rtol=1e-6)


def test_bundled_estimate_is_made_from_the_vendored_data_and_agrees_with_pyblp():
    saved = load_estimation("blp1995")
    inputs = example_inputs("blp1995")
    assert saved.record["converged"] and saved.record["data"]["bundled"] == "blp1995"
    assert all(Path(p).parent.name == "blp1995" for p in inputs.files.values())
    import pyblp
    pd.testing.assert_frame_equal(pd.read_csv(inputs.files["products"]), pd.read_csv(pyblp.data.BLP_PRODUCTS_LOCATION))
    pd.testing.assert_frame_equal(pd.read_csv(inputs.files["agents"]), pd.read_csv(pyblp.data.BLP_AGENTS_LOCATION))
    fixture = json.loads((Path(__file__).parents[1] / "fixtures" / "pyblp_blp1995_supply.json").read_text())
    nonlinear, linear = saved.record["nonlinear"].values(), saved.record["linear"].values()
    # measured: theta 2.4e-7, objective 9.5e-8, theta SE 4.9e-7, beta and gamma 8.5e-7, their SEs 7.0e-7
    np.testing.assert_allclose([v["estimate"] for v in nonlinear], fixture["theta"], rtol=2e-6, atol=1e-8)
    assert saved.record["objective"] == pytest.approx(fixture["objective"], rel=1e-6)
    np.testing.assert_allclose([v["se"] for v in nonlinear], fixture["theta_se"], rtol=5e-6)
    np.testing.assert_allclose([v["estimate"] for v in linear], fixture["beta"] + fixture["gamma"], rtol=1e-5)
    np.testing.assert_allclose([v["se"] for v in linear], fixture["beta_se"] + fixture["gamma_se"], rtol=1e-5)


def test_estimated_market_reproduces_observed_shares_and_foc_costs(bundled):
    scenario, market = bundled
    saved = market.estimation
    data = saved.inputs.products.query("market_ids == 1990")
    observed_shares, prices = data["shares"].to_numpy(), data["prices"].to_numpy()
    np.testing.assert_array_equal(market.initial_prices, prices)  # the baseline starts at the observed prices
    delta = market.xi - market.demand.alpha * prices
    # share inversion: the model's shares at the recovered delta are the observed ones
    assert np.max(np.abs(shares(delta, prices, market.demand) / observed_shares - 1)) < 1e-10
    # alpha_i from the record and the agents directly: -pi_prices / income_i
    agents = saved.inputs.agents[saved.inputs.agents["market_ids"] == 1990]
    alpha_i = -saved.record["nonlinear"]["pi[prices, I(1 / income)]"]["estimate"] / agents["income"].to_numpy()
    np.testing.assert_allclose(market.demand.price_sensitivity, alpha_i, rtol=1e-12)
    # marginal costs: BLP's markup formula, with the Jacobian summed by hand
    s_i = individual_shares(delta, prices, market.demand)[0]
    w = market.demand.weights * alpha_i
    jac = -(np.diag(w @ s_i) - (w[:, None] * s_i).T @ s_i)
    omega = ownership_matrix(market.owners)
    markups = -np.linalg.solve(omega * jac.T, observed_shares)
    np.testing.assert_allclose(market.costs, prices - markups, rtol=1e-9)
    residual = foc_residual(prices, market.costs, market.xi, market.demand, omega, Taxes.none(len(prices)))
    assert np.max(np.abs(residual)) < 1e-10
    # the baseline solves to the observed prices and units = households x observed shares
    r = run(bundled)
    units = np.array([p["units_baseline"] for p in r["products"]])
    np.testing.assert_allclose(units, scenario.estimation.market_size.households * observed_shares, rtol=1e-10)
    np.testing.assert_allclose([p["price_baseline"] for p in r["products"]], prices, rtol=1e-12)
    assert r["baseline"]["total_units"] == pytest.approx(93_347_000 * observed_shares.sum(), rel=1e-10)


def test_bundled_scenario_runs_converges_and_its_economics_hold(bundled):
    assert SCENARIO in bundled_scenarios()
    r = result_json(simulate(*bundled))
    assert set(r) >= set(CONTRACT) and r["solver"]["converged"] and r["solver"]["max_foc_residual"] < 1e-10
    assert "1983" in r["market"]["money"]["unit"] and r["market"]["baseline_label"] == "1990 baseline"
    products = pd.DataFrame(r["products"])
    imports, domestic = products["origin"].isin(["JP", "EU"]), products["origin"].eq("US")
    assert imports.sum() > 0 and domestic.sum() > 0
    assert (products.loc[imports, "price"] > products.loc[imports, "price_baseline"]).all()
    assert (products.loc[imports, "units"] < products.loc[imports, "units_baseline"]).all()
    assert (products.loc[domestic, "units"] > products.loc[domestic, "units_baseline"]).all()
    assert (products.loc[domestic, "tariff_revenue"] == 0).all()
    d = r["change"]
    assert d["consumer_surplus_usd"] < 0 and d["tariff_revenue_usd"] > 0 and d["total_units"] < 0
    assert d["units_share_by_nationality"]["US"] > 0 and d["units_share_by_nationality"]["Japan"] < 0
    assert r["baseline"]["bev_share"] is None and r["baseline"]["us_assembly_jobs"] is None
    names = {a["name"] for a in r["assumptions"]}
    assert {"market_size_households", "money", "origin region=JP", "estimation"} <= names
    assert "HH-2" in next(a["source"] for a in r["assumptions"] if a["name"] == "market_size_households")


def test_zero_extra_tariff_leaves_the_baseline_unchanged(bundled):
    r = run(bundled, extra_tariffs=[{"name": "none", "origin": ["Japan"], "ad_valorem_pct": 0}])
    prices = np.array([p["price"] for p in r["products"]])
    before = np.array([p["price_baseline"] for p in r["products"]])
    assert np.max(np.abs(prices / before - 1)) < 1e-8
    assert abs(r["change"]["total_units"]) < 1e-6 * r["baseline"]["total_units"]
    assert abs(r["change"]["consumer_surplus_usd"]) < 1e-8 * abs(r["baseline"]["consumer_surplus_usd"])


def test_synergies_and_mergers_on_the_estimated_market(bundled):
    r = run(bundled, synergies=[{"firm": "firm 3", "change_pct": -10, "reason": "test"}])
    firm = pd.DataFrame(r["products"]).query("owner == 'firm 3'")
    assert (firm["price"] < firm["price_baseline"]).all() and (firm["units"] > firm["units_baseline"]).all()
    merged = pd.DataFrame(run(bundled, mergers=[{"name": "m", "firms": ["firm 18", "firm 19"]}])["products"])
    inside = merged["owner"].isin(["firm 18", "firm 19"])
    assert (merged.loc[inside, "price"] > merged.loc[inside, "price_baseline"]).all()
    partial = pd.DataFrame(run(bundled, mergers=[{"name": "m", "firms": ["firm 18", "firm 19"],
                                                  "profit_weight": 0.3}])["products"])
    assert (partial.loc[inside, "price"] < merged.loc[inside, "price"]).all()
    assert (partial.loc[inside, "price"] > partial.loc[inside, "price_baseline"]).all()


ESTIMATION = load_scenario(SCENARIO).model_dump(mode="json")["estimation"]


@pytest.mark.parametrize("fields, expected", [
    ({"entrants": [{"candidate": "byd--dolphin--active-44-9-kwh", "maker": "BYD"}]}, "entrants: needs the 2025 market"),
    ({"quotas": [{"name": "q", "quantity": 10, "in_quota_pct": 2}]}, "quotas: needs the 2025 market"),
    ({"parameters": {"mfn_passenger_pct": 5}}, "parameters: needs the 2025 market"),
    ({"connected_vehicle_rule": {"enabled": True}}, "connected_vehicle_rule: needs the 2025 market"),
    ({"new_products": [{"name": "A", "firm": "Ford Motor Co.", "segment": "car", "powertrain": "BEV", "like": "x",
                        "announced_price_usd": 1, "price_source": "s"}]}, "new_products: needs the 2025 market"),
    ({"year": 2024}, "year: needs the 2025 market"),
    ({"extra_tariffs": [{"name": "t", "powertrain": ["BEV"], "ad_valorem_pct": 5}]}, r"extra_tariffs\[0\].powertrain"),
    ({"extra_tariffs": [{"name": "t", "origin": ["Korea"], "ad_valorem_pct": 5}]},
     r"extra_tariffs\[0\].origin: unknown country 'Korea'"),
    ({"extra_tariffs": [{"name": "t", "nationality": ["Korea"], "ad_valorem_pct": 5}]},
     r"extra_tariffs\[0\].nationality: unknown nationality 'Korea'"),
    ({"synergies": [{"firm": "firm 99", "change_pct": -5, "reason": "r"}]}, r"synergies\[0\].firm: unknown firm 'firm 99'"),
    ({"mergers": [{"name": "m", "firms": ["firm 18", "Acme"]}]}, r"mergers\[0\].firms: unknown firm 'Acme'"),
    ({"mergers": [{"name": "m", "firms": ["firm 18"]}]}, "mergers.0.firms"),
    ({"estimation": {**ESTIMATION, "market": 1899}}, "estimation.market: no market 1899"),
    ({"estimation": {**ESTIMATION, "result": "nope"}}, "no bundled estimation or file named 'nope'"),
    ({"estimation": {**ESTIMATION, "market_size": {"households": -1, "source": "s"}}},
     "estimation.market_size.households"),
    ({"estimation": {**ESTIMATION, "origins": {**ESTIMATION["origins"], "JP": {
        "assembly": {"Japan": 0.5}, "nationality": "Japan", "source": "s"}}}}, "estimation.origins.JP.assembly"),
    ({"estimation": {**ESTIMATION, "origins": {"US": ESTIMATION["origins"]["US"]}}},
     r"estimation.origins: no mapping for region value\(s\) \['EU', 'JP'\]"),
    ({"estimation": {**ESTIMATION, "origin_column": None, "origins": {}},
      "extra_tariffs": [{"name": "t", "ad_valorem_pct": 5}]}, r"extra_tariffs\[0\]: a tariff falls on imports"),
    ({"estimation": {**ESTIMATION, "bogus": 1}}, "estimation.bogus: unknown field"),
    ({"variants": {"v": {"estimation": ESTIMATION}}}, "variants.v.estimation"),
])
def test_bad_estimated_scenarios_are_refused_with_the_field_named(bundled, fields, expected):
    from autopact.fit.saved import EstimationFileError

    base = load_scenario(SCENARIO).model_dump(mode="json", exclude={"extra_tariffs"})
    with pytest.raises((ScenarioError, EstimationFileError), match=expected):
        scenario = parse_scenario({**base, **fields}, "bad.yaml")
        if scenario.estimation == bundled[0].estimation:
            simulate(scenario, bundled[1])
        else:
            simulate(scenario)


def test_cli_simulates_the_estimated_scenario_with_json_and_report(tmp_path):
    out, page = tmp_path / "r.json", tmp_path / "r.html"
    done = subprocess.run([sys.executable, "-m", "autopact.interfaces.cli", "simulate", SCENARIO, "--json", str(out),
                           "--report", str(page)], capture_output=True, text=True, check=False, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "1990 baseline" in done.stdout and "1983 dollars" in done.stdout and "BEV share" not in done.stdout
    r = json.loads(out.read_text())
    assert set(r) >= set(CONTRACT) and r["market"]["kind"] == "estimated"
    html = page.read_text()
    for section in ("Headline numbers", "1990 baseline", "thousands of 1983 US dollars", "Assumptions and sources",
                    "Solver diagnostics", "Welfare", "HH-2", "not shown"):
        assert section in html, section
    assert "Global BEV sales by quarter" not in html and html.count("Plotly.newPlot") >= 3
    assert "Back-tests" not in html  # they describe the calibrated 2025 US market, not this one
    listed = subprocess.run([sys.executable, "-m", "autopact.interfaces.cli", "scenarios"], capture_output=True, text=True, check=False, timeout=600)
    assert SCENARIO in listed.stdout


def test_cli_bad_estimated_scenario_exits_2_naming_the_field(tmp_path):
    path, out = tmp_path / "bad.yaml", tmp_path / "out.json"
    path.write_text("name: x\nestimation: {result: blp1995, market: 1990, market_size: {households: 1, source: s}}\n"
                    "entrants: [{candidate: byd--dolphin--active-44-9-kwh, maker: BYD}]\n")
    done = subprocess.run([sys.executable, "-m", "autopact.interfaces.cli", "simulate", str(path), "--json", str(out)],
                          capture_output=True, text=True, check=False, timeout=600)
    assert done.returncode == 2 and "entrants: needs the 2025 market" in done.stderr
    assert "Traceback" not in done.stderr and not out.exists()


def test_a_standard_error_with_a_negative_variance_is_nan_and_named_not_a_numpy_warning(small_config):
    """Three markets leave the sandwich covariance not positive definite: numpy warned 'invalid value
    in sqrt' and the NaN went out unexplained. Now each such parameter is named in ``details``, and its
    standard error is NaN exactly where its variance (the covariance's diagonal) is negative."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        result = run_estimation(config_inputs(small_config / "config.yaml"))
    variance = np.diag(result.covariance)
    se = np.concatenate([result.theta_se, result.beta_se])
    assert np.array_equal(np.isnan(se), variance < 0) and (variance < 0).any()
    named = result.details["standard_errors"]
    for label, negative in zip(result.labels + result.beta_labels, variance < 0):
        assert (label in named) is bool(negative), label
    assert result.to_dict()["standard_errors_note"] == named  # in --json, and printed under the console's table
