"""Estimation inputs and saved results: the data, the formulas and the estimates, as one JSON file.

A saved result (``autopact estimate CONFIG|--example NAME --save PATH``) holds what rebuilding
any market's demand and supply needs: the settings (formulas, options, starting values), each
data file by path and sha256 (or the bundled data set's name), the estimated sigma, pi, rho, beta
and gamma with their covariance and standard errors, the GMM objective, the convergence flag and
autopact's version, and ``record_sha256``, the sha256 of all of that (``record_sha256()``). Loading
refuses a record whose hash differs (settings, data hashes or estimates edited since it was
saved), a data path that leaves the result's folder (a data file must lie in the result's folder
or below it; bundled data in the bundled folder), a data file whose sha256 differs from the one
recorded (estimates are only meaningful on the data they were estimated on), and any formula
outside the whitelist of ``autopact.fit.formulas``, before the data reach patsy. The hash
detects edits, not forgery (anyone can recompute it): the formula whitelist and the path check
are what keep a doctored file from running code or reading files elsewhere.

I/O lives here; the estimator (``autopact.fit.estimation``) works on data frames and arrays.
"""

from __future__ import annotations

import hashlib
import math
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from autopact.data import bundled_path
from autopact.data.inputs import check_regular_file, load_yaml, shown
from autopact.fit import instruments
from autopact.fit.estimation import (
    EstimationError,
    EstimationResult,
    Parameters,
    Problem,
    estimate,
)
from autopact.fit.estimation_settings import EstimationFileError, check_settings
from autopact.fit.optimisation import solve_options
from autopact.version import __version__

FORMAT = "autopact-estimation-result/2"  # /1 had no record_sha256
BUNDLED = ("blp1995",)  # bundled saved estimates (``<name>/estimate.json``), for scenarios
# bundled example configs (``autopact estimate --example NAME``), relative to the bundled folder:
# blp1995 makes blp1995/estimate.json; blp1995-tutorial and nevo are PyBLP's tutorial problems
EXAMPLES = {"blp1995": "blp1995/blp1995.yaml", "blp1995-tutorial": "blp1995/blp1995_tutorial.yaml",
            "nevo": "nevo/nevo.yaml"}
BUNDLED_DATA = ("blp1995", "nevo")  # bundled data sets: the folders of the examples' data
# A saved result holds settings, names, estimates and a covariance matrix of the free parameters: the
# bundled BLP 1995 one is 13 kB. A hundred megabytes is room for a covariance of thousands of parameters
# and keeps a file that is no saved result from being read whole into memory.
MAX_RESULT_BYTES = 100_000_000


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _bundled_folder() -> Path:
    return bundled_path("blp1995").parent


def record_sha256(record: dict[str, Any]) -> str:
    """sha256 of a saved record without its ``record_sha256`` field: its JSON with sorted keys and no
    spaces, after a JSON round trip (so numpy scalars and the values read back hash alike)."""
    body = json.loads(json.dumps({k: v for k, v in record.items() if k != "record_sha256"}))
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


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
        check_regular_file(path, role, EstimationFileError)
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
    """A bundled example config's data and specification (``EXAMPLES``; each config says what it is)."""
    if name not in EXAMPLES:
        raise EstimationFileError(f"unknown example {name!r}; available: {', '.join(EXAMPLES)}")
    return config_inputs(_bundled_folder() / EXAMPLES[name], bundled=EXAMPLES[name].split("/")[0])


def config_inputs(config: Path, bundled: str | None = None) -> EstimationInputs:
    """Inputs from a config YAML (read within the limits of ``autopact.data.inputs``); data paths in
    it are relative to the config file. ``bundled`` names the bundled data set of an example
    (``BUNDLED_DATA``; its files live in the bundled folder)."""
    settings = load_yaml(Path(config), EstimationFileError)
    if not isinstance(settings, dict):
        raise EstimationFileError(f"{Path(config).name}: expected a mapping of settings")
    check_settings(settings, Path(config).name)
    if "products" not in settings:
        raise EstimationFileError(f"{Path(config).name}: products: a products CSV is required")
    files = {role: (Path(config).parent / settings.pop(role)).resolve()
             for role in ("products", "agents") if role in settings}
    return _read(files, settings, bundled)


