"""Benchmark: interactive speed of the ``autopact`` command (issue 13), from one run of this script.

Run from the repository root with the environment that has autopact installed:

    /path/to/venv/bin/python benchmarks/bench_cli.py [--scenario ford-byd-jv] [--runs 5]

Prints, each next to its goal:
  * the import time of the CLI: wall time of ``python -c "import autopact.interfaces.cli"`` in a
    fresh interpreter, best of 3 (and of ``python -c pass``, the interpreter alone, for reference);
  * the end-to-end time of ``autopact simulate SCENARIO --json out.json``: the first run (cold disk
    cache), then with the cache warm the best of the first 3 and the median of --runs (5);
  * a cProfile of one warm end-to-end run: the 15 functions with the largest cumulative time.

Every run is a fresh process with a results store and a disk cache of this benchmark's own (in a
temporary folder), so the user's are untouched and the first run is cold. The machine's load
average is printed at the start and the end: on a shared machine it moves the numbers a lot.

``--against OTHER/src`` compares with another checkout's package (e.g. main's) in the same run:
the two alternate run by run (each with a warm cache of its own), and the medians, their ratio
and the largest difference of any number in the two --json documents are printed.
"""

from __future__ import annotations

import argparse
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

IMPORT_GOAL_S = 0.5
END_TO_END_GOAL_S = 1.0


def wall(command: list[str], env: dict[str, str]) -> float:
    """Seconds one run of ``command`` takes, start to exit; fails loudly if the command fails."""
    began = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - began
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return seconds


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="ford-byd-jv")
    parser.add_argument("--runs", type=int, default=5, help="warm end-to-end runs (the median is over these)")
    parser.add_argument("--against", type=Path, help="another checkout's src folder to compare with, run by run")
    args = parser.parse_args()
    if args.against:
        compare(args.scenario, args.runs, args.against)
        return
    python = sys.executable
    with tempfile.TemporaryDirectory(prefix="autopact-bench-") as folder:
        work = Path(folder)
        env = {**os.environ, "AUTOPACT_STORE": str(work / "results.duckdb"), "AUTOPACT_CACHE": str(work / "cache")}
        print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average {load()} (1, 5, 15 min)")
        print(f"BLAS threads: OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}")

        bare = min(wall([python, "-c", "pass"], env) for _ in range(3))
        imports = [wall([python, "-c", "import autopact.interfaces.cli"], env) for _ in range(3)]
        print(f"\nimport autopact.interfaces.cli: best of 3 {min(imports):.2f} s (goal <= {IMPORT_GOAL_S:.1f} s); "
              f"the interpreter alone {bare:.2f} s")

        simulate = [python, "-m", "autopact.interfaces.cli", "simulate", args.scenario, "--json", str(work / "out.json")]
        cold = wall(simulate, env)
        warm = [wall(simulate, env) for _ in range(args.runs)]
        print(f"autopact simulate {args.scenario} --json out.json: cold cache {cold:.2f} s; warm cache best of 3 "
              f"{min(warm[:3]):.2f} s, median of {len(warm)} {statistics.median(warm):.2f} s "
              f"(goal <= {END_TO_END_GOAL_S:.1f} s with a warm cache); runs: {', '.join(f'{t:.2f}' for t in warm)}")

        profile = work / "simulate.prof"
        wall([python, "-m", "cProfile", "-o", str(profile), *simulate[1:]], env)
        print_profile(profile)
        print(f"\nload average at the end {load()}")


def compare(scenario: str, runs: int, other: Path) -> None:
    """Warm end-to-end runs of this checkout and ``other`` alternated; medians, ratio, largest difference."""
    import json

    here = Path(__file__).resolve().parents[1] / "src"
    with tempfile.TemporaryDirectory(prefix="autopact-bench-") as folder:
        work = Path(folder)
        sides = {"this checkout": here, "other": other.resolve()}
        times: dict[str, list[float]] = {name: [] for name in sides}
        print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average {load()} (1, 5, 15 min)")
        for k in range(runs + 1):  # the first round fills each side's cache
            for name, src in sides.items():
                tag = "this" if name == "this checkout" else "other"
                env = {**os.environ, "PYTHONPATH": str(src), "AUTOPACT_STORE": str(work / f"{tag}.duckdb"),
                       "AUTOPACT_CACHE": str(work / f"cache-{tag}")}
                seconds = wall([sys.executable, "-m", "autopact.interfaces.cli", "simulate", scenario, "--json",
                                str(work / f"{tag}.json")], env)
                if k:
                    times[name].append(seconds)
        documents = {name: json.loads((work / f"{'this' if name == 'this checkout' else 'other'}.json").read_text())
                     for name in sides}
        worst = largest_difference(documents["other"], documents["this checkout"])
        this, that = statistics.median(times["this checkout"]), statistics.median(times["other"])
        print(f"autopact simulate {scenario} --json, warm cache, medians of {runs} alternated runs: this checkout "
              f"{this:.2f} s, {other} {that:.2f} s, ratio {that / this:.2f}x; best {min(times['this checkout']):.2f} "
              f"vs {min(times['other']):.2f} s")
        print(f"largest difference of any number in the two documents, relative to max(|number|, 1): {worst[0]:.3g} "
              f"at {worst[1]} (= {worst[2]:.6g})")
        print(f"load average at the end {load()}")


def largest_difference(a, b, path: str = "") -> tuple[float, str, float]:
    """(largest absolute difference, where, the value there) of the numbers in two JSON documents of
    the same shape, relative to the number's size: |a - b| / max(|a|, |b|, 1)."""
    if isinstance(a, dict) and isinstance(b, dict):
        found = [largest_difference(a[k], b[k], f"{path}/{k}") for k in a if k in b and k != "run_id"]
    elif isinstance(a, list) and isinstance(b, list):
        found = [largest_difference(x, y, f"{path}[{k}]") for k, (x, y) in enumerate(zip(a, b))]
    elif isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return abs(float(a) - float(b)) / max(abs(a), abs(b), 1.0), path, float(a)
    else:
        found = []
    return max(found, default=(0.0, "", 0.0))


def print_profile(path: Path) -> None:
    """The 15 functions of autopact (and the import machinery) with the largest cumulative time,
    below the command-line plumbing, whose frames would otherwise fill the top 15."""
    stats = pstats.Stats(str(path))
    total = max(row[3] for row in stats.stats.values())
    rows = []
    for (file, line, name), (_, calls, own, cumulative, _) in stats.stats.items():
        plumbing = "autopact" not in file or "interfaces/cli" in file.replace(os.sep, "/")
        if name == "_find_and_load" or not plumbing:
            short = file.replace(os.sep, "/").split("/src/")[-1].split("site-packages/")[-1]
            rows.append((cumulative, own, calls, f"{short}:{line}({name})"))
    rows.sort(reverse=True)
    print(f"\ncProfile of one warm run ({total:.2f} s under the profiler), top 15 by cumulative time:")
    print(f"{'cumulative s':>12} {'own s':>8} {'calls':>7}  function")
    for cumulative, own, calls, label in rows[:15]:
        print(f"{cumulative:12.3f} {own:8.3f} {calls:7d}  {label}")


if __name__ == "__main__":
    main()
