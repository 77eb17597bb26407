"""CLI commands for sensitivity, sweeps and the results store (``sensitivity``, ``sweep``, ``runs``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.table import Table

from autopact.errors import ConvergenceError, ScenarioError
from autopact.interfaces.console import _check_outputs, _fail, _write_outputs, app, err, out
from autopact.interfaces.outputs import OutputError, staged
from autopact.interfaces.money import Money
from autopact.runs.store import Store, StoreError

_money = Money()  # sensitivity, sweeps and stored runs are on the 2025 market: dollars
runs_app = typer.Typer(help="Past runs in the results store: list, show, export.")
app.add_typer(runs_app, name="runs")


def _errors() -> tuple[type[BaseException], ...]:
    """The errors these commands show as one line (imported when one is caught: two live beside pandas)."""
    from autopact.data import MarketDataError
    from autopact.data.assumptions import AssumptionError

    return (ScenarioError, MarketDataError, AssumptionError, ConvergenceError, ValueError, StoreError, RuntimeError,
            OSError)

Households = Annotated[int, typer.Option(help="Simulated households (1000 reuses the bundled calibration).")]
HouseholdSeed = Annotated[int, typer.Option(help="Seed of the household draws.")]
Recalibrate = Annotated[str, typer.Option(help="How draws of targets re-calibrate demand: linear or exact.")]
Serial = Annotated[bool, typer.Option("--serial", help="Run in this process instead of on Dask.")]
Scheduler = Annotated[Optional[str], typer.Option(help="Address of a running Dask scheduler (tcp://host:8786).")]
Workers = Annotated[Optional[int], typer.Option(min=1, help="Workers of the local Dask cluster (default: cores).")]
StorePath = Annotated[Optional[Path], typer.Option("--store", help="Results store (DuckDB file).")]
Resume = Annotated[bool, typer.Option("--resume", help="Finish the latest identical run (none left to do when it is complete).")]
JsonPath = Annotated[Optional[Path], typer.Option("--json", help="Write the result as JSON here (- for stdout).")]
ReportPath = Annotated[Optional[Path], typer.Option("--report", help="Write a self-contained HTML report here "
                                                                      "(- for stdout).")]


@app.command("sensitivity")
def sensitivity_command(
    scenario: Annotated[str, typer.Argument(help="A bundled scenario name or a YAML file with uncertain inputs.")],
    outcome: Annotated[list[str], typer.Option("--outcome", help="Metric path, repeatable (default: units by "
                                               "nationality, consumer surplus, US jobs, the partner's profit).")] = [],  # noqa: B006
    json_path: JsonPath = None, report: ReportPath = None, households: Households = 1000, household_seed: HouseholdSeed = 0,
    recalibrate: Recalibrate = "linear", serial: Serial = False, scheduler: Scheduler = None, workers: Workers = None,
    store: StorePath = None, resume: Resume = False,
) -> None:
    """Vary each uncertain input alone between its 5th and 95th percentile; tornado per outcome."""
    from autopact.policy.scenario import load_scenario
    from autopact.runs.analyses import RunOptions, sensitivity

    outputs = _check_outputs(("--json", json_path), ("--report", report), inputs=(scenario,))
    options = RunOptions(households, household_seed, recalibrate, serial, scheduler, workers, store, resume)
    try:
        document = sensitivity(load_scenario(scenario), outcome or None, options, err)
    except _errors() as error:
        _fail(error)
    for variant in document["variants"]:
        for name, chart in variant["tornado"].items():
            table = Table(title=f"{variant['variant']}: {name}, central change {_fmt(chart['central'], name)}; "
                                "each input alone at its 5th (p05) and 95th (p95) percentile",
                          title_justify="left")
            table.add_column("input", overflow="fold")
            for column in ("p05", "p95", "outcome at p05", "outcome at p95", "swing"):
                table.add_column(column, justify="right", no_wrap=True)
            for row in chart["inputs"]:
                table.add_row(row["input"], f"{row['input_p05']:.4g}", f"{row['input_p95']:.4g}",
                              _fmt(row["outcome_at_p05"], name), _fmt(row["outcome_at_p95"], name), _fmt(row["swing"], name))
            out.print(table)
    _write_outputs(document, outputs, kind="sensitivity")


@app.command("sweep")
def sweep_command(
    sweep: Annotated[str, typer.Argument(help="A bundled sweep name or a sweep YAML file.")],
    draws: Annotated[Optional[int], typer.Option(min=0, help="Draws per point (default: the sweep file's).")] = None,
    json_path: JsonPath = None, report: ReportPath = None, households: Households = 1000, household_seed: HouseholdSeed = 0,
    recalibrate: Recalibrate = "linear", serial: Serial = False, scheduler: Scheduler = None, workers: Workers = None,
    store: StorePath = None, resume: Resume = False,
) -> None:
    """Run a grid or sample over policy levers, with draws per point; plot response surfaces."""
    from autopact.runs.analyses import RunOptions
    from autopact.runs.analyses import sweep as run_sweep
    from autopact.runs.uncertainty import leaf

    outputs = _check_outputs(("--json", json_path), ("--report", report), inputs=(sweep,))
    options = RunOptions(households, household_seed, recalibrate, serial, scheduler, workers, store, resume)
    try:
        document = run_sweep(sweep, options, err, draws=draws)
    except _errors() as error:
        _fail(error)
    outcomes = document["outcomes"]
    levers = list(document["points"][0]["levers"]) if document["points"] else []
    table = Table(title=f"sweep {document['sweep']['name']} on {document['scenario']}: change against the 2025 "
                        f"baseline (run {document['run_id']})", title_justify="left")
    for lever in levers:
        table.add_column([part for part in lever.split(".") if part != "*"][-1])
    for name in outcomes:
        table.add_column(name.replace("units_share_by_nationality/", "share ").replace("_usd", ""), justify="right")
    for point in document["points"]:
        cells = [_fmt(leaf(point["change"], o), o) if point["change"] else point["status"] for o in outcomes]
        table.add_row(*[str(point["levers"][lever]) for lever in levers], *cells)
    out.print(table)
    _write_outputs(document, outputs, kind="sweep")


@runs_app.callback(invoke_without_command=True)
def runs_list(ctx: typer.Context, store: StorePath = None,
              limit: Annotated[int, typer.Option(help="How many runs, newest first.")] = 50) -> None:
    """List past runs (newest first)."""
    if ctx.invoked_subcommand:
        return
    try:
        with Store(store, create=False) as db:
            rows = db.runs(limit)
            path = db.path
    except _errors() as error:
        _fail(error)
    table = Table(title=f"runs in {path}", title_justify="left")
    for column in ("run", "kind", "name", "status", "jobs done", "seed", "code", "created (UTC)"):
        table.add_column(column, no_wrap=column in ("run", "status", "created (UTC)"))
    for r in rows:
        table.add_row(r["run_id"], r["kind"], r["name"], r["status"], f"{r['finished_jobs']}/{r['jobs']}",
                      str(r["seed"]), r["code_version"], str(r["created_at"])[:19])
    out.print(table)


@runs_app.command("show")
def runs_show(run_id: Annotated[str, typer.Argument(help="Run id (or a unique prefix).")], store: StorePath = None,
              json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Print one run: its definition, options and each job's headline change."""
    try:
        with Store(store, create=False) as db:
            run = db.run(run_id)
            records = db.records(run["run_id"])
    except _errors() as error:
        _fail(error)
    if json_output:
        print(json.dumps({"run": run, "results": records}, indent=2, default=str))
        return
    out.print(f"run {run['run_id']}: {run['kind']} {run['name']}, {run['status']}, seed {run['seed']}, "
              f"code {run['code_version']}, options {run['options']}, definition sha256 {run['definition_hash'][:16]}")
    table = Table(title_justify="left")
    for column in ("point", "draw", "status", "units", "consumer surplus", "US jobs", "China share"):
        table.add_column(column, justify="right")
    for r in records:
        c = r.get("change") or {}
        table.add_row(str(r["point"]), str(r["draw"]), r["status"], _fmt(c.get("total_units")),
                      _money(c["consumer_surplus_usd"], total=True) if "consumer_surplus_usd" in c else "",
                      _fmt(c.get("us_assembly_jobs")),
                      _fmt((c.get("units_share_by_nationality") or {}).get("China"), "share"))
    out.print(table)


