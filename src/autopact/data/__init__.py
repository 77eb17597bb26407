"""Market data: the bundled, sourced 2025 US new-vehicle market and the loaders that validate it.

The names below are imported from their modules on first use (PEP 562), so importing a light
module of this package (``autopact.data.inputs``) does not load pandas and every table loader.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from autopact.data.market import Market, load_market
    from autopact.data.schema import DataIssue, MarketDataError, validate_products
    from autopact.data.summary import summarize
    from autopact.data.tables import (
        MarketFacts,
        backtest_evidence,
        bundled_path,
        income_distribution,
        load_chinese_candidates,
        load_costs,
        load_firms,
        load_tariff_parameters,
        market_facts,
        new_vehicle_buyer_shares,
        policy_parameters,
        read_bundled,
        reference_parameters,
    )

_HOME = {
    "Market": "market", "load_market": "market",
    "DataIssue": "schema", "MarketDataError": "schema", "validate_products": "schema",
    "summarize": "summary",
    **{name: "tables" for name in (
        "MarketFacts", "bundled_path", "income_distribution", "load_chinese_candidates", "load_costs", "load_firms",
        "load_tariff_parameters", "market_facts", "policy_parameters", "read_bundled", "reference_parameters",
        "backtest_evidence", "new_vehicle_buyer_shares")},
}

__all__ = [
    "DataIssue", "Market", "backtest_evidence", "income_distribution", "new_vehicle_buyer_shares", "MarketDataError", "MarketFacts", "bundled_path", "load_chinese_candidates",
    "load_costs", "load_firms", "load_market", "load_tariff_parameters", "market_facts", "policy_parameters",
    "read_bundled", "reference_parameters", "summarize", "validate_products",
]


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module 'autopact.data' has no attribute {name!r}")
    value = getattr(import_module(f"autopact.data.{_HOME[name]}"), name)
    globals()[name] = value  # once: later look-ups are ordinary attribute reads
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_HOME))
