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


def differences(expected, actual, path="", out=None) -> list[str]:
    """Every place where ``actual`` differs from ``expected``: keys, lengths, text, or numbers by more
    than 1e-10 relative (and 1e-12 absolute: solver residuals near machine precision, such as a max
    share error of 5e-15, differ between BLAS builds)."""
    out = [] if out is None else out
    if isinstance(expected, dict):
        if not isinstance(actual, dict) or set(expected) != set(actual):
            out.append(f"{path}: keys {sorted(set(expected) ^ set(actual or {}))}")
            return out
        for key in expected:
            differences(expected[key], actual[key], f"{path}/{key}", out)
    elif isinstance(expected, list):
        if not isinstance(actual, list) or len(expected) != len(actual):
            out.append(f"{path}: length {len(expected)} vs {len(actual) if isinstance(actual, list) else actual!r}")
            return out
        for k, (a, b) in enumerate(zip(expected, actual)):
            differences(a, b, f"{path}[{k}]", out)
    elif isinstance(expected, float) and isinstance(actual, (int, float)) and not isinstance(actual, bool):
        if not (math.isnan(expected) and math.isnan(actual)) and \
                abs(expected - actual) > max(1e-10 * max(abs(expected), abs(actual)), 1e-12):
            out.append(f"{path}: {expected!r} vs {actual!r}")
    elif expected != actual:
        out.append(f"{path}: {expected!r} vs {actual!r}")
    return out


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
