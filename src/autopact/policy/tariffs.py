"""Tariffs of a scenario: the US stack in force (with the scenario's rates) plus extra tariff rules.

A tariff is levied on the customs value v_j of an imported vehicle; for a vertically integrated
importer that is the vehicle's cost before tariff, so it raises marginal cost:
c_j = v_j (1 + tau_j) + T_j, where tau_j averages the rates of the countries that assemble j
(``autopact.data.tariffs.origin_weights``) and T_j is a specific tariff per vehicle.

The 2025 duty's catch-up. Makers absorbed most of the 2025 Section 232 duty in 2025: Kelley Blue
Book's average transaction price rose 0.8% from December 2024 to December 2025, against +5.6% from
the layer at full pass-through, and Cox expected the rises in 2026 (``policy_parameters.csv``,
``section_232_2025_pass_through_share`` theta). The 2025 market's costs are backed out of 2025's
prices, so they hold theta of that duty; a later year's costs add the rest back,

    c_j += k (1 - theta) tau^232_2025,j v_j,

with k = ``section_232_2025_catch_up_share`` (0 in 2025, 1 from 2026 by the policy timeline) and
tau^232_2025,j the 2025 (days-weighted) Section 232 add-on of j's origins. It is a cost before
tariffs, not a duty: prices that carried theta of the duty make the customs value backed out of
them, v_j = (c_j - d) / (1 + tau_j), low by about (1 - theta) tau^232_2025,j v_j (the true one is
v_j (1 + tau_j) / (1 + theta tau^232_2025,j)), so a later year that removes the layer still holds it,
and no tariff revenue is counted on it. 2025 scenarios keep 2025's costs: a 2025 scenario that
removes the layer lowers costs by the whole duty (the long-run effect RFF's estimates describe, as
the tariff back-test compares).
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


def section_232_catch_up(table: pd.DataFrame, params: dict[str, float]) -> np.ndarray | None:
    """k (1 - theta) tau^232_2025,j v_j for each product of ``table`` (module docstring): k and theta
    from ``params`` (the scenario's), tau^232_2025,j v_j the data year's duty its calibration kept
    (``section_232_duty``; ``autopact.fit.market.calibrated_model``). None where nothing is added
    (k = 0, theta = 1, or a market that keeps no duty)."""
    share = params.get(CATCH_UP, 0.0) * (1.0 - params.get(PASS_THROUGH, 1.0))
    if share == 0.0 or "section_232_duty" not in table:
        return None
    return share * table["section_232_duty"].to_numpy(float)


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
