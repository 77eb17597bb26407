"""Joint draws of a scenario's uncertain inputs, bands and one-at-a-time sensitivity.

Draws are by inversion: draw k of a run with seed s takes u_k ~ U(0,1)^n from
``numpy.random.default_rng([s, k])`` and sets input m to F_m^{-1}(u_km)
(``autopact.policy.uncertain_inputs.quantile``). A draw therefore depends on (s, k) alone, not on
which process computes it or in what order, so serial and distributed runs give the same numbers
to the bit. Inputs are independent. Bands are the 5th, 50th and 95th percentiles of each outcome
across the draws (linear interpolation, ``numpy.percentile``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from autopact.data.inputs import shown
from autopact.errors import ScenarioError
from autopact.policy.uncertain_inputs import Uncertainty, quantile

BAND_QUANTILES = {"p05": 5.0, "p50": 50.0, "p95": 95.0}


def draw_values(uncertainty: Uncertainty, centrals: dict[str, float], draw: int, seed: int,
                estimates: tuple[list[str], np.ndarray, np.ndarray] | None = None) -> dict[str, float]:
    """Draw ``draw`` of the joint distribution: {input key: value}; depends only on (seed, draw).

    An ``estimate: demand`` input draws the estimated parameters jointly, theta = theta_hat + L z
    with L L' their covariance and z ~ N(0, I) from ``default_rng([seed, draw, 1])``; its values
    are keyed ``estimate:<parameter label>``. ``estimates`` is (labels, theta_hat, L).
    """
    u = np.random.default_rng([seed, draw]).random(len(uncertainty.inputs))
    values = {}
    for item, u_m in zip(uncertainty.inputs, u):
        if item.kind == "estimate":
            if estimates is None:
                raise ValueError("an estimate input needs the estimation result's covariance")
            labels, mean, chol = estimates
            z = np.random.default_rng([seed, draw, 1]).standard_normal(len(labels))
            values.update({f"estimate:{label}": float(v) for label, v in zip(labels, mean + chol @ z)})
        else:
            values[item.key] = quantile(item, float(u_m), centrals[item.key])
    return values


def flatten(tree: Any, prefix: tuple[str, ...] = ()) -> dict[tuple[str, ...], float | None]:
    """Leaves of a nested dict of numbers, keyed by their path."""
    if isinstance(tree, dict):
        out: dict[tuple[str, ...], float | None] = {}
        for key, value in tree.items():
            out.update(flatten(value, prefix + (str(key),)))
        return out
    return {prefix: None if tree is None else float(tree)}


def unflatten(leaves: dict[tuple[str, ...], Any]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for path, value in leaves.items():
        node = tree
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
    return tree


def bands(changes: list[dict[str, Any]]) -> dict[str, Any]:
    """p05, p50 and p95 of every leaf of the ``change`` documents of the draws (same nesting).

    A leaf missing from a draw (e.g. a firm absent when an entrant is barred) counts as 0, as in
    ``autopact.outcomes.metrics.difference``; a leaf that is None in every draw gets None bands.
    """
    flat = [flatten(c) for c in changes]
    paths = list(dict.fromkeys(p for f in flat for p in f))
    out = {}
    for path in paths:
        values = np.array([v for f in flat if (v := f.get(path, 0.0)) is not None], float)
        out[path] = ({k: float(np.percentile(values, q)) for k, q in BAND_QUANTILES.items()} if len(values)
                     else {k: None for k in BAND_QUANTILES})
    return unflatten(out)


CENTRAL_NOTE = ("central: every uncertain input at its own value, one run, not one of the draws; where an outcome "
                "responds unevenly to the inputs (a plant or quota that binds in some draws, a new model at one of "
                "two profit peaks) or the draws are few, it can lie outside the draws' own 5-95% band")


def central_outside_band(central: Any, band: Any) -> bool:
    """True where a central change lies outside its band [p05, p95] (beyond a relative 1e-9, so a
    band of one repeated value holds its own central run)."""
    if not isinstance(central, (int, float)) or not isinstance(band, dict) or band.get("p05") is None:
        return False
    slack = 1e-9 * max(abs(central), abs(band["p05"]), abs(band["p95"]), 1.0)
    return central < band["p05"] - slack or central > band["p95"] + slack


def node(tree: dict[str, Any] | None, path: str) -> Any:
    """The entry at ``path`` ("units_by_nationality/China") of a nested document, {} where absent."""
    found: Any = tree or {}
    for part in path.split("/"):
        found = found.get(part, {}) if isinstance(found, dict) else {}
    return found


def leaf(tree: dict[str, Any], path: str) -> float | None:
    """The number at ``path`` ("units_by_nationality/China") of a metrics document; a key missing
    from a dict counts as 0 (as in ``autopact.outcomes.metrics.difference``), an unknown metric (or a
    path through a number) is a ScenarioError naming the outcome."""
    node: Any = tree
    parts = path.split("/")
    for k, part in enumerate(parts):
        if not isinstance(node, dict):
            raise ScenarioError(f"unknown outcome {path!r}: {'/'.join(parts[:k])} is a number, not a group of metrics")
        if part not in node:
            if k == 0:
                raise ScenarioError(f"unknown outcome {path!r}; outcomes are metric paths such as "
                                    "consumer_surplus_usd or units_by_nationality/China")
            return 0.0
        node = node[part]
    return None if node is None else float(node)


def check_outcome(path: str) -> str:
    """``path`` if it names a metric (``autopact.outcomes.metrics.METRICS``): one number
    (``consumer_surplus_usd``) or one entry of a group (``units_by_nationality/China``; an entry a
    run turns out not to have counts as 0, as in ``leaf``). Checked before any work, so an unknown
    outcome fails in a second, not after the run; a ScenarioError names the outcome otherwise."""
    from autopact.outcomes.metrics import METRICS

    if not isinstance(path, str):
        raise ScenarioError(f"outcome {shown(path)}: must be a metric path (text)")
    parts = path.split("/")
    if parts[0] not in METRICS:
        raise ScenarioError(f"unknown outcome {shown(path)}; outcomes are metric paths such as consumer_surplus_usd "
                            f"or units_by_nationality/China; metrics: {', '.join(METRICS)}")
    if not METRICS[parts[0]] and len(parts) > 1:
        raise ScenarioError(f"unknown outcome {shown(path)}: {parts[0]} is a number, not a group of metrics")
    if METRICS[parts[0]] and (len(parts) != 2 or not parts[1]):
        raise ScenarioError(f"unknown outcome {shown(path)}: {parts[0]} is a group; name one entry "
                            f"({parts[0]}/NAME)")
    return path


def default_outcomes(scenario: Any) -> list[str]:
    """Units by owners' nationality (China, US), consumer surplus, US assembly jobs and the US
    partner's profit (the first entrant's partner, or the firm launching a new product)."""
    partners = [e.partner for e in scenario.entrants if e.partner] + [p.firm for p in scenario.new_products]
    outcomes = ["units_by_nationality/China", "units_by_nationality/US", "consumer_surplus_usd", "us_assembly_jobs"]
    return outcomes + ([f"profit_by_firm_usd/{partners[0]}"] if partners else [])


def sensitivity_plan(uncertainty: Uncertainty, central_values: dict[str, float]) -> list[tuple[str, float, float]]:
    """(input key, value at its 5th percentile, value at its 95th) for each uncertain input (a joint
    ``estimate`` input has no single percentile and is left to --draws)."""
    return [(item.key, quantile(item, 0.05, central_values[item.key]), quantile(item, 0.95, central_values[item.key]))
            for item in uncertainty.inputs if item.kind != "estimate"]


def tornado(central: dict[str, Any], plan: list[tuple[str, float, float]], low: list[dict[str, Any] | None],
            high: list[dict[str, Any] | None], outcomes: list[str]) -> dict[str, list[dict[str, Any]]]:
    """For each outcome, each input's swing: the outcome's change with the input at its 5th and at its
    95th percentile (all others at their own values), sorted by |swing|, largest first. A run that
    failed to converge gives None and sorts last."""
    chart = {}
    for outcome in outcomes:
        rows = []
        for (key, value_low, value_high), lo, hi in zip(plan, low, high):
            y_low = None if lo is None else leaf(lo, outcome)
            y_high = None if hi is None else leaf(hi, outcome)
            swing = None if y_low is None or y_high is None else y_high - y_low
            rows.append({"input": key, "input_p05": value_low, "input_p95": value_high, "outcome_at_p05": y_low,
                         "outcome_at_p95": y_high, "swing": swing})
        rows.sort(key=lambda r: -abs(r["swing"]) if r["swing"] is not None else float("inf"))
        chart[outcome] = {"central": leaf(central, outcome), "inputs": rows}
    return chart
