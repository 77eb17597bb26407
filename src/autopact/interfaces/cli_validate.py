"""CLI command ``validate``: the back-tests as tables (entry leave-one-out, EV credit, tariffs)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.markup import escape
from rich.table import Table

from autopact.errors import ConvergenceError, ScenarioError
from autopact.interfaces.console import _check_outputs, _fail, _write, app, err, out


@app.command("validate")
def validate_command(
    json_path: Annotated[Optional[Path], typer.Option("--json", help="Write the back-tests as JSON here (- for stdout).")] = None,
    products: Annotated[Optional[str], typer.Option(help="Comma-separated product ids to back-test instead of "
                                                         "the bundled launch list.")] = None,
) -> None:
    """Back-test the model against what happened: US launches 2019-2025 (leave one out), the end of
    the EV credit, and the 2025 tariffs against a published study."""
    from autopact.data import MarketDataError
    from autopact.policy.scenario import load_scenario
    from autopact.runs.validate import validate
    from autopact.simulate import market_for

    outputs = _check_outputs(("--json", json_path))
    try:
        with err.status("calibrated 2025 market, then the back-tests ...") as status:
            market = market_for(load_scenario("baseline-2025"))
            result = validate(market, products.split(",") if products else None,
                              progress=lambda text: status.update(text + "; EV credit and tariffs ..."))
    except (ScenarioError, MarketDataError, ConvergenceError, ValueError, OSError) as error:
        _fail(error)
    _print(result)
    if "--json" in outputs:
        _write([(outputs["--json"], json.dumps(result, indent=2, default=str))])


def _print_yardsticks(y: dict[str, Any], ok: bool, prices_ok: bool) -> None:
    table = Table(title="Entry scenarios against Chinese makers abroad (" + y["note"] + ")", title_justify="left")
    for column in ("scenario", "entrants' units", "share", "largest model", "its share", "US price / China list",
                   "Lerner", "Lerner, Rhodium's basis"):
        table.add_column(column, justify="left" if column in ("scenario", "largest model") else "right")
    for name, s in y["scenarios"].items():
        ratios = ", ".join(f"{v:.1f}" for v in s["price_to_china_list"].values())
        lerner = ", ".join(f"{v:.2f}" for v in s["lerner"].values())
        rhodium = ", ".join(f"{v:.2f}" for v in s["lerner_rhodium_basis"].values())
        table.add_row(name, f"{s['entrant_units']:,.0f}", f"{s['entrant_share']:.2%}", s["largest_model"] or "-",
                      f"{s['largest_model_share']:.2%}", ratios, lerner, rhodium)
    out.print(table)
    _print_price_decomposition(y)
    lo, hi = y["yardsticks"]["single_model_share"]
    blo, bhi = y["yardsticks"]["brand_share_year3"]
    plo, phi = y["yardsticks"]["export_price_ratio"]
    lerner = ", ".join(f"{v:.2f}" for v in y["yardsticks"]["export_lerner"])
    out.print(f"abroad: one Chinese model {lo:.1%}-{hi:.1%} of a market; BYD as a brand {blo:.1%}-{bhi:.1%} in its third "
              f"year; export prices net of VAT and duty {plo:.2f}-{phi:.2f}x the China list "
              f"({escape(', '.join(c['model'] + ' in ' + c['market'] for c in y['export_prices'].values()))}); Lerner index "
              f"abroad {lerner} (Rhodium, Seal U in Germany: its profit deducts no selling cost beyond the China one, so "
              f"it compares with the entrants' Lerner on Rhodium's basis). No scenario's largest model above twice the single-model "
              f"top {_mark(ok)}; entrants' US prices net of duty at least {plo:.2f}x the China list {_mark(prices_ok)}",
              highlight=False, markup=True)


def _print_price_decomposition(y: dict[str, Any]) -> None:
    """Each entrant's US price net of duty over its China list, in parts (``runs.entrant_pricing``),
    with the demand that sets its markup and the incumbents priced like it (one line each)."""
    band = next((d["peers"]["band"] for s in y["scenarios"].values() for d in s["price_decomposition"]), None)
    out.print("Why entrants' prices sit where they do: (price - duty) / (price scale x China list) = home cost + US "
              "costs + markup + shadow cost; the markup follows its own-price elasticity, set by its buyers' incomes"
              + (f"; peers: incumbents within {band:.0%} of its price" if band is not None else ""), highlight=False)
    for name, s in y["scenarios"].items():
        for d in s["price_decomposition"]:
            r, us = d["ratio_parts"], d["us_costs_ratio"]
            b, everyone, peers = d["buyers"], d["all_buyers"], d["peers"]
            out.print(f"  {name}, {escape(d['name'])}: {d['units']:,.0f} at ${d['price']:,.0f}; home {r['home_cost']:.2f} "
                      f"+ US {us:.2f} + markup {r['markup']:.2f} + shadow {r['shadow_cost']:.2f} = "
                      f"{d['price_to_china_list']:.2f}; Lerner {d['lerner']:.2f} (peers {peers['lerner']:.2f}), "
                      f"elasticity {d['own_elasticity']:.1f} (peers {peers['own_elasticity']:.1f}); buyers under $50k "
                      f"{b['under $50k']:.0%} (all buyers {everyone['under $50k']:.0%}), median income "
                      f"${b['median_income']:,.0f} (all ${everyone['median_income']:,.0f})", highlight=False)


def _print_demand(d: dict[str, Any], passed: dict[str, bool]) -> None:
    """The demand back-tests (``runs.backtest_demand``): low-income BEV elasticity, untargeted buyer incomes."""
    from autopact.outcomes.low_income import poverty_line_multiple

    e, below, above = d["low_income_bev_elasticity"], d["buyers_income_below_75k"], d["buyers_income_150k_plus"]
    goal = f"goal within {d['goal_relative']:.0%}"
    out.print(f"Low- and middle-income BEV demand (households under ${e['income_limit_usd_2023']:,.0f} of 2023, "
              f"{poverty_line_multiple():.0%} of the poverty line): elasticity {e['model']:.2f} against Muehlegger and Rapson's {e['published']:.1f} "
              f"({goal}) {_mark(passed['low_income_bev_elasticity'])}; all households {e['all_households']:.2f}",
              highlight=False, markup=True)
    out.print(f"Buyers' incomes, not calibration targets (Cox 2025): under $75k {below['model']:.1%} against about "
              f"{below['published']:.0%} {_mark(passed['buyers_income_below_75k'])}; $150k or more {above['model']:.1%} "
              f"against {above['published']:.0%} {_mark(passed['buyers_income_150k_plus'])} ({goal})",
              highlight=False, markup=True)


def _print_early_2026(a: dict[str, Any], passed: dict[str, bool]) -> None:
    mk, ap, pt = a["makers"], a["average_price"], a["pass_through"]
    out.print("Early 2026 against the 2026 baseline (published changes over the same months of 2025; the model's "
              "whole year): " + "; ".join(f"{escape(row['label'])} ({row['period']}) {row['observed_change']:+.1%}, "
                                          f"model {row['predicted_change']:+.1%}" for row in mk["rows"])
              + f"; median gap {100 * mk['median_abs_gap']:.1f} points, {mk['within']} of {len(mk['rows'])} within "
              f"{100 * mk['goal_gap']:.0f} points {_mark(passed['early_2026_makers'])}", highlight=False, markup=True)
    out.print("  average price {:+.1%} against KBB's January and February 2026 {:+.1%} and {:+.1%} {}".format(
        ap["predicted_change"], *ap["observed_jan_feb_2026"], _mark(passed["early_2026_prices"])), highlight=False,
        markup=True)
    out.print(f"Pass-through of a tariff ({escape(pt['tariff'])}, {pt['models']} models, 2025 market): "
              f"{pt['pass_through']:.2f} (median {pt['median']:.2f}; {escape(pt['lowest']['name'])} "
              f"{pt['lowest']['pass_through']:.2f} to {escape(pt['highest']['name'])} {pt['highest']['pass_through']:.2f}) "
              "against Feenstra's {:.1f} to {:.1f} {}".format(*pt["published"], _mark(passed["tariff_pass_through"])),
              highlight=False, markup=True)


def _mark(ok: bool) -> str:
    return "[green]pass[/green]" if ok else "[red]FAIL[/red]"


def _entry_line(entry: dict[str, Any], passed: dict[str, bool], goals: dict[str, float]) -> str:
    """The entry back-test's summary line: its metrics against ``goals`` (``runs.validate.GOALS``), with
    their bootstrap intervals over the launches where the list is long enough for them."""
    from autopact.runs.backtest_entry import BOOTSTRAP_FEWEST

    w, band = entry["worst"], entry["intervals"]
    intervals = f"no intervals (fewer than {BOOTSTRAP_FEWEST} launches); " if band is None else (
        "{:.0%} intervals over the launches (bootstrap, errors held fixed): median {:.2f} to {:.2f}, bias {:+.2f} to "
        "{:+.2f}; ".format(band["level"], *band["median_abs_log_error"], *band["mean_log_error"]))
    median_goal = goals["entry_median_abs_log_error"]
    return (f"median |log error| {entry['median_abs_log_error']:.2f} (goal <= {median_goal:.2f}, "
            f"x{math.exp(median_goal):.1f}) {_mark(passed['entry_median_abs_log_error'])}; "
            f"bias {entry['mean_log_error']:+.2f} (goal within +/-{goals['entry_bias']:g}) {_mark(passed['entry_bias'])}; "
            f"{intervals}worst {escape(str(w['name']))} x{w['ratio']:.2f} (goal within x{math.exp(goals['entry_worst']):.0f}) "
            f"{_mark(passed['entry_worst'])}; {entry['within_factor_1_5']:.0%} within x1.5, "
            f"{entry['beyond_factor_3']} beyond x3")


def _print(r: dict[str, Any]) -> None:
    entry, passed = r["entry_backtest"], r["passed"]
    table = Table(title="Entry back-test: US launches 2019-2025, each removed and re-entered as an entrant",
                  title_justify="left", caption="months: of 2025 on offer to new orders (a 2025 launch or a run-out); "
                  "predicted is that share of a year's units", caption_justify="left")
    for column in ("product", "launch", "months", "actual 2025", "predicted", "ratio"):
        table.add_column(column, justify="left" if column == "product" else "right")
    for row in sorted(entry["products"], key=lambda row: row["log_error"]):
        ratio = row["predicted_units"] / row["actual_units"]
        table.add_row(row["name"], str(row["launch_year"]), f"{row['months_on_sale_2025']:g}",
                      f"{row['actual_units']:,.0f}", f"{row['predicted_units']:,.0f}", f"x{ratio:.2f}")
    out.print(table)
    out.print(_entry_line(entry, passed, r["goals"]), markup=True)
    out.print("by powertrain: " + "; ".join(f"{g} {v['products']} launches, median |log error| {v['median_abs_log_error']:.2f}, "
                                            f"bias {v['mean_log_error']:+.2f}" for g, v in entry["by_powertrain"].items()),
              highlight=False)
    c = r["ev_credit_backtest"]
    out.print(f"EV credit ends: BEV share {c['baseline_bev_share']:.2%} -> model {c['predicted_bev_share']:.2%}, "
              f"observed {c['observed_bev_share']:.2%} (Q4 2025; Jan 2026 {c['observed_after']['jan_2026']:.1%}): "
              f"{c['error_pp']:+.2f} pp (goal within {r['goals']['ev_credit_pp']:g} pp) {_mark(passed['ev_credit'])}", highlight=False, markup=True)
    _print_demand(r["demand_backtest"], passed)
    t = r["tariff_backtest"]
    lo, hi = t["published"]["sales_change"]
    plo, phi = t["published"]["price_change"]
    out.print(f"2025 Section 232 layer: sales {t['sales_change']:+.1%} (RFF {lo:+.0%} to {hi:+.0%}) "
              f"{_mark(passed['tariff_sales'])}; prices {t['price_change']:+.1%} (RFF {plo:+.0%} to {phi:+.0%}) "
              f"{_mark(passed['tariff_prices'])}; {escape(str(t['published']['note']))}", highlight=False, markup=True)
    from autopact.runs.year_change import largest

    m = r["market_2026_backtest"]
    mlo, mhi = m["range"]
    out.print(f"2026 baseline: new-vehicle sales {m['predicted_sales_change']:+.1%} against 2025 (Cox forecast "
              f"{m['observed']['cox_forecast']:+.1%}; January-February 2026 annual rates {mlo:+.1%} to "
              f"{max(m['observed']['saar_jan_feb_2026']):+.1%}) {_mark(passed['market_2026_sales'])}; BEV share "
              f"{m['predicted_bev_share']:.2%}", highlight=False, markup=True)
    out.print(f"  why, each 2025 -> 2026 change alone: {escape(largest(m['decomposition']))}", highlight=False,
              markup=True)
    _print_early_2026(r["early_2026_backtest"], passed)
    _print_yardsticks(r["entry_yardsticks"], passed["entry_yardsticks"], passed["entrant_prices"])
    rows = [(name, row) for name, found in r["entrant_best_responses"].items() for row in found]
    off = [f"{escape(row['name'])} in {name} (best grid price ${row['best_grid_price']:,.0f} against "
           f"${row['price']:,.0f})" for name, row in rows if not row["global_best_response"]]
    out.print(f"Entrants' prices as global best responses (each owner's profit over a grid of the entrant's own "
              f"price, others held; entrants at a binding plant or quota not checked): "
              f"{len(rows) - len(off)} of {len(rows)} in {', '.join(r['entrant_best_responses'])} "
              f"{_mark(passed['entrant_best_responses'])}" + (f"; not: {'; '.join(off)}" if off else ""),
              highlight=False, markup=True)
    for name, s in r["price_signs"].items():
        out.print(f"{name} ({s['what']}): {s['rising']} of {s['incumbents_same_cost']} incumbents with unchanged cost "
                  f"raise their price, {s['explained']} explained (buyers less price-sensitive, the owner's other "
                  f"models, or a stake in an entrant; the larger markup term: own demand "
                  f"{s['larger_term']['own_demand']}, owner's other models {s['larger_term']['siblings']}); "
                  f"mean change ${s['mean_price_change_usd']:+,.0f} {_mark(s['rising'] == s['explained'])}",
                  highlight=False, markup=True)
        for row in s["largest_rises"][:3]:
            out.print(f"  {row['name']}: +${row['price_change_usd']:,.0f}; semi-elasticity "
                      f"{row['semi_elasticity_before'] * 1e4:.3f} -> {row['semi_elasticity_after'] * 1e4:.3f} per $10k; "
                      f"markup terms: own demand ${row['own_term_change_usd']:+,.0f}, owner's other models "
                      f"${row['siblings_term_change_usd']:+,.0f}"
                      + ("; owner holds a stake in an entrant" if row["owner_holds_entrant_stake"] else ""),
                      highlight=False)
