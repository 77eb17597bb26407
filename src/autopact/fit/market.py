"""A market the engine can solve: products, demand, costs, ownership, taxes, constraints, money.

``MarketModel`` is the one type that policy levers transform and ``autopact.simulate.solve``
solves. It has two constructors:

- ``calibrated_model(market, calibration)``: the US market of a data year, its demand calibrated
  to published targets (``autopact.fit.calibration``), costs from the Bertrand-Nash FOCs at
  observed prices with the tariffs in force inside them; customs values follow from the tariff
  stack in force, v_j = (c_j - T_j) / (1 + tau_j) (``autopact.data.tariffs``);
- ``autopact.fit.estimated.estimated_market(spec)``: one market of a saved estimation at its
  estimates (share inversion for xi, FOC costs; any duty in force is inside those costs).

Columns of ``products`` (one row per product): product_id, name, owner (the firm setting the
price), nationality (the controlling owner's), and, where the market has them, make,
home_country, segment, powertrain, luxury, footprint_sqft, horsepower, range_miles (a BEV's EPA
range), assembly_countries,
entrant, origin; always tariff_rate (fraction of customs value), tariff_specific (money a
vehicle), customs_value and base_cost (the cost before tariffs); a calibrated market's incumbents
also tariff_rate_data_year and section_232_rate_data_year (the data year's stack and its Section 232
add-on, fractions of customs value).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
import pandas as pd

from autopact.data import Market, load_firms, policy_parameters
from autopact.data.tariffs import origin_weights, section_232_layer, tariff_stack
from autopact.errors import ScenarioError
from autopact.fit.calibration import SIZE_UNIT_SQFT, CalibrationResult
from autopact.model.continuation import Origin
from autopact.model.demand import Demand
from autopact.model.households import Households
from autopact.model.supply import Taxes

INCOME_GROUPS = ((0, 50_000, "under $50k"), (50_000, 100_000, "$50k-100k"), (100_000, 200_000, "$100k-200k"),
                 (200_000, np.inf, "$200k and over"))
NEW_BRAND_MAKES = ("Rivian", "Lucid", "Polestar")  # brands that began US sales after 2017


# ``MarketModel.cache`` entries that stay in the process that made them: a market pickled (the shared
# market of a run sent to Dask workers, or the disk cache) leaves them out. The demand over a
# scenario's products (``autopact.policy.levers.demand_for``: its tastes are I x J numbers, twice the
# market's own) is made again by each process, with BLAS on the thread count its jobs hold.
DEMAND_KEY = "demand_over"
PROCESS_CACHE = (DEMAND_KEY,)


@dataclass(frozen=True)
class MarketModel:
    """A market the engine can solve (see the module docstring for the products' columns).

    ``stakes`` (J, owners) are the profit shares of each product's owners (a joint venture's
    products split to its parents); ``owners`` codes each product's price-setting firm into
    ``kappa``, the firms' profit weights (None: independent firms). ``demand`` is over exactly
    these products; ``calibration`` (2025 market) rebuilds it over another product set.
    """

    kind: Literal["calibrated", "estimated"]
    products: pd.DataFrame
    origin: pd.DataFrame  # (J, countries) shares of each product's supply by assembly country
    xi: np.ndarray  # mean utility net of price, held fixed by counterfactuals
    costs: np.ndarray  # marginal costs, tariffs included
    stakes: pd.DataFrame
    owners: np.ndarray
    owner_names: list[str]
    demand: Demand
    households: Households
    market_size: float  # M: units = M x shares
    money: dict[str, Any]  # the unit of every money value, with dollars_per_unit
    document: dict[str, Any]  # the result document's ``market`` object
    kappa: np.ndarray | None = None
    taxes: Taxes | None = None  # consumer/producer price wedges (None: none)
    initial_prices: np.ndarray | None = None  # where the fixed point starts (None: at cost)
    quotas: tuple = ()
    capacities: tuple = ()  # (plant, product ids, vehicles a year): one capacity shared by the plant's products
    parameters: dict[str, float] = field(default_factory=dict)  # policy parameters in force
    tariff_stack: bool = False  # the US tariff stack applies to imports (else duties sit inside costs)
    income_groups: tuple[tuple[float, float, str], ...] = INCOME_GROUPS
    assumptions: list[dict[str, Any]] = field(default_factory=list)  # rows before the policy parameters
    notes: list[dict[str, Any]] = field(default_factory=list)  # modelling choices, listed after them
    warnings: list[str] | None = None  # None: the document has no ``warnings`` key
    start_at_baseline: bool = False  # counterfactual fixed point starts at the baseline prices
    before: Origin | None = None  # a scenario's market: the market before it, where its path starts (continuation)
    excluded: list[str] = field(default_factory=list)  # what a scenario's levers left out, with the reason
    entrant_costs: list[dict[str, Any]] = field(default_factory=list)  # entrants' cost build-ups
    announced_costs: list[dict[str, Any]] = field(default_factory=list)  # new products' costs from announced prices
    hedonic_r2: float | None = None  # fit of the hedonic regression entrants' mean utilities come from
    calibration: CalibrationResult | None = None
    data: Market | None = None  # the data market (the 2025 levers read it)
    estimation: Any = None  # the saved estimation (estimated markets; its draws rebuild the market)
    cache: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)  # derived once per market

    def __getstate__(self) -> dict[str, Any]:
        """The fields as pickle takes them, the cache without its process-local entries (``PROCESS_CACHE``)."""
        state = dict(self.__dict__)
        state["cache"] = {k: v for k, v in self.cache.items() if k not in PROCESS_CACHE}
        return state

    def demand_over(self, products: pd.DataFrame) -> Demand:
        """This market's households and parameters over another product set (entry, exit)."""
        if self.calibration is None:
            if len(products) != len(self.products):
                raise ValueError("an estimated market's product set is fixed")
            return self.demand
        return self.calibration.demand.with_products(characteristics(products), nests(products, self.calibration))

    def without(self, product_id: str) -> tuple["MarketModel", int]:
        """The market without one product (the others' xi and costs unchanged) and its row number."""
        ids = self.products["product_id"].tolist()
        if product_id not in ids:
            raise ScenarioError(f"products: unknown product {product_id!r} in the {self.document['label']}")
        j = ids.index(product_id)
        keep = np.arange(len(ids)) != j
        return self.with_products(
            products=self.products[keep].reset_index(drop=True), origin=self.origin[keep].reset_index(drop=True),
            xi=self.xi[keep], costs=self.costs[keep], stakes=self.stakes[keep].reset_index(drop=True),
            owners=self.owners[keep], taxes=None if self.taxes is None else Taxes(self.taxes.ad_valorem[keep],
                                                                                  self.taxes.specific[keep]),
            initial_prices=None if self.initial_prices is None else self.initial_prices[keep]), j

    def with_products(self, **changes: Any) -> "MarketModel":
        """A copy with fields changed (``dataclasses.replace``); demand follows a new product set."""
        if "products" in changes and "demand" not in changes:
            changes["demand"] = self.demand_over(changes["products"])
        return replace(self, **changes, cache={})


