"""The price-sign decomposition (issue 11 item 5): a markup split by its first-order condition into
the own-demand term and the owner's-other-models term, checked on solved equilibria."""

from types import SimpleNamespace

import numpy as np
import pytest

from autopact.model.supply import Taxes, ownership_matrix, solve_prices
from autopact.runs.backtest_policy import markup_terms
from synthetic import plain_logit, synthetic_demand


def _solved(demand, xi, owners, kappa=None):
    costs = np.linspace(10, 20, len(xi))
    eq = solve_prices(costs, xi, demand, ownership_matrix(owners, kappa), Taxes.none(len(xi)))
    market = SimpleNamespace(xi=xi, demand=demand, owners=owners, kappa=kappa)
    return market, eq


def test_single_product_logit_markup_is_the_closed_form_own_term():
    demand = plain_logit(0.1, 4)
    xi = np.array([1.0, 0.5, 0.0, -0.5]) + 0.1 * 20
    market, eq = _solved(demand, xi, np.arange(4))
    own, siblings = markup_terms(market, eq.consumer_prices, eq.markups)
    # single-product logit: p - c = 1 / (alpha (1 - s_j)), and no other model to divert to
    np.testing.assert_allclose(own, 1 / (0.1 * (1 - eq.shares)), rtol=1e-10)
    assert np.all(siblings == 0)
    np.testing.assert_allclose(own, eq.markups, rtol=1e-9)


@pytest.mark.parametrize("kappa", [None, np.array([[1.0, 0.3, 0.0], [0.0, 1.0, 0.0], [0.2, 0.0, 1.0]])])
def test_the_two_terms_add_up_to_each_markup_with_multi_product_owners(kappa):
    demand, xi, _ = synthetic_demand(products=9, households=60)
    owners = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2])
    market, eq = _solved(demand, xi, owners, kappa)
    own, siblings = markup_terms(market, eq.consumer_prices, eq.markups)
    assert np.all(own > 0) and np.all(siblings > 0)  # every owner has other models to divert to
    np.testing.assert_allclose(own + siblings, eq.markups, rtol=1e-9)
