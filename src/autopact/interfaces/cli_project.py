"""CLI command ``project``: a scenario year by year against the baseline of each year."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from autopact.interfaces.console import _check_outputs, _fail, _write_outputs, app, out


@app.command("project")
def project_command(
    scenario: Annotated[str, typer.Argument(help="A bundled scenario name or a YAML file.")],
    to: Annotated[int, typer.Option("--to", help="Last year of the projection (at most 2035).")] = 2035,
    start: Annotated[int, typer.Option("--from", help="First year (after 2025: the law of each year from the timeline).")] = 2026,
    frozen: Annotated[bool, typer.Option("--frozen", help="Hold every path at the first year (no change in any path).")] = False,
    json_path: Annotated[Optional[Path], typer.Option("--json", help="Write the projection as JSON here (- for stdout).")] = None,
    report: Annotated[Optional[Path], typer.Option("--report", help="Write an HTML report here: time-series and fan "
                                                   "charts, the comparison on one chart, a year-by-year table.")] = None,
    compare_with: Annotated[Optional[str], typer.Option("--compare", help="A second scenario: the difference year by year.")] = None,
    draws: Annotated[int, typer.Option(min=0, help="Draws of the exogenous paths (each a whole path) for 5-95% bands.")] = 0,
    seed: Annotated[int, typer.Option(help="Seed of the path draws.")] = 0,
    discount: Annotated[Optional[float], typer.Option("--discount-rate", help="Real discount rate of the totals "
                                                     "(default: the named assumption discount_rate, 3%).")] = None,
    serial: Annotated[bool, typer.Option("--serial", help="Run draws in this process instead of on Dask.")] = False,
    scheduler: Annotated[Optional[str], typer.Option(help="Address of a running Dask scheduler (tcp://host:8786).")] = None,
    workers: Annotated[Optional[int], typer.Option(min=1, help="Workers of the local Dask cluster (default: 2).")] = None,
) -> None:
    """Project a scenario year by year: one static equilibrium a year on that year's state (the law
    of the bundled policy timeline, the scenario's dated levers), each solved from the previous
    year's prices, against that year's baseline. Not a dynamic game: firms do not look ahead."""
    from autopact.errors import ConvergenceError, ScenarioError
    from autopact.policy.scenario import load_scenario
    from autopact.runs.projection import compare, path_bands, project, totals

    outputs = _check_outputs(("--json", json_path), ("--report", report), inputs=(scenario,))
    try:
        parsed = load_scenario(scenario)
        document = project(parsed, to, start, frozen)
        document["totals"] = totals(document["records"], discount)
        if compare_with:
            other = project(load_scenario(compare_with), to, start, frozen)
            document["comparison"] = compare(document, other)
            document["comparison"]["totals"] = totals(document["comparison"]["records"], discount, "difference")
        if draws:
            document["uncertainty"] = path_bands(parsed, to, start, draws, seed, serial, scheduler, workers)
    except (ScenarioError, ConvergenceError, ValueError, OSError) as error:
        _fail(error)
    table = Table(title=f"{document['scenario']}, {start}-{to}: each year against that year's baseline"
                        + (" (frozen at the first year)" if frozen else ""), title_justify="left")
    for column in ("year", "BEV share, baseline", "BEV share, scenario", "units", "consumer surplus", "tariff revenue",
                   "US assembly jobs", "excluded"):
        table.add_column(column, justify="right")
    for r in document["records"]:
        b, c, d = r["baseline"], r["counterfactual"], r["change"]
        jobs = d.get("us_assembly_jobs")
        table.add_row(str(r["year"]), f"{b['bev_share']:.2%}", f"{c['bev_share']:.2%}", f"{d['total_units']:+,.0f}",
                      f"{d['consumer_surplus_usd'] / 1e9:+.2f}bn", f"{d['tariff_revenue_usd'] / 1e9:+.2f}bn",
                      "n/a" if jobs is None else f"{jobs:+,.0f}", str(len(r["excluded"])))
    out.print(table)
    t = document["totals"]
    out.print(f"Totals {start}-{to} (discounted to {start} at {t['discount_rate']:.1%} real): consumer surplus "
              f"{t['discounted'].get('consumer_surplus_usd', 0) / 1e9:+.2f}bn, profits "
              f"{t['discounted'].get('total_profit_usd', 0) / 1e9:+.2f}bn, tariff revenue "
              f"{t['discounted'].get('tariff_revenue_usd', 0) / 1e9:+.2f}bn; undiscounted US assembly job-years "
              f"{t['cumulative'].get('us_assembly_jobs', 0):+,.0f}.", highlight=False)
    if "comparison" in document:
        c = document["comparison"]
        out.print(f"{c['a']} minus {c['b']}, by year (scenario levels):", highlight=False)
        for r in c["records"]:
            d = r["difference"]
            out.print(f"  {r['year']}: BEV share {d['bev_share'] * 100:+.2f} pp, units {d['total_units']:+,.0f}, consumer "
                      f"surplus {d['consumer_surplus_usd'] / 1e9:+.2f}bn", highlight=False)
    if "uncertainty" in document:
        u = document["uncertainty"]
        drawn = f"; the scenario's {', '.join(u['inputs'])}" if u.get("inputs") else ""
        skipped = (f" (left out, they would re-calibrate every year: {', '.join(u['inputs_left_out'])})"
                   if u.get("inputs_left_out") else "")
        out.print(f"Bands over {u['draws']} draws of whole paths ({', '.join(u['paths'])}{drawn}){skipped}, "
                  f"seed {u['seed']}:", highlight=False)
        for r in u["bands"]:
            b = r.get("bev_share", {})
            out.print(f"  {r['year']}: BEV share change {b.get('p05', 0) * 100:+.2f} to {b.get('p95', 0) * 100:+.2f} pp; "
                      f"baseline BEV share {r['baseline_bev_share']['p05']:.2%} to {r['baseline_bev_share']['p95']:.2%}",
                      highlight=False)
    out.print(document["method"] + ". Money: 2025 dollars a year.", highlight=False)
    _write_outputs(document, outputs, "projection")
