"""Entry back-test: leave one launched product out, bring it back as an entrant, compare its units.

For each nameplate launched in the US between 2019 and 2025 (``backtest_launches.csv``, each with a
source for its launch year), on the calibrated 2025 market:

1. remove the product: the market without it (other products' xi and costs unchanged);
2. re-enter it through the entrant machinery the scenarios use: its mean utility is the hedonic
   prediction from the market without it, plus the brand term of the scenarios' rule (its firm's and
   make's residuals, by powertrain and whole line, pooled and scaled by ``BRAND_RELIABILITY``,
   ``autopact.policy.hedonic``; the young brands' mean for a new brand), plus the launch term of
   its year after launch and its powertrain class computed from the *other* launches
   (``autopact.policy.launch``); its
   marginal cost is the one at which its owner's best response reaches its real 2025 price, its
   first-order condition's where that price is a best response (``autopact.policy.new_products.
   rationalised_costs``, as for an announced new product);
3. solve the equilibrium with it: its predicted units at an annual rate (the launch term is one of
   annual units, ``autopact.policy.launch``); a launch of 2025 on sale m months of the year
   (``months_on_sale_2025``, sourced) is compared with m / 12 of them, like with like.

Errors are log(predicted / actual): the median absolute error, the mean (bias) and the worst case.
A product re-entered with its own calibrated xi returns its own units (the machinery's check).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from autopact.data import read_bundled
from autopact.errors import ScenarioError
from autopact.fit.market import NEW_BRAND_MAKES, MarketModel
from autopact.model.supply import Taxes
from autopact.policy.hedonic import BRAND_RELIABILITY, months_on_offer
from autopact.policy.launch import band, launch_term, months_on_sale, reentry_prediction
from autopact.policy.new_products import rationalised_costs
from autopact.simulate import solve


def load_launches(products: list[str] | None = None) -> pd.DataFrame:
    """The launch list (sourced), or the named product ids (with their launch rows where listed)."""
    table = read_bundled("backtest_launches.csv")
    if products is None:
        return table
    known = {row["product_id"]: row for row in table.to_dict(orient="records")}
    return pd.DataFrame([known.get(pid, {"product_id": pid}) for pid in products])


def reordered_taxes(market: MarketModel, minus: MarketModel, j: int) -> Taxes | None:
    """The market's taxes in the order of the re-entered market: the others', then product ``j``'s."""
    if market.taxes is None:
        return None
    return Taxes(np.append(minus.taxes.ad_valorem, market.taxes.ad_valorem[j]),
                 np.append(minus.taxes.specific, market.taxes.specific[j]))


def reenter(market: MarketModel, product_id: str, xi: float) -> float:
    """Units of the product when it enters the market without it with mean utility ``xi`` and the
    marginal cost its real 2025 price implies (``rationalised_costs``: its first-order condition's where
    that price is its owner's best response)."""
    minus, j = market.without(product_id)
    row = market.products.iloc[[j]].reset_index(drop=True)
    products = pd.concat([minus.products, row], ignore_index=True)
    owners = np.append(minus.owners, minus.owner_names.index(str(row.at[0, "owner"])))
    xi_all, costs = np.append(minus.xi, xi), np.append(minus.costs, np.nan)
    price = float(market.data.prices[j])
    taxes = reordered_taxes(market, minus, j)
    costs, _ = rationalised_costs({product_id: price}, minus, products, xi_all, costs, owners, None, taxes)
    entered = minus.with_products(
        products=products, origin=pd.concat([minus.origin, market.origin.iloc[[j]]], ignore_index=True).fillna(0.0),
        xi=xi_all, costs=costs, stakes=pd.concat([minus.stakes, market.stakes.iloc[[j]]], ignore_index=True),
        owners=owners, taxes=taxes, initial_prices=np.append(minus.initial_prices, price))
    return float(solve(entered).products["units"].iloc[-1])


