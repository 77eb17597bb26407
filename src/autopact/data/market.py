"""Load the bundled 2025 US new-vehicle market (or a user's CSV) into a validated ``Market``.

The bundled tables are read through ``autopact.data.tables``; nothing here reads outside the
package unless the caller passes a path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from autopact.data.assumptions import Assumption, resolve
from autopact.data.schema import DataIssue, MarketDataError, validate_products
from autopact.data.tables import BUNDLED_YEARS, MarketFacts, bundled_path, known_nationalities, market_facts


@dataclass
class Market:
    """One market-year: validated products plus facts and the assumptions they were loaded under.

    ``products`` has one row per product, with ``units``, ``shares`` (units over the potential
    market, households) and ``prices`` (on the level chosen by the ``price_level`` assumption)
    besides every source and imputation column of the data file.
    """

    products: pd.DataFrame
    facts: MarketFacts
    assumptions: dict[str, Assumption]
    source: str
    price_scale: float = 1.0
    dropped: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def market_size(self) -> float:
        return float(self.assumptions["market_size_households"].value)

    @property
    def shares(self) -> np.ndarray:
        return self.products["shares"].to_numpy(float)

    @property
    def prices(self) -> np.ndarray:
        return self.products["prices"].to_numpy(float)

    @property
    def units(self) -> np.ndarray:
        return self.products["units"].to_numpy(float)


def load_market(year: int = 2025, path: str | Path | None = None,
                assumptions: dict[str, Any] | None = None) -> Market:
    """Load and validate a market.

    With no ``path``, the bundled market of ``year``; with a ``path``, a user's products CSV with
    the same columns (see ``autopact.data.schema.REQUIRED_COLUMNS``), validated the same way.
    ``assumptions`` overrides named assumptions (``autopact.data.assumptions.defaults()``).
    Raises ``MarketDataError`` listing every problem; nothing is returned half-loaded.
    """
    resolved = resolve(assumptions)
    if path is None:
        if year not in BUNDLED_YEARS:
            raise MarketDataError([DataIssue("(bundled data)", None, "year", year,
                                             f"no bundled market for this year; bundled: {list(BUNDLED_YEARS)}")])
        file = bundled_path(f"products_{year}.csv")
    else:
        file = Path(path)
    label = file.name
    try:
        table = pd.read_csv(file)
    except FileNotFoundError:
        raise MarketDataError([DataIssue(str(file), None, None, None, "file not found")]) from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise MarketDataError([DataIssue(str(file), None, None, None, f"not a readable CSV: {error}")]) from None
    except OSError as error:  # a folder, a file this user may not read
        raise MarketDataError([DataIssue(str(file), None, None, None, f"cannot read it: {error.strerror}")]) from None
    if table.empty:  # a header and no rows: no market to calibrate (the units-weighted means divide by zero)
        raise MarketDataError([DataIssue(str(file), None, None, None, "no products: the CSV has a header and no rows")])
    facts = market_facts(year)
    market_size = float(resolved["market_size_households"].value)
    issues = validate_products(table, label, float(resolved["market_total_units"].value), market_size,
                               known_nationalities())
    if issues:
        raise MarketDataError(issues)
    dropped = pd.DataFrame()
    if resolved["remainder_rows"].value == "drop" and "row_type" in table.columns:
        dropped = table[table["row_type"] == "brand_residual"]
        table = table[table["row_type"] != "brand_residual"].reset_index(drop=True)
    table = table.copy()
    table["units"] = table["units"].astype(int)
    table["shares"] = table["units"] / market_size
    scale = 1.0
    if resolved["price_level"].value == "transaction":
        mean_msrp = float(np.average(table["msrp_usd"], weights=table["units"]))
        scale = facts.average_transaction_price / mean_msrp
    table["prices"] = table["msrp_usd"] * scale
    return Market(products=table, facts=facts, assumptions=resolved, source=str(file),
                  price_scale=scale, dropped=dropped)


