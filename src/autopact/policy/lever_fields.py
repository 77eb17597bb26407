"""The schema of the rate levers of a scenario: extra tariffs and tariff-rate quotas (with their
optional price condition), and the powertrain and segment names they filter on.

Kept apart from ``autopact.policy.scenario`` (which re-exports these names) so that the scenario
module stays one file of a readable size.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from autopact.data.inputs import MAX_PRICE_USD
from autopact.policy.dated_fields import Dated

Powertrain = Literal["ICE", "HEV", "PHEV", "BEV", "FCEV"]
Segment = Literal["car", "SUV-crossover", "pickup", "van"]


class TariffRule(Dated):
    """An additional tariff on vehicles matching every given filter (None = any)."""

    name: str
    origin: list[str] | None = Field(None, description="assembly countries, e.g. ['China', 'Mexico']")
    nationality: list[str] | None = Field(None, description="controlling owner's nationality, e.g. ['China']")
    powertrain: list[Powertrain] | None = None
    segment: list[Segment] | None = None
    ad_valorem_pct: float = Field(0.0, ge=0, description="percent of customs value")
    specific_usd: float = Field(0.0, ge=0, le=MAX_PRICE_USD, description="dollars per vehicle")


class Quota(Dated):
    """A tariff-rate quota: ``quantity`` vehicles a year from ``origin`` pay ``in_quota_pct`` instead
    of the origin's full stack; vehicles beyond it pay the full stack (Canada's 2026 deal:
    49,000 Chinese EVs at 6.1%). A price condition makes it a sub-quota: only products whose customs
    value (the FOB value the tariff is levied on, per vehicle sold) is at most ``price_cap_usd``, or
    above ``price_above_usd`` (Canada reserves a share of its quota for EVs with an FOB price of
    C$35,000 or less: the reserved share and the rest are two quotas)."""

    name: str
    origin: str = "China"
    powertrain: list[Powertrain] | None = None
    quantity: float = Field(ge=0)
    in_quota_pct: float = Field(ge=0)
    price_cap_usd: float | None = Field(None, gt=0, le=MAX_PRICE_USD, description="only products whose customs value "
                                        "(FOB, per vehicle) is at most this (a sub-quota for cheaper vehicles)")
    price_above_usd: float | None = Field(None, ge=0, le=MAX_PRICE_USD, description="only products whose customs "
                                          "value (FOB, per vehicle) is above this (the rest of a reserved quota)")

    @model_validator(mode="after")
    def _price_band(self) -> "Quota":
        if self.price_cap_usd is not None and self.price_above_usd is not None \
                and self.price_cap_usd <= self.price_above_usd:
            raise ValueError(f"price_cap_usd {self.price_cap_usd:g} must be above price_above_usd "
                             f"{self.price_above_usd:g}: no product would be in the quota")
        return self

    def in_price_band(self, customs_value: np.ndarray) -> np.ndarray:
        """Which products (by customs value) the quota's price condition admits (all without one)."""
        admitted = np.ones(len(customs_value), bool)
        if self.price_cap_usd is not None:
            admitted &= customs_value <= self.price_cap_usd
        if self.price_above_usd is not None:
            admitted &= customs_value > self.price_above_usd
        return admitted
