"""The back-tests in one table for every report (issue 11: "back-tests, as a command and in the report").

``autopact validate`` takes minutes (90 re-entries, the bundled entry scenarios), too long for each
report, so the report shows a snapshot: ``summary_rows`` of one ``validate`` run, written to the
bundled ``backtest_summary_2025.json`` by ``python tools/make_backtest_summary.py`` with the date,
the code's commit and the calibration's fingerprint. The test suite refuses a snapshot whose
fingerprint is not the bundled calibration's, and recomputes some of its rows (the demand back-tests
and three launches) to the printed precision (``tests/runs/test_backtest_summary.py``).
"""

from __future__ import annotations

import json
import math
from typing import Any

from autopact.data import bundled_path

SNAPSHOT = "backtest_summary_2025.json"


def _row(name: str, result: str, goal: str, passed: bool | None) -> dict[str, Any]:
    return {"backtest": name, "result": result, "goal": goal, "passed": passed}


def summary_rows(v: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per back-test of a ``runs.validate.validate`` result: what it compares, the model's
    result against the evidence, the goal and the verdict (None where there is no pass or fail)."""
    e, ok, g = v["entry_backtest"], v["passed"], v["goals"]
    rows = [_row(f"Entry: {len(e['products'])} US launches of 2019-2025 removed and re-entered, median |log error|",
                 f"{e['median_abs_log_error']:.2f} (x{math.exp(e['median_abs_log_error']):.2f}"
                 + ("" if e["intervals"] is None else "; {:.0%} interval over the launches {:.2f} to {:.2f}".format(
                     e["intervals"]["level"], *e["intervals"]["median_abs_log_error"]))
                 + f"); {e['within_factor_1_5']:.0%} within x1.5",
                 f"<= {g['entry_median_abs_log_error']:.2f} (x{math.exp(g['entry_median_abs_log_error']):.1f})",
                 ok["entry_median_abs_log_error"]),
            _row("Entry: bias (mean log error)", f"{e['mean_log_error']:+.2f}", f"within +/-{g['entry_bias']:g}", ok["entry_bias"]),
            _row("Entry: worst", f"{e['worst']['name']} x{e['worst']['ratio']:.1f}; {e['beyond_factor_3']} beyond x3",
                 f"within x{math.exp(g['entry_worst']):.0f}", ok["entry_worst"])]
    c = v["ev_credit_backtest"]
    rows.append(_row("EV credit ends (30 Sep 2025): BEV share", f"model {c['predicted_bev_share']:.2%}, observed "
                     f"{c['observed_bev_share']:.2%} (Q4 2025)", f"within {g['ev_credit_pp']:g} pp", ok["ev_credit"]))
    t = v["tariff_backtest"]
    (slo, shi), (plo, phi) = t["published"]["sales_change"], t["published"]["price_change"]
    rows += [_row("2025 Section 232 tariffs: sales", f"{t['sales_change']:+.1%}", f"RFF {slo:+.0%} to {shi:+.0%}",
                  ok["tariff_sales"]),
             _row("2025 Section 232 tariffs: prices", f"{t['price_change']:+.1%}", f"RFF {plo:+.0%} to {phi:+.0%}",
                  ok["tariff_prices"])]
    m = v["market_2026_backtest"]
    rows.append(_row("2026 sales against 2025", f"{m['predicted_sales_change']:+.1%}",
                     f"{m['range'][0]:+.1%} to {m['range'][1]:+.1%} (Cox; early-2026 annual rates)", ok["market_2026_sales"]))
    a = v["early_2026_backtest"]
    mk, ap, pt = a["makers"], a["average_price"], a["pass_through"]
    rows += [_row(f"Early 2026: {len(mk['rows'])} makers' and models' sales against the same months of 2025",
                  f"median gap {100 * mk['median_abs_gap']:.0f} points; {mk['within']} of {len(mk['rows'])} within "
                  f"{100 * mk['goal_gap']:.0f}; worst {mk['worst']['label']} model {mk['worst']['predicted_change']:+.0%}, "
                  f"published {mk['worst']['observed_change']:+.0%}", f"each within {100 * mk['goal_gap']:.0f} points",
                  ok["early_2026_makers"]),
             _row("Early 2026: average transaction price against 2025", f"{ap['predicted_change']:+.1%}",
                  "KBB January-February 2026 {:+.1%} to {:+.1%}".format(*sorted(ap["observed_jan_feb_2026"])),
                  ok["early_2026_prices"]),
             _row(f"Pass-through of a tariff ({pt['tariff']})", f"{pt['pass_through']:.2f}",
                  "Feenstra (1989) {:.1f} to {:.1f}".format(*pt["published"]), ok["tariff_pass_through"])]
    y = v["entry_yardsticks"]
    largest = max(s["largest_model_share"] for s in y["scenarios"].values())
    lo, hi = y["yardsticks"]["single_model_share"]
    rows.append(_row("Entry scenarios: the largest Chinese model's share", f"{largest:.2%}",
                     f"abroad {lo:.1%}-{hi:.1%} (fail at {g['entry_share_factor']:g}x the top)", ok["entry_yardsticks"]))
    ratios = [r for s in y["scenarios"].values() for r in s["price_to_china_list"].values()]
    plo, phi = y["yardsticks"]["export_price_ratio"]
    rows.append(_row("Entry scenarios: US price net of duty / China list", f"{min(ratios):.2f}-{max(ratios):.2f}",
                     f"abroad {plo:.2f}-{phi:.2f}", ok["entrant_prices"]))
    best = [row for rows_ in v["entrant_best_responses"].values() for row in rows_]
    rows.append(_row("Entry scenarios: entrants' prices are global best responses",
                     f"{sum(r['global_best_response'] for r in best)} of {len(best)}", "all", ok["entrant_best_responses"]))
    signs = "; ".join(f"{name}: {s['rising']} of {s['incumbents_same_cost']}" for name, s in v["price_signs"].items())
    rows.append(_row("Incumbents with unchanged cost that raise prices when rivals get cheaper or enter", signs,
                     "none (the evidence), or each explained by the model", ok["price_signs"]))
    d = v["demand_backtest"]
    within = f"within {d['goal_relative']:.0%}"
    low, below, above = d["low_income_bev_elasticity"], d["buyers_income_below_75k"], d["buyers_income_150k_plus"]
    rows += [_row(f"BEV demand elasticity of households under ${low['income_limit_usd_2023']:,.0f} (2023 dollars)",
                  f"{low['model']:.2f}", f"Muehlegger and Rapson {low['published']:.1f}, {within}",
                  ok["low_income_bev_elasticity"]),
             _row("Buyers under $75k (not a calibration target)", f"{below['model']:.1%}",
                  f"Cox about {below['published']:.0%}, {within}", ok["buyers_income_below_75k"]),
             _row("Buyers at $150k or more (not a calibration target)", f"{above['model']:.1%}",
                  f"Cox {above['published']:.0%}, {within}", ok["buyers_income_150k_plus"])]
    return rows


def load_snapshot() -> dict[str, Any] | None:
    """The bundled snapshot (``SNAPSHOT``), or None where it is absent."""
    path = bundled_path(SNAPSHOT)
    return json.loads(path.read_text()) if path.exists() else None
