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
