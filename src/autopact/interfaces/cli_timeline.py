"""CLI commands on the dated policy: ``data timeline`` (the bundled law by date, and what a year
carries) and ``data tariffs --date`` (the stack on a day against the published per-origin table)."""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated, Optional

import typer
from rich.table import Table

from autopact.interfaces.console import _fail, data_app, out


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        _fail(ValueError(f"--date: {text!r} is not a date (YYYY-MM-DD)"))


@data_app.command("tariffs")
def data_tariffs(
    on: Annotated[str, typer.Option("--date", help="The day of the stack, YYYY-MM-DD.")] = "2026-03-01",
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """The US tariff stack by origin on a day from the bundled policy timeline, against the published
    per-origin table (tariff_parameters.csv, section_232_rates.csv), with where and why they differ."""
    from autopact.data.timeline_check import stack_on

    table = stack_on(_day(on))
    if json_output:
        print(json.dumps(table.where(table.notna(), None).to_dict(orient="records"), indent=2))
        return
    view = Table(title=f"US tariff stack on {on}, % of customs value", title_justify="left")
    for column in ("origin", "powertrain", "vehicle", "timeline", "published", "difference", "published total"):
        view.add_column(column, justify="left" if column in ("origin", "powertrain", "vehicle") else "right")
    for r in table.to_dict(orient="records"):
        total = r["published_total_pct"]
        view.add_row(r["origin"], r["powertrain"], r["vehicle"], f"{r['timeline_pct']:.2f}", f"{r['published_pct']:.2f}",
                     f"{r['difference_pct']:+.2f}", "" if total is None or total != total else f"{total:.1f}")
    out.print(view)
    for r in table.to_dict(orient="records"):
        if r["note"]:
            out.print(f"{r['origin']} {r['powertrain']} {r['vehicle']}: {r['note']}", highlight=False)
    differing = table[table["difference_pct"].abs() > 1e-9]
    out.print(f"{len(differing)} of {len(table)} rows differ from the published table." if len(differing)
              else "The timeline's stack equals the published table on every row.")


@data_app.command("timeline")
def data_timeline(
    year: Annotated[Optional[int], typer.Option(help="Also show what the timeline sets for this year (after 2025).")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
) -> None:
    """The bundled policy timeline (the law by date, each row with its source) and, with --year, the
    policy parameters, EV credit and rules it puts in force that year (rates days-weighted)."""
    from autopact.data.tables import policy_parameters
    from autopact.data.timeline import DATA_YEAR, timeline_table
    from autopact.policy.dated import timeline_connected_vehicle_rule, timeline_credits
    from autopact.data.timeline import timeline_parameters

    rows = timeline_table()
    carried = None
    if year is not None:
        if not DATA_YEAR < year <= 2035:
            _fail(ValueError(f"--year: the timeline is evaluated from {DATA_YEAR + 1} to 2035, got {year}"))
        base = policy_parameters()["value"].astype(float)
        carried = {"year": year, "parameters": {name: {"value": value, "calibration_2025": float(base[name])}
                                                for name, value in timeline_parameters(year).items()},
                   "credits": timeline_credits(year), "connected_vehicle_rule": timeline_connected_vehicle_rule(year)}
    if json_output:
        print(json.dumps({"timeline": rows.where(rows.notna(), None).to_dict(orient="records"), "year": carried},
                         indent=2, default=str))
        return
    view = Table(title="Bundled policy timeline (policy_timeline.csv)", title_justify="left")
    for column in ("id", "lever", "target", "value", "effective", "end", "note"):
        view.add_column(column)
    for r in rows.to_dict(orient="records"):
        value = "" if r["value"] != r["value"] else f"{r['value']:g}"
        view.add_row(r["id"], r["lever"], str(r["target"]), value, r["effective"], r["end"], str(r["note"])[:90])
    out.print(view)
    if carried:
        out.print(f"In force in {year} (rates days-weighted over the year):", highlight=False)
        for name, v in carried["parameters"].items():
            out.print(f"  {name}: {v['value']:.4g} (2025 calibration: {v['calibration_2025']:g})", highlight=False)
        amount = carried["credits"][0]["amount_usd"]
        out.print(f"  EV credit: {amount:+,.0f} dollars a vehicle on the 2025 level (leases of any BEV, listed models)",
                  highlight=False)
        out.print(f"  connected-vehicle rule: {'in force' if carried['connected_vehicle_rule'] else 'not in force'}",
                  highlight=False)
