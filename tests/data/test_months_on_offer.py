"""Months of 2025 on offer to new orders are a fact about each 2025 product (issue 11): products_2025.csv
carries them (`months_on_offer_2025`, with `months_on_offer_source`), built by tools/build_data.py from the
sourced launch list (`backtest_launches.csv` months_on_sale_2025) and run-outs (`run_outs_2025.csv`, read
last), and the hedonic fit reads that column rather than the back-test's files."""

import numpy as np
import pandas as pd

from autopact.data import read_bundled


def test_months_on_offer_column_equals_its_sources():
    products = read_bundled("products_2025.csv").set_index("product_id")
    expected = pd.Series(12.0, index=products.index)
    for name, column in (("backtest_launches.csv", "months_on_sale_2025"), ("run_outs_2025.csv", "months_on_offer_2025")):
        table = read_bundled(name)
        assert set(table["product_id"]) <= set(products.index), name
        values = pd.to_numeric(table[column], errors="coerce")
        for pid, value in zip(table["product_id"], values):
            if pd.notna(value):
                expected[pid] = float(value)
                assert products.at[pid, "months_on_offer_source"].startswith(f"{name} {column}"), pid
    pd.testing.assert_series_equal(products["months_on_offer_2025"].astype(float), expected, check_names=False)
    assert products.loc[expected.eq(12.0) & ~products["months_on_offer_source"].str.contains(".csv"),
                        "months_on_offer_source"].str.startswith("on offer all year").all()
    # the listed short years, as the sources give them (Polestar 2: new orders ended 3 Apr 2025; the UK-built
    # Cooper SE sold only from stock; the A6 e-tron first sold in October)
    assert products.loc[["polestar--polestar-2--bev", "mini--cooper-se-cooper-e--bev", "audi--a6-e-tron--bev"],
                        "months_on_offer_2025"].tolist() == [3.0, 0.0, 3.0]


def test_the_hedonic_fit_reads_the_markets_own_months_not_the_bundled_table(tmp_path):
    """A user's product table is read for its own months on offer: a product shortened to 4 months in
    the user's copy counts 4 (not the bundled 12), and a table without the column counts 12 for
    every product, a bundled run-out included (on main both read the bundled table by product id)."""
    from autopact.data import load_market
    from autopact.fit.market import incumbents
    from autopact.policy.hedonic import months_on_offer

    table = read_bundled("products_2025.csv")
    table.loc[table["product_id"].eq("toyota--rav4--ice"), "months_on_offer_2025"] = 4.0
    table.to_csv(tmp_path / "own.csv", index=False)
    own = incumbents(load_market(path=tmp_path / "own.csv")).set_index("product_id", drop=False)
    months = months_on_offer(own.loc[["toyota--rav4--ice", "audi--a6-e-tron--bev", "polestar--polestar-2--bev"]])
    np.testing.assert_array_equal(months, [4.0, 3.0, 3.0])
    table.drop(columns=["months_on_offer_2025"]).to_csv(tmp_path / "without.csv", index=False)
    without = incumbents(load_market(path=tmp_path / "without.csv"))
    np.testing.assert_array_equal(months_on_offer(without), np.full(len(without), 12.0))
    assert (months_on_offer(pd.DataFrame({"product_id": ["an--entrant"]})) == 12.0).all()


def test_months_on_offer_outside_zero_to_twelve_is_a_data_error_naming_the_field(tmp_path):
    import pytest

    from autopact.data import MarketDataError, load_market

    table = read_bundled("products_2025.csv")
    table.loc[0, "months_on_offer_2025"] = 13
    table.to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(MarketDataError, match="months_on_offer_2025"):
        load_market(path=tmp_path / "bad.csv")


def end_of_period(date: str) -> pd.Timestamp:
    """The last day of a date given as YYYY-MM-DD, YYYY-MM or YYYY (the period pandas reads it as)."""
    return pd.Period(date).end_time.normalize()


def test_run_outs_months_follow_their_dates_and_the_launch_list_defers_to_them():
    """A run-out's months on offer are the months of 2025 before new orders ended, to the nearest month
    (3 Apr -> 3, 28 Feb -> 2, 23 Sep -> 9; ended in 2024 -> 0; a date the source gives as a month or a
    year only ends at that period's last day, the most months it could have been on offer, as the launch
    list takes the first month of a season), and its launch-list row leaves
    `months_on_sale_2025` blank so that the entry back-test compares it on the same months."""
    run_outs = read_bundled("run_outs_2025.csv")
    ended = run_outs["last_new_orders"].astype(str).map(end_of_period)
    days = (ended - pd.Timestamp("2025-01-01")).dt.days.clip(lower=0)
    assert run_outs["months_on_offer_2025"].tolist() == (days / (365 / 12)).round().astype(int).tolist()
    launches = read_bundled("backtest_launches.csv").set_index("product_id")
    listed = [pid for pid in run_outs["product_id"] if pid in launches.index]
    assert {"audi--q8-e-tron-sq8-e-tron--bev", "acura--zdx--bev", "polestar--polestar-2--bev"} <= set(listed)
    assert launches.loc[listed, "months_on_sale_2025"].isna().all()
    assert launches.loc[listed, "on_sale_source"].str.startswith("run_outs_2025.csv").all()
