"""The 2025 US tariff stack on one origin, computed by hand from the parameter table the code reads
(``autopact.data.policy_parameters``): an independent oracle for ``autopact.data.tariffs``.

Layers by origin (economics reference sheet; tariffs_and_rules.md): MFN (cars and SUVs at the
passenger rate, pickups at the light-truck rate) plus Section 232 on autos; Mexico and Canada
(USMCA) pay no MFN and Section 232 on the non-US content share only; China adds Section 301
(EV or other vehicle) and IEEPA. Rates in percent of customs value.

Section 232 in 2025 (tariffs_and_rules.md section 9), days-weighted over the 365 days of 2025: none
before 3 Apr (92 days), the general rate from 3 Apr (273 days) except where a deal lowered it to an
all-in 15% (add-on 15 - MFN, at least 0) for cars and light trucks of the EU (from 1 Aug: 120 days
general, 153 deal) and Japan (16 Sep: 166 | 107), for cars of South Korea (1 Nov: 212 | 61), and to
7.5% for UK cars within the quota (30 Jun: 88 | 185; share of UK cars in the quota: a parameter).
"""

from autopact.data import policy_parameters


def parameters() -> dict[str, float]:
    return policy_parameters()["value"].astype(float).to_dict()


def stack_pct(origin: str, segment: str, powertrain: str, p: dict[str, float] | None = None,
              section_232_only: bool = False) -> float:
    """Percent of customs value an all-``origin`` vehicle pays under the stack in force (with
    ``section_232_only``, its Section 232 add-on alone)."""
    p = parameters() if p is None else p
    if origin == "United States":
        return 0.0
    general = p["section_232_autos_pct"]
    if origin in ("Mexico", "Canada"):
        return 273 * general * p["usmca_non_us_content_share"] / 365
    mfn = p["mfn_light_truck_pct"] if segment == "pickup" else p["mfn_passenger_pct"]
    car = segment != "pickup"
    deal = {"EU": (120, 153, max(0.0, min(general, p["section_232_eu_all_in_pct"] - mfn))),
            "Japan": (166, 107, max(0.0, min(general, p["section_232_japan_all_in_pct"] - mfn))),
            "South Korea": (212, 61, max(0.0, min(general, p["section_232_korea_all_in_pct"] - mfn))) if car else None,
            "United Kingdom": (88, 185, p["section_232_uk_in_quota_share"] * p["section_232_uk_in_quota_pct"]
                               + (1 - p["section_232_uk_in_quota_share"]) * general) if car else None}
    eu = {"Austria", "Belgium", "Germany", "Hungary", "Italy", "Netherlands", "Slovakia", "Sweden"}
    rule = deal.get("EU" if origin in eu else origin)
    section_232 = 273 * general / 365 if rule is None else (rule[0] * general + rule[1] * rule[2]) / 365
    if section_232_only:
        return section_232
    rate = mfn + section_232
    if origin == "China":
        rate += p["section_301_china_ev_pct"] if powertrain in ("BEV", "PHEV") else p["section_301_china_vehicle_pct"]
        rate += p["ieepa_china_pct"]
    return rate


def tariff_parameter_names() -> list[str]:
    """Every ad valorem tariff rate of the table (whatever its origin or layer; deals' all-in rates too)."""
    table = policy_parameters()
    return list(table.index[table["unit"].astype(str).str.startswith("% ad valorem")])
