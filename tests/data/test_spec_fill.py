"""Sourced horsepower, size and efficiency fills (issue 11: imputed characteristics distort every mean
utility, the hedonic fit and the entry back-test). tools/build_data.py reads tools/spec_fill_2025_*.csv
(tools/spec_fill.py) before ``impute()``: a filled cell is not imputed and the horsepower OLS fits on it,
a raw value is never overwritten, and a split nameplate's ICE and HEV rows share horsepower and size.

The figures written here are test inputs, not data: each test builds from the real raw files with a
fill file of its own in place of the committed ones."""

import importlib.util
import re
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / "tools"
SHARED = ROOT.parent / "shared" / "data"
COLUMNS = ["product_id", "make", "model", "powertrain", "horsepower", "length_in", "width_in",
           "efficiency_mpg_or_mpge", "model_year", "trim", "source", "note"]
needs_shared = pytest.mark.skipif(not (SHARED / "us_market" / "products_2025.csv").exists(),
                                  reason="raw shared data not present")


def load_build():
    spec = importlib.util.spec_from_file_location("build_data", TOOLS / "build_data.py")
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    return build


def write_fill(path: Path, rows: list[dict]) -> Path:
    full = [{c: "" for c in COLUMNS} | {"model_year": "2025", "trim": "base", "source": "https://example.org 'x'"}
            | r for r in rows]
    pd.DataFrame(full, columns=COLUMNS).to_csv(path, index=False)
    return path


def build_with(fill: Path) -> tuple[pd.DataFrame, list[str]]:
    build = load_build()
    build.SPEC_FILLS = (fill,)
    log: list[str] = []
    products = build.build_products(SHARED, build.reference_parameters(), pd.read_csv(TOOLS / "firms.csv"), log)
    return products.set_index("product_id"), log


ENVISTA = {"product_id": "buick--envista--ice", "make": "Buick", "model": "Envista", "powertrain": "ICE"}
HIGHLANDER_HEV = {"product_id": "toyota--highlander--hev", "make": "Toyota", "model": "Highlander",
                  "powertrain": "HEV"}


@pytest.fixture(scope="module")
def filled(tmp_path_factory) -> tuple[pd.DataFrame, list[str], pd.DataFrame]:
    path = write_fill(tmp_path_factory.mktemp("fill") / "spec_fill_test.csv", [
        ENVISTA | {"horsepower": "155"},
        HIGHLANDER_HEV | {"horsepower": "245", "efficiency_mpg_or_mpge": "35"},
    ])
    build = load_build()
    build.SPEC_FILLS = ()
    base = build.build_products(SHARED, build.reference_parameters(), pd.read_csv(TOOLS / "firms.csv"), [])
    products, log = build_with(path)
    return products, log, base.set_index("product_id")


@needs_shared
def test_a_filled_horsepower_is_not_imputed_and_joins_the_fit(filled):
    products, log, base = filled
    row = products.loc["buick--envista--ice"]
    assert row["horsepower"] == 155.0 and not bool(row["horsepower_imputed"])
    assert bool(base.loc["buick--envista--ice", "horsepower_imputed"])  # imputed without the fill
    assert row["spec_source"].endswith("[spec_fill_test.csv]") and "horsepower 155" in row["spec_source"]
    # the horsepower OLS fits on the sourced rows: two more nameplates (Envista, Highlander) than without
    fit_n = re.search(r"horsepower: \d+ rows by OLS on log price and size \(n=(\d+)", "\n".join(log))
    assert int(fit_n.group(1)) == int(re.search(r"n=(\d+)", base.loc["gmc--acadia--ice",
                                                                        "horsepower_imputation"]).group(1)) + 2
    assert any(line.startswith("spec fill: 2 rows from spec_fill_test.csv: horsepower 2") for line in log)
    # columns of the table are unchanged (the helper columns are dropped)
    assert list(products.columns) == list(base.columns)


