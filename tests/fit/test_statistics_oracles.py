"""The calibration statistics of ``autopact.fit.statistics.model_statistics`` against independent numbers.

The model's statistics come from the analytic share Jacobian (``demand.jacobian_parts``); the oracles
here recompute them without it:

- aggregate elasticity, own elasticities and BEV second choices from central finite differences of
  the market shares ``demand.shares`` recomputed at moved prices (mean utilities moved by -alpha dp,
  delta_j = xi_j - alpha p_j);
- buyer income shares from choice probabilities written out by hand from the utility formula in
  ``autopact.model.demand`` (and checked against ``demand.individual_shares``);
- in plain logit, the textbook closed forms (Train 2009, ch. 3): ds_j/dp_k = -alpha s_j (1(j=k) - s_k),
  diversion D_jk = s_k / (1 - s_j), and every household the same buyer.

The market is the bundled 2025 one (297 products, 63 BEVs) with 300 simulated households, under the
bundled calibration's parameters and under a nested variant (rho = 0.3) so the nest terms count.
"""

import json

import numpy as np
import pandas as pd
import pytest

from autopact.data import bundled_path, income_distribution, load_market
from autopact.fit.calibration import MarketArrays, build_demand
from autopact.fit.statistics import model_statistics
from autopact.model.demand import individual_shares, shares
from autopact.model.households import draw_households
from autopact.model.inversion import invert_shares

NESTED = {"alpha": 2e-5, "pi": 6.0, "sigma_bev": 1.0, "sigma_size": 1.5, "rho": 0.3, "bev_income": 0.2}
H = 1e-5  # relative price step of the central differences


def _calibrated_parameters():
    return json.loads(bundled_path("calibration_2025.json").read_text())["parameters"]


@pytest.fixture(scope="module")
def arrays():
    return MarketArrays.from_market(load_market(2025))


@pytest.fixture(scope="module", params=["calibrated", "nested"])
def market(request, arrays):
    """(arrays, demand, delta): the 2025 market's shares inverted on 300 households."""
    parameters = _calibrated_parameters() if request.param == "calibrated" else NESTED
    demand = build_demand(parameters, arrays, draw_households(income_distribution(), 300, 2, seed=3))
    delta, _ = invert_shares(arrays.shares, arrays.prices, demand, tol=1e-13)
    return arrays, demand, delta


def _statistic(arrays, demand, delta, statistic, group):
    targets = pd.DataFrame({"name": ["x"], "statistic": [statistic], "group": [group], "value": [0.0]})
    return float(model_statistics(targets, delta, demand, arrays)[0])


def _shares_at(arrays, demand, delta, prices):
    """Market shares at consumer prices ``prices``: the mean utilities move by -alpha (p - p0)."""
    return shares(delta - demand.alpha * (prices - arrays.prices), prices, demand)


def _mask(arrays, names):
    names = names.split(";")
    return (np.isin(arrays.powertrain, names) | np.isin(arrays.segment, names)
            | np.isin(np.array(arrays.product_ids), names))


def _hand_probabilities(demand, delta, prices):
    """s_ij written out from the module docstring of ``autopact.model.demand``:
    V_ij = delta_j - (pi / y_i) p_j + sum_k sigma_k nu_ik x_jk,
    s_ij = exp(V_ij / (1 - rho)) / exp(IV_ig / (1 - rho)) * exp(IV_ig) / (1 + sum_h exp(IV_ih)),
    IV_ig = (1 - rho) log sum_{k in g} exp(V_ik / (1 - rho))."""
    rho = demand.rho
    v = (delta[None, :] - np.outer(demand.pi / demand.income, prices)
         + np.einsum("ik,k,jk->ij", demand.nu, demand.sigma, demand.characteristics))
    nests = np.unique(demand.nests)
    iv = np.empty((len(v), len(nests)))
    for n, g in enumerate(nests):
        x = v[:, demand.nests == g] / (1 - rho)
        top = x.max(axis=1)
        iv[:, n] = (1 - rho) * (top + np.log(np.exp(x - top[:, None]).sum(axis=1)))
    position = np.searchsorted(nests, demand.nests)
    iv_j = iv[:, position]
    within = np.exp((v - iv_j) / (1 - rho))
    top = np.maximum(iv.max(axis=1), 0.0)
    nest_probability = np.exp(iv_j - top[:, None]) / (np.exp(-top) + np.exp(iv - top[:, None]).sum(axis=1))[:, None]
    return within * nest_probability


