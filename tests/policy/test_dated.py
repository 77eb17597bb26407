"""Policy as dated data (issue 14): dated levers, the bundled policy timeline and the 2026 baseline."""

import json
import subprocess
import sys
from datetime import date

import numpy as np
import pytest

from autopact.data.tables import policy_parameters
from autopact.data.tariffs import origin_weights, tariff_stack
from autopact.data.timeline import policy_timeline, timeline_parameters, year_weight
from autopact.data.timeline_check import stack_on
from autopact.policy.dated import at_year, evaluated, is_dated, timeline_credits
from autopact.policy.scenario import bundled_scenarios, load_scenario, parse_scenario
from autopact.simulate import market_for, simulate

LATER = {"extra_tariffs": [{"name": "new tariff", "origin": ["Japan"], "ad_valorem_pct": 50, "effective": "2028-01-01"}],
         "dated_parameters": [{"name": "section_301_china_ev_pct", "value": 0, "effective": "2028-01-01",
                               "source": "test"}],
         "entrants": [{"candidate": "byd--seagull--active-30-kwh", "maker": "BYD", "effective": "2028-01-01"}],
         "connected_vehicle_rule": {"enabled": True, "effective": "2028-01-01"}}


def test_an_undated_scenario_is_evaluated_as_it_is_and_its_json_is_unchanged():
    dated = {"baseline-2026", "ford-byd-jv-us-majority", "geely-volvo-plant", "ford-universal-ev-2027", "us-canada-quota"}
    for name in sorted(set(bundled_scenarios()) - dated):
        scenario = load_scenario(name)
        assert not is_dated(scenario) and evaluated(scenario) is scenario, name
        dumped = json.dumps(scenario.model_dump(mode="json"))
        for key in ("effective", "end", "dated_parameters", "policy_year", "baseline_year", "paths", "repealed",
                    "battery_pack_price_change_usd_per_kwh"):
            assert f'"{key}"' not in dumped, (name, key)


def test_a_lever_dated_from_2028_changes_nothing_before_2028():
    plain = parse_scenario({"name": "none"}, "test")
    dated = parse_scenario({"name": "later", **LATER}, "test")
    for year in (2025, 2026, 2027):
        before, without = at_year(dated, year), at_year(plain, year)
        assert before.model_dump(exclude={"name"}) == without.model_dump(exclude={"name"}), year
    after = at_year(dated, 2028)
    assert after.extra_tariffs[0].ad_valorem_pct == 50 and after.parameters["section_301_china_ev_pct"] == 0
    assert [e.candidate for e in after.entrants] == ["byd--seagull--active-30-kwh"]
    assert after.connected_vehicle_rule.enabled


def test_a_lever_dated_from_2028_leaves_the_2025_equilibrium_exactly(market_2025, baseline_2025):
    result = simulate(parse_scenario({"name": "later", **LATER}, "test"), market_2025, baseline=baseline_2025)
    base, scenario = result.baseline.products, result.counterfactual.products
    assert list(base["product_id"]) == list(scenario["product_id"])
    assert np.allclose(scenario["price"], base["price"], rtol=1e-9, atol=1e-6)


def test_a_dated_rate_counts_by_its_days_and_a_quota_is_prorated():
    scenario = parse_scenario({"name": "mid", "extra_tariffs": [{"name": "t", "ad_valorem_pct": 10, "effective": "2027-07-01"}],
                               "quotas": [{"name": "q", "quantity": 49000, "in_quota_pct": 2.5, "effective": "2027-07-01"}]},
                              "test")
    share = 184 / 365  # 1 July to 31 December 2027
    plain = at_year(scenario, 2027)
    assert plain.extra_tariffs[0].ad_valorem_pct == pytest.approx(10 * share)
    assert plain.quotas[0].quantity == pytest.approx(49000 * share)
    assert year_weight(date(2027, 7, 1), None, 2027, "mid_year") == 1.0


