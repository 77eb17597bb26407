"""The results store under misuse: a killed run resumed by two processes at once, reading commands on
a missing store, corrupt, truncated, foreign or locked store files, and a store that cannot be used
found before the run rather than after it. Every failure is one line and exit status 2 (``StoreError``)."""

import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
from rich.console import Console

import autopact
from autopact.policy.scenario import load_scenario
from autopact.runs import analyses
from autopact.runs.analyses import RunOptions, simulate_with_draws
from autopact.runs.store import Store, StoreError
from cli_checks import error_line

CLI = [sys.executable, "-m", "autopact.interfaces.cli"]
SOURCE = str(Path(autopact.__file__).resolve().parents[1])  # the code under test, in the subprocesses too
SCENARIO = "blp1995-import-tariff"  # the cheapest bundled scenario with uncertain inputs (estimation covariance)
DRAWS = "3"


def cli(*args) -> subprocess.CompletedProcess:
    return subprocess.run(CLI + [str(a) for a in args], capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHONPATH": SOURCE})




def jobs(store: Path) -> list[tuple[int, int]]:
    with duckdb.connect(str(store), read_only=True) as db:
        return db.execute("SELECT point, draw FROM results ORDER BY point, draw").fetchall()


@pytest.fixture()
def killed_run(tmp_path: Path) -> tuple[Path, str, dict]:
    """A store holding a run that looks killed after its central job and first draw (as a SIGKILL
    leaves it: whole jobs, status running), and the bands the uninterrupted run gave."""
    store, reference = tmp_path / "store.duckdb", tmp_path / "reference.json"
    done = cli("simulate", SCENARIO, "--draws", DRAWS, "--serial", "--store", store, "--json", reference)
    assert done.returncode == 0, done.stderr
    with duckdb.connect(str(store)) as db:
        [(run_id,)] = db.execute("SELECT run_id FROM runs").fetchall()
        db.execute("UPDATE runs SET status = 'running', finished_at = NULL")
        db.execute("DELETE FROM results WHERE draw >= 1")
        db.execute("DELETE FROM metrics WHERE draw >= 1")
    return store, run_id, json.loads(reference.read_text())["bands"]


def resume(store: Path, result: Path) -> subprocess.Popen:
    return subprocess.Popen(CLI + ["simulate", SCENARIO, "--draws", DRAWS, "--serial", "--store", str(store), "--resume",
                                   "--json", str(result)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": SOURCE})


def test_a_run_claimed_by_another_process_is_not_resumed_twice(killed_run):
    store, run_id, _ = killed_run
    before = jobs(store)
    with Store(store).claim(run_id):  # as a process resuming it now would hold it
        done = cli("simulate", SCENARIO, "--draws", DRAWS, "--serial", "--store", store, "--resume")
    line = error_line(done)
    assert run_id in line and "another process" in line
    assert jobs(store) == before  # nothing computed, nothing written


def test_two_concurrent_resumes_never_write_a_job_twice(killed_run):
    store, run_id, reference = killed_run
    paths = [store.parent / "first.json", store.parent / "second.json"]
    processes = [resume(store, path) for path in paths]
    finished = []
    for process, path in zip(processes, paths):
        _, stderr = process.communicate(timeout=600)
        assert "Traceback" not in stderr and "Duplicate key" not in stderr, stderr
        assert process.returncode == 0 or (process.returncode == 2 and "being run or resumed by another process" in stderr), stderr
        if process.returncode == 0:
            finished.append(json.loads(path.read_text()))
    assert finished and all(d["run_id"] == run_id and d["bands"] == reference for d in finished)
    assert jobs(store) == [(0, -1), (0, 0), (0, 1), (0, 2)]
    assert Store(store).runs()[0]["status"] == "complete"
    assert not list(store.parent.glob("*.lock"))  # the claim's file goes with the complete run


@pytest.mark.parametrize("command", [["runs"], ["runs", "show", "abc"], ["runs", "export", "{folder}/m.parquet"]])
def test_reading_commands_never_create_a_store(command, tmp_path):
    missing = tmp_path / "none.duckdb"
    line = error_line(cli(*[a.format(folder=tmp_path) for a in command], "--store", missing))
    assert f"no results store at {missing}" in line
    assert not missing.exists() and not (tmp_path / "m.parquet").exists()


def _broken_stores(folder: Path, good: Path) -> dict[str, Path]:
    content = good.read_bytes()
    broken = {"not a DuckDB file": b"run_id,kind\n", "empty": b"", "truncated": content[:100],
              "header only": content[:12288], "blocks zeroed": content[:12288] + bytes(len(content) - 12288)}
    paths = {}
    for name, data in broken.items():
        paths[name] = folder / f"{name.replace(' ', '-')}.duckdb"
        paths[name].write_bytes(data)
    return paths


@pytest.fixture(scope="module")
def good_store(tmp_path_factory) -> Path:
    store = tmp_path_factory.mktemp("good") / "store.duckdb"
    done = cli("simulate", SCENARIO, "--draws", "1", "--serial", "--store", store)
    assert done.returncode == 0, done.stderr
    return store


@pytest.mark.parametrize("command", [["runs"], ["simulate", SCENARIO]])
def test_a_corrupt_store_is_one_line(command, good_store, tmp_path):
    for name, path in _broken_stores(tmp_path, good_store).items():
        before = path.read_bytes()
        done = cli(*command, "--store", path)
        assert str(path) in error_line(done), name
        assert done.stdout == "", name  # a run stops before its work, printing no result
        assert path.read_bytes() == before, name


def test_damage_found_while_reading_is_a_store_error(good_store, tmp_path):
    """DuckDB finds a damaged block when a query reads it, not when the file opens: every such error
    is a StoreError naming the file. Each 256 KiB window of the file in turn is zeroed."""
    content = good_store.read_bytes()
    path, damaged = tmp_path / "damaged.duckdb", 0
    for start in range(12288, len(content), 1 << 18):
        path.write_bytes(content[:start] + bytes(len(content[start:start + (1 << 18)])) + content[start + (1 << 18):])
        try:
            db = Store(path)
            run_ids = [r["run_id"] for r in db.runs()]
            for run_id in run_ids:
                db.run(run_id)
                db.records(run_id)
            db.export(tmp_path / "m.parquet")
        except StoreError as error:
            assert str(path) in str(error)
            damaged += 1
    assert damaged  # some window hit data


def test_a_locked_store_is_a_store_error(good_store, tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", "import duckdb, sys, time; db = duckdb.connect(sys.argv[1]); "
                               "print('open', flush=True); time.sleep(60)", str(good_store)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        began = time.monotonic()
        with pytest.raises(StoreError, match="lock"):
            Store(good_store, wait=0.5, create=False).runs()
        assert time.monotonic() - began < 30
    finally:
        holder.kill()
        holder.wait()


def test_an_unusable_store_fails_before_the_run(tmp_path, monkeypatch):
    def no_work(*_, **__):
        raise AssertionError("the market was loaded before the store was checked")

    monkeypatch.setattr(analyses, "market_for", no_work)
    (tmp_path / "store.duckdb").write_text("not a store")
    with pytest.raises(StoreError, match="not a valid DuckDB database file"):
        simulate_with_draws(load_scenario(SCENARIO), 0, None, RunOptions(store=tmp_path / "store.duckdb"),
                            Console(file=io.StringIO()))