def test_the_aggregate_elasticity_is_a_finite_difference_of_total_inside_sales(market):
    """Oracle: (S(p (1 + h)) - S(p (1 - h))) / (2 h S(p)), S = sum_j s_j recomputed by ``demand.shares``."""
    arrays, demand, delta = market
    analytic = _statistic(arrays, demand, delta, "aggregate_elasticity", "all")
    up, down, base = (_shares_at(arrays, demand, delta, arrays.prices * (1 + step)).sum() for step in (H, -H, 0.0))
    numeric = (up - down) / (2 * H * base)
    assert -3.0 < analytic < -0.2
    assert analytic == pytest.approx(numeric, rel=1e-8, abs=0)  # measured 6e-11 to 2e-10 (h = 1e-5)


@pytest.mark.parametrize("group", ["nissan--sentra--ice", "lexus--ls--ice;lexus--ls--hev", "BEV", "all"])
def test_a_mean_own_elasticity_is_a_finite_difference_of_each_share_in_its_own_price(market, group):
    """Oracle: e_jj = (s_j(p_j (1 + h)) - s_j(p_j (1 - h))) / (2 h s_j), one product's price moved at a
    time, averaged over the group with the market shares as weights."""
    arrays, demand, delta = market
    mask = _mask(arrays, group) if group != "all" else np.ones(len(arrays.prices), bool)
    base = _shares_at(arrays, demand, delta, arrays.prices)
    own = []
    for j in np.flatnonzero(mask):
        moved = [_shares_at(arrays, demand, delta, arrays.prices * np.where(np.arange(len(base)) == j, 1 + step, 1.0))[j]
                 for step in (H, -H)]
        own.append((moved[0] - moved[1]) / (2 * H * base[j]))
    numeric = np.average(own, weights=base[mask])
    analytic = _statistic(arrays, demand, delta, "mean_own_elasticity", group)
    assert analytic < -1.0
    assert analytic == pytest.approx(numeric, rel=1e-8, abs=0)  # measured 2e-10 to 7e-10 (h = 1e-5)


@pytest.mark.parametrize("group", ["ICE", "HEV;PHEV", "BEV"])
def test_the_bev_second_choice_is_a_finite_difference_diversion(market, group):
    """Oracle: the docstring's D_jk = -(ds_k/dp_j) / (ds_j/dp_j) by brute force: each BEV's price moved
    by +-h alone, every share recomputed; the group's part of the BEV's diversion to the other inside
    goods (the BEV itself left out), averaged over BEVs with their shares as weights."""
    arrays, demand, delta = market
    bev = arrays.powertrain == "BEV"
    target = _mask(arrays, group)
    base = _shares_at(arrays, demand, delta, arrays.prices)
    parts = []
    for j in np.flatnonzero(bev):
        moved = np.where(np.arange(len(base)) == j, 1.0, 0.0)
        change = (_shares_at(arrays, demand, delta, arrays.prices * (1 + H * moved))
                  - _shares_at(arrays, demand, delta, arrays.prices * (1 - H * moved)))
        diversion = -change / change[j]
        diversion[j] = 0.0
        parts.append(diversion[target].sum() / diversion.sum())
    numeric = np.average(parts, weights=base[bev])
    analytic = _statistic(arrays, demand, delta, "bev_second_choice", group)
    assert 0.0 < analytic < 1.0
    assert analytic == pytest.approx(numeric, rel=1e-8, abs=0)  # measured 3e-11 to 2e-10 (h = 1e-5)


@pytest.mark.parametrize("statistic", ["buyer_income_share", "bev_buyer_income_share"])
@pytest.mark.parametrize("band, low, high", [("0-100000", 0.0, 1e5), ("100000-200000", 1e5, 2e5),
                                             ("200000-", 2e5, np.inf), ("50000-75000", 5e4, 7.5e4)])
