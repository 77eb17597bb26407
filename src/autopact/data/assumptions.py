"""Named assumptions: every value autopact uses that is a choice rather than a sourced fact.

Each assumption has a default, a cited reason and a way to change it. Reports list them all
(``autopact data summary`` prints them). Change one from Python with
``load_market(assumptions={"price_level": "msrp"})`` or from the CLI with
``--set price_level=msrp``.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from autopact.data.inputs import decimal, shown
from autopact.data.tables import market_facts


class AssumptionError(ValueError):
    """A named assumption was unknown or given a value it cannot take."""


class Assumption(BaseModel):
    """One named assumption: its value, what it means and why the default is what it is."""

    model_config = ConfigDict(frozen=True)

    name: str
    value: Any
    unit: str
    description: str
    reason: str
    source: str
    allowed: tuple[Any, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    maximum_reason: str = ""

    @field_validator("name")
    @classmethod
    def _snake_case(cls, name: str) -> str:
        if not name.replace("_", "").isalnum() or name.lower() != name:
            raise ValueError(f"assumption name {name!r} must be snake_case")
        return name

    def with_value(self, raw: Any) -> "Assumption":
        """A copy holding ``raw`` (parsed to the default's type); raises AssumptionError if invalid:
        a numeric assumption takes a finite number (a whole one where the default is whole)."""
        value: Any = self._number(raw) if _is_number(self.value) else raw
        if self.allowed is not None and value not in self.allowed:
            raise AssumptionError(
                f"assumption '{self.name}': value {shown(raw)} is not one of {list(self.allowed)}")
        if self.minimum is not None and float(value) < self.minimum:
            raise AssumptionError(f"assumption '{self.name}': value {shown(raw)} is below {self.minimum}")
        if self.maximum is not None and float(value) > self.maximum:
            raise AssumptionError(f"assumption '{self.name}': value {shown(raw)} is above {self.maximum:,.0f} "
                                  f"({self.maximum_reason})")
        return self.model_copy(update={"value": value})

    def _number(self, raw: Any) -> int | float:
        """``raw`` (a number, or its text from ``--set``) as a finite number of the default's type."""
        number = None
        if _is_number(raw) or decimal(raw) is not None:  # text: ASCII decimal digits only
            try:
                number = float(raw)
            except (ValueError, OverflowError):
                pass
        if number is None:
            raise AssumptionError(f"assumption '{self.name}': value {shown(raw)} is not a number ({self.unit})")
        if not math.isfinite(number):
            raise AssumptionError(f"assumption '{self.name}': value {shown(raw)} is not a finite number ({self.unit})")
        if isinstance(self.value, int):
            if not number.is_integer():
                raise AssumptionError(f"assumption '{self.name}': value {shown(raw)} is not a whole number "
                                      f"({self.unit})")
            return int(number)
        return number


# At most this many times the default's value: a market of ten times the Census count of US
# households (or ten times the year's sales) is a unit or typing error (people, not households; an
# extra digit), and nothing beyond it is a US market.
PLAUSIBLE_FACTOR = 10
PLAUSIBLE_REASON = "ten times the sourced default: a larger value is a unit or typing error, not the US market"


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _households() -> int:
    """Default market size: the household count of the bundled market facts (households_2024)."""
    return int(market_facts().households)


def _market_total(year: int = 2025) -> int:
    """Default market total: ANL's sum of quarters (market_facts.csv)."""
    return int(market_facts(year).total_units)


@lru_cache(maxsize=1)
def defaults() -> dict[str, Assumption]:
    """The named assumptions with their default values (the numbers read from the bundled data)."""
    return {a.name: a for a in _definitions()}


def _definitions() -> list[Assumption]:
    return [
        Assumption(
            name="price_level",
            value="transaction",
            unit="'transaction' or 'msrp'",
            allowed=("transaction", "msrp"),
            description=(
                "Which price level the model's prices are on. 'msrp': each product's base-trim MSRP "
                "(2025 dollars, excluding destination). 'transaction': base MSRPs scaled so that the "
                "units-weighted mean equals the 2025 average transaction price (reference parameter "
                "atp_2025_usd) and BEVs' equals KBB's 2025 EV transaction price (atp_bev_2025_usd): one "
                "factor for BEVs, one for the rest; relative prices within each group are unchanged."
            ),
            reason=(
                "Buyers pay far more than base MSRP on average (options, trims, destination): the KBB "
                "2025 average transaction price is about $49,500 against a units-weighted mean base MSRP "
                "of about $36,800 in the bundled data. Dollar profits, tariff revenue and consumer surplus "
                "scale with the price level, so the default uses what buyers actually pay. BEVs sold at "
                "13-18% incentives in 2025 against about 7% for all vehicles (market_facts.csv), so they take "
                "their own factor (Market.price_scales)."
            ),
            source="Kelley Blue Book (Cox Automotive) monthly ATP reports, 2025 (market_facts.csv)",
        ),
        Assumption(
            name="market_size_households",
            value=_households(),
            unit="households",
            minimum=1.0,
            maximum=PLAUSIBLE_FACTOR * _households(),
            maximum_reason=PLAUSIBLE_REASON,
            description="Potential market M: each household may buy one new vehicle a year or none (the outside good).",
            reason=(
                "The household is the usual unit of the potential market in car demand models "
                "(Berry, Levinsohn and Pakes 1995 use US households)."
            ),
            source="US Census Bureau, American Community Survey 2024 1-year: 132,737,146 households",
        ),
        Assumption(
            name="remainder_rows",
            value="keep",
            unit="'keep' or 'drop'",
            allowed=("keep", "drop"),
            description=(
                "What to do with the 9 brand remainders (a brand's official 2025 total minus its named "
                "nameplates; 11 rows, Ford's and Hyundai's each split into an ICE and an HEV row): 'keep' models each as an explicit 'Other <brand>' product with characteristics "
                "imputed from the nameplates it contains; 'drop' leaves them out of the market."
            ),
            reason=(
                "They hold 1.27 million units (7.8% of the 2025 market), including Ford's Explorer, Escape and "
                "Expedition, GM's Tahoe and Suburban and Hyundai's Kona, Sonata and Venue; dropping them would "
                "understate Ford's, GM's and Hyundai's "
                "shares, which the joint-venture scenarios turn on."
            ),
            source="products_2025.csv brand_residual rows (official brand totals minus named rows)",
        ),
        Assumption(
            name="market_total_units",
            value=_market_total(),
            unit="new light vehicles sold in the US in 2025",
            minimum=1.0,
            maximum=PLAUSIBLE_FACTOR * _market_total(),
            maximum_reason=PLAUSIBLE_REASON,
            description="The 2025 market total against which coverage is measured.",
            reason=(
                "Argonne National Laboratory's quarterly light-duty totals (sum of 2025 quarters); the BEA "
                "figure, 16.2 million, agrees within 0.1%. The Q3-Q4 ANL entries are preliminary."
            ),
            source="ANL 'Total Sales for Website' via Open-EV-Charts (market_facts.csv)",
        ),
    ]


def dated_assumptions() -> list[Assumption]:
    """The named assumptions of evaluating dated levers at a year (``autopact.policy.dated``). They are
    not market assumptions (``defaults``): they decide which levers are in force, not the data."""
    return [
        Assumption(
            name="dated_weighting",
            value="days",
            unit="'days' or 'mid_year'",
            allowed=("days", "mid_year"),
            description=(
                "How a rate lever in force for part of a year counts in that year's equilibrium: 'days', by the "
                "share of the year's days it is in force (a tariff, credit or synergy scaled, a parameter averaged, "
                "a quota's yearly quantity prorated); 'mid_year', fully if in force on 1 July, else not at all. "
                "Whole levers (entrants, new products, mergers, the connected-vehicle and local-production rules) "
                "always count when in force on 1 July."
            ),
            reason=(
                "The same convention as the Section 232 rates (policy parameter section_232_rate_year): no monthly "
                "imports or sales by origin are in the data, so each day of a year weighs the same. Range: the two "
                "conventions; for a rate that changes once in a year they bound the year's value (e.g. IEEPA on "
                "China in 2026: 1.48% by days, 0% on 1 July)."
            ),
            source="policy_parameters.csv section_232_rate_year; policy_timeline.csv",
        ),
        Assumption(
            name="model_year_start",
            value="1 January",
            unit="day of the calendar year in which model year Y's sales begin",
            allowed=("1 January",),
            description=(
                "Rules written by model year (the connected-vehicle rule: software from model year 2027, hardware "
                "from 2030) are dated from 1 January of that year."
            ),
            reason=(
                "The data are calendar-year sales with no split by model year; model year Y is the one sold most in "
                "calendar year Y. GAP: no sourced model-year calendar; a model year can go on sale in the preceding "
                "autumn, so the rule may bite up to a few months earlier than dated here (range: the autumn of Y-1 "
                "to 1 January of Y; not a setting)."
            ),
            source="https://sanctionsnews.bakermckenzie.com/bis-issues-final-rule-regarding-connected-vehicles "
                   "(rule by model year); policy_timeline.csv connected-vehicle-software",
        ),
        Assumption(
            name="discount_rate",
            value=0.03,
            unit="real rate a year",
            minimum=0.0,
            description="The rate at which a projection's yearly changes are discounted to its first year.",
            reason=(
                "OMB Circular A-4 (2003) advises 3% and 7% real; its 2023 revision set a 2% default and dropped 7%, "
                "and that revision was rescinded in January 2025, returning to the 2003 text. Range: 2% (A-4 2023) "
                "to 7% (A-4 2003, the opportunity cost of capital)."
            ),
            source="https://www.lawbc.com/oira-intends-final-revisions-to-circular-a-4-to-improve-regulatory-analysis/ ; "
                   "https://www.cambridge.org/core/product/62D2679504E2F09642110476D10CED0B/core-reader (rescinded "
                   "January 2025)",
        ),
        Assumption(
            name="path_interpolation",
            value="linear",
            unit="'linear'",
            allowed=("linear",),
            description="An exogenous path between its sourced years (exogenous_paths.csv) is interpolated linearly, "
                        "and held at its last sourced year after it (the battery pack price from 2031).",
            reason=(
                "The sources give points (2025 actual, the 2026 forecast, 2030 forecasts), not paths; no sourced path "
                "of the same vintages runs past 2030, and the long-run views flatten (53 studies: about $70/kWh by "
                "2050, developments_2026.md 4.1). Range: the path's low and high rows, drawn as whole paths."
            ),
            source="exogenous_paths.csv; https://batteriesnews.com/battery-cost-forecasting-outlook-2050/",
        ),
    ]


def resolve(overrides: dict[str, Any] | None = None) -> dict[str, Assumption]:
    """The default assumptions with ``overrides`` applied; unknown names raise AssumptionError."""
    resolved = dict(defaults())
    for name, raw in (overrides or {}).items():
        if name not in resolved:
            raise AssumptionError(f"unknown assumption {shown(name)}; known: {', '.join(sorted(resolved))}")
        try:
            resolved[name] = resolved[name].with_value(raw)
        except ValidationError as error:  # pragma: no cover - with_value raises AssumptionError first
            raise AssumptionError(str(error)) from None
    return resolved


def parse_settings(settings: list[str]) -> dict[str, str]:
    """Parse CLI ``--set name=value`` strings."""
    parsed = {}
    for item in settings:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise AssumptionError(f"--set expects name=value, got {shown(item)}")
        parsed[name.strip()] = value.strip()
    return parsed


def projection_assumptions() -> list[Assumption]:
    """The named assumptions of entrants' build paths in a projection (``autopact.policy.dated``):
    listed in the JSON of a result whose entrants are dated by a plant decision, and in every
    projection's (``autopact.runs.projection``)."""
    return [
        Assumption(
            name="plant_lead_time_months",
            value=30.0,
            unit="months from a plant decision to the first sales",
            minimum=0.0,
            description=(
                "An entrant dated by a plant decision (entrants[].decision) goes on sale this many months later; "
                "entrants[].lead_time_months changes it for one entrant."
            ),
            reason=(
                "Geely at CES, January 2026: US production could come within 26-34 months (of a decision), possibly "
                "at Volvo's Ridgeville SC plant; 30 is the middle of that range. Range 26-34 months (the same "
                "statement); a plant built from the ground up would take longer (no sourced figure here)."
            ),
            source="developments_2026.md 1.1: https://www.archyde.com/trump-urges-chinese-automakers-to-build-u-s-"
                   "factories-raising-stakes-for-detroits-auto-landscape (weak); "
                   "https://www.newsbytesapp.com/news/auto/geely-wants-in-on-the-us-car-scene-by-2030/tldr (weak)",
        ),
        Assumption(
            name="capacity_ramp",
            value="none",
            unit="'none': full capacity from the first year on sale",
            allowed=("none",),
            description=(
                "An entrant's plant has its full capacity from its first year on sale unless the scenario gives "
                "entrants[].capacity_ramp (shares of capacity by year on sale)."
            ),
            reason="No sourced ramp of a new US plant's output is bundled (a GAP); a scenario may state one.",
            source="none bundled: the project's sourced data (developments_2026.md, entry evidence) hold no plant ramp-up figures",
        ),
        Assumption(
            name="brand_familiarity_path",
            value="fixed",
            unit="'fixed'",
            allowed=("fixed",),
            description=(
                "In a projection, brand familiarity (policy parameter chinese_brand_consideration_share, 0.61) stays "
                "at its value in every year; a scenario may give it a dated path (dated_parameters)."
            ),
            reason=(
                "No sourced trajectory fits: the bundled ones (chinese_brand_trajectories.csv: Mexico, Australia, UK, "
                "Brazil) are market shares of Chinese brands as a whole (dozens of models, growing dealer networks, "
                "PHEVs and ICE) or of one model, not awareness or consideration; a share's growth is what demand "
                "gives from all its terms, and the launch term by years on sale already carries the shortfall of "
                "launches' first years (US launches of 2019-2025). Read as consideration they would count that ramp "
                "twice and add the line-up's growth. Range: the parameter's, 0.38-1.0 (Cox 2026)."
            ),
            source="chinese_brand_trajectories.csv (evidence/entry_and_tariffs.md 2b); policy_parameters.csv "
                   "chinese_brand_consideration_share",
        ),
    ]
