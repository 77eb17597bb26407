"""Taste draws correlated with income (``households.income_correlated``), against closed forms."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from autopact.data import income_distribution
from autopact.model.households import draw_households, income_correlated


@pytest.fixture(scope="module")
def households():
    return draw_households(income_distribution(), 20_000, 1, seed=3)


def _moments(x, y, w):
    mx, my = w @ x, w @ y
    cov = w @ ((x - mx) * (y - my))
    return mx, w @ (x - mx) ** 2, cov / np.sqrt((w @ (x - mx) ** 2) * (w @ (y - my) ** 2))


@pytest.mark.parametrize("r", [-0.5, 0.25, 0.8])
def test_correlation_with_log_income_is_r_and_the_taste_keeps_unit_variance(households, r):
    nu = households.nu[:, 0]
    out = income_correlated(nu, households.income, households.weights, r)
    mean, variance, corr = _moments(out, np.log(households.income), households.weights)
    _, _, corr0 = _moments(nu, np.log(households.income), households.weights)
    # exact algebra: corr(out, z) = sqrt(1 - r^2) corr(nu, z) + r (var(out) differs from 1 by the draws' own error)
    expected = (np.sqrt(1 - r * r) * corr0 * np.sqrt(_moments(nu, nu, households.weights)[1]) + r) / np.sqrt(variance)
    assert corr == pytest.approx(expected, abs=1e-12)
    assert corr == pytest.approx(r, abs=0.02)  # Halton draws are independent of income to about 1/sqrt(I)
    assert mean == pytest.approx(0.0, abs=0.02) and variance == pytest.approx(1.0, abs=0.03)


def test_zero_correlation_returns_the_draws_themselves(households):
    nu = households.nu[:, 0]
    assert income_correlated(nu, households.income, households.weights, 0.0) is nu


@settings(max_examples=25, deadline=None)
@given(st.floats(min_value=-0.99, max_value=0.99))
def test_the_income_part_is_a_linear_demographic_term(r):
    """sigma nu' = sigma sqrt(1 - r^2) nu + sigma r z: the taste of two households with the same draw
    differs by r times the difference of their standardised log incomes."""
    income = np.array([20_000.0, 80_000.0, 300_000.0])
    weights = np.full(3, 1 / 3)
    nu = np.array([0.3, 0.3, 0.3])
    out = income_correlated(nu, income, weights, r)
    z = np.log(income) - np.log(income).mean()
    z /= np.sqrt((z ** 2).mean())
    assert out - np.sqrt(1 - r * r) * nu == pytest.approx(r * z, abs=1e-12)


@pytest.mark.parametrize("r", [-1.0, 1.0, 1.5, float("nan")])
def test_a_correlation_outside_minus_one_one_is_refused(r):
    with pytest.raises(ValueError, match="correlation with income"):
        income_correlated(np.zeros(2), np.ones(2), np.full(2, 0.5), r)
