"""A self-contained HTML report of a yearly projection (``autopact project ... --report``).

Time-series charts of the headline metrics year by year (the baseline of each year and the
scenario; the changes, with 5-95% fan bands where the projection has path draws), the scenarios
of ``--compare`` on one chart, a year-by-year table and the totals. Charts are plotly, inline, as
in ``autopact.interfaces.report``; no network is needed to read the page.
"""

from __future__ import annotations

import html
from typing import Any

import plotly.graph_objects as go

from autopact.interfaces.money import Money
from autopact.interfaces.report import _figure, _page, _table

BLUE, RED, GREY, FAN = "#2f81f7", "#cf222e", "#57606a", "rgba(47,129,247,0.18)"
# (key of a change, label, scale, unit): the changes charted year by year, in 2025 dollars
CHANGES = (("bev_share", "BEV share", 100.0, "percentage points"),
           ("total_units", "Units sold", 1e-3, "thousand vehicles a year"),
           ("average_price_usd", "Average price", 1.0, "$ a vehicle"),
           ("consumer_surplus_usd", "Consumer surplus", 1e-9, "$ billion a year"),
           ("total_profit_usd", "Profits (all firms)", 1e-9, "$ billion a year"),
           ("tariff_revenue_usd", "Tariff revenue", 1e-9, "$ billion a year"),
           ("us_assembly_jobs", "US assembly jobs", 1.0, "jobs"))


def _years(d: dict[str, Any]) -> list[int]:
    return [r["year"] for r in d["records"]]


def _bev_levels(d: dict[str, Any]) -> go.Figure:
    """The BEV share of each year's baseline and of the scenario (the baseline's band from the draws)."""
    years, fig = _years(d), go.Figure()
    bands = {b["year"]: b for b in d.get("uncertainty", {}).get("bands", [])}
    if bands:
        low = [bands[y]["baseline_bev_share"]["p05"] * 100 for y in years]
        high = [bands[y]["baseline_bev_share"]["p95"] * 100 for y in years]
        fig.add_trace(go.Scatter(x=years + years[::-1], y=high + low[::-1], fill="toself", fillcolor=FAN,
                                 mode="lines", line=dict(width=0), name="baseline, 5-95% of path draws",
                                 hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=years, y=[r["baseline"]["bev_share"] * 100 for r in d["records"]], mode="lines+markers",
                             line=dict(color=GREY), name="baseline of each year"))
    fig.add_trace(go.Scatter(x=years, y=[r["counterfactual"]["bev_share"] * 100 for r in d["records"]],
                             mode="lines+markers", line=dict(color=BLUE), name=d["scenario"]))
    fig.update_yaxes(title="BEV share of units, %")
    fig.update_xaxes(dtick=1)
    return fig


def _change_chart(d: dict[str, Any], key: str, scale: float, unit: str) -> go.Figure:
    """One change by year: the central path, its 5-95% fan and median from the draws, and with
    ``--compare`` the second scenario's change (each against the same yearly baselines)."""
    years, fig = _years(d), go.Figure()
    bands = {b["year"]: b.get(key) for b in d.get("uncertainty", {}).get("bands", [])}
    if bands and all(bands.get(y) for y in years):
        low = [bands[y]["p05"] * scale for y in years]
        high = [bands[y]["p95"] * scale for y in years]
        fig.add_trace(go.Scatter(x=years + years[::-1], y=high + low[::-1], fill="toself", fillcolor=FAN,
                                 mode="lines", line=dict(width=0), name="5-95% of path draws", hoverinfo="skip"))
        fig.add_trace(go.Scatter(x=years, y=[bands[y]["p50"] * scale for y in years], mode="lines",
                                 line=dict(color=BLUE, dash="dot"), name="median of draws"))
    central = [(r["change"].get(key) or 0.0) * scale for r in d["records"]]
    fig.add_trace(go.Scatter(x=years, y=central, mode="lines+markers", line=dict(color=BLUE), name=d["scenario"]))
    other = d.get("comparison", {}).get("changes_b")
    if other:
        fig.add_trace(go.Scatter(x=[r["year"] for r in other], y=[(r.get(key) or 0.0) * scale for r in other],
                                 mode="lines+markers", line=dict(color=RED), name=d["comparison"]["b"]))
    fig.add_hline(y=0, line=dict(color="#d0d7de", width=1))
    fig.update_yaxes(title=f"change, {unit}")
    fig.update_xaxes(dtick=1)
    return fig


def _difference_chart(d: dict[str, Any]) -> go.Figure:
    """Scenario A minus scenario B by year, the money flows on one chart."""
    c = d["comparison"]
    years = [r["year"] for r in c["records"]]
    fig = go.Figure()
    for key, label, scale, _ in CHANGES:
        if scale == 1e-9:
            fig.add_trace(go.Bar(x=years, y=[(r["difference"].get(key) or 0.0) * scale for r in c["records"]],
                                 name=label))
    fig.update_layout(barmode="group")
    fig.update_yaxes(title="A minus B, $ billion a year")
    fig.update_xaxes(dtick=1)
    return fig


