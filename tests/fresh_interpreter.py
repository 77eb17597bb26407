"""Run a few lines of Python in a fresh interpreter against this autopact (wherever PYTHONPATH or the
install put it) and the tests' helpers (``synthetic``): for what is decided once a process, at import
(which modules load, which copy of scipy's routines is used)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import autopact

TESTS = Path(__file__).resolve().parent
SOURCE = Path(autopact.__file__).resolve().parents[1]


def run_code(code: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """``python -c code`` with this autopact and the tests' folder first on its path; its output as text."""
    path = os.pathsep.join(p for p in (str(SOURCE), str(TESTS), os.environ.get("PYTHONPATH", "")) if p)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout,
                          cwd=TESTS, env={**os.environ, "PYTHONPATH": path})


def prints(code: str) -> str:
    """What ``code`` prints in a fresh interpreter (``run_code``), stripped; a failure shows its stderr."""
    found = run_code(code)
    assert found.returncode == 0, found.stderr
    return found.stdout.strip()
