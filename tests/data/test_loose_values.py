"""Loose values a re-probe of issue 12 found accepted: numbers and booleans in forms only YAML 1.1
reads so, keys given twice, other scripts' digits and absurd sizes in ``--set``, and a firm
nationality no policy can name. Each is refused naming the field or line and the value."""

import subprocess
import sys

import pytest

from autopact.data import load_market
from autopact.data.assumptions import AssumptionError, resolve
from autopact.data.inputs import load_yaml
from autopact.data.schema import MarketDataError
from autopact.errors import ScenarioError
from autopact.policy.scenario import load_scenario


@pytest.mark.parametrize("text, value", [
    ("section_301_china_ev_pct: 1:30", "'1:30'"),  # base 60: 90 in YAML 1.1
    ("section_301_china_ev_pct: 0x10", "'0x10'"),  # 16
    ("section_301_china_ev_pct: 017", "'017'"),  # octal 15 in YAML 1.1, 17 in YAML 1.2
    ("section_301_china_ev_pct: 1_000", "'1_000'"),
    ("section_301_china_ev_pct: 1:30.5", "'1:30.5'"),
])
def test_yaml_1_1_numbers_are_refused_naming_the_line(tmp_path, text, value):
    path = tmp_path / "s.yaml"
    path.write_text(f"name: loose\nparameters:\n  {text}\n")
    with pytest.raises(ScenarioError, match=f"s.yaml: refused: line 3: {value} is a YAML 1.1"):
        load_scenario(str(path))


@pytest.mark.parametrize("word", ["yes", "no", "on", "Off", "NO"])
def test_yaml_1_1_booleans_are_refused(tmp_path, word):
    path = tmp_path / "s.yaml"
    path.write_text(f"name: loose\nconnected_vehicle_rule:\n  enabled: {word}\n")
    with pytest.raises(ScenarioError, match=f"line 3: '{word}' is a YAML 1.1 boolean"):
        load_scenario(str(path))


def test_quoted_forms_stay_text_and_yaml_1_2_numbers_still_read(tmp_path):
    path = tmp_path / "x.yaml"
    path.write_text("a: '1:30'\nb: [1, -2, +3, 0, .5, 1.5e+3, -.inf, true, False]\n")
    assert load_yaml(path, ValueError) == {"a": "1:30", "b": [1, -2, 3, 0, 0.5, 1500.0, float("-inf"), True, False]}


@pytest.mark.parametrize("text, line", [("name: a\nname: b\n", 2),
                                         ("name: a\nparameters: {mfn_passenger_pct: 1, mfn_passenger_pct: 2}\n", 2)])
def test_a_key_given_twice_is_refused_naming_it(tmp_path, text, line):
    path = tmp_path / "s.yaml"
    path.write_text(text)
    with pytest.raises(ScenarioError, match=f"line {line}: the key '(name|mfn_passenger_pct)' is given twice"):
        load_scenario(str(path))


def test_a_merge_key_may_still_be_overridden(tmp_path):
    path = tmp_path / "x.yaml"
    path.write_text("base: &b {k: 1, j: 2}\nthis:\n  <<: *b\n  k: 3\n")
    assert load_yaml(path, ValueError)["this"] == {"k": 3, "j": 2}


@pytest.mark.parametrize("raw", ["١٢٠٠٠٠٠٠٠", "１２０００００００", "120_000_000", "0x10", "infinity"])
def test_set_takes_ascii_decimal_numbers_only(raw):
    """Python's float() reads Arabic-Indic and full-width digits and underscores."""
    with pytest.raises(AssumptionError, match="is not a number"):
        resolve({"market_size_households": raw})


@pytest.mark.parametrize("name", ["market_size_households", "market_total_units"])
def test_an_absurd_market_size_is_refused_with_the_reason(name):
    with pytest.raises(AssumptionError, match=r"is above .*\(ten times the sourced default"):
        resolve({name: 1e41})
    with pytest.raises(AssumptionError, match="is above"):
        resolve({name: "1e41"})


def test_ordinary_values_still_parse():
    assert resolve({"market_size_households": " 1.5e8 "})["market_size_households"].value == 150_000_000


def test_cli_set_with_arabic_indic_digits_is_one_line():
    done = subprocess.run([sys.executable, "-m", "autopact.interfaces.cli", "data", "summary", "--json",
                           "--set", "market_size_households=١٢٠٠٠٠٠٠٠"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "market_size_households" in done.stderr and "not a number" in done.stderr


def test_an_unknown_firm_nationality_is_refused(bundled_products, write_csv):
    table = bundled_products.copy()
    table.loc[2, "firm_nationality"] = "Atlantis"
    with pytest.raises(MarketDataError) as raised:
        load_market(path=write_csv(table))
    assert "line 4, column 'firm_nationality': unknown nationality" in str(raised.value)
    assert "'Atlantis'" in str(raised.value)


def test_units_in_arabic_indic_digits_are_refused(bundled_products, write_csv):
    """float() read the CSV cell '١٢٠٠٠' as 12000."""
    table = bundled_products.copy()
    table["units"] = table["units"].astype(object)
    table.loc[2, "units"] = "١٢٠٠٠"
    with pytest.raises(MarketDataError) as raised:
        load_market(path=write_csv(table))
    assert "line 4, column 'units': units must be a whole number" in str(raised.value)


def test_calibrate_fix_takes_ascii_decimal_numbers_only():
    done = subprocess.run([sys.executable, "-m", "autopact.interfaces.cli", "calibrate", "--fix", "rho=٠"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "--fix rho: must be a finite decimal number" in done.stderr
