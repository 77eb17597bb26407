"""A carried baseline's change in units against the data year, channel by channel.

The 2026 baseline (``baseline-2026``) is the 2025 calibration carried by the policy timeline and the
exogenous paths (``autopact.policy.dated.at_year``). Its change in new-vehicle units against 2025 is
the sum of several changes at once; ``year_decomposition`` switches each on alone, on the 2025
market, and solves it against the 2025 equilibrium:

    contribution_k = Q(2025 market with change k alone) / Q(2025) - 1

The channels are those ``at_year`` makes: the market size (households), real incomes, the gasoline
and electricity prices (the operating-cost wedge), the battery pack price (incumbent BEVs' cost by
their kWh, and entrants' pack prices), the EV credit's end (the share of the $7,500 credit the 2025
market holds), the connected-vehicle rule where in force, and each policy parameter the timeline sets
to another value than the calibration's (Section 232 at the year's rates by origin, IEEPA on China,
...). ``interaction`` is the total change less the sum of the channels: what the channels do together
beyond adding up (small where each is small).

A channel of the market size alone is exact by hand: shares do not depend on M, so units move by the
households' ratio, H_Y / H_2025 - 1 (``autopact.policy.exogenous``).
"""

from __future__ import annotations

from typing import Any

from autopact.data.paths import DATA_YEAR, path_value
from autopact.data.tariffs import section_232_table
from autopact.fit.market import MarketModel
from autopact.policy.dated import at_year
from autopact.policy.exogenous import ELECTRICITY, EXOGENOUS, GASOLINE, INCOME, SIZE
from autopact.policy.scenario import Scenario
from autopact.policy.tariffs import CATCH_UP, PASS_THROUGH
from autopact.simulate import simulate, solved_baseline

INDEX_LABELS = {SIZE: "households", INCOME: "real incomes", GASOLINE: "gasoline price", ELECTRICITY: "electricity price"}
PARAMETER_LABELS = {"section_232_rate_year": "Section 232 at the year's rates", "ieepa_china_pct": "IEEPA on China",
                    CATCH_UP: "2025's absorbed Section 232 duty passed on"}
PARAMETER_WHAT = {"section_232_rate_year": "each origin's rate days-weighted over {old:g} ({general}, the deals from "
                                           "their dates) -> over {new:g} (section_232_rates.csv)",
                  CATCH_UP: "share {old:g} -> {new:g} of the 2025 duty that 2025's prices did not carry (policy parameter "
                            f"{PASS_THROUGH})"}
BATTERY_PARAMETERS = ("battery_pack_lfp_usd_per_kwh", "battery_pack_nmc_usd_per_kwh")
EXOGENOUS_UNITS = {SIZE: ("{:.2f} million households", 1.0), INCOME: ("index {:.3f}", 1.0),
                   GASOLINE: ("${:.2f} a gallon", 1.0), ELECTRICITY: ("{:.2f} cents a kWh", 100.0)}


def general_section_232() -> str:
    """The general Section 232 rule as the rate table dates it ("25% from 3 Apr 2025")."""
    first = section_232_table().query("origin == 'all'").sort_values("from_date").iloc[0]
    day = first["from_date"]
    return f"{first['rate_pct']:g}% from {day.day} {day.strftime('%b %Y')}"


def _alone(name: str, **changes: Any) -> Scenario:
    """An undated scenario with one change (``model_copy``: the exogenous indices are not scenario
    parameters a user may set, but ``at_year`` puts them among a year's parameters the same way)."""
    return Scenario(name=name).model_copy(update=changes)


