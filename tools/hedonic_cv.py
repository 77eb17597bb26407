"""The hedonic fit's model-selection criterion: leave-one-out prediction of every nameplate's xi.

For each named product on offer in 2025 (the bundled market's "model" rows with weight > 0), the fit
(``autopact.policy.hedonic.Hedonic``) on the market without it predicts its xi on a year's basis
from its characteristics and its brand term (a young brand's mean for the new brands); the script
prints the median and root mean square of |xi - prediction| for the bundled specification and for
each variant named on the command line, one extra term (or set) added to the bundled design.

    python tools/hedonic_cv.py                    # the bundled specification
    python tools/hedonic_cv.py without-size-terms lux-bev hp-squared

Each line gives the criterion twice: over every nameplate on offer, and over those whose units are not
derived by the hybrid split (a derived HEV row and its ICE twin split their nameplate's units by rule:
PROVENANCE "Hybrid splits").
"""

from __future__ import annotations

import sys

import numpy as np

import autopact.policy.hedonic as hedonic
from autopact.fit.market import NEW_BRAND_MAKES
from autopact.policy.scenario import load_scenario
from autopact.simulate import market_for

BUNDLED = hedonic._characteristics_design


def _extra(table, log_range_ref):
    lux = table["luxury"].astype(float).to_numpy()
    bev = table["powertrain"].eq("BEV").to_numpy().astype(float)
    car = table["segment"].eq("car").to_numpy().astype(float)
    suv = table["segment"].eq("SUV-crossover").to_numpy().astype(float)
    hp = np.log(table["horsepower"].to_numpy(float))
    fp = np.log(table["footprint_sqft"].to_numpy(float))
    return {"lux-bev": [lux * bev], "lux-hp": [lux * hp], "car-bev": [car * bev], "hp-squared": [hp ** 2],
            "footprint-by-segment": [fp * suv, fp * car], "footprint-cubed": [fp ** 3]}


def variant(name: str):
    """The design of the bundled fit plus ``name``'s terms; "without-size-terms" drops the last two
    columns (the squared log footprint and luxury x SUV), "square-only" and "luxury-suv-only" keep one."""
    def design(table, log_range_ref):
        x = BUNDLED(table, log_range_ref)
        if name == "bundled":
            return x
        if name == "without-size-terms":
            return x[:, :-2]
        if name in ("square-only", "luxury-suv-only"):  # one of the two size terms
            return np.delete(x, -1 if name == "square-only" else -2, axis=1)
        return np.column_stack([x, *_extra(table, log_range_ref)[name]])
    return design


def criterion(name: str) -> tuple[tuple[float, float, int], tuple[float, float, int]]:
    """(median, root mean square, count) of |xi error| over every nameplate on offer, then over those
    whose units the hybrid split did not derive."""
    market = market_for(load_scenario("baseline-2025"))
    table = market.products.reset_index(drop=True)
    units = market.data.units.astype(float)
    xi_annual, weights = hedonic.annual_basis(table, market.xi, units)
    rows = np.flatnonzero(market.data.products["row_type"].eq("model").to_numpy() & (weights > 0))
    hedonic._characteristics_design = variant(name)
    try:
        errors = []
        for j in rows:
            keep = np.arange(len(table)) != j
            fit = hedonic.Hedonic.fit(table[keep], market.xi[keep], units[keep])
            row = table.iloc[[j]]
            make, firm = str(row["make"].iloc[0]), str(row["owner"].iloc[0])
            brand = fit.brand_term(None if make in NEW_BRAND_MAKES else firm, str(row["powertrain"].iloc[0]), make=make)
            errors.append(abs(xi_annual[j] - fit.predict(row)[0] - brand))
    finally:
        hedonic._characteristics_design = BUNDLED
    errors = np.array(errors)
    derived = market.data.products["powertrain_split_source"].fillna("").str.contains("DERIVED").to_numpy()[rows]

    def summary(e: np.ndarray) -> tuple[float, float, int]:
        return float(np.median(e)), float(np.sqrt(np.mean(e ** 2))), len(e)
    return summary(errors), summary(errors[~derived])


if __name__ == "__main__":
    for name in sys.argv[1:] or ["bundled"]:
        every, sourced = criterion(name)
        print(f"{name}: median |xi error| {every[0]:.3f}, root mean square {every[1]:.3f} ({every[2]} nameplates); "
              f"units not derived: {sourced[0]:.3f}, {sourced[1]:.3f} ({sourced[2]})", flush=True)