@runs_app.command("export")
def runs_export(path: Annotated[Path, typer.Argument(help="Parquet file to write (- for stdout).")], store: StorePath = None,
                run: Annotated[Optional[str], typer.Option(help="Only this run (default: all).")] = None) -> None:
    """Export the metrics of every job (long format: run, point, draw, metric, baseline, scenario, change) to Parquet."""
    output = _check_outputs(("PATH", path))["PATH"]
    try:
        with Store(store, create=False) as db:
            run_id = db.run(run)["run_id"] if run else None
            with staged(output) as file:
                rows = db.export(file, run_id)
    except (*_errors(), OutputError) as error:
        _fail(error)
    err.print(f"wrote {rows:,} metric rows to {'standard output' if output.to_stdout else path}", highlight=False,
              soft_wrap=True)


def _fmt(value: Any, metric: str = "") -> str:
    if value is None:
        return "n/a"
    value = float(value)
    if "share" in metric:
        return f"{value * 100:+.2f} pp"
    if "_usd" in metric:
        if 1e6 <= abs(value) < 1e8:  # millions read more easily than eight digits in a narrow table
            return f"{'-' if value < 0 else '+'}${abs(value) / 1e6:,.1f}m"
        return _money(value)
    if abs(value) >= 1e8:
        return _money(value)
    if abs(value) < 1 and value != 0:
        return f"{value:+.4f}"
    return f"{value:+,.0f}"
