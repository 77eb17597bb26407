"""The layout's promises: layers import downwards only (the import-linter contracts in
pyproject.toml), no import cycle anywhere (function-level imports included), and importing the
package loads no Dask, DuckDB or plotly."""

import subprocess
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[1]


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components with more than one member (the import cycles)."""
    index, low, on_stack, stack, found, counter = {}, {}, set(), [], [], [0]

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for other in graph.get(node, ()):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            members = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                members.append(member)
                if member == node:
                    break
            if len(members) > 1:
                found.append(sorted(members))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_tarjan_finds_a_cycle_and_only_cycles():
    assert strongly_connected({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert strongly_connected({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles_between_autopact_modules():
    imports = grimp.build_graph("autopact", cache_dir=None)
    graph = {m: {o for o in imports.find_modules_directly_imported_by(m) if o.startswith("autopact")}
             for m in imports.modules}
    # a package's __init__ re-exporting its own modules is not a cycle of the design
    graph = {m: {o for o in targets if not m.startswith(o + ".")} for m, targets in graph.items()}
    assert strongly_connected(graph) == []


def test_the_import_linter_contracts_are_kept():
    done = subprocess.run([str(Path(sys.executable).parent / "lint-imports"), "--config", str(ROOT / "pyproject.toml")],
                          capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 kept, 0 broken" in done.stdout


def test_importing_autopact_loads_no_dask_duckdb_or_plotly():
    code = ("import sys, autopact, autopact.simulate, autopact.interfaces.cli; "
            "print(sorted(m for m in ('dask', 'distributed', 'duckdb', 'plotly') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=600)
    assert done.stdout.strip() == "[]"
