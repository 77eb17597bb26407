"""Where products are assembled, and the US tariff stack in force on them.

A tariff is levied on the customs value of an imported vehicle (economics reference sheet).
Origin rates: MFN (2.5% cars, 25% pickups) + Section 232 by origin (below) + for China Section 301
(100% EVs, 25% others) + IEEPA; US assembly pays none here (parts tariffs are not modelled). The
rates are the named policy parameters of ``policy_parameters.csv``, each with its source; a scenario
may override them (``autopact.policy``).

Section 232 by origin (``section_232_rates.csv``, dated, from section 9 of tariffs_and_rules.md).
With B = ``section_232_autos_pct`` (25) and MFN the column 1 rate of the vehicle's class, the add-on
on a day d is 0 before 3 Apr 2025 and then, by the latest row in force for the origin:

- ``add_on`` (every origin without a row of its own): B;
- ``add_on_non_us_content`` (Mexico, Canada: USMCA-qualifying, no MFN): B x ``usmca_non_us_content_share``;
- ``all_in`` (EU from 1 Aug 2025, Japan from 16 Sep 2025 for cars and light trucks; South Korea from
  1 Nov 2025 for cars): min(B, max(0, A - MFN)), A the all-in rate (15): the deal rate including MFN,
  and no add-on where MFN is already A or more;
- ``in_quota_add_on`` (UK cars from 30 Jun 2025): q min(B, U) + (1 - q) B, U = 7.5 within the quota,
  q = ``section_232_uk_in_quota_share``.

A deal only lowers the Section 232 duty, so every deal rate is capped at B: B = 0 removes the whole
layer for every origin (``no-section-232``).

The rate of a year Y (``section_232_rate_year``) is the days-weighted average over the calendar
days of Y of the add-on in force on each day (named assumption: customs entries spread evenly over
the year; no monthly imports by origin are in the data). Y = 2025, the data year, is the baseline:
days before 3 Apr 2025 count at MFN only. Y = 2026 or later gives the rates in force after the deals.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from autopact.data.tables import read_bundled

US = "United States"
USMCA = ("Mexico", "Canada")
NOT_STATED = "not stated"  # assembly country of products whose origin the data do not give
GENERAL = "all"  # the Section 232 row that applies to every origin without one of its own
BASE_PARAMETER = "section_232_autos_pct"
RULES = ("add_on", "add_on_non_us_content", "all_in", "in_quota_add_on")


def origin_weights(countries: pd.Series, home: pd.Series, unknown_import_share: float = 0.0) -> pd.DataFrame:
    """Equal weights over the listed assembly countries. Where none is listed, the policy parameter
    ``unknown_assembly_import_share`` goes to the owner's home country and the rest to the US."""
    lists = [
        [(c.strip(), 1.0 / len(str(listed).split(";"))) for c in str(listed).split(";")]
        if isinstance(listed, str) and listed.strip()
        else [(str(h), unknown_import_share), (US, 1.0 - unknown_import_share)]
        for listed, h in zip(countries, home)]
    names = sorted({c for row in lists for c, _ in row})
    weights = np.zeros((len(lists), len(names)))
    for i, row in enumerate(lists):
        for c, w in row:
            weights[i, names.index(c)] += w
    return pd.DataFrame(weights, columns=names, index=countries.index)


@lru_cache(maxsize=1)
def section_232_table() -> pd.DataFrame:
    """The dated Section 232 rows by origin (``section_232_rates.csv``), dates parsed; to_date exclusive."""
    table = read_bundled("section_232_rates.csv")
    table["from_date"] = pd.to_datetime(table["effective_from"])
    table["to_date"] = pd.to_datetime(table["effective_to"]) + pd.Timedelta(days=1)  # NaT: open-ended
    bad = set(table["rule"]) - set(RULES)
    if bad:
        raise ValueError(f"section_232_rates.csv: unknown rule {sorted(bad)}")
    return table


@lru_cache(maxsize=None)
def section_232_origin(country: str) -> str:
    """The Section 232 origin of an assembly country: EU for a member state, USMCA for Mexico and
    Canada, the country for the other deal partners, else ``all`` (the general rule). Found once a
    process per country (the table does not change while it runs)."""
    table = section_232_table()
    for origin, members in zip(table["origin"], table["members"].fillna("")):
        if country in members.split(";"):
            return str(origin)
    return GENERAL


def rule_add_on(row: Mapping[str, Any], mfn: float, params: dict[str, float]) -> float:
    """Section 232 add-on (% of customs value) of one row of the dated table under ``params``."""
    base = params[BASE_PARAMETER]
    rate = params[row["parameter"]]
    if row["rule"] == "add_on":
        return rate
    if row["rule"] == "add_on_non_us_content":
        return rate * params["usmca_non_us_content_share"]
    if row["rule"] == "all_in":
        return min(base, max(0.0, rate - mfn))
    share = params["section_232_uk_in_quota_share"]
    return share * min(base, rate) + (1.0 - share) * base


