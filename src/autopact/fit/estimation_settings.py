"""The settings of an estimation config, checked before any data are read and again when a saved
result loads (``autopact.fit.saved``): known keys, their types and choices, the formulas against the
whitelist of ``autopact.fit.formulas``, the optimiser's settings and the money unit. A refused
setting raises ``EstimationFileError`` naming the file and the setting, and changes nothing."""

from __future__ import annotations

from typing import Any, get_args, get_type_hints

from pydantic import Field, StrictInt, StrictStr, ValidationError

from autopact.data.inputs import Strict, first_error, first_non_finite, shown
from autopact.fit.estimation import EstimationError, estimate
from autopact.fit.formulas import FormulaError, check_formula
from autopact.fit.optimisation import SOLVE_KEYS, solve_options

FORMULA_SETTINGS = ("x1", "x2", "x3", "demographics")
CONFIG_KEYS = {"products", "agents", "x1", "x2", "demographics", "sigma", "pi", "rho", "method", "weighting",
               "se_type", "absorb", "x3", "costs_type", "normalise_agent_weights", "money", "instruments"}
CONFIG_KEYS |= set(SOLVE_KEYS)  # the optimiser settings: autopact.fit.optimisation


class EstimationFileError(ValueError):
    """A saved estimation cannot be used: unknown name, bad format, missing or changed data."""


def check_formulas(settings: dict[str, Any], label: str) -> None:
    """Every formula of the settings (x1, x2, x3, demographics, instruments) passes the whitelist of
    ``autopact.fit.formulas``; checked before any data are read, so a refused one changes nothing."""
    fields = {key: settings.get(key) for key in FORMULA_SETTINGS if settings.get(key)}
    spec = settings.get("instruments")
    if isinstance(spec, dict):
        if "blp" in spec:
            fields["instruments.blp"] = spec["blp"]
        if "differentiation" in spec:
            options = spec["differentiation"]
            fields["instruments.differentiation"] = options.get("formula") if isinstance(options, dict) else options
    try:
        for key, formula in fields.items():
            check_formula(formula, f"{label}: {key}")
    except FormulaError as error:
        raise EstimationFileError(str(error)) from None


def config_choices() -> dict[str, tuple[str, ...]]:
    """The values ``method``, ``weighting`` and ``se_type`` may take: the Literal types of ``estimate``."""
    hints = get_type_hints(estimate)
    return {name: get_args(hints[name]) for name in ("method", "weighting", "se_type")}


def check_config(settings: dict[str, Any], name: str) -> None:
    """Refuse, naming the setting, a misspelt choice (one the estimator would not recognise) and any
    number that is not finite (YAML .nan, .inf) anywhere in the settings."""
    for key, allowed in config_choices().items():
        if key in settings and settings[key] not in allowed:
            raise EstimationFileError(f"{name}: {key}: {shown(settings[key])} is not one of {', '.join(allowed)}")
    found = first_non_finite(settings)
    if found is not None:
        raise EstimationFileError(f"{name}: {found[0]}: must be a finite number, got {found[1]}")
    for key, (kinds, what) in SETTING_TYPES.items():
        value = settings.get(key)
        if value is None:
            continue
        items = value if isinstance(value, list) and what.startswith("a list") else [value]
        if (what.startswith("a list") and not isinstance(value, list)) or not all(
                isinstance(item, kinds) and not (isinstance(item, bool) and bool not in kinds) for item in items):
            raise EstimationFileError(f"{name}: {key}: must be {what}, got {shown(value)}")
    for key in ("sigma", "pi"):
        value = settings.get(key)
        if value is not None and not (isinstance(value, list) and all(
                isinstance(row, list) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in row)
                for row in value)):
            raise EstimationFileError(f"{name}: {key}: must be a matrix (a list of rows of numbers), got {shown(value)}")


class MoneyUnit(Strict):
    """``money:`` of an estimation config: the data's money unit, its dollars and their year, and a source.
    The tables multiply money values by ``dollars_per_unit`` (``autopact.interfaces.money``)."""

    unit: StrictStr = Field(min_length=1)
    dollars_per_unit: float | None = Field(None, gt=0, strict=True)
    dollar_year: StrictInt | None = None
    source: StrictStr | None = None


def check_settings(settings: dict[str, Any], label: str) -> None:
    """Every check a config's settings pass before any data are read, and a saved result's settings
    again on load (its hash detects edits, not forgery): known keys, the types and choices of
    ``check_config``, an ``x1`` formula, formulas on the whitelist, the optimiser's settings and the
    money unit. Raises ``EstimationFileError`` naming ``label`` and the setting."""
    unknown = set(settings) - CONFIG_KEYS
    if unknown:
        raise EstimationFileError(f"{label}: unknown setting(s) {shown(sorted(map(str, unknown)))}; "
                                  f"known: {sorted(CONFIG_KEYS)}")
    check_config(settings, label)
    if settings.get("x1") is None:
        raise EstimationFileError(f"{label}: x1: the linear characteristics' formula is required "
                                  "(e.g. x1: 1 + prices + x)")
    check_formulas(settings, label)
    try:  # bad optimiser settings
        solve_options(settings, label)
    except EstimationError as error:
        raise EstimationFileError(str(error)) from None
    if settings.get("money") is not None:
        try:
            MoneyUnit.model_validate(settings["money"])
        except ValidationError as error:
            raise EstimationFileError(first_error(error, f"{label}: money")) from None


# the type each setting must have where YAML could give another (a quoted "no" is a string, not false)
SETTING_TYPES: dict[str, tuple[tuple[type, ...], str]] = {
    "absorb": ((str,), "a list of column names"),
    "normalise_agent_weights": ((bool,), "true or false"),
    "initial_update": ((bool,), "true or false"),
    "money": ((dict,), "a mapping (unit, dollars_per_unit, source)"),
    "optimization": ((dict,), "a mapping (method, gtol, ftol, max_iterations)"),
    "costs_type": ((str,), "'log' or 'linear'"),
    "rho": ((int, float), "a number"),
}
