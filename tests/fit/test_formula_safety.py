"""No code from any file: formulas pass a whitelist before patsy sees them, and a saved estimation
is refused when its record was edited or its data paths leave its folder.

The payloads write a marker file, so each test also checks that the side effect did not happen.
On the code before the whitelist, patsy ran them (``autopact estimate`` on a config, and
``autopact simulate`` on a scenario whose ``estimation.result`` is a doctored saved result).
"""

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import patsy
import pytest

from autopact.fit.formulas import ENVIRONMENT, FormulaError, check_formula
from autopact.fit.problem import EstimationError, _matrix
from autopact.fit.saved import (
    EstimationFileError,
    build_problem,
    config_inputs,
    example_inputs,
    load_estimation,
    run_estimation,
    save_estimation,
)

CLI = [sys.executable, "-m", "autopact.interfaces.cli"]
WIDE = {**os.environ, "COLUMNS": "1000"}  # rich wraps stderr at 80 columns when it is not a terminal
COLUMNS = ["prices", "hpwt", "air", "mpd", "space", "income", "region"]


def chars(text: str) -> str:
    """``text`` as chr(..)+chr(..): a string built without quotes, commas or any character the
    character check refuses, so only the syntax-tree check stands between it and patsy."""
    return "+".join(f"chr({ord(c)})" for c in text)


def payloads(marker: Path) -> list[str]:
    """Formulas that, evaluated by patsy as before, create ``marker``."""
    return [
        f"0 + prices + I(__import__('pathlib').Path('{marker}').touch() or 1)",  # the probe's payload, as a file write
        f"0 + prices + I(__import__({chars('pathlib')}).Path({chars(str(marker))}).touch())",  # no quote, no comma
        f"0 + prices + I(exec({chars(f'open({str(marker)!r}, {chr(119)!r})')}))",
    ]


VARIANTS = [
    "0 + prices + I(__import__('os').system('id') * 0 + 1)",
    "__import__(os)",
    "().__class__.__bases__",
    "hpwt + ().__class__.__bases__[0].__subclasses__()",
    "open(hpwt)",
    "eval(hpwt)",
    "1 .real",
    "hpwt + (1).__class__",
    "hpwt.values",
    "(lambda x: x)(hpwt)",
    "lambda: 1",
    "'hpwt'",
    "abs(hpwt)",
    "getattr(hpwt)",
    "hpwt[0]",
    "__builtins__",
    "nonexistent",
    "log(hpwt, hpwt)",
    "log(x=hpwt)",
    "I(9 ** 9 ** 9)",
    "hpwt # comment",
    "hpwt\n+ air",
    "hpwt or air",
    "hpwt if air else prices",
    "(x for x in hpwt)",
    "True",
    "...",
    "ｅｖａｌ(hpwt)",  # fullwidth letters, which Python would read as eval
]
LEGIT = ["1 + hpwt + air + mpd + space", "1 + prices + hpwt + air + mpd + space",
         "1 + log(hpwt) + air + log(mpg) + log(space) + trend", "0 + hpwt", "1 + prices", "hpwt + air", "0 + prices",
         "hpwt:air", "hpwt * air", "(hpwt + air) ** 2", "hpwt / air", "0 + C(region)", "C(firm_ids):hpwt",
         "I(hpwt ** 2) + sqrt(space) + exp(air) - 1", "- 1 + I(2 * hpwt - air / 3)", "1 + I(1 / hpwt)"]


@pytest.fixture(scope="module")
def blp():
    return example_inputs("blp1995")


def former_matrix(formula: str, data: pd.DataFrame) -> pd.DataFrame:
    """The design matrix as autopact built it before the whitelist: patsy with log, exp and sqrt in scope."""
    return patsy.dmatrix(formula, data, return_type="dataframe",
                         eval_env=patsy.EvalEnvironment([{"log": np.log, "exp": np.exp, "sqrt": np.sqrt}]))


def write_config(folder: Path, blp, **settings: str) -> Path:
    """Two BLP 1995 markets and a logit config (linear IV: instant); ``settings`` replace its formulas."""
    folder.mkdir(exist_ok=True)
    products = blp.products[blp.products["market_ids"].isin([1989, 1990])]
    products.to_csv(folder / "products.csv", index=False)
    agents = pd.read_csv(blp.files["agents"])
    agents[agents["market_ids"].isin([1989, 1990])].to_csv(folder / "agents.csv", index=False)
    config = {"products": "products.csv", "x1": "1 + prices + hpwt", "method": "1s", **settings}
    (folder / "config.yaml").write_text(json.dumps(config))  # JSON is YAML
    return folder / "config.yaml"


