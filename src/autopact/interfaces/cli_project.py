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
) -> None:
    """Project a scenario year by year: one static equilibrium a year on that year's state (the law
    of the bundled policy timeline, the scenario's dated levers), each solved from the previous
    year's prices, against that year's baseline. Not a dynamic game: firms do not look ahead."""
    from autopact.errors import ConvergenceError, ScenarioError
    from autopact.policy.scenario import load_scenario
    from autopact.runs.projection import project

    outputs = _check_outputs(("--json", json_path), inputs=(scenario,))
    try:
        document = project(load_scenario(scenario), to, start, frozen)
    except (ScenarioError, ConvergenceError, ValueError) as error:
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
    out.print(document["method"] + ". Money: 2025 dollars a year.", highlight=False)
    _write_outputs(document, outputs)
