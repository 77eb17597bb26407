"""The bundled 2025 market: totals reconcile with the market facts, every number is sourced or flagged."""

import numpy as np
import pandas as pd
import pytest

from autopact.data import load_market, market_facts, summarize
from autopact.data.summary import COMPANY_TOTALS

# Official 2025 company totals in market_facts.csv that our products must reproduce (the named
# rows plus brand remainders were built to add up to these). Tolerance: 0.1%. Mercedes (vans in
# or out) is reconciled in the summary, not here; Hyundai Motor Group's total is published rounded
# to 10,000 ("1.83 million") and has its own test below.
RECONCILED_COMPANIES = {k: v for k, v in COMPANY_TOTALS.items()
                        if k not in ("Mercedes-Benz Group", "Hyundai Motor Group")}


@pytest.fixture(scope="module")
def market():
    return load_market(2025)


def test_coverage_of_the_2025_market(market):
    facts = market_facts(2025)
    covered = market.products["units"].sum()
    assert facts.total_units == 16_213_903
    # 255 named rows with volume + 3 Hyundai nameplates (Tucson 234,230, Elantra 148,200, Santa Fe
    # 142,404; hyundai_2025.csv) + 8 brand remainders + the derived Hyundai remainder (161,779).
    # Splitting hybrids out of F-Series, Maverick and 28 nameplates and remainders (ICE + HEV rows)
    # moves no unit.
    # Recomputed from the raw ../shared/data files in tests/data/test_golden_totals_sources.py.
    assert covered == 16_047_501
    assert 0.98 < covered / facts.total_units < 0.995
    assert market.shares.sum() < 1.0


@pytest.mark.parametrize("firm, company", RECONCILED_COMPANIES.items())
def test_firm_totals_reconcile_with_official_company_sales(market, firm, company):
    ours = market.products.loc[market.products["parent_company"] == firm, "units"].sum()
    official = market.facts.sales_by_company[company]
    assert ours == pytest.approx(official, rel=1e-3)


def test_hyundai_brand_and_group_totals_reconcile(market):
    p = market.products
    # Hyundai-brand total 2025 = 901,686 (hyundai_2025.csv, Hyundai Motor America via several
    # reports): the named rows plus the derived 'Other Hyundai' remainder add up to it exactly.
    assert p.loc[p["make"] == "Hyundai", "units"].sum() == 901_686
    # (its ICE and HEV rows together: the remainder holds 42,383 of the brand's derived hybrids)
    assert p.loc[p["model"] == "Other Hyundai", "units"].sum() == 901_686 - 739_907
    # Kia America 852,155 (market_facts.csv), named rows plus the Kia remainder.
    assert p.loc[p["make"] == "Kia", "units"].sum() == market.facts.sales_by_company["Kia America"]
    # Hyundai Motor Group (Hyundai + Kia + Genesis) is published as "1.83 million" (rounded to
    # 10,000); ours, 1,833,430, lies within the rounding. Genesis rows sum to 79,589, 2,742 short of
    # Yonhap's 82,331 (hyundai_2025.csv note): a known gap.
    group = p.loc[p["parent_company"] == "Hyundai Motor Group", "units"].sum()
    official = market.facts.sales_by_company["Hyundai Motor Group (Hyundai + Kia + Genesis)"]
    assert official == 1_830_000
    assert abs(group - official) <= 5_000


def test_sourced_hybrid_splits_and_hybrid_only_nameplates(bundled_products):
    p = bundled_products.set_index("product_id")
    f = "ford--f-series-f-150-super-duty-excl-lightning--"
    # F-150 PowerBoost 84,934 and Maverick Hybrid 81,034 (powertrain_split_2025.csv); the ICE rows
    # hold the rest of the nameplate totals (801,525 and 155,051 in products_2025.csv).
    assert p.loc[f + "hev", "units"] == 84_934 and p.loc[f + "ice", "units"] == 801_525 - 84_934
    assert p.loc["ford--maverick--hev", "units"] == 81_034
    assert p.loc["ford--maverick--ice", "units"] == 155_051 - 81_034
    for pid in (f + "hev", "ford--maverick--hev"):
        assert p.loc[pid, "powertrain"] == "HEV"
        assert "HEV units from powertrain_split_2025.csv" in p.loc[pid, "powertrain_split_source"]
    for pid in ("toyota--camry--hev", "toyota--sienna--hev", "toyota--prius--hev", "toyota--crown-signia--hev"):
        assert p.loc[pid, "powertrain"] == "HEV"


