"""Entry of Chinese candidate models: characteristics, mean utility and marginal cost.

Mean utility: xi_j = x_j' b + brand term + launch term, with b from a hedonic OLS of the calibrated
market's xi on characteristics (``autopact.policy.hedonic``; a BEV's range is its Chinese or
European test-cycle range converted to the EPA basis, ``range_miles_epa_equivalent``), the brand term the mean residual of
young US brands (a new brand with its own dealers), or the US partner's residual for the entrant's
powertrain when the partner's dealers sell the model (times the brand term's reliability,
``autopact.policy.hedonic.BRAND_RELIABILITY``), and the launch term what US launches of
2019-2025 of the same powertrain class (BEV or not) fell short of that prediction in the same band
of years after launch (``autopact.policy.launch``),
plus log(share of buyers who would consider a Chinese brand) (a consideration set: Goeree 2008;
the share from Cox Automotive's 2026 survey, policy parameter chinese_brand_consideration_share).
A US-built entrant's plant caps its output (shared by the models it builds). Marginal cost from named components (``entrant_cost``): home
price net of VAT and margin, US labour, batteries, shipping, tariffs, and what selling in the US costs per
vehicle (dealer gross, destination delivery, warranty, homologation), like incumbents' first-order-condition costs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from autopact.data import load_chinese_candidates
from autopact.data.tariffs import US, origin_weights
from autopact.errors import ScenarioError
from autopact.fit.market import MarketModel
from autopact.policy.hedonic import Hedonic
from autopact.policy.launch import appeal_term, launch_term
from autopact.policy.scenario import Entrant, Scenario
from autopact.policy.tariffs import tariff_rates

KW_TO_HP = 1.341
MM_PER_INCH = 25.4


def _candidate_characteristics(row: pd.Series, width_fit: tuple[float, float]) -> dict[str, Any]:
    text = str(row["powertrain"]).upper()
    powertrain = "BEV" if text.startswith("BEV") else "PHEV" if any(k in text for k in ("PHEV", "EREV", "DM")) \
        else "HEV" if "HEV" in text else "ICE"
    body = str(row["segment_body"]).lower()
    segment = "pickup" if "pickup" in body else "SUV-crossover" if "suv" in body else "car"
    length_in = float(row["length_mm"]) / MM_PER_INCH
    width_in = width_fit[0] + width_fit[1] * length_in
    kw = row["power_kw_first"]
    if pd.isna(row["length_mm"]) or pd.isna(kw):
        raise ScenarioError(f"candidate {row['candidate_id']!r} lacks length or power in chinese_models.csv; "
                            "choose a candidate with both")
    epa_range = pd.to_numeric(row.get("range_miles_epa_equivalent"), errors="coerce")
    return {"powertrain": powertrain, "segment": segment, "footprint_sqft": length_in * width_in / 144.0,
            "horsepower": float(kw) * KW_TO_HP, "length_in": length_in, "width_in": width_in,
            "range_miles": float(epa_range) if powertrain == "BEV" and pd.notna(epa_range) else float("nan")}


def candidate_name(brand: str, model: str) -> str:
    """A candidate's name, brand and model, without the word they share ("Geely Galaxy" and "Galaxy
    E5" make "Geely Galaxy E5", not "Geely Galaxy Galaxy E5")."""
    last = brand.split()[-1] if brand.split() else ""
    return f"{brand} {model[len(last):].lstrip()}" if last and model.split()[0] == last else f"{brand} {model}"


