"""Draws, sensitivity and sweeps end to end: determinism, Dask (local and remote), the store, resume."""

import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rich.console import Console

from autopact.runs import execution
from autopact.runs.analyses import RunOptions, sensitivity, simulate_with_draws
from autopact.policy.scenario import load_scenario
from autopact.runs.store import Store
from autopact.runs.uncertainty import flatten

SCENARIO = """
name: test-jv
description: BYD Dolphin in a Ford plant, 50/50, with two uncertain cost inputs.
entrants:
  - {candidate: byd--dolphin--active-44-9-kwh, maker: BYD, assembly: partner_us_plant, partner: Ford Motor Co.,
     profit_shares: {BYD: 0.5, Ford Motor Co.: 0.5}, dealers: partner}
uncertainty:
  seed: 11
  inputs:
    - {parameter: assembly_hours_per_vehicle, distribution: uniform, low: 30.37, high: 33.88, source: Harbour Report 2007}
    - {parameter: battery_pack_lfp_usd_per_kwh, distribution: triangular, low: 62, mode: 70, high: 81, source: test}
"""
SWEEP = """
name: test-sweep
scenario: test-jv.yaml
grid:
  parameters.section_301_china_ev_pct: [0, 150]
  entrants.*.assembly: [import]
draws: 1
outcomes: [units_share_by_nationality/China, us_assembly_jobs]
"""
CLI = [sys.executable, "-m", "autopact.interfaces.cli"]


@pytest.fixture()
def scenario_file(tmp_path: Path) -> Path:
    path = tmp_path / "test-jv.yaml"
    path.write_text(SCENARIO)
    (tmp_path / "test-sweep.yaml").write_text(SWEEP)
    return path


def _quiet() -> Console:
    return Console(file=io.StringIO())


def _draws(path: Path, store: Path, draws: int = 3, **kw):
    options = RunOptions(store=store, **kw)
    return simulate_with_draws(load_scenario(str(path)), draws, None, options, _quiet())[0]


def test_bands_are_deterministic_ordered_and_cover_every_change(scenario_file, tmp_path):
    first = _draws(scenario_file, tmp_path / "a.duckdb", serial=True)
    again = _draws(scenario_file, tmp_path / "b.duckdb", serial=True)
    assert first["bands"] == again["bands"]
    # every change has its band (the percentiles themselves: tests/policy/test_uncertainty.py)
    banded = flatten(first["bands"])
    assert all(path + ("p50",) in banded for path, value in flatten(first["change"]).items() if value is not None)
    assert first["uncertainty"]["draws"] == 3 and first["uncertainty"]["failed"] == 0
    # more assembly hours or dearer cells make the US-built Dolphin dearer: its units vary across draws
    jobs = first["bands"]["us_assembly_jobs"]
    assert jobs["p05"] < jobs["p95"]


def test_serial_and_local_dask_agree_to_the_bit(scenario_file, tmp_path):
    serial = _draws(scenario_file, tmp_path / "s.duckdb", serial=True)
    cluster = _draws(scenario_file, tmp_path / "d.duckdb", workers=2)
    assert serial["bands"] == cluster["bands"]
    a = Store(tmp_path / "s.duckdb").records(serial["run_id"])
    b = Store(tmp_path / "d.duckdb").records(cluster["run_id"])
    assert [r["change"] for r in a] == [r["change"] for r in b]


