"""Market data: the bundled, sourced 2025 US new-vehicle market and the loaders that validate it."""

from autopact.data.market import Market, load_market
from autopact.data.tables import (
    MarketFacts,
    bundled_path,
    income_distribution,
    load_chinese_candidates,
    load_costs,
    load_firms,
    load_tariff_parameters,
    market_facts,
    policy_parameters,
    read_bundled,
    reference_parameters,
)
from autopact.data.schema import DataIssue, MarketDataError, validate_products
from autopact.data.summary import summarize

__all__ = [
    "DataIssue", "Market", "income_distribution", "MarketDataError", "MarketFacts", "bundled_path", "load_chinese_candidates",
    "load_costs", "load_firms", "load_market", "load_tariff_parameters", "market_facts", "policy_parameters",
    "read_bundled",
    "reference_parameters", "summarize", "validate_products",
]
