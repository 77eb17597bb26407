"""What the web app tells a client about scenarios: the bundled ones, the scenario's JSON schema with
the levers' allowed values and sources, and the headline metrics' definitions.

Everything here is generated, not written per lever: the JSON schema comes from the pydantic
``Scenario`` model (the one the CLI validates with), and it is enriched from the bundled data so a
form can offer what the validators accept: each policy parameter of ``policy_parameters.csv`` (its
value, unit, confidence and source; shares capped at 1, whole years within their range), the
candidate models and makers of ``chinese_models.csv``, and the parent companies of the 2025 market
as US partners. The page builds its form controls from this schema.
"""

from __future__ import annotations

import copy
import math
from functools import lru_cache
from typing import Any

import yaml

from autopact.data import load_chinese_candidates, load_market, policy_parameters
from autopact.data.inputs import load_yaml
from autopact.errors import ScenarioError
from autopact.outcomes.definitions import definitions
from autopact.policy.entry import candidate_name
from autopact.policy.scenario import POSITIVE_PARAMETERS, WHOLE_YEAR_PARAMETERS, Scenario, bundled_scenarios
from autopact.policy.scenario_levers import chinese_makers

# the levers a form shows; the other fields (estimation, assumptions, variants, year, dated fields)
# stay in the scenario document as loaded and can be edited as JSON
FORM_FIELDS = ("name", "description", "parameters", "extra_tariffs", "quotas", "connected_vehicle_rule",
               "local_production", "entrants", "new_products", "synergies", "mergers", "credits", "uncertainty")
# words of a parameter's name written as the field writes them (the rest: lower case)
ACRONYMS = {"mfn": "MFN", "usmca": "USMCA", "ieepa": "IEEPA", "eu": "EU", "uk": "UK", "ev": "EV", "lfp": "LFP",
            "nmc": "NMC", "vat": "VAT", "fx": "FX", "cny": "CNY", "usd": "USD", "45x": "45X", "us": "US",
            "china": "China", "chinese": "Chinese", "japan": "Japan", "korea": "Korea"}
# a name's last words that only repeat its unit (shown beside the control)
UNIT_WORDS = (("usd", "per", "kwh"), ("usd", "per", "vehicle"), ("usd", "per", "hour"), ("per", "vehicle"), ("pct",))


def _number(value: float) -> float | None:
    return float(value) if math.isfinite(float(value)) else None


@lru_cache(maxsize=1)
def parameter_levers() -> dict[str, dict[str, Any]]:
    """Each policy parameter as a JSON-schema number: default (the bundled value), bounds, unit, source."""
    table = policy_parameters()
    levers = {}
    for name, row in table.iterrows():
        unit = str(row["unit"])
        note = "" if _missing(row.get("note")) else f" {row['note']}"
        lever: dict[str, Any] = {"type": "number", "title": name, "default": _number(row["value"]), "minimum": 0,
                                 "x-label": parameter_label(str(name)), "x-unit": unit,
                                 "x-confidence": str(row["confidence"]), "x-source": str(row["source"]),
                                 "description": f"{name} ({unit}).{note} Default {row['value']:g} ({row['confidence']} "
                                                f"confidence): {row['source']}"}
        if "share" in unit or str(name).endswith(("_share", "_threshold")):
            lever["maximum"] = 1
        if name in POSITIVE_PARAMETERS:
            lever["exclusiveMinimum"] = 0
            del lever["minimum"]
        if name in WHOLE_YEAR_PARAMETERS:
            low, high, reason = WHOLE_YEAR_PARAMETERS[name]
            lever.update(type="integer", minimum=low, maximum=high)
            lever["description"] += f" Whole years from {low} to {high}: {reason}."
        levers[str(name)] = lever
    return levers


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or str(value).strip() in ("", "nan")


def parameter_label(name: str) -> str:
    """A policy parameter's name in words, its unit words dropped (the unit is shown beside it):
    ``section_301_china_ev_pct`` is "section 301 China EV"."""
    words = name.split("_")
    for tail in UNIT_WORDS:
        if len(words) > len(tail) and tuple(words[-len(tail):]) == tail:
            words = words[:-len(tail)]
            break
    text = " ".join(ACRONYMS.get(w, w) for w in words).replace(" all in", " all-in").replace("non US", "non-US")
    return text[0].upper() + text[1:]


def candidate_makers() -> dict[str, list[str]]:
    """Each candidate's maker: its ``maker_group`` without the note in parentheses (as the validator reads it)."""
    groups = load_chinese_candidates()["maker_group"]
    return {str(k): [str(g).split(" (")[0].strip()] for k, g in groups.items() if not _missing(g)}


