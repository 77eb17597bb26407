"""The launch term: how far US launches of 2019-2025 fell short of what their characteristics and
brand predict, by year after launch.

For each launch i in ``backtest_launches.csv`` (each with a sourced launch year) that the market
holds, its gap is

    g_i = xi_i + ln(12 / m_i) - (x_i' b_{-i} + brand_{-i}(firm_i, powertrain_i))

with the hedonic fit and brand terms of the market without i (``autopact.policy.hedonic``): the part
of its 2025 mean utility that characteristics and brand do not explain, at an annual rate. A launch
of 2025 was on sale only m_i months of the year (``months_on_sale_2025``, sourced), so its 2025 units
are about m_i / 12 of a year's; ln(12 / m_i) puts its xi on the annual basis of every other product
(d ln s / d xi = 1 - s, and a launch holds well under 1% of the market, so the shift is exact to its
share). The launch term is thus a term of annual units, like the scenarios' entrants. Launches' gaps are
negative on average and most so in the first years (awareness, dealer stock, production ramp).
The launch term of an entrant in its k-th year on sale is the mean gap of the launches of its
powertrain class (BEV or not) in the same band of years (first year; years 2-5; year 6 and later),
or of all launches of the band where its class has fewer than ``MIN_CELL_LAUNCHES`` others there.
A scenario's entrants take the band of the policy parameter ``entrant_years_on_sale``; the entry
back-test takes each launch's own band, leaving the launch itself out of the mean.

Why by powertrain class: the brand term a launch is measured against is its firm's residual for
its powertrain. A firm's ICE residual comes from mature nameplates, so ICE launches fall short of
it (years 2-5: about -0.8); a firm's BEV residual comes from its other BEVs, themselves launched in
2019-2025, so the shortfall of a new BEV is mostly in the brand term already (about -0.1). One
pooled mean gave ICE launches too little shortfall and BEV launches too much (README "Back-tests").
"""

from __future__ import annotations

from statistics import NormalDist
from typing import Any, Mapping

import numpy as np
import pandas as pd

from autopact.data import read_bundled
from autopact.fit.market import NEW_BRAND_MAKES, MarketModel
from autopact.policy.hedonic import Hedonic, annual_basis, months_on_offer, reentry_maps

BANDS = ((1, 1, "first year"), (2, 5, "years 2-5"), (6, 99, "year 6 and later"))
MIN_CELL_LAUNCHES = 3  # fewer other launches of the class in the band: the band's mean of all launches


def powertrain_class(powertrain: str) -> str:
    """The launch term's powertrain class: BEV, or not (ICE, HEV, PHEV: a firm's residual for them
    comes mostly from mature nameplates)."""
    return "BEV" if powertrain == "BEV" else "not BEV"


def band(years_on_sale: float) -> str:
    """The band of years after launch (the launch year counts as year 1)."""
    for low, high, label in BANDS:
        if low <= round(years_on_sale) <= high:
            return label
    raise ValueError(f"years on sale must be at least 1, got {years_on_sale}")


def months_on_sale(launch: Mapping[str, Any], offered: float = 12.0) -> float:
    """Months of 2025 a launch was on sale (``months_on_sale_2025``; where blank, ``offered``: the months
    on offer of its product in the market, less than 12 for one whose new orders ended, ``run_outs_2025.csv``)."""
    value = launch.get("months_on_sale_2025")
    if value is None or pd.isna(value):
        return float(offered)
    if not 1 <= float(value) <= 12:
        raise ValueError(f"months_on_sale_2025 of {launch.get('product_id')!r} must be from 1 to 12, got {value}")
    return float(value)


def reentry_prediction(market: MarketModel, product_id: str) -> dict[str, float]:
    """The hedonic prediction and brand term of a product as an entrant into the market without it."""
    minus, j = market.without(product_id)
    units = np.delete(market.data.units, j)
    hedonic = Hedonic.fit(minus.products, minus.xi, units)
    row = market.products.iloc[[j]].reset_index(drop=True)
    new_brand = str(row.at[0, "make"]) in NEW_BRAND_MAKES
    brand = hedonic.brand_term(None if new_brand else str(row.at[0, "owner"]), str(row.at[0, "powertrain"]),
                               make=str(row.at[0, "make"]))
    return {"hedonic": float(hedonic.predict(row)[0]), "brand_term": brand, "own_xi": float(market.xi[j]),
            "new_brand": new_brand}


