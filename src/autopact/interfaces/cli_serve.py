"""CLI command ``serve``: the web app and REST API (``autopact.interfaces.web_api``) on a local port.

FastAPI and uvicorn are imported inside the command (the ``web`` extra), so the rest of the CLI
starts as fast without them and works where they are not installed.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Optional

import typer

from autopact.interfaces.console import _fail, app, err

TOKEN_VARIABLE = "AUTOPACT_WEB_TOKEN"


@app.command("serve")
def serve_command(
    host: Annotated[str, typer.Option(help="Address to listen on (127.0.0.1: this machine only).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port to listen on.")] = 8000,
    store: Annotated[Optional[Path], typer.Option(help="Results store (DuckDB); default in the user's data directory.")] = None,
    token: Annotated[Optional[str], typer.Option(help=f"Require 'Authorization: Bearer <token>' on the API "
                                                      f"(default: ${TOKEN_VARIABLE}, if set).")] = None,
    read_only: Annotated[bool, typer.Option("--read-only", help="Serve stored runs only: no new runs or jobs.")] = False,
    max_jobs: Annotated[int, typer.Option(min=1, help="Background jobs (draws) at once; more are answered busy.")] = 1,
    max_draws: Annotated[int, typer.Option(min=1, help="Most draws a job may ask for.")] = 500,
    rate: Annotated[int, typer.Option(min=1, help="Requests a minute allowed from one address.")] = 600,
    max_body: Annotated[int, typer.Option(min=1024, help="Largest request body, bytes.")] = 256 * 1024,
) -> None:
    """Start the web app: a scenario builder, results, comparisons and permalinks in a browser, and the
    REST API (OpenAPI at /docs). Open http://127.0.0.1:8000 after it starts."""
    try:
        import uvicorn

        from autopact.interfaces.web_api import create_app
        from autopact.interfaces.web_service import Settings
    except ImportError as error:
        _fail(ImportError(f"the web app needs the 'web' extra ({error.name} is missing): pip install -e '.[web]'"))
    settings = Settings(store=store, token=token or os.environ.get(TOKEN_VARIABLE) or None, read_only=read_only,
                        max_jobs=max_jobs, max_draws=max_draws, rate_per_minute=rate, max_body_bytes=max_body)
    web = create_app(settings)
    if settings.warm and not read_only:
        err.print("loading the 2025 market and solving its baseline ...", highlight=False)
        web.state.service.warm()
    if host not in ("127.0.0.1", "localhost", "::1") and not settings.token:
        err.print(f"warning: listening on {host} without a token: anyone who reaches this address can run scenarios "
                  f"(set --token or {TOKEN_VARIABLE})", highlight=False)
    err.print(f"autopact web app on http://{host}:{port} (API docs: /docs); Ctrl+C stops it", highlight=False)
    uvicorn.run(web, host=host, port=port, log_level="warning")
