"""The ``autopact`` command: every command module registers its commands on one typer app."""

from __future__ import annotations

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


def main() -> None:
    """Run the CLI. A known error that a command did not turn into its own line becomes one here:
    ``error: ...`` on stderr and exit status 2 (AUTOPACT_DEBUG=1 shows the traceback)."""
    try:
        app()
    except Exception as error:
        if not _known(error) or debugging():
            raise
        print_error(error)
        raise SystemExit(2) from None


if __name__ == "__main__":  # pragma: no cover
    main()
