"""The yearly projection (issue 14, part 3): one static equilibrium a year from the year before's prices."""

import numpy as np
import pytest

from autopact.policy.scenario import load_scenario
from autopact.runs.projection import project


def test_a_projection_with_no_change_in_any_path_is_the_first_year_repeated():
    document = project(load_scenario("ford-byd-jv"), 2028, 2026, frozen=True)
    first, *later = document["records"]
    assert [r["year"] for r in document["records"]] == [2026, 2027, 2028]
    for record in later:
        assert record["policy_year"] == 2026
        for side in ("baseline", "counterfactual"):
            for key in ("total_units", "average_price_usd", "bev_share", "tariff_revenue_usd", "total_profit_usd"):
                assert record[side][key] == pytest.approx(first[side][key], rel=1e-8), (record["year"], side, key)


def test_the_law_of_each_year_applies_a_50_50_joint_venture_is_barred_from_model_year_2027():
    document = project(load_scenario("ford-byd-jv"), 2027, 2026)
    y2026, y2027 = document["records"]
    assert not y2026["excluded"] and y2026["change"]["total_units"] > 0
    # the connected-vehicle rule (software ban from model year 2027) bars a JV whose Chinese profit share
    # reaches the policy parameter connected_vehicle_threshold (0.5)
    assert len(y2027["excluded"]) == 3 and all("connected-vehicle rule" in e for e in y2027["excluded"])
    assert y2027["change"]["total_units"] == pytest.approx(0, abs=1e-3)


def test_a_projection_outside_the_horizon_is_refused():
    with pytest.raises(ValueError, match="from/--to"):
        project(load_scenario("ford-byd-jv"), 2040)


def test_totals_add_up_the_years_and_discount_them_to_the_first():
    from autopact.runs.projection import totals

    records = [{"year": 2026 + k, "change": {"consumer_surplus_usd": 100.0, "total_profit_usd": 0.0,
                                             "tariff_revenue_usd": -10.0, "total_units": 1.0, "us_assembled_units": 0.0,
                                             "us_assembly_jobs": None}} for k in range(3)]
    t = totals(records, 0.03)
    assert t["cumulative"]["consumer_surplus_usd"] == pytest.approx(300)
    assert t["discounted"]["consumer_surplus_usd"] == pytest.approx(100 * (1 + 1 / 1.03 + 1 / 1.03 ** 2))
    assert "us_assembly_jobs" not in t["cumulative"]  # not defined in a year: no total
    with pytest.raises(ValueError, match="discount"):
        totals(records, -0.01)


def test_a_path_drawn_low_or_high_moves_the_baseline_bev_share_the_right_way():
    from autopact.runs.projection import _draw

    definition = load_scenario("baseline-2026").model_dump(mode="json")
    cheap = _draw(definition, 2030, 2030, {"battery_pack_usd_per_kwh": 0.0})
    dear = _draw(definition, 2030, 2030, {"battery_pack_usd_per_kwh": 1.0})
    assert cheap[0]["baseline_bev_share"] > dear[0]["baseline_bev_share"]  # $56 against $80 a kWh in 2030


def test_projection_draws_take_the_scenarios_policy_parameters_and_list_the_inputs_left_out(monkeypatch):
    """A projection's bands draw the scenario's uncertain policy parameters (here the launch appeal)
    next to the paths; a calibration target is left out and listed (it would re-calibrate every year)."""
    from autopact.runs import projection

    seen = []
    row = {"year": 2026, **{key: 0.0 for key in projection.BAND_METRICS}, "baseline_bev_share": 0.05}
    monkeypatch.setattr(projection, "_draw", lambda definition, to, start, q, p=None: seen.append((q, p)) or [row])
    scenario = load_scenario("ford-byd-jv")
    found = projection.path_bands(scenario, 2026, 2026, draws=3, seed=5, serial=True)
    assert found["inputs"] == [i.key for i in scenario.uncertainty.inputs if i.parameter]
    assert "parameter:launch_appeal_quantile" in found["inputs"]
    assert found["inputs_left_out"] == ["target:own_elasticity_nissan_sentra", "target:own_elasticity_lexus_ls",
                                       "target:own_elasticity_bmw_7_series"]
    u = np.random.default_rng([5, 1]).uniform(0.0, 1.0, (3, len(found["inputs"])))
    k = found["inputs"].index("parameter:launch_appeal_quantile")
    assert [p["launch_appeal_quantile"] for _, p in seen] == pytest.approx(u[:, k], rel=1e-12)  # uniform on (0, 1)
    paths_only = projection.path_bands(scenario.model_copy(update={"uncertainty": None}), 2026, 2026, 3, 5, True)
    assert paths_only["inputs"] == [] and [q for q, _ in seen[3:]] == [q for q, _ in seen[:3]]  # same paths a seed


def test_a_projection_draw_applies_its_drawn_parameters():
    from autopact.runs.projection import _draw

    definition = load_scenario("chinese-imports-mfn").model_dump(mode="json")
    central = _draw(definition, 2026, 2026, {}, None)[0]
    high = _draw(definition, 2026, 2026, {}, {"launch_appeal_quantile": 0.9})[0]
    assert high["total_units"] > central["total_units"] and high["bev_share"] > central["bev_share"]
