"""The web API's request and answer models (pydantic; they are its OpenAPI schema): what a client
sends (a bundled name or an inline document, never a path) and what a job looks like."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from autopact.policy.scenario import POLICY_YEARS

NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$"  # a bundled scenario's or sweep's name: no slashes, so never a path
RUN_ID = r"^[0-9a-f]{1,32}$"


class Problem(BaseModel):
    detail: str = Field(description="what is wrong, naming the field and its value")


ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": Problem}
                                           for code in (400, 401, 403, 404, 409, 413, 422, 429, 503)}
# the same, for a route whose own answer is not JSON (CSV, HTML, events): its errors are JSON still
JSON_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"description": "a problem", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}
    for code in ERRORS}


class ScenarioFields(BaseModel):
    """A scenario: the name of a bundled one, or a scenario document (the YAML file's fields as JSON)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"scenario": "no-section-232"}]})
    scenario: str | None = Field(None, pattern=NAME, description="a bundled scenario's name (GET /api/scenarios)")
    document: dict[str, Any] | None = Field(None, description="an inline scenario document (schema: GET /api/schema)")


class ScenarioRequest(ScenarioFields):
    """A scenario and the baseline it is compared with."""

    baseline_year: Literal[2025, 2026] | None = Field(
        None, description="the baseline year (autopact simulate --baseline): 2025, the calibrated market, or 2026, "
                          "the 2025 market carried there by the bundled policy timeline; default: the scenario's own")


class JobRequest(ScenarioRequest):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"scenario": "ford-byd-jv", "draws": 2}]})
    draws: int = Field(20, ge=1, description="joint draws of the scenario's uncertain inputs")
    seed: int | None = Field(None, ge=0, le=2**32 - 1, description="seed of the draws (default: the scenario's)")


class SensitivityRequest(ScenarioRequest):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"scenario": "ford-byd-jv"}]})
    outcomes: list[str] | None = Field(None, min_length=1, max_length=20,
                                       description="metric paths (GET /api/metrics; default: the CLI's outcomes)")


class SweepRequest(BaseModel):
    """A sweep: a bundled one's name, or a sweep document (a sweep file's fields as JSON) on a bundled scenario."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"document": {
        "name": "ev-tariff", "scenario": "ford-byd-jv", "grid": {"parameters.section_301_china_ev_pct": [0, 100]}}}]})
    sweep: str | None = Field(None, pattern=NAME, description="a bundled sweep's name (GET /api/sweeps)")
    document: dict[str, Any] | None = Field(None, description="an inline sweep: name, scenario (a bundled one), grid "
                                                              "or sample, draws, seed, outcomes")
    draws: int | None = Field(None, ge=0, description="draws per point (default: the sweep's)")


class ProjectionRequest(ScenarioFields):
    """A scenario projected year by year (``autopact project``), each year against that year's baseline."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"scenario": "ford-byd-jv", "start": 2026, "to": 2027}]})
    start: int = Field(2026, ge=POLICY_YEARS[0], le=POLICY_YEARS[1], description="the first year (autopact project --from)")
    to: int = Field(2035, ge=POLICY_YEARS[0], le=POLICY_YEARS[1], description="the last year, at most 2035 (--to)")
    compare: str | None = Field(None, pattern=NAME, description="a second bundled scenario: the difference year by year")


class Validated(BaseModel):
    valid: bool
    scenario: dict[str, Any]


class JobView(BaseModel):
    job_id: str
    kind: Literal["draws", "sensitivity", "sweep", "projection"]
    scenario: str
    draws: int
    state: str = Field(description="queued, running, done, failed or cancelled")
    done: int
    total: int
    error: str | None
    run_id: str | None
    result: str | None = Field(description="where the result is, once done")
    seconds: float
