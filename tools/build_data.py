"""Rebuild autopact's bundled data (src/autopact/data/bundled/) from the raw, sourced files.

Usage:  python tools/build_data.py [--shared ../shared/data]

The raw files live outside the package (``../shared/data/us_market`` and
``../shared/data/policy_and_costs``); the package never reads them at run time.
Every transformation below is documented in ``src/autopact/data/bundled/PROVENANCE.md``;
each constant used here is read from ``tools/reference_parameters.csv`` (value + source),
never typed into the code.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the sibling modules, also when loaded by path
from cells import DESTINATION_TEXT, cpi_factors, fill_target, first_number, range_midpoint, read_fill_files, slug  # noqa: E402
from hybrid_trims import price_hybrids  # noqa: E402
from hybrid_split import (DEFAULT_ALLOCATION, HYBRID_ALLOCATIONS, derive_hybrids, read_split,  # noqa: E402
                          split_powertrains)
from spec_fill import SPEC_FILLS, check_spec_fill_ids, fill_specs  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BUNDLED = ROOT / "src" / "autopact" / "data" / "bundled"
TOOLS = ROOT / "tools"

POWERTRAIN_CLASSES = ("ICE", "HEV", "PHEV", "BEV", "FCEV")

# Brands sold as premium divisions (a classification, not a number; see PROVENANCE.md).
LUXURY_MAKES = {
    "Acura", "Alfa Romeo", "Audi", "BMW", "Cadillac", "Genesis", "Infiniti", "Jaguar",
    "Land Rover", "Lexus", "Lincoln", "Lucid", "Maserati", "Mercedes-Benz", "Polestar",
    "Porsche", "Rolls-Royce", "Volvo",
}

# Each brand-residual row names the nameplates it contains; those that appear in the raw
# file without a 2025 volume lend it their characteristics (PROVENANCE.md, "Remainder rows").
RESIDUAL_COMPONENTS = {
    "Ford": [("Ford", "Escape"), ("Ford", "Expedition"), ("Ford", "Explorer")],
    "Cadillac": [("Cadillac", "Escalade IQ / IQL"), ("Cadillac", "Vistiq")],
    "Chevrolet/GMC/Buick": [("Chevrolet", m) for m in ("Blazer", "Corvette", "Malibu", "Suburban", "Tahoe")],
    "Jeep/Ram/Chrysler/Dodge/Fiat/Alfa Romeo": [
        ("Dodge", "Charger Daytona (BEV) / Charger Sixpack (ICE)"),
        ("Maserati", "GranTurismo/GranCabrio/Grecale Folgore"),
    ],
    "Mercedes-Benz": [("Mercedes-Benz", "C-Class"), ("Mercedes-Benz", "GLC (incl. Coupe)")],
    # hyundai_2025.csv's derived residual names Kona (ICE/HEV), Venue, Sonata and Nexo; Nexo has no
    # row in products_2025.csv, the other three are there without a volume.
    "Hyundai": [("Hyundai", "Kona (ICE/HEV)"), ("Hyundai", "Sonata"), ("Hyundai", "Venue")],
}
# Residuals without such rows take their brand's named rows (units-weighted); the makes used:
RESIDUAL_BRANDS = {
    "Kia": ["Kia"], "BMW": ["BMW"], "Audi": ["Audi"],
    "Chevrolet/GMC/Buick": ["Chevrolet", "GMC", "Buick"],
    "Jeep/Ram/Chrysler/Dodge/Fiat/Alfa Romeo": ["Jeep", "Ram", "Chrysler", "Dodge", "Fiat", "Alfa Romeo"],
    "Ford": ["Ford"], "Cadillac": ["Cadillac"], "Mercedes-Benz": ["Mercedes-Benz"], "Hyundai": ["Hyundai"],
}

# EPA label ranges (PROVENANCE.md, "EPA range"): one row per (make, model) of the raw products file, filling a
# blank range or replacing the raw value named in `replaces`; GAP rows say why a range stays blank.
RANGE_FILL = TOOLS / "bev_range_fill_2025.csv"

# Assembly countries of the raw file that a source contradicts (PROVENANCE.md, "Assembly corrections"): one row a (make, model),
# with the raw value it replaces, so that a change of the raw file stops the build instead of being overwritten.
ASSEMBLY_CORRECTIONS = TOOLS / "assembly_corrections_2025.csv"

# 2025 volumes of the raw file that a stronger source contradicts (PROVENANCE.md, "Sales corrections"): one row a
# (make, model), with the raw value it replaces, so that a change of the raw file stops the build.
SALES_CORRECTIONS = TOOLS / "sales_corrections_2025.csv"

# Sourced base MSRPs for nameplates whose raw row has no quoted price (PROVENANCE.md, "Sourced MSRP fill"):
# one row per product_id, read before the hedonic imputation; files after the first are optional (each sourced separately).
MSRP_FILLS = (TOOLS / "msrp_fill_2025.csv", *(TOOLS / f"msrp_fill_2025_{x}.csv" for x in "bcd"))
MSRP_FILL_COLUMNS = ["product_id", "make", "model", "msrp_usd", "model_year", "trim", "destination_basis",
                     "source", "note"]

# Months of 2025 each product was on offer to new orders (PROVENANCE.md, "Months on offer"): 12 unless one of
# these sourced lists says fewer, read in this order (a later file wins): the launch list's months on sale of a
# 2025 launch (first US sales month), then run-outs (the date new US orders ended). (file, months column, what
# the date column means, date column); both stay in the package, where the entry back-test reads the launch list.
MONTHS_ON_OFFER_SOURCES = (
    (BUNDLED / "backtest_launches.csv", "months_on_sale_2025", "first US sales month", "first_us_sales_month"),
    (BUNDLED / "run_outs_2025.csv", "months_on_offer_2025", "new US orders (or production for the US) ended",
     "last_new_orders"),
)

# hyundai_2025.csv: its Hyundai-brand total row and its derived-residual row (matched by the start of `model`).
HYUNDAI_BRAND_TOTAL = "Brand total (Hyundai brand"
HYUNDAI_RESIDUAL = "Residual:"

def reference_parameters() -> pd.DataFrame:
    table = pd.read_csv(TOOLS / "reference_parameters.csv")
    return table.set_index("name")


def powertrain_class(offered: str) -> str:
    """Primary powertrain class of a nameplate from the list of powertrains it offers.

    A single entry is itself. A list containing ICE is classed ICE (the conventional
    version is the base offering; the raw data give no sales split). 'HEV;PHEV;BEV'
    (Kia Niro family) is classed HEV, its base version.
    """
    parts = [p.strip() for p in str(offered).split(";")]
    if len(parts) == 1:
        return parts[0]
    if "ICE" in parts:
        return "ICE"
    return parts[0]


def msrp_year(text) -> float:
    """Model year of a quoted price; 'not stated ...' is NaN even when the note names a year."""
    if pd.isna(text) or str(text).strip().lower().startswith("not stated"):
        return np.nan
    year = first_number(text)
    return year if 2000 <= year <= 2030 else np.nan


def destination_basis(text) -> tuple[str, float]:
    """('included'|'excluded'|'not stated', stated destination amount in USD or NaN)."""
    if pd.isna(text):
        return "not stated", np.nan
    s = str(text).lower()
    amount = re.search(r"\$([\d,]+)", s)
    value = float(amount.group(1).replace(",", "")) if amount else np.nan
    if s.startswith("yes"):
        return "included", value
    if s.startswith("no ") or s == "no":
        return "excluded", value
    return "not stated", np.nan


def normalise_prices(products: pd.DataFrame, ref: pd.DataFrame) -> pd.DataFrame:
    """Base MSRP in 2025 dollars, excluding the destination charge.

    msrp_2025 = (quoted - destination if the quote includes it) * CPI_2025 / CPI_year.
    Quotes that include destination without stating the amount subtract the cited
    average destination charge; quotes that do not say are kept as quoted and flagged.
    """
    out = products.copy()
    cpi = cpi_factors(ref)
    out["msrp_model_year"] = out["msrp_model_year_raw"].map(msrp_year)
    basis = out["msrp_includes_destination_raw"].map(destination_basis)
    out["msrp_destination_basis"] = [b for b, _ in basis]
    stated = np.array([v for _, v in basis])
    quoted = out["msrp_quoted_usd"].to_numpy(float)
    included = out["msrp_destination_basis"].eq("included").to_numpy()
    default_destination = ref.loc["destination_charge_2025_usd", "value"]
    deduction = np.where(included, np.where(np.isnan(stated), default_destination, stated), 0.0)
    explicit_excl = out["msrp_excl_destination_raw"].to_numpy(float)
    excl = np.where(~np.isnan(explicit_excl), explicit_excl, quoted - deduction)
    year = out["msrp_model_year"].fillna(2025).astype(int)
    factor = year.map(lambda y: cpi[2025] / cpi[y]).to_numpy(float)
    out["msrp_inflation_factor"] = np.where(np.isnan(quoted), np.nan, factor)
    out["msrp_usd"] = excl * out["msrp_inflation_factor"]
    flags = []
    for has_price, yr, dest in zip(~np.isnan(quoted), out["msrp_model_year"], out["msrp_destination_basis"]):
        f = []
        if has_price and np.isnan(yr):
            f.append("model year not stated: taken as 2025")
        if has_price and dest == "not stated":
            f.append("destination inclusion not stated: kept as quoted")
        flags.append("; ".join(f))
    out["msrp_flags"] = flags
    return out


def hedonic_design(df: pd.DataFrame, with_hp: bool, with_price: bool = False) -> np.ndarray:
    cols = [np.ones(len(df)), np.log(df["footprint_sqft"].to_numpy(float)), df["luxury"].astype(float).to_numpy()]
    for seg in ("SUV-crossover", "pickup", "van"):
        cols.append(df["segment"].eq(seg).astype(float).to_numpy())
    for pt in ("HEV", "PHEV", "BEV"):
        cols.append(df["powertrain"].eq(pt).astype(float).to_numpy())
    if with_hp:
        cols.append(np.log(df["horsepower"].to_numpy(float)))
    if with_price:
        cols.append(np.log(df["msrp_usd"].to_numpy(float)))
    return np.column_stack(cols)


def ols(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    beta, *_ = np.linalg.lstsq(x, y, rcond=None)
    resid = y - x @ beta
    r2 = 1 - resid @ resid / ((y - y.mean()) @ (y - y.mean()))
    return beta, float(r2)


def impute(products: pd.DataFrame, log: list[str]) -> pd.DataFrame:
    """Fill missing size, efficiency, price and horsepower; flag every filled cell."""
    df = products.copy()
    # 1. Length and width: median of the same segment and powertrain class, else segment.
    for col in ("length_in", "width_in"):
        df[f"{col}_imputed"] = df[col].isna()
        by_group = df.groupby(["segment", "powertrain"])[col].transform("median")
        by_segment = df.groupby("segment")[col].transform("median")
        df[col] = df[col].fillna(by_group).fillna(by_segment)
    df["footprint_sqft"] = df["length_in"] * df["width_in"] / 144.0
    df["footprint_imputed"] = df["length_in_imputed"] | df["width_in_imputed"]
    log.append(f"size: {int(df['footprint_imputed'].sum())} rows filled by segment x powertrain median")
    # 2. Efficiency (MPG, or MPGe for BEV): median of segment and powertrain class, else powertrain.
    df["efficiency_imputed"] = df["efficiency_mpg_or_mpge"].isna()
    by_group = df.groupby(["segment", "powertrain"])["efficiency_mpg_or_mpge"].transform("median")
    by_pt = df.groupby("powertrain")["efficiency_mpg_or_mpge"].transform("median")
    df["efficiency_mpg_or_mpge"] = df["efficiency_mpg_or_mpge"].fillna(by_group).fillna(by_pt)
    log.append(f"efficiency: {int(df['efficiency_imputed'].sum())} rows filled by segment x powertrain median")
    # 3. Price: hedonic OLS of log MSRP on size, segment, powertrain, luxury (+ log hp where known).
    df["msrp_imputed"] = df["msrp_usd"].isna()
    df["horsepower_imputed"] = df["horsepower"].isna()
    fit = df[~df["msrp_imputed"] & ~df["footprint_imputed"]]
    fit_hp = fit[fit["horsepower"].notna()]
    beta_hp, r2_hp = ols(hedonic_design(fit_hp, True), np.log(fit_hp["msrp_usd"]))
    beta, r2 = ols(hedonic_design(fit, False), np.log(fit["msrp_usd"]))
    need_hp = df["msrp_imputed"] & df["horsepower"].notna()
    need = df["msrp_imputed"] & df["horsepower"].isna()
    df.loc[need_hp, "msrp_usd"] = np.exp(hedonic_design(df[need_hp], True) @ beta_hp)
    df.loc[need, "msrp_usd"] = np.exp(hedonic_design(df[need], False) @ beta)
    df.loc[need_hp, "msrp_imputation"] = f"hedonic OLS with log hp (n={len(fit_hp)}, R2={r2_hp:.2f})"
    df.loc[need, "msrp_imputation"] = f"hedonic OLS without hp (n={len(fit)}, R2={r2:.2f})"
    log.append(f"msrp: {int(need_hp.sum())} rows by hedonic OLS with hp (n={len(fit_hp)}, R2={r2_hp:.3f}); "
               f"{int(need.sum())} rows without hp (n={len(fit)}, R2={r2:.3f})")
    # 4. Horsepower: OLS of log hp on log price, size, segment, powertrain, luxury.
    fit = df[~df["horsepower_imputed"] & ~df["msrp_imputed"] & ~df["footprint_imputed"]]
    beta, r2 = ols(hedonic_design(fit, False, True), np.log(fit["horsepower"]))
    need = df["horsepower_imputed"]
    df.loc[need, "horsepower"] = np.exp(hedonic_design(df[need], False, True) @ beta)
    df.loc[need, "horsepower_imputation"] = f"OLS on log price and size (n={len(fit)}, R2={r2:.2f})"
    log.append(f"horsepower: {int(need.sum())} rows by OLS on log price and size (n={len(fit)}, R2={r2:.3f})")
    return df


def build_residuals(raw: pd.DataFrame, filled: pd.DataFrame, log: list[str]) -> pd.DataFrame:
    """Turn each brand residual into an explicit 'other <brand>' product."""
    numeric = ["msrp_usd", "horsepower", "length_in", "width_in", "footprint_sqft", "efficiency_mpg_or_mpge"]
    rows = []
    for _, r in raw[raw["row_type"] == "brand_residual"].iterrows():
        make = r["make"]
        keys = set(RESIDUAL_COMPONENTS.get(make, []))
        is_component = np.array([k in keys for k in zip(filled["make"], filled["model"])], dtype=bool)
        comps = filled[is_component & filled["units"].isna().to_numpy()]
        row = {k: r[k] for k in ("make", "parent_company")}
        row["row_type"] = "brand_residual"
        row["model"] = f"Other {make}"
        row["residual_description"] = r["model"]
        if len(comps):
            method = "mean of the unallocated nameplates it names: " + ", ".join(comps["model"])
            row.update({c: comps[c].mean() for c in numeric})
            row["segment"] = comps["segment"].mode().iloc[0]
            row["powertrain"] = comps["powertrain"].mode().iloc[0]
            row["powertrains_offered"] = ";".join(sorted(set(";".join(comps["powertrains_offered"]).split(";"))))
        else:
            brand = filled[filled["make"].isin(RESIDUAL_BRANDS[make]) & filled["units"].notna()]
            w = brand["units"].to_numpy(float)
            method = "units-weighted mean of the brand's named rows"
            row.update({c: float(np.average(brand[c], weights=w)) for c in numeric})
            row["segment"] = brand.groupby("segment")["units"].sum().idxmax()
            row["powertrain"] = brand.groupby("powertrain")["units"].sum().idxmax()
            row["powertrains_offered"] = "mixed"
        row["luxury"] = make in LUXURY_MAKES
        row["units"] = r["us_sales_units"]
        for k in ("sales_basis", "sales_confidence", "sales_source", "notes"):
            row[k] = r[k]
        for k in ("msrp_imputed", "horsepower_imputed", "length_in_imputed", "width_in_imputed",
                  "footprint_imputed", "efficiency_imputed"):
            row[k] = True
        row["msrp_imputation"] = row["horsepower_imputation"] = method
        row["range_miles_epa"], row["range_source_note"] = residual_range(row, comps)
        row["assembly_countries"] = np.nan
        rows.append(row)
        log.append(f"residual {make}: {int(r['us_sales_units'])} units as 'Other {make}' ({method})")
    return pd.DataFrame(rows)


def residual_range(row: dict, comps: pd.DataFrame) -> tuple[float, object]:
    """EPA range of a BEV-class remainder: the unweighted mean of the range_miles_epa of the nameplates it
    names, the rule its other characteristics follow, when every one of them has a range; otherwise, and
    for remainders of any other class or built from the brand's named rows, blank."""
    if row.get("powertrain") != "BEV" or not len(comps) or comps["range_miles_epa"].isna().any():
        return np.nan, np.nan
    def basis(note: str) -> str:
        if "bev_range_fill_2025.csv" in note:
            return "EPA label, bev_range_fill_2025.csv"
        if "open-ev-data" in note:
            return "open-ev-data community value, unverified"
        return note
    parts = ", ".join(f"{m} {r:g} ({basis(str(n))})"
                      for m, r, n in zip(comps["model"], comps["range_miles_epa"], comps["range_source_note"]))
    return float(comps["range_miles_epa"].mean()), (
        f"imputed: unweighted mean of the range_miles_epa of the nameplates it names, the rule of its other "
        f"characteristics: {parts}")


