"""The entry back-test's launch list (backtest_launches.csv) agrees with the 2025 table it is drawn from.

The back-test takes each launch's units and price from the market (products_2025.csv); the list's own
`units_2025` and `msrp_usd` are copies kept for reading the file alone, so a copy that drifted from
the table (the Maverick ICE row kept the ICE+HEV total after the table split the hybrid out) misleads
whoever reads it. The year columns must agree with each other, because the launch term is chosen by
the band of `years_on_sale_in_2025` and a 2025 launch is compared on its `months_on_sale_2025`."""

from __future__ import annotations

import pandas as pd
import pytest

from autopact.data import read_bundled


@pytest.fixture(scope="module")
def launches() -> pd.DataFrame:
    return read_bundled("backtest_launches.csv")


def test_every_launch_is_a_model_row_with_its_units_and_price_copied(launches: pd.DataFrame) -> None:
    products = read_bundled("products_2025.csv").set_index("product_id")
    assert launches["product_id"].is_unique
    rows = products.loc[launches["product_id"]]
    assert (rows["row_type"] == "model").all()
    assert launches["units_2025"].tolist() == rows["units"].astype(int).tolist()
    assert launches["msrp_usd"].to_numpy() == pytest.approx(rows["msrp_usd"].to_numpy(), rel=1e-12)
    assert launches["make"].tolist() == rows["make"].tolist()
    assert launches["powertrain"].tolist() == rows["powertrain"].tolist()


def test_launch_years_months_and_sources_agree(launches: pd.DataFrame) -> None:
    assert launches["launch_year"].between(2019, 2025).all()
    assert (launches["years_on_sale_in_2025"] == 2026 - launches["launch_year"]).all()
    assert set(launches["confidence"]) <= {"high", "medium", "low"}
    assert launches["launch_source"].fillna("").str.strip().ne("").all()
    of_2025 = launches["launch_year"] == 2025
    months = pd.to_numeric(launches["months_on_sale_2025"])
    first = pd.to_datetime(launches.loc[of_2025, "first_us_sales_month"], format="%Y-%m")
    # a 2025 launch was on sale from its first month to December, at most (Gravity: all year, stalled)
    assert (months[of_2025] <= 13 - first.dt.month).all()
    short = set(launches.loc[months < 12, "product_id"])
    assert short <= set(launches.loc[of_2025, "product_id"]) | set(read_bundled("run_outs_2025.csv")["product_id"])
