"""Sweeps: a grid or a sample over policy levers of a scenario, with draws per point.

A lever is a path into the scenario definition: ``parameters.section_301_china_ev_pct``,
``connected_vehicle_rule.enabled``, ``entrants.*.assembly`` (``*``: every element of a list), or
``variant`` (one of the scenario's named variants, e.g. a partner pairing). ``grid`` takes the
Cartesian product of the listed values, in the order written; ``sample`` draws ``points`` points
uniformly over numeric ranges by Latin hypercube (McKay, Beckman and Conover 1979;
``scipy.stats.qmc.LatinHypercube``, seeded). Every point is validated as a scenario of its own
(the error names the point and the lever), then run centrally and with ``draws`` joint draws of
the scenario's uncertain inputs; the draws use the same random numbers at every point (common
random numbers), so differences between points are not sampling noise. A sweep file is read within
the limits of ``autopact.data.inputs`` (size, YAML aliases, finite numbers), and a sweep plans at
most ``MAX_EVALUATIONS`` evaluations (points x (1 + draws)).
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, model_validator

from autopact.data.inputs import (MAX_EVALUATIONS, MAX_LEVER_VALUES, MAX_SEED, Strict, clipped, first_error, load_yaml,
                                  shown)
from autopact.policy.scenario import Scenario, ScenarioError, load_scenario, parse_scenario
from autopact.runs.uncertainty import check_outcome, leaf, node


class Sample(Strict):
    points: int = Field(ge=1, le=MAX_EVALUATIONS)
    seed: int = Field(0, ge=0, le=MAX_SEED)
    ranges: dict[str, tuple[float, float]]

    @model_validator(mode="after")
    def _ordered(self) -> "Sample":
        for lever, (low, high) in self.ranges.items():
            if not low < high:
                raise ValueError(f"ranges.{lever}: low ({low}) must be below high ({high})")
        return self


class Sweep(Strict):
    """A sweep file."""

    name: str = Field(min_length=1)
    description: str = ""
    scenario: str = Field(description="a bundled scenario name or a YAML path (relative to the sweep file)")
    grid: dict[str, list[Any]] = Field(default_factory=dict)
    sample: Sample | None = None
    draws: int = Field(0, ge=0, le=MAX_EVALUATIONS, description="joint draws of the scenario's uncertain inputs per point")
    seed: int | None = Field(None, ge=0, le=MAX_SEED, description="seed of the draws (default: the scenario's)")
    outcomes: list[str] = Field(default_factory=list, description="metric paths to plot; default: the sensitivity outcomes")

    @model_validator(mode="after")
    def _levers(self) -> "Sweep":
        if not self.grid and self.sample is None:
            raise ValueError("give a grid or a sample of levers")
        for lever, values in self.grid.items():
            if not values:
                raise ValueError(f"grid.{clipped(lever)}: give at least one value")
        for k, outcome in enumerate(self.outcomes):  # before any work, not after the whole run
            try:
                check_outcome(outcome)
            except ScenarioError as error:
                raise ValueError(f"outcomes[{k}]: {error}") from None
        count = self.point_count()
        if count * (1 + self.draws) > MAX_EVALUATIONS:
            raise ValueError(f"{count:,} points x (1 + {self.draws} draws) evaluations; a sweep plans at most "
                             f"{MAX_EVALUATIONS:,} (autopact.data.inputs.MAX_EVALUATIONS)")
        levers = len(self.grid) + (len(self.sample.ranges) if self.sample else 0)
        if count * levers > MAX_LEVER_VALUES:
            raise ValueError(f"{count:,} points x {levers:,} levers = {count * levers:,} lever values; a sweep sets at most "
                             f"{MAX_LEVER_VALUES:,} (autopact.data.inputs.MAX_LEVER_VALUES: the design is built in memory "
                             "before any run)")
        return self

    def point_count(self) -> int:
        """Points of the sweep: the grid's combinations, times the sample's points when both are given."""
        return math.prod(len(values) for values in self.grid.values()) * (self.sample.points if self.sample else 1)


def load_sweep(path: str) -> tuple[Sweep, Scenario, str]:
    """The sweep, its base scenario and the sweep's text (for the store)."""
    from importlib import resources

    bundled = {Path(str(p)).stem: Path(str(p)) for p in resources.files("autopact").joinpath("scenarios", "sweeps").iterdir()
               if str(p).endswith(".yaml")}
    file = bundled.get(path, Path(path))
    if not file.exists():
        raise ScenarioError(f"no bundled sweep or file named {shown(path)}; bundled: {', '.join(sorted(bundled))}")
    if file.is_dir():
        raise ScenarioError(f"sweep {path}: is a folder; give a sweep YAML file")
    data = load_yaml(file, ScenarioError)
    try:
        text = file.read_text()
    except (OSError, UnicodeDecodeError) as error:
        raise ScenarioError(f"sweep {path}: cannot read it: {getattr(error, 'strerror', None) or error}") from None
    try:
        sweep = Sweep.model_validate(data)
    except ValidationError as error:
        raise ScenarioError(first_error(error, file.name)) from None
    relative = file.parent / sweep.scenario
    scenario = load_scenario(str(relative) if relative.suffix in (".yaml", ".yml") and relative.exists() else sweep.scenario)
    return sweep, scenario, text