def covers(row: Mapping[str, Any], pickup: bool) -> bool:
    return row["scope"] == "vehicles" or (row["scope"] == "cars" and not pickup)


def year_bounds(params: dict[str, float]) -> tuple[pd.Timestamp, pd.Timestamp]:
    year = params["section_232_rate_year"]
    if year != int(year):
        raise ValueError(f"parameter section_232_rate_year must be a whole year, got {year}")
    return pd.Timestamp(int(year), 1, 1), pd.Timestamp(int(year) + 1, 1, 1)


def section_232_segments(country: str, pickup: bool, mfn: float,
                         params: dict[str, float]) -> list[tuple[pd.Timestamp, pd.Timestamp, float]]:
    """The add-on in force on ``country``'s vehicles of one class over the year of
    ``section_232_rate_year``: (first day, day after the last, add-on %) pieces covering the year."""
    return _origin_segments(section_232_origin(country), pickup, mfn, params)


def _origin_segments(origin: str, pickup: bool, mfn: float,
                     params: dict[str, float]) -> list[tuple[pd.Timestamp, pd.Timestamp, float]]:
    """``section_232_segments`` of the countries of one Section 232 origin (it depends on the country
    only through its origin)."""
    start, end = year_bounds(params)
    rows = [r for r in _section_232_rows() if r["origin"] in (GENERAL, origin) and covers(r, pickup)]
    dates = [d for r in rows for d in (r["from_date"], r["to_date"]) if not pd.isna(d)]
    cuts = sorted({start, end} | {d for d in dates if start < d < end})
    pieces = []
    for a, b in zip(cuts[:-1], cuts[1:]):
        live = [r for r in rows if r["from_date"] <= a and (pd.isna(r["to_date"]) or r["to_date"] > a)]
        own = [r for r in live if r["origin"] != GENERAL]
        chosen = own or live  # the latest row in force: the origin's own, else the general rule
        add = 0.0 if not chosen else rule_add_on(sorted(chosen, key=lambda r: r["from_date"])[-1], mfn, params)
        pieces.append((a, b, add))
    return pieces


@lru_cache(maxsize=1)
def _section_232_rows() -> tuple[dict[str, Any], ...]:
    """The dated rows as plain records in the table's order: ``section_232_segments`` runs for each
    assembly country and class when a process first builds a tariff stack, and filtering a
    DataFrame row by row there took a few milliseconds a call."""
    return tuple(section_232_table().to_dict(orient="records"))


SECTION_232_PARAMETERS = ("section_232_rate_year", "usmca_non_us_content_share", "section_232_uk_in_quota_share")


def section_232_rate(country: str, pickup: bool, mfn: float, params: dict[str, float]) -> float:
    """Section 232 add-on (% of customs value) on ``country``'s cars (``pickup`` False) or light trucks
    for the year ``section_232_rate_year``: the days-weighted average of the add-on in force each day."""
    values = tuple((n, float(params[n])) for n in _section_232_parameters())
    return _section_232_rate(section_232_origin(country), bool(pickup), float(mfn), values)


@lru_cache(maxsize=1)
def _section_232_parameters() -> tuple[str, ...]:
    """The parameters the Section 232 layer reads (the dated table's and ``SECTION_232_PARAMETERS``)."""
    return tuple(sorted(set(section_232_table()["parameter"]) | set(SECTION_232_PARAMETERS)))


@lru_cache(maxsize=4096)
def _section_232_rate(origin: str, pickup: bool, mfn: float, values: tuple[tuple[str, float], ...]) -> float:
    """One origin's rate, computed once for all its countries (a scenario's draws reuse it too): the
    countries of the EU or USMCA share their origin's dated rows, so a tariff stack of the 2025
    market's 20-odd assembly countries solves a handful of origins' segments."""
    params = dict(values)
    start, end = year_bounds(params)
    return sum((b - a).days * add for a, b, add in _origin_segments(origin, pickup, mfn, params)) / (end - start).days


def tariff_stack(table: pd.DataFrame, origin: pd.DataFrame, params: dict[str, float]) -> np.ndarray:
    """Ad valorem rate (fraction of customs value) of each product under the US stack in force:
    tau_j = sum_o a_jo tau_o over assembly shares a_jo, with tau_o the layers above by origin o."""
    ev = table["powertrain"].isin(["BEV", "PHEV"]).to_numpy()
    pickup = table["segment"].eq("pickup").to_numpy()
    mfn = np.where(pickup, params["mfn_light_truck_pct"], params["mfn_passenger_pct"])

    def layer(country: str) -> np.ndarray:
        # USMCA-qualifying vehicles from Mexico and Canada enter free of MFN duty (their Section 232
        # add-on falls on non-US content only: rule add_on_non_us_content)
        rate = (0.0 if country in USMCA else mfn) + _section_232_of(country, pickup, params)
        if country == "China":
            rate = rate + np.where(ev, params["section_301_china_ev_pct"], params["section_301_china_vehicle_pct"])
            rate = rate + params["ieepa_china_pct"]
        return rate

    return _over_origins(origin, layer, len(table))