def _money(value: float | None) -> str:
    """A projection's yearly total in $bn (2025 dollars; ``Money`` with ``total``)."""
    return Money()(value, total=True)


def _year_table(d: dict[str, Any]) -> str:
    rows = []
    for r in d["records"]:
        b, c, x = r["baseline"], r["counterfactual"], r["change"]
        jobs = x.get("us_assembly_jobs")
        entrants = ", ".join(f"{' '.join(e['candidate'].split('--')[:2])} (year {e['years_on_sale'] or 'n/a'})"
                             for e in r.get("entrants_on_sale", []))
        rows.append({"year": str(r["year"]), "base_bev": f"{b['bev_share']:.2%}", "bev": f"{c['bev_share']:.2%}",
                     "units": f"{x['total_units']:+,.0f}", "price": f"{x['average_price_usd']:+,.0f}",
                     "cs": _money(x["consumer_surplus_usd"]), "profit": _money(x["total_profit_usd"]),
                     "tariff": _money(x["tariff_revenue_usd"]), "jobs": "n/a" if jobs is None else f"{jobs:+,.0f}",
                     "entrants": entrants or "none", "excluded": str(len(r["excluded"]))})
    return _table(rows, [("year", "Year"), ("base_bev", "BEV share, baseline"), ("bev", "BEV share, scenario"),
                         ("units", "Units"), ("price", "Average price, $"), ("cs", "Consumer surplus"),
                         ("profit", "Profits"), ("tariff", "Tariff revenue"), ("jobs", "US assembly jobs"),
                         ("entrants", "Entrants on sale (year on sale)"), ("excluded", "Products barred")])


def _totals_table(t: dict[str, Any]) -> str:
    labels = {"consumer_surplus_usd": "Consumer surplus, $", "total_profit_usd": "Profits, $",
              "tariff_revenue_usd": "Tariff revenue, $", "total_units": "Units", "us_assembled_units": "US-assembled units",
              "us_assembly_jobs": "US assembly job-years"}
    rows = [{"metric": labels.get(k, k), "cumulative": f"{v:+,.0f}", "discounted": f"{t['discounted'][k]:+,.0f}"}
            for k, v in t["cumulative"].items()]
    return _table(rows, [("metric", "Sum over the years of"), ("cumulative", "Undiscounted"),
                         ("discounted", f"Discounted to {t['first_year']} at {t['discount_rate']:.1%} real")])


def projection_report(d: dict[str, Any]) -> str:
    """The HTML page of a projection document (``autopact.runs.projection.project`` with totals, and
    the comparison and path bands where run)."""
    first, last = d["from"], d["to"]
    sections = [f"<h1>autopact projection: {html.escape(d['scenario'])}, {first}-{last}</h1>",
                f"<p class='muted'>{html.escape(d['method'])}. Each year against that year's baseline (the 2025 "
                "calibration carried by the bundled policy timeline and the exogenous paths). Money: 2025 dollars a "
                "year." + (" Frozen at the first year: no path changes." if d.get("frozen") else "") + "</p>"]
    if "uncertainty" in d:
        u = d["uncertainty"]
        drawn = f"; the scenario's {', '.join(u['inputs'])}" if u.get("inputs") else ""
        sections.append(f"<p class='note'>Bands: 5-95% over {u['draws']} draws of whole paths "
                        f"({html.escape(', '.join(u['paths']) + drawn)}; seed {u['seed']}): each draw one path for every "
                        "year, so a band is where a year lies across paths.</p>")
    sections += ["<h2>BEV share by year</h2>", _figure(_bev_levels(d), "BEV share: each year's baseline and the scenario")]
    sections.append("<h2>Changes by year</h2>")
    charts = [_figure(_change_chart(d, key, scale, unit), label, 320) for key, label, scale, unit in CHANGES]
    sections.append("<div class='grid'>" + "".join(f"<div>{c}</div>" for c in charts) + "</div>")
    if "comparison" in d:
        c = d["comparison"]
        sections += [f"<h2>{html.escape(c['a'])} minus {html.escape(c['b'])}</h2>",
                     "<p class='muted'>Both scenarios against the same yearly baselines; the charts above show both "
                     "changes on one chart (red: the second scenario).</p>",
                     _figure(_difference_chart(d), "Money flows, A minus B, by year"), _totals_table(c["totals"])]
    sections += ["<h2>Year by year</h2>", _year_table(d), "<h2>Totals</h2>", _totals_table(d["totals"])]
    return _page(f"projection {d['scenario']}", sections)