def test_the_2026_stack_differs_from_2025_exactly_by_the_dated_rows(market_2025):
    base = policy_parameters()["value"].astype(float).to_dict()
    p2026 = {**base, **timeline_parameters(2026)}
    changed = sorted(name for name in base if p2026[name] != base[name])
    # the rows dated in 2025-2026: IEEPA (10% to 23 Feb 2026, then struck down), Section 232 by origin and the
    # catch-up of the 2025 duty (a cost, not a rate of the stack: tests/policy/test_tariff_catch_up.py)
    assert changed == ["ieepa_china_pct", "section_232_2025_catch_up_share", "section_232_rate_year"]
    assert p2026["section_232_2025_catch_up_share"] == 1.0
    changed.remove("section_232_2025_catch_up_share")
    assert p2026["ieepa_china_pct"] == pytest.approx(10 * 54 / 365)  # 1 Jan - 23 Feb 2026
    products = market_2025.products
    origin = origin_weights(products["assembly_countries"], products["home_country"], 0.0)
    total = tariff_stack(products, origin, p2026) - tariff_stack(products, origin, base)
    parts = sum(tariff_stack(products, origin, {**base, name: p2026[name]}) - tariff_stack(products, origin, base)
                for name in changed)
    assert np.allclose(total, parts, atol=1e-12)  # each changed layer adds on its own: nothing else moved
    china = origin.get("China", 0) > 0
    ieepa = tariff_stack(products, origin, {**base, "ieepa_china_pct": p2026["ieepa_china_pct"]}) - tariff_stack(products, origin, base)
    assert (ieepa[china] < 0).all() and (ieepa[~china] == 0).all()


def test_the_2026_carry_ends_the_ev_credit_that_the_2025_calibration_holds():
    credits = timeline_credits(2026)
    assert credits[0]["powertrain"] == ["BEV"] and credits[0]["amount_usd"] < 0
    # the back-test's removal: $7,500 x the share of 2025 BEV sales made before 1 Oct 2025 (Cox)
    assert credits[0]["amount_usd"] == pytest.approx(-7500 * (1 - 234171 / 1275714))


def test_every_timeline_row_has_a_source_url_and_the_check_prints_where_the_stack_differs():
    assert all("http" in row["source"] for row in policy_timeline())
    before = stack_on(date(2025, 6, 1))
    assert (before["difference_pct"].abs() < 1e-9).all()
    after = stack_on(date(2026, 3, 1)).set_index(["origin", "powertrain", "vehicle"])
    assert after.at[("China", "BEV", "car"), "timeline_pct"] == pytest.approx(127.5)
    assert after.at[("China", "BEV", "car"), "published_pct"] == pytest.approx(137.5)
    assert "Supreme Court" in after.at[("China", "BEV", "car"), "note"]
    assert (after.drop(index="China", level=0)["difference_pct"].abs() < 1e-9).all()


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "autopact.interfaces.cli", *args], capture_output=True, text=True,
                          timeout=600)


def test_the_json_says_which_baseline_year(tmp_path):
    done = _cli("simulate", "baseline-2026", "--baseline", "2026", "--json", str(tmp_path / "r.json"),
                "--store", str(tmp_path / "s.duckdb"))
    assert done.returncode == 0, done.stderr
    document = json.loads((tmp_path / "r.json").read_text())
    assert document["market"]["baseline_year"] == 2026
    assert document["scenario"]["definition"]["baseline_year"] == 2026
    assert document["change"]["bev_share"] == pytest.approx(0, abs=1e-9)  # the 2026 status quo against itself
    assert 0.04 < document["baseline"]["bev_share"] < 0.07  # no credit: near the observed 5.3-5.8%
    bad = _cli("simulate", "ford-byd-jv", "--baseline", "2040")
    assert bad.returncode == 2 and "policy_year" in bad.stderr and "Traceback" not in bad.stderr


