"""What every `regie` command shares on the command line: `--json`, and running the
command's coroutine with the settings to an exit code."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any, NoReturn

import typer

from infra.settings import Settings
from workers.cli.exit_codes import CliError
from workers.cli.output import fail
from workers.cli.runtime import load_settings, run

JsonOption = Annotated[bool, typer.Option(
    "--json", help="Print JSON for scripts (one document per line) instead of tables.")]


def execute(command: Callable[[Settings], Coroutine[Any, Any, int]]) -> NoReturn:
    """Run `command` with the settings from the environment; exit with its code."""
    try:
        settings = load_settings()
    except CliError as error:
        raise typer.Exit(fail(error.message, error.code)) from None
    raise typer.Exit(run(command(settings)))
