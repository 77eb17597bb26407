"""Back-test machinery: re-entry reproduces a product's own units, the launch term leaves the product
out, the credit lever is a consumer-price wedge, and `autopact validate --json` keeps its contract.
Numbers of the back-tests themselves are not pinned (they move with data and demand)."""

import dataclasses
import json
import subprocess
import sys

import numpy as np
import pytest

from autopact.policy.launch import MIN_CELL_LAUNCHES, band, launch_gaps, launch_term, reentry_prediction
from autopact.policy.scenario import load_scenario, parse_scenario
from autopact.model.supply import Taxes
from autopact.runs.backtest_entry import entry_backtest, reenter, reordered_taxes
from autopact.data import backtest_evidence
from autopact.runs.backtest_policy import credit_removal
from autopact.simulate import market_for, simulate

MACH_E = "ford--mustang-mach-e--bev"
A6 = "audi--a6-e-tron--bev"  # first US sales in 2025-Q4: 3 months of 2025 (backtest_launches.csv)


@pytest.fixture(scope="module")
def market():
    return market_for(load_scenario("baseline-2025"))


@pytest.mark.parametrize("product_id", [MACH_E, "rivian--r1s--bev", "ford--maverick--ice"])
def test_a_product_re_entered_with_its_own_xi_returns_its_own_units(market, product_id):
    j = market.products["product_id"].tolist().index(product_id)
    assert reenter(market, product_id, float(market.xi[j])) == pytest.approx(market.data.units[j], rel=1e-8)


def test_re_entry_keeps_each_products_own_tax_wedge(market):
    """The re-entered market lists the others, then the product: its taxes must follow that order
    (it passed the full market's taxes unchanged, wrong wherever a wedge differs by product)."""
    j = market.products["product_id"].tolist().index(MACH_E)
    count = len(market.products)
    taxed = dataclasses.replace(market, taxes=Taxes(np.arange(count) / 100, np.arange(count) * 10.0))
    minus, _ = taxed.without(MACH_E)
    taxes = reordered_taxes(taxed, minus, j)
    order = np.append(np.delete(np.arange(count), j), j)
    np.testing.assert_array_equal(taxes.ad_valorem, order / 100)
    np.testing.assert_array_equal(taxes.specific, order * 10.0)
    assert reordered_taxes(dataclasses.replace(market, taxes=None), minus, j) is None


def test_a_lower_xi_sells_less_and_the_market_without_the_product_lacks_only_it(market):
    j = market.products["product_id"].tolist().index(MACH_E)
    own = float(market.xi[j])
    assert reenter(market, MACH_E, own - 0.5) < market.data.units[j] < reenter(market, MACH_E, own + 0.5)
    minus, k = market.without(MACH_E)
    assert k == j and len(minus.products) == len(market.products) - 1 and MACH_E not in set(minus.products["product_id"])
    np.testing.assert_array_equal(minus.xi, np.delete(market.xi, j))


def test_launch_term_is_the_mean_gap_of_the_other_launches_of_the_class_and_band(market):
    gaps = launch_gaps(market)
    assert set(gaps["band"]) == {"first year", "years 2-5", "year 6 and later"}
    same = gaps[(gaps["band"] == band(3))]
    for powertrain, cls in (("BEV", "BEV"), ("ICE", "not BEV"), ("PHEV", "not BEV")):
        cell = same[same["powertrain_class"] == cls]
        assert len(cell) >= MIN_CELL_LAUNCHES
        assert launch_term(market, 3, powertrain) == pytest.approx(cell["gap"].mean(), rel=1e-12)
        pid = cell["product_id"].iloc[0]
        assert launch_term(market, 3, powertrain, leave_out=pid) == pytest.approx(
            cell.loc[cell["product_id"] != pid, "gap"].mean(), rel=1e-12)
    # a class with fewer than MIN_CELL_LAUNCHES other launches in the band takes the band's mean of all
    first = gaps[gaps["band"] == band(1)]
    lone = first[first["powertrain_class"] == "not BEV"]
    assert len(lone) < MIN_CELL_LAUNCHES
    assert launch_term(market, 1, "ICE") == pytest.approx(first["gap"].mean(), rel=1e-12)
    row = gaps.set_index("product_id").loc[pid]
    assert row["gap"] == pytest.approx(row["own_xi"] - row["hedonic"] - row["brand_term"], rel=1e-12)
    assert band(1) == "first year" and band(5) == "years 2-5" and band(7) == "year 6 and later"
    with pytest.raises(ValueError):
        band(0)


