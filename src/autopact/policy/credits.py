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


def credit_2025_in_force() -> tuple[float, str]:
    """The share f of 2025 BEV sales made while the $7,500 credit was in force, f = 1 - Q4 units /
    2025 units (Cox; ``backtest_evidence.csv``): the calibrated 2025 market holds the credit at f."""
    from autopact.data import backtest_evidence

    e = backtest_evidence()
    in_force = 1.0 - float(e["bev_units_q4_2025"]["value"]) / float(e["bev_units_2025"]["value"])
    return in_force, "1 - Q4 / year, Cox: " + str(e["bev_units_q4_2025"]["source"])


def credit_change(product_ids: set[str] | list[str], share_in_force: float = 0.0) -> list[dict]:
    """Credits (``scenario.Credit`` definitions) that move the 2025 federal EV credit from the
    calibrated market's level to one in force for ``share_in_force`` of a year's sales (0: ended,
    as from 1 Oct 2025): w_j = 7,500 x (share - f) x (L + (1 - L) x eligible_j), f the 2025 share
    (``credit_2025_in_force``), L the share of new EVs leased (lessees of any BEV got 45W through
    the lessor; buyers of listed models, ``ev_credit_eligible_2025.csv``, got 30D). The eligible
    products are those of ``product_ids`` on the list."""
    from autopact.data import backtest_evidence, read_bundled

    e = backtest_evidence()
    eligible = read_bundled("ev_credit_eligible_2025.csv")
    listed = sorted(set(eligible.loc[eligible["credit_usd"].eq(7500), "product_id"].dropna()) & set(product_ids))
    credit = float(e["ev_credit_usd"]["value"])
    lease = float(e["ev_lease_share_q3_2025"]["value"])
    in_force, why = credit_2025_in_force()
    amount = credit * (share_in_force - in_force)
    source = (f"{e['ev_credit_usd']['source']}; credit in force for {in_force:.3f} of 2025 BEV sales "
              f"({why.split(':')[0]}); lease share {lease} (Experian Q3 2025)")
    return [{"name": "45W credit on leases of any BEV ends", "powertrain": ["BEV"], "amount_usd": amount,
             "share_of_buyers": lease, "source": source},
            {"name": "30D purchase credit on listed models ends", "product_ids": listed, "amount_usd": amount,
             "share_of_buyers": 1.0 - lease, "source": source}]
