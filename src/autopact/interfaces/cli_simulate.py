"""CLI command ``simulate``: a scenario against its baseline, printed as tables (with bands and a ranking)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.markup import escape
from rich.table import Table

from autopact.errors import ConvergenceError, ScenarioError
from autopact.interfaces.console import _check_outputs, _fail, _write_outputs, app, err, out
from autopact.interfaces.money import Money
from autopact.outcomes.definitions import HEADLINE


@app.command("simulate")
def simulate_command(
    scenario: Annotated[str, typer.Argument(help="A bundled scenario name or a YAML file.")],
    json_path: Annotated[Optional[Path], typer.Option("--json", help="Write the full result as JSON here (- for stdout).")] = None,
    report: Annotated[Optional[Path], typer.Option("--report", help="Write a self-contained HTML report here (- for stdout).")] = None,
    draws: Annotated[int, typer.Option(min=0, help="Joint draws of the scenario's uncertain inputs (0: none).")] = 0,
    seed: Annotated[Optional[int], typer.Option(help="Seed of the draws (default: the scenario's uncertainty.seed).")] = None,
    households: Annotated[int, typer.Option(help="Simulated households (1000 reuses the bundled calibration).")] = 1000,
    household_seed: Annotated[int, typer.Option(help="Seed of the household draws.")] = 0,
    recalibrate: Annotated[str, typer.Option(help="How draws of targets re-calibrate demand: linear (first order) or exact.")] = "linear",
    serial: Annotated[bool, typer.Option("--serial", help="Run draws in this process instead of on Dask.")] = False,
    scheduler: Annotated[Optional[str], typer.Option(help="Address of a running Dask scheduler (tcp://host:8786).")] = None,
    workers: Annotated[Optional[int], typer.Option(min=1, help="Workers of the local Dask cluster (default: cores).")] = None,
    store: Annotated[Optional[Path], typer.Option(help="Results store (DuckDB); default in the user's data directory.")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Finish the latest identical run (none left to do when it is complete).")] = False,
    baseline: Annotated[Optional[int], typer.Option("--baseline", help="Baseline year: 2025 (the calibration) or a later "
                                                    "year, the 2025 market carried there by the bundled policy timeline "
                                                    "(e.g. 2026: no EV credit, the post-IEEPA stack).")] = None,
) -> None:
    """Solve a scenario against its baseline (the 2025 market, or a market of an estimation) and
    report prices, sales, shares, welfare, jobs; with --draws, also the 5-95% band of every change."""
    from autopact.policy.scenario import load_scenario
    from autopact.runs.analyses import RunOptions, simulate_with_draws

    outputs = _check_outputs(("--json", json_path), ("--report", report), inputs=(scenario,))
    options = RunOptions(households, household_seed, recalibrate, serial, scheduler, workers, store, resume)
    try:
        parsed = load_scenario(scenario)
        if baseline is not None:
            parsed = with_baseline(parsed, baseline)
        document, results = simulate_with_draws(parsed, draws, seed, options, err)
    except _errors() as error:
        _fail(error)
    for label, result in results:
        _print_result(label, result)
        if result.get("bands"):
            _print_bands(result)
    if len(results) > 1:
        _print_ranking(document["ranking"], Money.of(document))
    _write_outputs(document, outputs)


def with_baseline(scenario, year: int):
    """The scenario compared with the baseline of ``year`` (and evaluated then, unless it names a
    later policy year); refused, naming the field, where the scenario cannot take it."""
    from autopact.policy.scenario import parse_scenario

    data = {**scenario.model_dump(), "baseline_year": year,
            "policy_year": scenario.policy_year if scenario.policy_year is not None else year}
    return parse_scenario(data, f"--baseline {year}")


def _errors() -> tuple[type[BaseException], ...]:
    """The errors ``simulate`` shows as one line (imported when one is caught: the estimation's
    load scipy.optimize, which a scenario on the calibrated market does not need)."""
    from autopact.data import MarketDataError
    from autopact.data.assumptions import AssumptionError
    from autopact.fit.estimation import EstimationError
    from autopact.fit.saved import EstimationFileError

    return (ScenarioError, MarketDataError, AssumptionError, ConvergenceError, EstimationError, EstimationFileError,
            ValueError, RuntimeError, OSError)


def _print_bands(r: dict[str, Any]) -> None:
    from autopact.runs.uncertainty import CENTRAL_NOTE, central_outside_band, node

    _money = Money.of(r)
    u = r["uncertainty"]
    recalibration = f", re-calibration {u['recalibration']}" if "market" not in r or r["market"].get("kind") != "estimated" else ""
    table = Table(title=f"Change with 5-95% bands: {u['draws']} draws ({u['failed']} failed), seed {u['seed']}"
                        f"{recalibration}, run {u['run_id']}", title_justify="left")
    for column in ("", "central", "p05", "median", "p95"):
        table.add_column(column, justify="left" if not column else "right")
    outside = []
    for m in HEADLINE:
        band, central = node(r["bands"], m.key), node(r["change"], m.key)
        if not band or band.get("p05") is None:
            continue
        mark = "*" if central_outside_band(central, band) else ""
        outside += [m.label] if mark else []
        table.add_row(m.label, m.change(central or 0.0, _money) + mark, *(m.change(band[q], _money) for q in ("p05", "p50", "p95")))
    out.print(table)
    out.print(f"  {CENTRAL_NOTE}" + (f"; * outside here: {', '.join(outside)}" if outside else ""), highlight=False)
    for item in u["inputs"]:
        out.print(f"  uncertain {item['key']}: {item['distribution']} {item['summary']} ({item['source']})", highlight=False)


def _print_result(label: str, r: dict[str, Any]) -> None:
    money = Money.of(r)
    market = r.get("market", {})
    b, c, d = r["baseline"], r["counterfactual"], r["change"]
    table = Table(title=f"{label}: {r['scenario']['description']}", title_justify="left")
    for column in ("", market.get("baseline_label", "2025 baseline"), "scenario", "change"):
        table.add_column(column, justify="left" if not column else "right")
    for m in HEADLINE:
        if "/" in m.key or (b[m.key] is None and c[m.key] is None):  # nested: below; None: not defined here
            continue
        table.add_row(m.label, m.level(b[m.key], money) if m.level_shown else "",
                      m.level(c[m.key], money) if m.level_shown else "", m.change(d[m.key], money))
    for nationality, share in sorted(c["units_share_by_nationality"].items(), key=lambda kv: -kv[1]):
        table.add_row(f"unit share, {nationality} owners", f"{b['units_share_by_nationality'].get(nationality, 0):.2%}",
                      f"{share:.2%}", f"{d['units_share_by_nationality'].get(nationality, 0) * 100:+.2f} pp")
    out.print(table)
    _print_entrants(r.get("products") or [], money)
    _print_tariff_split(r.get("products") or [], r.get("entrant_costs") or [], d.get("tariff_revenue_usd"), money)
    for note in r["scenario"]["excluded"]:
        out.print(f"excluded: {note}")
    capacity = next((a for a in r["assumptions"] if a["name"] == "entrant_plant_capacity"), None)
    for c in r.get("constraints", []):
        line = _constraint_line(c, money)
        if capacity and "regime" not in c and c["capacity"] == capacity["value"]:  # a plant at the default capacity
            line += (f"; capacity: the default for a plant the scenario does not size (parameter "
                     f"entrant_plant_capacity, {capacity['confidence']} confidence: {capacity['source']}; "
                     "set the entrant's capacity in the scenario to size this plant)")
        out.print(line, highlight=False)
    for warning in r.get("warnings", []):
        err.print(f"[yellow]warning:[/yellow] {escape(str(warning))}", highlight=False, markup=True)
    for caveat in r.get("caveats", []):
        out.print(f"[yellow]caveat:[/yellow] {escape(caveat['text'])}", highlight=False, markup=True)
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
    binding = any(c.get("binding") or c.get("jump") for c in r.get("constraints") or [])
    # with a binding plant or quota the count is the shadow-cost search's, all its trial solves (before,
    # the last solve's alone: "in 1 map evaluations" where the search took 89)
    where = " (the shadow-cost search's, all its solves)" if binding else ""
    out.print(f"solver: converged={s['converged']} in {s['iterations']} map evaluations{where}, "
              f"max |FOC/s| {s['max_foc_residual']:.1e}")


def _print_entrants(products: list[dict[str, Any]], money) -> None:
    """The scenario's new models: each one's owner, units, price paid and share of the market (the
    numbers a reader holds against real launches; --json and --report have their costs)."""
    entrants = sorted((p for p in products if p.get("entrant")), key=lambda p: -p["units"])
    if not entrants:
        return
    total = sum(p["units"] for p in products)
    table = Table(title="New models in the scenario", title_justify="left")
    for column in ("model", "owner", "units a year", "share", "price paid"):
        table.add_column(column, justify="left" if column in ("model", "owner") else "right")
    for p in entrants:
        table.add_row(p["name"], p["owner"], f"{p['units']:,.0f}", f"{p['units'] / total:.2%}" if total else "n/a",
                      money(p["consumer_price"], False))
    out.print(table)


def _print_tariff_split(products: list[dict[str, Any]], costs: list[dict[str, Any]], change: float | None,
                        money) -> None:
    """Where a scenario with new models moves tariff revenue: the duty the entrants pay and the change
    in what incumbents pay (the rest), so that a rise with lower tariff rates reads as the entrants'
    imports, not as a rate going up. A US-built entrant pays duty on its imported parts (its cost
    build-up's customs value), an imported one on the whole vehicle."""
    paid = sum(p.get("tariff_revenue") or 0.0 for p in products if p.get("entrant"))
    if change is None or not paid:
        return
    imported = {c.get("assembly") == "import" for c in costs}
    what = {frozenset({True}): "imported vehicles", frozenset({False}): "imported parts of US-built vehicles"}.get(
        frozenset(imported), "imported vehicles and parts")
    out.print(f"tariff revenue {money(change, total=True)}: the new models pay {money(paid, False, total=True)} in duty "
              f"(on {what}), incumbents {money(change - paid, total=True)} (fewer imported units or lower rates)",
              highlight=False)


def _constraint_line(c: dict[str, Any], money) -> str:
    """One constraint for a reader: a plant's or quota's capacity, whether it binds, its shadow cost."""
    if "regime" in c:  # a tariff-rate quota
        line = f"quota {c['name']}: {c['regime']} ({c['quantity']:,.0f} vehicles at {c['in_quota_pct']:g}%)"
        if c.get("shadow_cost_usd"):
            line += f"; shadow cost {money(c['shadow_cost_usd'], False)} a vehicle"
        return line + (f"; warning: {c['warning']}" if c.get("warning") else "")
    state = "binding" if c["binding"] else "not binding"
    line = f"{c['name']}: {c['units']:,.0f} of {c['capacity']:,.0f} vehicles a year, {state}"
    if c.get("jump"):
        return line + f" (shadow cost {money(c['shadow_cost_usd'], False)} a vehicle: {c['note']})"
    return line + (f" (shadow cost {money(c['shadow_cost_usd'], False)} a vehicle)" if c["binding"] else "")


def _print_ranking(rows: list[dict[str, Any]], money) -> None:
    table = Table(title="Ranking by the US partner's profit change", title_justify="left")
    for column in ("variant", "partner", "partner profit", "consumer surplus", "US jobs", "rivals' losses"):
        table.add_column(column, justify="left" if column in ("variant", "partner") else "right")
    for r in rows:
        jobs = r["us_assembly_jobs_change"]
        table.add_row(r["variant"], r["partner"], money(r["partner_profit_change_usd"], total=True),
                      money(r["consumer_surplus_change_usd"], total=True), "n/a" if jobs is None else f"{jobs:+,.0f}",
                      money(r["rivals_profit_losses_usd"], total=True))
    out.print(table)
