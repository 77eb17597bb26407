"""Ranking a scenario's variants: which US partner gains most from a joint venture or licence."""

from __future__ import annotations

from typing import Any


def rank_partnerships(results: list[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    """Rank variants by the US partner's profit change (ties: consumer surplus change). The partner is
    the US firm named in the entrants, or the firm launching a new product."""
    rows = []
    for label, result in results:
        entrants = result["scenario"]["definition"]["entrants"]
        partners = {e["partner"] for e in entrants if e.get("partner")}
        partners |= {n["firm"] for n in result["scenario"]["definition"]["new_products"]}
        makers = {e["maker"] for e in entrants}
        firms = {f["firm"]: f for f in result["firms"]}
        def change(f: str, firms: dict = firms) -> float:
            return firms[f]["profit_counterfactual_usd"] - firms[f]["profit_baseline_usd"] if f in firms else 0.0

        rivals = sum(min(0.0, change(f)) for f in firms if f not in partners | makers and not f.endswith(" JV"))
        rows.append({"variant": label, "partner": ", ".join(sorted(partners)) or "-",
                     "maker": ", ".join(sorted(makers)) or "-",
                     "partner_profit_change_usd": sum(change(p) for p in partners),
                     "consumer_surplus_change_usd": result["change"]["consumer_surplus_usd"],
                     "us_assembly_jobs_change": result["change"]["us_assembly_jobs"],
                     "rivals_profit_losses_usd": rivals})
    return sorted(rows, key=lambda r: (-r["partner_profit_change_usd"], -r["consumer_surplus_change_usd"]))
