"""Accounting identities of every bundled scenario and variant (audit #10).

For the baseline and the counterfactual of each: the FOCs hold at the reported prices (recomputed
with ``supply.foc_residual``, binding quotas' and plants' shadow costs added to their products);
units are M s_j(p) recomputed from demand; firms' units and profits add up to the totals and the
nationality shares to one; each product's profit is (p - c) q plus any quota rent and its tariff
revenue (tau v + T) q less that rent; HHI, US-assembled units, jobs and consumer surplus follow
from the rows.
"""

import numpy as np
import pytest

from autopact.data.tariffs import US
from autopact.model.demand import consumer_surplus, shares
from autopact.model.supply import foc_residual, ownership_matrix
from autopact.outcomes.document import result_json
from autopact.policy.dated import evaluated
from autopact.policy.scenario import bundled_scenarios, load_scenario
from autopact.policy.variants import scenario_variants

RUNS = [(name, label) for name in sorted(bundled_scenarios()) for label, _ in scenario_variants(load_scenario(name))]


def _shadow_costs(result, state, market):
    """Shadow cost of each product from the binding quotas and plant capacities of a state (and from a
    plant below capacity at a jump, whose products price at the shadow cost of the jump)."""
    shadow = np.zeros(len(state.products))
    quotas = {q.name: q for q in getattr(evaluated(result.scenario), "quotas", [])}  # dated: the year's rows
    for c in state.constraints:
        if not (c.get("binding") or c.get("jump")) or not c.get("shadow_cost_usd"):
            continue
        kind, _, name = c["name"].partition(": ")
        if kind == "plant":  # a plant's capacity is shared by the models it builds
            ids = next(ids for plant, ids, _ in market.capacities if plant == name)
            group = state.products["product_id"].isin(ids).to_numpy()
        else:
            q = quotas[name]
            group = market.origin[q.origin].to_numpy() == 1.0
            if q.powertrain:
                group &= state.products["powertrain"].isin(q.powertrain).to_numpy()
            group &= q.in_price_band(state.products["customs_value"].to_numpy(float))  # a sub-quota
        shadow[group] += c["shadow_cost_usd"]
    return shadow


@pytest.mark.parametrize("name, label", RUNS, ids=[label for _, label in RUNS])
def test_accounting_identities(bundled_results, name, label):
    result = bundled_results[name, label]
    document = result_json(result)
    assert result.counterfactual.solver["converged"]
    for block, state, market in (("baseline", result.baseline, result.baseline_market),
                                 ("counterfactual", result.counterfactual, result.market)):
        out = document[block]
        rows = state.products
        p, c, q = rows["price"].to_numpy(), rows["cost"].to_numpy(), rows["units"].to_numpy()
        consumer = market.taxes.consumer_prices(p)
        delta = market.xi - market.demand.alpha * consumer
        # the FOCs at the reported prices, with binding constraints' shadow costs
        omega = ownership_matrix(market.owners, market.kappa)
        residual = foc_residual(p, c + _shadow_costs(result, state, market), market.xi, market.demand, omega,
                                market.taxes)
        live = q > 0
        assert np.max(np.abs(residual[live])) < 1e-11, (block, "FOC")  # measured at most 9.3e-13
        # units from demand at those prices; totals
        np.testing.assert_allclose(q, market.market_size * shares(delta, consumer, market.demand), rtol=1e-14)
        total = out["total_units"]
        assert q.sum() == pytest.approx(total, rel=1e-14)
        firms = document["firms"]
        key = "baseline" if block == "baseline" else "counterfactual"
        assert sum(f[f"units_{key}"] for f in firms) == pytest.approx(total, rel=1e-12)
        assert sum(out["units_by_nationality"].values()) == pytest.approx(total, rel=1e-12)
        assert sum(out["units_share_by_nationality"].values()) == pytest.approx(1.0, rel=1e-12)
        # profit: product rows = firms (joint ventures split to parents) = the total
        profit = rows["profit"].to_numpy()
        assert sum(f[f"profit_{key}_usd"] for f in firms) == pytest.approx(profit.sum(), rel=1e-12)
        assert sum(out["profit_by_nationality_usd"].values()) == pytest.approx(profit.sum(), rel=1e-12)
        assert out["total_profit_usd"] == pytest.approx(profit.sum(), rel=1e-14)
        # revenue: (tau v + T) q, less the rent of the quota's units above a quota, which goes to profit
        rent = profit - (p - c) * q
        assert np.all(rent >= -1e-9 * np.abs(profit).max())
        duty = (rows["tariff_rate"] * rows["customs_value"] + rows["tariff_specific"]).to_numpy() * q
        np.testing.assert_allclose(rows["tariff_revenue"] + rent, duty, rtol=1e-12, atol=1e-6)
        assert out["tariff_revenue_usd"] == pytest.approx(rows["tariff_revenue"].sum(), rel=1e-14, abs=1e-9)
        # cost = cost before tariffs + duty per vehicle
        np.testing.assert_allclose(c, rows["base_cost"] + duty / np.where(q > 0, q, 1.0), rtol=1e-12)
        # concentration, assembly, jobs, consumer surplus
        shares_by_firm = np.array([f[f"units_{key}"] for f in firms]) / total
        assert out["hhi"] == pytest.approx(10_000 * (shares_by_firm ** 2).sum(), rel=1e-12)
        if out["us_assembled_units"] is not None:
            us = market.origin[US].to_numpy() if US in market.origin.columns else np.zeros(len(q))
            assert out["us_assembled_units"] == pytest.approx(us @ q, rel=1e-12)
            per_worker = result.parameters.get("vehicles_per_assembly_worker")  # none on BLP's 1990 market
            assert out["us_assembly_jobs"] == (None if per_worker is None else pytest.approx(us @ q / per_worker,
                                                                                               rel=1e-12))
        assert out["consumer_surplus_usd"] == pytest.approx(
            consumer_surplus(delta, consumer, market.demand, market.market_size), rel=1e-14)
