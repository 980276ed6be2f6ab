"""`regie case verify ID` and `regie verify --all`: does the live workflow hold what the
store says?

The store is the source of truth and the workflow's state must be exactly the fold of
its stream (append, then apply). Verifying rebuilds the state from the store alone and
compares it with the live workflow's `state` query, field by field. Both sides are
compared without personal text, as the query shows it (names and free text stay in the
store). A workflow appends before it applies, so a state read a moment after an append
can trail the store by a step: a difference is confirmed by reading both again before
it is reported.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Annotated, Any

import typer
from pydantic import BaseModel, ConfigDict
from temporalio.client import Client, WorkflowQueryFailedError
from temporalio.service import RPCError, RPCStatusCode

from domain.personal import without_personal_text
from domain.trajectory import TrajectoryState, fold, stream_id_for
from infra.case_list import OPEN_PHASE_VALUES
from infra.event_store import PostgresEventStore
from infra.settings import Settings
from workers.cli.case_id import CaseIdArgument
from workers.cli.exit_codes import CliError, ExitCode
from workers.cli.options import JsonOption, execute
from workers.cli.output import (
    cell,
    emit_json,
    fail,
    line,
    markup,
    note,
    plain,
    progress,
    show,
    table,
)
from workers.cli.runtime import log_access, open_store, temporal_client
from workflows.trajectory import FamilyTrajectoryWorkflow, workflow_id_for

QUERY_TIMEOUT = timedelta(seconds=10)
CONFIRMATIONS = 3  # reads of both sides before a difference counts
CONFIRMATION_PAUSE = 0.5


class Difference(BaseModel):
    model_config = ConfigDict(frozen=True)
    path: str
    store: Any
    live: Any


class Verdict(BaseModel):
    model_config = ConfigDict(frozen=True)
    case_id: str
    same: bool
    live: bool  # False: no running workflow to compare with
    store_version: int
    live_version: int | None
    differences: tuple[Difference, ...] = ()


def differences(store: Any, live: Any, path: str = "") -> list[Difference]:
    """Where two JSON documents differ, as paths such as `episodes[0].level`."""
    if isinstance(store, dict) and isinstance(live, dict):
        found: list[Difference] = []
        for key in sorted(set(store) | set(live)):
            found += differences(store.get(key), live.get(key),
                                 f"{path}.{key}" if path else str(key))
        return found
    if isinstance(store, list) and isinstance(live, list) and len(store) == len(live):
        return [d for i, (a, b) in enumerate(zip(store, live, strict=True))
                for d in differences(a, b, f"{path}[{i}]")]
    return [] if store == live else [Difference(path=path or "(state)", store=store,
                                                live=live)]


async def _live_state(temporal: Client, case_id: str) -> TrajectoryState | None:
    handle = temporal.get_workflow_handle(workflow_id_for(case_id))
    try:
        return await handle.query(FamilyTrajectoryWorkflow.state, rpc_timeout=QUERY_TIMEOUT)
    except RPCError as error:
        if error.status is RPCStatusCode.NOT_FOUND:
            return None
        if error.status is RPCStatusCode.DEADLINE_EXCEEDED:
            raise CliError(f"no worker answered the state query of case {case_id} within "
                           f"{QUERY_TIMEOUT.seconds} s: is the Regie worker running?",
                           ExitCode.UNAVAILABLE) from None
        raise
    except WorkflowQueryFailedError as error:
        raise CliError(f"the workflow of case {case_id} could not answer its state query "
                       f"({str(error)[:200]})", ExitCode.FAILED) from None


async def verify_case(store: PostgresEventStore, temporal: Client, case_id: str
                      ) -> Verdict | None:
    """The comparison of case `case_id`; None when the store has no such case."""
    for attempt in range(CONFIRMATIONS):
        events = await store.read_stream(stream_id_for(case_id))
        if not events:
            return None
        rebuilt = without_personal_text(fold(events))
        live = await _live_state(temporal, case_id)
        if live is None:
            return Verdict(case_id=case_id, same=True, live=False,
                           store_version=rebuilt.version, live_version=None)
        found = differences(rebuilt.model_dump(mode="json"), live.model_dump(mode="json"))
        if not found or attempt == CONFIRMATIONS - 1:
            return Verdict(case_id=case_id, same=not found, live=True,
                           store_version=rebuilt.version, live_version=live.version,
                           differences=tuple(found))
        await asyncio.sleep(CONFIRMATION_PAUSE)
    raise AssertionError("unreachable: the last attempt returns")


def _short(value: Any) -> str:
    text = plain(value)
    return text if len(text) <= 120 else text[:117] + "..."


def show_verdict(verdict: Verdict) -> None:
    if not verdict.live:
        line(markup(f"case {verdict.case_id}: no running workflow; the store holds "
                    f"version {verdict.store_version} (nothing live to compare)"))
        return
    if verdict.same:
        line(markup(f"case {verdict.case_id}: the live state equals its rebuild from the "
                    f"store (version {verdict.store_version})"))
        return
    grid = table("field", "rebuilt from the store", "live workflow",
                 title=f"case {verdict.case_id}: the live state differs from its rebuild")
    for d in verdict.differences:
        grid.add_row(cell(d.path), cell(_short(d.store)), cell(_short(d.live)))
    show(grid)


async def case_verify(settings: Settings, case_id: str, *, as_json: bool,
                      client: Client | None = None) -> int:
    store, _server = await open_store(settings)
    await log_access(store, "case_verify", case_id=case_id)
    temporal = client or await temporal_client(settings)
    verdict = await verify_case(store, temporal, case_id)
    if verdict is None:
        return fail(f"there is no case {case_id!r}; see `regie case list` or "
                    "`regie overview`", ExitCode.NOT_FOUND)
    if as_json:
        emit_json(verdict)
    else:
        show_verdict(verdict)
    if not verdict.same:
        return fail(f"case {case_id}: the live state differs from the store in "
                    f"{len(verdict.differences)} field(s)", ExitCode.FAILED)
    return 0


async def open_case_ids(store: PostgresEventStore) -> list[str]:
    """The open cases, from the trajectory overview (the projector keeps it)."""
    async with store.pool.acquire() as conn:
        rows = await conn.fetch("SELECT case_id FROM trajectory_overview "
                                "WHERE status = ANY($1::text[]) ORDER BY case_id",
                                OPEN_PHASE_VALUES)
    return [r["case_id"] for r in rows]


async def verify_all(settings: Settings, *, as_json: bool, client: Client | None = None
                     ) -> int:
    store, _server = await open_store(settings)
    await log_access(store, "verify_all")
    temporal = client or await temporal_client(settings)
    cases = await open_case_ids(store)
    if not cases:
        note("no open cases in the trajectory overview (the projector fills it)")
        return 0
    diverged: list[str] = []
    with progress("verifying open cases", len(cases)) as (bar, task):
        for case_id in cases:
            verdict = await verify_case(store, temporal, case_id)
            bar.advance(task)
            if verdict is None:
                continue  # in the overview, not in the store: not this command's finding
            if as_json:
                emit_json(verdict)
            elif not verdict.same:
                show_verdict(verdict)
            if not verdict.same:
                diverged.append(case_id)
    if diverged:
        return fail(f"{len(diverged)} of {len(cases)} open cases differ from the store: "
                    f"{', '.join(diverged)}", ExitCode.FAILED)
    note(f"all {len(cases)} open cases equal their rebuild from the store")
    return 0


def register(app: typer.Typer, cases: typer.Typer) -> None:
    @cases.command("verify")
    def verify_command(case_id: CaseIdArgument, as_json: JsonOption = False) -> None:
        """Rebuild the case's state from the store alone and compare it with the live
        workflow's; exit 1 with the differences when they differ."""
        execute(lambda settings: case_verify(settings, case_id, as_json=as_json))

    @app.command("verify")
    def verify_all_command(
        every: Annotated[bool, typer.Option(
            "--all", help="Every open case (required: it says what is checked).")] = False,
        as_json: JsonOption = False,
    ) -> None:
        """`case verify` for every open case, with a progress bar; exit 1 when any
        differs."""
        if not every:
            raise typer.BadParameter("say --all (or check one case: regie case verify ID)")
        execute(lambda settings: verify_all(settings, as_json=as_json))
