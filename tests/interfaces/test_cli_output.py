"""What `autopact simulate` prints for a reader: the solver line says what its count of map
evaluations counts (for a scenario with a binding plant or quota, the last solve at the shadow
costs found: a reader saw 'converged in 1 map evaluations' and took it for the whole search)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

import autopact

CLI = [sys.executable, "-m", "autopact.interfaces.cli"]
SOURCE = str(Path(autopact.__file__).resolve().parents[1])


def solver_line(name: str, store: Path) -> str:
    done = subprocess.run(CLI + ["simulate", name, "--store", str(store)], capture_output=True, text=True,
                          timeout=600, env={**os.environ, "PYTHONPATH": SOURCE, "COLUMNS": "300"})
    assert done.returncode == 0, done.stderr
    return next(line for line in done.stdout.splitlines() if line.startswith("solver:"))


@pytest.mark.parametrize("name, binding", [("ford-byd-jv", True), ("no-section-232", False)])
def test_the_solver_line_says_what_its_count_counts(name, binding, tmp_path):
    line = solver_line(name, tmp_path / "store.duckdb")
    assert line.startswith("solver: converged=True in ") and "max |FOC/s|" in line
    assert ("(the last solve, at the shadow costs found)" in line) is binding, line
