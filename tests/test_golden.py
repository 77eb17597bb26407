"""Golden results: the central ``--json`` document of every bundled scenario (and variant), as the
code gave it before the package was restructured, stays the same: same keys, every number within
1e-10 relative. A deliberate change of results regenerates the files with
``python tools/make_golden.py`` and says in its commit which numbers moved and why."""

import gzip
import json
import math
from pathlib import Path

import pytest
from rich.console import Console

from autopact.policy.scenario import bundled_scenarios, load_scenario
from autopact.runs.analyses import RunOptions, simulate_with_draws

GOLDEN = Path(__file__).parent / "golden"


def differences(expected, actual, path="", out=None, level=None) -> list[str]:
    """Every place where ``actual`` differs from ``expected``: keys, lengths, text, or numbers by more
    than 1e-10 relative (and 1e-12 absolute: solver residuals near machine precision, such as a max
    share error of 5e-15, differ between BLAS builds).

    A number under ``change`` is a difference of two levels (scenario minus baseline), so its rounding
    error is that of the levels: it is compared at 1e-10 of the baseline level beside it (``level``),
    e.g. a $0.23 change of a $46,752 average price within $4.7e-6, and a zero change of 15.9M units
    within 1.6e-3 units. A solver's iteration count (``iterations``) may differ by one: the stopping
    rule compares a norm with a tolerance, and a sum taken in another order can cross it one step
    earlier or later."""
    out = [] if out is None else out
    if isinstance(expected, dict):
        if not isinstance(actual, dict) or set(expected) != set(actual):
            out.append(f"{path}: keys {sorted(set(expected) ^ set(actual or {}))}")
            return out
        for key in expected:
            inner = level.get(key) if isinstance(level, dict) else None
            if key == "change" and isinstance(expected.get("baseline"), dict):
                inner = expected["baseline"]
            if key == "solver" and binding(expected) and isinstance(expected[key], dict):
                differences(without_iterations(expected[key]), without_iterations(actual[key]), f"{path}/{key}", out)
                continue
            differences(expected[key], actual[key], f"{path}/{key}", out, inner)
    elif isinstance(expected, list):
        if not isinstance(actual, list) or len(expected) != len(actual):
            out.append(f"{path}: length {len(expected)} vs {len(actual) if isinstance(actual, list) else actual!r}")
            return out
        for k, (a, b) in enumerate(zip(expected, actual)):
            differences(a, b, f"{path}[{k}]", out)
    elif isinstance(expected, float) and isinstance(actual, (int, float)) and not isinstance(actual, bool):
        scale = max(abs(expected), abs(actual), abs(level) if isinstance(level, (int, float)) else 0.0)
        if not (math.isnan(expected) and math.isnan(actual)) and abs(expected - actual) > max(1e-10 * scale, 1e-12):
            out.append(f"{path}: {expected!r} vs {actual!r}")
    elif path.endswith("/iterations") and type(expected) is int and type(actual) is int:
        if abs(expected - actual) > 1:
            out.append(f"{path}: {expected!r} vs {actual!r}")
    elif expected != actual:
        out.append(f"{path}: {expected!r} vs {actual!r}")
    return out


def binding(document: dict) -> bool:
    """Whether a result document has a binding plant or quota: then its solver's ``iterations`` count
    only the last solve, warm-started where the shadow-cost search left the prices, so they follow
    that search's path (a change of 1e-14 in an entrant's mean utility moved partner-comparison's
    gm-geely from 1 to 3); its numbers are compared as any others."""
    return any(isinstance(c, dict) and (c.get("binding") or c.get("jump")) for c in document.get("constraints") or [])


def without_iterations(solver):
    return {k: v for k, v in solver.items() if k != "iterations"} if isinstance(solver, dict) else solver


def central_document(name: str, store: Path) -> dict:
    """What ``autopact simulate NAME --json`` writes, without the run id."""
    document, _ = simulate_with_draws(load_scenario(name), 0, None, RunOptions(store=store), Console(quiet=True))
    document = json.loads(json.dumps(document, default=str))
    document.pop("run_id", None)
    for variant in document.get("variants", []):
        variant.pop("run_id", None)
    return document


def test_every_bundled_scenario_has_a_golden_file():
    assert sorted(p.name.removesuffix(".json.gz") for p in GOLDEN.glob("*.json.gz")) == sorted(bundled_scenarios())


@pytest.mark.parametrize("name", sorted(bundled_scenarios()))
def test_central_result_matches_the_golden_file(name, tmp_path):
    expected = json.loads(gzip.open(GOLDEN / f"{name}.json.gz", "rt").read())
    found = differences(expected, central_document(name, tmp_path / "store.duckdb"))
    assert not found, f"{len(found)} differences, first: " + "; ".join(found[:5])


def test_the_comparison_finds_a_changed_number_a_missing_key_and_changed_text():
    base = {"a": 1.0, "b": {"c": [1.0, "x"]}}
    assert not differences(base, {"a": 1.0 + 1e-12, "b": {"c": [1.0, "x"]}})
    assert not differences({"e": 5.15e-15}, {"e": 4.81e-15}) and differences({"e": 1e-9}, {"e": 1.1e-9})
    assert differences(base, {"a": 1.0 + 1e-9, "b": {"c": [1.0, "x"]}}) == ["/a: 1.0 vs 1.000000001"]
    assert differences(base, {"a": 1.0, "b": {}})[0].startswith("/b: keys")
    assert differences(base, {"a": 1.0, "b": {"c": [1.0, "y"]}}) == ["/b/c[1]: 'x' vs 'y'"]


def test_a_change_is_compared_at_the_scale_of_its_level_and_iterations_within_one():
    document = {"baseline": {"price": 46751.98, "units": {"US": 1.5e7}}, "change": {"price": -0.2289523101,
                                                                                  "units": {"US": 8.0e-8}}}
    close = {"baseline": document["baseline"], "change": {"price": -0.2289523103, "units": {"US": 1.3e-7}}}
    assert not differences(document, close)  # rounding of levels of 4.7e4 and 1.5e7
    far = {"baseline": document["baseline"], "change": {"price": -0.2289, "units": {"US": 0.5}}}
    assert differences(far, document) == ["/change/price: -0.2289 vs -0.2289523101", "/change/units/US: 0.5 vs 8e-08"]
    assert not differences({"solver": {"iterations": 74}}, {"solver": {"iterations": 73}})
    assert differences({"solver": {"iterations": 74}}, {"solver": {"iterations": 72}})
    assert differences({"baseline": {"iterations": 74}}, {"baseline": {"iterations": 74.5}})
    constrained = {"constraints": [{"binding": True}], "solver": {"iterations": 1, "converged": True}}
    assert not differences(constrained, {**constrained, "solver": {"iterations": 3, "converged": True}})
    assert differences(constrained, {**constrained, "solver": {"iterations": 3, "converged": False}})
    slack = {"constraints": [{"binding": False}], "solver": {"iterations": 1}}
    assert differences(slack, {**slack, "solver": {"iterations": 3}})
