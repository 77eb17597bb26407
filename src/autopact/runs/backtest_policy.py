"""Policy back-tests: the end of the EV credit, and the 2025 tariffs against published studies.

EV credit. The $7,500 credit ended for vehicles acquired after 30 Sep 2025. Buyers of listed
models (``ev_credit_eligible_2025.csv``) got it at purchase (IRC 30D); lessees of any BEV got it
through the lessor (45W). The 2025 data hold the credit for the share f of the year's BEV sales
made before it ended, f = 1 - Q4 units / 2025 units (Cox). So the calibrated 2025 market carries,
on average, a credit of

    w_j = 7,500 x f x (L + (1 - L) x eligible_j)       (L: share of new EVs leased, Experian Q3 2025)

per vehicle, and removing the credit raises consumer prices by w_j (a ``credits`` lever with a
negative amount). The model's BEV share after that is compared with the first quarter without the
credit (Q4 2025, Cox) and January 2026 (S&P).

Tariffs. The model's effect of the 2025 Section 232 layer is the change from the state without it
(``no-section-232``) back to the 2025 baseline: units and average price, compared with Linn and
Spiller's (RFF 2025) ranges for a 25% tariff on vehicles and parts from outside North America
(our model has no parts tariffs, so its effects should sit at or below theirs).

Export prices. An entrant's US price over its China list price is compared with what Chinese
makers charge abroad (``export_prices.csv``), like with like: prices abroad net of VAT and of the
import duty on the customs value (taken as the China list net of China's 13% VAT, which exports do
not pay), because US list prices carry neither a VAT nor, for a US-built entrant, a vehicle duty:

    net ratio = (P_abroad / (1 + VAT) - duty x L / (1 + VAT_China)) / L          (L: China list)

and the entrant's US ratio net of the duty it pays, (p_US - duty_US) / L (both at the market's
trim-mix price scale). Each price abroad is set against the China list of the same trim (the Dolphin
Mini's 30 and 38.8 kWh Mexican versions against the Seagull's 30 and 38.88 kWh trims) at one date.
Where the source gives the profit per car abroad (Rhodium on the Seal U), its Lerner index, profit /
net price, is the markup yardstick, against the entrants' Lerner index on Rhodium's basis, which
deducts no selling cost beyond the China one (``autopact.runs.entrant_pricing``). Why an entrant's
price sits where it does, its cost parts, markup, own-price elasticity, buyers' incomes and the
incumbents priced like it: ``entrant_pricing.price_decomposition``.

Signs. When a tariff on rivals falls or rivals enter, an incumbent whose own cost is unchanged
should not raise its price unless the model shows why: ``price_signs`` lists the risers with the
decomposition (its buyers' price sensitivity before and after; a stake in an entrant), and splits
each riser's markup by its Bertrand-Nash first-order condition (``markup_terms``),

    m_j = 1 / ((1 + t_j) semi_j) + sum_{k != j} Omega_jk D_jk m_k,

into the own-demand term (its buyers' price sensitivity) and the siblings term (the margins its owner
earns on the sales it diverts to the owner's other models, weighted by diversion ratios D_jk). A rise
in the siblings term is the multi-product firm's reason: a tariff cut on the owner's imported models
raises their margins, so pushing buyers toward them pays.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from autopact.data import backtest_evidence, read_bundled
from autopact.fit.market import MarketModel
from autopact.model.demand import jacobian_parts
from autopact.model.supply import ownership_matrix
from autopact.outcomes.caveats import RISE_USD
from autopact.policy.credits import credit_change
from autopact.policy.scenario import load_scenario, parse_scenario
from autopact.runs.entrant_pricing import price_decomposition
from autopact.runs.year_change import year_decomposition
from autopact.simulate import simulate


def bundled_result(market: MarketModel, name: str, results: dict[str, Any] | None = None) -> Any:
    """The bundled scenario ``name`` solved on ``market``: from ``results`` (name -> SimulationResult,
    filled here) when given, so the back-tests of one ``validate`` solve each scenario once."""
    if results is not None and name in results:
        return results[name]
    result = simulate(load_scenario(name), market)
    if results is not None:
        results[name] = result
    return result


def credit_removal(market: MarketModel) -> dict[str, Any]:
    """The scenario that takes the 2025 credit out of the calibrated market (see the module docstring;
    the credits are ``autopact.policy.credits.credit_change``, which the 2026 baseline uses too)."""
    return {"name": "ev-credit-ends", "description": "the $7,500 EV credit ends (back-test)",
            "credits": credit_change(set(market.products["product_id"]))}


def ev_credit_backtest(market: MarketModel) -> dict[str, Any]:
    """Model BEV share without the credit against the observed share after it ended."""
    e = backtest_evidence()
    scenario = parse_scenario(credit_removal(market), "ev credit back-test")
    result = simulate(scenario, market)
    base, cf = result.metrics()
    observed = float(e["bev_share_q4_2025"]["value"])
    return {"predicted_bev_share": cf["bev_share"], "baseline_bev_share": base["bev_share"],
            "observed_bev_share": observed, "error_pp": 100 * (cf["bev_share"] - observed),
            "observed_after": {"q4_2025": observed, "jan_2026": float(e["bev_share_jan_2026"]["value"])},
            "observed_2025": float(e["bev_share_2025"]["value"]),
            "source": f"{e['bev_share_q4_2025']['source']}; January 2026: {e['bev_share_jan_2026']['source']}",
            "scenario": scenario.model_dump(mode="json")}


def tariff_backtest(market: MarketModel, results: dict[str, Any] | None = None) -> dict[str, Any]:
    """The effect of the 2025 Section 232 layer (baseline against ``no-section-232``) against RFF."""
    e = backtest_evidence()
    result = bundled_result(market, "no-section-232", results)
    with_tariff, without = result.metrics()
    units = with_tariff["total_units"] / without["total_units"] - 1
    price = with_tariff["average_price_usd"] / without["average_price_usd"] - 1
    sales_range = (e["rff_25pct_tariff_sales_change_low"]["value"], e["rff_25pct_tariff_sales_change_high"]["value"])
    price_range = (e["rff_25pct_tariff_price_change_low"]["value"], e["rff_25pct_tariff_price_change_high"]["value"])
    return {"sales_change": units, "price_change": price,
            "published": {"sales_change": list(sales_range), "price_change": list(price_range),
                          "source": e["rff_25pct_tariff_sales_change_low"]["source"],
                          "note": "RFF's tariff covers parts too; autopact models vehicle tariffs only"},
            "sales_inside": sales_range[0] <= units <= sales_range[1],
            "price_inside": price_range[0] <= price <= price_range[1],
            "tariff_revenue_usd": with_tariff["tariff_revenue_usd"] - without["tariff_revenue_usd"]}


def market_2026_backtest(market: MarketModel, results: dict[str, Any] | None = None) -> dict[str, Any]:
    """The 2026 baseline's new-vehicle sales against 2025, against what 2026 showed: Cox's forecast
    of January 2026 (-2.4%) and the January-February 2026 annual rates (15.2-15.6 million) over 2025's
    16.19 million implied by Cox's own -2.4% to 15.8 million. Inside [lowest rate, Cox] passes. With
    each change from 2025 to 2026 switched on alone (``autopact.runs.year_change``)."""
    e = backtest_evidence()
    result = bundled_result(market, "baseline-2026", results)
    base, cf = result.metrics()
    change = cf["total_units"] / base["total_units"] - 1
    cox = float(e["sales_change_2026_cox_forecast"]["value"])
    units_2025 = float(e["sales_2026_cox_forecast_million"]["value"]) / (1 + cox)  # the base of Cox's change
    rates = [float(e[k]["value"]) / units_2025 - 1 for k in ("sales_saar_jan_2026_million", "sales_saar_feb_2026_million")]
    low, high = min(rates + [cox]), max(rates + [cox])
    return {"predicted_sales_change": change, "predicted_bev_share": cf["bev_share"],
            "observed": {"cox_forecast": cox, "saar_jan_feb_2026": rates}, "range": [low, high],
            "inside": low <= change <= high, "decomposition": year_decomposition(market, 2026, result),
            "pull_ahead_bound": pull_ahead_bound(e, units_2025, [low, high]),
            "source": f"{e['sales_change_2026_cox_forecast']['source']}; {e['sales_saar_jan_2026_million']['source']}; "
                      f"{e['sales_saar_feb_2026_million']['source']}"}


def pull_ahead_bound(e: dict[str, dict[str, Any]], units_2025: float, observed: list[float]) -> dict[str, Any]:
    """Like with like: 2025 sales held purchases pulled ahead of the tariffs (J.D. Power: 149,000 in
    March-April 2025). If every one came out of 2026 (the source does not say; the upper bound), a 2026
    base without them is units_2025 - P, and the observed range over it moves up by P / (units_2025 - P)
    x (1 + change): the most a like-with-like comparison can move the range."""
    pulled = float(e["sales_pull_ahead_tariffs_mar_apr_2025"]["value"]) / 1e6
    moved = [(1 + c) * units_2025 / (units_2025 - pulled) - 1 for c in observed]
    return {"pulled_ahead_million": pulled, "range_if_all_from_2026": moved,
            "source": e["sales_pull_ahead_tariffs_mar_apr_2025"]["source"]}


SIGN_SCENARIOS = {"no-section-232": "a tariff on rivals falls", "ford-byd-jv": "rivals enter",
                  "chinese-imports-mfn": "rivals enter"}


def semi_elasticity(market: MarketModel, prices: np.ndarray) -> np.ndarray:
    """Each product's own-price semi-elasticity -d ln s_j / d p_j at consumer ``prices``: the buyers'
    price sensitivity that sets a single-product markup, p_j - c_j ~ 1 / semi-elasticity."""
    delta = market.xi - market.demand.alpha * prices
    shares, lam, gamma = jacobian_parts(delta, prices, market.demand)
    return -(lam - np.diag(gamma)) / shares


def markup_terms(market: MarketModel, consumer_prices: np.ndarray, markups: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray]:
    """The two terms of each product's markup in the first-order condition (module docstring): the
    own-demand term 1 / semi_j (dollars; without the 1 + t_j of a tax on the price) and the siblings
    term sum_{k != j} Omega_jk D_jk m_k, with D_jk = -(ds_k/dp_j) / (ds_j/dp_j). Untaxed and
    unconstrained, the two add up to the markup; what is left is the tax factor or a shadow cost."""
    delta = market.xi - market.demand.alpha * consumer_prices
    shares, lam, gamma = jacobian_parts(delta, consumer_prices, market.demand)
    jac = np.diag(lam) - gamma
    own = np.diag(jac).copy()
    diversion = -jac.T / own[:, None]
    np.fill_diagonal(diversion, 0.0)
    omega = ownership_matrix(market.owners, market.kappa)
    return shares / -own, (omega * diversion) @ markups


def price_signs(market: MarketModel, names: dict[str, str] | None = None,
                results: dict[str, Any] | None = None) -> dict[str, Any]:
    """Incumbents whose cost the scenario leaves unchanged: do their prices rise when a tariff on
    rivals falls or rivals enter? For each that rises, the decomposition: its buyers' price
    sensitivity before and after (a rise means the rival took its most price-sensitive buyers) and
    whether its owner holds a stake in an entrant (joint-venture profit weights raise its prices), and
    the change in the two terms of its markup (``markup_terms``): own demand and its owner's other
    models. A rise is explained by a stake, a fall in its buyers' price sensitivity (own term up) or
    a rise in the siblings term."""
    out = {}
    for name, what in (names or SIGN_SCENARIOS).items():
        result = bundled_result(market, name, results)
        base = result.baseline.products.set_index("product_id")
        cf = result.counterfactual.products.set_index("product_id")
        same = [pid for pid in cf.index if pid in base.index and abs(cf.at[pid, "cost"] - base.at[pid, "cost"]) < 1e-6]
        before = dict(zip(base.index, semi_elasticity(result.baseline_market, base["consumer_price"].to_numpy())))
        after = dict(zip(cf.index, semi_elasticity(result.market, cf["consumer_price"].to_numpy())))
        terms_before = {pid: pair for pid, pair in zip(base.index, zip(*markup_terms(
            result.baseline_market, base["consumer_price"].to_numpy(), base["markup"].to_numpy())))}
        terms_after = {pid: pair for pid, pair in zip(cf.index, zip(*markup_terms(
            result.market, cf["consumer_price"].to_numpy(), cf["markup"].to_numpy())))}
        partners = {holder for split in result.market.stakes.loc[cf["entrant"].to_numpy(bool)].to_dict(orient="records")
                    for holder, share in split.items() if share > 0} if "entrant" in cf.columns else set()
        change = (cf.loc[same, "price"] - base.loc[same, "price"]).to_numpy()
        risers = [{"product_id": pid, "name": cf.at[pid, "name"], "price_change_usd": float(d),
                   "semi_elasticity_before": float(before[pid]), "semi_elasticity_after": float(after[pid]),
                   "owner_holds_entrant_stake": cf.at[pid, "owner"] in partners,
                   "own_term_change_usd": float(terms_after[pid][0] - terms_before[pid][0]),
                   "siblings_term_change_usd": float(terms_after[pid][1] - terms_before[pid][1])}
                  for pid, d in zip(same, change) if d > RISE_USD]
        risers.sort(key=lambda r: -r["price_change_usd"])
        explained = [r for r in risers if r["owner_holds_entrant_stake"]
                     or r["semi_elasticity_after"] < r["semi_elasticity_before"] or r["siblings_term_change_usd"] > 0]
        weights = cf.loc[same, "units"].to_numpy()
        driven = {"own_demand": sum(r["own_term_change_usd"] >= r["siblings_term_change_usd"] for r in risers),
                  "siblings": sum(r["own_term_change_usd"] < r["siblings_term_change_usd"] for r in risers)}
        out[name] = {"what": what, "incumbents_same_cost": len(same), "rising": len(risers), "larger_term": driven,
                     "explained": len(explained), "mean_price_change_usd": float(np.average(change, weights=weights)),
                     "largest_rises": risers[:10]}
    return out


ENTRY_SCENARIOS = ("ford-byd-jv", "ford-geely-jv", "open-entry-us-plants", "chinese-imports-mfn", "canada-style-quota")


def export_price_yardsticks(china_vat_pct: float) -> dict[str, Any]:
    """Each case of ``export_prices.csv``: gross and net (of VAT and duty) price over China list, and
    the Lerner index abroad where the profit per car is sourced (see the module docstring)."""
    cases = {}
    for row in read_bundled("export_prices.csv").to_dict(orient="records"):
        prices = [float(v) for v in str(row["price_abroad"]).split("-")]
        listed = float(row["china_list"])
        customs = listed / (1 + china_vat_pct / 100)
        vat = 1 + float(row["vat_abroad_pct"]) / 100
        net = [(prices[0] / vat - float(row["duty_high_pct"]) / 100 * customs) / listed,
               (prices[-1] / vat - float(row["duty_low_pct"]) / 100 * customs) / listed]
        margin = row.get("margin_abroad")
        cases[row["case"]] = {
            "model": row["model"], "market": row["market"], "gross_ratio": [p / listed for p in (prices[0], prices[-1])],
            "net_ratio": net, "lerner": None if margin is None or np.isnan(float(margin))
            else float(margin) / (np.mean(prices) / vat), "source": row["price_source"], "taxes": row["tax_source"]}
    return {"cases": cases, "net_ratio": [min(c["net_ratio"][0] for c in cases.values()),
                                          max(c["net_ratio"][1] for c in cases.values())],
            "lerner": [c["lerner"] for c in cases.values() if c["lerner"] is not None]}


def entry_yardsticks(market: MarketModel, names: tuple[str, ...] = ENTRY_SCENARIOS,
                     results: dict[str, Any] | None = None) -> dict[str, Any]:
    """Each bundled entry scenario against what Chinese makers did abroad: the largest entrant
    model's share of the market, the Chinese-brand entrants' total share, and each entrant's US
    price net of the duty it pays over its China list price, and its Lerner index, the maker's and on
    Rhodium's basis (``backtest_evidence.csv``, ``export_prices.csv``), with each entrant's price
    decomposition (``entrant_pricing.price_decomposition``)."""
    e = {k: float(v["value"]) for k, v in backtest_evidence().items() if k.startswith("chinese_")}
    out = {}
    for name in names:
        result = bundled_result(market, name, results)
        cf = result.counterfactual.products
        total = float(cf["units"].sum())
        entrants = cf[cf["product_id"].str.startswith("entrant--")]
        largest = entrants.sort_values("units").iloc[-1] if len(entrants) else None
        decomposition = price_decomposition(result)
        out[name] = {"entrant_units": float(entrants["units"].sum()), "entrant_share": float(entrants["units"].sum()) / total,
                     "largest_model": None if largest is None else largest["name"],
                     "largest_model_share": 0.0 if largest is None else float(largest["units"]) / total,
                     "price_to_china_list": {d["name"]: d["price_to_china_list"] for d in decomposition},
                     "lerner": {d["name"]: d["lerner"] for d in decomposition},
                     "lerner_rhodium_basis": {d["name"]: d["lerner_rhodium_basis"] for d in decomposition},
                     "price_decomposition": decomposition}
    exports = export_price_yardsticks(market.parameters["china_vat_pct"])
    return {"scenarios": out,
            "yardsticks": {"single_model_share": [e["chinese_model_share_abroad_low"], e["chinese_model_share_abroad_high"]],
                           "brand_share_year3": [e["chinese_brand_share_year3_low"], e["chinese_brand_share_year3_high"]],
                           "export_price_ratio": exports["net_ratio"], "export_lerner": exports["lerner"]},
            "export_prices": exports["cases"],
            "note": "entry scenarios describe an entrant's year entrant_years_on_sale (default 3); Chinese brands "
                    "abroad sold 10+ models by their third year, the scenarios 2-5; price ratios net of VAT and duties; "
                    "Lerner index abroad on Rhodium's basis (no selling cost beyond the China one deducted), "
                    "entrants' on the same basis in lerner_rhodium_basis"}
