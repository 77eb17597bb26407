"""A scenario evaluated at a year: the levers in force then, over the bundled policy timeline.

Every lever of a scenario may carry ``effective`` and ``end`` dates (absent: always). ``at_year``
turns a dated scenario into the plain one in force in a year, so the rest of autopact (one static
equilibrium a year) never sees a date:

- rates count by the share of the year's days they are in force (named assumption
  ``dated_weighting``, "days"; "mid_year": fully if in force on 1 July). This is the Section 232
  convention (``section_232_rate_year``: customs entries spread evenly over the year; no monthly
  imports by origin are in the data), so one year's stack follows one rule: extra tariffs (ad
  valorem and specific), credits (amounts), synergies (cost changes) and dated parameters (their
  days-weighted average, the undated value on uncovered days) are scaled or averaged so;
- a quota's yearly quantity is prorated by its days in force (an annual quota open for half a year
  lets in half its quantity);
- whole levers, which cannot be a share of a year (an entrant, a new product, a merger, the
  connected-vehicle rule, the local-production rule), are in force in a year when in force on
  1 July: the model year sold most in a calendar year is that year's (named assumption
  ``model_year_start``).
- an entrant's build path (``autopact.policy.dated_fields.BuildPath``): dated by ``effective`` or by
  a plant ``decision`` plus a lead time (named assumption ``plant_lead_time_months``), its first
  year on sale on 1 July is year 1; its year on sale sets its launch term's band, and its
  ``capacity_ramp`` share of that year its plant capacity. A dated new product's year on sale too.

After the data year the exogenous paths of the year apply too (``autopact.data.paths``, at the
scenario's ``paths`` quantiles, else central): the battery pack price scales the entrants' pack
price parameters (unless the scenario sets them) and its change from 2025 moves every incumbent
BEV's marginal cost by its battery kWh (``battery_pack_price_change_usd_per_kwh``); market size,
incomes and fuel and electricity prices enter as their ratios to 2025 among the year's parameters
(``autopact.policy.exogenous``: the potential market, each household's income, and a consumer-price
wedge for the change in lifetime operating cost).

After the data year (2025) the bundled policy timeline (``autopact.data.timeline``) is the law
the scenario overlays: its parameters for the year (the scenario's own ``parameters`` and
``dated_parameters`` win), the EV credit's end (``autopact.policy.credits.credit_change``, from the
level the calibrated market holds) and the connected-vehicle rule (in force where the scenario's or
the law's is: its flags, whether joint ventures and incumbents are covered, apply to the law's rule too;
``repealed`` lifts the law's rule while the scenario's rule is in force). The data year is the calibration's own stack: evaluated there, an undated scenario is
returned unchanged, so results without dates are exactly what they were.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache
from typing import Any

from autopact.data.paths import path_value
from autopact.data.tables import policy_parameters, read_bundled
from autopact.data.timeline import (
    DATA_YEAR,
    lever_rows,
    timeline_parameters,
    value_for_year,
    year_weight,
)
from autopact.policy.credits import credit_change
from autopact.policy.exogenous import exogenous_parameters
from autopact.policy.dated_fields import Dated
from autopact.policy.scenario import Entrant, Scenario

BATTERY = "battery_pack_usd_per_kwh"
WHOLE_LEVERS = ("entrants", "new_products", "mergers")
DAYS_PER_MONTH = 365.25 / 12
RATE_LEVERS = ("extra_tariffs", "credits", "synergies")


def is_dated(scenario: Scenario) -> bool:
    """Whether any lever of the scenario carries a date, or it names a policy or baseline year."""
    if scenario.dated_parameters or scenario.policy_year is not None or scenario.baseline_year is not None:
        return True
    if scenario.paths:
        return True
    items = [*scenario.extra_tariffs, *scenario.quotas, *scenario.credits, *scenario.synergies, *scenario.mergers,
             *scenario.entrants, *scenario.new_products, scenario.connected_vehicle_rule, scenario.local_production]
    return any(item.effective is not None or item.end is not None or getattr(item, "decision", None) is not None
               for item in items)


def evaluation_year(scenario: Scenario) -> int:
    """The year a scenario is evaluated at: its policy year, else its baseline year, else its data year."""
    for year in (scenario.policy_year, scenario.baseline_year):
        if year is not None:
            return year
    return scenario.year


def evaluated(scenario: Scenario, weighting: str = "days") -> Scenario:
    """The scenario in force at its evaluation year (``at_year``); an undated one unchanged."""
    return at_year(scenario, evaluation_year(scenario), weighting) if is_dated(scenario) else scenario


def _plain(item: Dated, **changes: Any) -> Any:
    return item.model_copy(update={"effective": None, "end": None, **changes})


def _on_1_july(item: Dated, year: int) -> bool:
    return year_weight(item.effective, item.end, year, "mid_year") == 1.0


@lru_cache(maxsize=64)
def _timeline(year: int, weighting: str) -> tuple[tuple[str, float], ...]:
    return tuple(sorted(timeline_parameters(year, weighting).items()))


@lru_cache(maxsize=1)
def _data_year_products() -> frozenset[str]:
    return frozenset(read_bundled(f"products_{DATA_YEAR}.csv")["product_id"])


def timeline_credits(year: int, weighting: str = "days") -> list[dict]:
    """The EV credit of the timeline moved from the calibrated 2025 level to ``year``'s."""
    share = sum(year_weight(r["effective"], r["end"], year, weighting) for r in lever_rows("ev_credit"))
    return credit_change(_data_year_products(), min(share, 1.0))


