"""Policy scenarios: the baseline reproduces itself, theory's signs hold, bad scenarios are refused."""

import json
import subprocess
import sys

import numpy as np
import pytest

from autopact.data import load_market
from autopact.fit.calibration import calibrate
from autopact.fit.stored_calibration import calibrated_market
from autopact.fit.market import calibrated_model
from autopact.outcomes.document import result_json
from autopact.policy.scenario import ScenarioError, load_scenario, parse_scenario
from autopact.simulate import simulate

CONTRACT = ("total_units", "average_price_usd", "bev_share", "consumer_surplus_usd", "total_profit_usd",
            "tariff_revenue_usd", "us_assembled_units", "us_assembly_jobs", "hhi", "units_share_by_nationality")
DOLPHIN = "byd--dolphin--active-44-9-kwh"


@pytest.fixture(scope="module")
def context():
    market = load_market(2025)
    return calibrated_model(market, calibrated_market(market))


def run(context, **fields):
    return result_json(simulate(parse_scenario({"name": "test", **fields}, "test"), context))


def test_baseline_reproduces_the_baseline_and_honours_the_contract(context):
    r = run(context)
    assert set(r) >= {"scenario", "baseline", "counterfactual", "change", "firms", "products", "assumptions", "solver"}
    for block in ("baseline", "counterfactual", "change"):
        assert set(r[block]) >= set(CONTRACT)
    assert r["solver"]["converged"] and r["solver"]["max_foc_residual"] < 1e-10
    assert abs(r["change"]["total_units"]) < 1e-6 * r["baseline"]["total_units"]
    assert abs(r["change"]["average_price_usd"]) < 1e-6
    assert abs(r["change"]["consumer_surplus_usd"]) < 1e-8 * abs(r["baseline"]["consumer_surplus_usd"])
    firm = r["firms"][0]
    assert set(firm) >= {"firm", "nationality", "units_baseline", "units_counterfactual", "profit_baseline_usd",
                         "profit_counterfactual_usd"}
    assert r["baseline"]["total_units"] == pytest.approx(context.data.units.sum(), rel=1e-9)


def test_a_higher_tariff_on_a_group_lowers_its_units(context):
    rule = {"name": "japan", "origin": ["Japan"], "ad_valorem_pct": 20}
    r = run(context, extra_tariffs=[rule])
    products = {p["product_id"]: p for p in r["products"]}
    market = context.data.products.set_index("product_id")
    japan_only = [pid for pid, countries in market["assembly_countries"].items() if countries == "Japan"]
    assert japan_only
    for pid in japan_only:
        assert products[pid]["units"] < products[pid]["units_baseline"]
    assert r["change"]["tariff_revenue_usd"] > 0 and r["change"]["consumer_surplus_usd"] < 0


@pytest.fixture(scope="module")
def logit_context():
    market = load_market(2025)
    return calibrated_model(market, calibrate(market, draws=5, fixed={"alpha": 1e-4, "pi": 0.0, "sigma_bev": 0.0,
                                                     "sigma_size": 0.0, "rho": 0.0}))


def test_the_equilibrium_search_starts_at_todays_prices(context):
    """``levers.fixed_point_start``: incumbents at their prices before the scenario (the observed 2025
    prices), a product new to the market at its cost (NaN, which the solver reads as cost), a named
    start where given."""
    from autopact.policy.levers import apply

    scenario = parse_scenario({"name": "t", "entrants": [{"candidate": DOLPHIN, "maker": "BYD", "assembly": "import"}]},
                              "test")
    moved = apply(scenario, context)
    entrant = moved.products["entrant"].to_numpy(bool)
    assert entrant.sum() == 1 and np.isnan(moved.initial_prices[entrant]).all()
    observed = dict(zip(context.products["product_id"], context.calibration.arrays.prices))
    assert [observed[pid] for pid in moved.products.loc[~entrant, "product_id"]] == list(moved.initial_prices[~entrant])
    first = moved.products["product_id"].iloc[0]
    named = apply(scenario, context, initial_prices={first: 12_345.0})
    assert named.initial_prices[0] == 12_345.0 and np.array_equal(named.initial_prices[1:], moved.initial_prices[1:],
                                                                  equal_nan=True)


