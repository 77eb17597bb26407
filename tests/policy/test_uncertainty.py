"""Uncertain inputs: distributions, draws, bands, tornado, first-order re-calibration."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from autopact.policy.scenario import ScenarioError, parse_scenario
from autopact.policy.uncertain_inputs import UncertainInput, Uncertainty, centrals, quantile
from autopact.runs.uncertainty import bands, draw_values, flatten, sensitivity_plan, tornado


def _input(**kw):
    return UncertainInput(**{"source": "test", **kw})


def test_quantiles_match_scipy():
    assert quantile(_input(parameter="shipping_usd_per_vehicle", distribution="uniform", low=1100, high=1400), 0.25,
                    1250) == pytest.approx(1175)
    tri = _input(parameter="shipping_usd_per_vehicle", distribution="triangular", low=1000, mode=1100, high=1600)
    assert quantile(tri, 0.3, 1250) == pytest.approx(stats.triang.ppf(0.3, 1 / 6, loc=1000, scale=600))
    logn = _input(parameter="shipping_usd_per_vehicle", distribution="lognormal", log_sd=0.2)
    assert quantile(logn, 0.5, 1250) == pytest.approx(1250)  # median defaults to the input's own value
    assert quantile(logn, 0.95, 1250) == pytest.approx(1250 * math.exp(0.2 * 1.6448536269514722))
    normal = _input(parameter="shipping_usd_per_vehicle", distribution="normal", sd=10)
    assert quantile(normal, 0.5, 1250) == pytest.approx(1250)
    assert quantile(normal, 0.975, 1250) == pytest.approx(1250 + 10 * 1.959963984540054)


@settings(max_examples=60, deadline=None)
@given(u=st.floats(1e-9, 1 - 1e-9), sd=st.floats(0.01, 50))
def test_truncated_normal_stays_in_the_admissible_range(u, sd):
    share = _input(parameter="connected_vehicle_threshold", distribution="normal", sd=sd)
    assert 0.0 <= quantile(share, u, 0.5) <= 1.0
    elasticity = _input(target="own_elasticity_nissan_sentra", distribution="normal", sd=sd)
    assert quantile(elasticity, u, -6.28) <= 0.0


def test_a_draw_depends_only_on_seed_and_index():
    unc = Uncertainty(seed=3, inputs=[_input(parameter="shipping_usd_per_vehicle", distribution="uniform", low=1100, high=1400),
                                      _input(parameter="assembly_hours_per_vehicle", distribution="uniform", low=30, high=34)])
    c = {"parameter:shipping_usd_per_vehicle": 1250.0, "parameter:assembly_hours_per_vehicle": 31.73}
    forward = [draw_values(unc, c, k, 3) for k in range(5)]
    backward = [draw_values(unc, c, k, 3) for k in reversed(range(5))][::-1]
    assert forward == backward
    assert draw_values(unc, c, 0, 4) != forward[0]
    assert len({d["parameter:shipping_usd_per_vehicle"] for d in forward}) == 5


@pytest.mark.parametrize("item, message", [
    ({"parameter": "nope", "distribution": "uniform", "low": 1, "high": 2}, "unknown parameter 'nope'"),
    ({"parameter": "shipping_usd_per_vehicle", "distribution": "uniform", "low": -5, "high": 2}, "leaves the admissible range"),
    ({"target": "own_elasticity_nissan_sentra", "distribution": "lognormal", "log_sd": 0.1}, "lognormal needs a positive"),
    ({"parameter": "shipping_usd_per_vehicle", "target": "aggregate_elasticity", "distribution": "normal", "sd": 1},
     "exactly one of parameter, target, assumption or estimate"),
    ({"parameter": "shipping_usd_per_vehicle", "distribution": "triangular", "low": 1, "high": 2}, "needs mode"),
    ({"assumption": "price_level", "distribution": "uniform", "low": 1, "high": 2}, "not a numeric market assumption"),
    ({"target": "own_elasticity_lexus_ls", "distribution": "normal", "sd": 1, "mean": 2}, "outside the admissible range"),
    ({"parameter": "shipping_usd_per_vehicle", "distribution": "uniform", "low": 1, "high": 2, "source": ""}, "source"),
])
def test_bad_uncertain_inputs_are_named(item, message):
    with pytest.raises(ScenarioError, match=message):
        parse_scenario({"name": "x", "uncertainty": {"inputs": [{"source": "s", **item}]}}, "x.yaml")


def test_centrals_follow_the_scenarios_own_values():
    s = parse_scenario({"name": "x", "parameters": {"shipping_usd_per_vehicle": 1300}, "uncertainty": {"inputs": [
        {"parameter": "shipping_usd_per_vehicle", "distribution": "normal", "sd": 50, "source": "s"},
        {"target": "aggregate_elasticity", "distribution": "uniform", "low": -1.9, "high": -0.6, "source": "s"},
        {"assumption": "market_size_households", "distribution": "lognormal", "log_sd": 0.01, "source": "s"}]}}, "x")
    c = centrals(s)
    assert c["parameter:shipping_usd_per_vehicle"] == 1300
    from autopact.data.assumptions import resolve
    from autopact.fit.calibration import load_targets

    assert c["target:aggregate_elasticity"] == load_targets().set_index("name").at["aggregate_elasticity", "value"]
    assert c["assumption:market_size_households"] == resolve({})["market_size_households"].value


def test_bands_are_percentiles_of_every_leaf():
    changes = [{"a": float(k), "b": {"x": -float(k), "y": None}} for k in range(101)]
    changes[3]["b"]["z"] = 5.0  # a leaf present in one draw only counts as 0 elsewhere
    out = bands(changes)
    assert out["a"] == {"p05": 5.0, "p50": 50.0, "p95": 95.0}
    assert out["b"]["x"] == {"p05": -95.0, "p50": -50.0, "p95": -5.0}
    assert out["b"]["y"] == {"p05": None, "p50": None, "p95": None}
    assert out["b"]["z"]["p95"] == 0.0 and set(flatten(out)) >= {("a", "p05"), ("b", "z", "p50")}


def test_tornado_sorts_by_swing_and_keeps_failures_last():
    plan = [("parameter:a", 1, 2), ("parameter:b", 3, 4), ("parameter:c", 5, 6)]
    low = [{"m": 1.0}, {"m": -10.0}, None]
    high = [{"m": 2.0}, {"m": 10.0}, {"m": 0.0}]
    chart = tornado({"m": 0.5}, plan, low, high, ["m"])["m"]
    assert chart["central"] == 0.5
    assert [r["input"] for r in chart["inputs"]] == ["parameter:b", "parameter:a", "parameter:c"]
    assert chart["inputs"][0]["swing"] == 20.0 and chart["inputs"][2]["swing"] is None


def test_sensitivity_plan_uses_the_5th_and_95th_percentiles():
    unc = Uncertainty(inputs=[_input(parameter="shipping_usd_per_vehicle", distribution="uniform", low=1000, high=2000)])
    assert sensitivity_plan(unc, {"parameter:shipping_usd_per_vehicle": 1250}) == [
        ("parameter:shipping_usd_per_vehicle", pytest.approx(1050), pytest.approx(1950))]


@pytest.mark.parametrize("target, tolerance", [
    pytest.param(-6.45, 0.05, marks=pytest.mark.xfail(strict=True, reason=(
        "a 1.2% move of the Sentra's elasticity target on the ninth session's calibration, by the full Hessian "
        "(recalibration.parameter_response): measured linear/exact moves 1.403 (alpha), 1.527 (pi), 1.746 "
        "(sigma_bev), 1.268 (sigma_size), 1.946 (bev_income). alpha sits just above its bound (2.2e-7 against "
        "1e-7) and moves by 9.5e-8: so close to the bound the fit is not linear in the target over this move "
        "(the eighth session's 1.3% move of the compact-car target: 1.03-1.39)"))),
    # a 2.9% move: measured 1.033 (alpha), 1.006 (pi), 1.008 (sigma_bev), 1.000 (sigma_size), 0.986 (bev_income)
    (-6.34, 0.04),
    # a 5.0% move: measured 0.997, 0.994, 0.993, 0.990 and 0.946 (bev_income)
    (-6.2, 0.06),
])
def test_first_order_recalibration_tracks_an_exact_ones_moves(target, tolerance):
    """d theta / d target predicts the moves (not the levels) of an exact re-calibration of the
    bundled 2025 calibration when the Sentra's elasticity target moves from -6.528."""
    from autopact.fit.calibration import calibrate, load_targets
    from autopact.fit.stored_calibration import calibrated_market
    from autopact.fit.recalibration import linear_recalibration, parameter_response
    from autopact.data import load_market

    market = load_market(2025)
    cal = calibrated_market(market)
    response = parameter_response(cal)
    for name in set(cal.parameters) - set(response[0]):  # held parameters sit at a bound, and say so
        assert any(w.startswith(f"parameter {name} is at its") for w in cal.warnings), name
    unchanged = linear_recalibration(cal, response, load_targets())
    assert unchanged == cal.parameters
    targets = load_targets()
    targets.loc[targets["name"] == "own_elasticity_nissan_sentra", "value"] = target
    linear = linear_recalibration(cal, response, targets)
    exact = calibrate(market, targets=targets, start=cal.parameters, fit_draws=cal.fit_draws).parameters
    for name in response[0]:
        moved = exact[name] - cal.parameters[name]
        assert abs(moved) > 1e-4 * abs(cal.parameters[name])  # the move is real
        assert abs((linear[name] - cal.parameters[name]) - moved) <= tolerance * abs(moved), name
