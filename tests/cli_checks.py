"""Shared checks of CLI runs in tests (importable: pytest puts this folder on sys.path with conftest.py)."""

import os
import subprocess
import sys
from pathlib import Path

import autopact

CLI = [sys.executable, "-m", "autopact.interfaces.cli"]
SOURCE = str(Path(autopact.__file__).resolve().parents[1])


def run_cli(*args, env: dict | None = None) -> subprocess.CompletedProcess:
    """``autopact ARGS`` in a fresh interpreter on this checkout's source."""
    return subprocess.run(CLI + [str(a) for a in args], capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHONPATH": SOURCE, **(env or {})})


def error_line(done: subprocess.CompletedProcess) -> str:
    """The command failed with exit status 2 and its last stderr line is the whole error, no traceback."""
    assert done.returncode == 2, (done.returncode, done.stderr)
    assert "Traceback" not in done.stderr and "╭" not in done.stderr, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("error: "), done.stderr
    return last