def test_entry_raises_consumer_surplus_and_lowers_rivals_profits(context, logit_context):
    """Under logit every rival loses (prices are strategic complements and entry lowers each
    rival's demand). With income-dependent price sensitivity an entrant can take a rival's most
    price-sensitive buyers and let it raise prices, so there the rivals' units must fall (a product
    added at given prices lowers every household's other shares, and rivals' prices do not fall on
    the whole) while their profit may not: on the eighth session's calibration a US-built Dolphin
    raises rivals' total profit by 0.003% (+$5.7 million of $226 billion), their prices rising more
    than their units fall, the mechanism of ``autopact validate``'s price signs."""
    entrants = [{"candidate": DOLPHIN, "maker": "BYD", "assembly": "own_us_plant"}]
    logit = run(logit_context, entrants=entrants)
    assert logit["change"]["consumer_surplus_usd"] > 0
    for firm in logit["firms"]:
        if firm["firm"] != "BYD":
            assert firm["profit_counterfactual_usd"] < firm["profit_baseline_usd"], firm["firm"]
    rc = run(context, entrants=entrants)
    assert rc["change"]["consumer_surplus_usd"] > 0
    products = [p for p in rc["products"] if p["owner"] != "BYD"]
    assert sum(p["units"] for p in products) < sum(p["units_baseline"] for p in products)
    rivals = [f for f in rc["firms"] if f["firm"] != "BYD"]
    change = sum(f["profit_counterfactual_usd"] - f["profit_baseline_usd"] for f in rivals)
    assert abs(change) < 1e-4 * sum(f["profit_baseline_usd"] for f in rivals)  # measured +2.5e-5


@pytest.mark.parametrize("text, expected", [
    ("name: x\nbogus: 1\n", "bogus: unknown field"),
    ("name: x\nextra_tariffs: [{name: t, ad_valorem_pct: -5}]\n", "extra_tariffs.0.ad_valorem_pct"),
    ("name: x\nquotas: [{name: q, quantity: -1, in_quota_pct: 2}]\n", "quotas.0.quantity"),
    ("name: x\nentrants: [{candidate: byd--dolphin--active-44-9-kwh, maker: BYD, partner: Ford Motor Co., "
     "profit_shares: {BYD: 0.6, Ford Motor Co.: 0.6}}]\n", "profit_shares must sum to 1"),
    ("name: x\nparameters: {warp_speed: 3}\n", "unknown parameter 'warp_speed'"),
])
def test_bad_scenarios_are_refused_with_the_field_named(tmp_path, text, expected):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ScenarioError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        load_scenario(str(path))


