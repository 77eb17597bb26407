"""Section 232 by origin: the dated table, the stack by origin (hand-computed oracles), the 2025
days-weighted rate, the rates in force after the deals, no-section-232 and the back-test.

Days of 2025 (365): before 3 Apr 92 (MFN only); 3 Apr-31 Dec 273. Deal dates split the 273:
EU 120 | 153 (1 Aug), Japan 166 | 107 (16 Sep), Korea 212 | 61 (1 Nov), UK 88 | 185 (30 Jun).
"""

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from autopact.data import load_market, policy_parameters, read_bundled
from autopact.data.tariffs import (
    GENERAL, format_section_232_backtest, section_232_backtest, section_232_origin, section_232_table, tariff_stack,
)
from autopact.policy.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "data"
REL = 1e-12


@pytest.fixture(scope="module")
def params() -> dict[str, float]:
    return policy_parameters()["value"].astype(float).to_dict()


def stack(country: str, segment: str, powertrain: str, params: dict[str, float]) -> float:
    """The stack (%) on one product assembled in ``country``."""
    product = pd.DataFrame({"segment": [segment], "powertrain": [powertrain]})
    return 100.0 * float(tariff_stack(product, pd.DataFrame({country: [1.0]}), params)[0])


def test_parameters_are_the_published_rates(params):
    # every rate of the dated table is carried by a named parameter with the same value
    table = section_232_table()
    for _, row in table.iterrows():
        assert params[row["parameter"]] == row["rate_pct"], row["origin"]
    assert params["section_232_autos_pct"] == 25 and params["section_232_rate_year"] == 2025
    assert params["section_232_eu_all_in_pct"] == params["section_232_japan_all_in_pct"] \
        == params["section_232_korea_all_in_pct"] == 15
    assert params["section_232_uk_in_quota_pct"] == 7.5 and params["section_232_uk_in_quota_share"] == 1
    general = table[table["origin"].eq(GENERAL)].iloc[0]
    assert general["effective_from"] == "2025-04-03"
    assert dict(zip(table["origin"], table["effective_from"])) | {"United Kingdom": "2025-06-30"} == {
        GENERAL: "2025-04-03", "USMCA": "2025-04-03", "EU": "2025-08-01", "Japan": "2025-09-16",
        "South Korea": "2025-11-01", "United Kingdom": "2025-06-30"}
    assert table.loc[table["origin"].eq("United Kingdom"), "quota_units"].tolist() == [65205, 100000]
    assert table["source"].str.contains("http").all()


def test_assembly_and_home_countries_map_to_their_origin():
    products = read_bundled("products_2025.csv")
    countries = {c.strip() for listed in products["assembly_countries"].dropna() for c in listed.split(";")}
    countries |= set(read_bundled("firms.csv")["owner_country"])
    eu = {"Austria", "Belgium", "Germany", "Hungary", "Italy", "Netherlands", "Slovakia", "Sweden"}
    assert eu <= countries  # the EU members the data name, all mapped to "EU"
    expected = {c: "EU" for c in eu} | {"Mexico": "USMCA", "Canada": "USMCA", "Japan": "Japan",
                                        "South Korea": "South Korea", "United Kingdom": "United Kingdom"}
    for country in countries - {"United States"}:
        assert section_232_origin(country) == expected.get(country, GENERAL), country
    assert section_232_origin("China") == GENERAL and section_232_origin("Czechia") == "EU"


