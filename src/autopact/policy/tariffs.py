"""Tariffs of a scenario: the US stack in force (with the scenario's rates) plus extra tariff rules.

A tariff is levied on the customs value v_j of an imported vehicle; for a vertically integrated
importer that is the vehicle's cost before tariff, so it raises marginal cost:
c_j = v_j (1 + tau_j) + T_j, where tau_j averages the rates of the countries that assemble j
(``autopact.data.tariffs.origin_weights``) and T_j is a specific tariff per vehicle.

The 2025 duty's catch-up. Makers paid the 2025 Section 232 duty but carried little of it into
2025's prices: Kelley Blue Book's and J.D. Power's average transaction prices rose 0.8-2.6% year over
year from June to December 2025 (median 1.3%), against +5.6% from the layer at full pass-through, and
Cox expected the rises in 2026 (``policy_parameters.csv``, ``section_232_2025_pass_through_share``
theta = 1.3 / 5.6). The calibration backs each import's customs value out of 2025's prices as if they
carried the whole stack tau_j, v_j = (c_j - d) / (1 + tau_j); prices that carried only theta of the
add-on tau^232_j make the true one

    v*_j = (c_j - d) / (1 + tau_j - (1 - theta) tau^232_j) = f_j v_j,   f_j = (1 + tau_j) / (1 + tau_j - (1 - theta) tau^232_j),

with tau_j and tau^232_j the data year's (days-weighted). A year whose makers have caught up by k
(``section_232_2025_catch_up_share``: 0 in 2025, 1 from 2026 by the policy timeline) prices on
v_j (1 + k (f_j - 1)): the year's tariffs fall on it (so tariff revenue counts it) and a later year
that removes the layer still holds it. 2025 scenarios keep 2025's customs values: a 2025 scenario
that removes the layer lowers costs by the whole duty on v_j, the long-run size of the layer's
effect RFF's estimates describe (the tariff back-test), though from a level (1 - theta) tau^232_j v_j
below the true no-tariff cost; a later year's lands on the true level.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from autopact.data.tariffs import US, tariff_stack
from autopact.errors import ScenarioError


def tariff_rates(table: pd.DataFrame, origin: pd.DataFrame, params: dict[str, float], rules: list,
                 stack: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Ad valorem tariff (fraction of customs value) and specific tariff (dollars) of each product:
    the US stack in force at ``params`` (where ``stack``) plus the extra ``rules``."""
    extra, specific = extra_tariff_rates(table, origin, rules)
    return (tariff_stack(table, origin, params) + extra if stack else extra), specific


PASS_THROUGH, CATCH_UP = "section_232_2025_pass_through_share", "section_232_2025_catch_up_share"


def _caught_up(table: pd.DataFrame, params: dict[str, float]) -> np.ndarray:
    """1 + k (f_j - 1) (module docstring) at ``params``' k and theta."""
    k = params[CATCH_UP]
    if k == 0.0:
        return np.ones(len(table))
    stack = table["tariff_rate_data_year"].to_numpy(float)
    absorbed = (1.0 - params[PASS_THROUGH]) * table["section_232_rate_data_year"].to_numpy(float)
    return 1.0 + k * ((1.0 + stack) / (1.0 + stack - absorbed) - 1.0)


def customs_catch_up(table: pd.DataFrame, params: dict[str, float], held: dict[str, float]) -> np.ndarray | None:
    """The factor on each incumbent's customs value of ``table`` (module docstring) from the market's
    parameters ``held`` to the scenario's ``params`` (both a calibrated market's whole set): a market carried to a later year holds its own
    catch-up in its customs values already. None where it is 1 throughout (no change of k or theta, or
    a market that keeps no data-year rates: an estimated one)."""
    if "section_232_rate_data_year" not in table:
        return None
    if all(params[n] == held[n] for n in (CATCH_UP, PASS_THROUGH)) or params[CATCH_UP] == held[CATCH_UP] == 0.0:
        return None
    return _caught_up(table, params) / _caught_up(table, held)


def extra_tariff_rates(table: pd.DataFrame, origin: pd.DataFrame, rules: list) -> tuple[np.ndarray, np.ndarray]:
    """Ad valorem rate (fraction of customs value) and specific tariff (dollars) of ``rules``
    (``scenario.TariffRule``): product j pays sum over the rules it matches (nationality,
    powertrain, segment) of a_j x rate, where a_j is the share of j's assembly in the rule's
    origins other than the US (all non-US origins when the rule names none): a tariff falls on
    imports only."""
    rate, specific = np.zeros(len(table)), np.zeros(len(table))
    for rule in rules:
        match = np.ones(len(table), bool)
        if rule.nationality:
            match &= table["nationality"].isin(rule.nationality).to_numpy()
        if rule.powertrain:
            match &= table["powertrain"].isin(rule.powertrain).to_numpy()
        if rule.segment:
            match &= table["segment"].isin(rule.segment).to_numpy()
        chosen = [c for c in origin.columns if c != US and (not rule.origin or c in rule.origin)]
        share = origin[chosen].sum(axis=1).to_numpy()
        rate += match * share * rule.ad_valorem_pct
        specific += match * share * rule.specific_usd
    return rate / 100.0, specific


def check_tariff_names(rules: list, countries: set[str], nationalities: set[str],
                       money: dict | None = None) -> None:
    """Each tariff rule's origins and nationalities must be ones the market has (names the rule); a
    specific tariff in dollars needs a market whose money converts to dollars."""
    for k, rule in enumerate(rules):
        for c in rule.origin or []:
            if c not in countries:
                raise ScenarioError(f"extra_tariffs[{k}].origin: unknown country {c!r}; known: {', '.join(sorted(countries))}")
        for n in rule.nationality or []:
            if n not in nationalities:
                raise ScenarioError(f"extra_tariffs[{k}].nationality: unknown nationality {n!r}; "
                                    f"known: {', '.join(sorted(nationalities))}")
        if rule.specific_usd and money is not None and not money.get("dollars_per_unit"):
            raise ScenarioError(f"extra_tariffs[{k}].specific_usd: the market's money unit ({money.get('unit')}) "
                                "has no dollars_per_unit to convert dollars with")
