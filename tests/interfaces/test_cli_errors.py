"""Bad input files and settings through the real CLI: one line naming the path and the problem, exit
status 2, no traceback (AUTOPACT_DEBUG=1 brings the traceback back)."""

from pathlib import Path

import pytest

from autopact.data import bundled_path

from cli_checks import run_cli as cli


@pytest.fixture()
def files(tmp_path: Path) -> dict[str, Path]:
    folder = tmp_path / "a-folder"
    folder.mkdir()
    header_only = tmp_path / "header-only.csv"
    header_only.write_text(bundled_path("products_2025.csv").read_text().splitlines()[0] + "\n")
    bad_yaml = tmp_path / "estimation.yaml"
    bad_yaml.write_text("products: [products.csv\nx1: 1 + prices\n")
    return {"folder": folder, "header_only": header_only, "bad_yaml": bad_yaml}


CASES = {  # command line ({name}: a path from ``files``) -> what the line says besides the path
    "scenario is a folder": (["simulate", "{folder}"], "Is a directory"),
    "sweep is a folder": (["sweep", "{folder}"], "is a folder"),
    "products CSV is a folder": (["data", "validate", "{folder}"], "Is a directory"),
    "--path CSV is a folder": (["data", "summary", "--path", "{folder}"], "Is a directory"),
    "targets CSV is a folder": (["calibrate", "--targets", "{folder}"], "Is a directory"),
    "estimation config is a folder": (["estimate", "{folder}"], "Is a directory"),
    "header-only CSV": (["data", "validate", "{header_only}"], "no rows"),
    "YAML syntax error in an estimation config": (["estimate", "{bad_yaml}"], "not valid YAML"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_is_one_line(case, files):
    args, problem = CASES[case]
    args = [a.format(**files) for a in args]
    done = cli(*args)
    assert done.returncode == 2, (done.returncode, done.stderr)
    assert "Traceback" not in done.stderr and "╭" not in done.stderr, done.stderr
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("error: ") and problem in line, line
    assert Path(args[-1]).name in line, line


def test_an_unreachable_scheduler_is_one_line_before_the_run(results_store):
    """Port 1 on this machine answers nothing: the connection is refused at once (main waited 20 s for
    Dask after solving the central case, then printed a traceback)."""
    done = cli("simulate", "blp1995-import-tariff", "--draws", "1", "--scheduler", "tcp://127.0.0.1:1")
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("error: --scheduler tcp://127.0.0.1:1:"), line
    assert done.stdout == ""  # the central case was not solved first
    assert not results_store.exists()


def test_debug_shows_the_traceback(files):
    done = cli("simulate", files["folder"], env={"AUTOPACT_DEBUG": "1"})
    assert done.returncode != 0 and "IsADirectoryError" in done.stderr and "Traceback" in done.stderr
