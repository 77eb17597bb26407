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
    price_scale: float = 1.0  # the market's transaction / base MSRP factor (entrants' trim mix, ``policy.entry``)
    price_scales: dict[str, float] = field(default_factory=lambda: {"BEV": 1.0, "other": 1.0})  # applied to prices
    dropped: pd.DataFrame = field(default_factory=pd.DataFrame)

    def scale_of(self, powertrain: str) -> float:
        """The factor on a base MSRP of ``powertrain`` that gives its price on this market's level
        (``price_scales``: BEVs' own, and the others')."""
        return self.price_scales["BEV" if powertrain == "BEV" else "other"]

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
    scale, scales = 1.0, {"BEV": 1.0, "other": 1.0}
    if resolved["price_level"].value == "transaction":
        scale, scales = transaction_scales(table, facts)
    bev = table["powertrain"].eq("BEV").to_numpy()
    table["prices"] = table["msrp_usd"] * np.where(bev, scales["BEV"], scales["other"])
    return Market(products=table, facts=facts, assumptions=resolved, source=str(file),
                  price_scale=scale, price_scales=scales, dropped=dropped)


def transaction_scales(table: pd.DataFrame, facts: MarketFacts) -> tuple[float, dict[str, float]]:
    """The factors that put base MSRPs on the transaction price level: the market's, A / m (A the
    2025 average transaction price, m the units-weighted mean base MSRP), and one for BEVs and one
    for the other products,

        s_BEV = A_BEV / m_BEV,   s_other = (A N - A_BEV N_BEV) / (m_other N_other),

    so BEVs average KBB's EV transaction price A_BEV and the whole market still averages A (N units).
    BEVs sold at 13-18% incentives in 2025 against about 7% for all vehicles (``market_facts.csv``),
    so one common factor put their prices about 16% above what buyers paid. A table with no BEV
    (or only BEVs) takes the market's factor for every product."""
    units = table["units"].to_numpy(float)
    msrp = table["msrp_usd"].to_numpy(float)
    bev = table["powertrain"].eq("BEV").to_numpy()
    scale = facts.average_transaction_price / float(np.average(msrp, weights=units))
    if not bev.any() or bev.all() or units[bev].sum() <= 0 or units[~bev].sum() <= 0:
        return scale, {"BEV": scale, "other": scale}
    bev_scale = facts.average_transaction_price_bev / float(np.average(msrp[bev], weights=units[bev]))
    other_total = facts.average_transaction_price * units.sum() - facts.average_transaction_price_bev * units[bev].sum()
    return scale, {"BEV": bev_scale, "other": float(other_total / (msrp[~bev] @ units[~bev]))}