@pytest.mark.parametrize("text, expected", [
    ("name: x\nentrants: [{candidate: nope--model, maker: BYD}]\n", "unknown candidate 'nope--model'"),
    ("name: x\nentrants: [{candidate: byd--dolphin--active-44-9-kwh, maker: BYD, assembly: partner_us_plant, "
     "partner: Acme Motors}]\n", "unknown firm 'Acme Motors'"),
])
def test_cli_bad_scenario_exits_2_and_writes_nothing(tmp_path, text, expected):
    path, out = tmp_path / "bad.yaml", tmp_path / "out.json"
    path.write_text(text)
    result = subprocess.run([sys.executable, "-m", "autopact.interfaces.cli", "simulate", str(path), "--json", str(out)],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 2 and expected in result.stderr
    assert "Traceback" not in result.stderr and not out.exists()
    assert len([line for line in result.stderr.strip().splitlines() if line.startswith("error")]) == 1


def test_cli_simulate_writes_the_json_contract(tmp_path):
    out = tmp_path / "r.json"
    result = subprocess.run([sys.executable, "-m", "autopact.interfaces.cli", "simulate", "no-section-232", "--json", str(out)],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    r = json.loads(out.read_text())
    assert r["change"]["tariff_revenue_usd"] < 0 and r["change"]["total_units"] > 0
    assert np.isfinite(r["change"]["consumer_surplus_usd"])


def test_html_report_is_self_contained_and_complete(context, tmp_path):
    from autopact.interfaces.report import html_report
    r = run(context, entrants=[{"candidate": DOLPHIN, "maker": "BYD", "assembly": "partner_us_plant",
                                "partner": "Ford Motor Co.", "dealers": "partner",
                                "profit_shares": {"BYD": 0.5, "Ford Motor Co.": 0.5}}])
    page = html_report(r)
    for section in ("Headline numbers", "Share of units by nationality", "Welfare", "Assumptions and sources",
                    "Solver diagnostics", "Entrants' marginal cost", "Global BEV sales by quarter",
                    "Back-tests: the model against what happened", "Muehlegger and Rapson -2.1", "EV credit ends"):
        assert section in page
    import re
    assert not re.search(r"<script[^>]*\bsrc\s*=", page)  # plotly.js is inline, nothing is fetched
    assert not re.search(r"<link[^>]*\bhref\s*=\s*[\"']https?:", page)
    assert page.count("Plotly.newPlot") >= 6


def test_review_fixes_tariffs_fall_on_imports_only_and_on_entrants_too(context):
    bev_tax = run(context, extra_tariffs=[{"name": "bev", "powertrain": ["BEV"], "ad_valorem_pct": 50}])
    model_y = next(p for p in bev_tax["products"] if p["product_id"] == "tesla--model-y--bev")
    assert model_y["tariff_rate"] == 0 and model_y["tariff_revenue"] == 0  # US-built
    per_vehicle = run(context, extra_tariffs=[{"name": "cn", "origin": ["China"], "specific_usd": 10_000}],
                      entrants=[{"candidate": DOLPHIN, "maker": "BYD", "assembly": "import"}])
    plain = run(context, entrants=[{"candidate": DOLPHIN, "maker": "BYD", "assembly": "import"}])
    cost = lambda r: next(p["cost"] for p in r["products"] if p["entrant"])  # noqa: E731
    assert cost(per_vehicle) == pytest.approx(cost(plain) + 10_000)


def test_review_fixes_validation(context, tmp_path):
    for text, expected in [
        ("name: x\nparameters: {mfn_passenger_pct: .nan}\n", "finite"),
        ("name: x\nparameters: {home_margin_share: 2}\n", "must not exceed 1"),
        ("name: x\nparameters: {fx_cny_per_usd: 0}\n", "must be positive"),
        ("name: x\nvariants: {v: {assumptions: {price_level: msrp}}}\n", "variants.v.assumptions"),
        ("name: x\nentrants: [{candidate: " + DOLPHIN + ", maker: BYD}, {candidate: " + DOLPHIN + ", maker: BYD}]\n",
         "enters twice"),
    ]:
        path = tmp_path / "bad.yaml"
        path.write_text(text)
        with pytest.raises(ScenarioError, match=expected):
            load_scenario(str(path))
    with pytest.raises(ScenarioError, match="unknown country 'china'"):
        run(context, extra_tariffs=[{"name": "t", "origin": ["china"], "ad_valorem_pct": 5}])


def test_review_fixes_two_new_products_solve_their_costs_jointly(context):
    r = run(context, new_products=[
        {"name": "A", "firm": "Ford Motor Co.", "segment": "pickup", "powertrain": "BEV", "like": "ford--ranger--ice",
         "announced_price_usd": 30000, "price_source": "test"},
        {"name": "B", "firm": "Ford Motor Co.", "segment": "pickup", "powertrain": "BEV", "like": "ford--maverick--ice",
         "announced_price_usd": 32000, "price_source": "test"}])
    new = [p for p in r["products"] if p["entrant"]]
    assert len(new) == 2 and all(p["cost"] > 0 for p in new)
    assert r["solver"]["max_foc_residual"] < 1e-10
    alone = run(context, new_products=[
        {"name": "A", "firm": "Ford Motor Co.", "segment": "pickup", "powertrain": "BEV", "like": "ford--ranger--ice",
         "announced_price_usd": 30000, "price_source": "test"}])
    a_alone = next(p for p in alone["products"] if p["entrant"])["cost"]
    assert abs(a_alone - new[0]["cost"]) > 1.0  # the sibling's markup enters A's FOC: costs are solved jointly
    with pytest.raises(ScenarioError, match="price is too low"):
        run(context, new_products=[{"name": "C", "firm": "Ford Motor Co.", "segment": "pickup", "powertrain": "BEV",
                                    "like": "ford--ranger--ice", "announced_price_usd": 3000, "price_source": "test"}])


def test_a_merger_raises_the_merged_firms_prices(context):
    r = run(context, mergers=[{"name": "GM-Ford", "firms": ["General Motors", "Ford Motor Co."]}])
    merged = [p for p in r["products"] if p["owner"] in ("General Motors", "Ford Motor Co.")]
    assert merged and all(p["price"] > p["price_baseline"] for p in merged)
    assert r["change"]["consumer_surplus_usd"] < 0
    with pytest.raises(ScenarioError, match=r"mergers\[0\].firms: unknown firm 'Acme'"):
        run(context, mergers=[{"name": "m", "firms": ["General Motors", "Acme"]}])
