"""CLI smoke tests in an 80-column terminal (audit U16): `autopact sensitivity` and its tornado tables,
`autopact scenarios` and `scenarios --candidates`, `--workers` and `--household-seed`.

Each command runs as a subprocess with COLUMNS=80 (rich sizes its tables to it). The checks: exit
status 0; no line wider than 80 characters; no cell cut with rich's '…'; and every number in the
tables is the one the command's JSON holds (the JSON parsed, formatted as the table formats it, and
found in its row), or, for the candidate list, the one the bundled CSV holds, read with pandas.

The scenario is open-entry-us-plants, the cheapest honest choice: one uncertain input
(launch_appeal_quantile), so a sensitivity run is its central solve and two more.
"""

import json
import math
import os
from pathlib import Path

import pandas as pd
import pytest
import yaml

from autopact.data import bundled_path
from cli_checks import run_cli

SCENARIO = "open-entry-us-plants"
WIDTH = 80
NARROW = {"COLUMNS": str(WIDTH)}
DEFAULT_OUTCOMES = ["units_by_nationality/China", "units_by_nationality/US", "consumer_surplus_usd",
                    "us_assembly_jobs"]


def sensitivity(folder: Path, *options: str, env: dict | None = None):
    """`autopact sensitivity SCENARIO OPTIONS` at 80 columns, JSON to a file and a results store of its
    own (a module fixture runs before the per-test AUTOPACT_STORE is set); (process, document)."""
    folder.mkdir(parents=True, exist_ok=True)
    done = run_cli("sensitivity", SCENARIO, *options, "--json", folder / "out.json", "--store",
                   folder / "store.duckdb", env={**NARROW, **(env or {})})
    assert done.returncode == 0, done.stderr
    return done, json.loads((folder / "out.json").read_text())


@pytest.fixture(scope="module")
def serial(tmp_path_factory):
    return sensitivity(tmp_path_factory.mktemp("serial"), "--serial")


def numbers(document: dict) -> dict:
    """The document without its run id (which differs between any two runs)."""
    return {k: v for k, v in document.items() if k != "run_id"}


def shown(value, metric: str) -> str:
    """An outcome as the sensitivity table writes it (autopact.interfaces.cli_runs._fmt, written out
    again here): shares in percentage points, dollars in $m from a million and $bn from $100 million,
    other counts whole with thousands separators."""
    if value is None:
        return "n/a"
    value = float(value)
    sign = "-" if value < 0 else "+"
    size = abs(value)
    if "share" in metric:
        return f"{value * 100:+.2f} pp"
    if "_usd" in metric:
        if size < 0.5:
            return "$0"
        if 1e6 <= size < 1e8:
            return f"{sign}${size / 1e6:,.1f}m"
        if size >= 1e7:
            return f"{sign}${size / 1e9:,.2f}bn"
        return f"{sign}${size:,.0f}"
    if size >= 1e8:
        return f"{sign}${size / 1e9:,.2f}bn"
    if 0 < size < 1:
        return f"{value:+.4f}"
    return f"{value:+,.0f}"


def tables(text: str) -> list[tuple[str, list[list[str]]]]:
    """Each rich table in ``text``: (its title, its body rows). A row is its cells, a cell folded over
    several lines joined back; a line whose cells after the first are all empty continues the row above."""
    found, title, rows, body = [], [], [], False
    for line in text.splitlines():
        if line.startswith("┏"):
            body = False
        elif line.startswith("┡"):
            body = True
        elif line.startswith("└"):
            found.append((" ".join(title), rows))
            title, rows, body = [], [], False
        elif body and line.startswith("│"):
            cells = [c.strip() for c in line.strip()[1:-1].split("│")]
            if rows and not any(cells[1:]):
                rows[-1][0] += cells[0]
            else:
                rows.append(cells)
        elif not line.startswith(("┃", "│")) and line.strip():
            title.append(line.strip())
    return found


def assert_fits(done) -> None:
    for stream in (done.stdout, done.stderr):
        wide = [line for line in stream.splitlines() if len(line) > WIDTH]
        assert not wide, wide


def assert_tables_show_the_json(done, document: dict) -> None:
    """Every tornado table: its title's central change, and each input's p05, p95, outcomes and swing,
    are the JSON's numbers as the table formats them, uncut."""
    assert_fits(done)
    assert "…" not in done.stdout, done.stdout
    drawn = tables(done.stdout)
    charts = [(variant["variant"], name, chart) for variant in document["variants"]
              for name, chart in variant["tornado"].items()]
    assert len(drawn) == len(charts) > 0
    for (title, rows), (variant, name, chart) in zip(drawn, charts):
        assert title.startswith(f"{variant}: {name}, central change {shown(chart['central'], name)}; "), title
        assert len(rows) == len(chart["inputs"])
        for cells, row in zip(rows, chart["inputs"]):
            assert cells == [row["input"], f"{row['input_p05']:.4g}", f"{row['input_p95']:.4g}",
                             shown(row["outcome_at_p05"], name), shown(row["outcome_at_p95"], name),
                             shown(row["swing"], name)], (title, cells)


def test_sensitivity_at_80_columns_prints_every_number_of_its_json_uncut(serial):
    done, document = serial
    assert document["outcomes"] == DEFAULT_OUTCOMES
    assert [i["key"] for i in document["variants"][0]["inputs"]] == ["parameter:launch_appeal_quantile"]
    assert document["variants"][0]["failures"] == []
    assert_tables_show_the_json(done, document)


