"""Interactive speed (issue 13): ``autopact --help`` and importing the CLI load typer and rich, not
the numerical, storage or plotting libraries (they took 1.8 s to import here); a simulate on a
cached market loads no scipy.stats, Dask or plotly, and without a capacity or quota to solve for, no
scipy.optimize."""

import subprocess
import sys

from autopact.policy.scenario import load_scenario
from autopact.simulate import market_for

HEAVY = ("numpy", "pandas", "scipy", "patsy", "pydantic", "yaml", "duckdb", "dask", "distributed", "plotly", "fastapi",
         "starlette", "uvicorn")
LOADED = "import atexit, sys; atexit.register(lambda: print('LOADED', sorted(m for m in sys.modules)))"


def loaded(code: str, *args: str) -> set[str]:
    """Modules a fresh interpreter holds when it exits after ``code``."""
    done = subprocess.run([sys.executable, "-c", f"{LOADED}\n{code}", *args], capture_output=True, text=True,
                          timeout=600)
    line = next(line for line in done.stdout.splitlines() if line.startswith("LOADED"))
    return set(eval(line.removeprefix("LOADED ")))  # noqa: S307 - our own subprocess printed a list of names


def top_level(modules: set[str]) -> set[str]:
    return {m.split(".")[0] for m in modules}


def test_importing_the_cli_loads_none_of_the_heavy_libraries():
    assert not top_level(loaded("import autopact.interfaces.cli")) & set(HEAVY)


def test_help_loads_none_of_the_heavy_libraries():
    modules = loaded("import sys; sys.argv = ['autopact', 'simulate', '--help']\n"
                     "from autopact.interfaces.cli import main\nmain()")
    # typer itself loads pydantic to convert the arguments of a command
    assert "typer" in top_level(modules) and not top_level(modules) & (set(HEAVY) - {"pydantic"})


def test_a_simulate_on_a_cached_market_loads_no_scipy_stats_or_optimize_dask_or_plotly(tmp_path):
    market_for(load_scenario("baseline-2025"))  # the session's cache now holds it
    modules = loaded("import sys; sys.argv = ['autopact', 'simulate', 'baseline-2025', '--json', sys.argv[1]]\n"
                     "from autopact.interfaces.cli import main\nmain()", str(tmp_path / "out.json"))
    assert (tmp_path / "out.json").exists()
    assert not modules & {"scipy.stats", "scipy.optimize", "dask", "distributed", "plotly"}, sorted(m for m in modules if m.startswith(("scipy.stats", "scipy.optimize", "dask", "autopact")))