def nameplate_rows(df: pd.DataFrame, make: str, model: str, file: str) -> pd.Index:
    """The rows of ``df`` of a fill or correction file's (make, model); the build stops, naming ``file``,
    where there are none."""
    match = df.index[(df["make"] == make) & (df["model"] == model)]
    if len(match) == 0:
        raise SystemExit(f"{file}: {make} {model} matches no product")
    return match


def corrected_rows(df: pd.DataFrame, r: pd.Series, column: str, expected, file: str) -> pd.Index:
    """The rows of ``df`` of a correction file's row ``r`` (its make and model), whose raw ``column`` must be
    ``expected`` (the value the file says it replaces); the build stops, naming ``file``, otherwise: a
    change of the raw file then stops the build instead of being overwritten."""
    match = nameplate_rows(df, r["make"], r["model"], file)
    if not df.loc[match, column].eq(expected).all():
        raise SystemExit(f"{file}: {r['make']} {r['model']}: raw {column} is {df.at[match[0], column]}, "
                         f"the file expects {expected}")
    return match


def fill_ranges(df: pd.DataFrame, log: list[str]) -> pd.DataFrame:
    """EPA label ranges from tools/bev_range_fill_2025.csv. A row with `replaces` blank fills a nameplate
    whose raw row has no range; a row with `replaces` set replaces that exact raw value (an unverified
    open-ev-data value, or one from the early-release 2025 Guide that lacked configurations added later),
    and the build stops if the raw value differs. GAP rows leave the range blank; all are logged."""
    fill = pd.read_csv(RANGE_FILL, dtype=str)
    fill["replaces"] = fill["replaces"].fillna("")
    out = df.copy()
    for _, r in fill.iterrows():
        match = nameplate_rows(out, r["make"], r["model"], RANGE_FILL.name)
        raw = out.loc[match, "range_miles_epa"]
        expected = "blank" if r["replaces"] == "" else r["replaces"]
        if (raw.notna().any() if r["replaces"] == "" else not raw.eq(float(r["replaces"])).all()):
            raise SystemExit(f"bev_range_fill_2025.csv: {r['make']} {r['model']}: raw range is "
                             f"{raw.iloc[0]}, the file expects {expected}")
        if r["range_miles_epa"] == "GAP":
            continue
        out.loc[match, "range_miles_epa"] = float(r["range_miles_epa"])
        out.loc[match, "range_source_note"] = (
            f"{r['source']}: MY{r['epa_model_year']} max combined label range across matched configs "
            f"({r['max_configuration']} {r['range_miles_epa']})"
            + (f"; replaces the raw {r['replaces']}" if r["replaces"] else "") + " [bev_range_fill_2025.csv]")
    gaps = fill[fill["range_miles_epa"].eq("GAP")]
    new = fill[~fill["range_miles_epa"].eq("GAP") & fill["replaces"].eq("")]
    swap = fill[fill["replaces"].ne("")]
    log.append("EPA range from bev_range_fill_2025.csv: " + "; ".join(f"{m} {mo} {r} (MY{y})" for m, mo, r, y in zip(
        new["make"], new["model"], new["range_miles_epa"], new["epa_model_year"]))
        + "; replacing raw values: " + "; ".join(f"{m} {mo} {old} -> {r} (MY{y})" for m, mo, old, r, y in zip(
            swap["make"], swap["model"], swap["replaces"], swap["range_miles_epa"], swap["epa_model_year"]))
        + "; GAP left blank: " + "; ".join(gaps["make"] + " " + gaps["model"]))
    return out


