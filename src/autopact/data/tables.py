"""The bundled, sourced tables: paths, parsing (once per process), market facts, firms, candidates,
policy parameters and the household income distribution.

The files under ``autopact/data/bundled`` are built by ``tools/build_data.py`` from the sourced raw
data; ``PROVENANCE.md`` beside them documents every step. Nothing here reads outside the package.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from autopact.data.schema import DataIssue, MarketDataError

BUNDLED_YEARS = (2025,)


def bundled_path(name: str) -> Path:
    """Path of a bundled data file (``products_2025.csv``, ``market_facts.csv``, ...)."""
    return Path(str(resources.files("autopact.data").joinpath("bundled", name)))


def read_bundled(name: str) -> pd.DataFrame:
    """A bundled table (a copy: callers may change it). Package data do not change while the process
    runs, so each file is parsed once; a Monte Carlo draw would otherwise re-read a dozen CSVs."""
    return _parsed(name).copy()


@lru_cache(maxsize=None)
def _parsed(name: str) -> pd.DataFrame:
    return pd.read_csv(bundled_path(name))


def reference_parameters() -> pd.DataFrame:
    """Sourced constants used to build the data (CPI, destination charge, fuel prices, ...), by name."""
    return read_bundled("reference_parameters.csv").set_index("name")


class MarketFacts(BaseModel):
    """Market-level facts for one year, each traceable to ``market_facts.csv`` or the reference parameters."""

    model_config = ConfigDict(frozen=True)

    year: int
    total_units: float
    total_units_source: str
    bev_units: float
    bev_units_source: str
    bev_units_cox: float | None
    bev_share: float
    average_transaction_price: float
    average_transaction_price_source: str
    average_transaction_price_bev: float
    average_transaction_price_bev_source: str
    households: float
    households_source: str
    sales_by_company: dict[str, float]


def market_facts(year: int = 2025) -> MarketFacts:
    """The bundled market facts for ``year`` (ANL totals; Cox/KBB BEV and price figures). Read from
    the tables once a process, as the tables are parsed once (a scenario's assumptions and its
    market asked for them four times, 5-8 ms each); each caller gets its own copy."""
    return _market_facts(year).model_copy(deep=True)


@lru_cache(maxsize=None)
def _market_facts(year: int) -> MarketFacts:
    facts = read_bundled("market_facts.csv")
    ref = reference_parameters()
    this_year = facts[facts["year"].astype(str) == str(year)]

    def row(metric: str, source_has: str = "") -> pd.Series:
        rows = this_year[(this_year["metric"] == metric) & this_year["source"].str.contains(source_has, regex=False)]
        if rows.empty:
            raise MarketDataError([DataIssue("market_facts.csv", None, "metric", metric,
                                             f"no {year} value found")])
        return rows.iloc[0]

    total = row("total_new_light_vehicle_sales", "Open-EV-Charts")
    bev = row("bev_sales", "Open-EV-Charts")
    cox = this_year[(this_year["metric"] == "bev_sales") & this_year["scope"].str.contains("Cox", regex=False)]
    companies = this_year[this_year["metric"] == "sales_by_company"]
    return MarketFacts(
        year=year,
        total_units=float(total["value"]), total_units_source=str(total["source"]),
        bev_units=float(bev["value"]), bev_units_source=str(bev["source"]),
        bev_units_cox=float(cox["value"].iloc[0]) if len(cox) else None,
        bev_share=float(bev["value"]) / float(total["value"]),
        average_transaction_price=float(ref.loc["atp_2025_usd", "value"]),
        average_transaction_price_source=str(ref.loc["atp_2025_usd", "source"]),
        average_transaction_price_bev=float(ref.loc["atp_bev_2025_usd", "value"]),
        average_transaction_price_bev_source=str(ref.loc["atp_bev_2025_usd", "source"]),
        households=float(ref.loc["households_2024", "value"]),
        households_source=str(ref.loc["households_2024", "source"]),
        sales_by_company={str(s): float(v) for s, v in zip(companies["scope"], companies["value"])},
    )



def load_chinese_candidates() -> pd.DataFrame:
    """Chinese-group candidate entrants with raw prices, parsed numbers and EPA-equivalent range."""
    return _checked("chinese_models.csv", key="candidate_id", required=("maker_group", "brand", "model",
                                                                          "powertrain", "sources"))


def load_tariff_parameters() -> pd.DataFrame:
    """Tariff, quota and credit parameters (US, Canada, Mexico, EU), one named row each, with sources."""
    return _checked("tariff_parameters.csv", key="name", required=("instrument", "rate_or_value", "source"))


def load_costs() -> pd.DataFrame:
    """Cost parameters (battery packs and cells, labour, shipping, capacity), one named row each."""
    return _checked("costs.csv", key="name", required=("category", "item", "value", "unit", "source"))


def known_nationalities() -> list[str]:
    """The owners' nationalities a market may name: those of the bundled firms table (firms.csv).
    Levers and tariffs select owners by these names (``nationality: [China]``), and the outcomes sum
    by them, so a misspelt or invented one would be a nationality that no policy reaches."""
    return sorted(set(load_firms()["nationality"].astype(str)))


def load_firms() -> pd.DataFrame:
    """Parent companies with their controlling owner and nationality, with sources."""
    return _checked("firms.csv", key="parent_company", required=("nationality", "owner_country", "source"))


def _checked(name: str, key: str, required: tuple[str, ...]) -> pd.DataFrame:
    """A bundled table indexed by ``key`` once its key and required columns are checked (a copy:
    callers may change it). Checked once a process, like ``read_bundled``'s parsing: a scenario's
    draws read the candidates table several times each (issue 13's profile)."""
    return _checked_once(name, key, required).copy()


@lru_cache(maxsize=None)
def _checked_once(name: str, key: str, required: tuple[str, ...]) -> pd.DataFrame:
    table = read_bundled(name)
    issues = [DataIssue(name, None, c, None, "required column is missing") for c in (key, *required)
              if c not in table.columns]
    if not issues:
        for position, row in table.iterrows():
            for column in (key, *required):
                if pd.isna(row[column]) or not str(row[column]).strip():
                    issues.append(DataIssue(name, int(position) + 2, column, None, "value is missing"))
        for position in table.index[table[key].duplicated()]:
            issues.append(DataIssue(name, int(position) + 2, key, table.at[position, key], "duplicate key"))
    if issues:
        raise MarketDataError(issues)
    return table.set_index(key, drop=False)


@dataclass(frozen=True)
class IncomeDistribution:
    """Points (income, cumulative share) of the household income CDF and the top tail.

    ``tail_start`` is the income at cumulative share ``points_cdf[-1]``; above it incomes follow a
    Pareto distribution with index ``tail_index``.
    """

    points_income: np.ndarray
    points_cdf: np.ndarray
    tail_index: float
    source: str

    def quantile(self, u: np.ndarray) -> np.ndarray:
        """Income at cumulative share u (inverse CDF)."""
        u = np.asarray(u, float)
        top_cdf = self.points_cdf[-1]
        tail_start = self.points_income[-1]
        body = np.interp(u, self.points_cdf, self.points_income)
        tail_u = np.clip((u - top_cdf) / (1 - top_cdf), 0.0, 1 - 1e-12)
        tail = tail_start * (1 - tail_u) ** (-1 / self.tail_index)
        return np.where(u <= top_cdf, body, tail)


def income_distribution() -> IncomeDistribution:
    """US household income distribution (Census P60-282, income year 2023, in 2023 dollars).

    CDF points: the upper bounds of Table A-2's nine brackets (shares cumulated) up to $200,000,
    then the 90th and 95th percentiles of Table A-4a; above the 95th percentile a Pareto tail
    with index a = m / (m - x95), which makes the tail's mean equal the published mean income of
    the top 5% (m = $526,200, Table A-4b).
    """
    table = read_bundled("consumer_income.csv")
    year = table["period"].astype(str).str.startswith("income year 2023")
    brackets = table[year & (table["metric"] == "share_of_households")].sort_values("bracket_low_usd")
    bounded = brackets[brackets["bracket_high_usd"].notna()]
    incomes = [0.0, *(bounded["bracket_high_usd"].to_numpy(float) + 1.0)]
    cdf = [0.0, *(np.cumsum(bounded["value"].to_numpy(float)) / 100.0)]

    def value(metric: str) -> float:
        rows = table[year & (table["metric"] == metric)]
        if rows.empty:
            raise MarketDataError([DataIssue("consumer_income.csv", None, "metric", metric, "value not found")])
        return float(rows["value"].iloc[0])

    incomes += [value("household_income_at_p90"), value("household_income_at_p95")]
    cdf += [0.90, 0.95]
    top_mean = value("mean_income_top_5_percent")
    tail_index = top_mean / (top_mean - incomes[-1])
    return IncomeDistribution(np.array(incomes), np.array(cdf), tail_index,
                              source="US Census Bureau P60-282 Tables A-2, A-4a, A-4b (income year 2023)")


def backtest_evidence() -> dict[str, dict[str, Any]]:
    """The sourced yardsticks of the back-tests (``backtest_evidence.csv``), by name."""
    return {row["name"]: row for row in _parsed("backtest_evidence.csv").to_dict(orient="records")}


def early_2026_sales() -> list[dict[str, Any]]:
    """Published US sales changes of makers and nameplates in the first months of 2026 against the same
    months of 2025 (``sales_early_2026.csv``), each with the makes or product-id prefixes it covers in the
    2025 market (exactly one of the two), the change as a fraction and its source."""
    rows = []
    for k, row in enumerate(_parsed("sales_early_2026.csv").to_dict(orient="records")):
        makes = [m for m in str(row["makes"]).split(";") if m and m != "nan"]
        prefixes = [m for m in str(row["product_prefixes"]).split(";") if m and m != "nan"]
        change = pd.to_numeric(pd.Series([row["change"]]), errors="coerce").iloc[0]
        issue = (("makes", "give exactly one of makes and product_prefixes") if bool(makes) == bool(prefixes) else
                 ("change", "not a finite number") if not np.isfinite(change) else
                 ("source", "empty") if not str(row["source"]).strip() or str(row["source"]) == "nan" else None)
        if issue is not None:
            field, why = issue
            raise MarketDataError([DataIssue("sales_early_2026.csv", k + 2, field, row.get(field), why)])
        rows.append({**row, "makes": makes, "product_prefixes": prefixes, "change": float(change)})
    return rows


def new_vehicle_buyer_shares(year: int = 2025) -> dict[str, dict[str, Any]]:
    """Published shares of new-vehicle buyers by household income (``consumer_income.csv`` section E,
    Cox Automotive) of ``year``, by metric: the bracket [low, high) in dollars (high inf for "and
    over"), the share as a fraction (the leading number of the value: "about 25" is 0.25), whether
    it is derived rather than published, and its source."""
    table = _parsed("consumer_income.csv")
    rows = table[(table["section"] == "E_new_vehicle_buyers") & (table["period"].astype(str) == str(year))
                 & table["metric"].str.startswith("share_of_new_vehicle_buyers")]
    found = {}
    for row in rows.to_dict(orient="records"):
        number = re.match(r"\s*(?:about\s+)?([0-9.]+)", str(row["value"]))
        if number is None:
            raise MarketDataError([DataIssue("consumer_income.csv", None, "value", row["value"], "no leading number")])
        high = row["bracket_high_usd"]
        found[row["metric"]] = {"low": float(row["bracket_low_usd"]), "high": float(high) + 1.0 if pd.notna(high) else np.inf,
                                "share": float(number.group(1)) / 100.0, "derived": str(row["derived"]) != "no",
                                "source": str(row["source"])}
    return found


def policy_parameters() -> pd.DataFrame:
    """Named policy parameters (tariff rates, cost components) with value, unit, source."""
    return read_bundled("policy_parameters.csv").set_index("name")


def policy_parameter_units() -> dict[str, str]:
    """{name: unit} of the policy parameters, in the table's order: what a scenario's validation reads
    (every draw of a run validates its scenario; the table's copy and index took 1-2 ms of it)."""
    return dict(_units())


@lru_cache(maxsize=1)
def _units() -> tuple[tuple[str, str], ...]:
    table = _parsed("policy_parameters.csv")
    return tuple(zip(table["name"].tolist(), table["unit"].astype(str).tolist()))
