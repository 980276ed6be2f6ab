"""`regie escalations`: every open escalation episode, the earliest deadline first, with
its level, assignee, deadline and working days left; overdue ones stand out (from the
escalation board read model, `infra.escalation_board`)."""

from __future__ import annotations

import typer

from infra.escalation_board import open_episodes
from infra.settings import Settings
from workers.cli.directory_names import named, professional_names
from workers.cli.episode_clock import days_left_text
from workers.cli.options import JsonOption, execute
from workers.cli.output import cell, emit_json, note, show, table, when_text
from workers.cli.runtime import load_policy, log_access, open_store
from workers.cli.words import word


async def escalations(settings: Settings, *, as_json: bool = False) -> int:
    policy = load_policy()
    store, _server = await open_store(settings)
    await log_access(store, "escalations")
    async with store.pool.acquire() as conn:
        episodes = await open_episodes(conn, policy=policy)
        names = await professional_names(conn)
    if as_json:
        for episode in episodes:
            emit_json(episode)
        return 0
    if not episodes:
        note("no open escalation episodes")
        return 0
    grid = table("case", "episode", "stagnation", "level", "with", "deadline", "left",
                 "acknowledged", "region alerts", title="Open escalations")
    for e in episodes:
        style = "bold red" if e.overdue else ""
        grid.add_row(
            cell(e.case_id, style), cell(e.episode_id), cell(word(e.cause)),
            cell(f"{e.level} ({word(e.assignee_role)})" if e.level else "not yet"),
            cell(named(names, e.assignee_id)),
            cell(when_text(e.deadline, policy.time_zone) if e.deadline else "-"),
            cell("-" if e.working_days_left is None else days_left_text(e.working_days_left),
                 style),
            cell("yes" if e.acknowledged else "no"), cell(e.region_alerts or "-"))
    show(grid)
    overdue = sum(e.overdue for e in episodes)
    note(f"{len(episodes)} open, {overdue} overdue")
    return 0


def register(app: typer.Typer) -> None:
    @app.command("escalations")
    def escalations_command(as_json: JsonOption = False) -> None:
        """Open escalation episodes: level, assignee, deadline and Dutch working days
        left; overdue ones stand out."""
        execute(lambda settings: escalations(settings, as_json=as_json))