def read_msrp_fills(paths: tuple[Path, ...] = MSRP_FILLS) -> pd.DataFrame:
    """The sourced-MSRP fill files that exist, stacked, with the file each row came from in `fill_file`.

    Stops the build on a wrong header, a bad price, model year or destination basis, or a product_id
    listed twice (in one file or across the files)."""
    def check(name: str, r: pd.Series) -> None:
        price = pd.to_numeric(r["msrp_usd"], errors="coerce")
        if not (np.isfinite(price) and price > 0):
            raise SystemExit(f"{name}: {r['product_id']} msrp_usd={r['msrp_usd']!r} is not a positive number")
        if not re.fullmatch(r"20[0-3]\d", r["model_year"]):
            raise SystemExit(f"{name}: {r['product_id']} model_year={r['model_year']!r} is not a year")
        if r["destination_basis"] not in DESTINATION_TEXT:
            raise SystemExit(f"{name}: {r['product_id']} destination_basis={r['destination_basis']!r}, "
                             f"expected one of {sorted(DESTINATION_TEXT)}")
        if not r["source"].strip():
            raise SystemExit(f"{name}: {r['product_id']} source is empty")

    fills = read_fill_files(paths, MSRP_FILL_COLUMNS, check)
    dup = fills[fills["product_id"].duplicated(keep=False)]
    if len(dup):
        raise SystemExit("msrp fill: product_id listed twice: " + "; ".join(
            f"{i} ({f})" for i, f in zip(dup["product_id"], dup["fill_file"])))
    return fills