def reseal(record: dict) -> dict:
    """What a forger would do after editing a record: recompute its hash (sha256 of the JSON with sorted
    keys and no spaces, without the hash field), as an attacker could from the documented format."""
    body = {k: v for k, v in record.items() if k != "record_sha256"}
    if "record_sha256" in record:
        record["record_sha256"] = hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    return record


def one_line_error(done: subprocess.CompletedProcess) -> str:
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
    return done.stderr


@pytest.mark.parametrize("formula", VARIANTS)
def test_formulas_outside_the_whitelist_are_refused_naming_the_field_and_formula(formula):
    with pytest.raises(FormulaError) as caught:
        check_formula(formula, "x1", COLUMNS)
    message = str(caught.value)
    assert message.startswith(f"x1: formula {formula!r} is refused: ") and "\n" not in message


def test_the_payloads_are_refused_and_write_nothing(tmp_path, blp):
    marker = tmp_path / "marker"
    for formula in payloads(marker):
        with pytest.raises(EstimationError, match="x1: formula .* is refused"):
            _matrix(formula, blp.products, "x1")
    assert not marker.exists()


def test_patsy_gets_no_builtins_even_past_the_check(tmp_path, blp):
    """Defence in depth: the evaluation environment shadows every Python builtin, so a payload that
    reached patsy unchecked still could not import, open or exec."""
    marker = tmp_path / "marker"
    for formula in payloads(marker):
        with pytest.raises(patsy.PatsyError, match="not allowed in a formula"):
            patsy.dmatrix(formula, blp.products, return_type="dataframe", eval_env=ENVIRONMENT)
    assert not marker.exists()


@pytest.mark.parametrize("formula", LEGIT)
def test_the_formulas_in_use_give_the_same_design_matrices_as_before(formula, blp):
    pd.testing.assert_frame_equal(_matrix(formula, blp.products, "x1"), former_matrix(formula, blp.products))


def test_the_bundled_formulas_and_instruments_give_the_same_matrices_as_before(blp):
    for key in ("x1", "x2", "x3"):
        formula = blp.settings[key]
        pd.testing.assert_frame_equal(_matrix(formula, blp.products, key), former_matrix(formula, blp.products))
    demographics = blp.settings["demographics"]
    pd.testing.assert_frame_equal(_matrix(demographics, blp.agents, "demographics", "agents"),
                                  former_matrix(demographics, blp.agents))
    # I(1) passes the whitelist; patsy alone fails on it (one row against the data's rows), autopact makes it
    # a constant column as PyBLP does (tests/fit/test_estimation_settings.py)
    check_formula("0 + I(1)", "x1", COLUMNS)
    with pytest.raises(patsy.PatsyError, match="rows mismatch"):
        former_matrix("0 + I(1)", blp.products)
    ones = _matrix("0 + I(1)", blp.products, "x1")
    assert list(ones.columns) == ["I(1)"] and (ones["I(1)"] == 1.0).all()
    with pytest.raises(EstimationError, match="x1: formula '1 \\+ I\\(1\\)' has more than one constant term"):
        build_problem(type(blp)({**blp.settings, "x1": "1 + I(1)"}, blp.products, blp.agents, blp.files))


@pytest.mark.parametrize("key", ["x1", "x2", "x3", "demographics", "instruments.blp", "instruments.differentiation"])
def test_an_estimation_config_with_a_payload_is_refused_before_any_data_are_read(key, tmp_path, blp):
    marker = tmp_path / "marker"
    for formula in payloads(marker):
        settings = {key: formula} if "." not in key else {"instruments": {key.split(".")[1]: formula}}
        config = write_config(tmp_path / "config", blp, **settings)
        with pytest.raises(EstimationFileError, match=f"config.yaml: {key}: formula .* is refused"):
            config_inputs(config)
    assert not marker.exists()


@pytest.mark.parametrize("which", [0, 1])
def test_cli_estimate_refuses_a_payload_with_exit_2_and_no_side_effect(which, tmp_path, blp):
    marker = tmp_path / "marker"
    config = write_config(tmp_path / "config", blp, x1=payloads(marker)[which])
    done = subprocess.run([*CLI, "estimate", str(config), "--json"], capture_output=True, text=True, env=WIDE, timeout=600)
    assert "x1: formula" in one_line_error(done) and "is refused" in done.stderr
    assert not marker.exists()


@pytest.fixture()
def saved_result(tmp_path, blp):
    """A real saved result (logit on two BLP markets) with a scenario on it, in one folder."""
    folder = tmp_path / "saved"
    inputs = config_inputs(write_config(folder, blp))
    save_estimation(run_estimation(inputs), inputs, build_problem(inputs), folder / "result.json")
    (folder / "scenario.yaml").write_text("name: s\nestimation:\n  result: result.json\n  market: 1990\n"
                                          "  market_size: {households: 1000000, source: test}\n")
    return folder