def channels(market: MarketModel, plain: Scenario) -> list[tuple[str, str, Scenario]]:
    """(channel, what changes, the undated scenario with that change alone) for each change that
    ``plain`` (the year's scenario ``at_year`` gives) makes to ``market`` (the data year's)."""
    held = market.parameters
    out: list[tuple[str, str, Scenario]] = []
    for name, label in INDEX_LABELS.items():
        value = plain.parameters.get(name, 1.0)
        if value != held.get(name, 1.0):
            fmt, scale = EXOGENOUS_UNITS[name]
            level = scale * path_value(EXOGENOUS[name], DATA_YEAR)  # the path's data-year value, then x the index
            what = f"{fmt.format(level)} -> {fmt.format(level * value)}"
            out.append((label, what, _alone(name, parameters={name: value})))
    battery = plain.battery_pack_price_change_usd_per_kwh
    battery_parameters = {n: plain.parameters[n] for n in BATTERY_PARAMETERS
                          if n in plain.parameters and plain.parameters[n] != held.get(n)}
    if battery or battery_parameters:
        out.append(("battery pack price", f"{battery:+.1f} dollars a kWh on incumbent BEVs' cost (and entrants' packs)",
                    _alone("battery", battery_pack_price_change_usd_per_kwh=battery, parameters=battery_parameters)))
    if plain.credits:
        amounts = sorted({round(c.amount_usd) for c in plain.credits})
        change = ", ".join(f"{'-' if a < 0 else '+'}${abs(a):,}" for a in amounts)
        out.append(("EV credit's end", f"{change} a vehicle on listed BEVs' buyers and every BEV's lessees",
                    _alone("credits", credits=list(plain.credits))))
    skip = set(INDEX_LABELS) | set(BATTERY_PARAMETERS)
    for name, value in sorted(plain.parameters.items()):
        if name in skip or name not in held or float(held[name]) == float(value):
            continue
        what = PARAMETER_WHAT.get(name, f"{name} {{old:g}} -> {{new:g}}").format(
            old=float(held[name]), new=float(value), general=general_section_232())
        out.append((PARAMETER_LABELS.get(name, name), what,
                    _alone(name, parameters={name: value})))
    if plain.connected_vehicle_rule.enabled:
        out.append(("connected-vehicle rule", "Chinese-controlled makers' products barred",
                    _alone("rule", connected_vehicle_rule=plain.connected_vehicle_rule)))
    return out


def _units(market: MarketModel, scenario: Scenario) -> tuple[float, float, float]:
    """Total units, BEV share and the change in consumer surplus (dollars a year) of ``scenario``
    solved on ``market`` against its solved baseline."""
    base, cf = simulate(scenario, market, baseline=solved_baseline(market)).metrics()
    return (float(cf["total_units"]), float(cf["bev_share"]),
            float(cf["consumer_surplus_usd"] - base["consumer_surplus_usd"]))


def year_decomposition(market: MarketModel, year: int = 2026, total: Any = None) -> dict[str, Any]:
    """Each channel's contribution to the change in units from the data year to ``year`` (see the
    module docstring), largest first, and the interaction; ``total`` (the result of the year's law on
    ``market``, such as the bundled baseline-2026's, when already solved) spares solving it again."""
    base = solved_baseline(market)
    units_base = float(base.products["units"].sum())
    law = Scenario(name=f"baseline-{year}", policy_year=year)  # the year's law, as ``simulate.carried`` builds it
    if total is None:
        total = simulate(law, market)
    total_units = float(total.metrics()[1]["total_units"])
    rows = []
    for label, what, scenario in channels(market, at_year(law, year)):
        units, bev, surplus = _units(market, scenario)
        rows.append({"channel": label, "what": what, "units_change": units / units_base - 1,
                     "units": units - units_base, "bev_share": bev, "consumer_surplus_change_usd": surplus})
    rows.sort(key=lambda r: -abs(r["units_change"]))
    change = total_units / units_base - 1
    return {"year": year, "units_base": units_base, "total_change": change, "channels": rows,
            "interaction": change - sum(r["units_change"] for r in rows),
            "note": "each change switched on alone on the 2025 market, against its 2025 equilibrium; the "
                    "interaction is the total less the sum"}


def largest(decomposition: dict[str, Any], n: int = 4) -> str:
    """One line: the ``n`` largest contributions, e.g. 'gasoline price (operating-cost wedge) +1.5%, ...'."""
    shown = [f"{r['channel']} {r['units_change']:+.2%}" for r in decomposition["channels"][:n]]
    rest = decomposition["channels"][n:]
    tail = f"; {len(rest)} others within {max(abs(r['units_change']) for r in rest):.2%}" if rest else ""
    return ", ".join(shown) + tail + f"; interaction {decomposition['interaction']:+.2%}"