def entrant_cost(row: pd.Series, entrant: Entrant, params: dict[str, float], price_scale: float,
                 origin_rate: float) -> dict[str, float]:
    """Marginal cost of an entrant from named components (dollars per vehicle).

    home cost    = China price / (1 + VAT) x (1 - margin) / (CNY per USD) x price_scale (trim mix)
    import       : customs value = home cost; + tariffs on it; + shipping
    US assembly  : + assembly hours x hourly labour cost (home labour is not removed: conservative)
                   + battery: Chinese cells pay Section 301 (and IEEPA) on their value; US-made
                     packs cost the US premium and earn 45X credits per kWh
    both         : + US distribution: dealer gross, destination delivery, warranty; + homologation

    Like for like with incumbents, whose cost is backed out of their first-order condition at their
    transaction price and so holds everything per vehicle between factory and buyer: the US dealer's
    gross per new vehicle is added (``us_dealer_gross_usd_per_vehicle``); destination delivery is 0
    by default because prices exclude the destination charge the buyer pays on top; US warranty
    (its excess over the China warranty already in the home cost) is unsourced and 0; homologation
    is a cost per model, not per vehicle, and 0 (``policy_parameters.csv`` gives each source).
    """
    price = row["price_china_cny_first"]
    if pd.isna(price):
        raise ScenarioError(f"candidate {row['candidate_id']!r} has no Chinese price in chinese_models.csv, "
                            "so its cost cannot be built")
    home = (float(price) / (1 + params["china_vat_pct"] / 100) * (1 - params["home_margin_share"])
            / params["fx_cny_per_usd"] * price_scale)
    parts = {"home_cost": home, "homologation": params["homologation_usd_per_vehicle"],
             "us_dealer_gross": params["us_dealer_gross_usd_per_vehicle"],
             "us_destination": params["us_destination_usd_per_vehicle"],
             "us_warranty": params["us_warranty_usd_per_vehicle"]}
    kwh = 0.0 if pd.isna(row["battery_kwh_first"]) else float(row["battery_kwh_first"])
    lfp = "LFP" in str(row["chemistry"]).upper()
    pack = params["battery_pack_lfp_usd_per_kwh" if lfp else "battery_pack_nmc_usd_per_kwh"]
    if entrant.assembly == "import":
        parts["customs_value"] = home
        parts["tariff"] = home * origin_rate
        parts["shipping"] = params["shipping_usd_per_vehicle"]
    else:
        wage = params["labour_cost_union_usd_per_hour" if entrant.assembly == "partner_us_plant"
                      else "labour_cost_transplant_usd_per_hour"]
        parts["us_labour"] = params["assembly_hours_per_vehicle"] * wage
        if entrant.battery_origin == "china":
            cells = kwh * pack * params["battery_cell_share_of_pack"]
            parts["customs_value"] = cells
            parts["tariff"] = cells * (params["section_301_china_battery_pct"] + params["ieepa_china_pct"]) / 100
        else:
            parts["customs_value"] = 0.0
            parts["tariff"] = 0.0
            parts["us_battery_premium"] = kwh * pack * params["battery_us_pack_premium"]
            parts["credit_45x"] = -kwh * (params["credit_45x_cells_usd_per_kwh"] + params["credit_45x_modules_usd_per_kwh"])
    parts["total"] = sum(v for k, v in parts.items() if k != "customs_value")
    return parts


@dataclass
class Entry:
    """The entrants a scenario admits: their product rows, mean utilities, cost build-ups, profit
    shares and plant capacities, and the candidates it leaves out (with the reason)."""

    rows: list[dict[str, Any]]
    xi: list[float]
    costs: list[dict[str, float]]
    stakes: dict[str, dict[str, float]]
    capacities: list[tuple[str, tuple[str, ...], float]]  # (plant, product ids, vehicles a year)
    report: list[dict[str, Any]]
    excluded: list[str]


# The columns of a product row that its tariffs read (``policy.tariffs.tariff_rates``: the stack by
# powertrain and segment, extra rules by nationality, powertrain and segment; ``origin_weights``)
TARIFF_COLUMNS = ("nationality", "powertrain", "segment", "assembly_countries", "home_country")


