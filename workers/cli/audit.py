"""`regie audit`: the access log (NEN 7513): who read or changed which case or person,
when, and with what outcome; the CLI's own reads included."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Annotated

import typer

from domain.local_time import zone
from infra.access_log import Outcome, read_access_log
from infra.settings import Settings
from workers.cli.options import JsonOption, execute
from workers.cli.output import cell, emit_json, note, show, table, when_text
from workers.cli.runtime import load_policy, log_access, open_store


async def audit(settings: Settings, case_id: str | None, principal_id: str | None,
                since: date | None, as_json: bool, limit: int) -> int:
    time_zone = load_policy().time_zone
    store, _server = await open_store(settings)
    await log_access(store, "audit", case_id=case_id)
    start = None if since is None else datetime.combine(since, time(), tzinfo=zone(time_zone))
    async with store.pool.acquire() as conn:
        rows = await read_access_log(conn, case_id=case_id, principal_id=principal_id,
                                     since=start, limit=limit)
    if as_json:
        for r in rows:
            emit_json(r)
        return 0
    if not rows:
        note("no matching accesses")
        return 0
    grid = table("when", "who", "action", "about", "outcome", "request", "reason")
    for r in rows:
        about = r.case_id or (f"person {r.person_id}" if r.person_id else "-")
        outcome = r.outcome.value + (f" {r.status}" if r.status else "")
        reason = r.reason if r.reason and r.outcome is not Outcome.ALLOWED else "-"
        grid.add_row(cell(when_text(r.at, time_zone, seconds=True)),
                     cell(f"{r.principal_kind}:{r.principal_id or '-'}"), cell(r.action),
                     cell(about), cell(outcome, "" if r.outcome is Outcome.ALLOWED else "red"),
                     cell(r.request_id), cell(reason))
    show(grid)
    return 0


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter("a day as YYYY-MM-DD") from None


def register(app: typer.Typer) -> None:
    @app.command("audit")
    def audit_command(
        case_id: Annotated[str | None, typer.Option("--case", help="One case.")] = None,
        principal_id: Annotated[str | None, typer.Option(
            "--principal", help="A partner organisation or professional id, or an "
            "operating system user for CLI reads.")] = None,
        since: Annotated[str | None, typer.Option(
            help="YYYY-MM-DD, from midnight in the region's time zone.")] = None,
        limit: Annotated[int, typer.Option(min=1, help="At most this many (latest).")
                         ] = 1000,
        as_json: JsonOption = False,
    ) -> None:
        """The access log (NEN 7513): who read or changed what, and when."""
        day = None if since is None else _day(since)
        execute(lambda settings: audit(settings, case_id, principal_id, day, as_json,
                                       limit))
