"""`regie directory import FILE` and `regie directory show`: the organisation directory
the escalation ladder and the access rules read (organisations, professionals with
their managers, regions with their process director)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from infra.directory import (
    DirectoryFileError,
    directory_changes,
    import_directory,
    load_directory_file,
    read_directory,
)
from infra.settings import Settings
from workers.cli.exit_codes import ExitCode
from workers.cli.options import JsonOption, execute
from workers.cli.output import cell, emit_json, fail, line, markup, note, show, table, when_text
from workers.cli.runtime import load_policy, open_store

_SIGN = {"added": "+", "changed": "~", "removed": "-"}


async def directory_import(settings: Settings, path: Path, *, as_json: bool = False) -> int:
    # Validate before touching the database: a bad file must not need a server to report.
    try:
        directory = load_directory_file(path)
    except DirectoryFileError as error:
        return fail(str(error).replace("\n", "; "), ExitCode.FAILED)
    store, _server = await open_store(settings)
    async with store.pool.acquire() as conn:
        report = await import_directory(conn, directory, source=str(path))
    if as_json:
        emit_json(report)
        return 0
    for summary in report.summary():
        line(markup(summary))
    for change in report.changes:
        line(markup(f"  {_SIGN[change.change]} {change.entity} {change.entity_id} "
                    f"({change.change})"))
    if not report.changes:
        line(markup(f"the directory already matches {path}; nothing changed"))
    return 0


async def directory_show(settings: Settings, limit: int, *, as_json: bool = False) -> int:
    time_zone = load_policy().time_zone
    store, _server = await open_store(settings)
    async with store.pool.acquire() as conn:
        directory = await read_directory(conn)
        changes = await directory_changes(conn, limit=limit)
    if as_json:
        emit_json({"directory": directory, "changes": changes})
        return 0
    if not directory.professionals:
        note("the directory is empty; import one with `regie directory import FILE`")
        return 0

    def gone(active: bool) -> str:
        return "" if active else "inactive"

    organisations = table("organisation", "name", "webhook", "", title="Organisations")
    for o in directory.organisations:
        organisations.add_row(cell(o.id), cell(o.name), cell(o.webhook_url), cell(gone(o.active)))
    professionals = table("professional", "name", "at", "manager", "", title="Professionals")
    for p in directory.professionals:
        professionals.add_row(cell(p.id), cell(p.name), cell(p.organisation_id),
                              cell(p.manager_id), cell(gone(p.active)))
    regions = table("region", "name", "process director", "", title="Regions")
    for r in directory.regions:
        regions.add_row(cell(r.id), cell(r.name), cell(r.process_director_id),
                        cell(gone(r.active)))
    latest = table("#", "imported", "change", "what", "from",
                   title=f"Latest changes ({len(changes)})")
    for c in changes:
        latest.add_row(cell(c.seq), cell(when_text(c.imported_at, time_zone)), cell(c.change),
                       cell(f"{c.entity} {c.entity_id}"), cell(c.source))
    show(organisations, professionals, regions, latest)
    return 0


def register(app: typer.Typer) -> None:
    directory = typer.Typer(no_args_is_help=True,
                            help="The organisation directory (the escalation ladder).")
    app.add_typer(directory, name="directory")

    @directory.command("import")
    def import_command(
        file: Annotated[Path, typer.Argument(help="The directory as YAML.")],
        as_json: JsonOption = False,
    ) -> None:
        """Replace the directory with a YAML file; whoever is missing from it becomes
        inactive. The file is checked before the database is touched."""
        execute(lambda settings: directory_import(settings, file, as_json=as_json))

    @directory.command("show")
    def show_command(
        changes: Annotated[int, typer.Option("--changes", min=0,
                                             help="How many changes to list.")] = 20,
        as_json: JsonOption = False,
    ) -> None:
        """The directory and its latest changes."""
        execute(lambda settings: directory_show(settings, changes, as_json=as_json))