def test_assembly_country_is_blank_only_for_sourced_gaps_and_remainders(bundled_products):
    p = bundled_products
    blank = p.loc[p["assembly_countries"].isna()]
    assert set(blank.loc[blank["row_type"] == "model", "product_id"]) == {
        "toyota--crown-signia--hev", "mercedes-benz--esprinter--bev", "honda--prelude--hev", "nissan--maxima--ice"}
    filled = p["assembly_source"].fillna("").str.contains("assembly_fill_2025.csv")
    # 39 rows of assembly_fill_2025.csv; the Sportage, Sorento and Carnival are two products each
    # (ICE and HEV rows), both filled
    assert filled.sum() == 39 + 3
    assert p.loc[p["product_id"] == "kia--sportage--ice", "assembly_countries"].item() == "United States; South Korea"
    # tools/assembly_corrections_2025.csv: the raw AALA parse's "Australia" for the Graz-built I-Pace
    ipace = p.loc[p["product_id"] == "jaguar--i-pace--bev"].iloc[0]
    assert ipace["assembly_countries"] == "Austria" and "raw file said Australia" in ipace["assembly_source"]


def test_bev_units_match_published_totals_within_3_percent(market):
    bev = market.products.loc[market.products["powertrain"] == "BEV", "units"].sum()
    assert bev == pytest.approx(market.facts.bev_units, rel=0.03)  # ANL 1,239,450
    assert bev == pytest.approx(market.facts.bev_units_cox, rel=0.03)  # Cox/KBB 1,275,714


def _flag(series: pd.Series) -> pd.Series:
    return series.astype(str).str.lower().eq("true")


@pytest.mark.parametrize("value, flag, source", [
    ("msrp_usd", "msrp_imputed", "msrp_source"),
    ("horsepower", "horsepower_imputed", "spec_source"),
    ("footprint_sqft", "footprint_imputed", "size_source"),
    ("efficiency_mpg_or_mpge", "efficiency_imputed", "efficiency_source"),
])
def test_every_number_is_sourced_or_flagged_imputed(bundled_products, value, flag, source):
    p = bundled_products
    gaps = p.loc[p[value].isna(), "product_id"].tolist()
    # The one fuel-cell car (Toyota Mirai, 210 units) has no efficiency in the raw data and no
    # peer to impute from; it stays blank rather than get an invented number.
    assert gaps == ([] if value != "efficiency_mpg_or_mpge" else ["toyota--mirai--fcev"])
    p = p[p[value].notna()]
    sourced = p[source].fillna("").str.strip().ne("")
    imputed = _flag(p[flag])
    unexplained = p.loc[~sourced & ~imputed, ["product_id", value]]
    assert unexplained.empty, unexplained.to_string()


def test_units_have_a_source_and_method_of_imputation_is_recorded(bundled_products):
    p = bundled_products
    assert p["sales_source"].fillna("").str.strip().ne("").all()
    imputed = _flag(p["msrp_imputed"])
    assert p.loc[imputed, "msrp_imputation"].fillna("").str.len().gt(10).all()


def test_price_normalisation_by_hand(bundled_products):
    p = bundled_products.set_index("product_id")
    # CR-V: quoted $30,795 MY2024 including a stated $1,295 destination -> $29,500 in 2024 dollars,
    # times 1.003 (CPI new vehicles, Dec 2024 -> Dec 2025).
    assert p.loc["honda--cr-v--ice", "msrp_usd"] == pytest.approx(29_500 / 0.997009, rel=1e-6)
    # RAV4: quoted $30,645 MY2025 "including destination", amount not stated -> minus the $1,600 average.
    assert p.loc["toyota--rav4--ice", "msrp_usd"] == pytest.approx(30_645 - 1_600)
    # Silverado: MY2025, destination not stated -> kept as quoted and flagged.
    silverado = p.loc["chevrolet--silverado-1500-hd-ice--ice"]
    assert silverado["msrp_usd"] == 37_000
    assert "destination inclusion not stated" in silverado["msrp_flags"]


