"""Summary of a loaded market: coverage, EVs, units by firm and nationality, imputation, assumptions."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from autopact.data.market import Market
from autopact.data.tables import reference_parameters

CHARACTERISTIC_FLAGS = ("horsepower_imputed", "footprint_imputed", "efficiency_imputed")


def _flag(products: pd.DataFrame, column: str) -> pd.Series:
    if column not in products.columns:
        return pd.Series(False, index=products.index)
    return products[column].astype(str).str.lower().isin(("true", "1"))


def summarize(market: Market) -> dict[str, Any]:
    """Machine-readable summary of ``market`` (the JSON of ``autopact data summary --json``)."""
    p = market.products
    units = p["units"].astype(float)
    covered = float(units.sum())
    total = float(market.assumptions["market_total_units"].value)
    bev = p["powertrain"] == "BEV"
    price_imputed = _flag(p, "msrp_imputed")
    char_imputed = np.logical_or.reduce([_flag(p, c) for c in CHARACTERISTIC_FLAGS])
    residual = p["row_type"].eq("brand_residual") if "row_type" in p.columns else pd.Series(False, index=p.index)
    dropped_units = float(market.dropped["units"].sum()) if len(market.dropped) else 0.0
    by_firm = units.groupby(p["parent_company"]).sum().sort_values(ascending=False)
    by_nat = units.groupby(p["firm_nationality"]).sum().sort_values(ascending=False)
    summary: dict[str, Any] = {
        "year": market.facts.year,
        "source": market.source,
        "products": int(len(p)),
        "units_total": int(covered),
        "market_total_units": int(total),
        "units_covered_share": covered / total,
        "uncovered_units": int(total - covered),
        "market_size_households": int(market.market_size),
        "outside_good_share": 1.0 - covered / market.market_size,
        "bev_products": int(bev.sum()),
        "bev_units": int(units[bev].sum()),
        "bev_share_of_covered_units": float(units[bev].sum() / covered),
        "bev_units_market_total": int(market.facts.bev_units),
        "bev_share_market": market.facts.bev_share,
        "bev_units_covered_share": float(units[bev].sum() / market.facts.bev_units),
        "units_by_powertrain": {k: int(v) for k, v in units.groupby(p["powertrain"]).sum().items()},
        "units_by_segment": {k: int(v) for k, v in units.groupby(p["segment"]).sum().items()},
        "units_by_firm": {k: int(v) for k, v in by_firm.items()},
        "company_reconciliation": _reconcile(by_firm, market),
        "units_by_nationality": {k: int(v) for k, v in by_nat.items()},
        "imputed_price_products": int(price_imputed.sum()),
        "imputed_price_units_share": float(units[price_imputed].sum() / covered),
        "imputed_characteristics_units_share": float(units[char_imputed].sum() / covered),
        "imputed_units_share_by_field": {
            c.removesuffix("_imputed"): float(units[_flag(p, c)].sum() / covered)
            for c in ("msrp_imputed", *CHARACTERISTIC_FLAGS) if c in p.columns},
        "remainder_rows": {
            "choice": market.assumptions["remainder_rows"].value,
            "products": int(residual.sum()),
            "units_kept": int(units[residual].sum()),
            "units_dropped": int(dropped_units),
            "share_of_market": float((units[residual].sum() + dropped_units) / total),
        },
        "prices": {
            "price_level": market.assumptions["price_level"].value,
            "basis": "2025 US dollars, excluding destination charge",
            "scale_factor_on_msrp": market.price_scale,
            "scale_factors_on_msrp_by_powertrain": dict(market.price_scales),
            "units_weighted_mean_msrp": float(np.average(p["msrp_usd"], weights=units)),
            "units_weighted_mean_price": float(np.average(p["prices"], weights=units)),
            "average_transaction_price_2025": market.facts.average_transaction_price,
        },
        "assumptions": [
            {"name": a.name, "value": a.value, "unit": a.unit, "reason": a.reason, "source": a.source}
            for a in market.assumptions.values()
        ],
        "data_assumptions": _data_assumptions(),
    }
    return summary


# Parent companies whose official 2025 US total (market_facts.csv, sales_by_company) has the same scope.
COMPANY_TOTALS = {
    "General Motors": "General Motors (Chevrolet, GMC, Buick, Cadillac)",
    "Toyota Motor Corp.": "Toyota Motor North America (Toyota + Lexus)",
    "Ford Motor Co.": "Ford Motor Co. (Ford + Lincoln)",
    "Honda Motor Co.": "American Honda (Honda + Acura)",
    "Stellantis": "Stellantis / FCA US",
    "Tesla": "Tesla (estimate)",
    "Mazda Motor Corp.": "Mazda North American Operations (US)",
    "Nissan Motor Co.": "Nissan Group (Nissan + Infiniti)",
    "Mercedes-Benz Group": "Mercedes-Benz USA passenger vehicles",
    "Hyundai Motor Group": "Hyundai Motor Group (Hyundai + Kia + Genesis)",
}


def _reconcile(by_firm: pd.Series, market: Market) -> list[dict[str, Any]]:
    """Our units by firm against each firm's official 2025 US total, where one of the same scope exists."""
    rows = []
    for firm, company in COMPANY_TOTALS.items():
        official = market.facts.sales_by_company.get(company)
        if official is None or firm not in by_firm.index:
            continue
        rows.append({"firm": firm, "units": int(by_firm[firm]), "official": int(official),
                     "official_scope": company, "ratio": float(by_firm[firm] / official)})
    return rows


def _data_assumptions() -> list[dict[str, Any]]:
    """Build-time choices with low confidence or derived values (reference_parameters.csv)."""
    ref = reference_parameters().reset_index()
    weak = ref[(ref["confidence"] != "high") | ref["derived"].astype(str).str.startswith(("yes", "assumption"))]
    return [{"name": r["name"], "value": r["value"], "unit": r["unit"], "confidence": r["confidence"],
             "source": r["source"]} for _, r in weak.iterrows()]
