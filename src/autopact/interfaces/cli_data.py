"""CLI commands on data and fitting: ``data summary``, ``data validate``, ``calibrate``, ``estimate``, ``scenarios``."""

from __future__ import annotations

import json
import math
import re
import time
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.markup import escape
from rich.table import Table

from autopact.errors import ConvergenceError
from autopact.interfaces.console import SetOption, _check_outputs, _fail, _write, app, data_app, err, out
from autopact.interfaces.outputs import OutputError, check_all


def _load(year: int, path: Optional[Path], settings: list[str]):
    from autopact.data import MarketDataError, load_market
    from autopact.data.assumptions import AssumptionError, parse_settings

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
    out.print(f"[bold]autopact: US new light-vehicle market {s['year']}[/bold]  ({escape(str(s['source']))})", markup=True)
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
    from autopact.data import summarize

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
    out.print(f"[green]valid:[/green] {escape(str(path))} ({len(market.products)} products, "
              f"{int(market.products['units'].sum()):,} units)", markup=True)


@app.command("calibrate")
def calibrate_command(
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
    households: Annotated[int, typer.Option(help="Simulated households (scrambled Halton draws).")] = 1000,
    fit_households: Annotated[int, typer.Option(help="Households the targets are fitted on (more than --households: "
                                                "the targets' simulation error on few households is fitted "
                                                "otherwise).")] = 5000,
    household_seed: Annotated[int, typer.Option(help="Seed of the household draws.")] = 0,
    targets: Annotated[Optional[Path], typer.Option(help="Targets CSV replacing the bundled one.")] = None,
    fix: Annotated[list[str], typer.Option("--fix", help="Hold a parameter fixed: --fix rho=0")] = [],  # noqa: B006
    save: Annotated[Optional[Path], typer.Option(help="Save the calibrated parameters (JSON) for reuse (- for stdout).")] = None,
    year: Annotated[int, typer.Option(help="Market year of the bundled data.")] = 2025,
    path: Annotated[Optional[Path], typer.Option(help="A products CSV of your own.")] = None,
    settings: SetOption = [],  # noqa: B006
    price_form: Annotated[str, typer.Option("--price-form", help="How price sensitivity depends on income: income "
                                            "(alpha + pi / y, bundled), income_normal (plus a normal random "
                                            "coefficient, sigma_price), shifted (alpha + pi / (y + income_shift)) "
                                            "or power (alpha (y / mean y)^-lambda).")] = "income",
) -> None:
    """Calibrate demand to the market's published targets; report parameters, fit, elasticities and markups."""
    from autopact.data.assumptions import AssumptionError, parse_settings
    from autopact.fit.calibration import CalibrationError, calibrate, load_targets
    from autopact.fit.stored_calibration import calibration_record

    outputs = _check_outputs(("--save", save))
    market = _load(year, path, settings)
    try:
        fixed = {k: _fixed(k, v) for k, v in parse_settings(fix).items()}
        table = load_targets(str(targets)) if targets else None
        with err.status(f"calibrating on {max(households, fit_households)} simulated households ..."):
            result = calibrate(market, targets=table, fixed=fixed, draws=households, seed=household_seed,
                               form=price_form, fit_draws=fit_households)
    except (CalibrationError, AssumptionError, ConvergenceError, ValueError, OSError) as error:
        _fail(error)
    if "--save" in outputs:
        _write([(outputs["--save"], json.dumps(calibration_record(result, market), indent=2, default=str))])
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
    if "price_form" in r:
        out.print(f"price sensitivity: {r['price_form']}")
    targets = Table(title="Targets (full sources: --json or calibration_targets.csv)", title_justify="left")
    for column in ("Target", "Value", f"Achieved ({r['households']['fit_draws']:,} households)", "Gap", "Source"):
        targets.add_column(column, overflow="fold")
    for t in r["targets"]:
        cited = re.match(r"^[^(]*\([^)]*\)", t["source"])
        targets.add_row(t["name"], f"{t['target']:.3g}", f"{t['achieved']:.3g}", f"{t['relative_gap']:+.0%}",
                        cited.group(0) if cited else t["source"][:60])
    out.print(targets)
    out.print(f"max share error (relative): {r['max_share_error']:.2e}   households: {r['households']['draws']}"
              f" (seed {r['households']['seed']}), fitted on {r['households']['fit_draws']}   optimiser: "
              f"{r['optimizer']['message']}")
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
        err.print(f"[yellow]warning:[/yellow] {escape(str(warning))}", highlight=False, markup=True)


