"""Output paths of the CLI (``interfaces/outputs.py``), through the real command in a subprocess:
checked before any work, written through links, devices and FIFOs, replaced atomically only when
they are regular files, and a failed write is one line, exit status 2, with the run kept in the store.

Devices are reached through a symbolic link in the test's own folder (``full.json -> /dev/full``),
never named directly: code that replaces its output instead of writing it (as main's did) then
replaces the test's link, not the machine's /dev/full or /dev/stdout (the tests may run as root).
"""

import json
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import autopact
from autopact.runs.store import Store
from cli_checks import error_line

CLI = [sys.executable, "-m", "autopact.interfaces.cli"]
SOURCE = str(Path(autopact.__file__).resolve().parents[1])  # the code under test, also from another folder
SCENARIO = "blp1995-import-tariff"  # the cheapest bundled scenario: the estimated 1990 market, about a second


def cli(*args, cwd: Path | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(CLI + [str(a) for a in args], capture_output=True, text=True, timeout=600, cwd=cwd,
                          env={**os.environ, "PYTHONPATH": SOURCE, **(env or {})})




def leftovers(*folders: Path) -> list[str]:
    return [name for folder in folders for name in os.listdir(folder) if "partial" in name]


def stored_runs(store: Path) -> list[dict]:
    return Store(store).runs() if store.exists() else []


@pytest.fixture()
def full(tmp_path: Path) -> Path:
    if not (os.path.exists("/dev/full") and stat.S_ISCHR(os.stat("/dev/full").st_mode)):
        pytest.skip("no /dev/full here")
    link = tmp_path / "full.json"
    link.symlink_to("/dev/full")
    return link


def test_a_full_device_fails_with_one_line_and_the_run_stays_stored(full, tmp_path, results_store):
    done = cli("simulate", SCENARIO, "--json", full)
    line = error_line(done)
    assert f"--json {full}" in line and "No space left on device" in line
    assert full.is_symlink() and os.readlink(full) == "/dev/full"
    assert not leftovers(tmp_path)
    [run] = stored_runs(results_store)
    assert run["status"] == "complete" and run["run_id"] in line
    # the same for runs export, and '-' is standard output there too
    exported = cli("runs", "export", full)
    assert "No space left on device" in error_line(exported)
    assert full.is_symlink() and not leftovers(tmp_path)
    parquet = subprocess.run(CLI + ["runs", "export", "-"], capture_output=True, timeout=600)
    assert parquet.returncode == 0 and parquet.stdout.startswith(b"PAR1"), parquet.stderr


@pytest.mark.parametrize("target", ["-", "link to /dev/stdout"])
def test_stdout_gets_the_json_alone(target, tmp_path):
    if target != "-":
        target = tmp_path / "stdout.json"
        target.symlink_to("/dev/stdout")
    done = cli("simulate", SCENARIO, "--json", target, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["scenario"]["name"] == SCENARIO  # the tables went to stderr
    assert "new vehicles sold a year" in done.stderr
    assert not (tmp_path / "-").exists()
    if target != "-":
        assert target.is_symlink()


def test_a_link_is_followed_and_stays_a_link(tmp_path):
    (tmp_path / "real").mkdir()
    real = tmp_path / "real" / "result.json"
    real.write_text("old")
    link = tmp_path / "result.json"
    link.symlink_to(real)
    done = cli("simulate", SCENARIO, "--json", link)
    assert done.returncode == 0, done.stderr
    assert link.is_symlink() and json.loads(real.read_text())["scenario"]["name"] == SCENARIO
    assert not leftovers(tmp_path, tmp_path / "real")


def test_a_fifo_is_written_not_replaced(tmp_path):
    fifo = tmp_path / "result.fifo"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    reader.start()
    done = cli("simulate", SCENARIO, "--json", fifo)
    assert done.returncode == 0, done.stderr
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    reader.join(timeout=60)
    assert received and json.loads(received[0])["scenario"]["name"] == SCENARIO


def test_a_failed_write_leaves_no_partial_and_no_half_outputs(full, tmp_path, results_store):
    kept = tmp_path / "result.json"
    kept.write_text("old")
    done = cli("simulate", SCENARIO, "--json", kept, "--report", full)
    assert "--report" in error_line(done) and "No space left on device" in done.stderr
    assert kept.read_text() == "old"  # the JSON is not written when the report cannot be
    assert not leftovers(tmp_path)
    assert [r["status"] for r in stored_runs(results_store)] == ["complete"]


CHECKED = {  # command line -> what the one line says; {missing}: a file in a missing folder, {folder}: a folder
    "simulate --json missing": (["simulate", SCENARIO, "--json", "{missing}"], "does not exist"),
    "simulate --report folder": (["simulate", SCENARIO, "--report", "{folder}"], "is a folder"),
    "simulate --json and --report one file": (["simulate", SCENARIO, "--json", "{folder}/x", "--report",
                                               "{folder}/x"], "name the same output"),
    "sensitivity --json folder": (["sensitivity", "ford-byd-jv", "--json", "{folder}"], "is a folder"),
    "sweep --report missing": (["sweep", "chinese-ev-tariff", "--report", "{missing}"], "does not exist"),
    "validate --json missing": (["validate", "--json", "{missing}"], "does not exist"),
    "calibrate --save missing": (["calibrate", "--save", "{missing}"], "does not exist"),
    "estimate --save folder": (["estimate", "--example", "blp1995", "--save", "{folder}"], "is a folder"),
    "runs export missing": (["runs", "export", "{missing}"], "does not exist"),
}


@pytest.mark.parametrize("case", sorted(CHECKED))
def test_outputs_are_checked_before_any_work(case, tmp_path, results_store):
    args, problem = CHECKED[case]
    missing, folder = tmp_path / "missing" / "out.json", tmp_path
    done = cli(*[a.format(missing=missing, folder=folder) for a in args])
    line = error_line(done)
    assert problem in line and (str(missing) in line or str(folder) in line), line
    assert not results_store.exists()  # nothing ran, nothing was stored


def test_a_read_only_folder_is_refused_before_the_run(tmp_path, results_store):
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        if os.access(folder, os.W_OK):
            pytest.skip("this user (root) may write to a read-only folder")
        line = error_line(cli("simulate", SCENARIO, "--json", folder / "out.json"))
        assert "is not writable" in line and str(folder) in line
        assert not results_store.exists()
    finally:
        folder.chmod(0o755)


def test_money_shows_totals_from_ten_million_in_billions_and_prices_in_dollars():
    from autopact.interfaces.money import Money

    money = Money(1.0, "")
    assert money(79_554_685) == "+$0.08bn" and money(-4.26e9) == "-$4.26bn" and money(500e9, False) == "$500.00bn"
    assert money(-233.4) == "-$233" and money(49_544.2, False) == "$49,544" and money(9_999_999) == "+$9,999,999"


def test_the_report_shows_a_households_surplus_change_in_dollars_and_cents():
    from autopact.interfaces.report import _per_household

    assert _per_household(0.99213) == "+$0.99" and _per_household(-47.6149) == "-$47.61" and _per_household(None) == "n/a"
    assert _per_household(1234.5) == "+$1,234.50"


def test_the_reports_profit_tables_keep_small_changes_in_billions():
    """The report's profit columns read in $bn: a firm's or a nationality's change under $10 million
    showed as -$4,808,732 beside -$0.14bn (ford-byd-jv's India row)."""
    import gzip
    import json
    from pathlib import Path

    from autopact.interfaces.report import html_report

    document = json.loads(gzip.decompress((Path(__file__).parents[1] / "golden" / "ford-byd-jv.json.gz").read_bytes()))
    page = html_report(document)
    india = next(f for f in document["firms"] if f["firm"] == "Tata Motors (JLR)")
    change = india["profit_counterfactual_usd"] - india["profit_baseline_usd"]
    assert -1e7 < change < 0
    assert f"-${abs(change):,.0f}" not in page and f"-${float(f'{abs(change) / 1e9:.2g}'):.10f}".rstrip("0") + "bn" in page


def test_the_reports_firm_table_shows_unit_changes_in_whole_vehicles():
    """A firm's change in units read -33.05 beside -30,696 (four significant digits for small floats)."""
    import gzip
    import json
    from pathlib import Path

    from autopact.interfaces.report import html_report

    document = json.loads(gzip.decompress((Path(__file__).parents[1] / "golden" / "ford-byd-jv.json.gz").read_bytes()))
    page = html_report(document)
    for f in document["firms"]:
        change = f["units_counterfactual"] - f["units_baseline"]
        assert f"<td>{change:+,.0f}</td>" in page, f["firm"]


def test_the_reports_entrant_cost_table_has_a_column_an_entrant_and_a_row_a_component():
    """With its dozen components as columns the entrants' cost table ran off the page (seen in Chromium):
    it now reads down, one column an entrant, each component's row with every entrant's number."""
    import gzip
    import json
    import re
    from pathlib import Path

    from autopact.interfaces.report import html_report

    document = json.loads(gzip.decompress((Path(__file__).parents[1] / "golden" / "chinese-imports-mfn.json.gz").read_bytes()))
    page = html_report(document)
    section = page.split("Entrants' marginal cost")[1].split("</table>")[0]
    header = re.search(r"<tr>(.*?)</tr>", section).group(1)
    assert re.findall(r"<th>(.*?)</th>", header) == [""] + [e["name"] for e in document["entrant_costs"]]
    row = re.search(r"<tr><td>total</td>(.*?)</tr>", section).group(1)
    assert re.findall(r"<td>(.*?)</td>", row) == [f"{e['total']:,.0f}" for e in document["entrant_costs"]]
    assert "<td>US dealer gross</td>" in section