def leaf(change: dict, path: str):
    for part in path.split("/"):
        change = change[part]
    return change


def test_each_tornado_end_is_the_scenario_simulated_at_that_input(serial, tmp_path):
    """The independent check of the tornado's numbers: `autopact simulate` on the scenario with the
    input set to its 95th percentile gives the outcomes the sensitivity run reports there."""
    from autopact.policy.scenario import bundled_scenarios

    _, document = serial
    row = {name: chart["inputs"][0] for name, chart in document["variants"][0]["tornado"].items()}
    p95 = row[DEFAULT_OUTCOMES[0]]["input_p95"]
    definition = yaml.safe_load(Path(bundled_scenarios()[SCENARIO]).read_text())
    assert "parameters" not in definition
    definition["parameters"] = {"launch_appeal_quantile": p95}
    path = tmp_path / "at-p95.yaml"
    path.write_text(yaml.safe_dump(definition))
    done = run_cli("simulate", path, "--json", tmp_path / "out.json", env=NARROW)
    assert done.returncode == 0, done.stderr
    assert_fits(done)
    change = json.loads((tmp_path / "out.json").read_text())["change"]
    for name in DEFAULT_OUTCOMES:
        assert leaf(change, name) == pytest.approx(row[name]["outcome_at_p95"], rel=1e-8), name


def test_two_workers_give_the_serial_numbers(serial, tmp_path):
    done, document = sensitivity(tmp_path, "--workers", "2")
    assert "Dask: 2 workers" in done.stderr  # it ran on a local cluster of two, not in this process
    assert numbers(document) == numbers(serial[1])
    assert done.stdout == serial[0].stdout
    assert_tables_show_the_json(done, document)


def test_the_same_household_seed_gives_the_same_numbers(serial, tmp_path):
    """--household-seed 0, stated, and with the disk cache off (so the market is rebuilt, not read
    back), gives the default run's numbers to the bit."""
    done, document = sensitivity(tmp_path, "--serial", "--household-seed", "0", env={"AUTOPACT_CACHE": "off"})
    assert numbers(document) == numbers(serial[1])
    assert done.stdout == serial[0].stdout


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("AUTOPACT_SLOW"),
                    reason="another household seed calibrates the market anew (minutes on 2 cores): set AUTOPACT_SLOW=1")
def test_another_household_seed_gives_other_numbers(serial, tmp_path):
    done, document = sensitivity(tmp_path, "--serial", "--household-seed", "1")
    assert_tables_show_the_json(done, document)
    ours, theirs = document["variants"][0]["tornado"], serial[1]["variants"][0]["tornado"]
    for name in DEFAULT_OUTCOMES:
        assert ours[name]["central"] != theirs[name]["central"], name
        assert ours[name]["inputs"][0]["outcome_at_p95"] != theirs[name]["inputs"][0]["outcome_at_p95"], name
    assert done.stdout != serial[0].stdout


def test_a_household_seed_that_cannot_apply_is_not_silently_ignored(tmp_path):
    done = run_cli("simulate", "blp1995-import-tariff", "--household-seed", "1", "--json", tmp_path / "o.json",
                   "--store", tmp_path / "store.duckdb", env=NARROW)
    assert done.returncode == 2 and "--household-seed 1" in done.stderr, (done.returncode, done.stderr)
    assert not (tmp_path / "o.json").exists() and not (tmp_path / "store.duckdb").exists()  # refused before any work


def test_scenarios_at_80_columns_lists_every_bundled_scenario_by_its_full_name():
    from autopact.policy.scenario import bundled_scenarios

    done = run_cli("scenarios", env=NARROW)
    assert done.returncode == 0, done.stderr
    assert_fits(done)
    assert "…" not in done.stdout
    (_, rows), = tables(done.stdout)
    names = [cells[0] for cells in rows if cells[0]]
    assert names == sorted(bundled_scenarios())


@pytest.fixture(scope="module")
def candidates():
    done = run_cli("scenarios", "--candidates", env=NARROW)
    assert done.returncode == 0, done.stderr
    return done, pd.read_csv(bundled_path("chinese_models.csv"))


def test_candidates_at_80_columns_print_every_china_price_of_the_data_uncut(candidates):
    done, data = candidates
    assert_fits(done)
    body = [line.strip()[1:-1].split("│") for line in done.stdout.splitlines() if line.startswith("│")]
    assert all(len(cells) == 4 for cells in body)
    printed = [cells[-1].strip() for cells in body if cells[-1].strip()]
    prices = data["price_china_cny_first"]
    expected = [f"{p:,.0f}" for p in prices if not math.isnan(p)]
    assert len(expected) >= 10 and printed == expected  # in the file's order, none cut


def test_candidates_at_80_columns_print_every_candidate_id_whole(candidates):
    done, data = candidates
    assert "…" not in done.stdout
    first = "".join(line.strip()[1:-1].split("│")[0].strip() for line in done.stdout.splitlines()
                    if line.startswith("│"))
    at = 0
    for candidate in data["candidate_id"]:
        at = first.find(candidate, at)
        assert at >= 0, candidate
        at += len(candidate)
