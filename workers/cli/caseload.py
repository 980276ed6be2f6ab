"""`regie caseload`: each care coordinator's open cases against the region's cap (from
the case list read model and the reservations of appointments in flight,
`infra.caseload`)."""

from __future__ import annotations

from typing import Annotated

import typer

from infra.caseload import caseloads
from infra.settings import Settings
from workers.cli.directory_names import named, professional_names
from workers.cli.options import JsonOption, execute
from workers.cli.output import cell, emit_json, note, show, table
from workers.cli.runtime import load_policy, log_access, open_store

BAR_WIDTH = 20


def load_bar(held: int, cap: int) -> str:
    """How full, as a bar of the cap's width (past the cap: a mark for each one over)."""
    filled = min(held, cap) * BAR_WIDTH // cap
    return "█" * filled + "░" * (BAR_WIDTH - filled) + ("+" * (held - cap) if held > cap else "")


async def caseload(settings: Settings, region: str | None, *, as_json: bool = False) -> int:
    policy = load_policy()
    store, _server = await open_store(settings)
    await log_access(store, "caseload")
    async with store.pool.acquire() as conn:
        rows = await caseloads(conn, region, policy=policy)
        names = await professional_names(conn)
    if as_json:
        for row in rows:
            emit_json(row)
        return 0
    if not rows:
        note("no coordinator holds an open case")
        return 0
    grid = table("coordinator", "open cases", "being appointed", "cap", "",
                 title=f"Caseloads (cap {policy.caseload_cap})")
    for r in rows:
        style = "bold red" if r.over_cap else ""
        grid.add_row(cell(named(names, r.coordinator_id), style), cell(r.open_cases, style),
                     cell(r.reserved or "-"), cell(r.cap),
                     cell(load_bar(r.open_cases + r.reserved, r.cap), style))
    show(grid)
    note(f"{len(rows)} coordinators, {sum(r.over_cap for r in rows)} over the cap")
    return 0


def register(app: typer.Typer) -> None:
    @app.command("caseload")
    def caseload_command(
        region: Annotated[str | None, typer.Option(help="Only this region's cases.")] = None,
        as_json: JsonOption = False,
    ) -> None:
        """Each care coordinator's open cases against the region's caseload cap."""
        execute(lambda settings: caseload(settings, region, as_json=as_json))
