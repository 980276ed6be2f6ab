"""`regie waiting`: waiting times against the region's norms (intake, start of care),
per stage, and the families waiting now (from the case list read model,
`infra.waiting`)."""

from __future__ import annotations

from typing import Annotated

import typer

from infra.settings import Settings
from infra.waiting import StageSummary, summarise, waiting_times
from workers.cli.options import JsonOption, execute
from workers.cli.output import cell, emit_json, show, table, when_text
from workers.cli.runtime import load_policy, log_access, open_store
from workers.cli.words import word


def share_text(share: float | None) -> str:
    return "-" if share is None else f"{share:.0%}"


def summary_table(summary: list[StageSummary], title: str) -> object:
    grid = table("waiting for", "norm", "waits", "within the norm", "still waiting",
                 "median working days", "share within", title=title)
    for s in summary:
        grid.add_row(cell(word(s.stage)), cell(f"{s.norm_weeks} weeks"), cell(s.waits),
                     cell(s.within_norm), cell(s.still_waiting),
                     cell("-" if s.median_working_days is None else
                          f"{s.median_working_days:g}"),
                     cell(share_text(s.share_within_norm)))
    return grid


async def waiting(settings: Settings, *, region: str | None, year: int | None,
                  as_json: bool = False) -> int:
    policy = load_policy()
    store, _server = await open_store(settings)
    await log_access(store, "waiting")
    async with store.pool.acquire() as conn:
        rows = await waiting_times(conn, region=region, year=year, policy=policy)
    summary = summarise(rows, policy)
    if as_json:
        emit_json({"summary": summary, "waits": rows})
        return 0
    scope = f"{year}" if year else "all years"
    show(summary_table(summary, f"Waiting times against the norms ({scope})"))
    still = [r for r in rows if r.ended_at is None]
    if still:
        grid = table("case", "waiting for", "since", "norm deadline", "working days",
                     title="Waiting now")
        for r in still:
            style = "" if r.within_norm else "bold red"
            grid.add_row(cell(r.case_id, style), cell(word(r.stage)),
                         cell(when_text(r.since, policy.time_zone)),
                         cell(when_text(r.norm_deadline, policy.time_zone), style),
                         cell(r.working_days_waited, style))
        show(grid)
    return 0


def register(app: typer.Typer) -> None:
    @app.command("waiting")
    def waiting_command(
        region: Annotated[str | None, typer.Option(help="Only this region's cases.")] = None,
        year: Annotated[int | None, typer.Option(
            min=2000, max=2100, help="Only the waits that began in this year.")] = None,
        as_json: JsonOption = False,
    ) -> None:
        """Waiting times against the norms (intake, start of care), and who waits now;
        beyond the norm stands out."""
        execute(lambda settings: waiting(settings, region=region, year=year,
                                         as_json=as_json))
