"""Sourced base MSRPs for nameplates that had an imputed one (issue 11: imputed prices distort every mean
utility and cost of the calibration). tools/msrp_fill_2025.csv and msrp_fill_2025_b.csv (_c and _d where present) are read by
tools/build_data.py before the hedonic imputation; the bundled table must carry them as quoted prices."""

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from autopact.data import bundled_path

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / "tools"
FILLS = [TOOLS / "msrp_fill_2025.csv", *(TOOLS / f"msrp_fill_2025_{x}.csv" for x in "bcd")]


def load_build():
    spec = importlib.util.spec_from_file_location("build_data", TOOLS / "build_data.py")
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    return build


@pytest.fixture(scope="module")
def products() -> pd.DataFrame:
    return pd.read_csv(bundled_path("products_2025.csv")).set_index("product_id")


@pytest.fixture(scope="module")
def fills() -> pd.DataFrame:
    return pd.concat([pd.read_csv(p, dtype=str, keep_default_na=False).assign(fill_file=p.name)
                      for p in FILLS if p.exists()], ignore_index=True)


def test_every_fill_row_is_a_quoted_price_in_the_bundled_table(products, fills):
    assert len(fills) > 0
    for _, r in fills.iterrows():
        row = products.loc[r["product_id"]]
        assert not bool(row["msrp_imputed"]), r["product_id"]
        assert row["msrp_quoted_usd"] == float(r["msrp_usd"]), r["product_id"]
        assert row["msrp_model_year"] == int(r["model_year"]), r["product_id"]
        assert row["msrp_destination_basis"] == r["destination_basis"], r["product_id"]
        assert row["msrp_source"].endswith(f"[{r['fill_file']}]"), r["product_id"]
        # the usual normalisation: destination out where included, the model year's CPI factor
        destination = 0.0
        if r["destination_basis"] == "included":
            ref = pd.read_csv(bundled_path("reference_parameters.csv")).set_index("name")["value"]
            destination = ref["destination_charge_2025_usd"]
        expected = (float(r["msrp_usd"]) - destination) * row["msrp_inflation_factor"]
        assert row["msrp_usd"] == pytest.approx(expected, rel=1e-12), r["product_id"]


def test_fill_rows_cite_a_page(fills):
    assert fills["source"].str.contains("http").all()
    assert fills["destination_basis"].isin(["included", "excluded", "not stated"]).all()


def small_table() -> pd.DataFrame:
    return pd.DataFrame({"make": ["GMC", "Toyota"], "model": ["Yukon / Yukon XL", "RAV4"],
                         "powertrain": ["ICE", "ICE"], "msrp_quoted_usd": [np.nan, 30645.0],
                         "msrp_excl_destination_raw": [np.nan, np.nan], "msrp_model_year_raw": [np.nan, "2025"],
                         "msrp_includes_destination_raw": [np.nan, "yes"], "msrp_trim": [np.nan, "LE"],
                         "msrp_source": [np.nan, "x"]})


def write_fill(path: Path, product_id: str, make: str, model: str) -> Path:
    pd.DataFrame([{"product_id": product_id, "make": make, "model": model, "msrp_usd": "60000",
                   "model_year": "2025", "trim": "SLE", "destination_basis": "excluded",
                   "source": "https://example.org (\"starts at $60,000\")", "note": ""}]).to_csv(path, index=False)
    return path


def test_fill_sets_the_raw_price_columns(tmp_path):
    build = load_build()
    path = write_fill(tmp_path / "fill.csv", "gmc--yukon-yukon-xl--ice", "GMC", "Yukon / Yukon XL")
    log: list[str] = []
    out = build.fill_msrps(small_table(), log, (path, tmp_path / "absent.csv"))
    assert out.at[0, "msrp_quoted_usd"] == 60000.0
    assert out.at[0, "msrp_includes_destination_raw"] == "no"
    assert out.at[0, "msrp_source"].endswith("[fill.csv]")
    assert "GMC Yukon / Yukon XL $60,000" in log[0]


@pytest.mark.parametrize("product_id,make,model,message", [
    ("gmc--yukon--ice", "GMC", "Yukon", "matches 0 products"),
    ("toyota--rav4--ice", "Toyota", "RAV4", "already has a quoted MSRP"),
])
def test_fill_stops_on_an_unknown_or_quoted_product(tmp_path, product_id, make, model, message):
    build = load_build()
    path = write_fill(tmp_path / "fill.csv", product_id, make, model)
    with pytest.raises(SystemExit, match=message):
        build.fill_msrps(small_table(), [], (path,))


def test_fill_stops_on_a_product_listed_in_both_files(tmp_path):
    build = load_build()
    a = write_fill(tmp_path / "a.csv", "gmc--yukon-yukon-xl--ice", "GMC", "Yukon / Yukon XL")
    b = write_fill(tmp_path / "b.csv", "gmc--yukon-yukon-xl--ice", "GMC", "Yukon / Yukon XL")
    with pytest.raises(SystemExit, match="listed twice"):
        build.fill_msrps(small_table(), [], (a, b))