def test_stack_by_origin_2025_hand_computed(params):
    days = 365
    assert stack("Japan", "car", "ICE", params) == pytest.approx(2.5 + (166 * 25 + 107 * 12.5) / days, rel=REL)
    # a light truck's MFN (25) is already 15 or more: no add-on after the deal
    assert stack("Japan", "pickup", "ICE", params) == pytest.approx(25 + 166 * 25 / days, rel=REL)
    assert stack("Germany", "car", "ICE", params) == pytest.approx(2.5 + (120 * 25 + 153 * 12.5) / days, rel=REL)
    assert stack("Hungary", "SUV-crossover", "BEV", params) == pytest.approx(2.5 + (120 * 25 + 153 * 12.5) / days, rel=REL)
    assert stack("Germany", "pickup", "ICE", params) == pytest.approx(25 + 120 * 25 / days, rel=REL)
    assert stack("South Korea", "SUV-crossover", "ICE", params) == pytest.approx(2.5 + (212 * 25 + 61 * 12.5) / days, rel=REL)
    # Korea's deal covers cars only (light trucks not stated): the general rule
    assert stack("South Korea", "pickup", "ICE", params) == pytest.approx(25 + 273 * 25 / days, rel=REL)
    # UK cars within the quota (share 1): 7.5 from 30 Jun; UK light trucks are outside the quota
    assert stack("United Kingdom", "SUV-crossover", "ICE", params) == pytest.approx(2.5 + (88 * 25 + 185 * 7.5) / days, rel=REL)
    assert stack("United Kingdom", "pickup", "ICE", params) == pytest.approx(25 + 273 * 25 / days, rel=REL)
    # USMCA: no MFN, 25% on the non-US content share (1 here) from 3 Apr
    assert stack("Mexico", "pickup", "ICE", params) == pytest.approx(273 * 25 * 1.0 / days, rel=REL)
    assert stack("Canada", "car", "ICE", params) == pytest.approx(273 * 25 / days, rel=REL)
    # China BEV: MFN 2.5 + Section 301 EV 100 + IEEPA 20 + Section 232 from 3 Apr
    assert stack("China", "SUV-crossover", "BEV", params) == pytest.approx(2.5 + 100 + 20 + 273 * 25 / days, rel=REL)
    assert stack("China", "car", "ICE", params) == pytest.approx(2.5 + 25 + 20 + 273 * 25 / days, rel=REL)
    assert stack("United States", "car", "ICE", params) == 0


def test_stack_in_force_after_the_deals(params):
    later = {**params, "section_232_rate_year": 2026}
    assert stack("Japan", "car", "ICE", later) == pytest.approx(15, rel=REL)
    assert stack("Japan", "pickup", "ICE", later) == pytest.approx(25, rel=REL)
    assert stack("Italy", "van", "ICE", later) == pytest.approx(15, rel=REL)
    assert stack("South Korea", "car", "ICE", later) == pytest.approx(15, rel=REL)
    assert stack("United Kingdom", "car", "ICE", later) == pytest.approx(10, rel=REL)
    assert stack("United Kingdom", "car", "ICE", {**later, "section_232_uk_in_quota_share": 0.25}) == \
        pytest.approx(2.5 + 0.25 * 7.5 + 0.75 * 25, rel=REL)
    assert stack("Mexico", "car", "ICE", {**later, "usmca_non_us_content_share": 0.5}) == pytest.approx(12.5, rel=REL)
    assert stack("China", "car", "BEV", later) == pytest.approx(2.5 + 100 + 20 + 25, rel=REL)
    assert stack("Japan", "car", "ICE", {**params, "section_232_rate_year": 2024}) == pytest.approx(2.5, rel=REL)
    with pytest.raises(ValueError, match="whole year"):
        stack("Japan", "car", "ICE", {**params, "section_232_rate_year": 2025.5})


def test_a_deal_only_lowers_the_general_rate(params):
    # all-in 15 on a 2.5% car is an add-on of 12.5; with a general rate of 10 the deal cannot raise it
    later = {**params, "section_232_rate_year": 2026, "section_232_autos_pct": 10}
    assert stack("Japan", "car", "ICE", later) == pytest.approx(12.5, rel=REL)
    assert stack("United Kingdom", "car", "ICE", {**later, "section_232_autos_pct": 5}) == pytest.approx(7.5, rel=REL)


@pytest.mark.parametrize("year", [2025, 2026])
def test_no_section_232_removes_the_layer_for_every_origin(params, year):
    scenario = load_scenario("no-section-232")
    removed = {**params, **scenario.parameters, "section_232_rate_year": year}
    alone = {**params, "section_232_autos_pct": 0.0, "section_232_rate_year": year}
    for country, segment in [("Japan", "car"), ("Germany", "pickup"), ("South Korea", "car"), ("United Kingdom", "car"),
                             ("Mexico", "car"), ("China", "car"), ("South Africa", "pickup")]:
        mfn = 0.0 if country == "Mexico" else (25.0 if segment == "pickup" else 2.5)
        china = 25.0 + 20.0 if country == "China" else 0.0
        assert stack(country, segment, "ICE", removed) == pytest.approx(mfn + china, rel=REL)
        assert stack(country, segment, "ICE", alone) == pytest.approx(mfn + china, rel=REL)


