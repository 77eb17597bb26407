"""The 2025 US tariff stack on one origin, computed by hand from the parameter table the code reads
(``autopact.data.policy_parameters``): an independent oracle for ``autopact.data.tariffs``.

Layers by origin (economics reference sheet; tariffs_and_rules.md): MFN (cars and SUVs at the
passenger rate, pickups at the light-truck rate) plus Section 232 on autos; Mexico and Canada
(USMCA) pay no MFN and Section 232 on the non-US content share only; China adds Section 301
(EV or other vehicle) and IEEPA. Rates in percent of customs value.
"""

from autopact.data import policy_parameters


def parameters() -> dict[str, float]:
    return policy_parameters()["value"].astype(float).to_dict()


def stack_pct(origin: str, segment: str, powertrain: str, p: dict[str, float] | None = None) -> float:
    """Percent of customs value an all-``origin`` vehicle pays under the stack in force."""
    p = parameters() if p is None else p
    if origin == "United States":
        return 0.0
    if origin in ("Mexico", "Canada"):
        return p["section_232_autos_pct"] * p["usmca_non_us_content_share"]
    mfn = p["mfn_light_truck_pct"] if segment == "pickup" else p["mfn_passenger_pct"]
    rate = mfn + p["section_232_autos_pct"]
    if origin == "China":
        rate += p["section_301_china_ev_pct"] if powertrain in ("BEV", "PHEV") else p["section_301_china_vehicle_pct"]
        rate += p["ieepa_china_pct"]
    return rate


def tariff_parameter_names() -> list[str]:
    """Every ad valorem tariff rate of the table (whatever its origin or layer)."""
    table = policy_parameters()
    return list(table.index[table["unit"].eq("% ad valorem")])
