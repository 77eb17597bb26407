"""The golden unit totals pinned in test_bundled_market.py and test_schema_errors.py, recomputed from the
raw shared files with plain pandas (not the package's loader, not tools/build_data.py): audit #22.

Pinned there, derived here:
  covered units 16,047,501  (test_coverage_of_the_2025_market, test_cli_summary_json)
  units dropped 1,270,914 = 1,109,135 + Hyundai's 161,779, and 9 + 2 remainder rows
                            (test_remainder_rows_are_explicit_products_or_dropped_with_their_share_stated)
The audit's older figures (15,362,546 covered, 1,109,135 dropped, 8 remainder rows) are the raw
products file alone; the three additions since are the Hyundai volumes (hyundai_2025.csv), the
derived Hyundai remainder and one sales correction (tools/sales_corrections_2025.csv, a sourced
input kept in the repository, not in ../shared).

Skipped where the raw data are absent (a plain clone), unless AUTOPACT_REQUIRE_SHARED=1 asks for
them, as test_build_reproducible.py does.
"""

import os
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "data"
US = SHARED / "us_market"

# the numbers the pinned tests assert (keep in step with them)
PINNED_COVERED = 16_047_501
PINNED_DROPPED = 1_270_914
PINNED_HYUNDAI_REMAINDER = 161_779
PINNED_REMAINDER_ROWS = 9
PINNED_REMAINDER_HEV_ROWS = 2
PINNED_MARKET_TOTAL = 16_213_903


@pytest.fixture(scope="module")
def raw():
    if not (US / "products_2025.csv").exists():
        if os.environ.get("AUTOPACT_REQUIRE_SHARED") == "1":
            pytest.fail(f"AUTOPACT_REQUIRE_SHARED=1 but the raw shared data are not at {SHARED}")
        pytest.skip("raw shared data not present")
    products = pd.read_csv(US / "products_2025.csv")
    hyundai = pd.read_csv(US / "hyundai_2025.csv", dtype={"units_2025": str})
    corrections = pd.read_csv(ROOT / "tools" / "sales_corrections_2025.csv")
    return products, hyundai, corrections


def _hyundai_rows(hyundai: pd.DataFrame) -> tuple[int, int, pd.DataFrame]:
    """(brand total, the file's own residual, named Hyundai rows with a number)."""
    model = hyundai["model"]
    total = int(hyundai.loc[model.str.startswith("Brand total"), "units_2025"].item())
    own_residual = int(hyundai.loc[model.str.startswith("Residual:"), "units_2025"].item())
    named = hyundai[(hyundai["make"] == "Hyundai") & hyundai["units_2025"].str.fullmatch(r"\d+")
                    & ~model.str.startswith(("Brand total", "Residual:", "Memo:"))]
    return total, own_residual, named.assign(units=named["units_2025"].astype(int))


def _totals(products, hyundai, corrections) -> dict:
    """Each total from the raw rows, by the rules stated in PROVENANCE.md / build_log.md."""
    models = products[products["row_type"] == "model"].copy()
    residuals = products[products["row_type"] == "brand_residual"]
    raw_named = int(models["us_sales_units"].sum())
    raw_remainders = int(residuals["us_sales_units"].sum())
    # hyundai_2025.csv fills a Hyundai nameplate whose raw volume is blank; a row with one keeps it
    total, own_residual, named = _hyundai_rows(hyundai)
    filled = {}
    for _, r in named.iterrows():
        at = models.index[(models["make"] == "Hyundai") & (models["model"] == r["model"])]
        assert len(at) == 1, r["model"]
        if pd.isna(models.at[at[0], "us_sales_units"]):
            models.at[at[0], "us_sales_units"] = r["units"]
            filled[r["model"]] = r["units"]
    # the Hyundai remainder: the brand total less every named Hyundai row of the products file
    hyundai_remainder = total - int(models.loc[models["make"] == "Hyundai", "us_sales_units"].sum())
    # sales corrections: each replaces the raw volume it names (which must still be the raw one)
    delta = 0
    for _, r in corrections.iterrows():
        at = (models["make"] == r["make"]) & (models["model"] == r["model"])
        assert at.sum() == 1 and models.loc[at, "us_sales_units"].item() == r["replaces"], (r["make"], r["model"])
        delta += int(r["units"]) - int(r["replaces"])
    return {"raw_named": raw_named, "raw_named_rows": int(products.loc[products["row_type"] == "model",
                                                                      "us_sales_units"].notna().sum()),
            "raw_remainders": raw_remainders, "raw_remainder_rows": len(residuals), "filled": filled,
            "hyundai_total": total, "hyundai_own_residual": own_residual, "hyundai_remainder": hyundai_remainder,
            "correction_delta": delta, "models": models}


