"""`regie overview`: one row per trajectory, from the trajectory overview read model
(no personal data in it)."""

from __future__ import annotations

from datetime import datetime

import typer
from pydantic import BaseModel, ConfigDict

from domain.trajectory import Phase
from infra.settings import Settings
from workers.cli.options import JsonOption, execute
from workers.cli.output import cell, emit_json, note, show, table, when_text
from workers.cli.runtime import load_policy, log_access, open_store
from workers.cli.words import word


class OverviewRow(BaseModel):
    """What an operator reads of one trajectory; the projector's own bookkeeping (stream
    version, last position) stays out."""

    model_config = ConfigDict(frozen=True)
    case_id: str
    phase: Phase
    referred_at: datetime
    referrals: int
    organisations: tuple[str, ...]
    coordinator_id: str | None
    first_plan_at: datetime | None
    closed_at: datetime | None
    reopened: int


async def overview(settings: Settings, *, as_json: bool = False) -> int:
    time_zone = load_policy().time_zone
    store, _server = await open_store(settings)
    await log_access(store, "overview")
    async with store.pool.acquire() as conn:
        records = await conn.fetch("SELECT * FROM trajectory_overview ORDER BY referred_at")
    rows = [OverviewRow(
        case_id=r["case_id"], phase=Phase(r["status"]), referred_at=r["referred_at"],
        referrals=r["referral_count"], organisations=tuple(r["organisations"]),
        coordinator_id=r["coordinator_id"], first_plan_at=r["first_plan_at"],
        closed_at=r["closed_at"], reopened=r["reopen_count"]) for r in records]
    if as_json:
        for row in rows:
            emit_json(row)
        return 0
    if not rows:
        note("no trajectories yet (the projector fills this view)")
        return 0
    grid = table("case", "phase", "referred", "by", "coordinator", "first plan", "closed",
                 "reopened")
    for row in rows:
        grid.add_row(cell(row.case_id), cell(word(row.phase)),
                     cell(when_text(row.referred_at, time_zone)),
                     cell(", ".join(row.organisations)), cell(row.coordinator_id),
                     cell(when_text(row.first_plan_at, time_zone) if row.first_plan_at
                          else None),
                     cell(when_text(row.closed_at, time_zone) if row.closed_at else None),
                     cell(row.reopened or ""))
    show(grid)
    return 0


def register(app: typer.Typer) -> None:
    @app.command("overview")
    def overview_command(as_json: JsonOption = False) -> None:
        """One row per trajectory: phase, when referred and by whom, coordinator, first
        plan, closure, reopenings (the trajectory overview read model)."""
        execute(lambda settings: overview(settings, as_json=as_json))