CANADA_PATH = [{"name": "chinese-ev-quota", "origin": "China", "powertrain": ["BEV", "PHEV"], "quantity": 49000,
                "in_quota_pct": 2.5, "effective": "2026-01-01", "end": "2026-12-31"},
               {"name": "chinese-ev-quota", "origin": "China", "powertrain": ["BEV", "PHEV"], "quantity": 52185,
                "in_quota_pct": 2.5, "effective": "2027-01-01"}]
IMPORTS = [{"candidate": c, "maker": m, "assembly": "import"} for c, m in (
    ("byd--seagull--active-30-kwh", "BYD"), ("byd--dolphin--active-44-9-kwh", "BYD"),
    ("byd--sealion-7--comfort-rwd-eu-range", "BYD"), ("geely-galaxy--galaxy-e5--49-52-60-22-kwh", "Geely"))]


def test_a_quota_path_binds_at_the_dated_volumes():
    scenario = parse_scenario({"name": "quota path", "quotas": CANADA_PATH, "entrants": IMPORTS}, "test")
    assert [q.quantity for q in at_year(scenario, 2026).quotas] == [49000]
    assert [q.quantity for q in at_year(scenario, 2027).quotas] == [52185]
    # a row ending mid-year and the next one starting: one quota with the prorated sum
    split = parse_scenario({"name": "split", "quotas": [{**CANADA_PATH[0], "effective": "2026-03-01", "end": "2027-02-28"},
                                                         {**CANADA_PATH[1], "effective": "2027-03-01"}]}, "test")
    assert at_year(split, 2027).quotas[0].quantity == pytest.approx((49000 * 59 + 52185 * 306) / 365)
    repeal = {"connected_vehicle_rule": {"repealed": True}}  # the law bars Chinese makers from model year 2027
    # the path at a fifth of Canada's volumes: the four imports sell under 49,000 in 2026 and 2027 on the eighth
    # session's calibration (BEV taste by income), so Canada's own volumes no longer bind there
    fifth = [{**row, "quantity": row["quantity"] // 5} for row in CANADA_PATH]
    for year, volume in ((2026, 9800), (2027, 10437)):
        dated = parse_scenario({"name": "quota path", "quotas": fifth, "entrants": IMPORTS, "policy_year": year,
                                "baseline_year": year, **repeal}, "test")
        result = simulate(dated, market_for(dated))
        quota = next(c for c in result.counterfactual.constraints if c.get("name") == "quota: chinese-ev-quota")
        assert quota["capacity"] == volume and quota["binding"], (year, quota)
        assert quota["units"] == pytest.approx(volume, rel=1e-6)


def test_an_ownership_threshold_blocks_exactly_the_joint_ventures_above_it():
    from autopact.policy.entry import entrants
    from autopact.policy.hedonic import Hedonic
    jv = [{"candidate": c, "maker": "BYD", "assembly": "partner_us_plant", "partner": "Ford Motor Co.",
           "profit_shares": {"BYD": share, "Ford Motor Co.": 1 - share}, "dealers": "partner"}
          for c, share in (("byd--seagull--active-30-kwh", 0.10), ("byd--dolphin--active-44-9-kwh", 0.30))]
    scenario = parse_scenario({"name": "15% bill", "entrants": jv, "dated_parameters": [
        {"name": "connected_vehicle_threshold", "value": 0.15, "effective": "2028-01-01", "source": "H.R. 9162"}]}, "test")
    market = market_for(parse_scenario({"name": "m"}, "test"))
    hedonic = Hedonic.fit(market.products, market.xi, market.data.units)
    for year, barred in ((2027, []), (2028, ["byd--dolphin--active-44-9-kwh"])):
        plain = at_year(scenario, year)
        params = {**market.parameters, **plain.parameters}
        excluded = entrants(plain, market, params, hedonic).excluded
        assert [e.split(" ")[0] for e in excluded] == barred, year