@needs_shared
def test_a_split_nameplate_shares_horsepower_and_keeps_its_own_efficiency(filled):
    products, _, base = filled
    ice, hev = products.loc["toyota--highlander--ice"], products.loc["toyota--highlander--hev"]
    # horsepower given on the HEV row applies to both rows (the base trim's), until the HEV row takes its
    # priced hybrid trim's (tools/hybrid_trims_2025.csv: the Highlander Hybrid XLE's 243)
    assert ice["horsepower"] == 245.0 and hev["horsepower"] == 243.0
    assert not bool(ice["horsepower_imputed"]) and not bool(hev["horsepower_imputed"])
    # efficiency applies to its own row only: the HEV row's is sourced, the ICE row's stays as it was
    assert hev["efficiency_mpg_or_mpge"] == 35.0 and not bool(hev["efficiency_imputed"])
    assert "[spec_fill_test.csv]" in hev["efficiency_source"]
    assert ice["efficiency_mpg_or_mpge"] == base.loc["toyota--highlander--ice", "efficiency_mpg_or_mpge"]
    assert bool(ice["efficiency_imputed"])
    assert bool(base.loc["toyota--highlander--hev", "efficiency_imputed"])


@needs_shared
@pytest.mark.parametrize("row, message", [
    ({"product_id": "buick--envoy--ice", "make": "Buick", "model": "Envoy", "powertrain": "ICE",
      "horsepower": "155"}, r"spec_fill_test.csv: product_id='buick--envoy--ice' matches 0 products"),
    # Envista offers no hybrid: its HEV row is never split out, caught after the splits
    (ENVISTA | {"product_id": "buick--envista--hev", "powertrain": "HEV", "horsepower": "155"},
     r"spec_fill_test.csv: product_id='buick--envista--hev' matches no product of the built table"),
])
def test_a_fill_row_that_matches_no_product_stops_the_build(tmp_path, row, message):
    with pytest.raises(SystemExit, match=message):
        build_with(write_fill(tmp_path / "spec_fill_test.csv", [row]))


@needs_shared
@pytest.mark.parametrize("row, message", [
    # the Camry's 225 hp is sourced in the raw file
    ({"product_id": "toyota--camry--hev", "make": "Toyota", "model": "Camry", "powertrain": "HEV",
      "horsepower": "230"}, r"toyota--camry--hev horsepower='230': the raw value 225.0 is not missing"),
    # Envista's length and EPA mpg are sourced in the raw file
    (ENVISTA | {"length_in": "180"}, r"buick--envista--ice length_in='180': the raw value .* is not missing"),
    (ENVISTA | {"efficiency_mpg_or_mpge": "31"}, r"buick--envista--ice efficiency_mpg_or_mpge='31'"),
    # the Corolla's raw row has a strong-hybrid MPG: its HEV row's efficiency is sourced
    ({"product_id": "toyota--corolla--hev", "make": "Toyota", "model": "Corolla", "powertrain": "HEV",
      "efficiency_mpg_or_mpge": "45"}, r"toyota--corolla--hev .*strong-hybrid MPG .*not missing"),
])
def test_a_sourced_raw_value_is_not_overwritten(tmp_path, row, message):
    with pytest.raises(SystemExit, match=message):
        build_with(write_fill(tmp_path / "spec_fill_test.csv", [row]))


@pytest.mark.parametrize("row, message", [
    (ENVISTA | {"horsepower": "15.5"}, r"buick--envista--ice horsepower='15.5' is not a number from 50 to 1500"),
    (ENVISTA | {"width_in": "1830"}, r"width_in='1830' is not a number from 60 to 90"),
    (ENVISTA | {"efficiency_mpg_or_mpge": "120"}, r"efficiency_mpg_or_mpge='120' is not a number from 10 to 70"),
    (ENVISTA | {"horsepower": "155", "source": ""}, r"buick--envista--ice source is empty"),
    (ENVISTA | {"horsepower": "155", "model_year": "MY25"}, r"model_year='MY25' names no year"),
    (ENVISTA | {"powertrain": "HEV"}, r"product_id='buick--envista--ice' is not .* powertrain='HEV'"),
])
def test_a_bad_fill_value_stops_the_build(tmp_path, row, message):
    build = load_build()
    with pytest.raises(SystemExit, match=message):
        build.fill_specs(pd.DataFrame(), [], (write_fill(tmp_path / "spec_fill_test.csv", [row]),))