def test_transaction_price_level_matches_the_average_transaction_price(market):
    mean = np.average(market.prices, weights=market.units)
    assert mean == pytest.approx(market.facts.average_transaction_price)
    msrp = load_market(2025, assumptions={"price_level": "msrp"})
    assert np.allclose(msrp.prices, msrp.products["msrp_usd"])
    bev = market.products["powertrain"].eq("BEV").to_numpy()
    # BEVs average KBB's EV transaction price, the rest take the factor that keeps the market's mean
    assert np.average(market.prices[bev], weights=market.units[bev]) == pytest.approx(
        market.facts.average_transaction_price_bev)
    assert np.allclose(market.prices[bev] / msrp.prices[bev], market.price_scales["BEV"])
    assert np.allclose(market.prices[~bev] / msrp.prices[~bev], market.price_scales["other"])
    # by hand from the bundled figures: 57,479 / 50,737 and (49,544 N - 57,479 N_BEV) / (36,936 N_other)
    assert market.price_scales["BEV"] == pytest.approx(57479 / 50737, rel=1e-4)
    assert market.price_scales["other"] == pytest.approx(1.3232, rel=1e-4)
    assert market.price_scale == pytest.approx(49544 / np.average(msrp.prices, weights=msrp.units))
    assert msrp.price_scales == {"BEV": 1.0, "other": 1.0}


def test_remainder_rows_are_explicit_products_or_dropped_with_their_share_stated(market):
    residual = market.products["row_type"] == "brand_residual"
    # 9 remainders; Ford's and Hyundai's hold hybrids of their brand's remainder: ICE and HEV rows each
    # (9, 2 and 1,270,914: recomputed from the raw ../shared/data files in test_golden_totals_sources.py)
    assert residual.sum() == 9 + 2
    assert set(market.products.loc[residual, "model"]) >= {"Other Ford", "Other Mercedes-Benz", "Other Hyundai"}
    dropped = load_market(2025, assumptions={"remainder_rows": "drop"})
    s = summarize(dropped)
    assert s["products"] == len(market.products) - 11
    assert s["remainder_rows"]["units_dropped"] == 1_270_914  # 1,109,135 + Hyundai's 161,779
    assert s["remainder_rows"]["share_of_market"] == pytest.approx(1_270_914 / 16_213_903)


def test_firm_nationality_follows_the_controlling_owner(market):
    nat = market.products.groupby("parent_company")["firm_nationality"].first()
    assert nat["Geely (Volvo Cars)"] == "China"
    assert nat["Geely (Polestar)"] == "China"
    assert nat["Stellantis"] == "Europe"
    assert nat["Ford Motor Co."] == "US"
    assert nat["Lucid Group"] == "Saudi Arabia"


def test_summary_has_the_documented_keys(market):
    s = summarize(market)
    for key in ("products", "units_total", "units_covered_share", "bev_products", "bev_units",
                "imputed_price_units_share", "units_by_nationality", "assumptions"):
        assert key in s
    assert s["products"] == len(market.products)
    assert sum(s["units_by_nationality"].values()) == s["units_total"]
    assert 0 < s["imputed_price_units_share"] < 0.25
    recon = {r["firm"]: r["ratio"] for r in s["company_reconciliation"]}
    assert recon["Ford Motor Co."] == pytest.approx(1.0, abs=1e-3)
    # Hyundai-brand nameplates now have 2025 volumes; the group total is published rounded ("1.83 million")
    assert recon["Hyundai Motor Group"] == pytest.approx(1.0, abs=5_000 / 1_830_000)
    assert {a["name"] for a in s["assumptions"]} >= {"price_level", "market_size_households", "remainder_rows"}


def test_transaction_scales_by_hand(market):
    """Two BEV and two other rows: s_BEV = A_BEV / m_BEV and the rest's factor keeps the market's mean A."""
    from autopact.data.market import transaction_scales

    table = pd.DataFrame({"powertrain": ["BEV", "BEV", "ICE", "HEV"], "units": [100, 300, 500, 100],
                          "msrp_usd": [40_000.0, 50_000.0, 30_000.0, 35_000.0]})
    facts = market.facts.model_copy(update={"average_transaction_price": 45_000.0,
                                            "average_transaction_price_bev": 52_000.0})
    scale, scales = transaction_scales(table, facts)
    m_bev, m_other = (4e6 + 15e6) / 400, (15e6 + 3.5e6) / 600
    assert scales["BEV"] == pytest.approx(52_000 / m_bev, rel=1e-12)
    assert scales["other"] == pytest.approx((45_000 * 1000 - 52_000 * 400) / (m_other * 600), rel=1e-12)
    assert scale == pytest.approx(45_000 / ((19e6 + 18.5e6) / 1000), rel=1e-12)
    prices = table["msrp_usd"] * np.where(table["powertrain"].eq("BEV"), scales["BEV"], scales["other"])
    assert np.average(prices, weights=table["units"]) == pytest.approx(45_000, rel=1e-12)
    no_bev = table[table["powertrain"] != "BEV"]
    assert transaction_scales(no_bev, facts)[1] == {"BEV": transaction_scales(no_bev, facts)[0],
                                                    "other": transaction_scales(no_bev, facts)[0]}
