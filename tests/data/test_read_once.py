"""What a warm ``simulate`` derives from the bundled tables is derived once a process (issue 13):
the market facts (asked four times, 5-8 ms each; every caller gets a copy of its own) and the
Section 232 rate of each origin (the 2025 market's assembly countries share a handful of origins)."""

import numpy as np
import pandas as pd

from autopact.data import policy_parameters, tables, tariffs


def test_the_facts_are_read_once_and_each_caller_gets_a_copy(monkeypatch):
    read, real = [], tables.read_bundled
    monkeypatch.setattr(tables, "read_bundled", lambda name: read.append(name) or real(name))
    tables._market_facts.cache_clear()
    first = tables.market_facts(2025)
    first.sales_by_company["invented"] = 1.0
    second = tables.market_facts(2025)
    assert read.count("market_facts.csv") == 1
    assert "invented" not in second.sales_by_company and second.total_units == first.total_units > 0


def test_a_tariff_stack_solves_each_section_232_origin_once(monkeypatch):
    solved, real = [], tariffs._origin_segments
    monkeypatch.setattr(tariffs, "_origin_segments", lambda origin, *rest: solved.append(origin) or real(origin, *rest))
    tariffs._section_232_rate.cache_clear()
    params = {name: float(row["value"]) for name, row in policy_parameters().iterrows()
              if isinstance(row["value"], (int, float)) or str(row["value"]).replace(".", "", 1).isdigit()}
    countries = ["Germany", "France", "Italy", "Mexico", "Canada", "Japan"]
    table = pd.DataFrame({"powertrain": ["ICE"] * len(countries), "segment": ["car"] * len(countries)})
    rates = tariffs.tariff_stack(table, pd.DataFrame(np.eye(len(countries)), columns=countries), params)
    origins = {tariffs.section_232_origin(c) for c in countries}
    assert origins == {"EU", "USMCA", "Japan"} and sorted(solved) == sorted([*origins, *origins])  # cars and light trucks
    assert rates[0] == rates[1] == rates[2] and rates[3] == rates[4]
