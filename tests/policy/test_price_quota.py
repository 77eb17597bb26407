"""Quotas with a price condition (issue 14): a US version of Canada's quota, whose reserved share is a
sub-quota for EVs with an FOB price under a cap."""

import numpy as np
import pytest

from autopact.policy.dated import at_year
from autopact.policy.scenario import ScenarioError, load_scenario, parse_scenario
from autopact.simulate import market_for, simulate

CAP = 24997


def test_a_price_condition_admits_the_products_under_the_cap_or_above_the_floor():
    quota = parse_scenario({"name": "q", "quotas": [{"name": "r", "quantity": 1, "in_quota_pct": 0,
                                                     "price_cap_usd": CAP}]}, "t").quotas[0]
    assert quota.in_price_band(np.array([11000.0, CAP, CAP + 1])).tolist() == [True, True, False]
    rest = quota.model_copy(update={"price_cap_usd": None, "price_above_usd": CAP})
    assert rest.in_price_band(np.array([11000.0, CAP, CAP + 1])).tolist() == [False, False, True]
    with pytest.raises(ScenarioError, match="price_cap_usd 100 must be above price_above_usd 200"):
        parse_scenario({"name": "q", "quotas": [{"name": "r", "quantity": 1, "in_quota_pct": 0, "price_cap_usd": 100,
                                                 "price_above_usd": 200}]}, "t")


def test_the_us_version_of_canada_s_quota_follows_its_path_and_the_sub_quota_binds_at_its_volume():
    scenario = load_scenario("us-canada-quota")
    volumes = {y: {q.name: round(q.quantity, 1) for q in at_year(scenario, y).quotas} for y in (2026, 2027, 2028, 2031)}
    assert volumes == {2026: {}, 2027: {"chinese-ev-quota": 49000.0},
                       2028: {"chinese-ev-quota-rest": 46966.5, "chinese-ev-quota-reserved": 5218.5},  # 10% of 52,185
                       2031: {"chinese-ev-quota-rest": 31518.4, "chinese-ev-quota-reserved": 31518.4}}  # 50%
    result = simulate(scenario, market_for(scenario))  # in 2029: 23.33% of 55,577 reserved
    constraints = {c["name"]: c for c in result.counterfactual.constraints}
    reserved = constraints["quota: chinese-ev-quota-reserved"]
    assert reserved["binding"] and reserved["units"] == pytest.approx(12968.0, rel=1e-6)
    products = result.counterfactual.products
    value = products["customs_value"].to_numpy(float)
    entrants = products["product_id"].str.startswith("entrant--").to_numpy()
    under = entrants & (value <= CAP)
    assert constraints["chinese-ev-quota-reserved"]["products"] == under.sum() == 3
    assert products["units"].to_numpy()[under].sum() == pytest.approx(12968.0, rel=1e-6)
    # the dearer import (Sealion 7) is in the rest of the quota, not the reserved share
    assert constraints["chinese-ev-quota-rest"]["products"] == (entrants & (value > CAP)).sum() == 1
