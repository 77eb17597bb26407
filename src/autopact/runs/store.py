"""The results store: every run, draw and sweep point in an embedded DuckDB database.

Tables:
- ``runs``: one row per run (kind simulate | sensitivity | sweep, name, the scenario or sweep
  text and its SHA-256, the options, seed, code version, planned jobs, status, times).
- ``results``: one row per job (run, point, draw) with status, drawn inputs, lever values and
  the full result document (baseline, counterfactual, change, solver) as JSON text.
- ``metrics``: the same numbers long: one row per (run, point, draw, metric path) with baseline,
  counterfactual and change, for SQL and Parquet.

Each finished chunk of jobs is written in one transaction, so a killed run leaves only whole
jobs behind; ``resumable`` finds an unfinished run with the same definition, options and code
version, and ``done`` tells which jobs it need not recompute. The process that works on a run holds
its claim (``claim``: an exclusive ``flock`` on ``<store>.<run id>.lock``, which the kernel drops
when the process ends, killed or not), so a killed run is resumed by one process at a time and two
never write the same job. Reading commands open the store read-only and never create one. Floats are stored as JSON text
(shortest round-trip repr) and as DOUBLE, both exact, so a resumed run reproduces an
uninterrupted one to the bit. Default location: ``$AUTOPACT_STORE``, else
``$XDG_DATA_HOME/autopact/results.duckdb`` (``~/.local/share/autopact/results.duckdb``).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any

from autopact.version import __version__

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id VARCHAR PRIMARY KEY, kind VARCHAR, name VARCHAR, definition VARCHAR, definition_hash VARCHAR,
    options VARCHAR, seed BIGINT, code_version VARCHAR, jobs INTEGER, status VARCHAR,
    created_at TIMESTAMP, finished_at TIMESTAMP);
CREATE TABLE IF NOT EXISTS results (
    run_id VARCHAR, point INTEGER, draw INTEGER, status VARCHAR, label VARCHAR, inputs VARCHAR,
    document VARCHAR, error VARCHAR, PRIMARY KEY (run_id, point, draw));
CREATE TABLE IF NOT EXISTS metrics (
    run_id VARCHAR, point INTEGER, draw INTEGER, metric VARCHAR, baseline DOUBLE, counterfactual DOUBLE,
    change DOUBLE);
"""


class StoreError(RuntimeError):
    """The store cannot be opened or read (missing, corrupt, locked), a run is not in it, or it is claimed."""


def default_path() -> Path:
    if os.environ.get("AUTOPACT_STORE"):
        return Path(os.environ["AUTOPACT_STORE"])
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "autopact" / "results.duckdb"


def code_version() -> str:
    """Package version plus the git commit when run from a checkout (``+dirty`` if modified).

    Found once per process: the code a process runs is the code it imported when it started, and the
    two ``git`` calls took about 10 ms of every run that stores its results (``ask_code_version``
    starts them early, so that they run while the process works)."""
    return _code_version(_package())


def ask_code_version() -> None:
    """Start the ``git`` queries of ``code_version`` now, in the background (once a process): a run
    calls this when it opens the store, before its work, and reads the answer when it stores the run."""
    _git_queries(_package())


def _package() -> Path:
    return Path(__file__).resolve().parents[1]


@lru_cache(maxsize=None)
def _git_queries(package: Path) -> tuple[Any, Any] | None:
    """The two ``git`` processes of ``code_version`` for the package folder ``package``, started; None
    where git is not to be asked: only the ``src/autopact`` of a git checkout is asked. An installed
    copy (``site-packages/autopact``) is never one, even where its environment lies inside some
    repository, whose commit is not this code's."""
    import subprocess

    checkout = package.parents[1]
    if package.parent.name != "src" or not (checkout / ".git").exists():
        return None
    try:
        return tuple(subprocess.Popen(["git", "-C", str(checkout), *args], stdout=subprocess.PIPE,
                                      stderr=subprocess.DEVNULL, text=True)
                     for args in (["rev-parse", "--short", "HEAD"], ["status", "--porcelain", "--untracked-files=no"]))
    except OSError:
        return None