def _fixed(name: str, text: str) -> float:
    """A ``--fix NAME=VALUE`` value: a finite ASCII decimal number (float() would read "١" as 1, or "inf")."""
    from autopact.data.inputs import decimal

    value = decimal(text)
    if value is None or not math.isfinite(value):
        raise ValueError(f"--fix {name}: must be a finite decimal number, got {text!r}")
    return value


@app.command("estimate")
def estimate_command(
    config: Annotated[Optional[Path], typer.Argument(help="Estimation config YAML (data paths, formulas, options).")] = None,
    example: Annotated[Optional[str], typer.Option(
        help="Run a bundled example config instead: blp1995 (BLP 1995 with supply side, the bundled estimate), "
             "blp1995-tutorial or nevo (PyBLP's tutorial problems).")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
    save: Annotated[Optional[Path], typer.Option(help="Save the result (settings, data hashes, estimates, "
                                                      "covariance) as JSON, for scenarios to run on.")] = None,
) -> None:
    """Estimate demand (and optionally a supply side) by GMM from panel data, with PyBLP-style formulas."""
    import yaml

    from autopact.fit.estimation import EstimationError
    from autopact.fit.saved import (EXAMPLES, EstimationFileError, build_problem, check_save_location, config_inputs,
                                    example_inputs, result_record, run_estimation)
    from autopact.outcomes.document import finite_document

    outputs = _check_outputs(("--save", save))
    try:
        if example:
            inputs = example_inputs(example)
        elif config is not None:
            inputs = config_inputs(config)
        else:
            raise ValueError(f"give a config file or --example NAME ({', '.join(EXAMPLES)})")
        if json_output and outputs.get("--save") is not None and outputs["--save"].to_stdout:
            raise ValueError("--json prints the estimates on standard output; --save - would print a second document "
                             "there: save to a file")
        if save:
            check_all([("--save", save)], inputs=(config, *inputs.files.values()))  # not over its own inputs
            check_save_location(inputs, save)  # before the estimation: a result that could not be loaded is refused
        began = time.perf_counter()
        with err.status("estimating ..."):
            result = run_estimation(inputs)
        if save:
            saved = outputs["--save"]  # data paths in the record are relative to the saved file's folder
            record = result_record(result, inputs, build_problem(inputs), saved.target or Path.cwd() / "stdout")
    except (EstimationError, EstimationFileError, ConvergenceError, OSError, KeyError, ValueError, OutputError) as error:
        _fail(error)
    except yaml.YAMLError as error:
        _fail(EstimationFileError(f"{config}: not valid YAML: {' '.join(str(error).split())}"))
    report = {**result.to_dict(), "seconds": time.perf_counter() - began}
    if not math.isfinite(result.objective):
        _fail(EstimationError(f"the GMM objective is {result.objective} (not finite): check the data and formulas for "
                              "NaN, infinities or divisions by zero; nothing was saved"))
    if save:
        _write([(saved, json.dumps(record, indent=1) + "\n")])
    if json_output:
        print(json.dumps(finite_document(report), indent=2, allow_nan=False))
        return
    table = Table(title="GMM estimates", title_justify="left")
    for column in ("parameter", "estimate", "standard error"):
        table.add_column(column, justify="left" if column == "parameter" else "right")
    for block in ("nonlinear", "linear"):
        for name, v in report[block].items():
            table.add_row(name, f"{v['estimate']:.6g}", f"{v['se']:.4g}")  # the consoles print no markup: labels keep [ ]
    out.print(table)
    out.print(f"objective {report['objective']:.6g}, gradient norm {report['gradient_norm']:.2e}, "
              f"converged {report['converged']}, {report['evaluations']} evaluations, {report['seconds']:.1f} s")
    if "standard_errors_note" in report:
        out.print(f"standard errors {report['standard_errors_note']}", highlight=False)


@app.command("scenarios")
def scenarios_command(
    candidates: Annotated[bool, typer.Option("--candidates", help="List the Chinese candidate models instead.")] = False,
) -> None:
    """List the bundled scenarios, one line each (or the candidate models entrants can name)."""
    from autopact.data import load_chinese_candidates
    from autopact.policy.scenario import bundled_scenarios, load_scenario

    table = Table(show_header=True)
    if candidates:
        for column in ("candidate", "powertrain", "segment", "China price (CNY)"):
            table.add_column(column, overflow="fold")  # an id is what a scenario's candidate: takes: never cut
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


