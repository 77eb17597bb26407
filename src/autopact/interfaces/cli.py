"""The ``autopact`` command: every command module registers its commands on one typer app."""

from __future__ import annotations

from autopact.interfaces import cli_data, cli_runs, cli_simulate, cli_validate  # noqa: F401  (register their commands)
from autopact.interfaces.console import app


def main() -> None:
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
