"""Calibration on the 2025 market: exact share fit, targets reported with sources, fixed parameters."""

import json
import subprocess
import sys

import numpy as np
import pytest

from autopact.fit.calibration import (
    CalibrationError, MarketArrays, build_demand, calibrate, load_targets, model_statistics,
)
from autopact.data import load_market
from autopact.model.demand import aggregate_elasticity, diversion_ratios, shares
from autopact.model.households import draw_households
from autopact.data import income_distribution

FIXED = {"alpha": 2e-5, "pi": 6.0, "sigma_bev": 1.0, "sigma_size": 1.5, "rho": 0.3, "bev_income": 0.2}


@pytest.fixture(scope="module")
def market():
    return load_market(2025)


@pytest.fixture(scope="module")
def fitted(market):
    return calibrate(market, draws=60, seed=3)


def test_calibration_fits_units_exactly_and_reports_every_target(fitted, market):
    assert fitted.max_share_error < 1e-10
    predicted = shares(fitted.delta, fitted.arrays.prices, fitted.demand) * market.market_size
    assert np.max(np.abs(predicted / market.units - 1)) < 1e-10
    report = fitted.to_dict()
    targets = load_targets()
    assert [t["name"] for t in report["targets"]] == list(targets["name"])
    for t in report["targets"]:
        assert {"target", "achieved", "source"} <= set(t) and t["source"]
    assert report["optimizer"]["success"]
    assert np.isfinite(fitted.costs).all()
    # the fit improves on the starting point
    start = calibrate(market, draws=60, seed=3, fixed=dict(zip(
        ("alpha", "pi", "sigma_bev", "sigma_size", "rho"), (1e-4, 5.0, 1.0, 0.5, 0.3))))
    gap = lambda r: sum(((t["achieved"] - t["target"]) / t["target"]) ** 2 * t["weight"] for t in r.to_dict()["targets"])
    assert gap(fitted) < gap(start)


def test_statistics_agree_with_the_demand_kernels(market):
    arrays = MarketArrays.from_market(market)
    households = draw_households(income_distribution(), 40, 2, seed=1)
    demand = build_demand(FIXED, arrays, households)
    from autopact.model.inversion import invert_shares
    delta, _ = invert_shares(arrays.shares, arrays.prices, demand)
    targets = load_targets()
    stats = dict(zip(targets["name"], model_statistics(targets, delta, demand, arrays)))
    assert stats["aggregate_elasticity"] == pytest.approx(aggregate_elasticity(delta, arrays.prices, demand))
    d, _ = diversion_ratios(delta, arrays.prices, demand)
    bev = arrays.powertrain == "BEV"
    ice = arrays.powertrain == "ICE"
    by_product = d[bev][:, ice].sum(axis=1) / d[bev].sum(axis=1)
    s = shares(delta, arrays.prices, demand)
    assert stats["bev_second_choice_ice"] == pytest.approx(np.average(by_product, weights=s[bev]))
    assert 0 < stats["buyers_income_200k_plus"] < 1


def test_fixed_parameters_are_held(market):
    result = calibrate(market, draws=40, fixed=FIXED)
    assert result.parameters == FIXED
    assert result.optimizer["evaluations"] == 0
    partly = calibrate(market, draws=40, fixed={"rho": 0.0, "sigma_bev": 0.0})
    assert partly.parameters["rho"] == 0.0 and partly.parameters["sigma_bev"] == 0.0
    with pytest.raises(CalibrationError, match="unknown parameter"):
        calibrate(market, draws=40, fixed={"beta": 1.0})
    with pytest.raises(CalibrationError, match="outside its bounds"):
        calibrate(market, draws=40, fixed={"rho": 1.5})
    # a bound as the warnings print it is inside: alpha's lower bound is 1e-3 per $10,000, 1e-07 a dollar, which
    # the product 1e-3 x 1e-4 makes 1.0000000000000002e-07 (refused before)
    assert calibrate(market, draws=40, fixed={**FIXED, "alpha": 1e-07}).parameters["alpha"] == 1e-07
    with pytest.raises(CalibrationError, match="outside its bounds"):
        calibrate(market, draws=40, fixed={"bev_income": -0.96})


