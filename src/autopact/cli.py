"""Command-line interface: ``autopact data summary``, ``autopact data validate PATH``."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.table import Table

from autopact.assumptions import AssumptionError, parse_settings
from autopact.data import MarketDataError, load_market, summarize
from autopact.errors import ConvergenceError

app = typer.Typer(help="autopact: simulate US policy toward Chinese automakers on the 2025 US car market.",
                  no_args_is_help=True, add_completion=False)
data_app = typer.Typer(help="Inspect and validate market data.", no_args_is_help=True)
app.add_typer(data_app, name="data")

out = Console()
err = Console(stderr=True)

SetOption = Annotated[list[str], typer.Option("--set", help="Change a named assumption: --set price_level=msrp")]


def _fail(error: Exception) -> None:
    err.print(f"[bold red]error:[/bold red] {error}", markup=True, highlight=False)
    raise typer.Exit(code=2)


def _load(year: int, path: Optional[Path], settings: list[str]):
    try:
        return load_market(year=year, path=path, assumptions=parse_settings(settings))
    except (MarketDataError, AssumptionError) as error:
        _fail(error)


def _units_table(title: str, units: dict[str, int], total: int) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column(title.split(" by ")[-1].capitalize())
    table.add_column("Units", justify="right")
    table.add_column("Share", justify="right")
    for name, value in units.items():
        table.add_row(name, f"{value:,}", f"{value / total:.1%}")
    return table


def _print_summary(s: dict[str, Any]) -> None:
    covered, total = s["units_total"], s["market_total_units"]
    out.print(f"[bold]autopact: US new light-vehicle market {s['year']}[/bold]  ({s['source']})")
    head = Table(show_header=False, box=None)
    head.add_column(style="bold")
    head.add_column()
    head.add_row("Products", f"{s['products']:,}")
    head.add_row("Units covered", f"{covered:,} of {total:,} ({s['units_covered_share']:.1%} of the 2025 market)")
    head.add_row("Uncovered units", f"{s['uncovered_units']:,} (nameplates with no sourced 2025 volume)")
    head.add_row("Potential market", f"{s['market_size_households']:,} households; outside-good share "
                                      f"{s['outside_good_share']:.1%}")
    head.add_row("BEV", f"{s['bev_products']} products, {s['bev_units']:,} units "
                        f"({s['bev_share_of_covered_units']:.1%} of covered; market total "
                        f"{s['bev_units_market_total']:,})")
    r = s["remainder_rows"]
    head.add_row("Brand remainder rows", f"{r['choice']}: {r['products']} 'Other <brand>' products, "
                                         f"{r['units_kept'] + r['units_dropped']:,} units "
                                         f"({r['share_of_market']:.1%} of market), {r['units_dropped']:,} dropped")
    pr = s["prices"]
    head.add_row("Prices", f"{pr['price_level']} level, {pr['basis']}; scale on MSRP {pr['scale_factor_on_msrp']:.3f}; "
                           f"mean ${pr['units_weighted_mean_price']:,.0f} (mean base MSRP "
                           f"${pr['units_weighted_mean_msrp']:,.0f})")
    head.add_row("Imputed prices", f"{s['imputed_price_products']} products, "
                                   f"{s['imputed_price_units_share']:.1%} of covered units")
    head.add_row("Imputed characteristics", ", ".join(
        f"{k} {v:.1%}" for k, v in s["imputed_units_share_by_field"].items() if k != "msrp")
        + " of covered units")
    out.print(head)
    out.print(_units_table("Units by nationality", s["units_by_nationality"], covered))
    out.print(_units_table("Units by firm", s["units_by_firm"], covered))
    out.print(_units_table("Units by powertrain", s["units_by_powertrain"], covered))
    check = Table(title="Our units against official 2025 company totals (market_facts.csv)", title_justify="left")
    for column in ("Firm", "Ours", "Official", "Ratio"):
        check.add_column(column, justify="left" if column == "Firm" else "right")
    for r in s["company_reconciliation"]:
        check.add_row(r["firm"], f"{r['units']:,}", f"{r['official']:,}", f"{r['ratio']:.3f}")
    out.print(check)
    assumptions = Table(title="Named assumptions (change with --set NAME=VALUE)", title_justify="left")
    for column in ("Name", "Value", "Source"):
        assumptions.add_column(column, overflow="fold")
    for a in s["assumptions"]:
        assumptions.add_row(a["name"], str(a["value"]), a["source"])
    out.print(assumptions)
    weak = Table(title="Data-build parameters that are derived or not high-confidence (reference_parameters.csv)",
                 title_justify="left")
    for column in ("Name", "Value", "Confidence", "Source"):
        weak.add_column(column, overflow="fold")
    for a in s["data_assumptions"]:
        weak.add_row(a["name"], f"{a['value']:g}", a["confidence"], a["source"])
    out.print(weak)


@data_app.command("summary")
def data_summary(
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
    year: Annotated[int, typer.Option(help="Market year of the bundled data.")] = 2025,
    path: Annotated[Optional[Path], typer.Option(help="A products CSV of your own instead of the bundled one.")] = None,
    settings: SetOption = [],  # noqa: B006 - typer needs a literal default
) -> None:
    """Summarise the market: coverage, EVs, units by firm and nationality, imputation, assumptions."""
    summary = summarize(_load(year, path, settings))
    if json_output:
        print(json.dumps(summary, indent=2, default=str))
    else:
        _print_summary(summary)


@data_app.command("validate")
def data_validate(
    path: Annotated[Path, typer.Argument(help="Products CSV to validate.")],
    settings: SetOption = [],  # noqa: B006
) -> None:
    """Validate a products CSV against autopact's schema; exit status 2 and a list of problems if invalid."""
    market = _load(2025, path, settings)
    out.print(f"[green]valid:[/green] {path} ({len(market.products)} products, "
              f"{int(market.products['units'].sum()):,} units)")


