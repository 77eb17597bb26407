"""New models at a near tie of their owner's profit peaks (``autopact.outcomes.profit_peaks``), checked on
hand-made curves and on a two-household market whose shares are computed here by the logit formula
(an independent oracle: no sums trick, no solver)."""

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from autopact.model.continuation import response_grid
from autopact.model.demand import Demand
from autopact.outcomes.profit_peaks import NEAR_TIE, grid_peaks, near_tied_peaks, other_peak
from autopact.outcomes.state import capped_products


def test_peaks_are_interior_maxima_apart_by_a_dip_and_a_ripple_is_not_one():
    profits = np.array([0.0, 1.0, 2.0, 1.5, 1.9, 1.2])
    assert grid_peaks(profits) == [2, 4]
    grid = np.arange(6.0)
    assert other_peak(grid, profits, 2.0) == 4 and other_peak(grid, profits, 4.2) == 2
    assert other_peak(grid, profits, 1.2) == 4  # a price on the slope climbs to its own peak first
    ripple = np.array([0.0, 1.0, 2.0, 1.999, 2.0005, 1.2])  # a dip of 0.05%: one peak, the higher
    assert grid_peaks(ripple) == [4] and other_peak(grid, ripple, 2.0) is None
    assert grid_peaks(np.array([3.0, 2.0, 1.0])) == []  # no interior maximum


INCOME = np.array([20_000.0, 60_000.0])
PI, ALPHA, COST = 20.0, 1e-6, 10_000.0
XI = np.array([2.0, 11.0])  # an incumbent at $25k, the new model
M = 1_000_000.0


def _result(poor_share: float, price: float, capacities=(), constraints=(), owners=(0, 1), xi=XI, announced=()):
    """A market of an incumbent (firm 0) and a new model (firm 1) with two households, a poor one whose
    price sensitivity is PI / 20,000 and one at 60,000: the new model's profit has two peaks."""
    demand = Demand(alpha=ALPHA, pi=PI, sigma=np.zeros(1), rho=0.0, characteristics=np.zeros((2, 1)),
                    nests=np.zeros(2, int), weights=np.array([poor_share, 1 - poor_share]), income=INCOME,
                    nu=np.zeros((2, 1)))
    market = SimpleNamespace(xi=np.asarray(xi, float), demand=demand, owners=np.array(owners), kappa=None, taxes=None,
                             capacities=list(capacities), market_size=M, announced_costs=list(announced))
    products = pd.DataFrame({"product_id": ["inc", "new"], "name": ["Incumbent", "Newcomer"],
                             "price": [25_000.0, price], "cost": [15_000.0, COST], "units": [0.0, 0.0],
                             "assembly_countries": ["United States", "China"]})
    return SimpleNamespace(market=market, baseline=SimpleNamespace(products=products.iloc[[0]]),
                           counterfactual=SimpleNamespace(products=products, constraints=list(constraints)))


def _by_hand(poor_share: float, xi=XI) -> tuple[np.ndarray, np.ndarray]:
    """The new model's units and its owner's profit (a one-product firm: nothing cannibalised) at each
    price of the grid, by the logit formula household by household."""
    weights = np.array([poor_share, 1 - poor_share])
    alpha_i = ALPHA + PI / INCOME
    grid = response_grid(COST)
    incumbent = np.exp(xi[0] - alpha_i * 25_000.0)
    new = np.exp(xi[1] - np.outer(grid, alpha_i))  # (G, I)
    share = (new / (1 + new + incumbent)) @ weights
    return M * share, M * (grid - COST) * share


def test_a_near_tie_is_named_with_the_other_peaks_price_units_and_profit_against_the_logit_formula():
    grid = response_grid(COST)
    units, profit = _by_hand(0.96)
    peaks = [k for k in range(1, len(grid) - 1) if profit[k] >= profit[k - 1] and profit[k] > profit[k + 1]]
    assert len(peaks) == 2  # the low price for the poor household, the high one for the other
    low, high = peaks
    assert profit[high] / profit[low] > 1 - NEAR_TIE
    caveat = near_tied_peaks(_result(0.96, grid[low]))
    (row,) = caveat["products"]
    assert row["other_peak_price"] == pytest.approx(grid[high], rel=1e-12)
    assert row["other_peak_units"] == pytest.approx(units[high], rel=1e-9)
    assert row["other_peak_profit_share"] == pytest.approx(profit[high] / profit[low], rel=1e-9)
    assert caveat["kind"] == "near_tied_profit_peaks" and "Newcomer" in caveat["text"]
    # reported at the other peak, the first is the alternative
    (back,) = near_tied_peaks(_result(0.96, grid[high]))["products"]
    assert back["other_peak_price"] == pytest.approx(grid[low], rel=1e-12)
    # announced between two peaks, the model has the announced-price caveat (both peaks) instead of this one
    assert near_tied_peaks(_result(0.96, grid[low], announced=[{"product_id": "new", "rule": "indifference"}])) is None
    assert near_tied_peaks(_result(0.96, grid[low], announced=[{"product_id": "new", "rule": "first-order condition"}]))


