"""The REST API and the page of ``autopact serve`` (FastAPI; OpenAPI schema at /openapi.json, docs at /docs).

Endpoints (all JSON unless said): the bundled scenarios and one scenario's document, the scenario's
JSON schema with the levers' ranges and sources, the levers as a table, the headline metrics'
definitions; validating a scenario (the CLI's pydantic messages); a central run (the JSON of
``autopact simulate --json``, against the 2025 or the 2026 baseline); background jobs (``web_jobs_api``:
draws, sensitivity, sweeps, projections; start, follow by polling or server-sent events, cancel);
stored runs and a result as JSON, CSV or the HTML report. A scenario is named (a bundled one) or sent inline: no
request names a file. Bad input is a 4xx whose ``detail`` names the field; the guard in
``web_guard`` adds the body-size limit, the rate limit and the optional bearer token.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

from fastapi import FastAPI, Query, Request
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from autopact.data import MarketDataError
from autopact.data.assumptions import AssumptionError
from autopact.errors import ConvergenceError, ScenarioError
from autopact.policy.scenario import Scenario
from autopact.interfaces import web_schema
from autopact.interfaces.web_analyses import with_baseline
from autopact.interfaces.web_guard import Guard
from autopact.interfaces.web_jobs import Jobs
from autopact.interfaces.web_jobs_api import add_job_routes
from autopact.interfaces.web_models import ERRORS, JSON_ERRORS, NAME, RUN_ID, ScenarioRequest, Validated
from autopact.interfaces.web_service import Busy, Service, Settings, document_json, result_csv, result_report
from autopact.runs.store import StoreError
from autopact.version import __version__

STATIC = resources.files("autopact.interfaces").joinpath("static")


def _problem(status: int, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


def _field_message(error: RequestValidationError) -> str:
    first = error.errors()[0] if error.errors() else {}
    where = ".".join(str(part) for part in first.get("loc", ()) if part != "body") or "body"
    return f"{where}: {first.get('msg', 'invalid')}"


def create_app(settings: Settings | None = None) -> FastAPI:
    """The app for ``settings`` (defaults: the user's store, no token, read-write)."""
    settings = settings or Settings()
    service = Service(settings)
    jobs = Jobs(service)
    app = FastAPI(title="autopact", version=__version__, description=__doc__,
                  docs_url="/docs", redoc_url=None)
    app.state.service, app.state.jobs = service, jobs
    app.add_middleware(Guard, settings=settings)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, error: RequestValidationError) -> JSONResponse:
        return _problem(422, _field_message(error))

    @app.exception_handler(ScenarioError)
    @app.exception_handler(ConvergenceError)
    @app.exception_handler(MarketDataError)
    @app.exception_handler(AssumptionError)
    @app.exception_handler(ValueError)
    async def _bad(_: Request, error: Exception) -> JSONResponse:
        return _problem(422, str(error))

    @app.exception_handler(Busy)
    async def _busy(_: Request, error: Busy) -> JSONResponse:
        return _problem(429, str(error), {"Retry-After": "5"})  # 429: a client error, so a busy server is no "5xx"

    @app.exception_handler(StoreError)
    async def _store(_: Request, error: StoreError) -> JSONResponse:
        text = str(error)
        missing = any(s in text for s in ("no run matches", "no results store", "only simulate runs", "more than one"))
        return _problem(404 if missing else 503, text)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, error: Exception) -> JSONResponse:  # a bug: no traceback to the client
        return _problem(500, f"internal error ({type(error).__name__}); the server's log has the details")

    def writable() -> None:
        if settings.read_only:
            raise _ReadOnly()

    @app.exception_handler(_ReadOnly)
    async def _read_only(_: Request, __: Exception) -> JSONResponse:
        return _problem(403, "read-only mode: this server serves stored runs only (GET /api/runs)")

    @app.get("/api/health", responses=ERRORS)
    def health() -> dict[str, Any]:
        """Version, mode and limits."""
        return {"ok": True, "version": __version__, "read_only": settings.read_only, "max_jobs": settings.max_jobs,
                "max_draws": settings.max_draws, "max_body_bytes": settings.max_body_bytes,
                "token_required": bool(settings.token)}

    @app.get("/api/scenarios", responses=ERRORS)
    def scenarios() -> list[dict[str, str]]:
        """The bundled scenarios: name and description."""
        return web_schema.scenario_list()

    @app.get("/api/scenarios/{name}", responses=ERRORS)
    def scenario(name: str = PathParam(pattern=NAME)) -> dict[str, Any]:
        """A bundled scenario's document (its YAML as JSON), to edit and send back as ``document``."""
        try:
            return web_schema.bundled_document(name)
        except KeyError:
            raise ScenarioNotFound(name) from None

    @app.exception_handler(ScenarioNotFound)
    async def _no_scenario(_: Request, error: ScenarioNotFound) -> JSONResponse:
        return _problem(404, f"name: no bundled scenario named {str(error)[:80]!r} (GET /api/scenarios)")

    @app.get("/api/schema", responses=ERRORS)
    def schema() -> dict[str, Any]:
        """The scenario's JSON schema, with each lever's allowed values, default, unit and source."""
        return web_schema.scenario_schema()

    @app.get("/api/levers", responses=ERRORS)
    def levers() -> list[dict[str, Any]]:
        """Every lever: path, type, range or allowed values, default, unit and source."""
        return web_schema.levers()

    @app.get("/api/metrics", responses=ERRORS)
    def metrics() -> list[dict[str, Any]]:
        """The headline metrics: key (path in the result's JSON), label, unit, meaning, computation."""
        return web_schema.metric_definitions()

    def scenario_of(request: ScenarioRequest) -> Scenario:
        """The scenario of a request, against the baseline year it asks for."""
        return with_baseline(service.scenario(request.scenario, request.document), request.baseline_year)

    add_job_routes(app, service, jobs, settings, writable, scenario_of)

    @app.post("/api/validate", responses=ERRORS)
    def validate(request: ScenarioRequest) -> Validated:
        """Validate a scenario as the CLI does; 422 with the CLI's message naming the field when it is invalid."""
        parsed = scenario_of(request)
        return Validated(valid=True, scenario=parsed.model_dump(mode="json", exclude_defaults=True))

    @app.post("/api/run", responses=ERRORS)
    def run(request: ScenarioRequest) -> Response:
        """Run a scenario centrally against its baseline (2025, or ``baseline_year``) and store it: the JSON of
        ``autopact simulate --json [--baseline YEAR]``."""
        writable()
        parsed = scenario_of(request)
        with service.solver():
            document = service.run(parsed)
        return Response(document_json(document), media_type="application/json")

    @app.get("/api/runs", responses=ERRORS)
    def runs(limit: int = Query(50, ge=1, le=500)) -> list[dict[str, Any]]:
        """Stored runs, newest first (the results store, as ``autopact runs``)."""
        return service.runs(limit)

    @app.get("/api/runs/{run_id}", responses=ERRORS)
    def result(run_id: str = PathParam(pattern=RUN_ID)) -> Response:
        """A stored simulate run's result document (as ``autopact simulate --json``; a unique prefix of the id works)."""
        return Response(document_json(service.result(run_id)), media_type="application/json")

    @app.get("/api/runs/{run_id}/csv", responses=JSON_ERRORS, response_class=CSVResponse)
    def result_as_csv(run_id: str = PathParam(pattern=RUN_ID)) -> Response:
        """A run's metrics as CSV: baseline, scenario, change and its bands, one row per metric."""
        document = service.result(run_id)
        return CSVResponse(result_csv(document),
                        headers={"Content-Disposition": f'attachment; filename="autopact-{document["run_id"]}.csv"'})

    @app.get("/api/runs/{run_id}/report", responses=JSON_ERRORS, response_class=HTMLResponse)
    def result_as_report(run_id: str = PathParam(pattern=RUN_ID)) -> HTMLResponse:
        """A run's self-contained HTML report (as ``autopact simulate --report``)."""
        return HTMLResponse(result_report(service.result(run_id)))

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(str(STATIC.joinpath("index.html")), headers=PAGE_HEADERS)

    @app.get("/static/plotly.min.js", include_in_schema=False)
    def plotly_js() -> FileResponse:  # the installed plotly's own copy: the page needs no network
        return FileResponse(str(resources.files("plotly").joinpath("package_data", "plotly.min.js")),
                            media_type="text/javascript")

    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")
    return app


PAGE_HEADERS = {"Content-Security-Policy": "default-src 'self'; script-src 'self' 'unsafe-eval'; "
                                           "style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:",
                "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}


class CSVResponse(Response):
    media_type = "text/csv"


class _ReadOnly(Exception):
    pass


class ScenarioNotFound(Exception):
    pass
