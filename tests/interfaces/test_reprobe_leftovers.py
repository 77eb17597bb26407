"""Defects a second re-probe of issue 12 left open: a forged saved result with settings of the wrong
type, FIFOs where a saved result or its data are read, a closed standard output, and the limits
refused before any work (households, seeds). Command-line cases: one line on stderr, exit status 2,
nothing written; API cases: a named autopact error."""

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import autopact
from autopact.fit.saved import EstimationFileError, load_estimation, record_sha256

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from cli_checks import error_line  # noqa: E402

CLI = [sys.executable, "-m", "autopact.interfaces.cli"]
SOURCE = str(Path(autopact.__file__).resolve().parents[1])
BUNDLED = Path(autopact.__file__).parent / "data" / "bundled" / "blp1995"
SCENARIO = Path(autopact.__file__).parent / "scenarios" / "blp1995-import-tariff.yaml"


def cli(*args, cwd: Path, stdout=subprocess.PIPE, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(CLI + [str(a) for a in args], stdout=stdout, stderr=subprocess.PIPE, text=True,
                          timeout=timeout, cwd=cwd, env={**os.environ, "PYTHONPATH": SOURCE, "COLUMNS": "1000"})


def fifo(path: Path, after: float = 20.0) -> Path:
    """A FIFO at ``path``; a thread opens its other end after ``after`` seconds and writes junk, so a
    reader that blocks on it (the defect) gets an error instead of hanging the test run."""
    os.mkfifo(path)

    def unblock() -> None:
        time.sleep(after)
        with open(path, "w") as end:
            end.write("junk")

    threading.Thread(target=unblock, daemon=True).start()
    return path


def forged(folder: Path, **settings) -> Path:
    """A copy of the bundled BLP 1995 result beside its data, its settings changed and its
    record_sha256 recomputed (the hash detects edits, not forgery), and a scenario that uses it."""
    for name in ("blp_products.csv", "blp_agents.csv"):
        shutil.copy(BUNDLED / name, folder / name)
    record = json.loads((BUNDLED / "estimate.json").read_text())
    record["data"] = {"bundled": None, "products": {**record["data"]["products"], "path": "blp_products.csv"},
                      "agents": {**record["data"]["agents"], "path": "blp_agents.csv"}}
    record["settings"].update(settings)
    record["record_sha256"] = record_sha256(record)
    (folder / "estimate.json").write_text(json.dumps(record))
    scenario = folder / "s.yaml"
    scenario.write_text(SCENARIO.read_text().replace("result: blp1995 ", "result: estimate.json"))
    return scenario


@pytest.mark.parametrize("settings, field", [
    ({"money": "thousands"}, "money"),  # a TypeError traceback on main
    ({"money": {"unit": "k$", "dollars_per_unit": "1000"}}, "money: dollars_per_unit"),
    ({"normalise_agent_weights": "yes"}, "normalise_agent_weights"),  # ran, the string counted as true
    ({"method": 7}, "method"),
    ({"x1": None}, "x1"),
    ({"bogus": 1}, "unknown setting"),
])
def test_a_forged_result_with_settings_of_the_wrong_type_is_refused_on_load(tmp_path: Path, settings, field):
    forged(tmp_path, **settings)
    with pytest.raises(EstimationFileError, match=f"estimate.json: {field}"):
        load_estimation(str(tmp_path / "estimate.json"))


def test_simulate_on_a_forged_result_is_one_line_before_any_work(tmp_path: Path):
    scenario = forged(tmp_path, money="thousands")
    done = cli("simulate", scenario, "--json", tmp_path / "out.json", "--store", tmp_path / "st.duckdb", cwd=tmp_path)
    assert "money: must be a mapping" in error_line(done)
    assert not (tmp_path / "out.json").exists() and not (tmp_path / "st.duckdb").exists()


def test_forged_estimates_are_refused_naming_them(tmp_path: Path):
    forged(tmp_path)
    record = json.loads((tmp_path / "estimate.json").read_text())
    record["estimates"]["sigma"] = "wide"
    record["record_sha256"] = record_sha256(record)
    (tmp_path / "estimate.json").write_text(json.dumps(record))
    with pytest.raises(EstimationFileError, match="estimates: not the estimates"):
        load_estimation(str(tmp_path / "estimate.json"))


def test_a_fifo_as_the_scenarios_result_is_refused_instead_of_blocking(tmp_path: Path):
    scenario = forged(tmp_path)
    fifo(tmp_path / "fifo.json")
    scenario.write_text(scenario.read_text().replace("result: estimate.json", "result: fifo.json"))
    done = cli("simulate", scenario, "--store", tmp_path / "st.duckdb", cwd=tmp_path)
    assert "not a regular file" in error_line(done)
    assert not (tmp_path / "st.duckdb").exists()


def test_a_fifo_as_a_saved_results_data_file_is_refused_instead_of_blocking(tmp_path: Path):
    forged(tmp_path)
    (tmp_path / "blp_products.csv").unlink()
    fifo(tmp_path / "blp_products.csv")
    with pytest.raises(EstimationFileError, match="data.products: .* not a regular file"):
        load_estimation(str(tmp_path / "estimate.json"))


def test_a_fifo_as_an_estimation_configs_data_file_is_refused(tmp_path: Path):
    from autopact.fit.saved import config_inputs

    fifo(tmp_path / "products.csv")
    (tmp_path / "c.yaml").write_text("products: products.csv\nx1: 1 + prices\n")
    with pytest.raises(EstimationFileError, match="products: .* not a regular file"):
        config_inputs(tmp_path / "c.yaml")


def memory_capped(limit: int = 4 * 2**30):
    """For a child process: an address-space limit, so a command that allocates before it checks
    (the defect) fails with a MemoryError instead of exhausting the machine."""
    import resource

    return lambda: resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def test_absurd_households_are_refused_before_any_allocation(tmp_path: Path):
    done = subprocess.run(CLI + ["simulate", "baseline-2025", "--households", "2000000000", "--json", "o.json",
                                 "--store", str(tmp_path / "st.duckdb")], capture_output=True, text=True, timeout=600,
                          cwd=tmp_path, env={**os.environ, "PYTHONPATH": SOURCE}, preexec_fn=memory_capped())
    assert "--households must be a whole number from 1 to 1,000,000 (MAX_HOUSEHOLDS" in error_line(done)
    assert not (tmp_path / "st.duckdb").exists() and not (tmp_path / "o.json").exists()


def test_households_beyond_the_limit_are_refused_by_the_api():
    from autopact.data.tables import income_distribution
    from autopact.model.households import MAX_HOUSEHOLDS, draw_households

    with pytest.raises(ValueError, match="MAX_HOUSEHOLDS"):
        draw_households(income_distribution(), MAX_HOUSEHOLDS + 1, 3)


@pytest.mark.parametrize("option, value", [("--seed", str(2**70)), ("--seed", "-3"), ("--household-seed", "-1"),
                                           ("--household-seed", str(2**64))])
def test_absurd_seeds_are_refused_before_any_work(tmp_path: Path, option, value):
    """2**70 failed at the store's insert after the run; -3 failed in numpy after the central run."""
    done = cli("simulate", "ford-byd-jv", "--draws", "1", "--serial", option, value, "--json", "o.json",
               "--store", tmp_path / "st.duckdb", cwd=tmp_path)
    assert f"{option}: a seed must be a whole number from 0 to 2**63 - 1" in error_line(done)
    assert not (tmp_path / "st.duckdb").exists() and not (tmp_path / "o.json").exists()


def test_a_scenarios_seed_beyond_the_store_is_refused_naming_it():
    from autopact.errors import ScenarioError
    from autopact.policy.scenario import load_scenario, parse_scenario

    definition = load_scenario("ford-byd-jv").model_dump(mode="json")
    definition["uncertainty"]["seed"] = 2**70
    with pytest.raises(ScenarioError, match="uncertainty.seed: Input should be less than or equal to 9223372036854775807"):
        parse_scenario(definition, "s.yaml")


def sweep_file(folder: Path, body: str) -> Path:
    path = folder / "sweep.yaml"
    path.write_text("name: probe\nscenario: ford-byd-jv\n" + body)
    return path


def test_a_sweeps_unknown_outcome_is_refused_before_the_run(tmp_path: Path):
    sweep = sweep_file(tmp_path, "grid:\n  parameters.section_301_china_ev_pct: [0]\noutcomes: [consumer_surplus_usd, "
                                 "no_such_metric]\n")
    done = cli("sweep", sweep, "--serial", "--json", "o.json", "--store", tmp_path / "st.duckdb", cwd=tmp_path)
    assert "outcomes[1]: unknown outcome 'no_such_metric'" in error_line(done)
    assert not (tmp_path / "st.duckdb").exists() and not (tmp_path / "o.json").exists()


@pytest.mark.parametrize("outcome, message", [("total_units/x", "is a number"), ("units_by_nationality", "is a group"),
                                              ("units_by_nationality/China/x", "is a group")])
def test_outcome_paths_are_checked_against_the_metrics(outcome, message):
    from autopact.errors import ScenarioError
    from autopact.runs.uncertainty import check_outcome

    with pytest.raises(ScenarioError, match=message):
        check_outcome(outcome)
    assert check_outcome("units_by_nationality/Atlantis") == "units_by_nationality/Atlantis"  # absent: counts 0


def test_the_outcome_metrics_are_those_of_a_result_document():
    import gzip

    from autopact.outcomes.metrics import METRICS

    golden = Path(__file__).resolve().parents[1] / "golden" / "baseline-2025.json.gz"
    baseline = json.loads(gzip.decompress(golden.read_bytes()))["baseline"]
    assert set(baseline) == set(METRICS)
    assert {k for k, v in baseline.items() if isinstance(v, dict)} == {k for k, group in METRICS.items() if group}


def test_a_sample_of_too_many_lever_values_is_refused_before_the_design(tmp_path: Path):
    """100,000 points x 20,000 levers: 2e9 numbers of Latin hypercube before any check."""
    ranges = "".join(f"    parameters.x{k}: [0, 1]\n" for k in range(20_000))
    sweep = sweep_file(tmp_path, f"sample:\n  points: 100000\n  ranges:\n{ranges}")
    done = subprocess.run(CLI + ["sweep", str(sweep), "--serial", "--store", str(tmp_path / "st.duckdb")],
                          capture_output=True, text=True, timeout=600, cwd=tmp_path,
                          env={**os.environ, "PYTHONPATH": SOURCE}, preexec_fn=memory_capped())
    assert "MAX_LEVER_VALUES" in error_line(done)
    assert not (tmp_path / "st.duckdb").exists()


@pytest.mark.parametrize("command", [["data", "summary", "--json"], ["simulate", "baseline-2025", "--json", "-"],
                                     ["simulate", "baseline-2025"], ["data", "summary"]])
def test_a_closed_standard_output_ends_the_command_quietly(tmp_path: Path, command):
    """`autopact simulate x --json - | head -c 10` exited 1 silently or 2 with 'Broken pipe', or
    printed a BrokenPipeError traceback; now it exits as a program that SIGPIPE ends (141), quietly."""
    reader, writer = os.pipe()
    os.close(reader)  # the reader went away before the command wrote anything
    try:
        done = cli(*command, "--store", tmp_path / "st.duckdb", cwd=tmp_path, stdout=writer) \
            if command[0] == "simulate" else cli(*command, cwd=tmp_path, stdout=writer)
    finally:
        os.close(writer)
    assert done.returncode == 128 + 13, done.stderr  # 128 + SIGPIPE (cli.CLOSED_PIPE_STATUS)
    assert "Traceback" not in done.stderr and "error" not in done.stderr.lower(), done.stderr