def test_no_caveat_where_one_peak_clearly_wins_or_a_plant_sets_the_price():
    grid = response_grid(COST)
    units, profit = _by_hand(0.94)
    peaks = [k for k in range(1, len(grid) - 1) if profit[k] >= profit[k - 1] and profit[k] > profit[k + 1]]
    assert len(peaks) == 2 and min(profit[peaks]) / max(profit[peaks]) < 1 - NEAR_TIE  # 0.70
    assert near_tied_peaks(_result(0.94, grid[int(np.argmax(profit))])) is None
    low = min(peaks)
    plant = [("Newcomer plant", ("new",), 5_000.0)]
    binding = [{"name": "plant: Newcomer plant", "binding": True}]
    result = _result(0.96, grid[low], plant, binding)
    assert capped_products(result.market, result.counterfactual) == {"new"}
    assert near_tied_peaks(result) is None


def test_what_the_model_adds_to_a_multiproduct_owner_counts_the_sales_it_takes_from_the_owners_other_model():
    """The incumbent's owner launches the new model: what the launch adds at price p is the new model's
    margin on its units plus the incumbent's margin on the units it keeps less those it had alone."""
    grid = response_grid(COST)
    weights = np.array([0.96, 0.04])
    alpha_i = ALPHA + PI / INCOME
    incumbent = np.exp(XI[0] - alpha_i * 25_000.0)
    new = np.exp(XI[1] - np.outer(grid, alpha_i))
    alone = (incumbent / (1 + incumbent)) @ weights
    added = M * ((grid - COST) * ((new / (1 + new + incumbent)) @ weights)
                 + 10_000.0 * ((incumbent / (1 + new + incumbent)) @ weights - alone))
    peaks = [k for k in range(1, len(grid) - 1) if added[k] >= added[k - 1] and added[k] > added[k + 1]]
    low, high = peaks
    (row,) = near_tied_peaks(_result(0.96, grid[low], owners=(0, 0)))["products"]
    assert row["other_peak_profit_share"] == pytest.approx(added[high] / added[low], rel=1e-9)


def test_a_second_peak_just_under_the_near_tie_is_not_named():
    """A poor household 98% of the weight and the new model's mean utility 9.5: the low-price peak adds
    0.897 of the high one's profit, just under 1 - NEAR_TIE."""
    xi = np.array([2.0, 9.5])
    grid = response_grid(COST)
    units, profit = _by_hand(0.98, xi)
    peaks = [k for k in range(1, len(grid) - 1) if profit[k] >= profit[k - 1] and profit[k] > profit[k + 1]]
    ratio = min(profit[peaks]) / max(profit[peaks])
    assert len(peaks) == 2 and 1 - NEAR_TIE - 0.01 < ratio < 1 - NEAR_TIE
    assert near_tied_peaks(_result(0.98, grid[int(np.argmax(profit))], xi=xi)) is None


def test_a_quota_at_its_volume_caps_every_imported_model_and_a_slack_plant_caps_none():
    result = _result(0.96, 11_600.0, [("Newcomer plant", ("new",), 5_000.0)],
                     [{"name": "plant: Newcomer plant", "binding": False},
                      {"name": "quota: chinese-ev-quota", "binding": True}])
    # the incumbent is US-built, the newcomer imported from China: the quota rations the import only
    assert capped_products(result.market, result.counterfactual) == {"new"}
    slack = _result(0.96, 11_600.0, [("Newcomer plant", ("new",), 5_000.0)],
                    [{"name": "plant: Newcomer plant", "binding": False}])
    assert capped_products(slack.market, slack.counterfactual) == set()
    assert near_tied_peaks(slack) is not None  # a slack plant leaves the near tie to be named
