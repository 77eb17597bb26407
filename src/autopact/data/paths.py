"""Exogenous paths of the yearly projection, with ranges (``exogenous_paths.csv``, each row sourced).

- ``battery_pack_usd_per_kwh``: the global average Li-ion battery pack price (BNEF 2025 actual, its
  2026 forecast, the 2030 band of ICCT and BNEF forecasts; developments_2026.md 4.1);
- ``households_million``: US households (JCHS 2024 projections: 134 million in 2025, 8.6 million
  more by 2035, 6.9 million in the low-immigration scenario), the potential market's growth;
- ``real_income_index``: real household income relative to 2025: held at 1 in the central case (no
  sourced household-income projection), up to the 2025 Social Security Trustees' intermediate
  productivity growth (1.63% a year) at the high end;
- ``gasoline_usd_per_gallon`` and ``electricity_usd_per_kwh``: retail regular gasoline and
  residential electricity, EIA's 2025 price and its STEO forecasts for 2026 (AEO2025's longer
  paths were not found: a GAP, held at 2026).

How each enters the equilibrium: ``autopact.policy.exogenous``. Between sourced
years a path is interpolated linearly, and after its last sourced year it is held there (named
assumptions ``path_interpolation`` and ``path_after_last_year``, ``dated_assumptions``): no
sourced path of the same vintages runs past 2030, and the published long-run views flatten
(53 studies: about $70/kWh by 2050).

A draw of a path takes one quantile u in [0, 1] for the whole path, value = low + u (high - low)
in every year: a path is uncertain as a whole (a year of cheap cells is followed by others), so
draws run over whole paths, not year by year; each path takes its own quantile (independent
draws: no sourced joint distribution of, say, oil prices and incomes is bundled).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from autopact.data.tables import read_bundled

DATA_YEAR = 2025
PATHS = ("battery_pack_usd_per_kwh", "households_million", "real_income_index", "gasoline_usd_per_gallon",
         "electricity_usd_per_kwh")


@lru_cache(maxsize=1)
def _rows() -> tuple[dict, ...]:
    table = read_bundled("exogenous_paths.csv")
    for record in table.to_dict(orient="records"):
        if record["path"] not in PATHS:
            raise ValueError(f"exogenous_paths.csv: unknown path {record['path']!r}")
        if not record["low"] <= record["central"] <= record["high"]:
            raise ValueError(f"exogenous_paths.csv {record['path']} {record['year']}: central outside [low, high]")
        if "http" not in str(record["source"]):
            raise ValueError(f"exogenous_paths.csv {record['path']} {record['year']}: source has no URL")
    return tuple(table.sort_values(["path", "year"]).to_dict(orient="records"))


def path_value(path: str, year: int, quantile: float | None = None) -> float:
    """The path's value in ``year``: its central value (``quantile`` None) or low + quantile (high - low);
    linear between sourced years, held after the last and before the first."""
    if path not in PATHS:
        raise ValueError(f"unknown exogenous path {path!r}; known: {', '.join(PATHS)}")
    if quantile is not None and not 0.0 <= quantile <= 1.0:
        raise ValueError(f"a path quantile must lie in [0, 1], got {quantile}")
    rows = [r for r in _rows() if r["path"] == path]
    years = np.array([r["year"] for r in rows], float)
    if quantile is None:
        values = np.array([r["central"] for r in rows], float)
    else:
        values = np.array([r["low"] + quantile * (r["high"] - r["low"]) for r in rows], float)
    return float(np.interp(year, years, values))  # held at the ends


def path_table() -> list[dict]:
    """The sourced rows (for the JSON and ``data timeline``)."""
    return [dict(r) for r in _rows()]


def path_ratio(path: str, year: int, quantile: float | None = None) -> float:
    """The path's value in ``year`` over its data-year value (1.0 exactly in the data year, whose rows
    have no range)."""
    return path_value(path, year, quantile) / path_value(path, DATA_YEAR)
