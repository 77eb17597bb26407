"""Entrants' tariffs are computed in one frame for all of a scenario's entrants and their candidate
rows read once per market (issue 13: a draw built a one-row frame and its assembly origins for each
entrant): each entrant's tariff and cost build-up is the one its own one-row frame gives, to the bit,
for imported entrants and entrants built in the US side by side."""

import pandas as pd

from autopact.data.tariffs import origin_weights
from autopact.policy import entry
from autopact.policy.levers import apply, hedonic_fit, parameters
from autopact.policy.scenario import load_scenario
from autopact.policy.tariffs import tariff_rates
from autopact.simulate import market_for


def test_each_entrants_tariff_is_its_own_rows_and_candidates_are_read_once(monkeypatch):
    scenario = load_scenario("chinese-imports-mfn")
    built = scenario.entrants[0].model_copy(update={"assembly": "partner_us_plant", "partner": "Ford Motor Co.",
                                                    "profit_shares": {scenario.entrants[0].maker: 0.5,
                                                                      "Ford Motor Co.": 0.5}})
    scenario = scenario.model_copy(update={"entrants": [*scenario.entrants, built][-3:]})
    market = market_for(scenario)
    params = parameters(scenario, market)
    found = entry.entrants(scenario, market, params, hedonic_fit(market))
    assert {row["assembly_countries"] for row in found.rows} == {"China", "United States"}
    for row, parts in zip(found.rows, found.costs):
        one = pd.DataFrame({column: [row[column]] for column in entry.TARIFF_COLUMNS})
        rate, specific = tariff_rates(one, origin_weights(one["assembly_countries"], one["home_country"]), params,
                                      scenario.extra_tariffs)
        assert parts["tariff"] == parts["customs_value"] * float(rate[0]) or row["assembly_countries"] != "China"
        assert parts.get("tariff_specific", 0.0) == float(specific[0])
    calls = []
    characteristics = entry._candidate_characteristics
    monkeypatch.setattr(entry, "_candidate_characteristics", lambda *a: calls.append(1) or characteristics(*a))
    again = entry.entrants(scenario, market, params, hedonic_fit(market))
    assert calls == [] and again.costs == found.costs and again.xi == found.xi
    assert len(apply(scenario, market).products) == len(market.products) + len(found.rows)


def test_a_markets_entry_terms_and_candidates_are_kept_in_one_cache_entry():
    """The review's mend: the candidates met on a market are kept with its other entry terms (one
    entry of ``market.cache``), not in a cache of their own beside it."""
    scenario = load_scenario("chinese-imports-mfn")
    market = market_for(scenario)
    found = entry.entrants(scenario, market, parameters(scenario, market), hedonic_fit(market))
    assert "candidates" not in market.cache
    kept = market.cache["entry_terms"][3]
    assert {f"entrant--{name}" for name in kept} >= {row["product_id"] for row in found.rows} and found.rows
