"""Estimation inputs and saved results: the data, the formulas and the estimates, as one JSON file.

A saved result (``autopact estimate CONFIG|--example blp1995 --save PATH``) holds what rebuilding
any market's demand and supply needs: the settings (formulas, options, starting values), each
data file by path and sha256 (or the bundled data set's name), the estimated sigma, pi, rho, beta
and gamma with their covariance and standard errors, the GMM objective, the convergence flag and
autopact's version. Loading reads the data again and refuses a file whose sha256 differs from
the one recorded: estimates are only meaningful on the data they were estimated on.

I/O lives here; the estimator (``autopact.fit.estimation``) works on data frames and arrays.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from autopact.data import bundled_path
from autopact.fit import instruments
from autopact.fit.estimation import (
    EstimationError,
    EstimationResult,
    Parameters,
    Problem,
    estimate,
)
from autopact.version import __version__

FORMAT = "autopact-estimation-result/1"
BUNDLED = ("blp1995",)
CONFIG_KEYS = {"products", "agents", "x1", "x2", "demographics", "sigma", "pi", "rho", "method", "weighting",
               "se_type", "absorb", "x3", "costs_type", "normalise_agent_weights", "money", "instruments"}
# what the bundled BLP 1995 example estimates: PyBLP's tutorial specification with a supply side
BLP1995 = {
    "x1": "1 + hpwt + air + mpd + space", "x2": "1 + prices + hpwt + air + mpd + space",
    "x3": "1 + log(hpwt) + air + log(mpg) + log(space) + trend", "costs_type": "log",
    "demographics": "0 + I(1 / income)",
    "sigma": np.diag([3.612, 0, 4.628, 1.818, 1.050, 2.056]).tolist(),
    "pi": [[0.0], [-43.501], [0.0], [0.0], [0.0], [0.0]], "rho": None, "absorb": None,
    "method": "2s", "weighting": "robust", "se_type": "robust", "normalise_agent_weights": True,
    "money": {"unit": "thousands of 1983 US dollars", "dollars_per_unit": 1000.0, "dollar_year": 1983,
              "source": "Berry, Levinsohn and Pakes (1995), Table I: prices in $1000s of 1983 dollars"},
}
BLP1995_FILES = {"products": "blp1995/blp_products.csv", "agents": "blp1995/blp_agents.csv"}


class EstimationFileError(ValueError):
    """A saved estimation cannot be used: unknown name, bad format, missing or changed data."""


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _bundled_folder() -> Path:
    return bundled_path("blp1995").parent


@dataclass
class EstimationInputs:
    """What an estimation runs on: JSON-able ``settings`` and the data they name.

    ``files`` maps a role (products, agents) to the file on disk; ``bundled`` names a bundled data
    set (then the files live in the package's bundled folder).
    """

    settings: dict[str, Any]
    products: pd.DataFrame
    agents: pd.DataFrame | None
    files: dict[str, Path]
    bundled: str | None = None

    @property
    def money(self) -> dict[str, Any]:
        return self.settings.get("money") or {"unit": "the data's price units"}


def _read(files: dict[str, Path], settings: dict[str, Any], bundled: str | None = None) -> EstimationInputs:
    for role, path in files.items():
        if not path.exists():
            raise EstimationFileError(f"{role}: data file {path} does not exist")
    agents = pd.read_csv(files["agents"]) if "agents" in files else None
    if agents is not None and settings.get("normalise_agent_weights"):
        # autopact's Demand integrates with weights summing to one in each market
        agents["weights"] /= agents.groupby("market_ids")["weights"].transform("sum")
    products = pd.read_csv(files["products"])
    if settings.get("instruments") is not None:  # built from the data on every read, so a saved result rebuilds them
        products = built_instruments(settings["instruments"], products, files["products"].name)
    return EstimationInputs(settings, products, agents, files, bundled)


def built_instruments(spec: Any, products: pd.DataFrame, name: str) -> pd.DataFrame:
    """Products with BLP and/or differentiation instruments appended as demand_instruments*:
    ``{blp: FORMULA, differentiation: FORMULA or {formula: ..., version: local|quadratic, interact: bool}}``."""
    kinds = {"blp", "differentiation"}
    if not isinstance(spec, dict) or not spec or set(spec) - kinds:
        raise ValueError(f"{name}: instruments must map {sorted(kinds)} to formulas, got {spec!r}")
    blocks = []
    if "blp" in spec:
        if not isinstance(spec["blp"], str):
            raise ValueError(f"{name}: instruments.blp must be a formula string, got {spec['blp']!r}")
        blocks.append(instruments.blp_instruments(spec["blp"], products))
    if "differentiation" in spec:
        options = spec["differentiation"]
        options = {"formula": options} if isinstance(options, str) else options
        allowed = {"formula", "version", "interact"}
        if not isinstance(options, dict) or not isinstance(options.get("formula"), str) or set(options) - allowed:
            raise ValueError(f"{name}: instruments.differentiation must be a formula or a mapping of {sorted(allowed)} "
                             f"with a formula string, got {options!r}")
        if not isinstance(options.get("interact", False), bool):
            raise ValueError(f"{name}: instruments.differentiation.interact must be true or false, "
                             f"got {options['interact']!r}")
        blocks.append(instruments.differentiation_instruments(products=products, **options))
    return instruments.with_demand_instruments(products, *blocks)


def example_inputs(name: str) -> EstimationInputs:
    """A bundled example's data and specification (``blp1995``: BLP 1995 automobiles with supply)."""
    if name not in BUNDLED:
        raise EstimationFileError(f"unknown example {name!r}; available: {', '.join(BUNDLED)}")
    folder = _bundled_folder()
    return _read({role: folder / path for role, path in BLP1995_FILES.items()}, json.loads(json.dumps(BLP1995)),
                 bundled=name)


def config_inputs(config: Path) -> EstimationInputs:
    """Inputs from a config YAML; data paths in it are relative to the config file."""
    import yaml

    settings = yaml.safe_load(Path(config).read_text())
    if not isinstance(settings, dict):
        raise EstimationFileError(f"{Path(config).name}: expected a mapping of settings")
    unknown = set(settings) - CONFIG_KEYS
    if unknown:
        raise EstimationFileError(f"{Path(config).name}: unknown setting(s) {sorted(unknown)}; "
                                  f"known: {sorted(CONFIG_KEYS)}")
    if "products" not in settings:
        raise EstimationFileError(f"{Path(config).name}: products: a products CSV is required")
    files = {role: (Path(config).parent / settings.pop(role)).resolve()
             for role in ("products", "agents") if role in settings}
    return _read(files, settings)


def run_estimation(inputs: EstimationInputs) -> EstimationResult:
    """Build the problem from the inputs' formulas and estimate it with their options."""
    s = inputs.settings
    problem = build_problem(inputs)
    return estimate(problem, sigma=None if s.get("sigma") is None else np.asarray(s["sigma"], float),
                    pi=None if s.get("pi") is None else np.asarray(s["pi"], float), rho=s.get("rho"),
                    method=s.get("method", "2s"), weighting=s.get("weighting", "robust"),
                    se_type=s.get("se_type", "robust"))


def build_problem(inputs: EstimationInputs) -> Problem:
    s = inputs.settings
    return Problem.build(inputs.products, s["x1"], s.get("x2"), inputs.agents, s.get("demographics"),
                         absorb=s.get("absorb"), x3=s.get("x3"), costs_type=s.get("costs_type", "log"))


def result_record(result: EstimationResult, inputs: EstimationInputs, problem: Problem, save_to: Path) -> dict[str, Any]:
    """The JSON record of an estimation (see the module docstring); data paths relative to ``save_to``'s folder,
    or to the bundled folder for bundled data."""
    if result.parameters is None:
        raise EstimationError("only a completed estimation can be saved (evaluate_only results cannot)")
    base = _bundled_folder() if inputs.bundled else Path(save_to).resolve().parent
    data = {"bundled": inputs.bundled}
    for role, path in inputs.files.items():
        data[role] = {"path": Path(os.path.relpath(Path(path).resolve(), base)).as_posix(), "sha256": sha256_of(path)}
    p = result.parameters
    x1_count = len(problem.x1_names)
    labels = result.labels + result.beta_labels
    return {
        "format": FORMAT, "autopact_version": __version__, "settings": inputs.settings, "data": data,
        "names": {"x1": problem.x1_names, "x2": problem.x2_names, "demographics": problem.demographic_names,
                  "x3": problem.x3_names},
        "estimates": {"sigma": p.sigma.tolist(), "sigma_free": p.sigma_free.tolist(), "pi": p.pi.tolist(),
                      "pi_free": p.pi_free.tolist(), "rho": p.rho,
                      "beta": dict(zip(problem.x1_names, result.beta[:x1_count].tolist())),
                      "gamma": dict(zip(problem.x3_names, result.beta[x1_count:].tolist()))},
        **{k: v for k, v in result.to_dict().items() if k in ("nonlinear", "linear")},
        "covariance": {"labels": labels, "matrix": None if result.covariance is None else result.covariance.tolist()},
        "objective": result.objective, "gradient_norm": result.gradient_norm, "converged": result.converged,
        "iterations": result.iterations, "evaluations": result.evaluations, "steps": result.steps,
        "seconds": result.seconds,
    }


def save_estimation(result: EstimationResult, inputs: EstimationInputs, problem: Problem, path: Path) -> None:
    """Write the record atomically (a partial file never replaces a good one)."""
    record = result_record(result, inputs, problem, path)
    temporary = Path(path).with_name(Path(path).name + ".partial")
    temporary.write_text(json.dumps(record, indent=1) + "\n")
    temporary.replace(path)


@dataclass
class SavedEstimation:
    """A loaded estimation: its record, its verified data and the parameters rebuilt from it."""

    label: str
    record: dict[str, Any]
    inputs: EstimationInputs
    parameters: Parameters
    beta: dict[str, float]
    gamma: dict[str, float]
    data_sha256: dict[str, str] = field(default_factory=dict)
    built: list = field(default_factory=list, repr=False)  # the rebuilt Problem, once built (shared by copies)

    @property
    def money(self) -> dict[str, Any]:
        return self.inputs.money

    def problem(self) -> Problem:
        """The estimation problem rebuilt from the recorded formulas (once; a Monte Carlo draw of the
        estimates reuses it); names must match the record."""
        if self.built:
            return self.built[0]
        problem = build_problem(self.inputs)
        names = self.record["names"]
        for key, got in (("x1", problem.x1_names), ("x2", problem.x2_names),
                         ("demographics", problem.demographic_names), ("x3", problem.x3_names)):
            if list(got) != list(names[key]):
                raise EstimationFileError(f"{self.label}: the rebuilt {key} columns {got} differ from the "
                                          f"recorded {names[key]}")
        self.built.append(problem)
        return problem


def saved_path(name_or_path: str) -> tuple[str, Path]:
    """A bundled result by name (``blp1995``) or a saved file by path: (label, path)."""
    if name_or_path in BUNDLED:
        return name_or_path, _bundled_folder() / name_or_path / "estimate.json"
    return name_or_path, Path(name_or_path)


def load_estimation(name_or_path: str) -> SavedEstimation:
    """Load a saved estimation and its data, refusing data whose sha256 changed since it was saved."""
    label, path = saved_path(name_or_path)
    if not path.exists():
        raise EstimationFileError(f"no bundled estimation or file named {name_or_path!r}; bundled: {', '.join(BUNDLED)}")
    try:
        record = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise EstimationFileError(f"{label}: not a JSON file: {error}") from None
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise EstimationFileError(f"{label}: not a saved autopact estimation (format {FORMAT!r} expected)")
    data = record["data"]
    base = _bundled_folder() if data.get("bundled") else path.resolve().parent
    files, hashes = {}, {}
    for role in ("products", "agents"):
        if role not in data:
            continue
        file = (base / data[role]["path"]).resolve()
        if not file.exists():
            raise EstimationFileError(f"{label}: {role} data file {file} is missing")
        digest = sha256_of(file)
        if digest != data[role]["sha256"]:
            raise EstimationFileError(f"{label}: {role} data file {file} changed since the estimation was saved "
                                      f"(sha256 {digest[:12]}..., recorded {data[role]['sha256'][:12]}...); "
                                      "re-run `autopact estimate ... --save` on the new data")
        files[role], hashes[role] = file, digest
    inputs = _read(files, record["settings"], data.get("bundled"))
    e = record["estimates"]
    shape = (len(e["sigma"]), len(record["names"]["demographics"]))
    parameters = Parameters(np.asarray(e["sigma"], float), np.asarray(e["pi"], float).reshape(shape), e["rho"],
                            np.asarray(e["sigma_free"], bool), np.asarray(e["pi_free"], bool).reshape(shape))
    return SavedEstimation(label, record, inputs, parameters, dict(e["beta"]), dict(e["gamma"]), hashes)
