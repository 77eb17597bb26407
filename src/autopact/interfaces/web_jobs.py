"""Background jobs of the web app: a scenario with draws (its bands), a sensitivity analysis, a sweep
or a projection, run in a thread, followed by polling or server-sent events, cancellable.

A job is one of the runs' own functions (``runs.analyses``, ``runs.projection``) on the serial
backend (the server's cores are few; a Dask cluster per request would cost more than it saves),
holding the solver for its whole run. Progress is the runs' own ``progress(done, total)``;
cancelling makes the next progress call raise ``Cancelled``, which stops the run between its
evaluations (the store keeps those done so far, as for a killed CLI run). At most
``Settings.max_jobs`` jobs are queued or running at once; another is refused as busy.

A draws job's result is a stored simulate run (``GET /api/runs/{run_id}``); the others' result
documents (the JSON of ``autopact sensitivity``, ``sweep`` and ``project``) are kept with the job,
in memory (``GET /api/jobs/{job_id}/result``).
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable

from autopact.interfaces.web_service import Busy, Service

KINDS = ("draws", "sensitivity", "sweep", "projection")
ACTIVE = ("queued", "running")

Progress = Callable[[int, int], None]
Work = Callable[[Progress], dict[str, Any]]  # the run, told of its progress: its result document


class Cancelled(Exception):
    """A job was cancelled by its client."""


@dataclass
class Job:
    job_id: str
    kind: str
    scenario: str
    draws: int
    state: str = "queued"  # queued | running | done | failed | cancelled
    done: int = 0
    total: int = 0
    error: str | None = None
    run_id: str | None = None
    document: dict[str, Any] | None = None
    created: float = field(default_factory=time.time)
    finished: float | None = None
    cancel: threading.Event = field(default_factory=threading.Event)
    changed: int = 0  # counts changes of state or progress: a follower sends an event when it moves

    def view(self) -> dict[str, Any]:
        result = None
        if self.state == "done":
            result = f"/api/runs/{self.run_id}" if self.kind == "draws" else f"/api/jobs/{self.job_id}/result"
        return {"job_id": self.job_id, "kind": self.kind, "scenario": self.scenario, "draws": self.draws,
                "state": self.state, "done": self.done, "total": self.total, "error": self.error,
                "run_id": self.run_id, "result": result,
                "seconds": round((self.finished or time.time()) - self.created, 3)}


class Jobs:
    """The jobs of one server process (kept in memory: the stored runs outlive them)."""

    def __init__(self, service: Service, kept: int = 100) -> None:
        self.service = service
        self.kept = kept
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()

    def start(self, kind: str, name: str, work: Work, total: int = 0, draws: int = 0) -> Job:
        """Start ``work`` as a job of ``kind`` on scenario (or sweep) ``name`` (``Busy`` at the cap of active jobs)."""
        with self._lock:
            active = [j for j in self._jobs.values() if j.state in ACTIVE]
            if len(active) >= self.service.settings.max_jobs:
                raise Busy(f"busy: {len(active)} background job(s) running (cap {self.service.settings.max_jobs}); "
                           "wait for one to finish or cancel it")
            job = Job(uuid.uuid4().hex[:12], kind, name, draws, total=total)
            self._jobs[job.job_id] = job
            for old in sorted(self._jobs.values(), key=lambda j: j.created)[:-self.kept]:
                if old.state not in ACTIVE:
                    del self._jobs[old.job_id]
        threading.Thread(target=self._work, args=(job, work), daemon=True, name=f"job-{job.job_id}").start()
        return job

    def get(self, job_id: str) -> Job:
        with self._lock:
            if job_id not in self._jobs:
                raise KeyError(job_id)
            return self._jobs[job_id]

    def list(self) -> list[Job]:
        with self._lock:
            return sorted(self._jobs.values(), key=lambda j: -j.created)

    def cancel(self, job_id: str) -> Job:
        job = self.get(job_id)
        job.cancel.set()  # the job's thread stops at its next check and then says "cancelled"
        return job

    def _work(self, job: Job, work: Work) -> None:
        def progress(done: int, total: int) -> None:
            job.done, job.total = done, total
            job.changed += 1
            if job.cancel.is_set():
                raise Cancelled

        try:
            while not self.service.compute.acquire(timeout=0.2):
                if job.cancel.is_set():
                    raise Cancelled
            try:
                if job.cancel.is_set():
                    raise Cancelled
                job.state = "running"
                job.changed += 1
                document = work(progress)
            finally:
                self.service.compute.release()
            job.run_id = document.get("run_id")
            if job.kind != "draws":
                job.document = document
            job.state = "done"
        except Cancelled:
            job.state = "cancelled"
        except Exception as error:  # a job's failure is reported to its client, never raised in a thread
            job.state, job.error = "failed", str(error) or type(error).__name__
        finally:
            job.finished = time.time()
            job.changed += 1