def test_a_re_entered_product_is_predicted_from_the_market_without_it(market):
    """Leave one out: the hedonic fit and brand term of a launch do not see the launch itself, so its
    own xi moves its gap one for one and nothing else."""
    from autopact.policy.launch import reentry_prediction

    parts = reentry_prediction(market, MACH_E)
    j = market.products["product_id"].tolist().index(MACH_E)
    shifted = market.with_products(xi=np.where(np.arange(len(market.xi)) == j, market.xi + 1.0, market.xi))
    moved = reentry_prediction(shifted, MACH_E)
    assert moved["hedonic"] == pytest.approx(parts["hedonic"], abs=1e-12)
    assert moved["brand_term"] == pytest.approx(parts["brand_term"], abs=1e-12)
    assert moved["own_xi"] == pytest.approx(parts["own_xi"] + 1.0, abs=1e-12)


def test_entry_backtest_reports_its_errors_from_its_rows(market):
    r = entry_backtest(market, [MACH_E, "ford--maverick--ice"])
    errors = np.array([np.log(p["predicted_units"] / p["actual_units"]) for p in r["products"]])
    assert r["median_abs_log_error"] == pytest.approx(np.median(np.abs(errors)))
    assert r["mean_log_error"] == pytest.approx(errors.mean())
    assert r["worst"]["product_id"] == r["products"][int(np.argmax(np.abs(errors)))]["product_id"]
    assert r["by_powertrain"]["BEV"] == {"products": 1, "median_abs_log_error": pytest.approx(abs(errors[0])),
                                         "mean_log_error": pytest.approx(errors[0])}
    assert r["by_powertrain"]["ICE"]["median_abs_log_error"] == pytest.approx(abs(errors[1]))


def test_a_launch_on_sale_three_months_is_compared_with_three_twelfths_of_its_annual_units(market):
    """Like with like: a 2025 launch on sale m months is predicted at an annual rate (the launch term
    is one of annual units) and compared with m/12 of it (main compared the annual rate with the
    part-year units)."""
    (row,) = entry_backtest(market, [A6])["products"]
    assert row["months_on_sale_2025"] == 3
    parts = reentry_prediction(market, A6)
    annual = reenter(market, A6, parts["hedonic"] + parts["brand_term"] + launch_term(market, 1, "BEV", leave_out=A6))
    assert row["predicted_annual_units"] == pytest.approx(annual, rel=1e-10)
    assert row["predicted_units"] == pytest.approx(annual * 3 / 12, rel=1e-10)
    assert row["log_error"] == pytest.approx(np.log(annual * 3 / 12 / row["actual_units"]), rel=1e-10)


def test_first_year_launch_gaps_are_annualised_by_their_months_on_sale(market):
    """The launch term of the first year is learned from the other first-year launches at an annual
    rate: a launch on sale m months adds ln(12 / m) to its xi; one on sale all year adds nothing.
    The shift is the annual basis because d ln s / d xi = 1 - s: re-entered with it, the A6 e-tron
    sells 12/3 of its 2025 units (to its tiny share)."""
    gaps = launch_gaps(market).set_index("product_id")
    a6, mach_e = gaps.loc[A6], gaps.loc[MACH_E]
    assert a6["months_on_sale"] == 3 and mach_e["months_on_sale"] == 12
    assert a6["gap"] == pytest.approx(a6["own_xi"] + np.log(4.0) - a6["hedonic"] - a6["brand_term"], rel=1e-12)
    assert mach_e["gap"] == pytest.approx(mach_e["own_xi"] - mach_e["hedonic"] - mach_e["brand_term"], rel=1e-12)
    j = market.products["product_id"].tolist().index(A6)
    assert reenter(market, A6, float(market.xi[j]) + np.log(4.0)) == pytest.approx(4 * market.data.units[j], rel=1e-3)


def test_months_on_sale_default_to_the_whole_year_and_must_lie_in_it():
    from autopact.policy.launch import months_on_sale

    assert months_on_sale({"product_id": "x"}) == 12 and months_on_sale({"months_on_sale_2025": float("nan")}) == 12
    assert months_on_sale({"months_on_sale_2025": 3}) == 3
    for bad in (0, 13):
        with pytest.raises(ValueError, match="months_on_sale_2025"):
            months_on_sale({"product_id": "x", "months_on_sale_2025": bad})