@app.command("calibrate")
def calibrate_command(
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
    households: Annotated[int, typer.Option(help="Simulated households (scrambled Halton draws).")] = 1000,
    household_seed: Annotated[int, typer.Option(help="Seed of the household draws.")] = 0,
    targets: Annotated[Optional[Path], typer.Option(help="Targets CSV replacing the bundled one.")] = None,
    fix: Annotated[list[str], typer.Option("--fix", help="Hold a parameter fixed: --fix rho=0")] = [],  # noqa: B006
    save: Annotated[Optional[Path], typer.Option(help="Save the calibrated parameters (JSON) for reuse.")] = None,
    year: Annotated[int, typer.Option(help="Market year of the bundled data.")] = 2025,
    path: Annotated[Optional[Path], typer.Option(help="A products CSV of your own.")] = None,
    settings: SetOption = [],  # noqa: B006
) -> None:
    """Calibrate demand to the market's published targets; report parameters, fit, elasticities and markups."""
    from autopact.calibration import CalibrationError, calibrate, load_targets

    market = _load(year, path, settings)
    try:
        fixed = {k: float(v) for k, v in parse_settings(fix).items()}
        table = load_targets(str(targets)) if targets else None
        with err.status(f"calibrating on {households} simulated households ..."):
            result = calibrate(market, targets=table, fixed=fixed, draws=households, seed=household_seed)
    except (CalibrationError, AssumptionError, ConvergenceError, ValueError) as error:
        _fail(error)
    if save:
        from autopact.calibration import save_calibration

        save_calibration(result, market, str(save))
    report = result.to_dict()
    if json_output:
        print(json.dumps(report, indent=2, default=str))
        return
    _print_calibration(report)


def _print_calibration(r: dict[str, Any]) -> None:
    params = Table(title="Parameters", title_justify="left")
    for column in ("Name", "Value", ""):
        params.add_column(column)
    for name, value in r["parameters"].items():
        params.add_row(name, f"{value:.6g}", "fixed" if name in r["fixed_parameters"] else "calibrated")
    out.print(params)
    targets = Table(title="Targets (full sources: --json or calibration_targets.csv)", title_justify="left")
    for column in ("Target", "Value", "Achieved", "Gap", "Source"):
        targets.add_column(column, overflow="fold")
    for t in r["targets"]:
        cited = re.match(r"^[^(]*\([^)]*\)", t["source"])
        targets.add_row(t["name"], f"{t['target']:.3g}", f"{t['achieved']:.3g}", f"{t['relative_gap']:+.0%}",
                        cited.group(0) if cited else t["source"][:60])
    out.print(targets)
    out.print(f"max share error (relative): {r['max_share_error']:.2e}   households: {r['households']['draws']}"
              f" (seed {r['households']['seed']})   optimiser: {r['optimizer']['message']}")
    dist = Table(title="Own-price elasticities and Lerner indices (p05 / p25 / p50 / p75 / p95)", title_justify="left")
    dist.add_column("")
    dist.add_column("Distribution")
    dist.add_row("own elasticity", " / ".join(f"{v:.2f}" for v in r["own_elasticity_distribution"].values()))
    dist.add_row("Lerner index", " / ".join(f"{v:.2f}" for v in r["lerner_distribution"].values()))
    out.print(dist)
    seg = Table(title="By segment (units-weighted)", title_justify="left")
    for column in ("Segment", "Products", "Own elasticity", "Lerner", "Lerner range", "Markup"):
        seg.add_column(column)
    for name, v in r["by_segment"].items():
        seg.add_row(name, str(v["products"]), f"{v['own_elasticity_mean']:.2f}", f"{v['lerner_mean']:.2f}",
                    f"{v['lerner_min']:.2f}-{v['lerner_max']:.2f}", f"${v['markup_mean_usd']:,.0f}")
    out.print(seg)
    for warning in r["warnings"]:
        err.print(f"[yellow]warning:[/yellow] {warning}", highlight=False)