def _market_terms(market: MarketModel
                  ) -> tuple[np.ndarray, dict[str, Any], dict[str, tuple[pd.Series, dict[str, Any]]]]:
    """(the width-on-length fit of the data's products, each owner's nationality: its first product's,
    the candidates met so far with their characteristics: ``_candidate``), once per market
    (``market.cache``, one entry: every draw of a run enters the same candidates on the same market)."""
    found = market.cache.get("entry_terms")
    if found is None or found[0] is not market.products:
        data = market.data.products
        width_fit = np.polyfit(data["length_in"].astype(float), data["width_in"].astype(float), 1)[::-1]
        nationality_of: dict[str, Any] = {}
        for owner, nationality in zip(market.products["owner"], market.products["nationality"]):
            nationality_of.setdefault(owner, nationality)
        found = market.cache["entry_terms"] = (market.products, width_fit, nationality_of, {})
    return found[1], found[2], found[3]


def entrants(scenario: Scenario, market: MarketModel, params: dict[str, float], hedonic: Hedonic) -> Entry:
    """Rows of the scenario's entrants on ``market`` (which must have the data market's products)."""
    entry = Entry([], [], [], {}, [], [], [])
    if not scenario.entrants:
        return entry
    if market.data is None:
        raise ScenarioError("entrants: needs the 2025 market data (Chinese candidates, characteristics, price "
                            "scale), which this market does not have")
    if not params["chinese_brand_consideration_share"] > 0:  # its log enters every entrant's mean utility
        raise ScenarioError("parameters.chinese_brand_consideration_share: must be above 0 where Chinese models "
                            f"enter (its log is in their mean utility), got {params['chinese_brand_consideration_share']}")
    candidates = load_chinese_candidates()
    width_fit, nationality_of, known = _market_terms(market)
    known_firms = set(nationality_of)
    plants: dict[str, tuple[list[str], float]] = {}
    admitted: list[tuple[Any, ...]] = []  # (entrant, candidate row, traits, product row, stakes, owner)
    for k, entrant in enumerate(scenario.entrants):
        where = f"entrants[{k}]"
        if entrant.candidate not in candidates.index:
            raise ScenarioError(f"{where}.candidate: unknown candidate {entrant.candidate!r}; "
                                f"see `autopact scenarios --candidates`")
        if entrant.partner and entrant.partner not in known_firms:
            raise ScenarioError(f"{where}.partner: unknown firm {entrant.partner!r}; known: {', '.join(sorted(known_firms))}")
        if scenario.local_production.required and entrant.assembly == "import":
            entry.excluded.append(f"{entrant.candidate} ({entrant.maker}): imports not allowed under local production")
            continue
        row, traits = _candidate(known, candidates, entrant.candidate, width_fit)
        shares = {holder: share for holder, share in entrant.shares().items() if share > 0}
        chinese_share = shares.get(entrant.maker, 0.0)
        owner = next(iter(shares)) if len(shares) == 1 else f"{entrant.partner}-{entrant.maker} JV"
        if scenario.connected_vehicle_rule.enabled and (
                chinese_share == 1.0 or (scenario.connected_vehicle_rule.applies_to_joint_ventures
                                         and chinese_share >= params["connected_vehicle_threshold"])):
            entry.excluded.append(f"{entrant.candidate} ({owner}): barred by the connected-vehicle rule")
            continue
        assembly = "China" if entrant.assembly == "import" else US
        product = {"product_id": f"entrant--{entrant.candidate}", "name": candidate_name(row["brand"], row["model"]),
                   "make": str(row["brand"]), "owner": owner,
                   "nationality": "China" if chinese_share >= params["connected_vehicle_threshold"]
                   else nationality_of[entrant.partner],
                   "home_country": "China", "luxury": False, "assembly_countries": assembly, "entrant": True,
                   "segment": traits["segment"], "powertrain": traits["powertrain"],
                   "footprint_sqft": traits["footprint_sqft"], "horsepower": traits["horsepower"],
                   "range_miles": traits["range_miles"]}
        admitted.append((entrant, row, traits, product, shares, owner))
    if not admitted:
        return entry
    # the entrants' tariffs in one frame (each row's rates depend on that row alone; a frame for each
    # entrant took a third of a draw's entry)
    table = pd.DataFrame({column: [a[3][column] for a in admitted] for column in TARIFF_COLUMNS})
    rates, specifics = tariff_rates(table, origin_weights(table["assembly_countries"], table["home_country"]), params,
                                    scenario.extra_tariffs)
    for (entrant, row, traits, product, shares, owner), rate, specific in zip(admitted, rates, specifics):
        parts = entrant_cost(row, entrant, params, market.data.price_scale, float(rate))
        if specific:
            parts["tariff_specific"] = float(specific)
            parts["total"] += float(specific)
        brand = hedonic.brand_term(entrant.partner if entrant.dealers == "partner" else None, traits["powertrain"])
        years = entrant.years_on_sale if entrant.years_on_sale is not None else params["entrant_years_on_sale"]
        launch = launch_term(market, years, traits["powertrain"])
        appeal = appeal_term(market, years, traits["powertrain"], params["launch_appeal_quantile"])
        consideration = float(np.log(params["chinese_brand_consideration_share"]))
        entry.xi.append(hedonic.predict_row(product) + brand + launch + appeal + consideration)
        entry.costs.append(parts)
        entry.report.append({"product_id": product["product_id"], "name": product["name"], "owner": owner,
                             "assembly": entrant.assembly, "brand_term": brand, "launch_term": launch, "appeal_term": appeal,
                             "consideration_term": consideration, **parts})
        entry.rows.append(product)
        entry.stakes[product["product_id"]] = shares
        if entrant.assembly != "import":
            plants.setdefault(entrant.plant or f"{owner} US plant", (
                [], entrant.capacity or params["entrant_plant_capacity"]))[0].append(product["product_id"])
    entry.capacities = [(plant, tuple(ids), capacity) for plant, (ids, capacity) in plants.items()]
    return entry


