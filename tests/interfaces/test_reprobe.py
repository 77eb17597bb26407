"""Defects an independent re-probe of issue 12 found after the first fixes: rich markup in user
text or paths, ':' inside a formula's function, a maker that does not make the candidate, two
documents on standard output, and an output that would overwrite the command's own input."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

import autopact
from autopact.errors import ScenarioError
from autopact.fit.formulas import FormulaError, check_formula
from autopact.policy.scenario import parse_scenario

CLI = [sys.executable, "-m", "autopact.interfaces.cli"]
SOURCE = str(Path(autopact.__file__).resolve().parents[1])
SCENARIO = Path(autopact.__file__).parent / "scenarios" / "blp1995-import-tariff.yaml"


def cli(*args, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(CLI + [str(a) for a in args], capture_output=True, text=True, timeout=600, cwd=cwd,
                          env={**os.environ, "PYTHONPATH": SOURCE, "COLUMNS": "1000"})


def test_markup_in_a_description_and_an_output_path_is_printed_as_written(tmp_path: Path):
    text = SCENARIO.read_text().replace("name: blp1995-import-tariff", "name: markup-probe")
    text = text.replace("description: >-\n", "description: >-\n  [/nope] [link=https://example.com]x[/link]\n", 1)
    scenario = tmp_path / "s.yaml"
    scenario.write_text(text)
    (tmp_path / "[").mkdir()
    done = cli("simulate", scenario, "--json", "[/red]s.json", "--store", tmp_path / "st.duckdb", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert "[/nope]" in done.stdout  # the description as written, not read as markup
    assert (tmp_path / "[" / "red]s.json").exists()
    assert "wrote [/red]s.json" in done.stderr


@pytest.mark.parametrize("formula", ["1 + I(prices:x)", "log(x:z)", "C(x:z)", "0 + exp(I(x:z) + 1)"])
def test_a_colon_inside_a_function_is_refused_by_the_whitelist(formula: str):
    with pytest.raises(FormulaError, match="inside a function"):
        check_formula(formula, "x1", ["prices", "x", "z"])


def test_a_colon_between_terms_is_still_an_interaction():
    assert check_formula("1 + prices + x:z", "x1", ["prices", "x", "z"]) == "1 + prices + x:z"


def test_an_entrant_under_a_maker_that_does_not_make_the_candidate_is_refused():
    with pytest.raises(ScenarioError, match="does not make candidate"):
        parse_scenario({"name": "x", "entrants": [{"candidate": "byd--dolphin--active-44-9-kwh", "maker": "Geely"}]},
                       "test")


def test_estimate_refuses_two_documents_on_standard_output_before_estimating(tmp_path: Path):
    done = cli("estimate", "--example", "nevo", "--json", "--save", "-", cwd=tmp_path)
    assert done.returncode == 2
    assert "second document" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert done.stdout == ""


def test_an_output_over_the_commands_own_scenario_is_refused_and_the_scenario_kept(tmp_path: Path):
    scenario = tmp_path / "s.yaml"
    scenario.write_text(SCENARIO.read_text())
    before = scenario.read_text()
    done = cli("simulate", scenario, "--json", scenario, "--store", tmp_path / "st.duckdb", cwd=tmp_path)
    assert done.returncode == 2
    assert "destroy the input" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert scenario.read_text() == before
    assert not (tmp_path / "st.duckdb").exists()  # refused before any work


def test_a_file_name_too_long_for_its_staged_copy_is_refused_before_any_work(tmp_path: Path):
    """The name passed the pre-check but the staged '.NAME.xxxxxxxx.partial' copy did not fit, so the
    write failed after the run (re-probe of issue 12)."""
    from autopact.interfaces.outputs import STAGED_EXTRA, OutputError, check

    longest = os.pathconf(tmp_path, "PC_NAME_MAX")
    fits = tmp_path / ("b" * (longest - STAGED_EXTRA - 5) + ".json")
    assert check("--json", fits).target == fits
    with pytest.raises(OutputError, match="too long"):
        check("--json", tmp_path / ("b" * (longest - STAGED_EXTRA) + ".json"))
    done = cli("simulate", "blp1995-import-tariff", "--json", "b" * (longest - 10) + ".json",
               "--store", tmp_path / "st.duckdb", cwd=tmp_path)
    assert done.returncode == 2 and "too long" in done.stderr
    assert not (tmp_path / "st.duckdb").exists()


def test_an_unknown_outcome_is_one_line_naming_it():
    """`sensitivity --outcome no/such` raised a KeyError traceback (re-probe of issue 12)."""
    from autopact.runs.uncertainty import leaf

    with pytest.raises(ScenarioError, match="unknown outcome 'no/such'"):
        leaf({"consumer_surplus_usd": 1.0}, "no/such")
    with pytest.raises(ScenarioError, match="is a number"):
        leaf({"consumer_surplus_usd": 1.0}, "consumer_surplus_usd/x")
    assert leaf({"units_by_nationality": {"US": 2.0}}, "units_by_nationality/China") == 0.0


@pytest.mark.parametrize("settings, field", [({"absorb": 5}, "absorb"), ({"absorb": [["product_ids"]]}, "absorb"),
                                             ({"normalise_agent_weights": "no"}, "normalise_agent_weights"),
                                             ({"money": 5}, "money"), ({"sigma": [[1.0, "a"]]}, "sigma"),
                                             ({"rho": True}, "rho")])
def test_estimation_settings_of_the_wrong_type_are_refused_naming_the_field(settings, field):
    """`absorb: 5` gave a TypeError traceback and `normalise_agent_weights: "no"` counted as true
    (re-probe of issue 12)."""
    from autopact.fit.estimation_settings import EstimationFileError, check_config

    with pytest.raises(EstimationFileError, match=f"c.yaml: {field}: must be"):
        check_config(settings, "c.yaml")


def test_a_fifo_as_scenario_is_refused_instead_of_hanging(tmp_path: Path):
    """A FIFO given as scenario (or config) blocked the read forever (re-probe of issue 12)."""
    fifo = tmp_path / "scenario.yaml"
    os.mkfifo(fifo)
    done = cli("simulate", fifo, "--store", tmp_path / "st.duckdb", cwd=tmp_path)
    assert done.returncode == 2 and "not a regular file" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
