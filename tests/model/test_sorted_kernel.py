"""SortedKernel (autopact.model.sorted_kernel) against FocKernel: the same FOC terms up to rounding."""

from dataclasses import replace

import numpy as np
import pytest

from autopact.model.sorted_kernel import SortedKernel, supports
from autopact.model.supply import Taxes, ownership_matrix
from autopact.model.zeta import FocKernel
from synthetic import plain_logit, synthetic_demand
from fresh_interpreter import prints


def both(xi, demand, ownership, prices, margin):
    return (FocKernel(xi, demand, ownership).terms(prices, margin),
            SortedKernel(xi, demand, ownership).terms(prices, margin))


def assert_same_terms(expected, found, floored=()):
    """Shares and Lambda to 1e-13 relative; g, a sum of terms of both signs where margins have both,
    to 1e-12 relative or 1e-14 of its largest entry. ``floored``: products whose every e_ij is at the
    e^-250 floor, which SortedKernel takes below its bound on the largest utility instead of below
    the largest utility itself (shares of order 1e-109 that differ by a factor up to e)."""
    keep = np.setdiff1d(np.arange(len(expected[0])), floored)
    for name, one, other in zip(("shares", "Lambda", "g"), expected, found):
        rtol, atol = (1e-12, 1e-14 * np.abs(one).max()) if name == "g" else (1e-13, 0.0)
        np.testing.assert_allclose(other[keep], one[keep], rtol=rtol, atol=atol, err_msg=name)
        assert np.all(np.abs(other[list(floored)]) < 1e-100)


@pytest.mark.parametrize("model", [dict(rho=0.0, pi=0.0, sigma=(0.0, 0.0)), dict(rho=0.5, pi=0.0, sigma=(0.0, 0.0)),
                                   dict(rho=0.0), dict(rho=0.3), dict(rho=0.7, nests=1)],
                         ids=["logit", "nested logit", "RC logit", "RCNL", "RCNL one nest"])
@pytest.mark.parametrize("ownership", ["firms", "merger", "profit weights"])
def test_terms_equal_foc_kernel(model, ownership):
    """Products listed in an order unlike the sorted one (nests and firms interleaved), margins of
    both signs, taxes, and an ownership with asymmetric profit weights (kappa(0, 1) != kappa(1, 0))."""
    demand, xi, prices = synthetic_demand(products=13, households=40, seed=7, **model)
    owners = np.arange(13) % 5
    kappa = np.eye(5)
    if ownership == "merger":
        owners[owners == 4] = 1
    if ownership == "profit weights":
        kappa[0, 1], kappa[1, 0], kappa[2, 3] = 0.4, 0.1, 0.25
    omega = ownership_matrix(owners, kappa)
    taxes = Taxes(np.linspace(0.0, 0.2, 13), np.linspace(-1.0, 2.0, 13))
    consumer = taxes.consumer_prices(prices)
    margin = prices - np.linspace(10.0, 45.0, 13)
    assert_same_terms(*both(xi, demand, omega, consumer, margin))


def test_a_priced_out_product_and_a_loose_bound():
    """A product priced far above the rest (its share floored, as FocKernel floors it) and one whose
    mean utility is far above the rest but whose price is higher still: the bound on a household's
    largest utility (best xi at the lowest price) is then far above its largest utility, e_ij would
    all fall below e^-200, and the kernel takes the largest utility itself."""
    demand = plain_logit(1.0, 3)
    xi, omega = np.array([5.0, 4.0, 3.0]), ownership_matrix(np.arange(3))
    prices = np.array([1000.0, 3.0, 3.0])
    assert_same_terms(*both(xi, demand, omega, prices, prices - 1.0), floored=[0])
    xi, prices = np.array([500.0, 0.0, 0.0]), np.array([1000.0, 1.0, 1.0])
    kernel = SortedKernel(xi, demand, omega)
    assert_same_terms(FocKernel(xi, demand, omega).terms(prices, prices - 0.5), kernel.terms(prices, prices - 0.5),
                      floored=[0])
    assert kernel.exact is not None  # the exact largest utility was taken


def test_which_demands_it_covers():
    demand, xi, _ = synthetic_demand(products=6, households=30)
    assert supports(demand, 6)
    two_level = replace(demand, subnests=np.arange(6), rho_within=0.5, _cache={})
    assert not supports(two_level, 6)
    with pytest.raises(ValueError, match="subnests"):
        SortedKernel(xi, two_level, np.eye(6))
    many = synthetic_demand(products=6, households=100_000)[0]
    assert not supports(many, 6)  # more than one block of households: FocKernel's blocks


@pytest.mark.parametrize("rho", [0.0, 0.5])
def test_utilities_far_above_the_outside_good(rho):
    """Mean utilities of about 1,500: exp of the nests' inclusive values would overflow unshifted,
    so the outside shares are taken shifted by the largest (as FocKernel's)."""
    demand, xi, prices = synthetic_demand(products=9, households=20, seed=3, rho=rho)
    omega = ownership_matrix(np.arange(9) % 4)
    assert_same_terms(*both(xi + 1500.0, demand, omega, prices, 0.3 * prices))


def test_the_kernel_loads_no_scipy_sparse():
    """SortedKernel sums its rows by ``compressed.csr_sums`` (scipy's compiled routine, loaded without
    scipy.sparse, whose import took 80-100 ms of a warm CLI run); on main it imported scipy.sparse and
    its private ``csr_matvecs`` itself, a second copy of ``compressed``'s loading."""
    code = ("import sys, numpy as np; from autopact.model.sorted_kernel import SortedKernel; "
            "from synthetic import synthetic_demand; "
            "demand, xi, prices = synthetic_demand(products=6, households=10, seed=1); "
            "SortedKernel(xi, demand, np.eye(6)).terms(prices, prices / 2); "
            "print(sorted(m for m in sys.modules if m.startswith('scipy.sparse')))")
    assert prints(code) == "[]"