def characteristics(products: pd.DataFrame) -> np.ndarray:
    """The calibrated demand's product characteristics: BEV indicator, footprint in 100 sq ft."""
    return np.column_stack([products["powertrain"].eq("BEV").astype(float).to_numpy(),
                            products["footprint_sqft"].to_numpy(float) / SIZE_UNIT_SQFT])


def nests(products: pd.DataFrame, calibration: CalibrationResult) -> np.ndarray:
    """Nest (segment) code of each product in the calibration's nest order."""
    return np.array([calibration.arrays.nest_names.index(s) for s in products["segment"]])


def is_true(series: pd.Series) -> pd.Series:
    return series.astype(str).str.lower().isin(("true", "1"))


def incumbents(market: Market) -> pd.DataFrame:
    """The data's products in the standard columns."""
    p = market.products
    firms = load_firms()
    return pd.DataFrame({
        "product_id": p["product_id"], "name": product_names(p), "make": p["make"],
        "owner": p["parent_company"], "nationality": p["firm_nationality"],
        "home_country": p["parent_company"].map(firms.set_index("parent_company")["owner_country"]),
        "segment": p["segment"], "powertrain": p["powertrain"], "luxury": is_true(p["luxury"]),
        "footprint_sqft": p["footprint_sqft"].astype(float), "horsepower": p["horsepower"].astype(float),
        "range_miles": pd.to_numeric(p["range_miles_epa"], errors="coerce") if "range_miles_epa" in p
        else np.full(len(p), np.nan),
        "assembly_countries": p["assembly_countries"], "entrant": False,
        "months_on_offer": offered_months(p),
    })


