"""Policy: turn a scenario into costs, products and ownership, solve, and compare with the baseline.

Where each lever enters (the project's economics reference sheet):
- A tariff is levied on the customs value of an imported vehicle; for a vertically integrated
  importer that is the vehicle's cost before tariff, so it raises marginal cost:
  c_j = c0_j (1 + tau_j) + T_j, where tau_j averages the rates of the countries that assemble j
  (weights: equal across the listed countries; unknown assembly: the owner's home country).
  The calibrated 2025 costs include the 2025 tariffs, so c0_j = c_j(2025) / (1 + tau_j(2025)).
- Origin rates: MFN (2.5% cars, 25% pickups) + Section 232 (25%, on non-US content for Mexico and
  Canada) + for China Section 301 (100% EVs, 25% others) + IEEPA; US assembly pays none here
  (parts tariffs are not modelled).
- A tariff-rate quota is solved by regime: all imports at the in-quota rate if they stay below the
  quota, all at the full rate if they exceed it then, otherwise exactly at the quota with a shadow
  cost (``supply.solve_constrained``).
- The connected-vehicle rule removes Chinese-controlled makers' products (joint ventures when the
  Chinese profit share reaches ``connected_vehicle_threshold``).
- Entrants: mean utility from a hedonic fit of the calibrated market's xi on characteristics plus a
  brand term (the mean residual of young US brands, or the US partner's when its dealers sell);
  marginal cost from named components (home price net of VAT and margin, US labour, batteries,
  shipping, homologation, tariffs).
- A joint venture is its own firm; with stakes s_p: kappa(JV, p) = kappa(p, JV) = s_p.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from autopact.calibration import CalibrationResult, calibrated_market
from autopact.data.market import Market, load_chinese_candidates, load_firms, load_market, read_bundled
from autopact.scenario import Entrant, Scenario, ScenarioError
from autopact.supply import Taxes, ownership_matrix

US = "United States"
USMCA = ("Mexico", "Canada")
NEW_BRAND_MAKES = ("Rivian", "Lucid", "Polestar")  # brands that began US sales after 2017
KW_TO_HP = 1.341
MM_PER_INCH = 25.4


def policy_parameters() -> pd.DataFrame:
    """Named policy parameters (tariff rates, cost components) with value, unit, source."""
    return read_bundled("policy_parameters.csv").set_index("name")


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


def tariff_rates(table: pd.DataFrame, origin: pd.DataFrame, params: dict[str, float],
                 rules: list) -> tuple[np.ndarray, np.ndarray]:
    """Ad valorem tariff (fraction of customs value) and specific tariff (dollars) of each product."""
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
    extra, specific = extra_tariff_rates(table, origin, rules)
    return rate / 100.0 + extra, specific


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


def merger_weights(kappa: np.ndarray, owner_names: list[str], mergers: list) -> np.ndarray:
    """Profit weights kappa (F, F) with each merger's firms weighing each other's profit by its
    ``profit_weight`` (1: one merged firm); unknown firms raise ScenarioError naming the field."""
    kappa = np.array(kappa, float, copy=True)
    for k, merger in enumerate(mergers):
        for firm in merger.firms:
            if firm not in owner_names:
                raise ScenarioError(f"mergers[{k}].firms: unknown firm {firm!r}; known: {', '.join(sorted(owner_names))}")
        codes = [owner_names.index(f) for f in merger.firms]
        for a in codes:
            for b in codes:
                if a != b:
                    kappa[a, b] = max(kappa[a, b], merger.profit_weight)
    return kappa


def _hedonic_design(table: pd.DataFrame) -> np.ndarray:
    columns = [np.ones(len(table)), np.log(table["footprint_sqft"].to_numpy(float)),
               np.log(table["horsepower"].to_numpy(float)), table["luxury"].astype(float).to_numpy()]
    columns += [table["powertrain"].eq(p).astype(float).to_numpy() for p in ("HEV", "PHEV", "BEV")]
    columns += [table["segment"].eq(s).astype(float).to_numpy() for s in ("SUV-crossover", "pickup", "van")]
    return np.column_stack(columns)


def _is_true(series: pd.Series) -> pd.Series:
    return series.astype(str).str.lower().isin(("true", "1"))


@dataclass
class Hedonic:
    """OLS of the calibrated mean utility net of price (xi) on characteristics, with brand residuals."""

    beta: np.ndarray
    residual_by_firm: dict[str, float]
    new_brand: float
    r2: float

    @classmethod
    def fit(cls, table: pd.DataFrame, xi: np.ndarray, units: np.ndarray) -> "Hedonic":
        x = _hedonic_design(table)
        beta, *_ = np.linalg.lstsq(x * np.sqrt(units)[:, None], xi * np.sqrt(units), rcond=None)
        residual = xi - x @ beta
        frame = pd.DataFrame({"make": table["make"], "firm": table["owner"], "r": residual, "w": units})
        mean = lambda g: float(np.average(g["r"], weights=g["w"]))  # noqa: E731
        by_firm = {k: mean(g) for k, g in frame.groupby("firm")}
        young = frame[frame["make"].isin(NEW_BRAND_MAKES)]
        r2 = 1 - np.average(residual ** 2, weights=units) / np.average((xi - np.average(xi, weights=units)) ** 2,
                                                                         weights=units)
        return cls(beta, by_firm, mean(young), float(r2))

    def predict(self, table: pd.DataFrame) -> np.ndarray:
        return _hedonic_design(table) @ self.beta


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
    return {"powertrain": powertrain, "segment": segment, "footprint_sqft": length_in * width_in / 144.0,
            "horsepower": float(kw) * KW_TO_HP, "length_in": length_in, "width_in": width_in}


def entrant_cost(row: pd.Series, entrant: Entrant, params: dict[str, float], price_scale: float,
                 origin_rate: float) -> dict[str, float]:
    """Marginal cost of an entrant from named components (dollars per vehicle).

    home cost    = China price / (1 + VAT) x (1 - margin) / (CNY per USD) x price_scale (trim mix)
    import       : customs value = home cost; + tariffs on it; + shipping; + homologation
    US assembly  : + assembly hours x hourly labour cost (home labour is not removed: conservative)
                   + battery: Chinese cells pay Section 301 (and IEEPA) on their value; US-made
                     packs cost the US premium and earn 45X credits per kWh
                   + homologation
    """
    price = row["price_china_cny_first"]
    if pd.isna(price):
        raise ScenarioError(f"candidate {row['candidate_id']!r} has no Chinese price in chinese_models.csv, "
                            "so its cost cannot be built")
    home = (float(price) / (1 + params["china_vat_pct"] / 100) * (1 - params["home_margin_share"])
            / params["fx_cny_per_usd"] * price_scale)
    parts = {"home_cost": home, "homologation": params["homologation_usd_per_vehicle"]}
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
class State:
    """One solved state of the market (baseline or counterfactual)."""

    products: pd.DataFrame  # with prices, units, costs, tariffs, owners' stakes
    consumer_surplus: np.ndarray  # per household (I,), dollars
    stakes: pd.DataFrame  # (J, owners) profit shares of each product
    solver: dict[str, Any]
    constraints: list[dict[str, Any]] = field(default_factory=list)
    origin: pd.DataFrame | None = None  # (J, countries) assembly weights


@dataclass
class SimulationResult:
    scenario: Scenario
    baseline: State
    counterfactual: State
    calibration: CalibrationResult
    market: Market
    parameters: dict[str, float]
    entrant_costs: list[dict[str, Any]]
    excluded: list[str]
    hedonic_r2: float


def _params(scenario: Scenario | None) -> dict[str, float]:
    """The policy parameters: the bundled values, with the scenario's overrides (none: the baseline's)."""
    values = policy_parameters()["value"].astype(float).to_dict()
    values.update(scenario.parameters if scenario is not None else {})
    return values


def _incumbents(market: Market) -> pd.DataFrame:
    p = market.products
    firms = load_firms()
    return pd.DataFrame({
        "product_id": p["product_id"], "name": p["make"] + " " + p["model"], "make": p["make"],
        "owner": p["parent_company"], "nationality": p["firm_nationality"],
        "home_country": p["parent_company"].map(firms.set_index("parent_company")["owner_country"]),
        "segment": p["segment"], "powertrain": p["powertrain"], "luxury": _is_true(p["luxury"]),
        "footprint_sqft": p["footprint_sqft"].astype(float), "horsepower": p["horsepower"].astype(float),
        "assembly_countries": p["assembly_countries"], "entrant": False,
    })


def simulate(scenario: Scenario, market: Market | None = None, calibration: CalibrationResult | None = None,
             draws: int = 1000, seed: int = 0, initial_prices: dict[str, float] | None = None) -> SimulationResult:
    """Solve the scenario's equilibrium and the 2025 baseline's, from one calibrated market.

    ``initial_prices`` (product_id -> price) starts the scenario's fixed point there (products not
    named start at cost); the equilibrium is the same to the solver's tolerance. A scenario with
    ``estimation`` runs on its own estimated market instead (``autopact.estimated.simulate_estimated``);
    ``market`` and ``calibration``, the 2025 ones, are then not used.
    """
    from autopact.outcomes import solved_state

    if scenario.estimation is not None:
        from autopact.estimated import simulate_estimated

        return simulate_estimated(scenario)
    market = market or load_market(scenario.year, assumptions=scenario.assumptions)
    cal = calibration or calibrated_market(market, draws=draws, seed=seed)
    params = _params(scenario)
    base_params = _params(None)
    table = _incumbents(market)
    origin = origin_weights(table["assembly_countries"], table["home_country"], params["unknown_assembly_import_share"])
    base_origin = origin_weights(table["assembly_countries"], table["home_country"],
                                 base_params["unknown_assembly_import_share"])
    _check_names(scenario, table, origin)
    base_rate, base_specific = tariff_rates(table, base_origin, base_params, [])
    base_cost = (cal.costs - base_specific) / (1 + base_rate)
    units = market.units
    hedonic = Hedonic.fit(table, cal.xi, units)
    owners0 = cal.arrays.owners
    stakes0 = pd.get_dummies(table["owner"]).astype(float)
    baseline = solved_state(table.assign(tariff_rate=base_rate, tariff_specific=base_specific,
                                         customs_value=base_cost, base_cost=base_cost),
                            base_origin, cal.xi, cal.costs, stakes0, cal, Taxes.none(len(table)), initial=cal.arrays.prices,
                            owners=owners0, kappa=None)

    # ---- counterfactual product set -------------------------------------------------------------
    excluded: list[str] = []
    rows, xis, costs, entrant_costs = [], [], [], []
    candidates = load_chinese_candidates()
    known_firms = set(table["owner"])
    width_fit = np.polyfit(market.products["length_in"].astype(float), market.products["width_in"].astype(float), 1)[::-1]
    for k, entrant in enumerate(scenario.entrants):
        where = f"entrants[{k}]"
        if entrant.candidate not in candidates.index:
            raise ScenarioError(f"{where}.candidate: unknown candidate {entrant.candidate!r}; "
                                f"see `autopact scenarios --candidates`")
        if entrant.partner and entrant.partner not in known_firms:
            raise ScenarioError(f"{where}.partner: unknown firm {entrant.partner!r}; known: {', '.join(sorted(known_firms))}")
        if scenario.local_production.required and entrant.assembly == "import":
            excluded.append(f"{entrant.candidate} ({entrant.maker}): imports not allowed under local production")
            continue
        row = candidates.loc[entrant.candidate]
        traits = _candidate_characteristics(row, width_fit)
        shares = {holder: share for holder, share in entrant.shares().items() if share > 0}
        chinese_share = shares.get(entrant.maker, 0.0)
        owner = next(iter(shares)) if len(shares) == 1 else f"{entrant.partner}-{entrant.maker} JV"
        if scenario.connected_vehicle_rule.enabled and (
                chinese_share == 1.0 or (scenario.connected_vehicle_rule.applies_to_joint_ventures
                                         and chinese_share >= params["connected_vehicle_threshold"])):
            excluded.append(f"{entrant.candidate} ({owner}): barred by the connected-vehicle rule")
            continue
        assembly = "China" if entrant.assembly == "import" else US
        entry = {"product_id": f"entrant--{entrant.candidate}", "name": f"{row['brand']} {row['model']}",
                 "make": str(row["brand"]), "owner": owner,
                 "nationality": "China" if chinese_share >= params["connected_vehicle_threshold"]
                 else table.loc[table["owner"] == entrant.partner, "nationality"].iloc[0],
                 "home_country": "China", "luxury": False, "assembly_countries": assembly, "entrant": True,
                 "segment": traits["segment"], "powertrain": traits["powertrain"],
                 "footprint_sqft": traits["footprint_sqft"], "horsepower": traits["horsepower"],
                 "shares": shares, "capacity": entrant.capacity}
        one = pd.DataFrame([entry])
        rate, specific = tariff_rates(one, origin_weights(one["assembly_countries"], one["home_country"]), params,
                                      scenario.extra_tariffs)
        parts = entrant_cost(row, entrant, params, market.price_scale, float(rate[0]))
        if specific[0]:
            parts["tariff_specific"] = float(specific[0])
            parts["total"] += float(specific[0])
        brand = (hedonic.residual_by_firm.get(entrant.partner, hedonic.new_brand) if entrant.dealers == "partner"
                 else hedonic.new_brand)
        xis.append(float(hedonic.predict(one)[0]) + brand)
        costs.append(parts)
        entrant_costs.append({"product_id": entry["product_id"], "name": entry["name"], "owner": owner,
                              "assembly": entrant.assembly, "brand_term": brand, **parts})
        rows.append(entry)

    keep = np.ones(len(table), bool)
    if scenario.connected_vehicle_rule.enabled and scenario.connected_vehicle_rule.applies_to_incumbents:
        barred = table["nationality"].eq("China").to_numpy()
        excluded += [f"{n}: barred by the connected-vehicle rule" for n in table.loc[barred, "name"]]
        keep &= ~barred
    for k, product in enumerate(scenario.new_products):
        if product.firm not in known_firms:
            raise ScenarioError(f"new_products[{k}].firm: unknown firm {product.firm!r}")
        if product.like not in set(table["product_id"]):
            raise ScenarioError(f"new_products[{k}].like: unknown product {product.like!r}")

    return _counterfactual(scenario, market, cal, params, table, origin, base_cost, keep, rows, xis, costs,
                           hedonic, baseline, excluded, entrant_costs, initial_prices)


def _counterfactual(scenario, market, cal, params, table, origin, base_cost, keep, rows, xis, entrant_parts,
                    hedonic, baseline, excluded, entrant_costs, initial_prices=None) -> SimulationResult:
    from autopact.outcomes import solved_state

    incumbents = table[keep].reset_index(drop=True)
    inc_origin = origin[keep].reset_index(drop=True)
    c0 = base_cost[keep].copy()
    for synergy in scenario.synergies:
        match = incumbents["owner"].eq(synergy.firm).to_numpy()
        if synergy.powertrain:
            match &= incumbents["powertrain"].isin(synergy.powertrain).to_numpy()
        if not match.any():
            raise ScenarioError(f"synergies: firm {synergy.firm!r} has no matching products")
        c0[match] *= 1 + synergy.change_pct / 100
    rate, specific = tariff_rates(incumbents, inc_origin, params, scenario.extra_tariffs)
    xi = cal.xi[keep]
    new = pd.DataFrame(rows)
    frames = [incumbents.assign(tariff_rate=rate, tariff_specific=specific, customs_value=c0, base_cost=c0)]
    all_xi, all_cost = [xi], [c0 * (1 + rate) + specific]
    if len(new):
        parts = pd.DataFrame(entrant_parts)
        frames.append(new.drop(columns=["shares", "capacity"]).assign(
            tariff_rate=np.where(parts["customs_value"] > 0, parts["tariff"] / parts["customs_value"].where(
                parts["customs_value"] > 0, 1), 0.0),
            tariff_specific=parts.get("tariff_specific", pd.Series(0.0, index=parts.index)).fillna(0.0),
            customs_value=parts["customs_value"],
            base_cost=parts["total"] - parts["tariff"] - parts.get("tariff_specific", pd.Series(0.0, index=parts.index)).fillna(0.0)))
        all_xi.append(np.array(xis))
        all_cost.append(parts["total"].to_numpy())
    for product in scenario.new_products:
        like = table.set_index("product_id").loc[product.like]
        entry = pd.DataFrame([{
            "product_id": f"new--{product.name.lower().replace(' ', '-')}", "name": product.name,
            "make": like["make"], "owner": product.firm,
            "nationality": table.loc[table["owner"] == product.firm, "nationality"].iloc[0],
            "home_country": like["home_country"], "luxury": False,
            "assembly_countries": US if product.assembled_in_us else like["assembly_countries"], "entrant": True,
            "segment": product.segment, "powertrain": product.powertrain, "footprint_sqft": like["footprint_sqft"],
            "horsepower": like["horsepower"]}])
        xi_new = float(hedonic.predict(entry)[0]) + hedonic.residual_by_firm.get(product.firm, 0.0)
        frames.append(entry.assign(tariff_rate=0.0, tariff_specific=0.0, customs_value=0.0, base_cost=np.nan))
        all_xi.append(np.array([xi_new]))
        all_cost.append(np.array([np.nan]))
    products = pd.concat(frames, ignore_index=True)
    xi_all = np.concatenate(all_xi)
    cost_all = np.concatenate(all_cost)
    # stakes: owners' profit shares per product; JV firms split to parents
    owner_names = list(dict.fromkeys(products["owner"]))
    stakes = pd.DataFrame(0.0, index=products.index, columns=sorted({*table["owner"], *[
        o for r in rows for o in r["shares"]]}))
    for j, owner in enumerate(products["owner"]):
        entry = next((r for r in rows if r["owner"] == owner and r["product_id"] == products.at[j, "product_id"]), None)
        if entry is not None:
            for o, share in entry["shares"].items():
                stakes.at[j, o] = share
        else:
            stakes.at[j, owner] = 1.0
    kappa = np.eye(len(owner_names))
    for r in rows:
        if len(r["shares"]) > 1:
            jv = owner_names.index(r["owner"])
            for parent, share in r["shares"].items():
                if parent in owner_names:
                    kappa[jv, owner_names.index(parent)] = kappa[owner_names.index(parent), jv] = share
    kappa = merger_weights(kappa, owner_names, scenario.mergers)
    owners = np.array([owner_names.index(o) for o in products["owner"]])
    # new incumbent products: cost implied by the FOC at the announced price (others at baseline)
    if scenario.new_products:
        cost_all = _implied_costs(scenario, market, cal, products, xi_all, cost_all, owners, kappa)
        products.loc[products["base_cost"].isna(), "base_cost"] = cost_all[products["base_cost"].isna().to_numpy()]
    counterfactual = solved_state(products, origin_weights(products["assembly_countries"], products["home_country"],
                                                           params["unknown_assembly_import_share"]),
                                  xi_all, cost_all, stakes, cal, Taxes.none(len(products)),
                                  initial=None if not initial_prices else np.array(
                                      [initial_prices.get(pid, np.nan) for pid in products["product_id"]]),
                                  owners=owners, kappa=kappa,
                                  quotas=scenario.quotas, params=params, extra_rules=scenario.extra_tariffs,
                                  capacities=[(r["product_id"], r["capacity"]) for r in rows if r["capacity"]])
    return SimulationResult(scenario, baseline, counterfactual, cal, market, params, entrant_costs, excluded,
                            hedonic.r2)


def _implied_costs(scenario, market, cal, products, xi, costs, owners, kappa) -> np.ndarray:
    """Marginal cost of each announced new product from its own first-order condition at its
    announced price (scaled to the model's price level), every other product at its baseline
    price and known cost (entrants at cost plus the baseline's mean markup):
        c_j = p_j + (s_j + sum_{k != j} Omega_jk (p_k - c_k) ds_k/dp_j) / (ds_j/dp_j)."""
    from autopact.demand import price_jacobian, shares

    demand = cal.demand.with_products(_characteristics(products), _nests(products, cal))
    by_id = dict(zip(market.products["product_id"], cal.arrays.prices))
    prices = np.array([by_id.get(pid, np.nan) for pid in products["product_id"]])
    mean_markup = float(np.average(cal.markups, weights=market.units))
    lookup = {f"new--{p.name.lower().replace(' ', '-')}": p.announced_price_usd for p in scenario.new_products}
    for j, pid in enumerate(products["product_id"]):
        if pid in lookup:
            prices[j] = lookup[pid] * market.price_scale
        elif np.isnan(prices[j]):
            prices[j] = costs[j] + mean_markup
    delta = xi - demand.alpha * prices
    s = shares(delta, prices, demand)
    jac = price_jacobian(delta, prices, demand)
    omega = ownership_matrix(owners, kappa)
    unknown = np.flatnonzero(np.isnan(costs))
    known = np.setdiff1d(np.arange(len(prices)), unknown)
    # FOC rows of the new products: s_j + sum_k Omega_jk (p_k - c_k) J_kj = 0, linear in their costs
    a = omega[np.ix_(unknown, unknown)] * jac[np.ix_(unknown, unknown)].T
    b = s[unknown] + (omega[np.ix_(unknown, known)] * jac[np.ix_(known, unknown)].T) @ (prices[known] - costs[known]) \
        + a @ prices[unknown]
    out = costs.copy()
    out[unknown] = np.linalg.solve(a, b)
    for j in unknown:
        if out[j] <= 0:
            raise ScenarioError(f"new product {products.at[j, 'name']!r}: its announced price implies a marginal "
                                f"cost of ${out[j]:,.0f}; the price is too low for this market's demand")
    return out


def check_tariff_names(rules: list, countries: set[str], nationalities: set[str]) -> None:
    """Each tariff rule's origins and nationalities must be ones the market has (names the rule)."""
    for k, rule in enumerate(rules):
        for c in rule.origin or []:
            if c not in countries:
                raise ScenarioError(f"extra_tariffs[{k}].origin: unknown country {c!r}; known: {', '.join(sorted(countries))}")
        for n in rule.nationality or []:
            if n not in nationalities:
                raise ScenarioError(f"extra_tariffs[{k}].nationality: unknown nationality {n!r}; "
                                    f"known: {', '.join(sorted(nationalities))}")


def _check_names(scenario: Scenario, table: pd.DataFrame, origin: pd.DataFrame) -> None:
    """Origins and nationalities in tariff rules and quotas must be ones the data use."""
    countries = set(origin.columns) | {"China"}
    check_tariff_names(scenario.extra_tariffs, countries, set(table["nationality"]) | {"China"})
    for k, quota in enumerate(scenario.quotas):
        if quota.origin not in countries - {US}:
            raise ScenarioError(f"quotas[{k}].origin: unknown or domestic country {quota.origin!r}")


def _characteristics(products: pd.DataFrame) -> np.ndarray:
    from autopact.calibration import SIZE_UNIT_SQFT

    return np.column_stack([products["powertrain"].eq("BEV").astype(float).to_numpy(),
                            products["footprint_sqft"].to_numpy(float) / SIZE_UNIT_SQFT])


def _nests(products: pd.DataFrame, cal: CalibrationResult) -> np.ndarray:
    return np.array([cal.arrays.nest_names.index(s) for s in products["segment"]])


def scenario_variants(scenario: Scenario) -> list[tuple[str, Scenario]]:
    """The scenario itself (when it changes anything) and each named variant laid over it."""
    from autopact.scenario import parse_scenario

    base = scenario.model_dump(exclude={"variants"})
    runs = []
    defaults = Scenario(name=scenario.name).model_dump(exclude={"variants", "name", "description"})
    if {k: v for k, v in base.items() if k not in ("name", "description")} != defaults or not scenario.variants:
        runs.append((scenario.name, scenario))
    for label, overlay in scenario.variants.items():
        unknown = set(overlay) - set(base)
        if unknown:
            raise ScenarioError(f"variants.{label}: unknown field(s) {sorted(unknown)}")
        runs.append((label, parse_scenario({**base, **overlay, "name": f"{scenario.name}/{label}"},
                                           f"variants.{label}")))
    return runs


def rank_partnerships(results: list[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    """Rank variants by the US partner's profit change (ties: consumer surplus change). The partner is
    the US firm named in the entrants, or the firm launching a new product."""
    rows = []
    for label, result in results:
        entrants = result["scenario"]["definition"]["entrants"]
        partners = {e["partner"] for e in entrants if e.get("partner")}
        partners |= {n["firm"] for n in result["scenario"]["definition"]["new_products"]}
        makers = {e["maker"] for e in entrants}
        firms = {f["firm"]: f for f in result["firms"]}
        def change(f: str, firms: dict = firms) -> float:
            return firms[f]["profit_counterfactual_usd"] - firms[f]["profit_baseline_usd"] if f in firms else 0.0

        rivals = sum(min(0.0, change(f)) for f in firms if f not in partners | makers and not f.endswith(" JV"))
        rows.append({"variant": label, "partner": ", ".join(sorted(partners)) or "-",
                     "maker": ", ".join(sorted(makers)) or "-",
                     "partner_profit_change_usd": sum(change(p) for p in partners),
                     "consumer_surplus_change_usd": result["change"]["consumer_surplus_usd"],
                     "us_assembly_jobs_change": result["change"]["us_assembly_jobs"],
                     "rivals_profit_losses_usd": rivals})
    return sorted(rows, key=lambda r: (-r["partner_profit_change_usd"], -r["consumer_surplus_change_usd"]))
