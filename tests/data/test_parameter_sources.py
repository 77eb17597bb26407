"""The policy parameters the model reads against the published tables they cite (audit U17): each
tariff or credit parameter whose source names a row of ``tariff_parameters.csv`` holds that row's
number, and every parameter carries a source and a confidence."""

import re

import pytest

from autopact.data.tables import load_tariff_parameters, policy_parameters

# parameter -> the tariff_parameters.csv row its source cites
CITED = {
    "mfn_passenger_pct": "us-mfn-column-1-passenger-cars-incl-bev-hts-8703-80-all",
    "section_301_china_vehicle_pct": "us-section-301-list-1-2018-passenger-vehicles-hts-8703-incl-8703-80-shown-china-2018-07-06",
    "section_301_china_ev_pct": "us-section-301-2024-four-year-review-electric-vehicles-china-2024-09-27",
    "section_301_china_battery_pct": "us-section-301-2024-four-year-review-lithium-ion-ev-batteries-china-2024-09-27",
    "ieepa_china_pct": "us-ieepa-fentanyl-china-all-goods-china-2025-03-04",
    "credit_45x_cells_usd_per_kwh": "us-irc-45x-battery-cells-us-made-sold-to-unrelated-party-2023-01-01",
    "credit_45x_modules_usd_per_kwh": "us-irc-45x-battery-modules-2023-01-01",
}


def _number(row) -> float:
    """The row's numeric value, or the leading number of its rate text ("10 (45 if module without cells)")."""
    value = row["value_numeric"]
    if value == value and value is not None and str(value).strip():
        return float(value)
    return float(re.match(r"\s*([0-9.]+)", str(row["rate_or_value"])).group(1))


@pytest.mark.parametrize("parameter", sorted(CITED))
def test_a_tariff_parameter_is_the_number_of_the_row_it_cites(parameter):
    table, params = load_tariff_parameters(), policy_parameters()
    row = table.loc[CITED[parameter]]
    assert float(params.at[parameter, "value"]) == _number(row)
    assert str(params.at[parameter, "unit"]).split()[0] in str(row["unit"])  # % or USD


def test_every_policy_parameter_has_a_source_and_a_confidence():
    params = policy_parameters()
    assert params["source"].fillna("").str.strip().str.len().gt(0).all()
    assert set(params["confidence"]) <= {"high", "medium", "low"}