def fill_msrps(df: pd.DataFrame, log: list[str], paths: tuple[Path, ...] = MSRP_FILLS) -> pd.DataFrame:
    """Sourced base MSRPs (tools/msrp_fill_2025.csv and, where present, msrp_fill_2025_b.csv, _c and _d) for named rows
    whose raw row has no quoted price, written into the raw price columns so that normalise_prices treats
    them as any quoted row (destination removed where included, model-year CPI factor) and the hedonic
    imputation, which runs after, fits on them and skips them. A row that matches no product, or a
    product that already has a quoted price, stops the build."""
    fills = read_msrp_fills(paths)
    out = df.copy()
    ids = out["make"].map(slug) + "--" + out["model"].map(slug) + "--" + out["powertrain"].str.lower()
    for _, r in fills.iterrows():
        j = fill_target(out, ids, r)
        if pd.notna(out.at[j, "msrp_quoted_usd"]) or pd.notna(out.at[j, "msrp_excl_destination_raw"]):
            raise SystemExit(f"{r['fill_file']}: product_id={r['product_id']!r} already has a quoted MSRP "
                             f"({out.at[j, 'msrp_quoted_usd']}): not an imputed product")
        out.at[j, "msrp_quoted_usd"] = float(r["msrp_usd"])
        out.at[j, "msrp_model_year_raw"] = r["model_year"]
        out.at[j, "msrp_includes_destination_raw"] = DESTINATION_TEXT[r["destination_basis"]]
        out.at[j, "msrp_trim"] = r["trim"]
        note = f" ({r['note']})" if r["note"].strip() else ""
        out.at[j, "msrp_source"] = f"{r['source']}{note} [{r['fill_file']}]"
    if len(fills):
        for name, part in fills.groupby("fill_file", sort=False):
            log.append(f"msrp fill: {len(part)} rows quoted from {name}: " + "; ".join(
                f"{m} {mo} ${float(p):,.0f} (MY{y}, destination {d})" for m, mo, p, y, d in zip(
                    part["make"], part["model"], part["msrp_usd"], part["model_year"], part["destination_basis"])))
    return out


