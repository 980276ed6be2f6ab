"""The `regie` command: its commands, `--version`, shell completion, and the exit."""

from __future__ import annotations

import tomllib
from importlib import metadata
from pathlib import Path
from typing import Annotated

import typer

from workers.cli import (
    audit,
    case_history,
    case_list,
    case_show,
    case_verify,
    caseload,
    demo,
    directory,
    erasure,
    escalations,
    key_encryption,
    migrations,
    overview,
    partner_keys,
    payload_keys,
    projections,
    region_report,
    tokens,
    waiting,
)
from workers.cli.exit_codes import EXIT_CODES_HELP

HELP = (
    "Regie for operators: what happened to a case and why, its workflow runs, whether "
    "the live state matches the store; the access log, the directory, partner keys and "
    "key rotation. Times are shown in the region's clock (Europe/Amsterdam by default). "
    "Without REGIE_DATABASE_URL it uses the embedded PostgreSQL under the data dir; "
    "reading case data here is recorded in the access log under the operating system "
    "user.\n\n" + EXIT_CODES_HELP)


def version() -> str:
    try:
        return metadata.version("regie")
    except metadata.PackageNotFoundError:
        # Run from the repository (the venv puts the root on the path, not a build):
        # the version is the project's.
        pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
        return str(tomllib.loads(pyproject.read_text())["project"]["version"])


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"regie {version()}")
        raise typer.Exit(0)


def build() -> typer.Typer:
    # Markdown: docstrings are wrapped to the terminal rather than kept line by line.
    app = typer.Typer(name="regie", help=HELP, rich_markup_mode="markdown",
                      no_args_is_help=True, pretty_exceptions_enable=False,
                      context_settings={"help_option_names": ["-h", "--help"]})

    @app.callback()
    def root(
        show_version: Annotated[bool, typer.Option(
            "--version", callback=_show_version, is_eager=True,
            help="Print the version and exit.")] = False,
    ) -> None:
        """Regie for operators."""

    cases = typer.Typer(
        no_args_is_help=True, rich_markup_mode="markdown",
        help="One case: its state and timeline, its workflow runs, and whether the live "
        "state matches the store.")
    app.add_typer(cases, name="case")
    case_show.register(app, cases)
    case_history.register(cases)
    case_verify.register(app, cases)
    case_list.register(cases)
    escalations.register(app)
    caseload.register(app)
    waiting.register(app)
    region_report.register(app)
    projections.register(app)
    demo.register(app)
    overview.register(app)
    audit.register(app)
    erasure.register(app)
    migrations.register(app)
    directory.register(app)
    partner_keys.register(app)
    tokens.register(app)
    key_encryption.register(app)
    payload_keys.register(app)
    return app


def main(argv: list[str] | None = None) -> int:
    """Run `regie` with `argv` (default: the process's arguments); the exit code."""
    try:
        build()(args=argv, prog_name="regie")
    except SystemExit as exit_:
        code = exit_.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    return 0