@lru_cache(maxsize=1)
def _partners() -> list[str]:
    return sorted(load_market(2025).products["parent_company"].dropna().astype(str).unique())


@lru_cache(maxsize=1)
def scenario_schema() -> dict[str, Any]:
    """The JSON schema of a scenario (pydantic's), with the bundled data's names and the parameters'
    ranges and sources added, and ``x-form`` listing the fields a form shows (in order)."""
    schema = copy.deepcopy(Scenario.model_json_schema())
    schema["properties"]["parameters"].update(
        properties=parameter_levers(), additionalProperties=False,
        description="policy parameters (data/bundled/policy_parameters.csv); leave one empty to keep its sourced default")
    entrant = schema["$defs"]["Entrant"]["properties"]
    candidates = load_chinese_candidates()
    entrant["candidate"]["enum"] = sorted(candidates.index.astype(str))
    entrant["candidate"]["x-labels"] = {str(k): f"{candidate_name(row['brand'], row['model'])} {row['variant']} ({row['powertrain']})"
                                        for k, row in candidates.iterrows()}
    entrant["maker"]["enum"] = list(chinese_makers())
    # a form offers only the chosen candidate's maker, and the maker and partner as profit-share holders
    entrant["maker"]["x-options-by"] = {"field": "candidate", "options": candidate_makers()}
    entrant["partner"]["anyOf"] = [{"type": "string", "enum": _partners()}, {"type": "null"}]
    entrant["profit_shares"]["x-keys-from"] = ["maker", "partner"]
    uncertain = schema["$defs"]["UncertainInput"]["properties"]
    uncertain["parameter"]["anyOf"] = [{"type": "string", "enum": list(parameter_levers())}, {"type": "null"}]
    uncertain["parameter"]["x-labels"] = {k: f"{v['x-label']} ({k})" for k, v in parameter_levers().items()}
    schema["properties"]["uncertainty"]["x-folded"] = True  # long: a form folds it, open when the scenario has one
    schema["x-form"] = list(FORM_FIELDS)
    return schema


def levers() -> list[dict[str, Any]]:
    """Every lever a scenario sets, one row each: its path, type, allowed range or values, default and
    source (policy parameters) or description (scenario fields), from ``scenario_schema``."""
    schema = scenario_schema()
    rows = [{"path": f"parameters.{name}", "type": p["type"], "minimum": p.get("minimum", p.get("exclusiveMinimum")),
             "maximum": p.get("maximum"), "default": p["default"], "unit": p["x-unit"], "source": p["x-source"],
             "confidence": p["x-confidence"]} for name, p in parameter_levers().items()]

    def walk(node: dict[str, Any], path: str) -> None:
        node = _resolved(node, schema)
        if node.get("type") == "object" and "properties" in node:
            for key, child in node["properties"].items():
                walk(child, f"{path}.{key}" if path else key)
        elif node.get("type") == "array" and isinstance(node.get("items"), dict):
            walk(node["items"], f"{path}[]")
        else:
            options = node.get("enum") or next((o.get("enum") for o in node.get("anyOf", []) if "enum" in o), None)
            rows.append({"path": path, "type": node.get("type") or "/".join(o.get("type", "?") for o in node.get("anyOf", [])),
                         "minimum": node.get("minimum", node.get("exclusiveMinimum")),
                         "maximum": node.get("maximum", node.get("exclusiveMaximum")),
                         "default": node.get("default"), "allowed": options if options and len(options) <= 40 else None,
                         "description": node.get("description", "")})

    for name in FORM_FIELDS:
        if name not in ("name", "description", "parameters"):
            walk(schema["properties"][name], name)
    return rows


def _resolved(node: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in node:
        return {**schema["$defs"][node["$ref"].split("/")[-1]], **{k: v for k, v in node.items() if k != "$ref"}}
    return node


def scenario_list() -> list[dict[str, str]]:
    """The bundled scenarios: name and description."""
    rows = []
    for name, path in sorted(bundled_scenarios().items()):
        rows.append({"name": name, "description": str(bundled_document(name).get("description", ""))})
    return rows


@lru_cache(maxsize=64)
def _bundled(name: str) -> str:
    return yaml.safe_dump(load_yaml(bundled_scenarios()[name], ScenarioError), sort_keys=False)


def bundled_document(name: str) -> dict[str, Any]:
    """The document of bundled scenario ``name`` (as its YAML says, not yet validated); KeyError if unknown."""
    if name not in bundled_scenarios():
        raise KeyError(name)
    return yaml.safe_load(_bundled(name))


def metric_definitions() -> list[dict[str, Any]]:
    return definitions()
