"""The date fields every scenario lever carries (``effective``, ``end``), dated policy parameters and
the years a scenario may be evaluated at; ``autopact.policy.dated`` evaluates them.

Kept apart from ``autopact.policy.scenario`` so that the schema of the levers stays one file of its
own; the scenario module re-exports these names.
"""

from __future__ import annotations

from datetime import date

from pydantic import Field, model_serializer, model_validator

from autopact.data.inputs import Strict

# Fields left out of a lever's JSON when absent (None or False), so that a scenario without them has the
# document it had before they existed (golden files).
ABSENT_LEFT_OUT = ("effective", "end", "repealed", "decision", "lead_time_months", "capacity_ramp", "years_on_sale",
                   "price_cap_usd", "price_above_usd")

# The years a dated lever may be evaluated at: the data year (2025) to the end of the projection horizon
# of issue 14 (2035); a later year has no sourced path of any exogenous input here.
POLICY_YEARS = (2025, 2035)


class Dated(Strict):
    """A lever with an optional first day (``effective``) and last day (``end``) in force; absent
    means always. ``autopact.policy.dated`` evaluates a scenario at a year: rates are weighted by
    the share of the year's days in force, whole levers (entrants, rules) count when in force on
    1 July. The dates are left out of the scenario's JSON when absent, so an undated scenario's
    document is what it was before levers had dates."""

    effective: date | None = Field(None, description="first day in force (absent: always was)")
    end: date | None = Field(None, description="last day in force (absent: no end)")

    @model_validator(mode="after")
    def _ordered(self) -> "Dated":
        if self.effective is not None and self.end is not None and self.end < self.effective:
            raise ValueError(f"end {self.end} is before effective {self.effective}")
        return self

    @model_serializer(mode="wrap")
    def _without_absent_dates(self, handler):
        data = handler(self)
        for key in ABSENT_LEFT_OUT:
            if isinstance(data, dict) and data.get(key) in (None, False) and key in type(self).model_fields:
                data.pop(key, None)
        return data


class DatedParameter(Dated):
    """A policy parameter's value for a dated span (e.g. ``connected_vehicle_threshold`` 0.15 from
    2027): on the days it is in force it replaces the parameter's value (``parameters``, else the
    bundled policy timeline's, else policy_parameters.csv)."""

    name: str
    value: float
    source: str = Field(min_length=1, description="where the value and its dates come from")


class BuildPath(Dated):
    """An entrant's build path in a projection (issue 14): a plant decision, the lead time from it to
    sales, a capacity ramp and the years on sale that set its launch term.

    ``decision`` dates the entrant from a plant decision: it goes on sale ``lead_time_months`` later
    (default: the named assumption ``plant_lead_time_months``, 30, Geely's 26-34 months), that day
    taking the place of ``effective``. Evaluated at a year (``autopact.policy.dated``), an entrant in
    force on 1 July of a year is on sale that year; its first such year is year 1 on sale, which
    sets its launch term (``autopact.policy.launch`` bands) and the share of its capacity that
    ``capacity_ramp`` gives (the last share held after the ramp's years). Undated, an entrant is in
    its ``entrant_years_on_sale``-th year (policy parameter) at full capacity, as before."""

    decision: date | None = Field(None, description="day of the plant decision: on sale lead_time_months later "
                                                    "(instead of effective; US-built entrants only)")
    lead_time_months: float | None = Field(None, ge=0, le=120, description="months from the decision to sales "
                                           "(default: the named assumption plant_lead_time_months, 30)")
    capacity_ramp: list[float] | None = Field(None, min_length=1, max_length=20, description="share of the plant "
                                              "capacity in years 1, 2, ... on sale (last share held; default: full "
                                              "capacity from the first year: no sourced ramp is bundled)")
    years_on_sale: int | None = Field(None, ge=1, le=99, description="year on sale when evaluated (launch year = 1); "
                                      "set from the launch date in a dated evaluation (default: policy parameter "
                                      "entrant_years_on_sale)")

    @model_validator(mode="after")
    def _one_start(self) -> "BuildPath":
        if self.decision is not None and self.effective is not None:
            raise ValueError(f"give decision ({self.decision}) or effective ({self.effective}), not both: a decision "
                             "dates the first sales lead_time_months later")
        if self.lead_time_months is not None and self.decision is None:
            raise ValueError(f"lead_time_months ({self.lead_time_months:g}) needs a decision date")
        for k, share in enumerate(self.capacity_ramp or ()):
            if not 0 < share <= 1:
                raise ValueError(f"capacity_ramp[{k}]: a share of capacity must lie in (0, 1], got {share}")
        return self
