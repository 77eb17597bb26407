"""The back-test snapshot every report shows (``autopact.runs.backtest_summary``) belongs to the code
and calibration at hand: its calibration's fingerprint is the bundled one, and rows recomputed now (the
demand back-tests, three launches re-entered) equal it. A change that moves them fails here until
``python tools/make_backtest_summary.py`` is run again."""

import json

import pytest

from autopact.data import bundled_path
from autopact.policy.scenario import load_scenario
from autopact.runs.backtest_demand import demand_backtest
from autopact.runs.backtest_entry import entry_backtest
from autopact.runs.backtest_summary import load_snapshot, summary_rows
from autopact.simulate import market_for

LAUNCHES = ["ford--mustang-mach-e--bev", "kia--telluride--ice", "mercedes-benz--glb--ice"]


@pytest.fixture(scope="module")
def market():
    return market_for(load_scenario("baseline-2025"))


@pytest.fixture(scope="module")
def snapshot():
    found = load_snapshot()
    assert found is not None, "backtest_summary_2025.json is missing: python tools/make_backtest_summary.py"
    return found


def test_the_snapshot_was_made_on_the_bundled_calibration(snapshot):
    record = json.loads(bundled_path("calibration_2025.json").read_text())
    assert snapshot["calibration_fingerprint"] == record["fingerprint"], \
        "the calibration changed since the back-test snapshot: python tools/make_backtest_summary.py"


def test_rows_recomputed_now_equal_the_snapshot(market, snapshot):
    now = demand_backtest(market)
    for name in ("low_income_bev_elasticity", "buyers_income_below_75k", "buyers_income_150k_plus"):
        assert now[name]["model"] == pytest.approx(snapshot["demand_backtest"][name]["model"], rel=1e-9), name
    for row in entry_backtest(market, LAUNCHES)["products"]:
        assert row["predicted_units"] == pytest.approx(snapshot["entry_rows"][row["product_id"]], rel=1e-6), \
            f"{row['product_id']}: the entry back-test moved since the snapshot: python tools/make_backtest_summary.py"


def test_every_row_names_its_evidence_and_a_verdict(snapshot):
    assert len(snapshot["rows"]) >= 14
    for row in snapshot["rows"]:
        assert row["backtest"] and row["result"] and row["goal"] and row["passed"] in (True, False)


def test_summary_rows_read_a_validate_result():
    """The formatting on a small hand-made result: each verdict is the validate result's."""
    entry = {"products": [{}] * 3, "median_abs_log_error": 0.5, "mean_log_error": 0.1, "within_factor_1_5": 0.4,
             "beyond_factor_3": 1, "worst": {"name": "X", "ratio": 4.0},
             "intervals": {"level": 0.9, "median_abs_log_error": [0.4, 0.61], "mean_log_error": [-0.1, 0.3]}}
    passed = dict.fromkeys(("entry_median_abs_log_error", "entry_worst", "market_2026_sales", "entrant_prices",
                            "low_income_bev_elasticity", "buyers_income_below_75k", "early_2026_makers",
                            "tariff_pass_through"), False)
    passed.update(dict.fromkeys(("entry_bias", "ev_credit", "tariff_sales", "tariff_prices", "entry_yardsticks",
                                 "entrant_best_responses", "price_signs", "buyers_income_150k_plus",
                                 "early_2026_prices"), True))
    demand = {"low_income_bev_elasticity": {"model": -5.0, "published": -2.1, "income_limit_usd_2023": 100000.0},
              "buyers_income_below_75k": {"model": 0.2, "published": 0.25},
              "buyers_income_150k_plus": {"model": 0.43, "published": 0.43}, "goal_relative": 0.10}
    from autopact.runs.validate import GOALS

    v = {"entry_backtest": entry, "passed": passed, "demand_backtest": demand, "goals": GOALS,
         "ev_credit_backtest": {"predicted_bev_share": 0.05, "observed_bev_share": 0.058},
         "tariff_backtest": {"published": {"sales_change": [-0.06, -0.03], "price_change": [0.04, 0.07]},
                             "sales_change": -0.04, "price_change": 0.05},
         "market_2026_backtest": {"predicted_sales_change": -0.004, "range": [-0.061, -0.024]},
         "early_2026_backtest": {
             "makers": {"rows": [{}] * 4, "median_abs_gap": 0.195, "within": 1, "goal_gap": 0.10,
                        "worst": {"label": "Kia K4", "predicted_change": -0.681, "observed_change": 0.03}},
             "average_price": {"predicted_change": 0.025, "observed_jan_feb_2026": [0.034, 0.019]},
             "pass_through": {"tariff": "5% on vehicles assembled in Japan", "pass_through": 1.64,
                              "published": [0.6, 1.0]}},
         "entry_yardsticks": {"scenarios": {"a": {"largest_model_share": 0.01, "price_to_china_list": {"m": 1.5}}},
                              "yardsticks": {"single_model_share": [0.008, 0.018], "export_price_ratio": [1.6, 1.8]}},
         "entrant_best_responses": {"a": [{"global_best_response": True}, {"global_best_response": False}]},
         "price_signs": {"a": {"rising": 2, "incumbents_same_cost": 10}}}
    rows = summary_rows(v)
    first = rows[0]
    assert first["result"] == "0.50 (x1.65; 90% interval over the launches 0.40 to 0.61); 40% within x1.5"  # exp(0.5)
    assert first["passed"] is False
    assert rows[2]["result"] == "X x4.0; 1 beyond x3"
    by_name = {row["backtest"]: row for row in rows}
    assert by_name["EV credit ends (30 Sep 2025): BEV share"] == {
        "backtest": "EV credit ends (30 Sep 2025): BEV share", "result": "model 5.00%, observed 5.80% (Q4 2025)",
        "goal": "within 1.5 pp", "passed": True}
    assert [r["result"] for r in rows if "best responses" in r["backtest"]] == ["1 of 2"]
    assert by_name["Early 2026: 4 makers' and models' sales against the same months of 2025"]["result"] == (
        "median gap 20 points; 1 of 4 within 10; worst Kia K4 model -68%, published +3%")
    assert by_name["Early 2026: average transaction price against 2025"]["goal"] == "KBB January-February 2026 +1.9% to +3.4%"
    assert by_name["Pass-through of a tariff (5% on vehicles assembled in Japan)"]["result"] == "1.64"
    assert [r["passed"] for r in rows] == [False, True, False, True, True, True, False, False, True, False, True,
                                           False, True, True, False, False, True]


def test_the_pass_through_caveat_quotes_the_snapshot_s_measured_pass_through(snapshot):
    """The cost_pass_through caveat quotes the model's own pass-through to one decimal; a calibration that
    moves the measured one (the snapshot's row) past that rounding fails here until the constant follows."""
    from autopact.outcomes.caveats import MODEL_PASS_THROUGH

    (row,) = [r for r in snapshot["rows"] if r["backtest"].startswith("Pass-through of a tariff")]
    assert round(float(row["result"]), 1) == MODEL_PASS_THROUGH