def simulate_cli(folder: Path) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, "simulate", str(folder / "scenario.yaml"), "--json", str(folder / "out.json")],
                          capture_output=True, text=True, env=WIDE, timeout=600)


def test_a_saved_result_loads_and_a_scenario_runs_on_it(saved_result):
    assert load_estimation(str(saved_result / "result.json")).problem().x1_names == ["Intercept", "prices", "hpwt"]
    done = simulate_cli(saved_result)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("key", ["x1", "x3", "instruments"])
def test_simulate_refuses_a_doctored_saved_result_even_with_a_recomputed_hash(key, saved_result, tmp_path):
    marker = tmp_path / "marker"
    path = saved_result / "result.json"
    record = json.loads(path.read_text())
    payload = payloads(marker)[1]
    record["settings"][key] = {"blp": payload} if key == "instruments" else payload
    path.write_text(json.dumps(reseal(record)))
    with pytest.raises(EstimationFileError, match="is refused"):
        load_estimation(str(path))
    error = one_line_error(simulate_cli(saved_result))
    assert "formula" in error and "is refused" in error and not (saved_result / "out.json").exists()
    assert not marker.exists()


@pytest.mark.parametrize("edit", ["formula", "setting", "estimate", "data hash"])
def test_an_edited_record_is_refused_by_its_hash(edit, saved_result, tmp_path):
    marker = tmp_path / "marker"
    path = saved_result / "result.json"
    record = json.loads(path.read_text())
    if edit == "formula":
        record["settings"]["x1"] = payloads(marker)[1]
    elif edit == "setting":
        record["settings"]["method"] = "2s"
    elif edit == "estimate":
        record["estimates"]["beta"]["prices"] *= 1.01
    else:
        record["data"]["products"]["sha256"] = "0" * 64
    path.write_text(json.dumps(record, indent=1))
    with pytest.raises(EstimationFileError, match="record_sha256 .* does not match its content"):
        load_estimation(str(path))
    assert "record_sha256" in one_line_error(simulate_cli(saved_result))
    assert not marker.exists()


def test_a_record_without_a_hash_is_refused(saved_result):
    path = saved_result / "result.json"
    record = json.loads(path.read_text())
    del record["record_sha256"]
    path.write_text(json.dumps(record))
    with pytest.raises(EstimationFileError, match="record_sha256 None"):
        load_estimation(str(path))
    path.write_text(json.dumps({**record, "format": "autopact-estimation-result/1"}))
    with pytest.raises(EstimationFileError, match="older autopact without a record hash"):
        load_estimation(str(path))


@pytest.mark.parametrize("where", ["parent", "absolute", "bundled"])
def test_data_paths_may_not_leave_the_results_folder(where, saved_result, tmp_path):
    path = saved_result / "result.json"
    record = json.loads(path.read_text())
    outside = tmp_path / "elsewhere" / "products.csv"
    outside.parent.mkdir()
    outside.write_bytes((saved_result / "products.csv").read_bytes())  # same bytes: only the path is wrong
    record["data"]["products"]["path"] = {"parent": "../elsewhere/products.csv", "absolute": str(outside),
                                          "bundled": "../../../../../../../../" + str(outside)}[where]
    if where == "bundled":
        record["data"]["bundled"] = "blp1995"
    path.write_text(json.dumps(reseal(record)))
    folder = "the bundled data folder" if where == "bundled" else "the result's folder"
    with pytest.raises(EstimationFileError, match=f"data.products.path .* leaves {folder}"):
        load_estimation(str(path))
    assert "leaves" in one_line_error(simulate_cli(saved_result))


def test_a_result_is_not_saved_where_it_could_not_name_its_data(tmp_path, blp):
    config = write_config(tmp_path / "data", blp)
    out = tmp_path / "results" / "r.json"
    out.parent.mkdir()
    done = subprocess.run([*CLI, "estimate", str(config), "--save", str(out)], capture_output=True, text=True, env=WIDE, timeout=600)
    assert "a saved result may only name data in its own folder" in one_line_error(done) and not out.exists()
    above = tmp_path / "r.json"  # a folder above the data's: allowed, and the result loads
    done = subprocess.run([*CLI, "estimate", str(config), "--save", str(above)], capture_output=True, text=True, env=WIDE, timeout=600)
    assert done.returncode == 0, done.stderr
    assert json.loads(above.read_text())["data"]["products"]["path"] == "data/products.csv"
    assert load_estimation(str(above)).data_sha256["products"]


def test_the_bundled_estimation_carries_a_valid_hash_and_loads():
    saved = load_estimation("blp1995")
    record = saved.record
    body = {k: v for k, v in record.items() if k != "record_sha256"}
    assert record["record_sha256"] == hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    assert saved.problem().x3_names[1] == "log(hpwt)"
