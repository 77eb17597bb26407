"""Caveats a result carries: where the model is known to disagree with what happened in car markets,
where its equilibrium path from today's prices ended before the scenario (``equilibrium_path_ended``),
where it moves production between the US and abroad faster than plants can (``assembly_shift``), and
where it passes cost changes into prices beyond the evidence (``cost_pass_through``).

Incumbents' price rises. When rivals become cheaper (a tariff or cost of theirs falls, a credit
goes to them) or new rivals enter, an incumbent whose own cost and tax are unchanged should lower or
hold its price: prices are strategic complements, and the evidence says so (the 1981 VER on Japanese
cars raised US makers' prices about 1%, Berry, Levinsohn and Pakes 1999; incumbents cut prices when
BYD and GWM entered Brazil and Australia: ``backtest_evidence.csv``). In this model, where price
sensitivity comes from income, a cheaper rival takes an incumbent's most price-sensitive buyers and
leaves it buyers who are less so, and its first-order condition, m_j = 1 / semi_j + sum_k Omega_jk
D_jk m_k, then asks a higher markup (``autopact validate`` splits each riser's markup into the two
terms). A result where that happens says so, with how many, how much and the largest, so that a
reader takes the incumbents' price and margin changes as biased upward (README, "Known limits of the
2025 calibration").
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from autopact.data import backtest_evidence
from autopact.outcomes.low_income import low_income_bev_buyers
from autopact.outcomes.metrics import us_assembled_units
from autopact.outcomes.profit_peaks import announced_between_peaks, near_tied_peaks

RISE_USD = 1.0  # a change above a dollar counts (the solver agrees to ~1e-9 of a price)
SAME_USD = 1e-6  # a cost or tax wedge that moved by less is unchanged (rounding of the same arithmetic)
# Reporting thresholds (conventions, not estimates): a rise is material when one model rises by more
# than MATERIAL_SHARE of its price, the size of the US makers' rise BLP (1999) attribute to the VER
# (about 1%), or the units-weighted mean by more than a tenth of that.
MATERIAL_SHARE = 0.01
MATERIAL_MEAN_SHARE = 0.001
# A reporting convention, not an estimate: a change of US-assembled units above this share of the
# baseline's is a shift of production that plants make over years (``assembly_shift``)
ASSEMBLY_SHIFT_SHARE = 0.05


def incumbent_price_rises(baseline: Any, counterfactual: Any) -> dict[str, Any] | None:
    """The caveat for two solved states (``outcomes.state.State``) when rivals only became cheaper
    or entered (none dearer: otherwise the expected sign is unclear) and incumbents with unchanged
    cost and tax wedge raise their price materially (their units-weighted mean by more than
    ``MATERIAL_MEAN_SHARE`` of their mean price, or one by more than ``MATERIAL_SHARE`` of its
    price); None otherwise. Models of a firm that owns or holds a stake in an entrant are left out:
    they price against their own new model, a reason the model shows."""
    base, cf, common, cost_change, wedge_change = _compared(baseline, counterfactual)
    new = cf.index.difference(base.index)
    cheaper = int(np.sum((cost_change < -RISE_USD) | (wedge_change < -RISE_USD)))
    dearer = int(np.sum((cost_change > RISE_USD) | (wedge_change > RISE_USD)))
    if dearer or not (len(new) or cheaper):  # the expected sign is clear only when rivals only got cheaper or entered
        return None
    stake_rows = counterfactual.stakes.set_index(counterfactual.products["product_id"]).loc[new] \
        if len(new) and counterfactual.stakes is not None else None
    partners = set() if stake_rows is None else {o for o in stake_rows.columns if (stake_rows[o] > 0).any()}
    unchanged = common[(np.abs(cost_change) < SAME_USD) & (np.abs(wedge_change) < SAME_USD)]
    same = unchanged[~cf.loc[unchanged, "owner"].isin(partners).to_numpy()]  # a partner prices against its entrant
    change = (cf.loc[same, "price"] - base.loc[same, "price"]).to_numpy(float)
    rising = change > RISE_USD
    if not len(same) or not rising.any():
        return None
    top = int(np.argmax(change))
    mean = float(np.average(change, weights=cf.loc[same, "units"].to_numpy(float)))
    level = float(np.average(base.loc[same, "price"].to_numpy(float), weights=cf.loc[same, "units"].to_numpy(float)))
    if mean <= MATERIAL_MEAN_SHARE * level and change[top] <= MATERIAL_SHARE * float(base.at[same[top], "price"]):
        return None
    why = (f"{len(new)} new model(s) entered" if len(new) else "") + (" and " if len(new) and cheaper else "") + \
        (f"{cheaper} rival model(s) became cheaper" if cheaper else "")
    left_out = (f" (the {len(unchanged) - len(same)} models of {', '.join(sorted(partners))}, which own or hold a "
                "stake in an entrant and price against it, are left out)" if len(unchanged) > len(same) else "")
    text = (f"{int(rising.sum())} of {len(same)} models whose cost and tax are unchanged raise their price "
            f"(units-weighted mean of all {len(same)}: {_dollars(mean)}; largest: {cf.at[same[top], 'name']} "
            f"{_dollars(change[top])}) although {why}{left_out}. Here a cheaper rival takes an incumbent's most "
            "price-sensitive buyers and leaves it less price-sensitive ones; in car markets incumbents' prices fell "
            "or held when rivals got cheaper or entered (BLP 1999; Brazil and Australia after Chinese entry), so "
            "read incumbents' price and profit changes as biased upward (README, Known limits of the 2025 "
            "calibration; autopact validate splits each riser's markup).")
    return {"kind": "incumbent_price_rises", "text": text, "incumbents_same_cost": int(len(same)),
            "rising": int(rising.sum()), "mean_price_change_usd": mean, "entrant_partners": sorted(partners),
            "largest": {"product_id": str(same[top]), "name": str(cf.at[same[top], "name"]),
                        "price_change_usd": float(change[top])}}


def _compared(baseline: Any, counterfactual: Any) -> tuple[pd.DataFrame, pd.DataFrame, pd.Index, np.ndarray, np.ndarray]:
    """The two states' products by id, the ids in both, and each one's change in cost and in tax wedge
    (consumer less producer price), in that order."""
    base = baseline.products.set_index("product_id")
    cf = counterfactual.products.set_index("product_id")
    common = cf.index.intersection(base.index)
    cost_change = (cf.loc[common, "cost"] - base.loc[common, "cost"]).to_numpy(float)
    wedge_change = ((cf["consumer_price"] - cf["price"]).reindex(common)
                    - (base["consumer_price"] - base["price"]).reindex(common)).to_numpy(float)
    return base, cf, common, cost_change, wedge_change


def _dollars(value: float) -> str:
    return f"{'-' if value < 0 else '+'}${abs(value):,.0f}"


def equilibrium_path_ended(baseline: Any, counterfactual: Any) -> dict[str, Any] | None:
    """The caveat of a result whose equilibrium path from today's prices ended before the scenario
    (``autopact.model.continuation``: a fold, or the path's budget; ``solver.path_ended`` and
    ``path_jumps``): the search for prices went on from there and may have settled on another of the
    market's equilibria, so some prices moved by the switch, not by the policy. It names the three
    largest moves among models whose own cost is unchanged, ranked by |change of price| - |change of its
    own wedge| (a heuristic: in a later year's baseline every model's wedge moves with fuel prices and the
    EV credit, and a wedge moves its producer price by (rho - 1) times itself, rho the pass-through to
    buyers, which the bundled demand puts above 1, so a listed move may hold some of its own wedge's
    effect and of rivals' wedges'; the wedge change is listed beside it), with their units; None where the
    path reached the end."""
    solver = counterfactual.solver or {}
    ended = sorted({*solver.get("path_ended", []), *solver.get("path_jumps", [])})
    if not ended:
        return None
    base, cf, common, cost_change, wedge_change = _compared(baseline, counterfactual)
    same = np.abs(cost_change) < SAME_USD
    change = (cf.loc[common, "price"] - base.loc[common, "price"]).to_numpy(float)
    beyond = np.where(same, np.abs(change) - np.abs(wedge_change), -np.inf)
    order = [k for k in np.argsort(-beyond)[:3] if beyond[k] > RISE_USD]
    largest = [{"product_id": str(common[k]), "name": str(cf.at[common[k], "name"]), "price_change_usd": float(change[k]),
                "wedge_change_usd": float(wedge_change[k]),
                "units_before": float(base.at[common[k], "units"]), "units_after": float(cf.at[common[k], "units"])}
               for k in order]
    moves = ", ".join(f"{m['name']} {_dollars(m['price_change_usd'])} ({m['units_before']:,.0f} -> "
                      f"{m['units_after']:,.0f} units" + (f"; its tax wedge {_dollars(m['wedge_change_usd'])}"
                                                         if abs(m["wedge_change_usd"]) >= RISE_USD else "") + ")"
                      for m in largest)
    text = (f"the equilibrium was followed from today's prices to {', '.join(f'{t:.0%}' for t in ended)} of the way "
            "to this scenario and stopped there: the prices it followed ceased to be an equilibrium (a cheap model's "
            "owner came to earn as much at a low price as at a high one: a fold), or the following ran out of steps. "
            "The search for prices went on from that point and may have settled on another of the market's "
            f"equilibria. The largest moves of models whose own cost is unchanged: {moves or 'none'}; read "
            "such moves as possibly the switch of equilibrium rather than the policy's effect (README, Several "
            "equilibria).")
    return {"kind": "equilibrium_path_ended", "text": text, "path_ended": ended, "largest": largest}


# A model's cost change counts when it is at least this share of its price (a tariff or a catch-up of one;
# rounding and tiny wedges of other levers fall below it). A reporting convention, not an estimate.
PASS_THROUGH_COST_SHARE = 0.005
# The model's own pass-through of a tariff alone, as ``autopact validate`` measures it (a 5% tariff on
# Japanese-built vehicles: 1.61 on the bundled calibration), to one decimal for the caveat's text;
# tests/runs/test_backtest_summary.py fails when the bundled back-test snapshot says otherwise.
MODEL_PASS_THROUGH = 1.6


def published_pass_through() -> tuple[float, float]:
    """Feenstra's (1989) pass-through of tariffs and exchange rates to US prices of Japanese imports, the
    lowest (trucks) and highest (motorcycles) of the products measured (``backtest_evidence.csv``)."""
    e = backtest_evidence()
    return float(e["tariff_pass_through_low"]["value"]), float(e["tariff_pass_through_high"]["value"])


def cost_pass_through_rows(baseline: Any, counterfactual: Any) -> dict[str, Any]:
    """The models whose cost changes from ``baseline`` to ``counterfactual`` by ``PASS_THROUGH_COST_SHARE`` of
    their price or more (``changed``, over ``common``: the ids in both), their cost and price changes, and
    the units-weighted price change per cost change in the direction of each cost change,

        rate = sum_j q_j sign(dc_j) dp_j / sum_j q_j |dc_j|     (q_j baseline units),

    None where no cost changed."""
    base, cf, common, cost_change, _ = _compared(baseline, counterfactual)
    price_change = (cf.loc[common, "price"] - base.loc[common, "price"]).to_numpy(float)
    changed = np.abs(cost_change) >= PASS_THROUGH_COST_SHARE * base.loc[common, "price"].to_numpy(float)
    units = base.loc[common, "units"].to_numpy(float)
    rate = (float(units[changed] @ (np.sign(cost_change[changed]) * price_change[changed])
                  / (units[changed] @ np.abs(cost_change[changed]))) if changed.any() else None)
    return {"base": base, "common": common, "changed": changed, "cost_change": cost_change,
            "price_change": price_change, "units": units, "rate": rate}


def cost_pass_through(baseline: Any, counterfactual: Any) -> dict[str, Any] | None:
    """The caveat of a result whose models with a changed cost move their prices by more than that cost
    change: the units-weighted price change per cost change, in the direction of each cost change,

        rate = sum_j q_j sign(dc_j) dp_j / sum_j q_j |dc_j|     (q_j baseline units; |dc_j| >= 0.5% of p_j),

    with every other change of the scenario (wedges, entrants, another equilibrium) in the same run, so it
    is the scenario's price change per cost change, not a pass-through measured alone. It is set beside the
    evidence on a tariff alone, Feenstra's (1989) 0.6 (trucks) to 1 (motorcycles) for Japanese imports
    (``backtest_evidence.csv``), and the model's own pass-through of a tariff alone (``MODEL_PASS_THROUGH``),
    on a 5% tariff on
    Japanese-built vehicles (``autopact validate``). Price sensitivity from income makes a dearer model
    lose its poorest buyers first and raise its markup with its cost. None where no cost moved or the
    rate is at most the evidence's upper end."""
    found = cost_pass_through_rows(baseline, counterfactual)
    rate = found["rate"]
    low, high = published_pass_through()
    if rate is None or rate <= high:
        return None
    count = int(found["changed"].sum())
    text = (f"the {count} model{'s' if count != 1 else ''} whose cost this scenario changes move{'' if count != 1 else 's'} "
            f"{'their' if count != 1 else 'its'} price{'s' if count != 1 else ''} by {rate:.2f} times the cost change "
            "(units-weighted, in the direction of the cost, with the scenario's other changes in the same run). The "
            f"evidence on a tariff alone puts its pass-through to US car prices at about {low:g} to {high:g} (Feenstra "
            f"1989, Japanese imports), and this model passes a tariff alone through at about {MODEL_PASS_THROUGH:g} "
            "(autopact validate): "
            "read the price changes of models whose cost changes, and the sales they lose or gain, as larger than the "
            "evidence supports (docs/backtests.md, The first months of 2026).")
    return {"kind": "cost_pass_through", "text": text, "models": count, "pass_through": rate,
            "published": [low, high]}


