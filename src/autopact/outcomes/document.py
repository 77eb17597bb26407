"""The result of a scenario and its document (the JSON contract), for any market.

``compare`` measures the baseline and the counterfactual with the same metrics and writes
``scenario, market, baseline, counterfactual, change, firms, products, entrant_costs, announced_costs, constraints,
assumptions, caveats, solver`` (and ``warnings`` where the market has them). Every money value is in the
market's unit (``market.money``).

The document is strict JSON: a number that is not finite (NaN from an undefined ratio, infinity
from an overflow) is written as null and listed under ``non_finite`` with its path and the reason
(``finite_document``); finite numbers are never changed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from autopact.data import policy_parameters
from autopact.data.assumptions import dated_assumptions, projection_assumptions
from autopact.fit.market import MarketModel
from autopact.outcomes.caveats import caveats
from autopact.outcomes.metrics import METRIC_PARAMETERS, difference, firm_table, metrics, product_rows
from autopact.outcomes.state import State
from autopact.policy.dated import is_dated

PRODUCT_COLUMNS = ("product_id", "name", "owner", "nationality", "segment", "powertrain", "entrant", "origin",
                   "price", "consumer_price", "units", "cost", "profit", "tariff_rate", "tariff_revenue",
                   "us_assembled_units")


@dataclass
class SimulationResult:
    """A scenario's baseline and counterfactual, solved in the same run from the same market."""

    scenario: Any  # autopact.policy.scenario.Scenario
    baseline_market: MarketModel
    market: MarketModel  # the counterfactual market (the scenario applied)
    baseline: State
    counterfactual: State

    @property
    def parameters(self) -> dict[str, float]:
        """The policy parameters of the scenario (the market's, with the scenario's overrides)."""
        return self.market.parameters

    def outcome(self) -> dict[str, Any]:
        """Baseline and scenario metrics, their difference and the solver's facts (a run's record)."""
        base, cf = self.metrics()
        solver = self.counterfactual.solver
        return finite_document({"status": "ok", "baseline": base, "counterfactual": cf, "change": difference(base, cf),
                                "solver": {key: solver[key] for key in ("converged", "iterations", "max_foc_residual")}})

    def metrics(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """Headline numbers of the baseline and the counterfactual, both at the scenario's parameters."""
        params = self.parameters
        return baseline_metrics(self.baseline, self.baseline_market, params), metrics(self.counterfactual, self.market,
                                                                                      params)


# The last baseline measured: (state, market, the parameters metrics reads, metrics). A run's cost/policy
# draws share one solved baseline and market (``runs.execution.Shared``).
_LAST_BASELINE: list[tuple[State, MarketModel, tuple, dict[str, Any]]] = []


def baseline_metrics(state: State, market: MarketModel, params: dict[str, float]) -> dict[str, Any]:
    """``metrics(state, market, params)``, measured once for a run of draws on the same baseline: the
    same state of the same market with the same values of the parameters metrics reads
    (``metrics.METRIC_PARAMETERS``) gets a copy of the numbers measured before (about 3 ms a draw)."""
    key = tuple(params.get(name) for name in METRIC_PARAMETERS)
    last = _LAST_BASELINE[0] if _LAST_BASELINE else None  # one read: another thread may replace it
    if last is not None and last[0] is state and last[1] is market and last[2] == key:
        found = last[3]
    else:
        found = metrics(state, market, params)
        _LAST_BASELINE[:] = [(state, market, key, found)]
    return {k: dict(v) if isinstance(v, dict) else v for k, v in found.items()}


def assumptions(result: SimulationResult) -> list[dict[str, Any]]:
    """Every assumption behind the result: the market's, the policy parameters in force (with their
    sources, marked where the scenario changed them) and the modelling choices."""
    market, params = result.market, result.parameters
    rows = list(market.assumptions)
    if market.parameters:
        rows += [{"name": name, "value": params[name], "unit": row["unit"], "source": row["source"],
                  "confidence": row["confidence"], "kind": "policy parameter",
                  "changed_by_scenario": name in result.scenario.parameters}
                 for name, row in policy_parameters().iterrows()]
    if is_dated(result.scenario):  # the choices that decided which dated levers were in force
        rows += [{"name": a.name, "value": a.value, "unit": a.unit, "source": a.source, "reason": a.reason,
                  "kind": "dated-lever assumption"} for a in dated_assumptions()]
    if any(e.decision is not None for e in result.scenario.entrants):  # a build path from a plant decision
        rows += [{"name": a.name, "value": a.value, "unit": a.unit, "source": a.source, "reason": a.reason,
                  "kind": "projection assumption"} for a in projection_assumptions()]
    return rows + list(market.notes)


def result_json(result: SimulationResult) -> dict[str, Any]:
    """The JSON contract: scenario, market, baseline, counterfactual, change, firms, products,
    entrant_costs, announced_costs (new products' costs from their announced prices:
    ``policy.new_products.rationalised_costs``), constraints, assumptions, caveats (``outcomes.caveats``: where the model is known
    to disagree with car markets), solver (and warnings where the market has them)."""
    base, cf = result.metrics()
    market = result.market
    keep = [c for c in PRODUCT_COLUMNS if c in result.counterfactual.products.columns]
    document = {
        "scenario": {"name": result.scenario.name, "description": result.scenario.description,
                     "definition": result.scenario.model_dump(mode="json"), "excluded": market.excluded},
        "market": market.document,
        "baseline": base, "counterfactual": cf, "change": difference(base, cf),
        "firms": firm_table(result.baseline, result.counterfactual),
        "products": product_rows(result.baseline, result.counterfactual, keep),
        "entrant_costs": market.entrant_costs,
        "announced_costs": market.announced_costs,
        "constraints": result.counterfactual.constraints,
        "assumptions": assumptions(result),
    }
    if market.warnings is not None:
        document["warnings"] = list(market.warnings)
    document["caveats"] = caveats(result.baseline, result.counterfactual, result)
    document["solver"] = {**result.counterfactual.solver, "baseline": result.baseline.solver,
                          "hedonic_r2": market.hedonic_r2}
    return finite_document(document)


NON_FINITE_REASONS = {
    "nan": "not a number: the model's arithmetic was undefined here (such as 0/0 or inf - inf)",
    "inf": "infinite: the value overflowed the largest number a double holds (about 1.8e308)",
    "-inf": "minus infinity: the value overflowed the largest number a double holds (about 1.8e308)",
}


def finite_document(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` with every NaN or infinity replaced by None (JSON null), each listed under
    ``non_finite`` as {path, value, reason}; a document with none is returned unchanged. JSON has no
    NaN or Infinity, and a reader should not have to guess what a null stands for."""
    found: list[dict[str, str]] = []

    def clean(value: Any, path: str) -> Any:
        if isinstance(value, float) and not math.isfinite(value):
            kind = "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
            found.append({"path": path or "(top level)", "value": kind, "reason": NON_FINITE_REASONS[kind]})
            return None
        if isinstance(value, dict):
            return {k: clean(v, f"{path}.{k}" if path else str(k)) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [clean(v, f"{path}[{k}]") for k, v in enumerate(value)]
        return value

    cleaned = clean(document, "")
    if not found:
        return document
    return {**cleaned, "non_finite": [*document.get("non_finite", []), *found]}