@app.command("estimate")
def estimate_command(
    config: Annotated[Optional[Path], typer.Argument(help="Estimation config YAML (data paths, formulas, options).")] = None,
    example: Annotated[Optional[str], typer.Option(help="Run a bundled example instead: blp1995 (with supply side).")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
    save: Annotated[Optional[Path], typer.Option(help="Save the result (settings, data hashes, estimates, "
                                                      "covariance) as JSON, for scenarios to run on.")] = None,
) -> None:
    """Estimate demand (and optionally a supply side) by GMM from panel data, with PyBLP-style formulas."""
    import time

    from autopact.estimation import EstimationError
    from autopact.estimation_io import (EstimationFileError, build_problem, config_inputs, example_inputs,
                                        run_estimation, save_estimation)

    try:
        if example:
            inputs = example_inputs(example)
        elif config is not None:
            inputs = config_inputs(config)
        else:
            raise ValueError("give a config file or --example blp1995")
        began = time.perf_counter()
        with err.status("estimating ..."):
            result = run_estimation(inputs)
        if save:
            save_estimation(result, inputs, build_problem(inputs), save)
    except (EstimationError, EstimationFileError, ConvergenceError, FileNotFoundError, KeyError, ValueError) as error:
        _fail(error)
    report = {**result.to_dict(), "seconds": time.perf_counter() - began}
    if save:
        err.print(f"wrote {save}")
    if json_output:
        print(json.dumps(report, indent=2))
        return
    table = Table(title="GMM estimates", title_justify="left")
    for column in ("parameter", "estimate", "standard error"):
        table.add_column(column, justify="left" if column == "parameter" else "right")
    for block in ("nonlinear", "linear"):
        for name, v in report[block].items():
            table.add_row(name, f"{v['estimate']:.6g}", f"{v['se']:.4g}")
    out.print(table)
    out.print(f"objective {report['objective']:.6g}, gradient norm {report['gradient_norm']:.2e}, "
              f"converged {report['converged']}, {report['evaluations']} evaluations, {report['seconds']:.1f} s")


@app.command("scenarios")
def scenarios_command(
    candidates: Annotated[bool, typer.Option("--candidates", help="List the Chinese candidate models instead.")] = False,
) -> None:
    """List the bundled scenarios, one line each (or the candidate models entrants can name)."""
    from autopact.data import load_chinese_candidates
    from autopact.scenario import bundled_scenarios, load_scenario

    table = Table(show_header=True)
    if candidates:
        for column in ("candidate", "powertrain", "segment", "China price (CNY)"):
            table.add_column(column)
        for _, row in load_chinese_candidates().iterrows():
            table.add_row(row["candidate_id"], str(row["powertrain"]), str(row["segment_body"]),
                          "" if row["price_china_cny_first"] != row["price_china_cny_first"]
                          else f"{row['price_china_cny_first']:,.0f}")
    else:
        table.add_column("scenario")
        table.add_column("what it asks")
        for name, path in sorted(bundled_scenarios().items()):
            table.add_row(name, load_scenario(str(path)).description)
    out.print(table)


@app.command("simulate")
def simulate_command(
    scenario: Annotated[str, typer.Argument(help="A bundled scenario name or a YAML file.")],
    json_path: Annotated[Optional[Path], typer.Option("--json", help="Write the full result as JSON here.")] = None,
    report: Annotated[Optional[Path], typer.Option("--report", help="Write a self-contained HTML report here.")] = None,
    draws: Annotated[int, typer.Option(min=0, help="Joint draws of the scenario's uncertain inputs (0: none).")] = 0,
    seed: Annotated[Optional[int], typer.Option(help="Seed of the draws (default: the scenario's uncertainty.seed).")] = None,
    households: Annotated[int, typer.Option(help="Simulated households (1000 reuses the bundled calibration).")] = 1000,
    household_seed: Annotated[int, typer.Option(help="Seed of the household draws.")] = 0,
    recalibrate: Annotated[str, typer.Option(help="How draws of targets re-calibrate demand: linear (first order) or exact.")] = "linear",
    serial: Annotated[bool, typer.Option("--serial", help="Run draws in this process instead of on Dask.")] = False,
    scheduler: Annotated[Optional[str], typer.Option(help="Address of a running Dask scheduler (tcp://host:8786).")] = None,
    workers: Annotated[Optional[int], typer.Option(min=1, help="Workers of the local Dask cluster (default: cores).")] = None,
    store: Annotated[Optional[Path], typer.Option(help="Results store (DuckDB); default in the user's data directory.")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Finish the latest unfinished identical run.")] = False,
) -> None:
    """Solve a scenario against its baseline (the 2025 market, or a market of an estimation) and
    report prices, sales, shares, welfare, jobs; with --draws, also the 5-95% band of every change."""
    from autopact.estimation import EstimationError
    from autopact.estimation_io import EstimationFileError
    from autopact.runs import RunOptions, simulate_with_draws
    from autopact.scenario import ScenarioError, load_scenario

    options = RunOptions(households, household_seed, recalibrate, serial, scheduler, workers, store, resume)
    try:
        parsed = load_scenario(scenario)
        document, results = simulate_with_draws(parsed, draws, seed, options, err)
    except (ScenarioError, MarketDataError, AssumptionError, ConvergenceError, EstimationError, EstimationFileError,
            ValueError, RuntimeError) as error:
        _fail(error)
    for label, result in results:
        _print_result(label, result)
        if result.get("bands"):
            _print_bands(result)
    if len(results) > 1:
        from autopact.money import Money

        _print_ranking(document["ranking"], Money.of(document))
    _write_outputs(document, json_path, report)


def _write_outputs(document: dict[str, Any], json_path: Optional[Path], report: Optional[Path], kind: str = "simulate") -> None:
    if json_path:
        _write_atomically(json_path, json.dumps(document, indent=2, default=str))
        err.print(f"wrote {json_path}")
    if report:
        from autopact.report import html_report, sensitivity_report, sweep_report

        render = {"simulate": html_report, "sensitivity": sensitivity_report, "sweep": sweep_report}[kind]
        _write_atomically(report, render(document))
        err.print(f"wrote {report}")


def _print_bands(r: dict[str, Any]) -> None:
    from autopact.money import Money
    from autopact.uncertainty import node

    _money = Money.of(r)
    u = r["uncertainty"]
    recalibration = f", re-calibration {u['recalibration']}" if "market" not in r or r["market"].get("kind") != "estimated" else ""
    table = Table(title=f"Change with 5-95% bands: {u['draws']} draws ({u['failed']} failed), seed {u['seed']}"
                        f"{recalibration}, run {u['run_id']}", title_justify="left")
    for column in ("", "central", "p05", "median", "p95"):
        table.add_column(column, justify="left" if not column else "right")
    rows = [("new vehicles sold", "total_units", lambda v: f"{v:+,.0f}"),
            ("average price paid", "average_price_usd", _money),
            ("BEV share", "bev_share", lambda v: f"{v * 100:+.2f} pp"),
            ("consumer surplus", "consumer_surplus_usd", _money),
            ("tariff revenue", "tariff_revenue_usd", _money),
            ("US assembly jobs", "us_assembly_jobs", lambda v: f"{v:+,.0f}"),
            ("China-owned unit share", "units_share_by_nationality/China", lambda v: f"{v * 100:+.2f} pp"),
            ("GM share of units", "gm_share", lambda v: f"{v * 100:+.2f} pp"),
            ("Ford share of units", "ford_share", lambda v: f"{v * 100:+.2f} pp")]
    for name, path, fmt in rows:
        band, central = node(r["bands"], path), node(r["change"], path)
        if not band or band.get("p05") is None:
            continue
        table.add_row(name, fmt(central or 0.0), fmt(band["p05"]), fmt(band["p50"]), fmt(band["p95"]))
    out.print(table)
    for item in u["inputs"]:
        out.print(f"  uncertain {item['key']}: {item['distribution']} {item['summary']} ({item['source']})", highlight=False)


def _write_atomically(path: Path, text: str) -> None:
    temporary = path.with_name(path.name + ".partial")
    temporary.write_text(text)
    temporary.replace(path)


def _print_result(label: str, r: dict[str, Any]) -> None:
    from autopact.money import Money

    money = Money.of(r)
    market = r.get("market", {})
    b, c, d = r["baseline"], r["counterfactual"], r["change"]
    table = Table(title=f"{label}: {r['scenario']['description']}", title_justify="left")
    for column in ("", market.get("baseline_label", "2025 baseline"), "scenario", "change"):
        table.add_column(column, justify="left" if not column else "right")
    rows = [("new vehicles sold a year", "total_units", lambda v: f"{v:,.0f}", lambda v: f"{v:+,.0f}"),
            ("average price paid", "average_price_usd", lambda v: money(v, False), money),
            ("BEV share", "bev_share", lambda v: f"{v:.2%}", lambda v: f"{v * 100:+.2f} pp"),
            ("consumer surplus (change)", "consumer_surplus_usd", None, money),
            ("variable profit, all firms", "total_profit_usd", lambda v: money(v, False), money),
            ("tariff revenue", "tariff_revenue_usd", lambda v: money(v, False), money),
            ("US-assembled units", "us_assembled_units", lambda v: f"{v:,.0f}", lambda v: f"{v:+,.0f}"),
            ("US assembly jobs", "us_assembly_jobs", lambda v: f"{v:,.0f}", lambda v: f"{v:+,.0f}"),
            ("HHI", "hhi", lambda v: f"{v:,.0f}", lambda v: f"{v:+,.1f}"),
            ("GM share of units", "gm_share", lambda v: f"{v:.2%}", lambda v: f"{v * 100:+.2f} pp"),
            ("Ford share of units", "ford_share", lambda v: f"{v:.2%}", lambda v: f"{v * 100:+.2f} pp")]
    for name, key, level, delta in rows:
        if b[key] is None and c[key] is None:  # not defined on this market (e.g. BEV share in 1990)
            continue
        table.add_row(name, level(b[key]) if level else "", level(c[key]) if level else "", delta(d[key]))
    for nationality, share in sorted(c["units_share_by_nationality"].items(), key=lambda kv: -kv[1]):
        table.add_row(f"unit share, {nationality} owners", f"{b['units_share_by_nationality'].get(nationality, 0):.2%}",
                      f"{share:.2%}", f"{d['units_share_by_nationality'].get(nationality, 0) * 100:+.2f} pp")
    out.print(table)
    for note in r["scenario"]["excluded"]:
        out.print(f"excluded: {note}")
    for constraint in r.get("constraints", []):
        out.print(f"constraint: {constraint}")
    for warning in r.get("warnings", []):
        err.print(f"[yellow]warning:[/yellow] {warning}", highlight=False)
    changed = [a["name"] for a in r["assumptions"] if a.get("changed_by_scenario")]
    if market.get("kind") == "estimated":
        out.print(f"Market: {market['label']}. Money: {market['money']['unit']}"
                  + (f"; shown here in {money.note}" if money.note else "")
                  + ". Consumer surplus is a change, not a level. The market size, origin mapping and estimates, "
                    "with their sources, are in --json and --report.")
    else:
        out.print("Money: 2025 dollars a year, prices at the 2025 average-transaction-price level (assumption "
                  "price_level); consumer surplus is a change, not a level. Every assumption and parameter, with "
                  "its source, is in --json and --report" + (f"; this scenario changes: {', '.join(changed)}." if changed else "."))
        per_worker = next((a for a in r["assumptions"] if a["name"] == "vehicles_per_assembly_worker"), None)
        if per_worker:
            out.print(f"US assembly jobs = US-assembled units / {per_worker['value']:g} vehicles per hourly assembly "
                      f"worker (parameter vehicles_per_assembly_worker, {per_worker['confidence']} confidence: "
                      f"{per_worker['source']}); supplier jobs are not counted.", highlight=False)
    s = r["solver"]
    out.print(f"solver: converged={s['converged']} in {s['iterations']} map evaluations, "
              f"max |FOC/s| {s['max_foc_residual']:.1e}")


def _print_ranking(rows: list[dict[str, Any]], money) -> None:
    table = Table(title="Ranking by the US partner's profit change", title_justify="left")
    for column in ("variant", "partner", "partner profit", "consumer surplus", "US jobs", "rivals' losses"):
        table.add_column(column, justify="left" if column in ("variant", "partner") else "right")
    for r in rows:
        jobs = r["us_assembly_jobs_change"]
        table.add_row(r["variant"], r["partner"], money(r["partner_profit_change_usd"]),
                      money(r["consumer_surplus_change_usd"]), "n/a" if jobs is None else f"{jobs:+,.0f}",
                      money(r["rivals_profit_losses_usd"]))
    out.print(table)


def main() -> None:
    app()


from autopact import cli_runs  # noqa: E402,F401  (registers sensitivity, sweep and runs on ``app``)

if __name__ == "__main__":  # pragma: no cover
    from autopact.cli import main as _main  # the module proper, on whose app cli_runs registered

    _main()