def test_a_credit_is_a_consumer_price_wedge_and_its_removal_follows_the_evidence(market):
    e = backtest_evidence()
    spec = credit_removal(market)
    lease = float(e["ev_lease_share_q3_2025"]["value"])
    in_force = 1 - float(e["bev_units_q4_2025"]["value"]) / float(e["bev_units_2025"]["value"])
    assert spec["credits"][0]["amount_usd"] == pytest.approx(-7500 * in_force)
    assert spec["credits"][0]["share_of_buyers"] == lease and spec["credits"][1]["share_of_buyers"] == 1 - lease
    result = simulate(parse_scenario(spec, "test"), market)
    p = result.counterfactual.products.set_index("product_id")
    listed = p.loc["tesla--model-y--bev"]  # on the 30D list: every buyer had the credit
    assert listed["consumer_price"] - listed["price"] == pytest.approx(7500 * in_force, rel=1e-12)
    other = p.loc["volkswagen--id-4--bev"]  # not listed: lessees only
    assert other["consumer_price"] - other["price"] == pytest.approx(7500 * in_force * lease, rel=1e-12)
    ice = p.loc["ford--maverick--ice"]
    assert ice["consumer_price"] == ice["price"]
    base, cf = result.metrics()
    assert cf["bev_share"] < base["bev_share"]


def test_credit_filters_the_market_cannot_apply_are_refused():
    from autopact.errors import ScenarioError

    scenario = load_scenario("blp1995-import-tariff").model_dump(mode="json", exclude={"extra_tariffs"})
    bad = parse_scenario({**scenario, "credits": [{"name": "c", "powertrain": ["BEV"], "amount_usd": 1000,
                                                   "source": "test"}]}, "bad.yaml")
    with pytest.raises(ScenarioError, match=r"credits\[0\].powertrain"):
        simulate(bad)