def hyundai_volumes(raw: pd.DataFrame, shared: Path, log: list[str]) -> pd.DataFrame:
    """Hyundai-brand 2025 volumes (hyundai_2025.csv) into the raw table, plus a derived 'Hyundai' residual.

    A nameplate row of products_2025.csv without a volume takes the sourced units of hyundai_2025.csv
    (Tucson, Elantra, Santa Fe); rows that already have one keep it (the file's differences are
    logged). The residual is built as the raw file builds its others: the official brand total minus
    the named Hyundai rows of this table.
    """
    hy = pd.read_csv(shared / "us_market" / "hyundai_2025.csv")
    out = raw.copy()
    units = pd.to_numeric(hy["units_2025"], errors="coerce")
    total_row = hy[hy["model"].str.startswith(HYUNDAI_BRAND_TOTAL)].iloc[0]
    residual_row = hy[hy["model"].str.startswith(HYUNDAI_RESIDUAL)].iloc[0]
    named = hy[units.notna() & (hy["make"] == "Hyundai") & ~hy["model"].str.startswith(
        (HYUNDAI_BRAND_TOTAL, HYUNDAI_RESIDUAL, "Memo:"))]
    for i, r in named.iterrows():
        match = out.index[(out["row_type"] == "model") & (out["make"] == r["make"]) & (out["model"] == r["model"])]
        if len(match) != 1:
            raise ValueError(f"hyundai_2025.csv row {r['model']!r} matches {len(match)} rows of products_2025.csv")
        j = match[0]
        value = float(units[i])
        if pd.isna(out.at[j, "us_sales_units"]):
            out.at[j, "us_sales_units"] = value
            out.at[j, "sales_basis"] = "press report (Hyundai Motor America figures; hyundai_2025.csv)"
            out.at[j, "sales_confidence"] = r["confidence"]
            out.at[j, "sales_source"] = r["source"]
            out.at[j, "notes"] = f"{out.at[j, 'notes']} | hyundai_2025.csv: {r['note']}"
            log.append(f"hyundai: {r['model']} {int(value)} units from hyundai_2025.csv (was blank)")
        elif out.at[j, "us_sales_units"] != value:
            log.append(f"hyundai: {r['model']} keeps {int(out.at[j, 'us_sales_units'])} units of products_2025.csv "
                       f"(hyundai_2025.csv: {int(value)})")
    brand_total = float(total_row["units_2025"])
    hyundai = out[(out["row_type"] == "model") & (out["make"] == "Hyundai")]
    in_named = float(hyundai["us_sales_units"].sum())
    named_list = ", ".join(f"{m} {int(u):,}" for m, u in zip(hyundai["model"], hyundai["us_sales_units"]) if pd.notna(u))
    residual = {
        "year": 2025, "row_type": "brand_residual", "make": "Hyundai", "parent_company": hyundai["parent_company"].iloc[0],
        "model": "Hyundai (unallocated: Kona ICE/HEV, Venue, Sonata, Nexo, other Hyundai lines)",
        "segment_body": "mixed", "powertrain": "mixed", "us_sales_units": brand_total - in_named,
        "sales_basis": "derived residual", "sales_confidence": residual_row["confidence"],
        "sales_source": (f"Hyundai brand 2025 total {int(brand_total):,} (hyundai_2025.csv: {total_row['source']}); "
                         "minus the named-model rows of this file"),
        "notes": (f"Derived: official brand total {int(brand_total):,} minus {int(in_named):,} in named rows of this file "
                  f"({named_list}). hyundai_2025.csv: {residual_row['note']} Inherits the uncertainty of every "
                  "named row of the brand."),
    }
    log.append(f"hyundai: brand total {int(brand_total)} minus {int(in_named)} in named rows = "
               f"{int(brand_total - in_named)} units in the Hyundai residual "
               f"(hyundai_2025.csv's own residual: {int(residual_row['units_2025'])}, with Kona Electric at 3,011)")
    return pd.concat([out, pd.DataFrame([residual])], ignore_index=True)


def correct_sales(raw: pd.DataFrame, log: list[str], path: Path = SALES_CORRECTIONS) -> pd.DataFrame:
    """2025 volumes of named rows that a stronger source contradicts (``SALES_CORRECTIONS``): each row's
    units, basis, confidence and source replace the raw ones; the build stops where a row matches no
    nameplate or the raw volume is not the one the file says it replaces."""
    out = raw.copy()
    models = out[out["row_type"] == "model"]
    for _, r in pd.read_csv(path).iterrows():
        match = corrected_rows(models, r, "us_sales_units", float(r["replaces"]), path.name)
        out.loc[match, "us_sales_units"] = float(r["units"])
        out.loc[match, "sales_basis"] = r["sales_basis"]
        out.loc[match, "sales_confidence"] = r["confidence"]
        out.loc[match, "sales_source"] = f"{r['source']} [{path.name}; the raw file said {int(r['replaces']):,}]"
        log.append(f"sales corrected: {r['make']} {r['model']} {int(r['replaces']):,} -> {int(r['units']):,}")
    return out


