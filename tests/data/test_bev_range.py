"""EPA driving range of the bundled BEVs (issue 11: the entrants' hedonic fit gains BEV x log range).

Every BEV product has an EPA label range except three named gaps, and the BEV remainders take the
mean range of the nameplates they hold, the rule of their other characteristics (PROVENANCE.md,
"EPA range")."""

from pathlib import Path

import pandas as pd
import pytest

from autopact.data import bundled_path

TOOLS = Path(__file__).resolve().parents[2] / "tools"


@pytest.fixture(scope="module")
def products() -> pd.DataFrame:
    return pd.read_csv(bundled_path("products_2025.csv")).set_index("product_id")


def test_every_bev_has_a_range_but_the_named_gaps(products):
    bev = products[products["powertrain"] == "BEV"]
    missing = set(bev.index[bev["range_miles_epa"].isna()])
    # commercial vans with no EPA record, and the A6 e-tron absent from the EPA file used
    assert missing == {"ford--e-transit--bev", "mercedes-benz--esprinter--bev", "audi--a6-e-tron--bev"}
    assert bev["range_source_note"][bev["range_miles_epa"].notna()].notna().all()


def test_filled_ranges_are_the_epa_maximum_of_their_configurations(products):
    fill = pd.read_csv(TOOLS / "bev_range_fill_2025.csv", dtype=str)
    for _, row in fill[fill["range_miles_epa"] != "GAP"].iterrows():
        # the configurations column lists every EPA record of the model year as "name range (id N)"
        ranges = [int(part.rsplit(" (id ", 1)[0].rsplit(" ", 1)[1]) for part in row["configurations"].split("; ")]
        assert int(row["range_miles_epa"]) == max(ranges), row["model"]
        assert f"id={row['fueleconomy_id']}" in row["source"]
    assert products.loc["kia--ev6--bev", "range_miles_epa"] == 319  # EV6 Long Range RWD, MY2025
    assert products.loc["lucid--gravity--bev", "range_miles_epa"] == 450  # was an unverified 337


def test_bev_remainders_take_the_mean_range_of_their_nameplates(products):
    # Charger Daytona 308 (MY2025 R/T 255/45R20) and the Maserati Folgore models 245 (Grecale 20-inch)
    other_stellantis = "jeep-ram-chrysler-dodge-fiat-alfa-romeo--other-jeep-ram-chrysler-dodge-fiat-alfa-romeo--bev"
    assert products.loc[other_stellantis, "range_miles_epa"] == pytest.approx((308 + 245) / 2)
    # Escalade IQ 450 (open-ev-data, unverified) and Vistiq 305 (MY2026)
    assert products.loc["cadillac--other-cadillac--bev", "range_miles_epa"] == pytest.approx((450 + 305) / 2)
    assert products.loc["cadillac--other-cadillac--bev", "range_source_note"].startswith("imputed")
    ice_remainders = products[(products["row_type"] == "brand_residual") & (products["powertrain"] != "BEV")]
    assert ice_remainders["range_miles_epa"].isna().all()