def assembly_shift(baseline: Any, counterfactual: Any) -> dict[str, Any] | None:
    """The caveat of a result whose US-assembled units move by more than ``ASSEMBLY_SHIFT_SHARE`` of
    the baseline's: the model moves production between the US and abroad at once, with the prices,
    and gives incumbents' US plants no capacity, where re-tooling a plant for another model takes about
    a year and a new plant three or more (``backtest_evidence.csv``). None where the shift is smaller or
    the market does not state assembly countries (an estimated market)."""
    before, after = us_assembled_units(baseline), us_assembled_units(counterfactual)
    if before is None or after is None or before <= 0 or abs(after - before) <= ASSEMBLY_SHIFT_SHARE * before:
        return None
    e = backtest_evidence()
    idle, lead = float(e["us_plant_capacity_idle_2024"]["value"]), float(e["us_plant_lead_time_years"]["value"])
    text = (f"US-assembled units change by {after - before:+,.0f} ({after / before - 1:+.1%}): the model moves "
            "production between the US and abroad at once, with the prices, and gives incumbents' US plants no "
            f"capacity. About {idle:.0%} of US assembly capacity stood idle at the end of 2024, so a shift this size "
            "fits in existing plants in total but not plant by plant (some makers' plants ran near capacity), and "
            f"re-tooling a plant for another model takes about a year, a new plant {lead:g} years or more. Read the "
            "assembly and jobs lines as where the scenario's prices lead over several years, not as one year's change.")
    return {"kind": "assembly_shift", "text": text, "us_assembled_units_change": after - before,
            "share_of_baseline": after / before - 1}


def caveats(baseline: Any, counterfactual: Any, result: Any = None) -> list[dict[str, Any]]:
    """Every caveat of a result (a list, empty when none applies): those of its two solved states,
    and with the ``result`` itself (its markets), the low-income buyers' of new BEVs
    (``autopact.outcomes.low_income``), new models at a near tie of their owner's profit peaks and new
    products announced at a price between two of them (``autopact.outcomes.profit_peaks``)."""
    found = [incumbent_price_rises(baseline, counterfactual), equilibrium_path_ended(baseline, counterfactual),
             assembly_shift(baseline, counterfactual), cost_pass_through(baseline, counterfactual),
             None if result is None else low_income_bev_buyers(result),
             None if result is None else near_tied_peaks(result),
             None if result is None else announced_between_peaks(result)]
    return [caveat for caveat in found if caveat]