def run_estimation(inputs: EstimationInputs) -> EstimationResult:
    """Build the problem from the inputs' formulas and estimate it with their options."""
    s = inputs.settings
    problem = build_problem(inputs)
    return estimate(problem, sigma=None if s.get("sigma") is None else np.asarray(s["sigma"], float),
                    pi=None if s.get("pi") is None else np.asarray(s["pi"], float), rho=s.get("rho"),
                    method=s.get("method", "2s"), weighting=s.get("weighting", "robust"),
                    se_type=s.get("se_type", "robust"), **solve_options(s, "settings"))


def build_problem(inputs: EstimationInputs) -> Problem:
    s = inputs.settings
    return Problem.build(inputs.products, s["x1"], s.get("x2"), inputs.agents, s.get("demographics"),
                         absorb=s.get("absorb"), x3=s.get("x3"), costs_type=s.get("costs_type", "log"))


def check_save_location(inputs: EstimationInputs, save_to: Path) -> Path:
    """The folder data paths are recorded relative to (``save_to``'s folder, or the bundled folder for
    bundled data); refuses a location the data files do not lie in or below, as loading would, and agent
    weights that do not sum to one in each market (scenarios integrate with weights that do,
    ``autopact.model.demand.Demand``; PyBLP's BLP 1995 weights sum to 0.154)."""
    if inputs.agents is not None and "weights" in inputs.agents.columns:
        totals = inputs.agents.groupby("market_ids")["weights"].sum()
        off = totals[(totals - 1).abs() > 1e-8]
        if len(off):
            raise EstimationFileError(f"normalise_agent_weights: the agent weights sum to {off.iloc[0]:.6g}, not 1, in "
                                      f"{len(off)} market(s); scenarios need weights that sum to one, so this "
                                      "estimation cannot be saved (set normalise_agent_weights: true)")
    base = _bundled_folder().resolve() if inputs.bundled else Path(save_to).resolve().parent
    for role, path in inputs.files.items():
        if not Path(path).resolve().is_relative_to(base):
            raise EstimationFileError(f"--save {save_to}: the {role} data file {Path(path).resolve()} is not in {base} "
                                      "or below it, and a saved result may only name data in its own folder; "
                                      "save the result in the data's folder or a folder above it")
    return base


