"""Target statistics computed two ways: by the calibration's analytic formulas and by an independent
finite difference of purchases recomputed from each household's choice probabilities."""

import numpy as np
import pandas as pd
import pytest

from autopact.data import income_distribution, load_market
from autopact.fit.calibration import MarketArrays, build_demand, load_targets
from autopact.fit.statistics import CalibrationError, check_group, model_statistics, split_group
from autopact.model.demand import individual_shares
from autopact.model.inversion import invert_shares
from autopact.model.households import draw_households

FIXED = {"alpha": 2e-5, "pi": 6.0, "sigma_bev": 1.0, "sigma_size": 1.5, "rho": 0.3, "bev_income": 0.2}


@pytest.fixture(scope="module")
def small():
    market = load_market(2025)
    arrays = MarketArrays.from_market(market)
    demand = build_demand(FIXED, arrays, draw_households(income_distribution(), 40, 2, seed=1))
    delta, _ = invert_shares(arrays.shares, arrays.prices, demand)
    return arrays, demand, delta


def _purchases(arrays, demand, delta, products, low, high, step):
    """BEV purchases of the households with income in [low, high) when the group's prices rise by
    the factor 1 + step, mean utilities moved by -alpha dp (the independent oracle)."""
    prices = arrays.prices * np.where(products, 1.0 + step, 1.0)
    s = individual_shares(delta - demand.alpha * (prices - arrays.prices), prices, demand)[0]
    among = (demand.income >= low) & (demand.income < high)
    return float(demand.weights[among] @ s[among][:, products].sum(axis=1))


@pytest.mark.parametrize("group, low, high", [("BEV@0-100000", 0.0, 1e5), ("BEV@100000-", 1e5, np.inf),
                                              ("SUV-crossover@0-50000", 0.0, 5e4)])
def test_a_group_elasticity_among_some_households_equals_a_finite_difference(small, group, low, high):
    arrays, demand, delta = small
    name = group.split("@")[0]
    products = np.isin(arrays.powertrain, [name]) | np.isin(arrays.segment, [name])
    targets = pd.DataFrame({"name": ["x"], "statistic": ["group_aggregate_elasticity"], "group": [group], "value": [1.0]})
    analytic = model_statistics(targets, delta, demand, arrays)[0]
    h = 1e-5
    up, down = (_purchases(arrays, demand, delta, products, low, high, s) for s in (h, -h))
    numeric = (np.log(up) - np.log(down)) / (np.log1p(h) - np.log1p(-h))
    assert analytic < 0
    assert analytic == pytest.approx(numeric, rel=1e-7)  # measured 1e-10 to 1e-9 (central difference, h = 1e-5)


def test_every_household_is_the_plain_group(small):
    arrays, demand, delta = small
    targets = pd.DataFrame({"name": ["a", "b"], "statistic": ["group_aggregate_elasticity"] * 2,
                            "group": ["BEV", "BEV@0-"], "value": [1.0, 1.0]})
    plain, everyone = model_statistics(targets, delta, demand, arrays)
    assert everyone == pytest.approx(plain, rel=1e-12)


def test_bad_groups_are_refused_with_the_field_named(tmp_path):
    assert split_group("BEV@0-100000") == ("BEV", (0.0, 100000.0))
    with pytest.raises(CalibrationError, match="read by group_aggregate_elasticity only"):
        check_group("mean_own_elasticity", "BEV@0-100000")
    with pytest.raises(CalibrationError, match="lower bound must be below"):
        check_group("group_aggregate_elasticity", "BEV@100000-5")
    table = load_targets()
    table.loc[table["name"] == "bev_aggregate_elasticity", "group"] = "BEV@rich-poor"
    path = tmp_path / "targets.csv"
    table.to_csv(path, index=False)
    with pytest.raises(CalibrationError, match=r"line \d+, column 'group': income group 'rich-poor'"):
        load_targets(str(path))


def test_a_group_with_no_household_or_no_product_is_refused_by_name(small):
    arrays, demand, delta = small
    for group, message in (("BEV@5000000-", "no simulated household has income in"),
                           ("Nope@0-100000", "target group 'Nope@0-100000' names no product")):
        targets = pd.DataFrame({"name": ["x"], "statistic": ["group_aggregate_elasticity"], "group": [group],
                                "value": [1.0]})
        with pytest.raises(CalibrationError, match=message):
            model_statistics(targets, delta, demand, arrays)


@pytest.mark.parametrize("group", ["all", "luxury", "SUV-crossover"])
def test_the_mean_lerner_index_is_the_logit_closed_form(group):
    """In plain logit (alpha_i = alpha, no random tastes, no nests) every product of firm f carries the
    markup 1 / (alpha (1 - S_f)), S_f the firm's total share (Anderson and de Palma 1992): the
    share-weighted mean of markup / price over the group, with the market's real owners."""
    market = load_market(2025)
    arrays = MarketArrays.from_market(market)
    alpha = 1e-4
    logit = {"alpha": alpha, "pi": 0.0, "sigma_bev": 0.0, "sigma_size": 0.0, "rho": 0.0, "bev_income": 0.0}
    demand = build_demand(logit, arrays, draw_households(income_distribution(), 5, 2, seed=0))
    delta, _ = invert_shares(arrays.shares, arrays.prices, demand, tol=1e-13)
    firm_share = np.bincount(arrays.owners, weights=arrays.shares)[arrays.owners]
    lerner = 1.0 / (alpha * (1.0 - firm_share)) / arrays.prices
    mask = np.ones(len(lerner), bool) if group == "all" else (arrays.luxury if group == "luxury"
                                                               else arrays.segment == group)
    targets = pd.DataFrame({"name": ["x"], "statistic": ["mean_lerner"], "group": [group], "value": [0.2]})
    got = model_statistics(targets, delta, demand, arrays)[0]
    assert 0.05 < got < 0.5
    assert got == pytest.approx(np.average(lerner[mask], weights=arrays.shares[mask]), rel=1e-10)  # measured 1e-15