def _section_232_of(country: str, pickup: np.ndarray, params: dict[str, float]) -> np.ndarray:
    """The Section 232 add-on (%) on ``country``'s vehicles, each product by its class (``pickup``)."""
    return np.where(pickup, section_232_rate(country, True, params["mfn_light_truck_pct"], params),
                    section_232_rate(country, False, params["mfn_passenger_pct"], params))


def section_232_layer(table: pd.DataFrame, origin: pd.DataFrame, params: dict[str, float]) -> np.ndarray:
    """The Section 232 add-on alone (fraction of customs value) of each product for the year
    ``section_232_rate_year``: sum_o a_jo x add-on_o over its assembly shares, as in ``tariff_stack``
    (the calibrated market keeps the data year's duty for later years' catch-up: ``autopact.policy.tariffs``)."""
    pickup = table["segment"].eq("pickup").to_numpy()
    return _over_origins(origin, lambda country: _section_232_of(country, pickup, params), len(table))


def _over_origins(origin: pd.DataFrame, layer, count: int) -> np.ndarray:
    """sum_o a_jo layer_o / 100 over the assembly shares a_jo of the origins other than the US (a
    fraction of customs value, from a layer in percent)."""
    rate = np.zeros(count)
    for country in origin.columns:
        if country != US:
            rate += origin[country].to_numpy() * layer(country)
    return rate / 100.0


def published_rate(country: str, pickup: bool, day: pd.Timestamp, mfn: float, in_quota_share: float,
                   usmca_non_us_content_share: float) -> float:
    """MFN + Section 232 (%) on ``day`` read from the published table's own rates (``rate_pct``),
    row by row, without the policy parameters: the reference the back-test checks the model against."""
    table = section_232_table()
    origin = section_232_origin(country)
    usmca = origin == "USMCA"
    own_mfn = 0.0 if usmca else mfn
    live = [r for _, r in table.iterrows() if r["from_date"] <= day and (pd.isna(r["to_date"]) or day < r["to_date"])
            and covers(r, pickup) and r["origin"] in (GENERAL, origin)]
    if not live:
        return own_mfn
    general = sum(r["rate_pct"] for r in live if r["origin"] == GENERAL)
    own = [r for r in live if r["origin"] != GENERAL]
    if not own:
        return own_mfn + general
    row = own[-1]
    if row["rule"] == "add_on_non_us_content":
        return row["rate_pct"] * usmca_non_us_content_share
    if row["rule"] == "all_in":
        return max(row["rate_pct"], mfn)
    return mfn + in_quota_share * row["rate_pct"] + (1 - in_quota_share) * general


BACKTEST_ORIGINS = (("EU", "Germany"), ("Japan", "Japan"), ("South Korea", "South Korea"),
                    ("United Kingdom", "United Kingdom"), ("USMCA", "Mexico"), ("USMCA", "Canada"),
                    ("general rule", "China"), ("general rule", "South Africa"))


def section_232_backtest(params: dict[str, float], countries=BACKTEST_ORIGINS) -> pd.DataFrame:
    """Per origin and class, the model's MFN + Section 232 rate for the year ``section_232_rate_year``
    (through ``tariff_stack``, Chinese Section 301 and IEEPA layers off) against the published dated
    table: its rate on each day of the year (``published_rate``, the table's own ``rate_pct``),
    averaged over the days, its lowest and highest daily rate (the bounds of the days-weighting
    assumption) and its rate on the last day of the year (in force). A pure function."""
    start, end = year_bounds(params)
    days = pd.date_range(start, end - pd.Timedelta(days=1))
    plain = {**params, "section_301_china_ev_pct": 0.0, "section_301_china_vehicle_pct": 0.0, "ieepa_china_pct": 0.0}
    rows = []
    for origin, country in countries:
        for vehicle, segment, mfn_name in (("car", "car", "mfn_passenger_pct"), ("light truck", "pickup", "mfn_light_truck_pct")):
            pickup = segment == "pickup"
            mfn = params[mfn_name]
            product = pd.DataFrame({"powertrain": ["ICE"], "segment": [segment]})
            model = 100.0 * float(tariff_stack(product, pd.DataFrame({country: [1.0]}), plain)[0])
            daily = [published_rate(country, pickup, d, mfn, params["section_232_uk_in_quota_share"],
                                    params["usmca_non_us_content_share"]) for d in days]
            rows.append({"origin": origin, "country": country, "vehicle": vehicle, "year": start.year,
                         "published_mean_pct": float(np.mean(daily)), "model_pct": model,
                         "difference_pct": model - float(np.mean(daily)),
                         "published_min_pct": min(daily), "published_max_pct": max(daily),
                         "published_in_force_pct": daily[-1]})
    return pd.DataFrame(rows)


def format_section_232_backtest(backtest: pd.DataFrame) -> str:
    """The back-test as a text table (for printing)."""
    return backtest.to_string(index=False, float_format=lambda x: f"{x:.4f}")