def test_a_buyer_income_share_is_the_buyers_weight_in_the_band(market, statistic, band, low, high):
    """Oracle: sum_{i: low <= y_i < high} w_i sum_j s_ij / sum_i w_i sum_j s_ij (j over all products, or
    over BEVs), s_ij written out by hand from the utility formula; the hand s_ij are first checked
    against ``demand.individual_shares``."""
    arrays, demand, delta = market
    hand = _hand_probabilities(demand, delta, arrays.prices)
    assert np.abs(hand - individual_shares(delta, arrays.prices, demand)[0]).max() <= 1e-14  # measured 3e-16
    chosen = hand[:, arrays.powertrain == "BEV"] if statistic.startswith("bev") else hand
    buyers = demand.weights * chosen.sum(axis=1)
    band_mask = (demand.income >= low) & (demand.income < high)
    assert 0 < band_mask.sum() < len(band_mask)
    numeric = buyers[band_mask].sum() / buyers.sum()
    analytic = _statistic(arrays, demand, delta, statistic, band)
    assert analytic == pytest.approx(numeric, rel=1e-14, abs=0)  # measured 4e-16


def test_the_income_bands_of_buyers_add_up_to_one(market):
    """Oracle: the shares of buyers (and of BEV buyers) in the bands [0, 100k), [100k, 200k) and
    [200k, inf), which partition the households, sum to 1."""
    arrays, demand, delta = market
    for statistic in ("buyer_income_share", "bev_buyer_income_share"):
        total = sum(_statistic(arrays, demand, delta, statistic, band)
                    for band in ("0-100000", "100000-200000", "200000-"))
        assert total == pytest.approx(1.0, abs=1e-14)  # measured 2e-16


@pytest.fixture(scope="module")
def logit(arrays):
    """Plain logit (alpha_i = alpha, no random tastes, no nests) on the 2025 market: (demand, delta)."""
    parameters = {"alpha": 1e-4, "pi": 0.0, "sigma_bev": 0.0, "sigma_size": 0.0, "rho": 0.0, "bev_income": 0.0}
    demand = build_demand(parameters, arrays, draw_households(income_distribution(), 50, 2, seed=0))
    delta, _ = invert_shares(arrays.shares, arrays.prices, demand, tol=1e-13)
    return demand, delta


def test_plain_logit_statistics_are_the_textbook_closed_forms(arrays, logit):
    """Oracle, plain logit with ds_j/dp_k = -alpha s_j (1(j=k) - s_k) (Train 2009, ch. 3.6):
    aggregate elasticity -alpha (1 - S) sum_j s_j p_j / S (S the inside share); own elasticity
    -alpha p_j (1 - s_j); diversion D_jk = s_k / (1 - s_j), so a BEV j sends the share
    sum_{k in G, k != j} s_k / (S - s_j) of its inside diversion to group G; and every household
    buys with the same probability, so the buyers' income shares are the households' weights in the band."""
    demand, delta = logit
    s, p = arrays.shares, arrays.prices
    inside = s.sum()
    bev = arrays.powertrain == "BEV"
    assert _statistic(arrays, demand, delta, "aggregate_elasticity", "all") == pytest.approx(
        -1e-4 * (1 - inside) * (s @ p) / inside, rel=1e-14, abs=0)  # measured 2e-16
    luxury = arrays.luxury
    assert _statistic(arrays, demand, delta, "mean_own_elasticity", "luxury") == pytest.approx(
        np.average(-1e-4 * p[luxury] * (1 - s[luxury]), weights=s[luxury]), rel=1e-14, abs=0)  # measured 2e-16
    for group in ("ICE", "HEV;PHEV", "BEV"):
        target = _mask(arrays, group)
        parts = [(s[target].sum() - (s[j] if target[j] else 0.0)) / (inside - s[j]) for j in np.flatnonzero(bev)]
        assert _statistic(arrays, demand, delta, "bev_second_choice", group) == pytest.approx(
            np.average(parts, weights=s[bev]), rel=1e-14, abs=0)  # measured 2e-16
    rich = demand.income >= 2e5
    for statistic in ("buyer_income_share", "bev_buyer_income_share"):
        assert _statistic(arrays, demand, delta, statistic, "200000-") == pytest.approx(
            demand.weights[rich].sum(), rel=1e-14, abs=0)  # measured 2e-16