def _candidate(known: dict[str, tuple[pd.Series, dict[str, Any]]], candidates: pd.DataFrame, candidate: str,
               width_fit: np.ndarray) -> tuple[pd.Series, dict[str, Any]]:
    """The candidate's row of chinese_models.csv and its characteristics (``_candidate_characteristics``),
    kept in ``known`` (the market's, from ``_market_terms``, whose ``width_fit`` they use) the first
    time the market meets the candidate. Read only."""
    if candidate not in known:
        row = candidates.loc[candidate]
        known[candidate] = (row, _candidate_characteristics(row, width_fit))
    return known[candidate]


def entrant_frame(entry: Entry) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """The entrants' product rows with their tariff columns, their xi and their marginal costs.

    Built from numpy columns in one frame (each draw builds it: pandas' frames of records and their
    column arithmetic took about 1.3 ms of a draw's CPU), with the numbers the same to the bit."""
    def part(name: str, missing: float = np.nan) -> np.ndarray:
        return np.array([cost.get(name, missing) for cost in entry.costs], float)

    customs, tariff, total = part("customs_value"), part("tariff"), part("total")
    specific = part("tariff_specific", 0.0)
    specific[np.isnan(specific)] = 0.0
    dutiable = customs > 0
    columns = _columns(entry.rows)
    # as ``frame.assign``: a column the rows have already is replaced where it stands, others follow
    columns.update(tariff_rate=np.where(dutiable, tariff / np.where(dutiable, customs, 1), 0.0),
                   tariff_specific=specific, customs_value=customs, base_cost=total - tariff - specific)
    return pd.DataFrame(columns), np.array(entry.xi), total


def _columns(records: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """The columns of ``pd.DataFrame(records)``: in order of first appearance, NaN where a record
    lacks one."""
    names = dict.fromkeys(key for record in records for key in record)
    return {name: [record.get(name, np.nan) for record in records] for name in names}
