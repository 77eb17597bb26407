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
