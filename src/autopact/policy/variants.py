"""Variants: named overlays on a scenario, each run side by side (``partner-comparison``)."""

from __future__ import annotations

from autopact.data.inputs import clipped, shown
from autopact.errors import ScenarioError
from autopact.policy.scenario import Scenario, parse_scenario


def scenario_variants(scenario: Scenario) -> list[tuple[str, Scenario]]:
    """The scenario itself (when it changes anything) and each named variant laid over it. Its
    uncertain inputs change no central result, so a scenario of variants with only those (and a
    name) is not run on its own."""
    base = scenario.model_dump(exclude={"variants"})
    runs = []
    inert = ("name", "description", "uncertainty")
    defaults = Scenario(name=scenario.name).model_dump(exclude={"variants", *inert})
    if {k: v for k, v in base.items() if k not in inert} != defaults or not scenario.variants:
        runs.append((scenario.name, scenario))
    for label, overlay in scenario.variants.items():
        unknown = set(overlay) - (set(Scenario.model_fields) - {"variants"})  # the dump leaves out unused dated fields
        if unknown:
            raise ScenarioError(f"variants.{clipped(label)}: unknown field(s) {shown(sorted(unknown))}")
        runs.append((label, parse_scenario({**base, **overlay, "name": f"{scenario.name}/{label}"},
                                           f"variants.{clipped(label)}")))
    return runs