def test_cli_validate_json_contract(tmp_path):
    out = tmp_path / "v.json"
    done = subprocess.run([sys.executable, "-m", "autopact.interfaces.cli", "validate", "--products",
                           f"{MACH_E},ford--maverick--ice", "--json", str(out)], capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, done.stderr
    r = json.loads(out.read_text())
    entry = r["entry_backtest"]
    assert {"products", "median_abs_log_error", "mean_log_error", "worst"} <= set(entry)
    assert {"product_id", "actual_units", "predicted_units"} <= set(entry["products"][0])
    assert {"predicted_bev_share", "observed_bev_share", "source"} <= set(r["ev_credit_backtest"])
    assert 0 < r["ev_credit_backtest"]["predicted_bev_share"] < 1
    assert {"sales_change", "price_change", "published"} <= set(r["tariff_backtest"])
    assert "Entry back-test" in done.stdout and "EV credit ends" in done.stdout
    assert "months: of 2025 on offer to new orders" in done.stdout  # the table's months column, explained
    assert entry["intervals"] is None and "no intervals (fewer than 5 launches)" in done.stdout
    for signs in r["price_signs"].values():  # each riser's markup split (issue 11 item 5)
        assert set(signs["larger_term"]) == {"own_demand", "siblings"} and sum(signs["larger_term"].values()) == signs["rising"]
        assert all({"own_term_change_usd", "siblings_term_change_usd"} <= set(row) for row in signs["largest_rises"])
    assert "markup terms: own demand" in done.stdout
    demand = r["demand_backtest"]
    assert set(demand) >= {"low_income_bev_elasticity", "buyers_income_below_75k", "buyers_income_150k_plus"}
    assert r["passed"]["low_income_bev_elasticity"] == demand["low_income_bev_elasticity"]["inside"]
    assert "Low- and middle-income BEV demand" in done.stdout and "not calibration targets" in done.stdout
    # the 2026 back-test's largest channel: the makers pass on the 2025 duty they absorbed in 2025
    # (autopact.policy.tariffs); the households' trend next, since gasoline also moves the outside
    # vehicle's running cost (gasoline alone -0.30%, not +1.46%)
    assert "why, each 2025 -> 2026 change alone: 2025's absorbed" in done.stdout
    channels = [c["channel"] for c in r["market_2026_backtest"]["decomposition"]["channels"]]
    assert channels[:2] == ["2025's absorbed Section 232 duty passed on", "households"]
    bad = subprocess.run([sys.executable, "-m", "autopact.interfaces.cli", "validate", "--products", "nope"],
                         capture_output=True, text=True, timeout=600)
    assert bad.returncode == 2 and "unknown product 'nope'" in bad.stderr and "Traceback" not in bad.stderr


def test_export_price_yardsticks_net_of_vat_and_duty_by_hand():
    """Seal U in Germany (Rhodium 2024): EUR 42,000 incl. 19% VAT, 10% duty on the China list net of
    China's 13% VAT, China list EUR 20,500, profit EUR 14,300 per car; the Dolphin Mini's Mexican
    versions at launch: $21,000 (30 kWh) and $23,000 (38.8 kWh) incl. 16% IVA, no duty, against the
    China lists of the Seagull's trims with those batteries, $9,858 and $12,117."""
    from autopact.runs.backtest_policy import export_price_yardsticks

    y = export_price_yardsticks(13.0)
    seal = y["cases"]["seal-u-germany-2024"]
    assert seal["gross_ratio"][0] == pytest.approx(42000 / 20500, rel=1e-12)
    assert seal["net_ratio"][0] == pytest.approx((42000 / 1.19 - 0.10 * 20500 / 1.13) / 20500, rel=1e-12)
    assert seal["lerner"] == pytest.approx(14300 / (42000 / 1.19), rel=1e-12)
    mini = y["cases"]["dolphin-mini-30kwh-mexico-2024"]
    plus = y["cases"]["dolphin-mini-plus-38kwh-mexico-2024"]
    assert mini["net_ratio"] == pytest.approx([21000 / 1.16 / 9858] * 2, rel=1e-12)
    assert plus["net_ratio"] == pytest.approx([23000 / 1.16 / 12117] * 2, rel=1e-12)
    assert mini["lerner"] is None and plus["lerner"] is None
    assert y["net_ratio"] == pytest.approx([seal["net_ratio"][0], mini["net_ratio"][1]], rel=1e-12)


def test_launch_gaps_from_the_linear_maps_equal_the_leave_one_out_fits_for_any_xi(market):
    """The gaps are linear in xi, so a re-calibrated market (new xi, same products) takes them from
    maps built once: they must equal 90 leave-one-out fits on that market's own xi."""
    rng = np.random.default_rng(7)
    moved = dataclasses.replace(market, xi=market.xi + rng.normal(0, 0.3, len(market.xi)), cache={})
    for each in (market, moved):
        gaps = launch_gaps(dataclasses.replace(each, cache={}))
        assert len(gaps) == 90  # every row of backtest_launches.csv is in the market
        for row in gaps.to_dict(orient="records"):
            direct = reentry_prediction(each, row["product_id"])
            for part in ("hedonic", "brand_term", "own_xi"):
                assert row[part] == pytest.approx(direct[part], abs=1e-11), (row["product_id"], part)
            assert row["new_brand"] == direct["new_brand"]


def test_the_2026_market_back_test_compares_the_2026_baseline_with_the_sourced_2026_rates(market):
    from autopact.runs.backtest_policy import market_2026_backtest

    found = market_2026_backtest(market)
    base = 15.8 / (1 - 0.024)  # 2025 sales (million) behind Cox's -2.4% to 15.8 million
    assert found["range"] == pytest.approx([15.2 / base - 1, -0.024], rel=1e-12)
    result = simulate(load_scenario("baseline-2026"), market)
    before, after = result.metrics()
    assert found["predicted_sales_change"] == pytest.approx(after["total_units"] / before["total_units"] - 1, rel=1e-12)
    assert found["inside"] is (found["range"][0] <= found["predicted_sales_change"] <= found["range"][1])


def test_demand_back_test_by_hand(market):
    """The EFMP income limit from its three sourced numbers, and the two statistics recomputed from
    each household's choice probabilities: the low-income BEV elasticity by a central difference of
    the group's BEV purchases, the buyer-income share by summing purchases (an independent path from
    ``group_jacobian_parts``)."""
    from autopact.model.demand import individual_shares
    from autopact.outcomes.low_income import efmp_income_limit as income_limit
    from autopact.runs.backtest_demand import demand_backtest

    assert income_limit() == pytest.approx(4 * 20780 * 304.702 / 251.107, rel=1e-12)  # $100,861 of 2023
    result = demand_backtest(market)
    demand, prices = market.demand, market.data.prices
    bev = market.products["powertrain"].eq("BEV").to_numpy()
    among = demand.income < income_limit()

    def purchases(step, group):
        p = prices * np.where(bev, 1 + step, 1.0)
        s = individual_shares(market.xi - demand.alpha * p, p, demand)[0]
        return demand.weights[group] @ s[group][:, bev].sum(axis=1), demand.weights[group] @ s[group].sum(axis=1)

    h = 1e-5
    numeric = (np.log(purchases(h, among)[0]) - np.log(purchases(-h, among)[0])) / (np.log1p(h) - np.log1p(-h))
    row = result["low_income_bev_elasticity"]
    assert row["model"] == pytest.approx(numeric, rel=1e-7)  # measured 1e-10
    assert row["inside"] == (abs(row["model"] / -2.1 - 1) <= 0.10)
    everyone = np.ones(len(demand.income), bool)
    poorer = demand.income < 75000.0
    share = purchases(0.0, poorer)[1] / purchases(0.0, everyone)[1]
    assert result["buyers_income_below_75k"]["model"] == pytest.approx(share, rel=1e-12)


def test_bootstrap_intervals_of_the_entry_metrics():
    """The intervals' properties, each of which a wrong resampling breaks: equal errors give a point;
    the interval holds the metric of the whole list and is the same on every call (seeded); it
    narrows as the list grows (by about 1 / sqrt(n): 90 errors against 2,250 drawn from one law); and
    it covers the law's own value about 90% of the time: over 200 lists of 90 errors drawn from
    N(0, 1), the median |error|'s interval covers 0.6745 (the normal's upper quartile) and the mean's
    covers 0 in 80% to 97% of them."""
    from scipy import stats

    from autopact.runs.backtest_entry import bootstrap_intervals, error_metrics

    median_abs = float(stats.norm.ppf(0.75))  # the median of |e| for e ~ N(0, 1), 0.6745

    same = bootstrap_intervals(np.full(30, 0.3))
    assert same["median_abs_log_error"] == pytest.approx([0.3, 0.3]) and same["mean_log_error"] == pytest.approx([0.3, 0.3])
    rng = np.random.default_rng(7)
    small, large = rng.normal(0.0, 1.0, 90), rng.normal(0.0, 1.0, 2250)
    a, b = bootstrap_intervals(small), bootstrap_intervals(small)
    assert a == b
    lo, hi = a["median_abs_log_error"]
    assert lo <= float(np.median(np.abs(small))) <= hi
    mlo, mhi = a["mean_log_error"]
    assert mlo <= float(small.mean()) <= mhi
    narrow = np.diff(bootstrap_intervals(large)["median_abs_log_error"])[0]
    assert 2.5 < (hi - lo) / narrow < 10.0  # sqrt(25) = 5
    assert error_metrics([{"log_error": 0.5, "product_id": "a", "name": "A"}])["intervals"] is None  # one launch
    covered = np.zeros(2)
    for k in range(200):
        found = bootstrap_intervals(rng.normal(0.0, 1.0, 90), resamples=500, seed=k)
        covered += [found["median_abs_log_error"][0] < median_abs < found["median_abs_log_error"][1],
                    found["mean_log_error"][0] < 0.0 < found["mean_log_error"][1]]
    assert np.all((covered / 200 >= 0.80) & (covered / 200 <= 0.97)), covered / 200


def test_the_entry_line_reads_its_goals_and_intervals():
    """validate's summary line of the entry back-test, on a hand-made result: the goals as
    runs.validate.GOALS holds them (0.41 = log 1.5, x3 = exp(log 3)), the intervals where there are
    some, and the count of launches below which there are none."""
    from autopact.interfaces.cli_validate import _entry_line
    from autopact.runs.backtest_entry import BOOTSTRAP_FEWEST
    from autopact.runs.validate import GOALS

    entry = {"median_abs_log_error": 0.47, "mean_log_error": 0.003, "within_factor_1_5": 0.43, "beyond_factor_3": 15,
             "worst": {"name": "X", "ratio": 7.72},
             "intervals": {"level": 0.9, "median_abs_log_error": [0.4, 0.58], "mean_log_error": [-0.13, 0.13]}}
    passed = {"entry_median_abs_log_error": False, "entry_bias": True, "entry_worst": False}
    line = _entry_line(entry, passed, GOALS)
    assert "median |log error| 0.47 (goal <= 0.41, x1.5)" in line and "bias +0.00 (goal within +/-0.2)" in line
    assert "90% intervals over the launches (bootstrap, errors held fixed): median 0.40 to 0.58, bias -0.13 to +0.13" in line
    assert "worst X x7.72 (goal within x3)" in line and "43% within x1.5, 15 beyond x3" in line
    short = _entry_line({**entry, "intervals": None}, passed, {**GOALS, "entry_bias": 0.25})
    assert f"no intervals (fewer than {BOOTSTRAP_FEWEST} launches)" in short and "+/-0.25" in short
