"""Shared helpers of the web API tests (importable: pytest puts this folder on sys.path)."""

import json
import time

from typer.testing import CliRunner

from autopact.interfaces.cli import app as cli_app  # every command registered


def wait(client, job_id: str, timeout: float = 600) -> dict:
    """The job's view once it is no longer queued or running (polling, as the page falls back to)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/api/jobs/{job_id}").json()
        if job["state"] not in ("queued", "running"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish")


def cli_json(tmp_path, *args: str) -> dict:
    """``autopact ARGS --json`` run in this process (the market is cached already), its document."""
    path = tmp_path / "cli.json"
    done = CliRunner().invoke(cli_app, [*args, "--json", str(path)])
    assert done.exit_code == 0, done.output
    return json.loads(path.read_text())