def result_record(result: EstimationResult, inputs: EstimationInputs, problem: Problem, save_to: Path) -> dict[str, Any]:
    """The JSON record of an estimation (see the module docstring); data paths relative to ``save_to``'s folder,
    or to the bundled folder for bundled data, and ``record_sha256`` over the rest."""
    if result.parameters is None:
        raise EstimationError("only a completed estimation can be saved (evaluate_only results cannot)")
    base = check_save_location(inputs, save_to)
    data = {"bundled": inputs.bundled}
    for role, path in inputs.files.items():
        data[role] = {"path": Path(os.path.relpath(Path(path).resolve(), base)).as_posix(), "sha256": sha256_of(path)}
    p = result.parameters
    x1_count = len(problem.x1_names)
    labels = result.labels + result.beta_labels
    record = {
        "format": FORMAT, "autopact_version": __version__, "record_sha256": None, "settings": inputs.settings, "data": data,
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
    record = _json_numbers(record)
    record["record_sha256"] = record_sha256(record)
    return record


def _json_numbers(value: Any) -> Any:
    """``value`` with every NaN or infinity replaced by None, so the saved record is strict JSON (a
    standard error that is not finite, from a covariance with a negative diagonal, is saved as null)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _json_numbers(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_numbers(v) for v in value]
    return value


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


def _data_file(base: Path, entry: Any, role: str, label: str, where: str) -> Path:
    """The data file a record names for ``role``, resolved; refused if it leaves ``base`` (by ``..``,
    an absolute path or a link)."""
    path = entry.get("path") if isinstance(entry, dict) else None
    if not isinstance(path, str) or not path or not isinstance(entry.get("sha256"), str):
        raise EstimationFileError(f"{label}: data.{role} must hold a path and a sha256, got {entry!r}")
    file = (base / path).resolve()
    if not file.is_relative_to(base.resolve()):
        raise EstimationFileError(f"{label}: data.{role}.path {path!r} leaves {where} {base}; a saved result may "
                                  "only name data in its own folder or below it")
    return file


def load_estimation(name_or_path: str) -> SavedEstimation:
    """Load a saved estimation and its data, refusing an edited record, data paths outside its folder,
    data whose sha256 changed since it was saved and formulas outside the whitelist."""
    label, path = saved_path(name_or_path)
    if not path.exists():
        raise EstimationFileError(f"no bundled estimation or file named {name_or_path!r}; bundled: {', '.join(BUNDLED)}")
    size = check_regular_file(path, "estimation result", EstimationFileError).st_size
    if size > MAX_RESULT_BYTES:
        raise EstimationFileError(f"{label}: {size:,} bytes; a saved estimation result is limited to "
                                  f"{MAX_RESULT_BYTES:,} bytes (MAX_RESULT_BYTES)")
    try:
        record = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise EstimationFileError(f"{label}: not a JSON file: {error}") from None
    except RecursionError:
        raise EstimationFileError(f"{label}: not a saved estimation: values nested too deeply") from None
    if isinstance(record, dict) and record.get("format") == "autopact-estimation-result/1":
        raise EstimationFileError(f"{label}: saved by an older autopact without a record hash (format "
                                  f"'autopact-estimation-result/1'); re-run `autopact estimate ... --save` to save it as {FORMAT!r}")
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise EstimationFileError(f"{label}: not a saved autopact estimation (format {FORMAT!r} expected)")
    digest = record_sha256(record)
    if record.get("record_sha256") != digest:
        raise EstimationFileError(f"{label}: record_sha256 {str(record.get('record_sha256'))[:12]}... does not match its "
                                  f"content ({digest[:12]}...): the settings, data or estimates were edited after "
                                  "`autopact estimate --save` wrote it; re-run that command")
    data, settings = record.get("data"), record.get("settings")
    if not isinstance(data, dict) or not isinstance(settings, dict):
        raise EstimationFileError(f"{label}: data and settings must be mappings")
    check_settings(settings, label)
    bundled = data.get("bundled")
    if bundled and bundled not in BUNDLED_DATA:
        raise EstimationFileError(f"{label}: data.bundled {bundled!r} is no bundled data set; bundled: {', '.join(BUNDLED_DATA)}")
    base, where = (_bundled_folder(), "the bundled data folder") if bundled else (path.resolve().parent, "the result's folder")
    files, hashes = {}, {}
    for role in ("products", "agents"):
        if role not in data:
            continue
        file = _data_file(base, data[role], role, label, where)
        if not file.exists():
            raise EstimationFileError(f"{label}: {role} data file {file} is missing")
        check_regular_file(file, f"{label}: data.{role}", EstimationFileError)
        digest = sha256_of(file)
        if digest != data[role]["sha256"]:
            raise EstimationFileError(f"{label}: {role} data file {file} changed since the estimation was saved "
                                      f"(sha256 {digest[:12]}..., recorded {data[role]['sha256'][:12]}...); "
                                      "re-run `autopact estimate ... --save` on the new data")
        files[role], hashes[role] = file, digest
    if "products" not in files:
        raise EstimationFileError(f"{label}: data.products is missing")
    inputs = _read(files, settings, bundled)
    try:  # a forged record (its hash recomputed) may hold anything here
        e = record["estimates"]
        shape = (len(e["sigma"]), len(record["names"]["demographics"]))
        parameters = Parameters(np.asarray(e["sigma"], float), np.asarray(e["pi"], float).reshape(shape),
                                None if e["rho"] is None else float(e["rho"]),
                                np.asarray(e["sigma_free"], bool), np.asarray(e["pi_free"], bool).reshape(shape))
        beta, gamma = {str(k): float(v) for k, v in e["beta"].items()}, {str(k): float(v) for k, v in e["gamma"].items()}
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise EstimationFileError(f"{label}: estimates: not the estimates `autopact estimate --save` writes "
                                  f"({type(error).__name__}: {shown(str(error))})") from None
    return SavedEstimation(label, record, inputs, parameters, beta, gamma, hashes)
