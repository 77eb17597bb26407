"""Credits and surcharges on consumer prices: a wedge between what buyers pay and firms receive.

p^c_j = (1 + t_j) p_j + T_j with T_j = -sum over the credits covering j of share x amount (in the
market's money unit). Demand and consumer surplus use p^c; profits use p; the first-order
conditions take the wedge into account (``autopact.model.supply.Taxes``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from autopact.errors import ScenarioError
from autopact.model.supply import Taxes


def consumer_wedges(credits: list, products: pd.DataFrame, money: dict) -> Taxes:
    """The consumer-price wedges of ``credits`` (``scenario.Credit``) on ``products``; filters the
    market cannot apply, or unknown product ids, are refused naming the field."""
    specific = np.zeros(len(products))
    per_dollar = 1.0 / (money.get("dollars_per_unit") or np.nan)
    ids = set(products["product_id"])
    for k, credit in enumerate(credits):
        match = np.ones(len(products), bool)
        if credit.product_ids:
            unknown = sorted(set(credit.product_ids) - ids)
            if unknown:
                raise ScenarioError(f"credits[{k}].product_ids: unknown product(s) {unknown}")
            match &= products["product_id"].isin(credit.product_ids).to_numpy()
        if credit.powertrain:
            if "powertrain" not in products.columns:
                raise ScenarioError(f"credits[{k}].powertrain: the market's data have no powertrain")
            match &= products["powertrain"].isin(credit.powertrain).to_numpy()
        if not np.isfinite(per_dollar):
            raise ScenarioError(f"credits[{k}].amount_usd: the market's money unit has no dollars_per_unit")
        specific -= match * credit.share_of_buyers * credit.amount_usd * per_dollar
    return Taxes(np.zeros(len(products)), specific)