def test_split_rows_that_disagree_on_a_shared_field_stop_the_build(tmp_path):
    build = load_build()
    table = pd.DataFrame({"make": ["Toyota"], "model": ["Highlander"], "powertrain": ["ICE"],
                          "horsepower": [float("nan")], "spec_source": [float("nan")],
                          "combined_mpg_strong_hybrid_range": [float("nan")]})
    rows = [HIGHLANDER_HEV | {"horsepower": "245"},
            HIGHLANDER_HEV | {"product_id": "toyota--highlander--ice", "powertrain": "ICE", "horsepower": "250"}]
    with pytest.raises(SystemExit, match=r"toyota--highlander--ice horsepower='250' differs from 245"):
        build.fill_specs(table, [], (write_fill(tmp_path / "spec_fill_test.csv", rows),))
    rows[1]["horsepower"] = "245"   # the same figure on both rows is one fill
    out = build.fill_specs(table, [], (write_fill(tmp_path / "spec_fill_test.csv", rows),))
    assert out.at[0, "horsepower"] == 245.0 and out.at[0, "spec_source"].count("[spec_fill_test.csv]") == 1


def test_a_product_in_two_fill_files_takes_each_field_once_and_a_field_given_twice_stops(tmp_path):
    load_build()   # puts tools/ on the path
    import spec_fill
    first = write_fill(tmp_path / "spec_fill_first.csv", [ENVISTA | {"horsepower": "155"}])
    second = write_fill(tmp_path / "spec_fill_second.csv", [ENVISTA | {"length_in": "182.5", "width_in": "72.0"}])
    fills = spec_fill.read_spec_fills((first, second))   # disjoint fields: both rows are read
    assert list(fills["fill_file"]) == ["spec_fill_first.csv", "spec_fill_second.csv"]
    again = write_fill(tmp_path / "spec_fill_again.csv", [ENVISTA | {"horsepower": "156"}])
    with pytest.raises(SystemExit, match=r"horsepower of one product given twice: buick--envista--ice "
                                         r"\(spec_fill_first.csv\); buick--envista--ice \(spec_fill_again.csv\)"):
        spec_fill.read_spec_fills((first, again))


@pytest.mark.parametrize("model_year", ["MY2019 onward (same engine)", "hp 2024; size 2016", "2025"])
def test_a_model_year_names_a_year_in_any_words(tmp_path, model_year):
    path = write_fill(tmp_path / "spec_fill_year.csv", [ENVISTA | {"horsepower": "155", "model_year": model_year}])
    load_build()
    import spec_fill
    assert len(spec_fill.read_spec_fills((path,))) == 1


def test_every_committed_spec_fill_value_is_in_the_bundled_table_and_not_imputed():
    """The bundled products carry each sourced figure of tools/spec_fill_2025_*.csv as it is written there,
    flagged as not imputed (the counterpart of the MSRP fills' test): a fill file edited without a rebuild,
    or a build that drops a fill, fails here."""
    from autopact.data import bundled_path

    load_build()
    import spec_fill

    products = pd.read_csv(bundled_path("products_2025.csv")).set_index("product_id")
    flags = {"horsepower": "horsepower_imputed", "length_in": "length_in_imputed", "width_in": "width_in_imputed",
             "efficiency_mpg_or_mpge": "efficiency_imputed"}
    fills = spec_fill.read_spec_fills()
    assert len(fills) > 200
    trims = pd.read_csv(ROOT / "tools" / "hybrid_trims_2025.csv", dtype=str, keep_default_na=False)
    hybrid_power = set(trims.loc[trims["horsepower"].str.strip() != "", "product_id"])
    for _, r in fills.iterrows():
        for field, flag in flags.items():
            if r[field].strip():
                # an HEV row's horsepower in a spec fill is its nameplate's base trim's, shared with the ICE row;
                # where tools/hybrid_trims_2025.csv gives the priced hybrid trim's, the ICE row keeps it
                pid = r["product_id"]
                if field == "horsepower" and pid in hybrid_power:
                    pid = pid.removesuffix("--hev") + "--ice"
                row = products.loc[pid]
                assert row[field] == pytest.approx(float(r[field]), rel=1e-12), (pid, field)
                assert not bool(row[flag]), (pid, field)
