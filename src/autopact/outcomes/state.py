"""One solved state of a market (its baseline or a scenario's counterfactual)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd


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
