"""An entrant's mean utility put together by hand (audit U3, issue 11 item 6):

    xi = x' b + brand term + launch term + appeal term + ln(consideration share)

with the brand term the partner's pooled residual (``dealers: partner``) or the young US brands' mean
residual (``dealers: own``; here recomputed from the hedonic residuals), the launch term the mean gap of
the launches of its band and powertrain class (recomputed from ``launch_gaps``), the appeal term
z_q s sqrt(1 + 1/n) of those gaps (scipy's normal quantile) and the consideration share's log.
"""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from autopact.fit.market import NEW_BRAND_MAKES
from autopact.policy.hedonic import Hedonic, _hedonic_design, annual_basis, log_range_reference
from autopact.policy.launch import launch_gaps
from autopact.policy.levers import apply
from autopact.policy.scenario import parse_scenario

DOLPHIN = "byd--dolphin--active-44-9-kwh"  # a BEV car


def _entrant_xi(market, parameters=None, **entrant):
    scenario = {"name": "entry", "entrants": [{"candidate": DOLPHIN, "maker": "BYD", **entrant}],
                **({"parameters": parameters} if parameters else {})}
    cf = apply(parse_scenario(scenario, "test"), market)
    j = int(np.flatnonzero(cf.products["entrant"].to_numpy())[0])
    return float(cf.xi[j]), cf.entrant_costs[0], cf.products.iloc[j]


def _band_gaps(market, band="years 2-5", powertrain_class="BEV"):
    gaps = launch_gaps(market)
    cell = gaps[(gaps["band"] == band) & (gaps["powertrain_class"] == powertrain_class)]["gap"].to_numpy(float)
    assert len(cell) >= 3  # the class's own cell, not the band's pooled fallback
    return cell


def test_an_entrants_mean_utility_is_the_sum_of_its_terms_by_hand(market_2025):
    xi, report, row = _entrant_xi(market_2025, assembly="partner_us_plant", partner="Ford Motor Co.", dealers="partner")
    hedonic = Hedonic.fit(market_2025.products, market_2025.xi, market_2025.data.units)
    characteristics = float(hedonic.predict(pd.DataFrame([row.to_dict()]))[0])
    gaps = _band_gaps(market_2025)  # entrant_years_on_sale 3: years 2-5
    launch = gaps.mean()
    assert report["launch_term"] == pytest.approx(launch, rel=1e-12)
    assert report["appeal_term"] == 0.0  # the central quantile, 0.5
    assert report["consideration_term"] == pytest.approx(np.log(0.61), rel=1e-15)  # Cox, Feb 2026
    assert report["brand_term"] == pytest.approx(hedonic.brand_term("Ford Motor Co.", "BEV"), rel=1e-12)
    assert xi == pytest.approx(characteristics + report["brand_term"] + launch + np.log(0.61), rel=1e-12)


def test_own_dealers_take_the_young_brands_mean_residual_and_partner_dealers_the_partners(market_2025):
    partner, _, _ = _entrant_xi(market_2025, assembly="partner_us_plant", partner="Ford Motor Co.", dealers="partner")
    own, report, _ = _entrant_xi(market_2025, assembly="partner_us_plant", partner="Ford Motor Co.", dealers="own")
    # the young brands' mean residual, from the fit's residuals on a year's basis by hand
    products, units = market_2025.products, market_2025.data.units
    xi, weights = annual_basis(products, market_2025.xi, units)
    design = _hedonic_design(products, log_range_reference(products, weights))
    beta = np.linalg.solve((design * weights[:, None]).T @ design, (design * weights[:, None]).T @ xi)  # WLS normal equations
    residual = xi - design @ beta
    young = products["make"].isin(NEW_BRAND_MAKES).to_numpy() & (weights > 0)
    assert young.sum() >= 3
    new_brand = float(np.average(residual[young], weights=weights[young]))
    assert report["brand_term"] == pytest.approx(new_brand, rel=1e-9)
    hedonic = Hedonic.fit(products, market_2025.xi, units)
    assert partner - own == pytest.approx(hedonic.brand_term("Ford Motor Co.", "BEV") - new_brand, rel=1e-9)


def test_the_appeal_quantile_and_the_consideration_share_move_the_mean_utility_by_their_closed_forms(market_2025):
    base, _, _ = _entrant_xi(market_2025, assembly="import")
    gaps = _band_gaps(market_2025)
    spread = np.std(gaps, ddof=1) * np.sqrt(1.0 + 1.0 / len(gaps))  # prediction interval of a mean
    high, report, _ = _entrant_xi(market_2025, {"launch_appeal_quantile": 0.9}, assembly="import")
    assert report["appeal_term"] == pytest.approx(stats.norm.ppf(0.9) * spread, rel=1e-12)
    assert high - base == pytest.approx(stats.norm.ppf(0.9) * spread, rel=1e-12)
    everyone, report, _ = _entrant_xi(market_2025, {"chinese_brand_consideration_share": 1.0}, assembly="import")
    assert report["consideration_term"] == 0.0 and everyone - base == pytest.approx(-np.log(0.61), rel=1e-12)
    later, report, _ = _entrant_xi(market_2025, assembly="import", years_on_sale=7)
    six_plus = launch_gaps(market_2025)
    six_plus = six_plus[six_plus["band"] == "year 6 and later"]
    cell = six_plus[six_plus["powertrain_class"] == "BEV"]["gap"]
    expected = (cell if len(cell) >= 3 else six_plus["gap"]).mean()  # too few BEVs of year 6+: the band's mean
    assert report["launch_term"] == pytest.approx(expected, rel=1e-12)
    assert later - base == pytest.approx(expected - gaps.mean(), rel=1e-9)
