"""The 2025 Section 232 duty's catch-up against hand computations (``autopact.policy.tariffs``).

Makers absorbed most of the 2025 duty in 2025's prices (policy parameter
``section_232_2025_pass_through_share``, theta); a year whose ``section_232_2025_catch_up_share`` k is
above 0 adds k (1 - theta) tau^232_2025,j v_j to product j's cost, with tau^232_2025,j the 2025
(days-weighted) Section 232 add-on of its origins, computed here by hand from the parameter table
(``hand_tariffs``), and v_j the calibration's customs value. The policy timeline sets k = 1 from 2026.
"""

import numpy as np
import pytest

from hand_tariffs import parameters, stack_pct
from autopact.data.timeline import DATA_YEAR
from autopact.policy.dated import at_year
from autopact.policy.levers import apply
from autopact.policy.scenario import Scenario, parse_scenario

PASS_THROUGH, CATCH_UP = "section_232_2025_pass_through_share", "section_232_2025_catch_up_share"
# named products and their listed assembly countries (products_2025.csv), equal weights
NAMED = {
    "subaru--forester--ice": {"Japan": 1.0},
    "toyota--corolla--ice": {"Japan": 0.5, "United States": 0.5},
    "toyota--tacoma--ice": {"Mexico": 1.0},  # USMCA: Section 232 on non-US content, no MFN
    "volvo--s90--ice": {"China": 1.0},  # the add-on alone: not Section 301 nor IEEPA
    "bmw--i4--bev": {"Germany": 1.0},
    "tesla--model-y--bev": {"United States": 1.0},
}


def _costs(market, **parameters):
    moved = apply(parse_scenario({"name": "catch-up", "parameters": parameters}, "test"), market, path=False)
    return dict(zip(moved.products["product_id"], moved.costs))


@pytest.mark.parametrize("pid", sorted(NAMED))
def test_a_year_adds_the_duty_2025_prices_did_not_carry(market_2025, pid):
    """c_j(k = 1) - c_j(k = 0) = (1 - theta) tau^232_2025,j v_j, tau by hand (measured: exact to 1e-15
    relative); a partial catch-up scales it (k = 0.5 with theta = 0.4: 0.3 of the duty); theta = 1 (2025's
    prices carried all of it) adds nothing."""
    j = int(np.flatnonzero(market_2025.products["product_id"].eq(pid).to_numpy())[0])
    segment, powertrain = market_2025.products.at[j, "segment"], market_2025.products.at[j, "powertrain"]
    rate = sum(w * stack_pct(o, segment, powertrain, section_232_only=True) for o, w in NAMED[pid].items()) / 100
    customs = market_2025.products.at[j, "customs_value"]
    theta = parameters()[PASS_THROUGH]
    assert 0 < theta < 1
    before = _costs(market_2025)[pid]
    assert before == pytest.approx(market_2025.calibration.costs[j], rel=1e-13)  # the data year: no catch-up
    after = _costs(market_2025, **{CATCH_UP: 1.0})[pid]
    assert after - before == pytest.approx((1 - theta) * rate * customs, rel=1e-12, abs=1e-9)
    half = _costs(market_2025, **{CATCH_UP: 0.5, PASS_THROUGH: 0.4})[pid]
    assert half - before == pytest.approx(0.3 * rate * customs, rel=1e-12, abs=1e-9)
    assert _costs(market_2025, **{CATCH_UP: 1.0, PASS_THROUGH: 1.0})[pid] == before
    if pid == "tesla--model-y--bev":
        assert after == before


def test_the_timeline_passes_the_absorbed_duty_on_from_2026(market_2025):
    """The data year holds k = 0 (its own prices); the policy timeline sets k = 1 from 1 Jan 2026, so
    every year after carries the catch-up, and a 2026 baseline's import costs hold it on top of the
    year's own Section 232 rates."""
    assert market_2025.parameters[CATCH_UP] == 0.0
    for year in (2026, 2027, 2030):
        assert at_year(Scenario(name="plain"), year).parameters[CATCH_UP] == 1.0
    assert CATCH_UP not in at_year(Scenario(name="plain"), DATA_YEAR).parameters