def launch_gaps(market: MarketModel) -> pd.DataFrame:
    """Gap of each bundled launch the market holds (see the module docstring), once per market: its
    hedonic prediction and brand term are rows of ``gap_maps`` (built once per product set and units)
    times the market's xi, equal to ``reentry_prediction``'s to ~1e-13 (tests/runs/test_backtests.py)."""
    if "launch_gaps" not in market.cache:
        launches = read_bundled("backtest_launches.csv")
        launches = launches[launches["product_id"].isin(market.products["product_id"])]
        ids = market.products["product_id"].tolist()
        xi, weights = annual_basis(market.products, market.xi, market.data.units)
        offered = months_on_offer(market.products)
        hedonic, brand = gap_maps(market.products, weights, tuple(launches["product_id"]))
        index = [ids.index(pid) for pid in launches["product_id"]]
        rows = []
        for launch, j, h, b in zip(launches.to_dict(orient="records"), index, hedonic @ xi, brand @ xi):
            parts = {"hedonic": float(h), "brand_term": float(b), "own_xi": float(market.xi[j]),
                     "new_brand": str(market.products["make"].iloc[j]) in NEW_BRAND_MAKES}
            months = months_on_sale(launch, offered[j])
            rows.append({"product_id": launch["product_id"], "years_on_sale": launch["years_on_sale_in_2025"],
                         "band": band(launch["years_on_sale_in_2025"]), "months_on_sale": months,
                         "powertrain_class": powertrain_class(str(launch["powertrain"])),
                         "gap": parts["own_xi"] + float(np.log(12.0 / months)) - parts["hedonic"] - parts["brand_term"],
                         **parts})
        market.cache["launch_gaps"] = pd.DataFrame(rows)
    return market.cache["launch_gaps"]


_MAPS: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}


def gap_maps(products: pd.DataFrame, units: np.ndarray, launches: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Matrices (launches x products) of ``hedonic.reentry_maps`` (``units``: the fit's weights), kept for the last few product sets:
    a re-calibrated draw's market has new xi on the same products and units, so its launch gaps are
    two matrix products instead of one leave-one-out fit per launch (90) (issue 13)."""
    columns = ["product_id", "owner", "make", "powertrain", "segment", "footprint_sqft", "horsepower", "luxury",
               "range_miles"]
    key = (launches, np.asarray(units, float).tobytes(), pd.util.hash_pandas_object(products[columns], index=False)
           .to_numpy().tobytes())
    if key not in _MAPS:
        ids = products["product_id"].tolist()
        rows = [reentry_maps(products, units, ids.index(pid)) for pid in launches]
        if len(_MAPS) >= 8:
            _MAPS.pop(next(iter(_MAPS)))
        _MAPS[key] = (np.array([h for h, _ in rows]).reshape(len(rows), len(ids)),
                      np.array([b for _, b in rows]).reshape(len(rows), len(ids)))
    return _MAPS[key]


def _cell(market: MarketModel, years_on_sale: float, powertrain: str, leave_out: str | None) -> pd.Series:
    """Gaps of the launches the launch term of (years_on_sale, powertrain) averages, kept per market
    (``market.cache``: a run's draws on one market ask for the same cells again, issue 13)."""
    key = (band(years_on_sale), powertrain_class(powertrain), leave_out)
    cells = market.cache.setdefault("launch_cells", {})
    if key not in cells:
        gaps = launch_gaps(market)
        same = gaps[(gaps["band"] == key[0]) & (gaps["product_id"] != leave_out)]
        if same.empty:
            raise ValueError(f"no launch in the band {key[0]!r} to set the launch term from")
        cell = same[same["powertrain_class"] == key[1]]
        cells[key] = (cell if len(cell) >= MIN_CELL_LAUNCHES else same)["gap"]
    return cells[key]


def launch_term(market: MarketModel, years_on_sale: float, powertrain: str, leave_out: str | None = None) -> float:
    """Mean gap of the launches of ``powertrain``'s class in the band of ``years_on_sale`` (all
    launches of the band where the class has fewer than ``MIN_CELL_LAUNCHES``), without ``leave_out``."""
    return float(_cell(market, years_on_sale, powertrain, leave_out).mean())


def launch_spread(market: MarketModel, years_on_sale: float, powertrain: str) -> float:
    """Standard error of predicting a new launch's mean utility from the launch term: the spread of
    the gaps the term averages (sample standard deviation s of its n launches) widened for a new
    draw, s sqrt(1 + 1/n), the prediction interval of a mean (e.g. Wooldridge, Introductory
    Econometrics, 6.4). Each gap is a launch's error in the entry back-test's mean utility, so this
    is how far the machinery has missed comparable US launches (predicted units move about one for
    one with it in logs)."""
    gaps = _cell(market, years_on_sale, powertrain, None).to_numpy(float)
    if len(gaps) < 2:
        raise ValueError(f"the launch term of {band(years_on_sale)!r} rests on {len(gaps)} launch: no spread")
    return float(np.std(gaps, ddof=1) * np.sqrt(1.0 + 1.0 / len(gaps)))


def appeal_term(market: MarketModel, years_on_sale: float, powertrain: str, quantile: float) -> float:
    """The launch-appeal term of an entrant or new product: z_q x ``launch_spread``, z_q the standard
    normal quantile of ``quantile`` (policy parameter ``launch_appeal_quantile``; 0.5, the central
    case, gives exactly 0). Drawn as an uncertain input it carries the back-test's launch errors into
    a scenario's bands: one quantile for all of a scenario's launches in a draw (their errors move
    together, which widens bands of totals rather than narrowing them)."""
    if not 0.0 < quantile < 1.0:
        raise ValueError(f"launch_appeal_quantile must lie strictly between 0 and 1, got {quantile}")
    if quantile == 0.5:
        return 0.0
    return NormalDist().inv_cdf(quantile) * launch_spread(market, years_on_sale, powertrain)
