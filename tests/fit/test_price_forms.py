"""The price forms of the calibration (issue 11 item 2): alpha_i with a random coefficient on price
or a power of income, checked against the old form, closed forms and finite differences."""

import json
import subprocess
import sys

import numpy as np
import pytest
from scipy.stats import norm

from autopact.data import income_distribution, load_market
from autopact.fit.calibration import MarketArrays, build_demand, calibrate, load_targets, model_statistics
from autopact.fit.price_forms import FORMS, truncated_normal
from autopact.model.demand import jacobian_parts, shares
from autopact.model.inversion import invert_shares
from autopact.model.households import draw_households

THETA = {"alpha": 2e-5, "pi": 4.0, "sigma_bev": 1.2, "sigma_size": 0.6, "rho": 0.3, "bev_income": 0.25}


@pytest.fixture(scope="module")
def arrays():
    return MarketArrays.from_market(load_market(2025))


@pytest.fixture(scope="module")
def households():
    return draw_households(income_distribution(), 300, tastes=3, seed=0)


def test_without_dispersion_the_random_coefficient_form_is_the_income_form_exactly(arrays, households):
    old = build_demand(THETA, arrays, draw_households(income_distribution(), 300, tastes=2, seed=0))
    new = build_demand({**THETA, "sigma_price": 0.0}, arrays, households, "income_normal")
    assert np.array_equal(old.deviation, new.deviation) and np.array_equal(old.taste, new.taste)
    delta = np.linspace(-9, -6, len(arrays.prices))
    assert np.array_equal(shares(delta, arrays.prices, old), shares(delta, arrays.prices, new))


def test_truncated_normal_draws_match_the_closed_form_mean_and_stay_positive():
    nu = norm.ppf((np.arange(20000) + 0.5) / 20000)  # a fine grid of the standard normal
    for mean, spread in ((1.0, 0.5), (0.2, 1.0), (1e-7, 1.0)):
        draws = truncated_normal(mean, spread, nu)
        a = -mean / spread
        expected = mean + spread * norm.pdf(a) / (1 - norm.cdf(a))  # mean of N(mean, spread^2) truncated at 0
        assert draws.min() >= 0 and draws.mean() == pytest.approx(expected, rel=1e-3)


def test_share_jacobian_with_the_price_random_coefficient_matches_finite_differences(arrays, households):
    demand = build_demand({**THETA, "sigma_price": 0.8e-4}, arrays, households, "income_normal")
    assert np.ptp(demand.price_sensitivity - (THETA["alpha"] + THETA["pi"] / households.income)) > 1e-5
    assert demand.price_sensitivity.min() > 0
    count = 12  # a sub-market: the first products, enough to check the closed form
    d = demand.with_products(arrays.characteristics[:count], arrays.nests[:count])
    prices = arrays.prices[:count]
    xi = np.linspace(-6, -4, count) + d.alpha * prices
    s, lam, gamma = jacobian_parts(xi - d.alpha * prices, prices, d)
    analytic = np.diag(lam) - gamma
    numeric = np.empty_like(analytic)
    for k in range(count):
        h = 1.0  # dollars; shares move by ~1e-5 relative
        up, down = prices.copy(), prices.copy()
        up[k] += h
        down[k] -= h
        numeric[:, k] = (shares(xi - d.alpha * up, up, d) - shares(xi - d.alpha * down, down, d)) / (2 * h)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-9 * np.abs(analytic).max())


def test_power_form_with_lambda_one_is_pure_income_sensitivity(households):
    alpha = 3e-5
    mean = float(households.weights @ households.income)
    sensitivity = FORMS["power"].sensitivity({"alpha": alpha, "lambda": 1.0}, households)
    np.testing.assert_allclose(sensitivity, alpha * mean / households.income, rtol=1e-12)
    flat = FORMS["power"].sensitivity({"alpha": alpha, "lambda": 0.0}, households)
    assert np.array_equal(flat, np.full_like(flat, alpha))


def test_shifted_form_with_no_shift_is_the_income_form_and_a_shift_flattens_the_poorest(arrays, households):
    theta = {"alpha": 2e-5, "pi": 4.0}
    two = draw_households(income_distribution(), 300, tastes=2, seed=0)
    unshifted = FORMS["shifted"].sensitivity({**theta, "income_shift": 0.0}, two)
    assert np.array_equal(unshifted, build_demand({**THETA, **theta}, arrays, two).price_sensitivity)
    shifted = FORMS["shifted"].sensitivity({**theta, "income_shift": 20000.0}, two)
    np.testing.assert_allclose(shifted, 2e-5 + 4.0 / (two.income + 20000.0), rtol=1e-14)
    poorest, richest = np.argmin(two.income), np.argmax(two.income)
    # the ratio of the poorest household's sensitivity to the richest one's falls with the shift
    assert shifted[poorest] / shifted[richest] < unshifted[poorest] / unshifted[richest]


@pytest.mark.parametrize("form, extra, tastes, tolerance", [
    # recovered to 2.0e-6 relative (alpha, the smallest) on the table with the sourced specifications and
    # prices of Dec 2026, 1e-6 before: the optimiser's stopping rule, not the model
    ("income_normal", {"sigma_price": 0.5e-4}, 3, 3e-6),
    ("shifted", {"income_shift": 15000.0}, 2, 1e-9),  # measured 4.7e-11 (income_shift), 10 evaluations
])
def test_calibration_recovers_a_known_price_form(arrays, form, extra, tastes, tolerance):
    truth = {**THETA, **extra}
    market = load_market(2025)
    demand = build_demand(truth, arrays, draw_households(income_distribution(), 200, tastes=tastes, seed=0), form)
    delta, _ = invert_shares(arrays.shares, arrays.prices, demand, tol=1e-13)
    targets = load_targets()
    targets["value"] = model_statistics(targets, delta, demand, arrays)
    cal = calibrate(market, targets=targets, draws=200, seed=0, form=form, fixed={"rho": truth["rho"]})
    assert cal.form == form
    assert cal.parameters == pytest.approx(truth, rel=tolerance)


def test_cli_calibrate_takes_a_price_form_and_refuses_an_unknown_one():
    fixed = ["--fix", "alpha=5e-5", "--fix", "lambda=0.5", "--fix", "sigma_bev=1", "--fix", "sigma_size=1",
             "--fix", "rho=0"]
    done = subprocess.run([sys.executable, "-m", "autopact.interfaces.cli", "calibrate", "--json", "--households", "30",
                           "--price-form", "power", *fixed], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["price_form"] == FORMS["power"].text and report["parameters"]["lambda"] == 0.5
    assert report["max_share_error"] < 1e-10
    bad = subprocess.run([sys.executable, "-m", "autopact.interfaces.cli", "calibrate", "--price-form", "nope"],
                         capture_output=True, text=True, timeout=600)
    assert bad.returncode == 2 and "unknown price form 'nope'" in bad.stderr and "Traceback" not in bad.stderr
