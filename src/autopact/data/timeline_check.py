"""The tariff stack of the bundled policy timeline on a day, origin by origin, against the published
per-origin table (``tariff_parameters.csv`` for MFN, Section 301 and IEEPA; ``section_232_rates.csv``
for Section 232 by origin, through ``autopact.data.tariffs.published_rate``).

The model side is what autopact charges a vehicle entering that day: MFN + the Section 232 add-on
in force that day (``section_232_segments``) + for China Section 301 and IEEPA at the timeline's
values that day (policy_parameters.csv's value where no timeline row covers the day: a GAP, flagged).
The published side adds the table's own rows in force that day (for China also its DERIVED totals
where one is dated). They differ where the published table is older than a change the timeline
records (the IEEPA layer struck down on 20 Feb 2026 and not collected from 24 Feb 2026) or where the
model's parameters differ from the table's rates; every difference is printed with that reason.
"""

from __future__ import annotations

from datetime import date

import pandas as pd

from autopact.data.tables import policy_parameters, read_bundled
from autopact.data.tariffs import published_rate, section_232_segments
from autopact.data.timeline import in_force_on, parameter_spans, value_on

# The published rows (tariff_parameters.csv ``name``) of the China layers, by layer.
PUBLISHED_CHINA = {
    "section_301_vehicle": "us-section-301-list-1-2018-passenger-vehicles-hts-8703-incl-8703-80-shown-china-2018-07-06",
    "section_301_ev": "us-section-301-2024-four-year-review-electric-vehicles-china-2024-09-27",
    "ieepa": ("us-ieepa-fentanyl-china-all-goods-china-2025-03-04", "us-ieepa-fentanyl-china-all-goods-china-2025-11-10"),
}
PUBLISHED_TOTALS = {"BEV": ("us-derived-total-china-built-bev-china-2025-04-03", "us-derived-total-china-built-bev-china-2025-11-10"),
                    "ICE": ("us-derived-total-china-built-ice-passenger-car-china-2025-11-10",)}
ORIGINS = (("China", "BEV", "car"), ("China", "ICE", "car"), ("China", "ICE", "pickup"), ("Germany", "ICE", "car"),
           ("Germany", "ICE", "pickup"), ("Japan", "ICE", "car"), ("South Korea", "ICE", "car"),
           ("United Kingdom", "ICE", "car"), ("Mexico", "ICE", "car"), ("Canada", "ICE", "car"),
           ("South Africa", "ICE", "car"))


def _span(row: pd.Series) -> tuple[date | None, date | None]:
    def day(value: object) -> date | None:
        text = "" if pd.isna(value) else str(value).strip()
        return date.fromisoformat(text) if len(text) == 10 else None
    return day(row["effective_from"]), day(row["effective_to"])


def _published(names: tuple[str, ...] | str, day: date) -> float | None:
    table = read_bundled("tariff_parameters.csv").set_index("name")
    for name in (names,) if isinstance(names, str) else names:
        effective, end = _span(table.loc[name])
        if in_force_on(effective, end, day) and effective is not None:
            return float(table.at[name, "value_numeric"])
    return None


def _timeline_value(name: str, base: dict[str, float], day: date) -> tuple[float, bool]:
    spans = parameter_spans(name)
    covered = any(in_force_on(a, b, day) for a, b, _ in spans)
    return value_on(spans, base[name], day), covered


def stack_on(day: date) -> pd.DataFrame:
    """Per origin, powertrain and vehicle class: the timeline's stack on ``day`` (percent of customs
    value), the published table's, their difference and what explains it."""
    params = policy_parameters()["value"].astype(float).to_dict()
    params["section_232_rate_year"] = float(day.year)
    stamp = pd.Timestamp(day)
    rows = []
    for country, powertrain, segment in ORIGINS:
        pickup = segment == "pickup"
        mfn_name = "mfn_light_truck_pct" if pickup else "mfn_passenger_pct"
        mfn, _ = _timeline_value(mfn_name, params, day)
        section_232 = next(add for a, b, add in section_232_segments(country, pickup, mfn, params) if a <= stamp < b)
        model = (0.0 if country in ("Mexico", "Canada") else mfn) + section_232
        published = published_rate(country, pickup, stamp, mfn, params["section_232_uk_in_quota_share"],
                                    params["usmca_non_us_content_share"])
        notes, total = [], None
        if country == "China":
            ev = powertrain in ("BEV", "PHEV")
            s301, _ = _timeline_value("section_301_china_ev_pct" if ev else "section_301_china_vehicle_pct", params, day)
            ieepa, covered = _timeline_value("ieepa_china_pct", params, day)
            if not covered:
                notes.append(f"GAP: no timeline row for IEEPA on {day} (policy_parameters.csv value {ieepa:g} used)")
            model += s301 + ieepa
            p301 = _published(PUBLISHED_CHINA["section_301_ev" if ev else "section_301_vehicle"], day) or 0.0
            pieepa = _published(PUBLISHED_CHINA["ieepa"], day) or 0.0
            published += p301 + pieepa
            if not pickup:
                total = _published(PUBLISHED_TOTALS[powertrain], day)
            if abs(ieepa - pieepa) > 1e-9:
                notes.append(f"IEEPA {ieepa:g} in the timeline vs {pieepa:g} in tariff_parameters.csv, which predates "
                             "the Supreme Court ruling of 20 Feb 2026 (collection stopped 24 Feb 2026)")
        difference = model - published
        if abs(difference) > 1e-9 and not notes:
            notes.append("the model's Section 232 parameters differ from the table's rates (see section_232_backtest)")
        rows.append({"date": day.isoformat(), "origin": country, "powertrain": powertrain, "vehicle": segment,
                     "timeline_pct": model, "published_pct": published, "difference_pct": difference,
                     "published_total_pct": total, "note": "; ".join(notes)})
    return pd.DataFrame(rows)
