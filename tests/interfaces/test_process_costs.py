"""What every command pays once per process (issue 13): the code version a run is stored with is
asked of git only in a checkout of this package, and once; the garbage collector of a command runs
at the CLI's thresholds and leaves the objects alive at exit to the interpreter (frozen)."""

import subprocess
import sys
from pathlib import Path

from autopact.runs import store
from autopact.version import __version__


def git(folder: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True, check=True,
                          timeout=60).stdout.strip()


def test_an_installed_copy_inside_some_repository_is_not_stamped_with_its_commit(tmp_path):
    """A virtual environment inside a project's repository: ``site-packages/autopact`` lies in that
    repository, whose commit says nothing about the installed code (main stamped runs with it)."""
    repo = tmp_path / "project"
    repo.mkdir()
    git(repo, "init", "-q")
    git(repo, "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-q", "--allow-empty", "-m", "x")
    package = repo / ".venv" / "lib" / "python3.11" / "site-packages" / "autopact"
    package.mkdir(parents=True)
    assert store._code_version(package) == __version__


def test_a_checkout_is_stamped_with_its_commit(tmp_path):
    repo = tmp_path / "checkout"
    (repo / "src" / "autopact").mkdir(parents=True)
    git(repo, "init", "-q")
    git(repo, "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-q", "--allow-empty", "-m", "x")
    assert store._code_version(repo / "src" / "autopact") == f"{__version__}+{git(repo, 'rev-parse', '--short', 'HEAD')}"


def test_the_code_version_is_asked_of_git_once_a_process(monkeypatch):
    store._code_version.cache_clear()
    store._git_queries.cache_clear()
    store.ask_code_version()  # as a run does when it opens the store: git works meanwhile
    first = store.code_version()
    monkeypatch.setattr("subprocess.Popen", lambda *a, **k: (_ for _ in ()).throw(AssertionError("git asked again")))
    store.ask_code_version()
    assert store.code_version() == first
    assert first.startswith(__version__)


def test_a_command_collects_at_the_cli_thresholds_and_freezes_what_is_alive_at_exit():
    code = ("import atexit, gc, sys\n"
            "atexit.register(lambda: print('GC', gc.get_threshold(), gc.get_freeze_count() > 0))\n"
            "sys.argv = ['autopact', '--help']\n"
            "from autopact.interfaces.cli import main\nmain()")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "GC (10000, 10, 10) True" in done.stdout


def test_a_simulate_on_a_cached_market_opens_the_results_store_once(monkeypatch, tmp_path):
    """Opening a DuckDB file took 15-30 ms here; main opened the store twice for a run without draws
    (to check it before the work, then to write the run). The metrics go in as one statement: the
    same rows, in order, as the document's changes."""
    import io

    import duckdb
    from rich.console import Console

    from autopact.policy.scenario import load_scenario
    from autopact.runs.analyses import RunOptions, simulate_with_draws
    from autopact.runs.uncertainty import flatten
    from autopact.simulate import market_for

    scenario = load_scenario("ford-byd-jv")
    market_for(scenario)  # the session's cache holds it now
    path, opened, real = tmp_path / "store.duckdb", [], duckdb.connect
    monkeypatch.setattr(duckdb, "connect", lambda *a, **k: opened.append(a) or real(*a, **k))
    for _ in range(2):  # a new store, then an existing one
        opened.clear()
        document, _ = simulate_with_draws(scenario, 0, None, RunOptions(store=path), Console(file=io.StringIO()))
        assert len(opened) == 1
    with real(str(path), read_only=True) as db:
        assert db.execute("SELECT status FROM runs WHERE run_id = ?", [document["run_id"]]).fetchall() == [("complete",)]
        rows = db.execute("SELECT metric, baseline, counterfactual, change FROM metrics WHERE run_id = ? ORDER BY rowid",
                          [document["run_id"]]).fetchall()
    base, cf, change = flatten(document["baseline"]), flatten(document["counterfactual"]), flatten(document["change"])
    assert rows == [("/".join(p), base.get(p), cf.get(p), v) for p, v in change.items()]


def test_a_simulate_on_a_cached_market_loads_no_estimation_machinery(tmp_path):
    """The runs catch ``EstimationError`` from ``autopact.errors``: importing it from
    ``autopact.fit.problem`` loaded the estimation's formulas and patsy (about 8 ms) in every run."""
    from autopact.policy.scenario import load_scenario
    from autopact.simulate import market_for

    market_for(load_scenario("ford-byd-jv"))  # the session's cache now holds it
    code = ("import atexit, sys\n"
            "atexit.register(lambda: print('LOADED', sorted(m for m in sys.modules if m.startswith(('patsy', 'autopact.fit')))))\n"
            "sys.argv = ['autopact', 'simulate', 'ford-byd-jv', '--json', sys.argv[1]]\n"
            "from autopact.interfaces.cli import main\nmain()")
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path / "out.json")], capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr
    line = next(line for line in done.stdout.splitlines() if line.startswith("LOADED"))
    assert "patsy" not in line and "autopact.fit.problem" not in line and "autopact.fit.formulas" not in line


def test_an_unusable_store_fails_before_a_run_on_a_cached_market(tmp_path, monkeypatch):
    """The store held for a whole run is opened, so checked, before the market is loaded."""
    import io

    import pytest
    from rich.console import Console

    from autopact.policy.scenario import load_scenario
    from autopact.runs import analyses
    from autopact.runs.store import StoreError
    from autopact.simulate import market_for

    scenario = load_scenario("ford-byd-jv")
    market_for(scenario)  # cached: the run takes the held store's path

    def no_work(*_, **__):
        raise AssertionError("the market was loaded before the store was checked")

    monkeypatch.setattr(analyses, "market_for", no_work)
    (tmp_path / "store.duckdb").write_text("not a store")
    with pytest.raises(StoreError, match="not a valid DuckDB database file"):
        analyses.simulate_with_draws(scenario, 0, None, analyses.RunOptions(store=tmp_path / "store.duckdb"),
                                     Console(file=io.StringIO()))
    assert (tmp_path / "store.duckdb").read_text() == "not a store"
