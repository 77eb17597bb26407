"""The date fields every scenario lever carries (``effective``, ``end``), dated policy parameters and
the years a scenario may be evaluated at; ``autopact.policy.dated`` evaluates them.

Kept apart from ``autopact.policy.scenario`` so that the schema of the levers stays one file of its
own; the scenario module re-exports these names.
"""

from __future__ import annotations

from datetime import date

from pydantic import Field, model_serializer, model_validator

from autopact.data.inputs import Strict

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
        for key in ("effective", "end", "repealed"):
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
