"""The HEV row of a split nameplate at its own hybrid trim (PROVENANCE.md, "Hybrid prices").

A split nameplate's HEV row first takes its ICE row's characteristics (``hybrid_split``). A hybrid costs
more and is often sold only on dearer trims, so each row of ``tools/hybrid_trims_2025.csv`` gives the HEV
row the quoted base MSRP of the nameplate's cheapest hybrid configuration, or, where only the hybrid's
premium over the same trim is sourced, the ICE row's price plus that premium; and the priced trim's
horsepower where sourced. A quoted price is normalised as every quoted price of the table (the build's
``normalise_prices``: the destination charge taken out where the quote includes it, the model year's
new-vehicle CPI factor); a premium is added in 2025 dollars by its model year's factor where the CPI
series has that year, else as quoted (flagged). Nothing is typed in here: every number comes from the file.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
from cells import DESTINATION_TEXT, SHARED_BY_BOTH_ROWS, append_note, cpi_factors, read_fill_files, slug

HYBRID_TRIMS = Path(__file__).resolve().parent / "hybrid_trims_2025.csv"
COLUMNS = ["product_id", "make", "model", "msrp_usd", "premium_usd", "model_year", "trim", "destination_basis",
           "destination_usd", "horsepower", "horsepower_source", "source", "note", "confidence"]


def _number(text: str) -> float:
    value = pd.to_numeric(text, errors="coerce") if str(text).strip() else np.nan
    return float(value)


def read_hybrid_trims(path: Path, cpi_years: set[int]) -> pd.DataFrame:
    """The rows of ``path``; stops the build, naming the file and the field, on a row that is not an HEV
    product id, gives both or neither of a positive price and a positive premium, has no year (or, for a
    quoted price, a year the CPI series lacks), an unknown destination basis, a non-positive destination
    or horsepower, a horsepower without its source, or no source; and on a product_id listed twice."""
    def check(name: str, r: pd.Series) -> None:
        pid = r["product_id"]
        price, premium = _number(r["msrp_usd"]), _number(r["premium_usd"])
        if not pid.endswith("--hev"):
            raise SystemExit(f"{name}: product_id={pid!r} is not an HEV row")
        if np.isfinite(price) == np.isfinite(premium) or not (price > 0 or premium > 0):
            raise SystemExit(f"{name}: {pid} needs exactly one positive number of msrp_usd={r['msrp_usd']!r} "
                             f"and premium_usd={r['premium_usd']!r}")
        if not re.fullmatch(r"(19|20)\d\d", r["model_year"]):
            raise SystemExit(f"{name}: {pid} model_year={r['model_year']!r} is not a year")
        if np.isfinite(price) and int(r["model_year"]) not in cpi_years:
            raise SystemExit(f"{name}: {pid} model_year={r['model_year']} has no CPI factor to put its price in 2025 dollars")
        if r["destination_basis"] not in DESTINATION_TEXT:
            raise SystemExit(f"{name}: {pid} destination_basis={r['destination_basis']!r}, expected one of {sorted(DESTINATION_TEXT)}")
        for column in ("destination_usd", "horsepower"):
            if r[column].strip() and not _number(r[column]) > 0:
                raise SystemExit(f"{name}: {pid} {column}={r[column]!r} is not a positive number")
        if r["horsepower"].strip() and not r["horsepower_source"].strip():
            raise SystemExit(f"{name}: {pid} horsepower_source is empty")
        if not r["source"].strip():
            raise SystemExit(f"{name}: {pid} source is empty")

    rows = read_fill_files((path,), COLUMNS, check)
    twice = rows["product_id"][rows["product_id"].duplicated()]
    if len(twice):
        raise SystemExit(f"{path.name}: product_id listed twice: {', '.join(twice)}")
    return rows


def price_hybrids(df: pd.DataFrame, ref: pd.DataFrame, log: list[str],
                  normalise: Callable[[pd.DataFrame, pd.DataFrame], pd.DataFrame], path: Path = HYBRID_TRIMS
                  ) -> pd.DataFrame:
    """``df`` with each listed HEV row at its hybrid trim (module docstring); ``normalise`` is the build's
    ``normalise_prices``. Stops the build on a row that is not the HEV row of a split nameplate."""
    out = df.copy()
    cpi = cpi_factors(ref)
    rows = read_hybrid_trims(path, set(cpi))
    ids = out["make"].map(slug) + "--" + out["model"].map(slug) + "--" + out["powertrain"].str.lower()
    at = pd.Series(out.index, index=ids)
    quoted = []
    for _, r in rows.iterrows():
        pid, ice = r["product_id"], r["product_id"].removesuffix("--hev") + "--ice"
        if pid not in at.index or ice not in at.index:
            raise SystemExit(f"{path.name}: {pid} is not the HEV row of a split nameplate")
        j, i, year = at[pid], at[ice], int(r["model_year"])
        out.at[j, "msrp_trim"] = r["trim"]
        out.at[j, "msrp_model_year_raw"] = r["model_year"]
        out.at[j, "msrp_source"] = f"{r['source']} ({r['note']}; confidence {r['confidence']}) [{path.name}]"
        out.at[j, "msrp_excl_destination_raw"] = np.nan
        if np.isfinite(_number(r["msrp_usd"])):
            included = r["destination_basis"] == "included" and r["destination_usd"].strip()
            out.at[j, "msrp_quoted_usd"] = _number(r["msrp_usd"])
            out.at[j, "msrp_includes_destination_raw"] = (f"yes (includes ${_number(r['destination_usd']):,.0f} destination)"
                                                          if included else DESTINATION_TEXT[r["destination_basis"]])
            out.at[j, "msrp_imputed"], out.at[j, "msrp_imputation"] = False, np.nan
            quoted.append(j)
        else:
            factor = cpi[2025] / cpi[year] if year in cpi else np.nan
            premium = _number(r["premium_usd"])
            out.at[j, "msrp_usd"] = out.at[i, "msrp_usd"] + premium * (factor if np.isfinite(factor) else 1.0)
            out.at[j, "msrp_quoted_usd"] = np.nan
            out.at[j, "msrp_includes_destination_raw"] = np.nan
            out.at[j, "msrp_model_year"] = year
            out.at[j, "msrp_destination_basis"] = "not applicable: a premium over the ICE row's price"
            out.at[j, "msrp_inflation_factor"] = factor
            out.at[j, "msrp_flags"] = "; ".join(
                [f"hybrid price: the ICE row's price plus the hybrid's premium, ${premium:,.0f} (MY{year})"]
                + ([] if np.isfinite(factor) else [f"premium in MY{year} dollars: the CPI series has no {year}"]))
        if r["horsepower"].strip():
            out.at[j, "horsepower"] = _number(r["horsepower"])
            out.at[j, "horsepower_imputed"], out.at[j, "horsepower_imputation"] = False, np.nan
            source = f"horsepower of the priced hybrid trim: {r['horsepower_source']} [{path.name}]"
            out.at[j, "spec_source"] = append_note(out.at[j, "spec_source"], source)
        shared = "the price and horsepower" if r["horsepower"].strip() else "the price"
        if SHARED_BY_BOTH_ROWS not in str(out.at[i, "msrp_flags"]):
            raise SystemExit(f"{path.name}: {ice}'s flags do not say what it shares with {pid} (hybrid_split.py)")
        out.at[i, "msrp_flags"] = str(out.at[i, "msrp_flags"]).replace(
            SHARED_BY_BOTH_ROWS, f"shared by its HEV row except {shared} ({path.name})")
    if quoted:
        normalised = normalise(out.loc[quoted], ref)
        columns = ["msrp_model_year", "msrp_destination_basis", "msrp_inflation_factor", "msrp_usd", "msrp_flags"]
        out.loc[quoted, columns] = normalised[columns]
        out.loc[quoted, "msrp_flags"] = [
            "; ".join(x for x in ("hybrid price: the cheapest hybrid configuration's quoted base MSRP", f) if x)
            for f in normalised["msrp_flags"]]
    log.append(f"hybrid trims: {len(rows)} HEV rows of split nameplates from {path.name}: " + "; ".join(
        f"{m} {mo} ${out.at[at[p], 'msrp_usd']:,.0f}, {out.at[at[p], 'horsepower']:g} hp"
        for m, mo, p in zip(rows["make"], rows["model"], rows["product_id"])))
    return out
