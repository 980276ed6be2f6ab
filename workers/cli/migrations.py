"""`regie migrate`: apply the database migrations that are not applied yet."""

from __future__ import annotations

import typer

from infra.settings import Settings
from workers.cli.options import JsonOption, execute
from workers.cli.output import emit_json, line
from workers.cli.runtime import open_store


async def migrate(settings: Settings, *, as_json: bool = False) -> int:
    await open_store(settings)  # opening the store migrates, as every process does
    if as_json:
        emit_json({"migrated": True})
    else:
        line("migrations applied")
    return 0


def register(app: typer.Typer) -> None:
    @app.command("migrate")
    def migrate_command(as_json: JsonOption = False) -> None:
        """Apply pending database migrations."""
        execute(lambda settings: migrate(settings, as_json=as_json))
