"""What every CLI command shares: the typer app, the consoles, failing with exit status 2, writing outputs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console

app = typer.Typer(help="autopact: simulate US policy toward Chinese automakers on the 2025 US car market.",
                  no_args_is_help=True, add_completion=False)
data_app = typer.Typer(help="Inspect and validate market data.", no_args_is_help=True)
app.add_typer(data_app, name="data")

out = Console()
err = Console(stderr=True)

SetOption = Annotated[list[str], typer.Option("--set", help="Change a named assumption: --set price_level=msrp")]


def _fail(error: Exception) -> None:
    err.print(f"[bold red]error:[/bold red] {error}", markup=True, highlight=False)
    raise typer.Exit(code=2)


def _write_outputs(document: dict[str, Any], json_path: Optional[Path], report: Optional[Path], kind: str = "simulate") -> None:
    if json_path:
        _write_atomically(json_path, json.dumps(document, indent=2, default=str))
        err.print(f"wrote {json_path}")
    if report:
        from autopact.interfaces.report import html_report, sensitivity_report, sweep_report  # plotly: only when asked

        render = {"simulate": html_report, "sensitivity": sensitivity_report, "sweep": sweep_report}[kind]
        _write_atomically(report, render(document))
        err.print(f"wrote {report}")


def _write_atomically(path: Path, text: str) -> None:
    temporary = path.with_name(path.name + ".partial")
    temporary.write_text(text)
    temporary.replace(path)
