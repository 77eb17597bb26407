"""A self-contained HTML report of a simulation (charts inline with plotly; no network needed)."""

from __future__ import annotations

import html
from datetime import date
from typing import Any

import pandas as pd
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from autopact.version import __version__
from autopact.data import read_bundled
from autopact.interfaces.money import Money
from autopact.outcomes.definitions import HEADLINE
from autopact.runs.uncertainty import CENTRAL_NOTE, central_outside_band, node

STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1100px;color:#1d2733;line-height:1.45}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #d0d7de;padding-bottom:.3rem}
table{border-collapse:collapse;width:100%;font-size:.88rem;margin:.5rem 0}th,td{padding:.3rem .5rem;border-bottom:1px solid #eaeef2;text-align:right}
th:first-child,td:first-child{text-align:left}th{background:#f6f8fa}.muted{color:#57606a;font-size:.85rem}
.grid{display:grid;grid-template-columns:1fr 1fr;gap:1rem}.note{background:#fff8c5;padding:.5rem .8rem;border-radius:6px}
td.src{text-align:left;font-size:.78rem;color:#57606a;min-width:320px;max-width:520px;word-break:break-word}
"""



def _per_household(value: float | None) -> str:
    """A change per household in dollars a year, to the cent (most are a few dollars)."""
    return "n/a" if value is None else f"{'-' if value < 0 else '+'}${abs(value):,.2f}"

def _figure(fig: go.Figure, title: str, height: int = 360) -> str:
    fig.update_layout(title=title, margin=dict(l=40, r=20, t=50, b=40), height=height, template="plotly_white")
    return fig.to_html(full_html=False, include_plotlyjs=False, config={"displayModeBar": False})


def _headline(r: dict[str, Any], money: Money) -> str:
    b, c, d = r["baseline"], r["counterfactual"], r["change"]
    body = []
    for m in HEADLINE:
        if "/" in m.key or (b[m.key] is None and c[m.key] is None):  # nested: in its own table; None: not defined
            continue
        level = (lambda v, m=m: m.level(v, money)) if m.level_shown else (lambda v: "")
        body.append(f"<tr><td>{html.escape(m.label[:1].upper() + m.label[1:])}</td><td>{level(b[m.key])}</td>"
                    f"<td>{level(c[m.key])}</td><td>{m.change(d[m.key], money)}</td></tr>")
    label = html.escape(r.get("market", {}).get("baseline_label", "2025 baseline").capitalize())
    return (f"<table><tr><th></th><th>{label}</th><th>Scenario</th><th>Change</th></tr>"
            + "".join(body) + "</table>")


def _welfare(r: dict[str, Any], money: Money) -> go.Figure:
    us = sum(f["profit_counterfactual_usd"] - f["profit_baseline_usd"] for f in r["firms"] if f["nationality"] == "US")
    foreign = sum(f["profit_counterfactual_usd"] - f["profit_baseline_usd"] for f in r["firms"] if f["nationality"] != "US")
    parts = {"Consumers": r["change"]["consumer_surplus_usd"], "US firms": us, "Foreign firms": foreign,
             "Government (tariffs)": r["change"]["tariff_revenue_usd"]}
    scale = money.dollars_per_unit or 1.0
    fig = go.Figure(go.Bar(x=list(parts), y=[v * scale / 1e9 for v in parts.values()],
                           marker_color=["#2f81f7", "#1a7f37", "#bf8700", "#8250df"]))
    unit = f"{money.note} " if money.note else ""
    fig.update_yaxes(title=f"change, {unit}$ billion a year" if money.dollars_per_unit else
                     "change, billions of the data's money unit")
    return fig


def _context() -> tuple[go.Figure, go.Figure]:
    ev = read_bundled("ev_global.csv")
    bev = ev[(ev["region"] == "Global") & (ev["metric"] == "BEV sales") & ev["period"].str.contains("Q")].copy()
    bev["value"] = pd.to_numeric(bev["value"].astype(str).str.replace("~", ""), errors="coerce")
    bev = bev.dropna(subset=["value"]).sort_values("period")
    quarters = go.Figure(go.Bar(x=bev["period"], y=bev["value"], marker_color="#2f81f7",
                                hovertext=bev["source_org"] + " (" + bev["derived"].astype(str) + ")"))
    quarters.update_yaxes(title="million BEVs (TrendForce; 2023 quarters derived)")
    brands = ev[ev["metric"] == "Global brand sales (JATO)"].copy()
    brands["value"] = pd.to_numeric(brands["value"], errors="coerce")
    rivals = go.Figure([go.Bar(name=region, x=group["period"], y=group["value"] / 1e6)
                        for region, group in brands.groupby("region")])
    rivals.update_yaxes(title="million vehicles (JATO brand sales)")
    return quarters, rivals


def _table(rows: list[dict[str, Any]], columns: list[tuple[str, str]], source_column: str | None = None) -> str:
    head = "".join(f"<th>{html.escape(label)}</th>" for _, label in columns)
    body = []
    for row in rows:
        cells = []
        for key, _ in columns:
            value = row.get(key, "")
            if isinstance(value, float):
                text = f"{value:,.0f}" if abs(value) >= 1000 else f"{value:,.4g}"
            else:
                text = html.escape(str(value))
            cls = ' class="src"' if key == source_column else ""
            cells.append(f"<td{cls}>{text}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def _by_entrant(entrants: list[dict[str, Any]]) -> str:
    """The entrants' terms and cost components, one row a component and one column an entrant (a
    scenario has a few entrants and a dozen components, which as columns ran off the page)."""
    keys = list(dict.fromkeys(k for e in entrants for k in e if k not in ("product_id", "name")))
    rows = [{"component": key.replace("_", " ").replace("us ", "US "), **{str(i): e.get(key, "") for i, e in enumerate(entrants)}}
            for key in keys]
    return _table(rows, [("component", "")] + [(str(i), e.get("name", e["product_id"])) for i, e in enumerate(entrants)])


def html_report(r: dict[str, Any]) -> str:
    """The report for one result document (the JSON of ``autopact simulate``).

    On an estimated market (``market.kind`` "estimated") the sections that need the 2025 data (price
    by segment, the global EV context) are left out with a note, and money is shown in dollars of
    the data's year where the data's unit converts to dollars.
    """
    money = Money.of(r)
    market = r.get("market", {})
    estimated = market.get("kind") == "estimated"
    baseline_label = market.get("baseline_label", "2025 baseline")
    b, c = r["baseline"], r["counterfactual"]
    nationalities = sorted(set(b["units_share_by_nationality"]) | set(c["units_share_by_nationality"]),
                           key=lambda n: -c["units_share_by_nationality"].get(n, 0))
    shares = go.Figure([go.Bar(name=label, x=nationalities, y=[100 * block["units_share_by_nationality"].get(n, 0)
                                                               for n in nationalities])
                        for label, block in ((baseline_label, b), ("scenario", c))])
    shares.update_yaxes(title="% of units")
    firms = sorted(r["firms"], key=lambda f: -abs(f["units_counterfactual"] - f["units_baseline"]))[:15]
    by_firm = go.Figure(go.Bar(x=[f["firm"] for f in firms],
                               y=[f["units_counterfactual"] - f["units_baseline"] for f in firms], marker_color="#1a7f37"))
    by_firm.update_yaxes(title="change in units a year")
    segments = sorted(c["average_price_by_segment_usd"])
    entrants = r.get("entrant_costs", [])
    solver = r["solver"]
    if estimated:
        scope = (f"{html.escape(market['label'])}: baseline and scenario solved in the same run at the estimated "
                 f"parameters. autopact {__version__}, report of {date.today().isoformat()}. Money: "
                 f"{html.escape(market['money']['unit'])}" + (f"; shown here in {money.note}" if money.note else "")
                 + ".")
    else:
        scope = (f"US new light-vehicle market, {html.escape(baseline_label)} and scenario solved in the same run. "
                 f"autopact {__version__}, report of {date.today().isoformat()}. Money in 2025 dollars a year at the "
                 f"model's price level (see assumptions).")
    figures = [_figure(shares, "Share of units by nationality of the controlling owner"),
               _figure(by_firm, "Change in units by firm (joint ventures split by profit share)")]
    notes = []
    if segments:
        prices = go.Figure(go.Bar(x=segments, y=[(c["average_price_by_segment_usd"][s]
                                                  - b["average_price_by_segment_usd"].get(s, 0)) * (money.dollars_per_unit or 1.0)
                                                 for s in segments], marker_color="#bf8700"))
        prices.update_yaxes(title="change in average price paid, $")
        figures.append(_figure(prices, "Change in average price by segment"))
    else:
        notes.append("Price by segment and the BEV share are not shown: the market's data have no segments or powertrains.")
    figures.append(_figure(_welfare(r, money), "Welfare: consumers, firms, government"))
    income = r["counterfactual"]["consumer_surplus_per_household_by_income_usd"]
    sections = [
        f"<h1>autopact: {html.escape(r['scenario']['name'])}</h1>",
        f"<p>{html.escape(r['scenario']['description'])}</p>",
        f"<p class='muted'>{scope}</p>",
        "<h2>Headline numbers</h2>", _headline(r, money),
        *(_bands_section(r) if r.get("bands") else []),
        "".join(f"<p class='note'>Excluded: {html.escape(x)}</p>" for x in r["scenario"]["excluded"]),
        "".join(f"<p class='note'>Warning: {html.escape(x)}</p>" for x in r.get("warnings", [])),
        "".join(f"<p class='note'>Caveat: {html.escape(c['text'])}</p>" for c in r.get("caveats", [])),
        "<h2>Who sells, who gains</h2><div class='grid'>", *figures, "</div>",
        "".join(f"<p class='muted'>{html.escape(x)}</p>" for x in notes),
        "<h2>Consumers by household income, and profits by nationality</h2>",
        _table([{"group": g, "change": _per_household(r["change"]["consumer_surplus_per_household_by_income_usd"].get(g))
                 if not estimated else money(r["change"]["consumer_surplus_per_household_by_income_usd"].get(g))}
                for g in income],
               [("group", "Household income"), ("change", "Consumer surplus change per household, $ a year"
                                                        + (f" ({money.note})" if estimated and money.note else ""))])
        if income else "<p class='muted'>No household incomes in this market's data.</p>",
        _table([{"nationality": n, "baseline": money(b["profit_by_nationality_usd"].get(n, 0.0), False, total=True),
                 "scenario": money(v, False, total=True),
                 "change": money(v - b["profit_by_nationality_usd"].get(n, 0.0), total=True)}
                for n, v in sorted(c["profit_by_nationality_usd"].items(), key=lambda kv: -kv[1])],
               [("nationality", "Owners' nationality"), ("baseline", f"Variable profit, {baseline_label}"),
                ("scenario", "Scenario"), ("change", "Change")]),
        "<h2>Firms</h2>",
        _table([{**f, "units_change": f"{f['units_counterfactual'] - f['units_baseline']:+,.0f}",  # whole vehicles
                 "profit_change": money(f["profit_counterfactual_usd"] - f["profit_baseline_usd"], total=True)} for f in r["firms"]],
               [("firm", "Firm"), ("nationality", "Nationality"), ("units_baseline", f"Units, {baseline_label}"),
                ("units_counterfactual", "Units, scenario"), ("units_change", "Change"), ("profit_change", "Profit change")]),
    ]
    if entrants:
        sections += ["<h2>Entrants' marginal cost, built from components ($ per vehicle)</h2>",
                     "<p class='muted'>The mean-utility terms (brand, launch, appeal, consideration) are in utility "
                     "units; the cost components in dollars per vehicle.</p>", _by_entrant(entrants)]
    if r.get("ranking"):
        sections += ["<h2>Ranking of the pairings</h2>",
                     _table([{**x, **{k: money(v, total=True) for k, v in x.items() if k.endswith("_usd")}} for x in r["ranking"]],
                            [(k, k.replace("_", " ")) for k in r["ranking"][0]])]
    if r.get("constraints"):
        keys = list(dict.fromkeys(k for row in r["constraints"] for k in row))
        sections += ["<h2>Quotas and capacity</h2>",
                     _table(r["constraints"], [(k, k.replace("_", " ")) for k in keys], source_column="warning")]
    if estimated:
        sections += [("<h2>Context</h2><p class='muted'>The 2025 context charts (global EV sales, BYD and Ford) are "
                      "left out: this scenario runs on an estimated historical market.</p>")]
    else:
        quarters, rivals = _context()
        sections += ["<h2>Context</h2><div class='grid'>", _figure(quarters, "Global BEV sales by quarter"),
                     _figure(rivals, "BYD and Ford brand: global sales"), "</div>"]
    if not estimated:
        sections += _backtests_section()
    hedonic = ("" if solver.get("hedonic_r2") is None else
               f" Hedonic fit of mean utilities for entrants: R<sup>2</sup> {solver['hedonic_r2']:.2f}.")
    sections += [
        "<h2>Assumptions and sources</h2>",
        _table([{**a, "value": str(a["value"])} for a in r["assumptions"]],
               [("name", "Name"), ("value", "Value"), ("kind", "Kind"), ("source", "Source")], source_column="source"),
        "<h2>Solver diagnostics</h2>",
        f"<p>Scenario equilibrium: converged {solver['converged']} after {solver['iterations']} evaluations of the "
        f"zeta-markup map, largest first-order-condition residual relative to shares {solver['max_foc_residual']:.1e}. "
        f"Baseline: {solver['baseline']['iterations']} evaluation(s), residual {solver['baseline']['max_foc_residual']:.1e}."
        f"{hedonic}</p>",
    ]
    return _page(r["scenario"]["name"], sections)


def _backtests_section() -> list[str]:
    """How the model has done against what happened (``autopact.runs.backtest_summary``): the bundled
    snapshot of ``autopact validate``, with its date, commit and calibration."""
    from autopact.runs.backtest_summary import load_snapshot

    snapshot = load_snapshot()
    if snapshot is None:
        return ["<h2>Back-tests</h2><p class='muted'>No back-test snapshot is bundled: run "
                "<code>autopact validate</code>.</p>"]
    verdict = {True: "pass", False: "FAIL", None: ""}
    rows = [{**row, "passed": verdict[row["passed"]]} for row in snapshot["rows"]]
    passed = sum(row["passed"] is True for row in snapshot["rows"])
    return ["<h2>Back-tests: the model against what happened</h2>",
            f"<p class='muted'>From <code>autopact validate</code> on the calibrated 2025 market ({snapshot['made']}, "
            f"code {html.escape(snapshot['commit'])}, calibration {html.escape(snapshot['calibration_fingerprint'])}): "
            f"{passed} of {len(rows)} pass. They say how far to trust this scenario's numbers; the README's "
            "\"Back-tests\" section gives each its sources, docs/backtests.md what was tried. Run "
            "<code>autopact validate</code> for the code at hand.</p>",
            _table(rows, [("backtest", "Back-test"), ("result", "Model"), ("goal", "Evidence, goal"),
                          ("passed", "Verdict")])]


def _page(title: str, sections: list[str]) -> str:
    return ("<!DOCTYPE html><html><head><meta charset='utf-8'><title>autopact: "
            f"{html.escape(title)}</title><style>{STYLE}</style>"
            f"<script>{get_plotlyjs()}</script></head><body>{''.join(sections)}</body></html>")


def _bands_section(r: dict[str, Any]) -> list[str]:
    """Interval charts: each headline change with its 5-95% band, median and central value."""
    from plotly.subplots import make_subplots

    u = r["uncertainty"]
    dollars = Money.of(r).dollars_per_unit or 1.0  # an estimated market counts money in its data's unit
    shown = [(m.label[:1].upper() + m.label[1:], m.key, scale * (dollars if unit.startswith("$") else 1.0), unit)
             for m in HEADLINE for scale, unit in [m.axis()]
             if isinstance(node(r["bands"], m.key), dict) and node(r["bands"], m.key).get("p05") is not None]
    fig = make_subplots(rows=len(shown), cols=1, vertical_spacing=0.03)
    rows, outside = [], []
    for k, (name, path, scale, unit) in enumerate(shown, 1):
        band, central = node(r["bands"], path), node(r["change"], path)
        central = central if isinstance(central, (int, float)) else 0.0
        fig.add_trace(go.Scatter(x=[band["p05"] * scale, band["p95"] * scale], y=[name, name], mode="lines",
                                 line=dict(color="#2f81f7", width=10), name="5-95%", showlegend=k == 1), k, 1)
        fig.add_trace(go.Scatter(x=[band["p50"] * scale], y=[name], mode="markers", marker=dict(color="#0b3d91", size=11,
                                 symbol="line-ns-open", line=dict(width=3)), name="median", showlegend=k == 1), k, 1)
        fig.add_trace(go.Scatter(x=[central * scale], y=[name], mode="markers", marker=dict(color="#cf222e", size=9),
                                 name="central", showlegend=k == 1), k, 1)
        low, high = min(band["p05"], central) * scale, max(band["p95"], central) * scale
        pad = 0.15 * (high - low) or 0.15 * abs(high) or 1.0
        fig.update_xaxes(title_text=unit, title_standoff=0, range=[low - pad, high + pad], row=k, col=1)
        outside += [name] if central_outside_band(central, band) else []
        rows.append({"metric": name + (" *" if name in outside else ""), "unit": unit, "central": central * scale,
                     "p05": band["p05"] * scale, "p50": band["p50"] * scale, "p95": band["p95"] * scale})
    fig.update_layout(height=110 * len(shown) + 80)
    chart = fig.to_html(full_html=False, include_plotlyjs=False, config={"displayModeBar": False})
    return [f"<h2>Uncertainty: 5-95% bands from {u['draws']} joint draws</h2>",
            f"<p class='muted'>{u['failed']} draws failed to converge and are left out. Seed {u['seed']}; "
            f"targets re-calibrate demand ({html.escape(u['recalibration'])}); run {u['run_id']} in the results store. "
            f"{html.escape(Money.of(r).note)} "
            "Red: the central run; bar: 5th to 95th percentile; tick: median. "
            f"{html.escape(CENTRAL_NOTE[:1].upper() + CENTRAL_NOTE[1:])}"
            + (f"; * outside here: {html.escape(', '.join(outside))}." if outside else ".") + "</p>",
            chart, _table(rows, [("metric", "Change in"), ("unit", "Unit"), ("central", "Central"), ("p05", "p05"),
                                 ("p50", "Median"), ("p95", "p95")]),
            _table(u["inputs"], [("key", "Uncertain input"), ("central", "Own value"), ("distribution", "Distribution"),
                                 ("summary", "Parameters"), ("source", "Why this range")], source_column="source")]


def sensitivity_report(d: dict[str, Any]) -> str:
    """Tornado charts: each outcome's change with one input at its 5th and its 95th percentile."""
    sections = [f"<h1>autopact sensitivity: {html.escape(d['scenario']['name'])}</h1>",
                f"<p>{html.escape(d['scenario']['description'])}</p>",
                f"<p class='muted'>{html.escape(d['method'])}. Run {d['run_id']}; autopact {__version__}, "
                f"{date.today().isoformat()}.</p>"]
    for variant in d["variants"]:
        sections.append(f"<h2>{html.escape(variant['variant'])}</h2><div class='grid'>")
        for outcome, chart in variant["tornado"].items():
            central = chart["central"] or 0.0
            rows = [row for row in chart["inputs"] if row["swing"] is not None][::-1]
            fig = go.Figure()
            fig.add_trace(go.Bar(y=[row["input"] for row in rows], x=[row["outcome_at_p05"] - central for row in rows],
                                 base=central, orientation="h", name="input at p05", marker_color="#bf8700"))
            fig.add_trace(go.Bar(y=[row["input"] for row in rows], x=[row["outcome_at_p95"] - central for row in rows],
                                 base=central, orientation="h", name="input at p95", marker_color="#2f81f7"))
            fig.update_layout(barmode="overlay")
            fig.add_vline(x=central, line_color="#cf222e")
            fig.update_xaxes(title=f"change in {outcome} (red: central)")
            sections.append(_figure(fig, f"Tornado: {outcome}"))
        sections.append("</div>")
        sections.append(_table(variant["inputs"], [("key", "Uncertain input"), ("summary", "Distribution"),
                                                   ("source", "Why this range")], source_column="source"))
        for failure in variant["failures"]:
            sections.append(f"<p class='note'>Run {failure['draw']} failed: {html.escape(failure['error'])}</p>")
    sections += ["<h2>Assumptions and sources</h2>",
                 _table([{**a, "value": str(a["value"])} for a in d["assumptions"]],
                        [("name", "Name"), ("value", "Value"), ("kind", "Kind"), ("source", "Source")], source_column="source")]
    return _page(f"sensitivity {d['scenario']['name']}", sections)


def sweep_report(d: dict[str, Any]) -> str:
    """Response surfaces: each outcome against the first numeric lever, one line per combination of
    the other levers, with the 5-95% band when the sweep has draws."""
    surfaces = d["surfaces"]
    sections = [f"<h1>autopact sweep: {html.escape(d['sweep']['name'])}</h1>",
                f"<p>{html.escape(d['sweep']['description'])}</p>",
                f"<p class='muted'>Scenario {html.escape(d['scenario'])}; {len(d['points'])} points, {d['draws']} draws "
                f"per point (seed {d['seed']}); run {d['run_id']}; autopact {__version__}, {date.today().isoformat()}. "
                "Each chart: the change against the 2025 baseline at each value of the first numeric lever, one line per "
                "combination of the others (shaded: 5-95% band across draws, when the sweep has draws).</p>"]
    palette = ["#2f81f7", "#bf8700", "#1a7f37", "#8250df", "#cf222e", "#57606a", "#0b3d91", "#e16f24"]
    for outcome, series in surfaces["outcomes"].items():
        fig = go.Figure()
        for k, (label, s) in enumerate(series.items()):
            color = palette[k % len(palette)]
            scale = 100.0 if "share" in outcome else 1.0
            y = [None if v is None else v * scale for v in s["central"]]
            if any(v is not None for v in s["p05"]):
                upper = [None if v is None else v * scale for v in s["p95"]]
                lower = [None if v is None else v * scale for v in s["p05"]]
                fig.add_trace(go.Scatter(x=s["x"] + s["x"][::-1], y=upper + lower[::-1], fill="toself",
                                         line=dict(width=0), fillcolor=color, opacity=0.18, showlegend=False,
                                         hoverinfo="skip"))
            fig.add_trace(go.Scatter(x=s["x"], y=y, mode="lines+markers", name=label, line=dict(color=color)))
        fig.update_xaxes(title=surfaces["x"])
        fig.update_yaxes(title=f"change in {outcome}" + (" (pp)" if "share" in outcome else ""))
        fig.update_layout(legend=dict(orientation="h", y=-0.25, x=0, font=dict(size=11)))
        sections.append(_figure(fig, outcome, height=560))
    sections.append("<h2>Points</h2>")

    def cell(value: Any, outcome: str) -> str:
        if value is None:
            return "n/a"
        if "share" in outcome:
            return f"{value * 100:+.2f} pp"
        return Money()(value) if "_usd" in outcome else f"{value:+,.0f}"

    sections.append(_table([{"point": p["point"], "levers": ", ".join(f"{k}={v}" for k, v in p["levers"].items()),
                             "status": p["status"], **{o: cell(node(p["change"] or {}, o) if p["change"] else None, o)
                                                       for o in d["outcomes"]}}
                            for p in d["points"]],
                           [("point", "Point"), ("levers", "Levers"), ("status", "Status")] + [(o, o) for o in d["outcomes"]]))
    return _page(f"sweep {d['sweep']['name']}", sections)