def timeline_connected_vehicle_rule(year: int) -> bool:
    """Whether the timeline's connected-vehicle rule is in force in ``year`` (on 1 July)."""
    return any(year_weight(r["effective"], r["end"], year, "mid_year") == 1.0 and float(r["value"]) == 1.0
               for r in lever_rows("connected_vehicle_rule"))


def _parameter(parameters: dict[str, float], name: str) -> float:
    return float(parameters[name]) if name in parameters else float(policy_parameters().at[name, "value"])


@lru_cache(maxsize=1)
def plant_lead_time_months() -> float:
    """The named assumption ``plant_lead_time_months`` (30: Geely's 26-34 months)."""
    from autopact.data.assumptions import projection_assumptions

    return float(next(a.value for a in projection_assumptions() if a.name == "plant_lead_time_months"))


def launch_date(entrant: Entrant, lead_time_months: float) -> date | None:
    """The first day an entrant is on sale: ``effective``, or its plant ``decision`` plus the lead time
    (the entrant's own ``lead_time_months``, else ``lead_time_months``; whole months, then the fraction
    as days of an average month, 365.25 / 12 days); None where undated (always on sale)."""
    if entrant.decision is None:
        return entrant.effective
    months = entrant.lead_time_months if entrant.lead_time_months is not None else lead_time_months
    whole = int(months)
    first = entrant.decision.month - 1 + whole
    day = date(entrant.decision.year + first // 12, first % 12 + 1, 1)
    day += timedelta(days=entrant.decision.day - 1 + round((months - whole) * DAYS_PER_MONTH))
    return day


def _year_on_sale(start: date | None, year: int) -> int | None:
    """``year``'s year on sale of a lever first sold on ``start``: its first year in force on 1 July is year 1."""
    if start is None:
        return None
    return year - (start.year if start <= date(start.year, 7, 1) else start.year + 1) + 1


def on_sale(entrant: Entrant, year: int, parameters: dict[str, float]) -> Entrant | None:
    """The entrant as sold in ``year`` (None when not on sale on 1 July): undated, as it is; dated, with
    its year on sale counted from its first year on sale on 1 July (year 1), which sets its launch term,
    and its plant capacity times its ``capacity_ramp`` share of that year (the last share held).
    ``parameters``: the scenario's in force (``entrant_plant_capacity``, else policy_parameters.csv)."""
    start = launch_date(entrant, plant_lead_time_months())
    if start is None and entrant.end is None:
        return entrant
    if year_weight(start, entrant.end, year, "mid_year") != 1.0:
        return None
    changes: dict[str, Any] = {"decision": None, "lead_time_months": None, "capacity_ramp": None}
    if start is not None:
        changes["years_on_sale"] = _year_on_sale(start, year)
        if entrant.capacity_ramp:
            ramp = entrant.capacity_ramp[min(changes["years_on_sale"] - 1, len(entrant.capacity_ramp) - 1)]
            full = entrant.capacity if entrant.capacity is not None else _parameter(parameters,
                                                                                     "entrant_plant_capacity")
            changes["capacity"] = full * ramp
    return _plain(entrant, **changes)


def _quota_path(quotas: list) -> list:
    """Rows of one quota (same name, origin, powertrains and in-quota rate) in force in the same year
    are one quota: a path given as dated rows (Canada's 49,000 from 1 Mar 2026, then 6.5% more each
    quota year) has in a calendar year the sum of its rows' prorated quantities. A sub-quota (price
    condition) is a quota of its own."""
    merged: dict[tuple, Any] = {}
    for q in quotas:
        key = (q.name, q.origin, tuple(q.powertrain or ()), q.in_quota_pct, q.price_cap_usd, q.price_above_usd)
        merged[key] = merged[key].model_copy(update={"quantity": merged[key].quantity + q.quantity}) if key in merged else q
    return list(merged.values())


def at_year(scenario: Scenario, year: int, weighting: str = "days") -> Scenario:
    """The plain (undated) scenario in force in ``year``, over the bundled timeline after the data
    year (see the module docstring); its ``policy_year`` and ``baseline_year`` are cleared, so
    evaluating it again changes nothing."""
    changes: dict[str, Any] = {"policy_year": None, "baseline_year": None, "dated_parameters": [], "paths": {}}
    law = year > DATA_YEAR and scenario.estimation is None
    parameters = dict(_timeline(year, weighting)) if law else {}
    parameters.update(scenario.parameters)
    names = {p.name for p in scenario.dated_parameters}
    for name in sorted(names):
        spans = [(p.effective, p.end, p.value) for p in scenario.dated_parameters if p.name == name
                 if year_weight(p.effective, p.end, year, weighting) > 0]
        if not spans:  # not in force this year: the parameter stays as it was
            continue
        base = parameters.get(name)
        if base is None:
            base = float(policy_parameters().at[name, "value"])
        parameters[name] = value_for_year(spans, base, year, weighting)
    if law:  # the exogenous paths of the year: battery pack prices move entrants' and incumbents' BEV costs
        average = path_value(BATTERY, year, scenario.paths.get(BATTERY))
        ratio = average / path_value(BATTERY, DATA_YEAR)
        base = policy_parameters()["value"].astype(float)
        for name in ("battery_pack_lfp_usd_per_kwh", "battery_pack_nmc_usd_per_kwh"):
            if name not in scenario.parameters:
                parameters[name] = float(base[name]) * ratio
        changes["battery_pack_price_change_usd_per_kwh"] = (scenario.battery_pack_price_change_usd_per_kwh
                                                            + average - path_value(BATTERY, DATA_YEAR))
        parameters.update(exogenous_parameters(year, scenario.paths))  # market size, incomes, energy prices
    changes["parameters"] = parameters
    weight = {id(item): year_weight(item.effective, item.end, year, weighting)
              for name in (*RATE_LEVERS, "quotas") for item in getattr(scenario, name)}
    changes["extra_tariffs"] = [_plain(r, ad_valorem_pct=r.ad_valorem_pct * weight[id(r)],
                                       specific_usd=r.specific_usd * weight[id(r)]) if r.effective or r.end else r
                                for r in scenario.extra_tariffs if weight[id(r)] > 0]
    credits = [_plain(c, amount_usd=c.amount_usd * weight[id(c)]) if c.effective or c.end else c
               for c in scenario.credits if weight[id(c)] > 0]
    if law:
        from autopact.policy.scenario import Credit

        credits += [Credit.model_validate(c) for c in timeline_credits(year, weighting)]
    changes["credits"] = credits
    changes["synergies"] = [_plain(s, change_pct=s.change_pct * weight[id(s)]) if s.effective or s.end else s
                            for s in scenario.synergies if weight[id(s)] > 0]
    changes["quotas"] = _quota_path([_plain(q, quantity=q.quantity * weight[id(q)]) if q.effective or q.end else q
                                     for q in scenario.quotas if weight[id(q)] > 0])
    changes["mergers"] = [_plain(m) if m.effective or m.end else m for m in scenario.mergers if _on_1_july(m, year)]
    changes["new_products"] = [_plain(p, years_on_sale=_year_on_sale(p.effective, year)) if p.effective or p.end
                               else p for p in scenario.new_products if _on_1_july(p, year)]
    changes["entrants"] = [e for e in (on_sale(e, year, parameters) for e in scenario.entrants) if e is not None]
    rule = scenario.connected_vehicle_rule
    # in force where the scenario's rule is (enabled, on 1 July) or the law's is; the scenario's flags
    # (joint ventures, incumbents) apply either way. A scenario cannot repeal the law's rule.
    live = _on_1_july(rule, year)
    lawful = law and timeline_connected_vehicle_rule(year) and not (rule.repealed and live)
    changes["connected_vehicle_rule"] = _plain(rule, enabled=(rule.enabled and live) or lawful, repealed=False)
    local = scenario.local_production
    changes["local_production"] = _plain(local, required=local.required and _on_1_july(local, year))
    return scenario.model_copy(update=changes)


def in_force_summary(scenario: Scenario, year: int) -> dict[str, Any]:
    """What a dated scenario has in force in ``year`` (for the JSON): the year, whether the
    timeline applies and the parameters it sets."""
    plain = at_year(scenario, year)
    return {"year": year, "timeline": year > DATA_YEAR and scenario.estimation is None,
            "parameters": plain.parameters, "connected_vehicle_rule": plain.connected_vehicle_rule.enabled,
            "credits": [c.name for c in plain.credits], "entrants": [e.candidate for e in plain.entrants],
            "on": date(year, 7, 1).isoformat()}