def test_draws_from_the_newton_matrix_agree_serial_and_dask_and_with_squarem(scenario_file, tmp_path, monkeypatch):
    """A run with at least NEWTON_JOBS draws solves each from its central result's Newton matrix
    (Broyden): the same numbers as SQUAREM within solver tolerance, fewer evaluations, and serial
    and Dask still agree to the bit."""
    from autopact.runs import analyses

    plain = _draws(scenario_file, tmp_path / "p.duckdb", serial=True)  # 3 draws: below NEWTON_JOBS
    monkeypatch.setattr(analyses, "NEWTON_JOBS", 1)
    serial = _draws(scenario_file, tmp_path / "s.duckdb", serial=True)
    cluster = _draws(scenario_file, tmp_path / "d.duckdb", workers=2)
    assert serial["bands"] == cluster["bands"]
    squarem, broyden, dask = (Store(tmp_path / f"{n}.duckdb").records(d["run_id"])
                              for n, d in (("p", plain), ("s", serial), ("d", cluster)))
    assert [r["change"] for r in broyden] == [r["change"] for r in dask]
    draws = [(a, b) for a, b in zip(squarem, broyden) if a["draw"] >= 0]
    for a, b in draws:
        levels, found = flatten(a["counterfactual"]), flatten(b["counterfactual"])
        for path, value in levels.items():
            if isinstance(value, float):
                assert found[path] == pytest.approx(value, rel=1e-10, abs=1e-6), path
    assert sum(b["solver"]["iterations"] for _, b in draws) < sum(a["solver"]["iterations"] for a, _ in draws)


def test_bundled_joint_venture_draws_recalibrate_demand(tmp_path):
    document = _draws(Path("ford-byd-jv"), tmp_path / "s.duckdb", draws=2, serial=True)
    records = Store(tmp_path / "s.duckdb").records(document["run_id"])
    drawn = [r for r in records if r["draw"] >= 0]
    assert len(drawn) == 2 and all(r["status"] == "ok" for r in drawn)
    assert all("calibration" in r for r in drawn)  # the targets moved, so demand was re-calibrated
    assert drawn[0]["calibration"]["pi"] != drawn[1]["calibration"]["pi"]
    keys = {i["key"] for i in document["uncertainty"]["inputs"]}
    assert "target:own_elasticity_nissan_sentra" in keys
    # each draw's parameters are the first-order move of the bundled calibration to its drawn targets (audit #19)
    from autopact.data import load_market
    from autopact.fit.calibration import load_targets
    from autopact.fit.recalibration import linear_recalibration, stored_parameter_response
    from autopact.fit.stored_calibration import calibrated_market

    bundled = calibrated_market(load_market(2025))
    response = stored_parameter_response(bundled)
    for record in drawn:
        targets = load_targets()
        moved = {k.removeprefix("target:"): v for k, v in record["inputs"].items() if k.startswith("target:")}
        assert len(moved) == 3
        for name, value in moved.items():
            targets.loc[targets["name"] == name, "value"] = value
        expected = linear_recalibration(bundled, response, targets)
        assert set(record["calibration"]) == set(expected)
        for name, value in expected.items():
            assert record["calibration"][name] == pytest.approx(value, rel=1e-12, abs=1e-300), name


def test_sensitivity_tornado(scenario_file, tmp_path):
    document = sensitivity(load_scenario(str(scenario_file)), None, RunOptions(store=tmp_path / "s.duckdb", serial=True),
                           _quiet())
    chart = document["variants"][0]["tornado"]
    assert set(chart) == {"units_by_nationality/China", "units_by_nationality/US", "consumer_surplus_usd",
                          "us_assembly_jobs", "profit_by_firm_usd/Ford Motor Co."}
    hours = next(r for r in chart["us_assembly_jobs"]["inputs"] if r["input"] == "parameter:assembly_hours_per_vehicle")
    assert hours["input_p05"] < hours["input_p95"]
    assert hours["outcome_at_p95"] < hours["outcome_at_p05"]  # dearer to build here: fewer US-built units
    from autopact.interfaces.report import sensitivity_report

    assert "Tornado: us_assembly_jobs" in sensitivity_report(document)


