"""Schema of a market products table, checked row by row (pydantic) and as a whole.

Every problem is reported with the file, the CSV line, the column and the offending value;
nothing is loaded when any problem is found. A number must be finite in every numeric column (a
CSV ``inf`` parses as infinity; a blank cell is a missing value, allowed where the column is
optional), and a price at most ``autopact.data.inputs.MAX_PRICE_USD``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from autopact.data.inputs import MAX_PRICE_USD, PRICE_CEILING_REASON, decimal

POWERTRAINS = ("ICE", "HEV", "PHEV", "BEV", "FCEV")
SEGMENTS = ("car", "SUV-crossover", "pickup", "van")
REQUIRED_COLUMNS = (
    "product_id", "make", "parent_company", "firm_nationality", "model", "segment", "powertrain",
    "units", "msrp_usd",
)


@dataclass(frozen=True)
class DataIssue:
    """One problem in a data file: where it is and what is wrong."""

    file: str
    line: int | None
    column: str | None
    value: object
    message: str

    def __str__(self) -> str:
        where = self.file + (f", line {self.line}" if self.line is not None else "")
        where += f", column '{self.column}'" if self.column else ""
        shown = "" if self.value is None else f" (value: {self.value!r})"
        return f"{where}: {self.message}{shown}"


class MarketDataError(ValueError):
    """The market data failed validation; ``issues`` lists every problem found."""

    def __init__(self, issues: list[DataIssue]):
        self.issues = issues
        head = "\n".join(f"  - {issue}" for issue in issues[:50])
        more = f"\n  ... and {len(issues) - 50} more" if len(issues) > 50 else ""
        super().__init__(f"{len(issues)} problem(s) in market data:\n{head}{more}")


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or (
        isinstance(value, str) and not value.strip())


class ProductRecord(BaseModel):
    """One product (a nameplate in one powertrain class) in one market-year."""

    model_config = ConfigDict(extra="allow", str_strip_whitespace=True)

    product_id: str = Field(min_length=1)
    make: str = Field(min_length=1)
    parent_company: str = Field(min_length=1)
    firm_nationality: str = Field(min_length=1)
    model: str = Field(min_length=1)
    segment: Literal[SEGMENTS]  # type: ignore[valid-type]
    powertrain: Literal[POWERTRAINS]  # type: ignore[valid-type]
    units: int = Field(gt=0, description="units sold in the market-year; must be positive for a logit share")
    msrp_usd: float = Field(gt=0, allow_inf_nan=False)
    horsepower: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    footprint_sqft: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    efficiency_mpg_or_mpge: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    months_on_offer_2025: float | None = Field(
        default=None, ge=0, le=12, allow_inf_nan=False,
        description="months of the year on offer to new orders (a launch or a run-out); blank: 12")

    @field_validator("horsepower", "footprint_sqft", "efficiency_mpg_or_mpge", "months_on_offer_2025", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return None if _blank(value) else value

    @field_validator("msrp_usd")
    @classmethod
    def _plausible_price(cls, value: float) -> float:
        if value > MAX_PRICE_USD:
            raise ValueError(f"must be at most ${MAX_PRICE_USD:,.0f} ({PRICE_CEILING_REASON}; it would also scale "
                             "every other price towards 0 at the transaction-price level)")
        return value

    @field_validator("units", mode="before")
    @classmethod
    def _whole_units(cls, value: object) -> object:
        if _blank(value):
            raise ValueError("units are missing")
        try:  # text only in ASCII decimal digits (float() reads "١٢" as 12)
            number = decimal(value) if isinstance(value, str) else float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            number = None
        if number is None:
            raise ValueError("units must be a whole number")
        if not math.isfinite(number) or not number.is_integer():
            raise ValueError("units must be a whole number")
        return int(number)


def _friendly(error: dict) -> str:
    kind, message = error["type"], error["msg"]
    if kind == "missing":
        return "required value is missing"
    if kind == "literal_error":
        return message.replace("Input should be", "must be one of")
    if kind in ("float_parsing", "float_type", "int_parsing"):
        return "must be a number"
    return message.removeprefix("Value error, ")


def validate_products(table: pd.DataFrame, file: str, market_total_units: float,
                      market_size: float, nationalities: list[str] | None = None) -> list[DataIssue]:
    """All problems in a products table: missing columns, bad rows, duplicate ids, excess units, and
    owners' nationalities outside ``nationalities`` (``autopact.data.tables.known_nationalities``).

    Returns an empty list when the table is valid.
    """
    missing = [c for c in REQUIRED_COLUMNS if c not in table.columns]
    if missing:
        return [DataIssue(file, 1, c, None, "required column is missing") for c in missing]
    issues: list[DataIssue] = []
    for position, row in enumerate(table.to_dict(orient="records")):
        line = position + 2  # the header is line 1
        clean = {k: (None if _blank(v) else v) for k, v in row.items() if k in ProductRecord.model_fields}
        try:
            ProductRecord.model_validate(clean)
        except ValidationError as error:
            for item in error.errors():
                column = str(item["loc"][0]) if item["loc"] else None
                issues.append(DataIssue(file, line, column, row.get(column) if column else None,
                                        _friendly(item)))
        if "msrp_imputed" in table.columns and "msrp_source" in table.columns:
            if not _truthy(row.get("msrp_imputed")) and _blank(row.get("msrp_source")):
                issues.append(DataIssue(file, line, "msrp_source", None,
                                        "price has neither a source nor an imputation flag"))
    issues += _infinities(table, file)
    if nationalities is not None:
        issues += _nationalities(table, file, nationalities)
    duplicated = table["product_id"].duplicated(keep="first")
    for position in duplicated[duplicated].index:
        issues.append(DataIssue(file, int(position) + 2, "product_id", table.at[position, "product_id"],
                                "duplicate product id"))
    units = pd.to_numeric(table["units"], errors="coerce")
    total = float(units[(units > 0) & np.isfinite(units)].sum())
    if total > market_total_units:
        issues.append(DataIssue(file, None, "units", int(total),
                                f"units sum to more than the market total of {market_total_units:,.0f}"))
    if total > market_size:
        issues.append(DataIssue(file, None, "units", int(total),
                                f"shares sum to more than 1: units exceed the market size of {market_size:,.0f} households"))
    return issues


def _nationalities(table: pd.DataFrame, file: str, known: list[str]) -> list[DataIssue]:
    """firm_nationality outside ``known`` (a blank one is the row schema's to report)."""
    issues = []
    for position, value in enumerate(table["firm_nationality"].tolist()):
        if not _blank(value) and str(value).strip() not in known:
            issues.append(DataIssue(file, position + 2, "firm_nationality", value,
                                    f"unknown nationality; known (firms.csv): {', '.join(known)}"))
    return issues


def _infinities(table: pd.DataFrame, file: str) -> list[DataIssue]:
    """Infinite values in the numeric columns the row schema does not cover (it refuses its own)."""
    issues = []
    for column in table.columns:
        if column in ProductRecord.model_fields or not pd.api.types.is_float_dtype(table[column]):
            continue
        for position in np.flatnonzero(np.isinf(table[column].to_numpy(float))):
            issues.append(DataIssue(file, int(position) + 2, str(column), float(table[column].iloc[position]),
                                    "must be a finite number"))
    return issues


def _truthy(value: object) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value) and not _blank(value)