def _set(definition: dict[str, Any], path: list[str], value: Any, lever: str) -> None:
    head, rest = path[0], path[1:]
    if head == "*":
        if not isinstance(definition, list):
            raise ScenarioError(f"lever {clipped(lever)}: '*' needs a list")
        for item in definition:
            _set(item, rest, value, lever)
        return
    if not isinstance(definition, dict):
        raise ScenarioError(f"lever {clipped(lever)}: {shown(head)} is not a field here")
    if not rest:
        definition[head] = value
        return
    if head not in definition or definition[head] is None:
        definition[head] = {}
    _set(definition[head], rest, value, lever)


def points(sweep: Sweep, scenario: Scenario) -> list[tuple[dict[str, Any], Scenario]]:
    """Each point's lever values and its validated scenario."""
    import numpy as np
    from scipy.stats import qmc

    if sweep.sample is not None:
        levers = list(sweep.sample.ranges)
        unit = qmc.LatinHypercube(d=len(levers), seed=np.random.default_rng(sweep.sample.seed)).random(sweep.sample.points)
        settings = [dict(zip(levers, (low + u * (high - low) for u, (low, high) in zip(row, sweep.sample.ranges.values()))))
                    for row in unit]
        settings = [{**s, **dict(zip(sweep.grid, combo))} for s in settings
                    for combo in itertools.product(*sweep.grid.values())]
    else:
        settings = [dict(zip(sweep.grid, combo)) for combo in itertools.product(*sweep.grid.values())]
    base = scenario.model_dump(mode="json", exclude={"variants"})
    out = []
    for k, lever_values in enumerate(settings):
        definition = {**base, "name": f"{scenario.name}/{sweep.name}/{k}"}
        if "variant" in lever_values:
            label = lever_values["variant"]
            if not isinstance(label, str) or label not in scenario.variants:
                raise ScenarioError(f"{clipped(sweep.name)}: lever variant: unknown variant {shown(label)}; "
                                    f"{scenario.name} has {', '.join(scenario.variants) or 'none'}")
            definition.update(scenario.variants[label])
        for lever, value in lever_values.items():
            if lever != "variant":
                _set(definition, lever.split("."), value, lever)
        levers = ", ".join(f"{lever}={shown(value)}" for lever, value in lever_values.items())
        out.append((lever_values, parse_scenario(definition, f"{clipped(sweep.name)} point {k} ({levers})")))
    return out


def surfaces(lever_rows: list[dict[str, Any]], centrals: list[dict[str, Any] | None],
             point_bands: list[dict[str, Any] | None], outcomes: list[str]) -> dict[str, Any]:
    """Response surfaces: for each outcome, x = the first numeric lever, one series per combination
    of the other levers, with the central value and (with draws) the p05-p95 band at each x."""
    levers = list(lever_rows[0]) if lever_rows else []
    numeric = [lv for lv in levers if all(isinstance(r[lv], (int, float)) and not isinstance(r[lv], bool)
                                          for r in lever_rows)]
    x_lever = numeric[0] if numeric else (levers[0] if levers else None)
    others = [lv for lv in levers if lv != x_lever]
    out: dict[str, Any] = {"x": x_lever, "series_by": others, "outcomes": {}}
    for outcome in outcomes:
        series: dict[str, dict[str, list]] = {}
        for row, central, band in zip(lever_rows, centrals, point_bands):
            label = ", ".join(f"{short_lever(lv)}={row[lv]}" for lv in others) or "all"
            s = series.setdefault(label, {"x": [], "central": [], "p05": [], "p50": [], "p95": []})
            s["x"].append(row.get(x_lever))
            s["central"].append(None if central is None else leaf(central, outcome))
            b = node(band, outcome)
            b = b if isinstance(b, dict) else {}
            for q in ("p05", "p50", "p95"):
                s[q].append(b.get(q))
        out["outcomes"][outcome] = series
    return out


def short_lever(lever: str) -> str:
    """A lever's name for legends: without 'parameters.' and list wildcards."""
    return ".".join(part for part in lever.removeprefix("parameters.").split(".") if part != "*")