def test_bad_targets_file_names_line_and_column(tmp_path):
    table = load_targets()
    table.loc[2, "statistic"] = "mean_happiness"
    path = tmp_path / "targets.csv"
    table.to_csv(path, index=False)
    with pytest.raises(CalibrationError, match="line 4, column 'statistic': unknown statistic 'mean_happiness'"):
        load_targets(str(path))
    result = subprocess.run([sys.executable, "-m", "autopact.interfaces.cli", "calibrate", "--targets", str(path)],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 2 and "mean_happiness" in result.stderr and "Traceback" not in result.stderr


def test_cli_calibrate_json():
    # 300 fit households, not the default 5,000 (32 s of the suite): the JSON's form is what is checked
    result = subprocess.run([sys.executable, "-m", "autopact.interfaces.cli", "calibrate", "--json", "--households", "30",
                             "--fit-households", "300"], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["households"]["fit_draws"] == 300
    for key in ("parameters", "targets", "max_share_error", "own_elasticity_distribution", "lerner_distribution"):
        assert key in report
    assert report["max_share_error"] < 1e-10
    assert all({"target", "achieved", "source"} <= set(t) for t in report["targets"])
    # each target's gap is its achieved value against the target, and exactly the targets beyond 10% are warned of
    for t in report["targets"]:
        assert t["relative_gap"] == pytest.approx((t["achieved"] - t["target"]) / abs(t["target"]), rel=1e-12)
    missed = {t["name"] for t in report["targets"] if t["weight"] > 0 and abs(t["relative_gap"]) > 0.10}
    warned = {w.split()[1] for w in report["warnings"] if w.startswith("target ")}
    assert missed and warned == missed


def test_bundled_calibration_matches_the_bundled_market_and_is_reused(market, monkeypatch):
    """If the bundled data, assumptions or targets change, this fails: re-run
    `autopact calibrate --save src/autopact/data/bundled/calibration_2025.json`."""
    from autopact.fit import calibration
    from autopact.fit.stored_calibration import calibrated_market, fingerprint
    from autopact.data import bundled_path
    record = json.loads(bundled_path("calibration_2025.json").read_text())
    assert record["fingerprint"] == fingerprint(market, load_targets(), record["draws"], record["seed"],
                                                fit_draws=record["fit_draws"])
    assert record["fit_draws"] == calibration.FIT_HOUSEHOLDS > record["draws"]
    def no_fit(*args, **kwargs):
        raise AssertionError("the stored calibration should be reused, not fitted again")

    monkeypatch.setattr(calibration, "least_squares", no_fit)
    result = calibrated_market(market)
    assert result.parameters == record["parameters"] and result.max_share_error < 1e-10
    assert result.optimizer["stored"].endswith("calibration_2025.json")
    # the targets as fitted are read on the fit's households; the market's own 1,000 give others
    assert result.fit_draws == record["fit_draws"] and len(result.households.weights) == record["draws"]
    households, delta = result.fit_state()  # recomputed there, the record's statistics come back
    from autopact.fit.statistics import model_statistics
    again = model_statistics(result.targets, delta, calibration.build_demand(result.parameters, result.arrays, households),
                             result.arrays)
    assert len(households.weights) == record["fit_draws"]
    np.testing.assert_allclose(again, [record["achieved"][name] for name in result.targets["name"]], rtol=1e-8)
    np.testing.assert_allclose(result.achieved, again, rtol=1e-8)
    assert not np.allclose(result.market_achieved, result.achieved, rtol=1e-3)


def test_parameters_are_fitted_on_the_fit_households_and_the_market_keeps_its_own(market):
    """``fit_draws``: the targets are read on more households than the market's (FIT_HOUSEHOLDS): the
    parameters are exactly those of a calibration on that many households (the market's households
    are the first of the same Halton sequence), and the market inverts its own shares exactly."""
    held = {"rho": 0.0, "sigma_bev": 1.2, "bev_income": 0.2, "pi": 6.0}
    on_fit = calibrate(market, draws=80, seed=2, fixed=held)
    split = calibrate(market, draws=30, seed=2, fixed=held, fit_draws=80)
    assert split.parameters == on_fit.parameters
    assert len(split.households.weights) == 30 and split.fit_draws == 80 and on_fit.fit_draws == 80
    np.testing.assert_allclose(split.achieved, on_fit.achieved, rtol=1e-9)  # the fit's statistics, as fitted
    np.testing.assert_allclose(split.households.income, on_fit.households.income[:30], rtol=0)
    assert split.max_share_error < 1e-10 and on_fit.market_achieved is None
    own = calibrate(market, draws=30, seed=2, fixed=split.parameters)
    np.testing.assert_allclose(split.market_achieved, own.achieved, rtol=1e-9)
    np.testing.assert_allclose(split.delta, own.delta, rtol=1e-10)
    assert split.to_dict()["households"]["fit_draws"] == 80


def test_the_cli_fits_on_the_package_s_fit_households():
    """``autopact calibrate --fit-households`` defaults to FIT_HOUSEHOLDS (the CLI module keeps the number
    itself, so that importing the CLI does not import the calibration)."""
    import inspect

    from autopact.fit.calibration import FIT_HOUSEHOLDS
    from autopact.interfaces.cli_data import calibrate_command

    assert inspect.signature(calibrate_command).parameters["fit_households"].default == FIT_HOUSEHOLDS
