"""The web API's background jobs: draws, a sensitivity analysis, a sweep, a yearly projection; each
followed by polling (``GET /api/jobs/{job_id}``) or server-sent events (``/events``), cancelled by
``DELETE``, its result fetched once done (``result``: a stored run, or the job's own document)."""

from __future__ import annotations

import asyncio
import json
from typing import Any, Callable

from fastapi import FastAPI, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse

from autopact.interfaces import web_analyses as analyses
from autopact.interfaces.web_jobs import ACTIVE, Job, Jobs
from autopact.interfaces.web_models import (ERRORS, JSON_ERRORS, RUN_ID, JobRequest, JobView, ProjectionRequest,
                                            SensitivityRequest, SweepRequest)
from autopact.interfaces.web_service import Service, Settings, document_json
from autopact.policy.scenario import Scenario

HEARTBEAT_S = 15.0  # a comment line this often keeps proxies from closing a quiet event stream


class EventStream(Response):
    media_type = "text/event-stream"


class JobNotFound(Exception):
    pass


class NoResult(Exception):
    pass


def add_job_routes(app: FastAPI, service: Service, jobs: Jobs, settings: Settings,
                   writable: Callable[[], None], scenario_of: Callable[[Any], Scenario]) -> None:
    """The job routes on ``app``; ``writable`` refuses in read-only mode, ``scenario_of`` resolves a request's scenario."""

    def view(job: Job) -> JobView:
        return JobView(**job.view())

    def job_of(job_id: str) -> Job:
        try:
            return jobs.get(job_id)
        except KeyError:
            raise JobNotFound(job_id) from None

    def within(evaluations: int, field: str) -> None:
        if evaluations > settings.max_draws:
            raise ValueError(f"{field}: {evaluations:,} evaluations; at most {settings.max_draws:,} on this server")

    @app.exception_handler(JobNotFound)
    async def _no_job(_: Request, error: JobNotFound) -> JSONResponse:
        return JSONResponse({"detail": f"job_id: no job {str(error)!r} on this server"}, status_code=404)

    @app.exception_handler(NoResult)
    async def _no_result(_: Request, error: NoResult) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code=409)

    @app.post("/api/jobs", status_code=202, responses=ERRORS)
    def start_job(request: JobRequest) -> JobView:
        """Start a run with draws (its 5-95% bands) in the background; follow GET /api/jobs/{job_id} or its events."""
        writable()
        within(request.draws, "draws")
        parsed = scenario_of(request)
        if not parsed.uncertainty.inputs:
            raise ValueError(f"draws: scenario {parsed.name} has no uncertain inputs (an 'uncertainty' section)")
        work = lambda progress: service.run(parsed, request.draws, request.seed, progress=progress)  # noqa: E731
        return view(jobs.start("draws", parsed.name, work, request.draws, request.draws))

    @app.post("/api/jobs/sensitivity", status_code=202, responses=ERRORS)
    def start_sensitivity(request: SensitivityRequest) -> JobView:
        """Start a one-at-a-time sensitivity analysis (``autopact sensitivity``): each uncertain input at its
        5th and 95th percentile; the result is the tornado of each outcome."""
        from autopact.runs.uncertainty import check_outcome

        writable()
        parsed = scenario_of(request)
        if not parsed.uncertainty.inputs:
            raise ValueError(f"scenario: {parsed.name} has no uncertain inputs (an 'uncertainty' section)")
        for k, outcome in enumerate(request.outcomes or []):
            try:
                check_outcome(outcome)
            except Exception as error:
                raise ValueError(f"outcomes.{k}: {error}") from None
        within(2 * len(parsed.uncertainty.inputs) * (1 + len(parsed.variants)), "scenario")
        work = lambda progress: analyses.run_sensitivity(service, parsed, request.outcomes, progress)  # noqa: E731
        return view(jobs.start("sensitivity", parsed.name, work))

    @app.post("/api/jobs/sweep", status_code=202, responses=ERRORS)
    def start_sweep(request: SweepRequest) -> JobView:
        """Start a sweep (``autopact sweep``): every point of a grid or sample of levers, centrally and with
        draws; the result has the response surface of each outcome."""
        writable()
        loaded = analyses.sweep_of(request.sweep, request.document)
        within(analyses.evaluations(loaded[0], request.draws), "sweep")
        draws = loaded[0].draws if request.draws is None else request.draws
        if draws and not loaded[1].uncertainty.inputs:
            raise ValueError(f"draws: scenario {loaded[1].name} of the sweep has no uncertain inputs")
        work = lambda progress: analyses.run_sweep(service, loaded, request.draws, progress)  # noqa: E731
        return view(jobs.start("sweep", loaded[0].name, work, analyses.evaluations(loaded[0], request.draws), draws))

    @app.post("/api/jobs/projection", status_code=202, responses=ERRORS)
    def start_projection(request: ProjectionRequest) -> JobView:
        """Start a yearly projection (``autopact project``): one equilibrium a year from ``start`` to ``to``
        (at most 2035), each against that year's baseline; with ``compare``, the difference year by year."""
        writable()
        parsed = service.scenario(request.scenario, request.document)
        analyses.check_projection(parsed, request.start, request.to)
        other = service.scenario(request.compare, None) if request.compare else None
        work = lambda progress: analyses.run_projection(parsed, request.start, request.to, other, progress)  # noqa: E731
        years = request.to - request.start + 1
        return view(jobs.start("projection", parsed.name, work, years * (2 if other else 1)))

    @app.get("/api/jobs", responses=ERRORS)
    def list_jobs() -> list[JobView]:
        """This server's jobs, newest first."""
        return [view(j) for j in jobs.list()]

    @app.get("/api/jobs/{job_id}", responses=ERRORS)
    def job(job_id: str = PathParam(pattern=RUN_ID)) -> JobView:
        """A job's state and progress (done of total); where its result is once done."""
        return view(job_of(job_id))

    @app.delete("/api/jobs/{job_id}", responses=ERRORS)
    def cancel_job(job_id: str = PathParam(pattern=RUN_ID)) -> JobView:
        """Cancel a job: it stops before its next evaluation."""
        job_of(job_id)
        return view(jobs.cancel(job_id))

    @app.get("/api/jobs/{job_id}/events", responses=JSON_ERRORS, response_class=EventStream)
    async def job_events(request: Request, job_id: str = PathParam(pattern=RUN_ID)) -> StreamingResponse:
        """The job's progress as server-sent events: an event ``job`` (its JSON, as GET /api/jobs/{job_id})
        at each change, the last one when it is done, failed or cancelled; then the stream ends."""
        job = job_of(job_id)

        async def stream():
            seen, quiet = -1, 0.0
            while True:
                final = job.state not in ACTIVE
                if job.changed != seen or final:
                    seen, quiet = job.changed, 0.0
                    yield f"event: job\ndata: {json.dumps(job.view())}\n\n"
                if final or await request.is_disconnected():
                    return
                await asyncio.sleep(0.25)
                quiet += 0.25
                if quiet >= HEARTBEAT_S:
                    quiet = 0.0
                    yield ": still running\n\n"

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    def finished(job_id: str) -> Job:
        job = job_of(job_id)
        if job.state != "done":
            raise NoResult(f"job_id: job {job_id} has no result: it is {job.state}"
                           + (f" ({job.error})" if job.error else ""))
        return job

    @app.get("/api/jobs/{job_id}/result", responses=ERRORS)
    def job_result(job_id: str = PathParam(pattern=RUN_ID)) -> Response:
        """A done job's result: the JSON of ``autopact sensitivity``, ``sweep`` or ``project`` (a draws job's is
        its stored run, GET /api/runs/{run_id})."""
        job = finished(job_id)
        document = job.document if job.kind != "draws" else service.result(job.run_id)
        return Response(document_json(document), media_type="application/json")

    @app.get("/api/jobs/{job_id}/report", responses=JSON_ERRORS, response_class=HTMLResponse)
    def job_report(job_id: str = PathParam(pattern=RUN_ID)) -> HTMLResponse:
        """A done job's HTML report (as ``--report``): a draws run's, a sensitivity's tornadoes, a sweep's surfaces,
        a projection's time series."""
        from autopact.interfaces.report import html_report, sensitivity_report, sweep_report
        from autopact.interfaces.report_projection import projection_report

        job = finished(job_id)
        render = {"draws": html_report, "sensitivity": sensitivity_report, "sweep": sweep_report,
                  "projection": projection_report}[job.kind]
        return HTMLResponse(render(job.document if job.kind != "draws" else service.result(job.run_id)))

    @app.get("/api/sweeps", responses=ERRORS)
    def sweeps() -> list[dict[str, Any]]:
        """The bundled sweeps: name, description, base scenario, points, draws per point, outcomes."""
        return analyses.sweep_list()