def test_cli_draws_runs_and_parquet_export(scenario_file, tmp_path):
    store, out = tmp_path / "s.duckdb", tmp_path / "out.json"
    done = subprocess.run(CLI + ["simulate", str(scenario_file), "--draws", "2", "--serial", "--store", str(store),
                                 "--json", str(out), "--report", str(tmp_path / "r.html")], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    document = json.loads(out.read_text())
    assert set(document["bands"]["total_units"]) == {"p05", "p50", "p95"}
    assert "5-95% bands from 2 joint draws" in (tmp_path / "r.html").read_text()
    # the central change is one run at the inputs' own values; the console and the report say so, and mark
    # every headline change outside its draws' band (with 2 draws most are)
    from autopact.outcomes.definitions import HEADLINE
    from autopact.runs.uncertainty import central_outside_band, node

    outside = [m.label for m in HEADLINE if central_outside_band(node(document["change"], m.key), node(document["bands"], m.key))]
    console, report = " ".join(done.stdout.split()), " ".join((tmp_path / "r.html").read_text().split())
    assert "not one of the draws" in console and "not one of the draws" in report
    assert document["uncertainty"]["central_definition"].startswith("central: every uncertain input at its own value")
    assert (f"* outside here: {', '.join(outside)}" in console) if outside else ("* outside here" not in console)
    listed = subprocess.run(CLI + ["runs", "--store", str(store)], capture_output=True, text=True, env={**os.environ, "COLUMNS": "200"}, timeout=600)
    assert document["run_id"] in listed.stdout and "complete" in listed.stdout
    shown = subprocess.run(CLI + ["runs", "show", document["run_id"], "--store", str(store), "--json"], capture_output=True, text=True, timeout=600)
    assert [r["draw"] for r in json.loads(shown.stdout)["results"]] == [-1, 0, 1]
    exported = subprocess.run(CLI + ["runs", "export", str(tmp_path / "m.parquet"), "--store", str(store)], capture_output=True, text=True, timeout=600)
    assert exported.returncode == 0, exported.stderr
    import duckdb

    rows = duckdb.sql(f"SELECT draw, count(*) FROM '{tmp_path / 'm.parquet'}' GROUP BY draw ORDER BY draw").fetchall()
    assert [r[0] for r in rows] == [-1, 0, 1] and len({r[1] for r in rows}) == 1
    missing = subprocess.run(CLI + ["runs", "show", "nope", "--store", str(store)], capture_output=True, text=True, timeout=600)
    assert missing.returncode != 0 and "no run matches 'nope'" in missing.stderr


# The CLI, naming on stderr each job it evaluates ("evaluated job POINT DRAW"): what a run computes, counted in its
# own process (a fresh one, as a resumed run's is) whatever the timing
COUNTED_CLI = [sys.executable, "-c", "\n".join([
    "import runpy, sys",
    "from autopact.runs import execution",
    "evaluate = execution.evaluate",
    "def counted(shared, job):",
    "    print('evaluated job', job.point, job.draw, file=sys.stderr, flush=True)",
    "    return evaluate(shared, job)",
    "execution.evaluate = counted",
    "runpy.run_module('autopact.interfaces.cli', run_name='__main__')"])]


def _evaluated(stderr: str) -> list[tuple[int, int]]:
    return [(int(point), int(draw)) for point, draw in (line.split()[2:] for line in stderr.splitlines()
                                                         if line.startswith("evaluated job "))]


def _stored_jobs(store: Path, run_id: str) -> dict[tuple[int, int], tuple[tuple, list[tuple]]]:
    """The stored jobs of ``run_id``: (point, draw) -> (its results row, its metrics rows in the order stored)."""
    import duckdb

    with duckdb.connect(str(store), read_only=True) as con:
        results = con.execute("SELECT point, draw, status, label, inputs, document, error FROM results "
                              "WHERE run_id = ?", [run_id]).fetchall()
        metrics = con.execute("SELECT point, draw, metric, baseline, counterfactual, change FROM metrics "
                              "WHERE run_id = ? ORDER BY rowid", [run_id]).fetchall()
    return {(p, d): (tuple(row), [m[2:] for m in metrics if m[:2] == (p, d)]) for p, d, *row in results}


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> tuple[dict, dict]:
    """An uninterrupted serial run of SCENARIO with 8 draws, in a process of its own: its document, its stored jobs."""
    folder = tmp_path_factory.mktemp("uninterrupted")
    (folder / "test-jv.yaml").write_text(SCENARIO)
    store, out = folder / "s.duckdb", folder / "out.json"
    subprocess.run(CLI + ["simulate", str(folder / "test-jv.yaml"), "--draws", "8", "--serial", "--store", str(store),
                          "--json", str(out)], check=True, capture_output=True, timeout=600)
    document = json.loads(out.read_text())
    return document, _stored_jobs(store, document["run_id"])


@pytest.mark.parametrize("k", [3, 8])
def test_a_killed_run_leaves_whole_jobs_and_resumes_to_the_same_result(scenario_file, tmp_path, uninterrupted, k):
    """A run killed once k of its 8 draws are stored (deterministically, ``execution.TEST_EXIT_AFTER_JOBS``; at
    k = 8 all are, and it dies before it is marked complete) leaves those k whole and the run unfinished;
    ``--resume`` evaluates only the other 8 - k, leaves the stored ones as they are (a mark put on them stays) and
    gives the bands of an uninterrupted run. Every run is a process of its own: in this one, after a local Dask
    cluster has run (an earlier test), the same jobs came out a last bit apart."""
    import duckdb

    reference, reference_jobs = uninterrupted
    store = tmp_path / "s.duckdb"
    command = ["simulate", str(scenario_file), "--draws", "8", "--serial", "--store", str(store)]
    killed = subprocess.run(COUNTED_CLI + command, capture_output=True, text=True, timeout=600,
                            env={**os.environ, execution.TEST_EXIT_AFTER_JOBS: str(k)})
    assert killed.returncode == 137, killed.stderr
    assert _evaluated(killed.stderr) == [(0, d) for d in range(k)]
    [run] = Store(store).runs()
    assert run["status"] == "running" and run["finished_jobs"] == 1 + k  # the central run and k draws
    before = _stored_jobs(store, run["run_id"])
    assert sorted(before) == [(0, d) for d in range(-1, k)]
    # whole: each stored job has the very metrics rows of the same job in the uninterrupted run
    assert all(metrics == reference_jobs[key][1] for key, (_, metrics) in before.items())
    with duckdb.connect(str(store)) as con:  # a mark on the stored jobs that only writing them again would remove
        con.execute("UPDATE results SET label = 'stored before the resume' WHERE run_id = ?", [run["run_id"]])
    before = _stored_jobs(store, run["run_id"])
    resumed = subprocess.run(COUNTED_CLI + command + ["--resume", "--json", str(tmp_path / "resumed.json")],
                             capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming run {run['run_id']}" in resumed.stderr
    assert _evaluated(resumed.stderr) == [(0, d) for d in range(k, 8)]  # the stored draws are not evaluated again
    after = _stored_jobs(store, run["run_id"])
    assert sorted(after) == sorted(reference_jobs) and {key: after[key] for key in before} == before  # nor rewritten
    assert json.loads((tmp_path / "resumed.json").read_text())["bands"] == reference["bands"]
    assert Store(store).runs()[0]["status"] == "complete"


def _start_cluster(tmp_path: Path):
    dask = [sys.executable, "-m", "distributed.cli.dask_scheduler"]
    address_file = tmp_path / "scheduler.json"
    scheduler = subprocess.Popen(dask + ["--host", "127.0.0.1", "--port", "0", "--no-dashboard", "--scheduler-file",
                                         str(address_file)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not address_file.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    worker = [sys.executable, "-m", "distributed.cli.dask_worker", "--scheduler-file", str(address_file), "--nthreads",
              "1", "--no-dashboard", "--host", "127.0.0.1"]
    workers = [subprocess.Popen(worker, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(2)]
    address = json.loads(address_file.read_text())["address"]
    from dask.distributed import Client

    with Client(address, timeout="30s") as client:
        client.wait_for_workers(2, timeout=60)
    return address, [scheduler, *workers]


def test_sweep_on_a_remote_dask_cluster_equals_the_serial_sweep(scenario_file, tmp_path):
    address, processes = _start_cluster(tmp_path)
    try:
        remote = subprocess.run(CLI + ["sweep", str(tmp_path / "test-sweep.yaml"), "--scheduler", address,
                                       "--store", str(tmp_path / "r.duckdb"), "--json", str(tmp_path / "r.json"),
                                       "--report", str(tmp_path / "r.html")], capture_output=True, text=True, timeout=600)
    finally:
        for p in processes[::-1]:
            p.terminate()
        for p in processes:
            p.wait(timeout=30)
    assert remote.returncode == 0, remote.stderr
    assert "Dask: 2 workers" in remote.stderr
    serial = subprocess.run(CLI + ["sweep", str(tmp_path / "test-sweep.yaml"), "--serial", "--store",
                                   str(tmp_path / "s.duckdb"), "--json", str(tmp_path / "s.json")], capture_output=True, text=True, timeout=600)
    assert serial.returncode == 0, serial.stderr
    a, b = json.loads((tmp_path / "r.json").read_text()), json.loads((tmp_path / "s.json").read_text())
    assert a["points"] == b["points"] and a["surfaces"] == b["surfaces"]
    china = a["surfaces"]["outcomes"]["units_share_by_nationality/China"]["entrants.assembly=import"]
    assert china["x"] == [0, 150] and china["central"][1] < china["central"][0]  # a 150% tariff cuts Chinese imports
    assert "units_share_by_nationality/China" in (tmp_path / "r.html").read_text()


def test_draws_from_an_estimation_covariance(tmp_path):
    """blp1995-import-tariff redraws BLP's estimated demand parameters from their covariance."""
    document = _draws(Path("blp1995-import-tariff"), tmp_path / "s.duckdb", draws=3, serial=True)
    again = _draws(Path("blp1995-import-tariff"), tmp_path / "t.duckdb", draws=3, serial=True)
    assert document["bands"] == again["bands"]
    records = Store(tmp_path / "s.duckdb").records(document["run_id"])
    drawn = [r for r in records if r["draw"] >= 0]
    assert all(r["status"] == "ok" for r in drawn)
    labels = {k for r in drawn for k in r["inputs"]}
    assert "estimate:pi[prices, I(1 / income)]" in labels and "estimate:sigma[hpwt]" in labels
    assert len({r["inputs"]["estimate:pi[prices, I(1 / income)]"] for r in drawn}) == 3
    units = document["bands"]["total_units"]
    assert units["p05"] < units["p95"] < 0  # a tariff on imports lowers sales whatever the draw
    assert document["uncertainty"]["inputs"][0]["key"] == "estimate:demand"


@pytest.mark.parametrize("scenario, message", [
    ({"uncertainty": {"inputs": [{"estimate": "demand", "distribution": "estimation_covariance", "source": "s"}]}},
     "needs a scenario on an estimation result"),
    ({"uncertainty": {"inputs": [{"estimate": "demand", "distribution": "normal", "sd": 1, "source": "s"}]}},
     "goes with distribution: estimation_covariance"),
])
def test_estimate_inputs_are_checked(scenario, message):
    from autopact.policy.scenario import ScenarioError, parse_scenario

    with pytest.raises(ScenarioError, match=message):
        parse_scenario({"name": "x", **scenario}, "x.yaml")


def test_an_estimated_market_refuses_2025_inputs():
    import yaml

    from autopact.policy.scenario import ScenarioError, bundled_scenarios, parse_scenario

    definition = yaml.safe_load(bundled_scenarios()["blp1995-import-tariff"].read_text())
    definition["uncertainty"]["inputs"].append({"target": "aggregate_elasticity", "distribution": "uniform",
                                               "low": -2, "high": -0.5, "source": "s"})
    with pytest.raises(ScenarioError, match="an estimated market takes only 'estimate: demand' inputs"):
        parse_scenario(definition, "x.yaml")
