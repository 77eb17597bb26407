"""Load test of ``autopact serve`` on loopback (issue 15): concurrent central runs, their latencies.

Run from the repository root with the environment that has autopact and its ``web`` extra installed:

    /path/to/venv/bin/python benchmarks/bench_web_load.py [--requests 20] [--concurrency 20] [--timeout 600]

Starts ``autopact serve`` in a fresh process on a free loopback port, with a results store and a disk
cache of this benchmark's own (a temporary folder), waits until it answers, then sends ``--requests``
``POST /api/run`` requests, ``--concurrency`` at a time, cycling over a few bundled scenarios, and
prints each scenario's count, the errors (any answer but 200, or none), and the latency of the
requests: median, 95th percentile and maximum, with the run's wall time. Exits 1 if any request
failed. Runs are solved one at a time by the server (``web_service``: one solver lock), so the p95
latency of N concurrent runs is about N solves plus their store writes. The machine's load average is
printed at the start and the end: on a shared machine it moves the numbers a lot.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

SCENARIOS = ("ford-byd-jv", "no-section-232", "chinese-imports-mfn", "canada-style-quota", "ford-geely-jv")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_up(url: str, server: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server exited with status {server.returncode}")
        try:
            if httpx.get(url + "/api/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"the server did not answer within {timeout:g} s")


def one(url: str, scenario: str, timeout: float) -> tuple[str, float, str | None]:
    """(scenario, seconds, error or None) of one central run."""
    started = time.perf_counter()
    try:
        response = httpx.post(url + "/api/run", json={"scenario": scenario}, timeout=timeout)
        error = None if response.status_code == 200 else f"{response.status_code}: {response.text[:200]}"
    except httpx.HTTPError as problem:
        error = f"{type(problem).__name__}: {problem}"
    return scenario, time.perf_counter() - started, error


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds allowed to each request and to start-up")
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()}")
    with tempfile.TemporaryDirectory(prefix="autopact-load-") as folder:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        env = {**os.environ, "AUTOPACT_CACHE": str(Path(folder) / "cache")}
        server = subprocess.Popen([sys.executable, "-c", "from autopact.interfaces.cli import main; main()", "serve",
                                   "--port", str(port), "--store", str(Path(folder) / "results.duckdb"),
                                   "--rate", "100000"], env=env)
        try:
            started = time.perf_counter()
            wait_until_up(url, server, args.timeout)
            print(f"server up in {time.perf_counter() - started:.1f} s (market calibrated and baseline solved)")
            jobs = [SCENARIOS[k % len(SCENARIOS)] for k in range(args.requests)]
            started = time.perf_counter()
            with ThreadPoolExecutor(max_workers=args.concurrency) as pool:
                results = list(pool.map(lambda s: one(url, s, args.timeout), jobs))
            wall = time.perf_counter() - started
        finally:
            server.terminate()
            server.wait(timeout=30)
    latencies = sorted(seconds for _, seconds, _ in results)
    errors = [(s, e) for s, _, e in results if e]
    p95 = latencies[max(0, int(round(0.95 * len(latencies))) - 1)]
    print(f"{len(results)} central runs, {args.concurrency} at a time, over {', '.join(dict.fromkeys(jobs))}")
    print(f"latency: median {statistics.median(latencies):.2f} s, p95 {p95:.2f} s, max {latencies[-1]:.2f} s; "
          f"wall {wall:.2f} s ({len(results) / wall:.1f} runs a second)")
    print(f"errors: {len(errors)}")
    for scenario, error in errors:
        print(f"  {scenario}: {error}")
    print(f"load average at end: {os.getloadavg()}")
    raise SystemExit(1 if errors else 0)


if __name__ == "__main__":
    main()
