"""Broken inputs give a clear error naming file, line, column and value; the CLI exits non-zero."""

import json
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from autopact.data import MarketDataError, load_market

CASES = [
    ("units", -5, "greater than 0"),
    ("units", np.nan, "units are missing"),
    ("units", 12.5, "whole number"),
    ("powertrain", "steam", "must be one of"),
    ("segment", "tractor", "must be one of"),
    ("msrp_usd", "cheap", "must be a number"),
    ("msrp_usd", -100, "greater than 0"),
]


@pytest.mark.parametrize("column, bad, expected", CASES)
def test_each_bad_cell_is_reported_with_its_location(bundled_products, write_csv, column, bad, expected):
    table = bundled_products.astype({column: object})
    table.loc[7, column] = bad
    path = write_csv(table)
    with pytest.raises(MarketDataError) as info:
        load_market(path=path)
    issue = info.value.issues[0]
    assert (issue.file, issue.line, issue.column) == ("market.csv", 9, column)
    assert expected in issue.message
    assert "market.csv, line 9, column '" + column + "'" in str(info.value)


def test_duplicate_product_ids(bundled_products, write_csv):
    table = bundled_products.copy()
    table.loc[5, "product_id"] = table.loc[4, "product_id"]
    with pytest.raises(MarketDataError) as info:
        load_market(path=write_csv(table))
    assert [(i.line, i.column, i.message) for i in info.value.issues] == [(7, "product_id", "duplicate product id")]


def test_units_exceeding_the_market(bundled_products, write_csv):
    table = bundled_products.copy()
    table["units"] = table["units"] * 10
    with pytest.raises(MarketDataError) as info:
        load_market(path=write_csv(table))
    messages = " ".join(i.message for i in info.value.issues)
    assert "more than the market total" in messages and "shares sum to more than 1" in messages


def test_missing_column_and_unsourced_price(bundled_products, write_csv):
    with pytest.raises(MarketDataError, match="column 'units': required column is missing"):
        load_market(path=write_csv(bundled_products.drop(columns="units")))
    table = bundled_products.copy()
    observed = table.index[table["msrp_imputed"] == False][0]  # noqa: E712
    table.loc[observed, "msrp_source"] = np.nan
    with pytest.raises(MarketDataError, match="neither a source nor an imputation flag"):
        load_market(path=write_csv(table))


@settings(max_examples=25, deadline=None)
@given(row=st.integers(0, 262), case=st.sampled_from(CASES))
def test_any_corrupted_row_is_located(tmp_path_factory, row, case):
    import pandas as pd
    from autopact.data import bundled_path
    column, bad, expected = case
    table = pd.read_csv(bundled_path("products_2025.csv")).astype({column: object})
    table.loc[row, column] = bad
    path = tmp_path_factory.mktemp("h") / "m.csv"
    table.to_csv(path, index=False)
    with pytest.raises(MarketDataError) as info:
        load_market(path=path)
    assert any(i.line == row + 2 and i.column == column and expected in i.message for i in info.value.issues)


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "autopact.interfaces.cli", *args], capture_output=True, text=True, timeout=600)


def test_cli_validate_bad_file_exits_2_without_traceback(bundled_products, write_csv):
    table = bundled_products.astype({"powertrain": object})
    table.loc[0, "powertrain"] = "diesel-electric"
    result = _cli("data", "validate", str(write_csv(table)))
    assert result.returncode == 2
    assert "line 2, column 'powertrain'" in result.stderr and "diesel-electric" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_cli_validate_good_file_and_bad_assumption(bundled_products, write_csv):
    good = _cli("data", "validate", str(write_csv(bundled_products)))
    assert good.returncode == 0 and "valid" in good.stdout
    bad = _cli("data", "summary", "--set", "price_level=wholesale")
    assert bad.returncode == 2 and "price_level" in bad.stderr and "Traceback" not in bad.stderr
    missing = _cli("data", "validate", "/nonexistent/market.csv")
    assert missing.returncode == 2 and "file not found" in missing.stderr


def test_cli_summary_json():
    result = _cli("data", "summary", "--json")
    assert result.returncode == 0, result.stderr
    s = json.loads(result.stdout)
    for key in ("products", "units_total", "units_covered_share", "bev_products", "bev_units",
                "imputed_price_units_share", "units_by_nationality"):
        assert key in s
    # 16,047,501: recomputed from the raw ../shared/data files in tests/data/test_golden_totals_sources.py
    assert s["units_total"] == 16_047_501