def entry_backtest(market: MarketModel, products: list[str] | None = None) -> dict[str, Any]:
    """Predicted against actual 2025 units of each launch, with the error metrics (log ratios)."""
    if market.data is None:
        raise ScenarioError("entry back-test: needs the calibrated 2025 market (its launches and prices)")
    actual_by_id = dict(zip(market.data.products["product_id"], market.data.units))
    offered = dict(zip(market.products["product_id"], months_on_offer(market.products)))
    names = dict(zip(market.products["product_id"], market.products["name"]))  # a split row's with its powertrain
    rows = []
    for launch in load_launches(products).to_dict(orient="records"):
        pid = launch["product_id"]
        if pid not in actual_by_id:
            raise ScenarioError(f"products: unknown product {pid!r}; see `autopact data summary` for the market")
        years = launch.get("years_on_sale_in_2025")
        if years is None or pd.isna(years):
            raise ScenarioError(f"products: {pid!r} is not in backtest_launches.csv, so its launch year is unknown")
        parts = reentry_prediction(market, pid)
        launch_part = launch_term(market, years, str(launch["powertrain"]), leave_out=pid)
        annual = reenter(market, pid, parts["hedonic"] + parts["brand_term"] + launch_part)
        months = months_on_sale(launch, offered[pid])
        predicted = annual * months / 12.0
        actual = float(actual_by_id[pid])
        rows.append({"product_id": pid, "name": names[pid], "launch_year": launch["launch_year"],
                     "years_on_sale": int(years), "band": band(years), "brand_status": launch["brand_status"],
                     "powertrain": launch["powertrain"], "months_on_sale_2025": months,
                     "predicted_annual_units": annual, "actual_units": actual, "predicted_units": predicted,
                     "log_error": float(np.log(predicted / actual)), "launch_term": launch_part, **parts})
    groups = sorted({r["powertrain"] for r in rows})
    by_powertrain = {g: {"products": sum(r["powertrain"] == g for r in rows),
                         "median_abs_log_error": float(np.median([abs(r["log_error"]) for r in rows if r["powertrain"] == g])),
                         "mean_log_error": float(np.mean([r["log_error"] for r in rows if r["powertrain"] == g]))}
                     for g in groups}
    return {"products": rows, **error_metrics(rows), "by_powertrain": by_powertrain,
            "method": ("leave one out: remove the product, re-enter it with the hedonic prediction of the market "
                       "without it, the scenarios' brand term and the launch term of the other launches of its "
                       "powertrain class and year band, at the cost at which its owner's best response reaches its real 2025 price (its first-order condition's where that price is a best response); "
                       "a 2025 launch on sale m months is compared with m/12 of its predicted annual units"),
            "rule": {"brand_term": ("the units-weighted mean hedonic residuals of the firm's line, the make's line, the "
                                    "firm's products of the entrant's powertrain and the make's, pooled from the coarsest "
                                    "to the finest (each level of n products moves the estimate e of the coarser ones to "
                                    "(n m + e) / (n + 1)), scaled by the brand term's reliability "
                                    f"({BRAND_RELIABILITY}, the slope of a 2025 nameplate's residual on its "
                                    "leave-one-out brand mean; policy.hedonic BRAND_RELIABILITY), plus a firm effect (Tesla's); products sold only from stock "
                                    "left out; partial-year products on a year's basis"),
                     "new_brand": f"young brands' mean residual ({', '.join(NEW_BRAND_MAKES)})",
                     "launch_term": ("mean gap of the other launches of the same powertrain class (BEV or not) in the same "
                                    "band of years on sale (of all the band's other launches where the class has "
                                    "fewer than 3)"),
                     "hedonic": ("least squares weighted by the square root of units (the power the residuals' "
                                 "variance gives, policy.hedonic) with a Tesla firm effect (in the brand term), a "
                                 "BEV-pickup term and a BEV's log EPA range")}}


BOOTSTRAP_RESAMPLES = 2000  # resamples of the launch list for the metrics' intervals
BOOTSTRAP_LEVEL = 0.90  # the intervals' coverage (5th to 95th percentile)
BOOTSTRAP_FEWEST = 5  # fewer launches (``validate --products``): no interval, a list that short says nothing of it


def bootstrap_intervals(errors: np.ndarray, resamples: int = BOOTSTRAP_RESAMPLES,
                        level: float = BOOTSTRAP_LEVEL, seed: int = 0) -> dict[str, list[float]]:
    """Percentile bootstrap intervals (Efron and Tibshirani 1993, ch. 13) of the median |log error| and
    the mean log error: the launch list is one sample of the launches the machinery could be held
    against, so each metric is recomputed on ``resamples`` lists of the same size drawn from it with
    replacement, and the interval is the (1 - level) / 2 and (1 + level) / 2 quantiles of the results.
    The errors are held fixed: a resampled list would also learn its launch terms from other
    launches, which this leaves out. Seeded, so a run gives the same interval every time."""
    errors = np.asarray(errors, float)
    picks = np.random.default_rng(seed).integers(0, errors.size, size=(resamples, errors.size))
    drawn = errors[picks]
    tails = [(1 - level) / 2, (1 + level) / 2]
    return {"median_abs_log_error": np.quantile(np.median(np.abs(drawn), axis=1), tails).tolist(),
            "mean_log_error": np.quantile(drawn.mean(axis=1), tails).tolist()}


def error_metrics(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Median absolute log error, mean log error (bias), the worst product, and the first two's
    bootstrap intervals over the launches (``bootstrap_intervals``; None for fewer than BOOTSTRAP_FEWEST)."""
    errors = np.array([r["log_error"] for r in rows])
    worst = rows[int(np.argmax(np.abs(errors)))]
    return {"median_abs_log_error": float(np.median(np.abs(errors))), "mean_log_error": float(errors.mean()),
            "intervals": ({"level": BOOTSTRAP_LEVEL, "resamples": BOOTSTRAP_RESAMPLES, **bootstrap_intervals(errors)}
                          if errors.size >= BOOTSTRAP_FEWEST else None),
            "worst": {"product_id": worst["product_id"], "name": worst["name"], "log_error": worst["log_error"],
                      "ratio": float(np.exp(worst["log_error"]))},
            "within_factor_1_5": float(np.mean(np.abs(errors) <= np.log(1.5))),
            "beyond_factor_3": int(np.sum(np.abs(errors) > np.log(3)))}