def fill_assembly(df: pd.DataFrame, shared: Path, log: list[str]) -> pd.DataFrame:
    """Assembly countries for products without one, from assembly_fill_2025.csv (GAP and n/a rows left blank),
    then the raw countries a source contradicts replaced (ASSEMBLY_CORRECTIONS)."""
    fill = pd.read_csv(shared / "us_market" / "assembly_fill_2025.csv")
    out = df.copy()
    usable = fill[~fill["assembly_countries"].str.startswith(("GAP", "n/a"))]
    units = 0.0
    for _, r in usable.iterrows():
        match = nameplate_rows(out, r["make"], r["model"], "assembly_fill_2025.csv")
        for j in match:
            if pd.notna(out.at[j, "assembly_countries"]):
                raise ValueError(f"assembly fill {r['make']} {r['model']}: product already has a country")
            out.at[j, "assembly_countries"] = r["assembly_countries"]
            out.at[j, "assembly_source"] = f"{r['source']} [assembly_fill_2025.csv, confidence {r['confidence']}]"
            units += float(out.at[j, "units"])
    gaps = fill[fill["assembly_countries"].str.startswith("GAP")]
    log.append(f"assembly: {len(usable)} rows filled from assembly_fill_2025.csv ({int(units)} units); "
               f"GAP left blank: " + "; ".join(gaps["make"] + " " + gaps["model"]))
    for _, r in pd.read_csv(ASSEMBLY_CORRECTIONS).iterrows():  # a raw country contradicted by a source
        match = corrected_rows(out, r, "assembly_countries", r["replaces"], ASSEMBLY_CORRECTIONS.name)
        out.loc[match, "assembly_countries"] = r["assembly_countries"]
        out.loc[match, "assembly_source"] = f"{r['source']} [assembly_corrections_2025.csv; the raw file said {r['replaces']}]"
        log.append(f"assembly corrected: {r['make']} {r['model']} {r['replaces']} -> {r['assembly_countries']}")
    return out


def fuel_cost(df: pd.DataFrame, ref: pd.DataFrame) -> pd.Series:
    """US dollars per mile: gasoline price / MPG, or electricity price x 33.705 kWh / MPGe."""
    gas = ref.loc["gasoline_price_2025_usd_per_gallon", "value"]
    kwh = ref.loc["electricity_price_2025_usd_per_kwh", "value"]
    kwh_per_gallon = ref.loc["epa_kwh_per_gallon_equivalent", "value"]
    electric = df["powertrain"].eq("BEV")
    return pd.Series(np.where(electric, kwh * kwh_per_gallon, gas) / df["efficiency_mpg_or_mpge"], index=df.index)


def efficiency(raw: pd.DataFrame, pt: pd.Series) -> pd.Series:
    gas = raw["combined_mpg_gas_range"].map(range_midpoint)
    hybrid = raw["combined_mpg_strong_hybrid_range"].map(range_midpoint)
    phev = raw["phev_composite_mpge_range"].map(range_midpoint)
    bev = raw["bev_combined_mpge_range"].map(range_midpoint)
    return pd.Series(np.select(
        [pt.eq("BEV"), pt.eq("PHEV"), pt.eq("HEV")],
        [bev, phev.fillna(hybrid).fillna(gas), hybrid.fillna(gas)], gas), index=raw.index)


def build_products(shared: Path, ref: pd.DataFrame, firms: pd.DataFrame, log: list[str],
                   hybrid_allocation: str = DEFAULT_ALLOCATION) -> pd.DataFrame:
    raw = pd.read_csv(shared / "us_market" / "products_2025.csv")
    raw = hyundai_volumes(raw, shared, log)
    raw = correct_sales(raw, log)
    models = raw[raw["row_type"] == "model"].copy()
    df = pd.DataFrame({
        "row_type": "model",
        "make": models["make"], "parent_company": models["parent_company"], "model": models["model"],
        "segment": models["segment_body"], "powertrains_offered": models["powertrain"],
        "powertrain": models["powertrain"].map(powertrain_class),
        "luxury": models["make"].isin(LUXURY_MAKES),
        "units": models["us_sales_units"],
        "sales_basis": models["sales_basis"], "sales_confidence": models["sales_confidence"],
        "sales_source": models["sales_source"],
        "msrp_quoted_usd": models["base_msrp_usd"], "msrp_model_year_raw": models["msrp_model_year"],
        "msrp_trim": models["msrp_trim"], "msrp_includes_destination_raw": models["msrp_includes_destination"],
        "msrp_excl_destination_raw": models["msrp_excl_destination_usd"], "msrp_source": models["msrp_source"],
        "horsepower": models["horsepower"], "curb_weight_lb": models["curb_weight_lb"],
        "spec_source": models["spec_source"], "spec_model_year": models["spec_model_year"],
        "length_in": models["length_in"], "width_in": models["width_in"], "height_in": models["height_in"],
        "size_source": models["size_source"], "epa_class_2025": models["epa_class_2025"],
        "combined_mpg_gas_range": models["combined_mpg_gas_range"],
        "combined_mpg_strong_hybrid_range": models["combined_mpg_strong_hybrid_range"],
        "phev_composite_mpge_range": models["phev_composite_mpge_range"],
        "phev_electric_range_mi_range": models["phev_electric_range_mi_range"],
        "bev_combined_mpge_range": models["bev_combined_mpge_range"],
        "efficiency_source": models["efficiency_source"],
        "range_miles_epa": models["range_miles_epa_max"], "range_source_note": models["range_source_note"],
        "battery_kwh": models["battery_kwh"].map(first_number), "battery_kwh_raw": models["battery_kwh"],
        "assembly_countries": models["final_assembly_country"], "assembly_source": models["assembly_source"],
        "notes": models["notes"],
    })
    df["efficiency_mpg_or_mpge"] = efficiency(models, df["powertrain"])
    df = fill_ranges(df, log)
    df = fill_msrps(df, log)
    df = normalise_prices(df, ref)
    df = fill_specs(df, log, SPEC_FILLS)
    df = impute(df, log)
    residuals = build_residuals(raw, df, log)
    dropped = df[df["units"].isna()]
    log.append(f"dropped {len(dropped)} named rows without a 2025 volume (their units, where known, "
               "sit in a brand residual): " + "; ".join(dropped["make"] + " " + dropped["model"]))
    split = read_split(shared)
    df = split_powertrains(df[df["units"].notna()].reset_index(drop=True), split, log)
    df = pd.concat([df, residuals], ignore_index=True)
    df = derive_hybrids(df, split, log, hybrid_allocation)
    df = price_hybrids(df, ref, log, normalise_prices)
    df = check_spec_fill_ids(df, SPEC_FILLS)
    df = fill_assembly(df, shared, log)
    df["assembled_in_us"] = df["assembly_countries"].map(
        lambda s: pd.NA if pd.isna(s) else "United States" in str(s)).astype("boolean")
    df["fuel_cost_usd_per_mile"] = fuel_cost(df, ref)
    nat = firms.set_index("parent_company")
    df["firm_nationality"] = df["parent_company"].map(nat["nationality"])
    df["firm_country"] = df["parent_company"].map(nat["owner_country"])
    df["product_id"] = (df["make"].map(slug) + "--" + df["model"].map(slug) + "--" + df["powertrain"].str.lower())
    df["units"] = df["units"].astype(int)
    df = months_on_offer(df, log)
    first = ["product_id", "row_type", "make", "parent_company", "firm_nationality", "firm_country", "model", "segment",
             "powertrain", "powertrains_offered", "luxury", "units", "msrp_usd", "msrp_imputed",
             "msrp_imputation", "msrp_flags", "horsepower", "horsepower_imputed", "horsepower_imputation",
             "length_in", "length_in_imputed", "width_in", "width_in_imputed", "footprint_sqft",
             "footprint_imputed", "curb_weight_lb", "efficiency_mpg_or_mpge", "efficiency_imputed",
             "fuel_cost_usd_per_mile", "range_miles_epa", "battery_kwh", "assembly_countries",
             "assembled_in_us"]
    return df[first + [c for c in df.columns if c not in first]]


