"""Input limits (issue 12, item 3): YAML files within a size and an alias-expansion limit, short error
messages, finite numbers in ``--set`` values and products CSVs, prices below the documented ceiling."""

import subprocess
import sys
import time

import pytest

from autopact.data import load_market
from autopact.data.assumptions import AssumptionError, resolve
from autopact.data.inputs import MAX_INPUT_BYTES, MAX_PRICE_USD, load_yaml
from autopact.data.schema import MarketDataError
from autopact.errors import ScenarioError
from autopact.policy.scenario import load_scenario


def alias_bomb(field: str, levels: int = 6, width: int = 10) -> str:
    """A "billion laughs" scenario: ``levels`` nested aliases of ``width`` each under ``field``
    (width ** levels values once expanded, a few hundred bytes of text)."""
    lines = ["name: bomb", 'a0: &a0 ["lol"]']
    for k in range(1, levels + 1):
        lines.append(f"a{k}: &a{k} [" + ", ".join([f"*a{k - 1}"] * width) + "]")
    lines.append(f"{field}: *a{levels}")
    return "\n".join(lines) + "\n"


def test_an_alias_bomb_is_refused_before_it_expands(tmp_path):
    path = tmp_path / "bomb.yaml"
    path.write_text(alias_bomb("description"))  # a million values once expanded
    began = time.perf_counter()
    with pytest.raises(ScenarioError) as caught:
        load_scenario(str(path))
    assert time.perf_counter() - began < 5
    message = str(caught.value)
    assert "aliases" in message and len(message) < 300 and "\n" not in message


def test_a_recursive_alias_is_refused(tmp_path):
    path = tmp_path / "loop.yaml"
    path.write_text("name: loop\nvariants: &v {a: *v}\n")
    with pytest.raises(ScenarioError, match="recursive alias"):
        load_scenario(str(path))


def test_a_file_over_the_size_limit_is_refused_before_parsing(tmp_path):
    path = tmp_path / "big.yaml"
    path.write_text("name: big\ndescription: " + "x" * MAX_INPUT_BYTES + "\n")
    with pytest.raises(ScenarioError, match="limited to 1,000,000 bytes"):
        load_scenario(str(path))


@pytest.mark.parametrize("text, expected", [
    ("name: deep\ndescription: " + "[" * 5000 + "]" * 5000 + "\n", "nested too deeply"),
    ("name: x\nyear: " + "9" * 5000 + "\n", "not valid YAML"),  # more digits than int() converts
])
def test_yaml_that_breaks_the_parser_is_refused_with_one_line(tmp_path, text, expected):
    path = tmp_path / "odd.yaml"
    path.write_text(text)
    with pytest.raises(ScenarioError, match=expected):
        load_yaml(path, ScenarioError)


def test_a_huge_value_is_cut_short_in_the_error_message(tmp_path):
    path = tmp_path / "long.yaml"
    path.write_text("name: x\nyear: " + "[" + ", ".join(["12345"] * 20_000) + "]\n")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(str(path))
    assert "year" in str(caught.value) and len(str(caught.value)) < 300


@pytest.mark.parametrize("raw", ["inf", "-inf", "nan", "1e400", float("inf"), float("nan"), True, [1]])
def test_a_numeric_assumption_takes_finite_numbers_only(raw):
    with pytest.raises(AssumptionError, match="market_size_households"):
        resolve({"market_size_households": raw})


def test_a_whole_numbered_assumption_refuses_fractions():
    with pytest.raises(AssumptionError, match="whole number"):
        resolve({"market_size_households": "1.5"})
    assert resolve({"market_size_households": "1.5e8"})["market_size_households"].value == 150_000_000
    with pytest.raises(AssumptionError, match="whole number"):
        resolve({"market_total_units": 16_000_000.5})


def test_cli_set_infinity_exits_2_with_one_line():
    result = subprocess.run([sys.executable, "-m", "autopact.interfaces.cli", "data", "summary", "--json",
                             "--set", "market_size_households=inf"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and "market_size_households" in result.stderr
    assert len([line for line in result.stderr.splitlines() if line.startswith("error")]) == 1


def test_an_msrp_beyond_the_ceiling_is_refused(bundled_products, write_csv):
    table = bundled_products.copy()
    table.loc[0, "msrp_usd"] = 1e308  # scaled every price to 0 at the transaction level
    with pytest.raises(MarketDataError) as caught:
        load_market(path=write_csv(table))
    issue = caught.value.issues[0]
    assert (issue.line, issue.column) == (2, "msrp_usd") and f"{MAX_PRICE_USD:,.0f}" in issue.message


def test_an_infinite_number_in_any_numeric_column_is_refused(bundled_products, write_csv):
    table = bundled_products.copy()
    table.loc[3, "length_in"] = float("inf")
    table.loc[4, "horsepower"] = float("-inf")
    with pytest.raises(MarketDataError) as caught:
        load_market(path=write_csv(table))
    found = {(i.line, i.column) for i in caught.value.issues}
    assert {(5, "length_in"), (6, "horsepower")} <= found


def test_infinite_units_are_refused_not_an_overflow(bundled_products, write_csv):
    """Re-probe of issue 12: units = inf raised OverflowError (int(inf)) instead of a data issue."""
    table = bundled_products.copy()
    table["units"] = table["units"].astype(object)
    table.loc[0, "units"] = "inf"
    with pytest.raises(MarketDataError) as caught:
        load_market(path=write_csv(table))
    assert (2, "units") in {(i.line, i.column) for i in caught.value.issues}


def test_cli_data_validate_refuses_a_price_beyond_the_ceiling(bundled_products, write_csv):
    table = bundled_products.copy()
    table.loc[0, "msrp_usd"] = 1e308
    result = subprocess.run([sys.executable, "-m", "autopact.interfaces.cli", "data", "validate", str(write_csv(table))],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 2 and "msrp_usd" in result.stderr and "Traceback" not in result.stderr
