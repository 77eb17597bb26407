"""One solved state of a market (its baseline or a scenario's counterfactual)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from autopact.model.supply import ownership_matrix
from autopact.model.taxes import Taxes


@dataclass
class State:
    """Prices and quantities of one equilibrium, with what the outcomes need to measure it.

    ``products`` holds the market's product columns plus price, consumer_price, units, cost,
    markup, profit, tariff_revenue and us_assembled_units; ``consumer_surplus`` is per simulated
    household (money); ``stakes`` (J, owners) the owners' profit shares of each product.
    """

    products: pd.DataFrame
    consumer_surplus: np.ndarray
    stakes: pd.DataFrame
    solver: dict[str, Any]
    constraints: list[dict[str, Any]] = field(default_factory=list)
    origin: pd.DataFrame | None = None  # (J, countries) assembly weights


def capped_products(market: Any, state: Any) -> set[str]:
    """The products of a solved ``state`` whose price a binding plant (or one at a jump of the output)
    or a quota at its volume sets: a plant's products, and with a quota every imported product."""
    products = state.products
    capped: set[str] = set()
    for plant, ids, _ in market.capacities:
        constraint = next((c for c in state.constraints if c["name"] == f"plant: {plant}"), None)
        if constraint is not None and (constraint.get("binding") or constraint.get("jump")):
            capped |= set(ids)
    if any(c["name"].startswith("quota:") for c in state.constraints):  # a quota at its volume rations imports
        capped |= set(products.loc[~products["assembly_countries"].eq("United States"), "product_id"])
    return capped


def pricing_point(market: Any, state: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, Taxes]:
    """(costs, xi, Omega, taxes) of a solved ``state`` on ``market``: what ``model.continuation.owner_profits``
    takes to price one product against the others held (no taxes: ``Taxes.none``)."""
    costs = state.products["cost"].to_numpy(float)
    taxes = market.taxes if market.taxes is not None else Taxes.none(len(costs))
    return costs, market.xi, ownership_matrix(market.owners, market.kappa), taxes