def months_on_offer(df: pd.DataFrame, log: list[str],
                    sources: tuple[tuple[Path, str, str, str], ...] = MONTHS_ON_OFFER_SOURCES) -> pd.DataFrame:
    """`months_on_offer_2025` (months of 2025 on offer to new orders) and `months_on_offer_source` for each
    product: 12 unless a sourced list (MONTHS_ON_OFFER_SOURCES, each row with its own source) says fewer. The
    hedonic fit puts a product on offer m months at xi + ln(12/m) and leaves out one sold only from stock (m = 0),
    so these are facts about the 2025 products and sit in their table. A listed product_id that matches no
    product, or a value outside 0-12, stops the build."""
    out = df.copy()
    out["months_on_offer_2025"] = 12.0
    out["months_on_offer_source"] = "on offer all year: no 2025 launch or run-out listed"
    row = pd.Series(out.index, index=out["product_id"])
    for path, column, meaning, date_column in sources:
        table = pd.read_csv(path, dtype={date_column: str})
        for _, r in table.iterrows():
            if r["product_id"] not in row.index:
                raise SystemExit(f"{path.name}: product_id={r['product_id']!r} matches no product")
            value = pd.to_numeric(r[column], errors="coerce")
            if pd.isna(value):
                continue
            if not 0 <= value <= 12:
                raise SystemExit(f"{path.name}: {r['product_id']} {column}={r[column]!r} is not from 0 to 12")
            j = row[r["product_id"]]
            out.at[j, "months_on_offer_2025"] = float(value)
            date = f", {meaning} {r[date_column]}" if pd.notna(r[date_column]) else ""
            out.at[j, "months_on_offer_source"] = f"{path.name} {column}{date} (sources there)"
    short = out[out["months_on_offer_2025"] < 12]
    log.append("months on offer in 2025, where fewer than 12: " + "; ".join(
        f"{m} {mo} ({p}) {v:g}" for m, mo, p, v in zip(short["make"], short["model"], short["powertrain"],
                                                      short["months_on_offer_2025"])))
    return out


def build_market_facts(shared: Path, ref: pd.DataFrame) -> pd.DataFrame:
    """The shared market facts, then the rows sourced here (``market_facts_fill_2025.csv``: KBB's
    monthly EV transaction prices that the shared table lacks, each with its URL and quoted words)."""
    facts = pd.read_csv(shared / "us_market" / "market_facts.csv")
    return pd.concat([facts, pd.read_csv(TOOLS / "market_facts_fill_2025.csv")], ignore_index=True)


def build_chinese_models(shared: Path, ref: pd.DataFrame) -> pd.DataFrame:
    """Keep every raw column; add parsed numbers and an EPA-equivalent range."""
    raw = pd.read_csv(shared / "policy_and_costs" / "chinese_models.csv")
    out = raw.copy()
    out.insert(0, "candidate_id", (raw["brand"].map(slug) + "--" + raw["model"].map(slug) + "--"
                                    + raw["variant"].fillna("base").map(slug)).str.slice(0, 80))
    out["battery_kwh_first"] = raw["battery_kwh"].map(first_number)
    out["range_km_first"] = raw["range_km"].map(first_number)
    out["power_kw_first"] = raw["power_kw"].map(first_number)
    out["price_china_cny_first"] = raw["price_china_cny"].map(first_number)
    out["price_europe_first"] = raw["price_europe"].map(first_number)
    factors = {"CLTC": ref.loc["range_factor_cltc_to_epa", "value"],
               "WLTP": ref.loc["range_factor_wltp_to_epa", "value"],
               "NEDC": ref.loc["range_factor_nedc_to_epa", "value"]}
    km_per_mile = ref.loc["km_per_mile", "value"]
    cycles = raw["range_cycle"].fillna("").str.upper()
    cycle = cycles.map(lambda c: next((k for k in factors if c.startswith(k)), ""))
    is_ev_range = ~raw["range_km"].fillna("").str.contains("EV-only|total", case=False)
    out["range_cycle_parsed"] = cycle.where(cycle != "", "unconverted")
    factor = cycle.map(factors).astype(float)
    out["range_miles_epa_equivalent"] = np.where(is_ev_range, out["range_km_first"] * factor / km_per_mile, np.nan)
    out["range_conversion_note"] = np.where(
        np.isnan(out["range_miles_epa_equivalent"]),
        "not converted: cycle unknown, mixed, or range is PHEV/EREV total or EV-only",
        "first quoted range x " + cycle + "-to-EPA factor (reference_parameters.csv) / km per mile")
    return out