def test_the_raw_products_file_alone_gives_the_audits_figures(raw):
    t = _totals(*raw)
    # 255 named rows with a volume + 8 brand remainder rows = 15,362,546 units (the audit's figure)
    assert (t["raw_named_rows"], t["raw_remainder_rows"]) == (255, 8)
    assert t["raw_remainders"] == 1_109_135
    assert t["raw_named"] + t["raw_remainders"] == 15_362_546
    # and the compiler's own coverage table in the raw folder's SOURCES.md states the same figures
    sources = (US / "SOURCES.md").read_text()
    assert "| Model rows / rows with a 2025 US volume | 283 / 255 |" in sources
    assert "| Units in named model rows | 14,253,411 (" in sources and f"{t['raw_named']:,}" == "14,253,411"
    assert "+1,109,135, which brings it to 15,362,546" in sources
    assert "plus 8 `brand_residual` rows" in sources


def test_covered_units_from_the_raw_files(raw):
    t = _totals(*raw)
    # Tucson, Elantra and Santa Fe are blank in products_2025.csv and filled from hyundai_2025.csv
    assert t["filled"] == {"Tucson": 234_230, "Elantra": 148_200, "Santa Fe": 142_404}
    # Polestar 3 6,700 -> 5,042 (tools/sales_corrections_2025.csv), the only correction
    assert t["correction_delta"] == 5_042 - 6_700
    covered = (t["raw_named"] + sum(t["filled"].values()) + t["correction_delta"]
               + t["raw_remainders"] + t["hyundai_remainder"])
    assert covered == PINNED_COVERED


def test_dropped_units_and_remainder_rows_from_the_raw_files(raw):
    products = raw[0]
    t = _totals(*raw)
    # 901,686 brand total less the named rows (Kona Electric at products_2025.csv's 2,939, where
    # hyundai_2025.csv's own residual of 161,707 counts it at 3,011)
    assert t["hyundai_total"] == 901_686
    assert t["hyundai_remainder"] == PINNED_HYUNDAI_REMAINDER == t["hyundai_own_residual"] + (3_011 - 2_939)
    assert t["raw_remainders"] + t["hyundai_remainder"] == PINNED_DROPPED
    assert t["raw_remainder_rows"] + 1 == PINNED_REMAINDER_ROWS  # + the derived Hyundai remainder
    # A remainder gets an HEV row where its brand's 2025 hybrid total is published (an '(all)' row of
    # powertrain_split_2025.csv) and a nameplate it holds (a blank-volume row of that brand, after the
    # Hyundai fill) offers a hybrid: Ford (Escape, Explorer) and Hyundai (Sonata); Kia's has none.
    split = pd.read_csv(US / "powertrain_split_2025.csv")
    brands = set(split.loc[split["model"].str.contains("(all)", regex=False)
                           & split["powertrain"].str.startswith("HEV"), "make"])
    models = t["models"]
    blank = models[models["us_sales_units"].isna() & models["make"].isin(brands)]
    with_hybrids = set(blank.loc[blank["powertrain"].str.split(";").map(lambda p: "HEV" in p), "make"])
    has_remainder = set(products.loc[products["row_type"] == "brand_residual", "make"]) | {"Hyundai"}
    assert with_hybrids & has_remainder == {"Ford", "Hyundai"}
    assert len(with_hybrids & has_remainder) == PINNED_REMAINDER_HEV_ROWS


def test_market_total_from_market_facts(raw):
    facts = pd.read_csv(US / "market_facts.csv")
    rows = facts[(facts["metric"] == "total_new_light_vehicle_sales") & (facts["year"].astype(str) == "2025")]
    # the ANL total (via Open-EV-Charts) is the one the package uses; the other 2025 rows are rounded
    # publications (16.2 and 16.3 million) that agree with it
    anl = rows.loc[rows["source"].str.contains("Open-EV-Charts"), "value"]
    assert anl.item() == PINNED_MARKET_TOTAL
    assert rows["value"].to_numpy() == pytest.approx(PINNED_MARKET_TOTAL, rel=0.01)


def test_the_pinned_tests_pin_the_numbers_derived_here(raw):
    """The literals in the pinned tests are the ones derived above (so changing either side fails here)."""
    t = _totals(*raw)
    covered = (t["raw_named"] + sum(t["filled"].values()) + t["correction_delta"]
               + t["raw_remainders"] + t["hyundai_remainder"])
    dropped = t["raw_remainders"] + t["hyundai_remainder"]
    pinned = {
        "test_bundled_market.py": [f"assert covered == {covered:_}\n",
                                   f"assert residual.sum() == {t['raw_remainder_rows'] + 1} + "
                                   f"{PINNED_REMAINDER_HEV_ROWS}\n",
                                   f'assert s["remainder_rows"]["units_dropped"] == {dropped:_}  # '
                                   f"{t['raw_remainders']:,} + Hyundai's {t['hyundai_remainder']:,}\n",
                                   f"facts.total_units == {PINNED_MARKET_TOTAL:_}\n"],
        "test_schema_errors.py": [f'assert s["units_total"] == {covered:_}\n'],
    }
    for name, statements in pinned.items():
        text = (Path(__file__).parent / name).read_text()
        for statement in statements:
            assert statement in text, (name, statement)
