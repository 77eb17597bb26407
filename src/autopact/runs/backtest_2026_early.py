"""What the first months of 2026 showed against the model: makers' and nameplates' sales, the average
transaction price, and how much of a tariff reaches prices.

Makers and nameplates. The 2026 baseline (the 2025 calibration carried to 2026 by the policy timeline,
with the duty the makers absorbed in 2025 passed on from 1 January 2026: ``section_232_2025_catch_up_share``
1) moves each maker's and model's sales against 2025. The published changes of the first months of 2026
against the same months of 2025 (``sales_early_2026.csv``: January and February only, the months whose
2025 base holds no purchases pulled ahead of the April 2025 tariffs) are set beside them:

    gap = (model's 2026 units / its 2025 units - 1) - published change over the months.

The goal, a reporting convention: each gap within ``GAP`` (10 points), about how far a maker's
year-over-year change moves from one month to the next in these data (Kia +13.1% in January, +4.3% in
February; Mazda -14% and 0%). A year's change and a month's are not the same number; a gap far beyond
that spread is the model's.

Average price. The model's units-weighted average transaction price, sum_j q_j p_j / sum_j q_j with
p_j the producer price (what the buyer pays the dealer before any tax credit, as KBB's transaction
price; the EV credit's end and fuel prices move the consumer price p^c but not p), of 2026 against
2025's, against Kelley Blue Book's average transaction price of January and February 2026 against the
same months of 2025 (+1.9% and +3.4%). Inside that range passes. January and February 2025 held none
of the 2025 tariff, 2025's average held the part of it passed on from April, so the published changes
overstate a change against 2025's average: a model above the range is above it by more than it shows.

Pass-through. A 5% tariff on the customs value of vehicles assembled in Japan, on the 2025 market: the
units-weighted pass-through of the taxed models, sum_j q_j dp_j / sum_j q_j dc_j (q_j their 2025 units,
dc_j the cost the tariff adds), against Feenstra's (1989) long-run pass-through of tariffs and exchange
rates to the US prices of Japanese imports, about 0.6 (trucks) to 1 (motorcycles). Inside passes.
Feenstra's is an elasticity of the import price to the tariff-inclusive cost; the model's, dollars of
retail price per dollar of cost, is the same number where the US distribution margin is a fixed number
of dollars per vehicle, as the model takes it (the dealer's gross). The untaxed models' units-weighted
price change is reported beside it: with strategic complements it should be small and not negative.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from autopact.data.tables import backtest_evidence, early_2026_sales
from autopact.errors import ScenarioError
from autopact.fit.market import MarketModel
from autopact.outcomes.caveats import cost_pass_through_rows, published_pass_through
from autopact.policy.scenario import parse_scenario
from autopact.runs.backtest_policy import bundled_result
from autopact.simulate import simulate

GAP = 0.10  # each maker's or nameplate's 2026 change within 10 points of the published one (convention)
PASS_THROUGH_TARIFF_PCT = 5.0  # small: the pass-through at the margin, like an exchange-rate move
PASS_THROUGH_ORIGIN = "Japan"


def covered(products: pd.DataFrame, row: dict[str, Any]) -> np.ndarray:
    """Which ``products`` a published row covers: its makes, else its product-id prefixes."""
    if row["makes"]:
        return products["make"].isin(row["makes"]).to_numpy()
    ids = products["product_id"].astype(str)
    return np.logical_or.reduce([ids.str.startswith(prefix).to_numpy() for prefix in row["product_prefixes"]])


def makers_2026(result: Any) -> dict[str, Any]:
    """Each published early-2026 change (``sales_early_2026.csv``) against the same makers' or models'
    change from the 2025 to the 2026 baseline of ``result`` (the bundled ``baseline-2026``)."""
    base, cf = result.baseline.products, result.counterfactual.products
    rows = []
    for row in early_2026_sales():
        before, after = float(base.loc[covered(base, row), "units"].sum()), float(cf.loc[covered(cf, row), "units"].sum())
        if before <= 0:
            raise ScenarioError(f"sales_early_2026.csv: {row['label']!r} covers no product of the 2026 baseline's market")
        predicted = after / before - 1
        rows.append({"label": row["label"], "period": row["period"], "observed_change": row["change"],
                     "predicted_change": predicted, "gap": predicted - row["change"], "units_2025_model": before,
                     "units_2026_model": after, "source": row["source"]})
    gaps = np.abs([r["gap"] for r in rows])
    worst = rows[int(np.argmax(gaps))]
    return {"rows": rows, "median_abs_gap": float(np.median(gaps)), "worst": worst, "goal_gap": GAP,
            "within": int(np.sum(gaps <= GAP)), "inside": bool(np.all(gaps <= GAP))}


def average_price_2026(result: Any) -> dict[str, Any]:
    """The 2026 baseline's average price against 2025's, against KBB's January and February 2026 changes."""
    def average(products: pd.DataFrame) -> float:
        return float(np.average(products["price"].to_numpy(float), weights=products["units"].to_numpy(float)))

    e = backtest_evidence()
    observed = [float(e[k]["value"]) for k in ("atp_change_jan_2026_yoy", "atp_change_feb_2026_yoy")]
    change = average(result.counterfactual.products) / average(result.baseline.products) - 1
    return {"predicted_change": change, "observed_jan_feb_2026": observed,
            "inside": min(observed) <= change <= max(observed),
            "source": f"{e['atp_change_jan_2026_yoy']['source']}; {e['atp_change_feb_2026_yoy']['source']}"}


def pass_through(market: MarketModel, origin: str = PASS_THROUGH_ORIGIN) -> dict[str, Any]:
    """The pass-through of a ``PASS_THROUGH_TARIFF_PCT`` tariff on vehicles assembled in ``origin`` on
    ``market`` (module docstring), against Feenstra's range (measured on Japanese imports)."""
    scenario = parse_scenario({"name": "pass-through", "extra_tariffs": [
        {"name": f"{PASS_THROUGH_TARIFF_PCT:g}% on vehicles assembled in {origin}",
         "origin": [origin], "ad_valorem_pct": PASS_THROUGH_TARIFF_PCT}]}, "validate")
    result = simulate(scenario, market)
    found = cost_pass_through_rows(result.baseline, result.counterfactual)
    taxed, cost, price, units = found["changed"], found["cost_change"], found["price_change"], found["units"]
    rates = price[taxed] / cost[taxed]
    names = found["base"].loc[found["common"], "name"].to_numpy(str)[taxed]
    order = np.argsort(rates)
    others = units[~taxed]
    low, high = published_pass_through()
    rate = found["rate"]  # sign(dc) = 1 for every taxed model: sum q dp / sum q dc
    return {"tariff": scenario.extra_tariffs[0].name, "models": int(taxed.sum()), "pass_through": rate,
            "untaxed_price_change_usd": float(others @ price[~taxed] / others.sum()) if others.sum() > 0 else 0.0,
            "median": float(np.median(rates)), "lowest": {"name": str(names[order[0]]), "pass_through": float(rates[order[0]])},
            "highest": {"name": str(names[order[-1]]), "pass_through": float(rates[order[-1]])},
            "published": [low, high], "inside": low <= rate <= high,
            "source": backtest_evidence()["tariff_pass_through_low"]["source"]}


def early_2026_backtest(market: MarketModel, results: dict[str, Any] | None = None) -> dict[str, Any]:
    """The three comparisons of the module docstring (the 2026 baseline from ``results`` where solved)."""
    result = bundled_result(market, "baseline-2026", results)
    return {"makers": makers_2026(result), "average_price": average_price_2026(result),
            "pass_through": pass_through(market)}
