"""The ``autopact`` command: every command module registers its commands on one typer app."""

from __future__ import annotations

import errno
import gc
import os
import sys
from typing import NoReturn

from autopact.interfaces import (  # noqa: F401  (register their commands)
    cli_data, cli_project, cli_runs, cli_serve, cli_simulate, cli_timeline, cli_validate)
from autopact.interfaces.console import app, debugging, print_error


def _known(error: BaseException) -> bool:
    """Errors about the user's input or environment (a file, the store, a setting), not bugs: shown as
    one line. Anything else keeps its traceback, so a real bug stays visible."""
    import yaml
    from pydantic import ValidationError

    from autopact.data import MarketDataError
    from autopact.data.assumptions import AssumptionError
    from autopact.errors import ConvergenceError, ScenarioError
    from autopact.fit.formulas import FormulaError
    from autopact.fit.problem import EstimationError
    from autopact.fit.saved import EstimationFileError
    from autopact.interfaces.outputs import OutputError
    from autopact.runs.execution import SchedulerError
    from autopact.runs.store import StoreError

    known = (OSError, ScenarioError, MarketDataError, AssumptionError, EstimationFileError, OutputError, StoreError,
             SchedulerError, ValidationError, yaml.YAMLError, FormulaError, EstimationError, ConvergenceError)
    return isinstance(error, known) or type(error).__module__.split(".")[0] in ("duckdb", "_duckdb")


# The exit status of a command whose standard output was closed by its reader (``... | head``):
# 128 + SIGPIPE, what a shell reports for a program that SIGPIPE ends (Python ignores SIGPIPE and
# raises BrokenPipeError instead, so it has to exit with it itself).
CLOSED_PIPE_STATUS = 128 + 13


def _closed_pipe() -> NoReturn:
    """Exit quietly because the reader of standard output went away, as the Python documentation
    recommends (signal module, "Note on SIGPIPE"): point standard output at /dev/null so that the
    interpreter's final flush cannot raise again, and exit with CLOSED_PIPE_STATUS."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    raise SystemExit(CLOSED_PIPE_STATUS)


def _is_closed_pipe(error: BaseException | None) -> bool:
    return isinstance(error, BrokenPipeError) or (isinstance(error, OSError) and error.errno == errno.EPIPE)


# Collector thresholds of a command: a collection of the youngest objects after 10,000 allocations
# instead of Python's 700, the older generations at Python's ratios (10, 10). The imports of a
# ``simulate`` (numpy, pandas, scipy, pydantic, DuckDB) allocate hundreds of thousands of objects
# that live as long as the process, and each full collection walked them all: 259 collections took
# 73-117 ms of a warm ``simulate ford-byd-jv``, 17 collections 39 ms with these thresholds.
GC_THRESHOLD = (10_000, 10, 10)


def main() -> None:
    """Run the CLI. A known error that a command did not turn into its own line becomes one here:
    ``error: ...`` on stderr and exit status 2 (AUTOPACT_DEBUG=1 shows the traceback). A closed
    standard output (``autopact ... | head``) ends the command quietly (``_closed_pipe``).

    The garbage collector runs less often (``GC_THRESHOLD``) and, as the process ends when ``main``
    returns, every object still alive is first moved out of its reach (``gc.freeze``), so the
    interpreter's last collections skip the objects of numpy, pandas, scipy and DuckDB. Together
    they took about 0.2 s of a 1.1 s ``simulate ford-byd-jv`` here. Objects are still released by
    their reference counts and ``atexit`` handlers run as before; only garbage left in reference
    cycles is not collected at exit (which Python does not promise anyway)."""
    gc.set_threshold(*GC_THRESHOLD)
    try:
        _command()
    finally:
        gc.freeze()


def _command() -> None:
    try:
        app()  # typer always ends with SystemExit
    except SystemExit as done:
        # click turns a BrokenPipeError in a command into a silent exit 1; the error is its context
        if done.code == 1 and _is_closed_pipe(done.__context__):
            _closed_pipe()
        try:  # what is still buffered, now, while a closed pipe can be handled
            sys.stdout.flush()
        except BrokenPipeError:
            _closed_pipe()
        raise
    except Exception as error:
        if _is_closed_pipe(error) or _is_closed_pipe(getattr(error, "__cause__", None)):
            _closed_pipe()
        if not _known(error) or debugging():
            raise
        print_error(error)
        raise SystemExit(2) from None


if __name__ == "__main__":  # pragma: no cover
    main()
