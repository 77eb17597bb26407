"""The bundled policy timeline: the US law on cars as it stands from 2025 through what is known of
2026, one dated row a change, each with its source (``policy_timeline.csv``).

A row is a ``parameter`` (a policy parameter's value from ``effective`` to ``end``, both inclusive;
blank: always was / no end), the ``ev_credit`` (the 2025 federal EV credit and its end), the
``connected_vehicle_rule`` (in force from its date) or a ``note``: a change that is no lever here
(not a US lever, not law, or not modelled), kept so that the record of the law is complete and says
why it changes nothing. ``autopact.policy.dated`` evaluates scenarios on it; ``autopact data
timeline`` prints it and checks the tariff stack it gives against the published table.

Dates and years. A lever that is a rate counts in a year by the share of the year's days it is in
force (``dated_weighting`` "days", the convention of the Section 232 rates: ``section_232_rate_year``)
or, with "mid_year", fully when in force on 1 July. Whole levers (an entrant, a ban) are in force in
a year when in force on 1 July. Before the data year's calibration nothing is evaluated: the data
year (2025) is the calibration's own stack (policy_parameters.csv), and the timeline's 2025 value is
printed beside it by the check, not used.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

import numpy as np
import pandas as pd

from autopact.data.tables import policy_parameters, read_bundled

DATA_YEAR = 2025  # the calibrated market's year: the timeline is evaluated for later years only
LEVERS = ("parameter", "ev_credit", "connected_vehicle_rule", "note")
WEIGHTINGS = ("days", "mid_year")


class TimelineError(ValueError):
    """A row of the bundled policy timeline is malformed (names the row and the field)."""


def _day(value: object, row: str, field: str) -> date | None:
    if value is None or (isinstance(value, float) and np.isnan(value)) or str(value).strip() == "":
        return None
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise TimelineError(f"policy_timeline.csv row {row}: {field} {value!r} is not a date (YYYY-MM-DD)") from None


@lru_cache(maxsize=1)
def policy_timeline() -> tuple[dict, ...]:
    """The rows of ``policy_timeline.csv``, checked: known lever, parameter names of
    policy_parameters.csv, dates in order, a source with a URL on every row."""
    table = read_bundled("policy_timeline.csv")
    known = set(policy_parameters().index)
    rows, seen = [], set()
    for record in table.to_dict(orient="records"):
        row = str(record["id"])
        if row in seen:
            raise TimelineError(f"policy_timeline.csv: id {row!r} appears twice")
        seen.add(row)
        if record["lever"] not in LEVERS:
            raise TimelineError(f"policy_timeline.csv row {row}: lever {record['lever']!r} is not one of {LEVERS}")
        if "http" not in str(record["source"]):
            raise TimelineError(f"policy_timeline.csv row {row}: source {record['source']!r} has no URL")
        if record["lever"] == "parameter" and record["target"] not in known:
            raise TimelineError(f"policy_timeline.csv row {row}: target {record['target']!r} is no policy parameter")
        effective, end = _day(record["effective"], row, "effective"), _day(record["end"], row, "end")
        if effective and end and end < effective:
            raise TimelineError(f"policy_timeline.csv row {row}: end {end} is before effective {effective}")
        rows.append({**record, "effective": effective, "end": end})
    return tuple(rows)


def in_force_on(effective: date | None, end: date | None, day: date) -> bool:
    """Whether a span (first and last day, inclusive; None: open) covers ``day``."""
    return (effective is None or effective <= day) and (end is None or day <= end)


def year_days(year: int) -> list[date]:
    start = date(year, 1, 1)
    return [start + timedelta(days=k) for k in range((date(year + 1, 1, 1) - start).days)]


def year_weight(effective: date | None, end: date | None, year: int, weighting: str = "days") -> float:
    """How much of ``year`` a span counts for: the share of its days in force ("days") or 1 if in
    force on 1 July, else 0 ("mid_year")."""
    if weighting not in WEIGHTINGS:
        raise ValueError(f"dated_weighting must be one of {WEIGHTINGS}, got {weighting!r}")
    if weighting == "mid_year":
        return float(in_force_on(effective, end, date(year, 7, 1)))
    days = year_days(year)
    return sum(in_force_on(effective, end, d) for d in days) / len(days)


def value_on(spans: list[tuple[date | None, date | None, float]], base: float, day: date) -> float:
    """The value in force on ``day``: the span in force that started last (ties: the later listed),
    else ``base``."""
    live = [(k, s) for k, s in enumerate(spans) if in_force_on(s[0], s[1], day)]
    if not live:
        return base
    return max(live, key=lambda ks: (ks[1][0] or date.min, ks[0]))[1][2]


def value_for_year(spans: list[tuple[date | None, date | None, float]], base: float, year: int,
                   weighting: str = "days") -> float:
    """A dated value over ``year``: the days-weighted average of the value in force each day
    ("days"), or the value on 1 July ("mid_year"); ``base`` on days no span covers."""
    if weighting == "mid_year":
        return value_on(spans, base, date(year, 7, 1))
    if not spans:
        return base
    return float(np.mean([value_on(spans, base, d) for d in year_days(year)]))


def parameter_spans(name: str) -> list[tuple[date | None, date | None, float]]:
    """The timeline's dated values of a policy parameter, in the file's order."""
    return [(r["effective"], r["end"], float(r["value"])) for r in policy_timeline()
            if r["lever"] == "parameter" and r["target"] == name]


def timeline_parameters(year: int, weighting: str = "days") -> dict[str, float]:
    """The policy parameters the timeline sets for ``year`` (after the data year): each of its
    parameters over the year (policy_parameters.csv's value on days no row covers: a GAP) and
    ``section_232_rate_year`` = the year (the Section 232 rows are dated in section_232_rates.csv)."""
    if year <= DATA_YEAR:
        raise ValueError(f"the timeline is evaluated after the data year {DATA_YEAR}, got {year}")
    base = policy_parameters()["value"].astype(float)
    names = sorted({r["target"] for r in policy_timeline() if r["lever"] == "parameter"})
    values = {n: value_for_year(parameter_spans(n), float(base[n]), year, weighting) for n in names}
    return {**values, "section_232_rate_year": float(year)}


def lever_rows(lever: str) -> list[dict]:
    return [r for r in policy_timeline() if r["lever"] == lever]


def timeline_table() -> pd.DataFrame:
    """The timeline as a table (dates as text), for printing and the JSON."""
    rows = [{**r, "effective": r["effective"].isoformat() if r["effective"] else "",
             "end": r["end"].isoformat() if r["end"] else ""} for r in policy_timeline()]
    return pd.DataFrame(rows)