def test_backtest_matches_the_published_table(params):
    result = section_232_backtest(params).set_index(["country", "vehicle"])
    days = 365
    by_hand = {
        ("Germany", "car"): 2.5 + (120 * 25 + 153 * 12.5) / days,
        ("Germany", "light truck"): 25 + 120 * 25 / days,
        ("Japan", "car"): 2.5 + (166 * 25 + 107 * 12.5) / days,
        ("Japan", "light truck"): 25 + 166 * 25 / days,
        ("South Korea", "car"): 2.5 + (212 * 25 + 61 * 12.5) / days,
        ("South Korea", "light truck"): 25 + 273 * 25 / days,
        ("United Kingdom", "car"): 2.5 + (88 * 25 + 185 * 7.5) / days,
        ("United Kingdom", "light truck"): 25 + 273 * 25 / days,
        ("Mexico", "car"): 273 * 25 / days, ("Canada", "light truck"): 273 * 25 / days,
        ("China", "car"): 2.5 + 273 * 25 / days, ("South Africa", "light truck"): 25 + 273 * 25 / days,
    }
    for key, value in by_hand.items():
        assert result.loc[key, "model_pct"] == pytest.approx(value, rel=REL), key
        assert result.loc[key, "published_mean_pct"] == pytest.approx(value, rel=REL), key
    assert np.allclose(result["difference_pct"], 0, atol=1e-12)
    in_force = {("Germany", "car"): 15, ("Japan", "car"): 15, ("South Korea", "car"): 15, ("United Kingdom", "car"): 10,
                ("Mexico", "car"): 25, ("China", "car"): 27.5, ("Japan", "light truck"): 25}
    for key, value in in_force.items():
        assert result.loc[key, "published_in_force_pct"] == pytest.approx(value, rel=REL), key
    assert result.loc[("Japan", "car"), ["published_min_pct", "published_max_pct"]].tolist() == [2.5, 27.5]
    text = format_section_232_backtest(section_232_backtest(params))
    assert "South Korea" in text and "model_pct" in text


def test_uk_built_sales_fit_the_2025_quota():
    # the reason given for section_232_uk_in_quota_share = 1 (policy_parameters.csv)
    products = read_bundled("products_2025.csv")
    uk = products["assembly_countries"].fillna("").str.split(";").map(lambda c: "United Kingdom" in [x.strip() for x in c])
    assert int(products.loc[uk, "units"].sum()) == 54654 < 65205
    assert "54,654" in policy_parameters().at["section_232_uk_in_quota_share", "source"]


def test_baseline_customs_values_use_the_2025_rate():
    # a Japan-built car of the calibrated market: cost = customs value x (1 + the 2025 stack)
    from autopact.fit.market import bundled_parameters, incumbents
    from autopact.data.tariffs import origin_weights
    table = incumbents(load_market(2025))
    params = bundled_parameters()
    origin = origin_weights(table["assembly_countries"], table["home_country"], params["unknown_assembly_import_share"])
    rate = tariff_stack(table, origin, params)
    japan_car = (table["assembly_countries"].eq("Japan") & table["segment"].ne("pickup")).to_numpy()
    assert japan_car.any()
    assert np.allclose(rate[japan_car], (2.5 + (166 * 25 + 107 * 12.5) / 365) / 100, rtol=REL)


@pytest.mark.skipif(not (SHARED / "policy_and_costs" / "tariffs_and_rules.md").exists(), reason="raw shared data not present")
def test_build_reproduces_the_dated_table_and_checks_it_against_the_docs(tmp_path):
    spec = importlib.util.spec_from_file_location("build_data", ROOT / "tools" / "build_data.py")
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    log: list[str] = []
    table = build.build_section_232(SHARED, read_bundled("products_2025.csv"), read_bundled("firms.csv"), log)
    table.to_csv(tmp_path / "section_232_rates.csv", index=False)
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "section_232_rates.csv"), read_bundled("section_232_rates.csv"))
    assert "Germany -> EU" in log[0] and "Mexico -> USMCA" in log[0]
    # a transcription error is refused
    wrong = tmp_path / "tools"
    wrong.mkdir()
    rows = pd.read_csv(build.TOOLS / "section_232_rates.csv")
    rows.loc[rows["origin"].eq("Japan"), "effective_from"] = "2025-09-15"
    rows.to_csv(wrong / "section_232_rates.csv", index=False)
    build.TOOLS = wrong
    with pytest.raises(SystemExit, match="Japan"):
        build.build_section_232(SHARED, read_bundled("products_2025.csv"), read_bundled("firms.csv"), [])
