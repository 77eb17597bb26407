"""The early-2026 back-tests (``autopact.runs.backtest_2026_early``): the published rows reproduce their
quoted figures, the model's side is the covered products' units summed by hand, and the pass-through is
the units-weighted ratio of price to cost changes of the taxed models."""

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from autopact.data import tables
from autopact.data.schema import MarketDataError
from autopact.runs import backtest_2026_early as early


def test_the_published_rows_reproduce_their_quoted_monthly_figures():
    """Each derived change is the two months' units over the same months of 2025 rebuilt from the quoted
    changes (Kia: 64,502 at +13.1% and 66,005 at +4.3%), to the four decimals written."""
    rows = {row["label"]: row for row in tables.early_2026_sales()}
    assert rows["Kia"]["change"] == pytest.approx(130_507 / (64_502 / 1.131 + 66_005 / 1.043) - 1, abs=5e-5)
    assert rows["Hyundai and Genesis"]["change"] == pytest.approx(132_201 / (60_794 / 1.024 + 71_407 / 1.057) - 1, abs=5e-5)
    assert rows["Mazda"]["change"] == pytest.approx(62_455 / (28_958 / 0.86 + 33_497) - 1, abs=5e-5)
    assert rows["Mazda CX-50"]["change"] == pytest.approx(20_509 / 13_615 - 1, abs=5e-5)
    assert rows["Kia"]["makes"] == ["Kia"] and rows["Kia K4"]["product_prefixes"] == ["kia--k4"]
    assert all(row["source"].startswith(("Kia", "Yonhap", "Carscoops", "Mazda", "Vehiclesgarage")) for row in rows.values())


def test_a_row_with_both_makes_and_prefixes_is_refused_naming_its_line(monkeypatch):
    bad = pd.DataFrame([{"label": "x", "makes": "Kia", "product_prefixes": "kia--k4", "period": "p", "units_2026": 1,
                         "change": 0.1, "derived": "no", "source": "s", "note": ""}])
    monkeypatch.setattr(tables, "_parsed", lambda name: bad)
    with pytest.raises(MarketDataError, match=r"sales_early_2026.csv, line 2, column 'makes'"):
        tables.early_2026_sales()


def _state(units):
    products = pd.DataFrame({
        "product_id": ["kia--k4--ice", "kia--sportage--ice", "hyundai--elantra--ice", "genesis--gv70--ice",
                       "honda--civic--ice", "honda--civic--hev", "acura--mdx--ice", "mazda--cx-50--ice", "mazda--cx-5--ice"],
        "make": ["Kia", "Kia", "Hyundai", "Genesis", "Honda", "Honda", "Acura", "Mazda", "Mazda"]})
    return SimpleNamespace(products=products.assign(units=units))


def test_the_model_side_sums_the_covered_products_units():
    before = [100.0, 200.0, 50.0, 10.0, 80.0, 20.0, 30.0, 40.0, 60.0]
    after = [40.0, 230.0, 55.0, 9.0, 70.0, 20.0, 30.0, 50.0, 54.0]
    found = {r["label"]: r for r in early.makers_2026(SimpleNamespace(baseline=_state(before), counterfactual=_state(after)))["rows"]}
    assert found["Kia"]["predicted_change"] == pytest.approx(270 / 300 - 1)
    assert found["Hyundai and Genesis"]["predicted_change"] == pytest.approx(64 / 60 - 1)
    assert found["Honda and Acura"]["predicted_change"] == pytest.approx(120 / 130 - 1)
    assert found["Mazda"]["predicted_change"] == pytest.approx(104 / 100 - 1)
    assert found["Kia K4"]["predicted_change"] == pytest.approx(-0.6)
    assert found["Honda Civic"]["predicted_change"] == pytest.approx(90 / 100 - 1)
    assert found["Mazda CX-50"]["predicted_change"] == pytest.approx(50 / 40 - 1)  # not the CX-5 beside it
    assert found["Kia K4"]["gap"] == pytest.approx(-0.6 - 0.03)  # the K4's February +3%


def test_a_row_that_covers_no_product_is_an_error_not_a_division_by_zero(monkeypatch):
    from autopact.errors import ScenarioError

    monkeypatch.setattr(early, "early_2026_sales", lambda: [{"label": "Nobody", "period": "p", "makes": ["Nomake"],
                                                            "product_prefixes": [], "change": 0.1, "source": "s"}])
    state = _state([1.0] * 9)
    with pytest.raises(ScenarioError, match="'Nobody' covers no product"):
        early.makers_2026(SimpleNamespace(baseline=state, counterfactual=state))


def test_the_pass_through_is_the_units_weighted_ratio_of_the_taxed_models(monkeypatch):
    """Two taxed models (costs +$200 and +$300, prices +$300 and +$240) and one untaxed whose price moves:
    (1,000 x 300 + 3,000 x 240) / (1,000 x 200 + 3,000 x 300) = 0.927, inside Feenstra's 0.6 to 1; a cost
    change under 0.5% of price does not count (as in the caveat)."""
    base = pd.DataFrame({"product_id": ["a", "b", "c"], "name": ["A", "B", "C"], "units": [1000.0, 3000.0, 500.0],
                         "cost": [20000.0, 30000.0, 25000.0], "price": [25000.0, 36000.0, 30000.0]})
    after = base.assign(cost=[20200.0, 30300.0, 25100.0], price=[25300.0, 36240.0, 30050.0])  # c: +$100, 0.33%
    base, after = base.assign(consumer_price=base["price"]), after.assign(consumer_price=after["price"])  # no wedge
    seen = {}

    def fake(scenario, market):
        seen["tariff"] = scenario.extra_tariffs[0]
        return SimpleNamespace(baseline=SimpleNamespace(products=base), counterfactual=SimpleNamespace(products=after))

    monkeypatch.setattr(early, "simulate", fake)
    found = early.pass_through(None)
    assert seen["tariff"].origin == ["Japan"] and seen["tariff"].ad_valorem_pct == 5.0
    assert found["models"] == 2 and found["pass_through"] == pytest.approx(1_020_000 / 1_100_000)
    assert found["lowest"] == {"name": "B", "pass_through": pytest.approx(0.8)}
    assert found["highest"] == {"name": "A", "pass_through": pytest.approx(1.5)}
    assert found["published"] == [0.6, 1.0] and found["inside"]
    assert np.isclose(found["median"], 1.15)
    assert found["untaxed_price_change_usd"] == pytest.approx(50.0)  # c's +$50
