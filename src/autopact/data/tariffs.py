"""Where products are assembled, and the US tariff stack in force on them.

A tariff is levied on the customs value of an imported vehicle (economics reference sheet).
Origin rates: MFN (2.5% cars, 25% pickups) + Section 232 (25%, on non-US content for Mexico and
Canada) + for China Section 301 (100% EVs, 25% others) + IEEPA; US assembly pays none here (parts
tariffs are not modelled). The rates are the named policy parameters of ``policy_parameters.csv``,
each with its source; a scenario may override them (``autopact.policy``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

US = "United States"
USMCA = ("Mexico", "Canada")
NOT_STATED = "not stated"  # assembly country of products whose origin the data do not give


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


def tariff_stack(table: pd.DataFrame, origin: pd.DataFrame, params: dict[str, float]) -> np.ndarray:
    """Ad valorem rate (fraction of customs value) of each product under the US stack in force:
    tau_j = sum_o a_jo tau_o over assembly shares a_jo, with tau_o the layers above by origin o."""
    rate = np.zeros(len(table))
    ev = table["powertrain"].isin(["BEV", "PHEV"]).to_numpy()
    pickup = table["segment"].eq("pickup").to_numpy()
    mfn = np.where(pickup, params["mfn_light_truck_pct"], params["mfn_passenger_pct"])
    for country in origin.columns:
        if country == US:
            continue
        # USMCA-qualifying vehicles from Mexico and Canada enter free of MFN duty and pay Section 232
        # on their non-US content only
        layer = (0.0 if country in USMCA else mfn) + params["section_232_autos_pct"] * (
            params["usmca_non_us_content_share"] if country in USMCA else 1.0)
        if country == "China":
            layer = layer + np.where(ev, params["section_301_china_ev_pct"], params["section_301_china_vehicle_pct"])
            layer = layer + params["ieepa_china_pct"]
        rate += origin[country].to_numpy() * layer
    return rate / 100.0
