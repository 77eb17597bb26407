"""Shared checks of CLI runs in tests (importable: pytest puts this folder on sys.path with conftest.py)."""

import subprocess


def error_line(done: subprocess.CompletedProcess) -> str:
    """The command failed with exit status 2 and its last stderr line is the whole error, no traceback."""
    assert done.returncode == 2, (done.returncode, done.stderr)
    assert "Traceback" not in done.stderr and "╭" not in done.stderr, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("error: "), done.stderr
    return last
