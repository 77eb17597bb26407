"""What every CLI command shares: the typer app, the consoles, failing with exit status 2, writing outputs."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any, NoReturn, Optional

import typer
from rich.console import Console
from rich.markup import escape

from autopact.interfaces.outputs import Output, OutputError, check_all, write

app = typer.Typer(help="autopact: simulate US policy toward Chinese automakers on the 2025 US car market.",
                  no_args_is_help=True, add_completion=False)
data_app = typer.Typer(help="Inspect and validate market data.", no_args_is_help=True)
app.add_typer(data_app, name="data")

# No markup by default: user text (scenario descriptions, product names, paths) is printed as
# written; the few fixed labels that use colour pass markup=True and escape what they embed.
out = Console(markup=False)
err = Console(stderr=True, markup=False)

SetOption = Annotated[list[str], typer.Option("--set", help="Change a named assumption: --set price_level=msrp")]
DEBUG = "AUTOPACT_DEBUG"  # set (to anything but 0 or empty) to see the traceback behind an error line


def debugging() -> bool:
    return os.environ.get(DEBUG, "") not in ("", "0")


def message(error: BaseException) -> str:
    """An error's text: an operating-system error as its file and the problem ("scenarios: Is a directory"),
    a data error with one problem as that problem (with several, their list, one a line)."""
    if isinstance(error, OSError) and error.strerror:
        return f"{error.filename}: {error.strerror}" if error.filename is not None else error.strerror
    issues = getattr(error, "issues", None)
    if isinstance(issues, list) and len(issues) == 1:
        return f"market data: {issues[0]}"
    return str(error) or type(error).__name__


def _fail(error: BaseException) -> NoReturn:
    """One line on stderr and exit status 2; with AUTOPACT_DEBUG=1 the traceback instead. A closed
    standard output is no error to report: it is raised on, and ``cli.main`` exits quietly."""
    if debugging() or isinstance(error, BrokenPipeError):
        raise error
    print_error(error)
    raise typer.Exit(code=2)


def print_error(error: BaseException) -> None:
    err.print(f"[bold red]error:[/bold red] {escape(message(error))}", markup=True, highlight=False, soft_wrap=True)


def _check_outputs(*named: tuple[str, Optional[Path]], inputs: tuple = ()) -> dict[str, Output]:
    """Check the command's output paths before any work (``outputs.check``); fails with one line.
    When one of them is standard output, the command's tables go to stderr, so stdout holds that output alone."""
    try:
        checked = check_all(named, inputs)
    except OutputError as error:
        _fail(error)
    out.stderr = any(o.to_stdout for o in checked)
    return {o.option: o for o in checked}


def _write(items: list[tuple[Output, str | bytes]], run_id: Optional[str] = None) -> None:
    """Write checked outputs (``outputs.write``); a failure is one line (naming the stored run) and exit 2."""
    try:
        write(items)
    except OutputError as error:
        _fail(OutputError(f"{error}; the run is stored as {run_id} (autopact runs show {run_id})") if run_id else error)
    for output, _ in items:
        if not output.to_stdout:
            err.print(f"wrote {output.given}", highlight=False, soft_wrap=True)


def _write_outputs(document: dict[str, Any], outputs: dict[str, Output], kind: str = "simulate") -> None:
    """The document as JSON (``--json``) and as an HTML report (``--report``), both rendered before either is written."""
    from autopact.outcomes.document import finite_document

    items: list[tuple[Output, str | bytes]] = []
    if "--json" in outputs:
        # strict JSON: a NaN or infinity is written as null and listed under non_finite
        items.append((outputs["--json"], json.dumps(finite_document(document), indent=2, default=str, allow_nan=False)))
    if "--report" in outputs:
        from autopact.interfaces.report import html_report, sensitivity_report, sweep_report  # plotly: only when asked
        from autopact.interfaces.report_projection import projection_report

        render = {"simulate": html_report, "sensitivity": sensitivity_report, "sweep": sweep_report,
                  "projection": projection_report}[kind]
        items.append((outputs["--report"], render(document)))
    _write(items, document.get("run_id"))