def named(table: pd.DataFrame, parts: list[str]) -> pd.Series:
    names = table[parts].fillna("").astype(str).agg(" ".join, axis=1).map(slug).str.slice(0, 90)
    dup = names.groupby(names).cumcount()
    return names.where(dup == 0, names + "-" + (dup + 1).astype(str))


def build_parameters(shared: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    tariffs = pd.read_csv(shared / "policy_and_costs" / "tariff_parameters.csv")
    tariffs.insert(0, "name", named(tariffs, ["jurisdiction", "instrument", "product_scope", "origin", "effective_from"]))
    tariffs["value_numeric"] = pd.to_numeric(tariffs["rate_or_value"], errors="coerce")
    costs = pd.read_csv(shared / "policy_and_costs" / "costs.csv")
    costs.insert(0, "name", named(costs, ["category", "item", "region", "year"]))
    costs["value_numeric"] = pd.to_numeric(costs["value"], errors="coerce")
    return tariffs, costs


def doc_date(iso: str) -> str:
    """2025-08-01 -> '1 Aug 2025', as tariffs_and_rules.md writes dates."""
    d = pd.Timestamp(iso)
    return f"{d.day} {d:%b %Y}"


def build_section_232(shared: Path, products: pd.DataFrame, firms: pd.DataFrame, log: list[str]) -> pd.DataFrame:
    """The dated Section 232 table by origin (tools/section_232_rates.csv, transcribed from section 9 of
    tariffs_and_rules.md), checked against its sources: the general row against the Section 232 row of
    tariff_parameters.csv, each origin row against its row of the section 9 table (rate, first day of
    entries, quota). Raises when they disagree."""
    table = pd.read_csv(TOOLS / "section_232_rates.csv", dtype={"quota_units": "Int64"})
    raw = pd.read_csv(shared / "policy_and_costs" / "tariff_parameters.csv")
    base = raw[raw["instrument"].eq("Section 232 autos (Proc. 10908)")].iloc[0]
    general = table[table["origin"].eq("all")]
    if len(general) != 1 or float(general["rate_pct"].iloc[0]) != float(base["rate_or_value"]) \
            or general["effective_from"].iloc[0] != base["effective_from"]:
        raise SystemExit("section_232_rates.csv: the general row disagrees with tariff_parameters.csv")
    text = (shared / "policy_and_costs" / "tariffs_and_rules.md").read_text()
    section = text[text.index("## 9. Section 232 deal rates by origin"):]
    lines = {line.split("|")[1].strip(): line for line in section.splitlines() if line.startswith("| ")}
    for _, row in table[table["doc_row"].notna()].iterrows():
        line = lines.get(row["doc_row"])
        start = pd.Timestamp(row["effective_from"])
        wanted = [f"{row['rate_pct']:g}%",
                  f"from {start.year}" if (start.month, start.day) == (1, 1) else doc_date(row["effective_from"])]
        if pd.notna(row["quota_units"]):
            wanted.append(f"{int(row['quota_units']):,}")
        missing = [w for w in wanted if line is None or w not in line]
        if missing:
            raise SystemExit(f"section_232_rates.csv: row {row['origin']} {row['effective_from']}: "
                             f"{missing} not in row {row['doc_row']!r} of tariffs_and_rules.md section 9")
    groups = {c: o for o, members in zip(table["origin"], table["members"].fillna("")) for c in members.split(";") if c}
    countries = sorted({c.strip() for listed in products["assembly_countries"].dropna() for c in listed.split(";")}
                       | set(firms["owner_country"]))
    log.append("Section 232 origins: " + "; ".join(f"{c} -> {groups.get(c, 'general rule')}" for c in countries
                                                     if c != "United States"))
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=BUNDLED, help="output folder (default: the package's)")
    parser.add_argument("--hybrid-allocation", choices=HYBRID_ALLOCATIONS, default=DEFAULT_ALLOCATION,
                        help="how a brand's hybrid remainder is shared over its nameplates (PROVENANCE.md)")
    args = parser.parse_args()
    out = args.out
    ref = reference_parameters()
    firms = pd.read_csv(TOOLS / "firms.csv")
    log: list[str] = []
    products = build_products(args.shared, ref, firms, log, args.hybrid_allocation)
    out.mkdir(parents=True, exist_ok=True)
    products.to_csv(out / "products_2025.csv", index=False)
    build_market_facts(args.shared, ref).to_csv(out / "market_facts.csv", index=False)
    build_chinese_models(args.shared, ref).to_csv(out / "chinese_models.csv", index=False)
    tariffs, costs = build_parameters(args.shared)
    build_section_232(args.shared, products, firms, log).to_csv(out / "section_232_rates.csv", index=False)
    tariffs.to_csv(out / "tariff_parameters.csv", index=False)
    costs.to_csv(out / "costs.csv", index=False)
    firms.to_csv(out / "firms.csv", index=False)
    ref.reset_index().to_csv(out / "reference_parameters.csv", index=False)
    income = pd.read_csv(args.shared / "us_market" / "consumer_income.csv")
    income.to_csv(out / "consumer_income.csv", index=False)
    pd.read_csv(args.shared / "us_market" / "us_plants.csv").to_csv(out / "us_plants.csv", index=False)
    pd.read_csv(args.shared / "policy_and_costs" / "ev_global.csv").to_csv(out / "ev_global.csv", index=False)
    (out / "build_log.md").write_text("# Build log (tools/build_data.py)\n\n" + "\n".join(f"- {x}" for x in log) + "\n")
    print("\n".join(log))


if __name__ == "__main__":
    main()
