"""The web app's longer runs, as background jobs: a sensitivity analysis, a sweep and a yearly
projection, each the runs' own function (the JSON of ``autopact sensitivity``, ``sweep`` and
``project``), and the baseline year of a run (``autopact simulate --baseline``).

Requests name no file: a sweep is a bundled one (``autopact/scenarios/sweeps``) or a sweep document
sent inline whose ``scenario`` is a bundled scenario's name; a scenario is a bundled name or an
inline document (``Service.scenario``). Every refusal is a ``ScenarioError`` or ``ValueError``
naming the field, answered 422 by the API before any job starts.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Callable

import yaml
from pydantic import ValidationError

from autopact.data.inputs import first_error, shown
from autopact.errors import ScenarioError
from autopact.outcomes.document import finite_document
from autopact.interfaces.web_service import Quiet, Service
from autopact.policy.scenario import POLICY_YEARS, Scenario, bundled_scenarios, load_scenario

BASELINE_YEARS = (2025, 2026)  # the calibrated year and the year after, carried by the bundled timeline

Progress = Callable[[int, int], None]


@lru_cache(maxsize=1)
def bundled_sweeps() -> dict[str, Path]:
    """The bundled sweeps by name (a file's stem)."""
    folder = resources.files("autopact").joinpath("scenarios", "sweeps")
    return {Path(str(p)).stem: Path(str(p)) for p in folder.iterdir() if str(p).endswith(".yaml")}


def sweep_list() -> list[dict[str, Any]]:
    """The bundled sweeps: name, description, base scenario, points and draws per point."""
    from autopact.runs.sweeps import load_sweep

    rows = []
    for name in sorted(bundled_sweeps()):
        spec, scenario, _ = load_sweep(name)
        rows.append({"name": name, "description": spec.description, "scenario": scenario.name,
                     "points": spec.point_count(), "draws": spec.draws, "outcomes": spec.outcomes})
    return rows


def with_baseline(scenario: Scenario, year: int | None) -> Scenario:
    """The scenario against the baseline of ``year`` (``autopact simulate --baseline``); unchanged for None."""
    if year is None:
        return scenario
    if year not in BASELINE_YEARS:
        raise ScenarioError(f"baseline_year: {shown(year)} is not offered here; choose one of "
                            f"{', '.join(map(str, BASELINE_YEARS))}")
    from autopact.interfaces.cli_simulate import with_baseline as rebased

    return rebased(scenario, year)


def sweep_of(name: str | None, document: dict[str, Any] | None) -> tuple[Any, Scenario, str]:
    """(the sweep, its scenario, its text) of a request: a bundled sweep's name or an inline sweep
    document on a bundled scenario; ScenarioError naming the field otherwise."""
    from autopact.runs.sweeps import Sweep, load_sweep

    if (name is None) == (document is None):
        raise ScenarioError("sweep: give exactly one of 'sweep' (a bundled name) and 'document' (a sweep)")
    if name is not None:
        if name not in bundled_sweeps():
            raise ScenarioError(f"sweep: no bundled sweep named {shown(name)}; bundled: {', '.join(sorted(bundled_sweeps()))}")
        return load_sweep(name)  # a bundled name only (checked above): never a client's path
    try:
        spec = Sweep.model_validate(document)
    except ValidationError as error:
        raise ScenarioError(first_error(error, "document")) from None
    if spec.scenario not in bundled_scenarios():
        raise ScenarioError(f"document: scenario: {shown(spec.scenario)} is not a bundled scenario (an inline sweep "
                            f"runs on a bundled one: {', '.join(sorted(bundled_scenarios()))})")
    return spec, load_scenario(spec.scenario), yaml.safe_dump(document, sort_keys=False)


def evaluations(spec: Any, draws: int | None) -> int:
    """The evaluations a sweep plans: its points times one plus its draws per point."""
    return spec.point_count() * (1 + (spec.draws if draws is None else draws))


def run_sensitivity(service: Service, scenario: Scenario, outcomes: list[str] | None, progress: Progress) -> dict[str, Any]:
    from autopact.runs.analyses import RunOptions, sensitivity

    options = RunOptions(store=service.settings.store, serial=True)
    return finite_document(sensitivity(scenario, outcomes, options, Quiet(), progress=progress))


def run_sweep(service: Service, loaded: tuple[Any, Scenario, str], draws: int | None,
              progress: Progress) -> dict[str, Any]:
    from autopact.runs.analyses import RunOptions, sweep

    options = RunOptions(store=service.settings.store, serial=True)
    return finite_document(sweep(loaded[0].name, options, Quiet(), draws=draws, progress=progress, loaded=loaded))


def check_projection(scenario: Scenario, start: int, to: int) -> None:
    """Refuse, naming the field, what ``runs.projection.project`` would refuse, before a job starts."""
    low, high = POLICY_YEARS
    if scenario.estimation is not None:
        raise ValueError("estimation: a projection runs on the calibrated 2025 market, not an estimated one")
    if not low <= start <= to <= high:
        raise ValueError(f"start/to: years from {low} to {high} with start <= to, got {start} and {to}")


def run_projection(scenario: Scenario, start: int, to: int, compare_with: Scenario | None,
                   progress: Progress) -> dict[str, Any]:
    """``autopact project SCENARIO --from START --to TO [--compare OTHER] --json``'s document."""
    from autopact.runs.projection import compare, project, totals

    years = to - start + 1
    total = years * (2 if compare_with else 1)
    document = project(scenario, to, start, progress=lambda done, _: progress(done, total))
    document["totals"] = totals(document["records"])
    if compare_with is not None:
        other = project(compare_with, to, start, progress=lambda done, _: progress(years + done, total))
        document["comparison"] = compare(document, other)
        document["comparison"]["totals"] = totals(document["comparison"]["records"], None, "difference")
    return finite_document(document)
