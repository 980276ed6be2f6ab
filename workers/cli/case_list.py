"""`regie case list`: the trajectories, filtered, sorted and a page at a time, from the
case list read model (`infra.case_list`; definitions in docs/read_models.md)."""

from __future__ import annotations

from typing import Annotated, get_args

import typer

from domain.trajectory import Phase
from infra.case_list import CaseRow, CaseSort, list_cases
from infra.settings import Settings
from workers.cli.directory_names import named, professional_names
from workers.cli.options import JsonOption, execute
from workers.cli.output import cell, emit_json, note, show, table, when_text
from workers.cli.runtime import load_policy, log_access, open_store
from workers.cli.words import word

# The read model's sort keys, by name (typer takes a str; the query a CaseSort).
SORT_KEYS: dict[str, CaseSort] = {key: key for key in get_args(CaseSort)}


async def case_list(settings: Settings, *, phase: Phase | None = None,
                    coordinator: str | None = None, region: str | None = None,
                    escalated: bool | None = None, in_aftercare: bool | None = None,
                    beyond_norm: bool | None = None, sort: CaseSort = "referred_at",
                    descending: bool = False, limit: int = 50, offset: int = 0,
                    as_json: bool = False) -> int:
    policy = load_policy()
    store, _server = await open_store(settings)
    await log_access(store, "case_list")
    async with store.pool.acquire() as conn:
        rows = await list_cases(conn, phase=phase, coordinator=coordinator, region=region,
                                escalated=escalated, in_aftercare=in_aftercare,
                                beyond_norm=beyond_norm, sort=sort, descending=descending,
                                limit=limit, offset=offset, policy=policy)
        names = await professional_names(conn)
    if as_json:
        for row in rows:
            emit_json(row)
        return 0
    if not rows:
        note("no cases match" if offset == 0 else f"no cases after the first {offset}")
        return 0
    show(_table(rows, names, policy.time_zone))
    note(f"cases {offset + 1} to {offset + len(rows)}" + (
        f"; the next page: --offset {offset + limit}" if len(rows) == limit else ""))
    return 0


def _table(rows: list[CaseRow], names: dict[str, str], time_zone: str) -> object:
    grid = table("case", "phase", "region", "coordinator", "referred", "waiting for",
                 "working days", "escalation", "next deadline", "family group plan")
    for r in rows:
        waiting = "-" if r.waiting_stage is None else word(r.waiting_stage)
        waited = "-" if r.working_days_waited is None else str(r.working_days_waited)
        if r.beyond_norm:
            waited += " (beyond the norm)"
        grid.add_row(cell(r.case_id), cell(word(r.phase)), cell(r.region),
                     cell(named(names, r.coordinator_id)),
                     cell(when_text(r.referred_at, time_zone)), cell(waiting),
                     cell(waited, "bold red" if r.beyond_norm else ""),
                     cell(f"level {r.escalation_level}" if r.escalation_level else "-",
                          "bold" if r.escalation_level else ""),
                     cell(when_text(r.next_deadline, time_zone) if r.next_deadline else "-"),
                     cell(word(r.family_group_plan)))
    return grid


def _sort_key(value: str) -> str:
    if value not in SORT_KEYS:
        raise typer.BadParameter(f"choose one of {', '.join(SORT_KEYS)}")
    return value


def register(cases: typer.Typer) -> None:
    @cases.command("list")
    def list_command(
        phase: Annotated[Phase | None, typer.Option(help="Only cases in this phase.")] = None,
        coordinator: Annotated[str | None, typer.Option(
            help="Only the cases of this care coordinator (directory id).")] = None,
        region: Annotated[str | None, typer.Option(help="Only this region's cases.")] = None,
        escalated: Annotated[bool | None, typer.Option(
            "--escalated/--not-escalated", help="With (or without) an open escalation.",
            show_default=False)] = None,
        in_aftercare: Annotated[bool | None, typer.Option(
            "--in-aftercare/--not-in-aftercare", help="In aftercare (or not).",
            show_default=False)] = None,
        beyond_norm: Annotated[bool | None, typer.Option(
            "--beyond-norm/--within-norm",
            help="Waiting beyond the region's norm (or not).", show_default=False)] = None,
        sort: Annotated[str, typer.Option(
            callback=_sort_key, help=f"One of: {', '.join(SORT_KEYS)}.")] = "referred_at",
        descending: Annotated[bool, typer.Option("--desc", help="Sort descending.")] = False,
        limit: Annotated[int, typer.Option(min=1, max=1000, help="Cases per page.")] = 50,
        offset: Annotated[int, typer.Option(min=0, help="Skip this many first.")] = 0,
        as_json: JsonOption = False,
    ) -> None:
        """The cases from the case list read model: filter, sort, page. Waiting is counted
        in Dutch working days against the region's norms (docs/read_models.md)."""
        key = SORT_KEYS[sort]  # `_sort_key` checked it
        execute(lambda settings: case_list(
            settings, phase=phase, coordinator=coordinator, region=region,
            escalated=escalated, in_aftercare=in_aftercare, beyond_norm=beyond_norm,
            sort=key, descending=descending, limit=limit, offset=offset, as_json=as_json))