@lru_cache(maxsize=None)
def _code_version(package: Path) -> str:
    import subprocess

    queries = _git_queries(package)
    if queries is None:
        return __version__
    try:
        (commit, _), (dirty, _) = (query.communicate(timeout=5) for query in queries)
    except subprocess.SubprocessError:
        for query in queries:
            query.kill()
        return __version__
    if queries[0].returncode != 0:
        return __version__
    return f"{__version__}+{commit.strip()}{'.dirty' if dirty.strip() else ''}"


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def new_run_id() -> str:
    return uuid.uuid4().hex[:12]


class Store:
    """A DuckDB results store. The file is opened for each operation and closed after it, so other
    processes (``autopact runs``) can read it while a long run writes; an operation that finds the
    file locked by another process retries for ``wait`` seconds. With ``create=False`` (the reading
    commands) the store must exist and is opened read-only. Every DuckDB error is a ``StoreError``
    naming the file."""

    def __init__(self, path: str | Path | None = None, wait: float = 60.0, create: bool = True,
                 opened: bool = True) -> None:
        self.path = Path(path) if path else default_path()
        self.wait = wait
        self.read_only = not create
        self._open_db: Any = None  # the connection of a ``session``, while one is open
        self._in_transaction = False  # inside ``held``'s transaction: ``add`` opens none of its own
        if not create:
            if not self.path.exists():
                raise StoreError(f"no results store at {self.path} (a run with --store {self.path} creates one)")
            if not self.path.is_file():
                raise StoreError(f"results store {self.path}: not a file")
            with self._connect() as db:  # fails now, with the file named, if it is not a readable store
                db.execute("SELECT count(*) FROM runs").fetchall()
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise StoreError(f"cannot create the folder of the results store {self.path}: {error.strerror}") from None
        if opened:  # else ``held`` opens it
            with self._connect() as db:
                db.execute(SCHEMA)

    @classmethod
    @contextmanager
    def held(cls, path: str | Path | None = None, wait: float = 60.0) -> Iterator["Store"]:
        """The store (created where missing) opened once, so checked before a run's work, and kept
        open on that connection for the run's writes: a ``session`` from the start. Each open of the
        file took 15-30 ms here, a third of what storing a ``simulate`` cost. Other processes wait for
        the file meanwhile, so only a run of about a second holds it (one without draws, whose market
        is at hand). Its writes (the run, its results and metrics, its completion) are one
        transaction, committed when the block ends and rolled back if it raises: the run is in the
        store whole or not at all, and the file is flushed once instead of once a statement."""
        store = cls(path, wait, create=True, opened=False)
        ask_code_version()
        with store.session():
            with store._connect() as db:
                db.execute(SCHEMA)
                db.execute("BEGIN TRANSACTION")
                store._in_transaction = True
                try:
                    yield store
                except BaseException:
                    import duckdb  # loaded by _connect already

                    try:  # a connection DuckDB already invalidated must not hide the error that stopped the run
                        db.execute("ROLLBACK")
                    except duckdb.Error:
                        pass
                    raise
                else:
                    db.execute("COMMIT")
                finally:  # committed or rolled back: the store's later writes open their own again
                    store._in_transaction = False

    @contextmanager
    def session(self) -> Iterator["Store"]:
        """One connection for a short sequence of operations instead of one each (a run without jobs:
        start, add, finish and read back take a tenth of a second less). Other processes wait for
        the file meanwhile, so a run with jobs opens it for each operation instead."""
        if self._open_db is not None:
            yield self
            return
        with self._connect() as db:
            self._open_db = db
            try:
                yield self
            finally:
                self._open_db = None

    @contextmanager
    def _connect(self) -> Iterator[Any]:
        import duckdb

        if self._open_db is not None:  # inside a session: its connection
            try:
                yield self._open_db
            except duckdb.Error as error:
                raise StoreError(f"results store {self.path}: {_line(error)}") from None
            return
        deadline = time.monotonic() + self.wait
        while True:
            try:
                db = duckdb.connect(str(self.path), read_only=self.read_only)
                break
            except duckdb.IOException as error:
                if "lock" not in str(error).lower() or time.monotonic() > deadline:
                    raise StoreError(f"cannot open the results store {self.path}: {_line(error)}") from None
                time.sleep(0.05)
            except duckdb.Error as error:
                raise StoreError(f"cannot open the results store {self.path}: {_line(error)}") from None
        try:
            yield db
        except duckdb.Error as error:  # a corrupt block, a missing table: the store, not a bug of ours
            raise StoreError(f"results store {self.path}: {_line(error)}") from None
        finally:
            db.close()

    def _query(self, sql: str, params: list[Any] | None = None) -> list[tuple]:
        with self._connect() as db:
            return db.execute(sql, params or []).fetchall()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *_: Any) -> None:
        return None

    @contextmanager
    def claim(self, run_id: str) -> Iterator[None]:
        """Hold ``run_id`` for this process while it works on the run; raises ``StoreError`` at once when
        another process holds it (it is running or being resumed there). The claim is an exclusive
        ``flock`` on ``<store>.<run id>.lock`` beside the store: the kernel releases it when this process
        ends, even killed, so a killed run can be claimed again. The file goes once the run is complete.
        Without ``fcntl`` (Windows) runs are not claimed."""
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX
            yield
            return
        lock = self.path.with_name(f"{self.path.name}.{run_id}.lock")
        try:
            descriptor = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as error:
            raise StoreError(f"cannot claim run {run_id}: {lock}: {error.strerror}") from None
        try:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise StoreError(f"run {run_id} in {self.path} is being run or resumed by another process now; "
                                 f"wait for it to finish (autopact runs show {run_id})") from None
            yield
            if self.status(run_id) == "complete":
                lock.unlink(missing_ok=True)
        finally:
            os.close(descriptor)

    def status(self, run_id: str) -> str | None:
        rows = self._query("SELECT status FROM runs WHERE run_id = ?", [run_id])
        return rows[0][0] if rows else None

    def start(self, kind: str, name: str, definition: str, options: dict[str, Any], seed: int, jobs: int,
              run_id: str | None = None) -> str:
        run_id = run_id or new_run_id()
        self._query("INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'running', ?, NULL)",
                        [run_id, kind, name, definition, digest(definition), json.dumps(options, sort_keys=True),
                         seed, code_version(), jobs, _now()])
        return run_id

    def resumable(self, kind: str, definition: str, options: dict[str, Any]) -> str | None:
        """The latest run of the same kind, definition, options and code version: an unfinished one to
        finish, or a complete one (finished meanwhile by another ``--resume``) whose results stand."""
        rows = self._query(
            "SELECT run_id FROM runs WHERE kind = ? AND definition_hash = ? AND options = ? AND code_version = ? "
            "ORDER BY created_at DESC LIMIT 1",
            [kind, digest(definition), json.dumps(options, sort_keys=True), code_version()])
        return rows[0][0] if rows else None

    def done(self, run_id: str) -> set[tuple[int, int]]:
        return {(p, d) for p, d in self._query("SELECT point, draw FROM results WHERE run_id = ?", [run_id])}

    def add(self, run_id: str, records: list[dict[str, Any]], labels: dict[int, str] | None = None) -> None:
        """Write finished jobs in one transaction (all or nothing)."""
        with self._connect() as db:
            self._add(db, run_id, records, labels, own=not self._in_transaction)

    @staticmethod
    def _add(db: Any, run_id: str, records: list[dict[str, Any]], labels: dict[int, str] | None,
             own: bool = True) -> None:
        """The records' rows, in a transaction of their own (``own``) or in the caller's."""
        from autopact.runs.uncertainty import flatten  # here: ``autopact runs`` need not load the models

        if own:
            db.execute("BEGIN TRANSACTION")
        try:
            metrics: list[list[Any]] = [[], [], [], [], [], []]  # point, draw, metric, baseline, counterfactual, change
            for r in records:
                document = {k: r[k] for k in ("baseline", "counterfactual", "change", "solver", "calibration") if k in r}
                db.execute("INSERT INTO results VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                                [run_id, r["point"], r["draw"], r["status"], (labels or {}).get(r["point"], ""),
                                 json.dumps(r.get("inputs", {})), json.dumps(document), r.get("error")])
                if r["status"] == "ok":
                    base, cf, change = flatten(r["baseline"]), flatten(r["counterfactual"]), flatten(r["change"])
                    for path, value in change.items():
                        for column, item in zip(metrics, (r["point"], r["draw"], "/".join(path), base.get(path),
                                                          cf.get(path), value)):
                            column.append(item)
            if metrics[0]:  # one statement for every row, in order (executemany ran one per row: twice as long)
                db.execute("INSERT INTO metrics SELECT ?, unnest(?::INTEGER[]), unnest(?::INTEGER[]), "
                           "unnest(?::VARCHAR[]), unnest(?::DOUBLE[]), unnest(?::DOUBLE[]), unnest(?::DOUBLE[])",
                           [run_id, *metrics])
            if own:
                db.execute("COMMIT")
        except BaseException:
            if own:
                db.execute("ROLLBACK")
            raise

    def finish(self, run_id: str) -> None:
        self._query("UPDATE runs SET status = 'complete', finished_at = ? WHERE run_id = ?", [_now(), run_id])

    def records(self, run_id: str) -> list[dict[str, Any]]:
        """The run's job results in (point, draw) order, as ``execution.evaluate`` returned them."""
        rows = self._query("SELECT point, draw, status, inputs, document, error FROM results WHERE run_id = ? "
                           "ORDER BY point, draw", [run_id])
        return [{"point": p, "draw": d, "status": s, "inputs": json.loads(i), **json.loads(doc),
                 **({"error": e} if e else {})} for p, d, s, i, doc, e in rows]

    def runs(self, limit: int = 50) -> list[dict[str, Any]]:
        rows = self._query(
            "SELECT r.run_id, r.kind, r.name, r.status, r.jobs, count(x.run_id), r.seed, r.code_version, r.created_at "
            "FROM runs r LEFT JOIN results x USING (run_id) GROUP BY ALL ORDER BY r.created_at DESC LIMIT ?",
            [limit])
        keys = ("run_id", "kind", "name", "status", "jobs", "finished_jobs", "seed", "code_version", "created_at")
        return [dict(zip(keys, row)) for row in rows]

    def run(self, run_id: str) -> dict[str, Any]:
        with self._connect() as db:
            row = db.execute("SELECT * FROM runs WHERE run_id = ? OR run_id LIKE ? ORDER BY created_at DESC",
                             [run_id, f"{run_id}%"]).fetchall()
            columns = [c[0] for c in db.description]
        if len(row) != 1:
            raise StoreError(f"{'no' if not row else 'more than one'} run matches {run_id!r} in {self.path}")
        return dict(zip(columns, row[0]))

    def export(self, path: Path, run_id: str | None = None) -> int:
        """Write the metrics (one run's, or all) to Parquet; returns the number of rows."""
        where = "WHERE run_id = ?" if run_id else ""
        params = [run_id] if run_id else []
        query = (f"SELECT m.*, r.kind, r.name, r.definition_hash, r.code_version, r.seed FROM metrics m "
                 f"JOIN runs r USING (run_id) {where.replace('run_id', 'm.run_id')} ORDER BY m.run_id, point, draw, metric")
        with self._connect() as db:
            count = db.execute(f"SELECT count(*) FROM metrics {where}", params).fetchone()[0]
            db.execute(f"COPY ({query}) TO '{_quoted(path)}' (FORMAT PARQUET, USE_TMP_FILE false)", params)
        return int(count)


def _quoted(path: Path) -> str:
    return str(path).replace("'", "''")


def _line(error: Exception) -> str:
    """DuckDB's message on one line."""
    return " ".join(str(error).split())


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)