def product_names(products: pd.DataFrame) -> pd.Series:
    """Each product's name, make and model, with its powertrain where its nameplate has rows of more
    than one (the hybrid splits: "Toyota RAV4 (HEV)" beside "Toyota RAV4 (ICE)")."""
    names = products["make"] + " " + products["model"]
    shared = names.duplicated(keep=False)
    return names.where(~shared, names + " (" + products["powertrain"].astype(str) + ")")


def offered_months(products: pd.DataFrame, column: str = "months_on_offer_2025") -> np.ndarray:
    """Months of the market-year each product was on offer to new orders: the products table's
    ``months_on_offer_2025`` (bundled: built by tools/build_data.py from the sourced launch list and
    run-outs; a market model's table carries it as ``months_on_offer``: pass that ``column``), 12
    where the column is absent or blank (a user's table that does not say, an entrant)."""
    if column not in products:
        return np.full(len(products), 12.0)
    return pd.to_numeric(products[column], errors="coerce").fillna(12.0).to_numpy(float)


def bundled_parameters() -> dict[str, float]:
    """The named policy parameters in force (``policy_parameters.csv``)."""
    return policy_parameters()["value"].astype(float).to_dict()


def calibrated_model(market: Market, calibration: CalibrationResult) -> MarketModel:
    """The calibrated data-year market with the tariffs in force decomposed out of its costs."""
    params = bundled_parameters()
    table = incumbents(market)
    origin = origin_weights(table["assembly_countries"], table["home_country"], params["unknown_assembly_import_share"])
    rate, specific = tariff_stack(table, origin, params), np.zeros(len(table))
    # c_j = v_j (1 + t_j) + s_j + d: the customs value v_j is the importer's transfer price, so the US
    # distribution cost d in every first-order-condition cost (the dealer's gross per vehicle; an
    # entrant's cost adds the same, policy.entry) is outside it and pays no tariff
    distribution = params.get("us_dealer_gross_usd_per_vehicle", 0.0) + params.get("us_destination_usd_per_vehicle", 0.0)
    customs = (calibration.costs - specific - distribution) / (1 + rate)
    # the data year's stack and Section 232 add-on, kept for the later years whose prices carry the part
    # of that duty the data year's prices did not (``autopact.policy.tariffs.customs_catch_up``)
    products = table.assign(tariff_rate=rate, tariff_specific=specific, customs_value=customs,
                            base_cost=customs + distribution, tariff_rate_data_year=rate,
                            section_232_rate_data_year=section_232_layer(table, origin, params))
    year = market.facts.year
    document = {"kind": "calibrated", "label": f"US new light-vehicle market {year}",
                "baseline_label": f"{year} baseline",
                "money": {"unit": f"{year} US dollars a year, prices at the model's price level (assumption "
                                  "price_level)", "dollars_per_unit": 1.0}}
    assumptions = [{"name": a.name, "value": a.value, "source": a.source, "kind": "market assumption"}
                   for a in market.assumptions.values()]
    choices = {
        "assembly_origin_weights": ("equal shares of the listed assembly countries (NHTSA AALA MY2024 lists them "
                                    "without volumes); unknown assembly: the owner's home country"),
        "customs_value": ("the importer's marginal cost before tariffs and before US distribution (the dealer's gross "
                          "per vehicle, us_dealer_gross_usd_per_vehicle): the transfer price of a vertically "
                          "integrated importer"),
        "parts_tariffs": "not modelled: US-assembled vehicles pay no tariff here, and incumbents' battery tariffs sit in their calibrated costs",
        "entrant_brand_term": ("the US partner's mean hedonic residual for the entrant's powertrain, pooled with its whole "
                               "line (one pseudo-product of the line: BRAND_SHRINKAGE) and scaled by the brand term's "
                               "reliability (BRAND_RELIABILITY 0.56: the slope with which a 2025 nameplate's residual "
                               "follows its brand's leave-one-out mean, standard error 0.11; an incumbent's new product's "
                               "brand term is scaled the same way), when the partner's dealers sell "
                               f"the model; young US brands' mean residual ({', '.join(NEW_BRAND_MAKES)}) for a new brand "
                               "with its own dealers; an incumbent's new product: its make's and its firm's residuals, "
                               "for the powertrain and the whole line, pooled (autopact.policy.hedonic)"),
        "entrant_range": ("a BEV's EPA range enters its hedonic mean utility (ln range); an entrant's is its CLTC or WLTP "
                          "range converted to the EPA basis (chinese_models.csv range_miles_epa_equivalent); a BEV with "
                          "no known range is taken at the market's units-weighted mean"),
        "products_on_offer": ("the hedonic fit puts a product on offer m of 2025's months at xi + ln(12/m) and leaves out "
                              "one sold only from stock (products_2025.csv months_on_offer_2025, from backtest_launches.csv "
                              "and run_outs_2025.csv; 12 where a user's table does not say)"),
        "hybrid_allocation": ("hybrids inside multi-powertrain nameplates: each brand's published hybrid or electrified "
                              "total less what the table already classes, shared over its hybrid-offering nameplates in "
                              "proportion to units within sourced bounds (default 'bounded'; range: 'proportional', "
                              "`tools/build_data.py --hybrid-allocation`; PROVENANCE.md, Hybrid splits); GM, Stellantis, "
                              "Nissan, Mazda, Subaru, BMW and Mercedes-Benz publish no hybrid total, so their hybrids stay "
                              "in their ICE rows"),
        "entrant_launch_term": ("mean gap between what US launches of 2019-2025 sold and what their characteristics and "
                                "brand predict, for the entrant's powertrain class (BEV or not) in the band of years on sale of "
                                "entrant_years_on_sale "
                                "(autopact.policy.launch; `autopact validate` back-tests it)"),
        "entrant_plant": ("a US-built entrant's output is capped by its plant (entrant_plant_capacity unless the "
                          "scenario names one), shared by the models it builds; imports are not capped"),
        "dealer_access": ("a new brand selling direct faces state franchise laws: all 50 states bar direct sales by makers "
                          "with franchised dealers, and some bar or limit them for all makers (Texas, West Virginia; "
                          "limits in Connecticut, Nebraska, New Mexico, Oklahoma, South Carolina) "
                          "(https://en.wikipedia.org/wiki/Direct-to-consumer_automobile_selling_in_the_United_States ; "
                          "https://teslamotorsclub.com/tmc/threads/direct-sales-laws.63457/ , weak). Not modelled state by "
                          "state: the young-brand residual of direct sellers (Rivian, Lucid) carries the friction"),
        "entrant_trim_mix": (f"entrants' home-based costs scaled by the market's price scale ({market.price_scale:.3f}: "
                             "the 2025 average transaction price over the mean base MSRP, a trim-mix factor); "
                             f"incumbents' prices by BEVs' own ({market.price_scales['BEV']:.3f}, KBB's EV transaction "
                             f"price, reference parameter atp_bev_2025_usd) and the others' "
                             f"({market.price_scales['other']:.3f})"),
        "entrant_home_labour": "home-country labour is not removed when a model is built in the US (overstates US-built cost)",
        "us_production_preference": "none: Cosar et al. (2018) find one, but its size was not found (GAP)",
    }
    notes = [{"name": k, "value": v, "kind": "modelling choice", "source": "autopact.policy (levers, entry) / autopact.simulate"}
             for k, v in choices.items()]
    notes.append({"name": "calibration", "value": calibration.parameters, "kind": "demand parameters",
                  "source": "autopact calibrate (targets in calibration_targets.csv)"})
    return MarketModel(
        kind="calibrated", products=products, origin=origin, xi=calibration.xi, costs=calibration.costs,
        stakes=pd.get_dummies(table["owner"]).astype(float), owners=calibration.arrays.owners,
        owner_names=list(calibration.arrays.owner_names),
        demand=calibration.demand.with_products(characteristics(table), nests(table, calibration)),
        households=calibration.households, market_size=calibration.market_size, money=document["money"],
        document=document, taxes=Taxes.none(len(table)), initial_prices=calibration.arrays.prices,
        parameters=params, tariff_stack=True, assumptions=assumptions, notes=notes, calibration=calibration,
        data=market)
