"""What `autopact simulate` prints for a reader: the solver line says what its count of map
evaluations counts (for a scenario with a binding plant or quota, every solve of the shadow-cost
search: a reader saw 'converged in 1 map evaluations', the last solve's, where the search took 89),
and the JSON's count is the same."""

import json
import re
from pathlib import Path

import pytest

from cli_checks import run_cli


def solver_line(name: str, store: Path, json_path: Path) -> str:
    done = run_cli("simulate", name, "--store", store, "--json", json_path, env={"COLUMNS": "300"})
    assert done.returncode == 0, done.stderr
    return next(line for line in done.stdout.splitlines() if line.startswith("solver:"))


@pytest.mark.parametrize("name, binding", [("us-canada-quota", True), ("no-section-232", False)])  # its quota binds
def test_the_solver_line_says_what_its_count_counts(name, binding, tmp_path):
    line = solver_line(name, tmp_path / "store.duckdb", tmp_path / "out.json")
    assert line.startswith("solver: converged=True in ") and "max |FOC/s|" in line
    assert ("(the shadow-cost search's, all its solves)" in line) is binding, line
    count = int(re.search(r"in (\d+) map evaluations", line).group(1))
    assert count == json.loads((tmp_path / "out.json").read_text())["solver"]["iterations"]
    if binding:  # the search's trials, the leap's joint solve and its check: tens, not the last solve's 1
        assert count > 20, line


@pytest.mark.parametrize("name, expected", [("no-section-232", "caveat: 114 of 114 models whose cost and tax are "
                                                                "unchanged raise their price"),
                                            ("canada-style-quota", "caveat: N of 296 models whose cost and "
                                                                   "tax are unchanged raise their price")])
def test_a_result_prints_its_caveat_where_the_model_disagrees_with_car_markets(name, expected, tmp_path):
    """The console prints the price-rise caveat with its count, the same count as the JSON's caveat.
    canada-style-quota's count (N) sits at its quota's jump and moves with any input (138 with the
    units-weighted hedonic fit, 90 with the square-root weights), so it is read from the JSON."""
    done = run_cli("simulate", name, "--store", tmp_path / "store.duckdb", "--json", tmp_path / "out.json",
                   env={"COLUMNS": "400"})
    assert done.returncode == 0, done.stderr
    text = " ".join(done.stdout.split())  # rich folds long lines
    caveat = next(c for c in json.loads((tmp_path / "out.json").read_text())["caveats"]
                  if c.get("kind") == "incumbent_price_rises")
    expected = expected.replace("N of", f"{caveat['rising']} of")
    start = text.find("caveat:")
    assert (text[start:].startswith(expected) and "biased upward" in text[start:]) if expected else start < 0, text


def test_the_console_lists_each_new_model_with_its_units_and_price_as_in_the_json(tmp_path):
    """A reader holds an entry scenario's new models against real launches: the console lists each one
    (before, only --json and the report did), with the units and price the JSON holds."""
    import json

    done = run_cli("simulate", "ford-byd-jv", "--store", tmp_path / "store.duckdb", "--json", tmp_path / "out.json",
                   env={"COLUMNS": "300"})
    assert done.returncode == 0, done.stderr
    document = json.loads((tmp_path / "out.json").read_text())
    entrants = [p for p in document["products"] if p["entrant"]]
    assert len(entrants) == 3 and "New models in the scenario" in done.stdout
    lines = done.stdout.splitlines()
    for p in entrants:
        row = next(line for line in lines if f" {p['name']} " in line and p["owner"] in line)
        assert f"{p['units']:,.0f}" in row and f"${p['consumer_price']:,.0f}" in row, row


def test_the_console_splits_a_scenarios_tariff_revenue_change_into_the_new_models_duty_and_the_rest(tmp_path):
    """chinese-imports-mfn lowers tariffs and brings duty-paying imports: the console splits the change
    in tariff revenue into the entrants' duty, summed from the JSON's products, and the incumbents'
    part, the total less it (negative: the lower rates on China-built incumbents and their lost units)."""
    import json

    done = run_cli("simulate", "chinese-imports-mfn", "--store", tmp_path / "store.duckdb", "--json",
                   tmp_path / "out.json", env={"COLUMNS": "400"})
    assert done.returncode == 0, done.stderr
    document = json.loads((tmp_path / "out.json").read_text())
    paid = sum(p["tariff_revenue"] for p in document["products"] if p["entrant"])
    change = document["change"]["tariff_revenue_usd"]
    assert paid > 0 and paid > change  # the entrants pay duty; the incumbents pay less than before

    def signed(usd: float) -> str:
        return f"{'+' if usd >= 0 else '-'}${abs(usd) / 1e9:.2f}bn"

    line = next(line for line in done.stdout.splitlines() if line.startswith("tariff revenue "))
    assert line.startswith(f"tariff revenue {signed(change)}: the new models pay ${paid / 1e9:.2f}bn in duty")
    assert f"incumbents {signed(change - paid)}" in line
    assert "(on imported vehicles)" in line  # every entrant imports: duty on the whole vehicle


def test_a_plant_at_the_default_capacity_names_its_parameter_and_source(tmp_path):
    """ford-geely-jv's plant has the default capacity of 150,000: the console said whether it binds
    without saying where 150,000 came from."""
    import json

    done = run_cli("simulate", "ford-geely-jv", "--store", tmp_path / "store.duckdb", "--json", tmp_path / "out.json",
                   env={"COLUMNS": "1000"})
    assert done.returncode == 0, done.stderr
    capacity = next(a for a in json.loads((tmp_path / "out.json").read_text())["assumptions"]
                    if a["name"] == "entrant_plant_capacity")
    line = next(line for line in done.stdout.splitlines() if line.startswith("plant: "))
    assert re.search(rf"of {capacity['value']:,.0f} vehicles a year, (not )?binding", line), line
    assert line.endswith(f"capacity: the default for a plant the scenario does not size (parameter "
                         f"entrant_plant_capacity, {capacity['confidence']} confidence: {capacity['source']}; "
                         "set the entrant's capacity in the scenario to size this plant)")
    duty = next(line for line in done.stdout.splitlines() if line.startswith("tariff revenue "))
    assert "(on imported parts of US-built vehicles)" in duty
