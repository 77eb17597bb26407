"""The yearly projection (issue 14, part 3): one static equilibrium a year from the year before's prices."""

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
