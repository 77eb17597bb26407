"""Demand back-tests: what the calibrated demand says about low-income buyers, against published
numbers that no calibration target holds, like with like.

Why these two (docs/backtests.md, "Cheap entrants: the evidence in conflict"): a new product priced below
every 2025 product of its kind (a US-built Galaxy E5 at $25-27k, a BYD Seagull at $18k) sells to
the market's poorest households, whose price sensitivity pi / y_i the 1 / income form makes the
largest. How many of them it draws in is set by how price-elastic low-income demand is, which the
2025 shares cannot tell (no 2025 product was priced there).

1. Low- and middle-income BEV demand. Muehlegger and Rapson (2022) estimate an EV demand elasticity
   of -2.1 among participants of California's EFMP Plus-up, households at or below 400% of the federal
   poverty level. Like with like, the model's statistic is the elasticity of the BEV purchases of
   households under that income to a uniform rise in BEV prices,

       e^G = sum_{j,k in BEV} (d s^G_j / d p_k) p_k / sum_{j in BEV} s^G_j,   s^G_j = sum_{i in G} w_i s_ij,

   (``autopact.fit.statistics``, group ``BEV@0-limit``), with the limit 400% of the 2018 HHS guideline
   for a household of three in the model's 2023 dollars by the CPI-U. The calibration target
   ``bev_aggregate_elasticity`` compares the same -2.1 with every household's BEV elasticity at half
   weight; fitted like with like, it moves pi from 8.5 to 2.6 and the Sentra's elasticity from -5.7 to
   -1.6 (docs/backtests.md, "Cheap entrants: the evidence in conflict"): the two pieces of evidence ask
   opposite things of one price coefficient per household.
2. Buyers' incomes below $75,000 and at $150,000 or more (Cox Automotive, 2025; ``consumer_income.csv``
   section E, ``UNTARGETED_BRACKETS``): shares of new-vehicle buyers the calibration does not target (it
   targets under $100,000 and $200,000 or more).

Goal: within 10% of the published number, as the issue's elasticity targets (issue 11, item 2).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from autopact.fit.market import MarketModel
from autopact.fit.statistics import buyer_income_share
from autopact.model.demand import individual_shares
from autopact.data import backtest_evidence, new_vehicle_buyer_shares
from autopact.outcomes.low_income import bev_elasticity_among, efmp_income_limit

GOAL_RELATIVE = 0.10
# Cox's published brackets that no calibration target uses (consumer_income.csv section E), by the
# key the back-test reports them under
UNTARGETED_BRACKETS = {"buyers_income_below_75k": "share_of_new_vehicle_buyers_household_income_below_75000",
                       "buyers_income_150k_plus": "share_of_new_vehicle_buyers_household_income_150000_plus"}


def _row(model: float, published: float, source: str, **extra: Any) -> dict[str, Any]:
    gap = (model - published) / abs(published)
    return {"model": model, "published": published, "relative_gap": gap, "inside": abs(gap) <= GOAL_RELATIVE,
            "source": source, **extra}


def demand_backtest(market: MarketModel) -> dict[str, Any]:
    """The model's low-income BEV elasticity and untargeted buyer-income shares against the published
    numbers (module docstring), each with its gap and verdict."""
    e = backtest_evidence()
    limit = efmp_income_limit()
    prices, demand = market.data.prices, market.demand
    individual = individual_shares(market.xi - demand.alpha * prices, prices, demand)[0]  # once, for every row
    low_income = _row(bev_elasticity_among(market, prices, 0.0, limit, individual),
                      float(e["mr_low_middle_income_ev_elasticity"]["value"]),
                      f"{e['mr_low_middle_income_ev_elasticity']['source']}; income limit: "
                      f"{e['efmp_income_limit_fpl_multiple']['source']}",
                      income_limit_usd_2023=limit,
                      all_households=bev_elasticity_among(market, prices, 0.0, np.inf, individual))
    published = new_vehicle_buyer_shares(2025)
    brackets = {key: _row(buyer_income_share(individual, demand, published[metric]["low"], published[metric]["high"]),
                          published[metric]["share"], f"{published[metric]['source']} (consumer_income.csv: {metric})",
                          income_range_usd=[published[metric]["low"],  # an open bracket's top: null in JSON
                                            published[metric]["high"] if np.isfinite(published[metric]["high"]) else None])
                for key, metric in UNTARGETED_BRACKETS.items()}
    return {"low_income_bev_elasticity": low_income, **brackets, "goal_relative": GOAL_RELATIVE,
            "note": ("the model's incomes are in 2023 dollars and Cox's in 2025 dollars, as the calibration's own "
                     "income targets")}
