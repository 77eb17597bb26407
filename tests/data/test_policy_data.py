"""Chinese candidates, tariff, cost and firm tables: present, named, sourced."""

import pytest

from autopact.data import (
    load_chinese_candidates, load_costs, load_firms, load_tariff_parameters, reference_parameters,
)


def test_chinese_candidates_keep_raw_columns_and_convert_range():
    c = load_chinese_candidates()
    assert {"maker_group", "brand", "model", "powertrain", "battery_kwh", "chemistry", "range_km",
            "range_cycle", "price_china_cny", "price_europe", "price_europe_ccy", "sources"} <= set(c.columns)
    assert set(c["maker_group"]) >= {"BYD", "Geely"}
    seagull = c[(c["model"] == "Seagull") & c["variant"].str.startswith("Active")].iloc[0]
    factor = reference_parameters().loc["range_factor_cltc_to_epa", "value"]
    assert seagull["range_miles_epa_equivalent"] == pytest.approx(305 * factor / 1.609344)
    # PHEV totals are never converted as if they were electric range.
    shark = c[c["model"] == "Shark 6"].iloc[0]
    assert shark["range_miles_epa_equivalent"] != shark["range_miles_epa_equivalent"]  # NaN


def test_tariff_stack_has_named_sourced_parameters():
    t = load_tariff_parameters()
    ev301 = t[(t["instrument"] == "Section 301 (2024 four-year review)") & (t["product_scope"] == "electric vehicles")]
    assert ev301["value_numeric"].iloc[0] == 100
    # Every row cites a page, except the three additive totals, which say they are derived sums.
    assert (t["source"].str.contains("http") | t["derived"].str.startswith("yes")).all()
    assert t.index.is_unique


def test_costs_and_firms_are_named_and_sourced():
    costs = load_costs()
    assert costs.index.is_unique and costs["source"].notna().all()
    assert (costs["category"] == "labor").sum() >= 5
    firms = load_firms()
    assert firms.loc["Geely (Volvo Cars)", "nationality"] == "China"
