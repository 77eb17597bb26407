"""What `autopact simulate` prints for a reader: the solver line says what its count of map
evaluations counts (for a scenario with a binding plant or quota, the last solve at the shadow
costs found: a reader saw 'converged in 1 map evaluations' and took it for the whole search)."""

from pathlib import Path

import pytest

from cli_checks import run_cli


def solver_line(name: str, store: Path) -> str:
    done = run_cli("simulate", name, "--store", store, env={"COLUMNS": "300"})
    assert done.returncode == 0, done.stderr
    return next(line for line in done.stdout.splitlines() if line.startswith("solver:"))


@pytest.mark.parametrize("name, binding", [("ford-geely-jv", True), ("no-section-232", False)])  # its JV plant binds
def test_the_solver_line_says_what_its_count_counts(name, binding, tmp_path):
    line = solver_line(name, tmp_path / "store.duckdb")
    assert line.startswith("solver: converged=True in ") and "max |FOC/s|" in line
    assert ("(the last solve, at the shadow costs found)" in line) is binding, line


@pytest.mark.parametrize("name, expected", [("no-section-232", "caveat: 104 of 104 models whose cost and tax are "
                                                                "unchanged raise their price"),
                                            ("canada-style-quota", None)])
def test_a_result_prints_its_caveat_where_the_model_disagrees_with_car_markets(name, expected, tmp_path):
    done = run_cli("simulate", name, "--store", tmp_path / "store.duckdb", env={"COLUMNS": "400"})
    assert done.returncode == 0, done.stderr
    text = " ".join(done.stdout.split())  # rich folds long lines
    start = text.find("caveat:")
    assert (text[start:].startswith(expected) and "biased upward" in text[start:]) if expected else start < 0, text
