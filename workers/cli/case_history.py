"""`regie case history ID`: the Temporal runs of a case's workflow. A trajectory
continues as new long before its history grows large, so one case is a chain of runs
under the workflow id `trajectory-<case id>`; each is listed with its run id, when it
started and closed, how it ended, and its page in the Temporal Web UI."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import quote

import typer
from pydantic import BaseModel, ConfigDict
from temporalio.client import Client

from infra.settings import Settings
from workers.cli.case_id import CaseIdArgument
from workers.cli.exit_codes import ExitCode
from workers.cli.options import JsonOption, execute
from workers.cli.output import cell, emit_json, fail, link, show, table, when_text
from workers.cli.runtime import load_policy, temporal_client
from workflows.trajectory import workflow_id_for


class WorkflowRun(BaseModel):
    model_config = ConfigDict(frozen=True)
    workflow_id: str
    run_id: str
    status: str
    started_at: datetime
    closed_at: datetime | None
    history_length: int
    web_ui: str


def web_ui_link(settings: Settings, workflow_id: str, run_id: str) -> str:
    namespace = quote(settings.temporal_namespace, safe="")
    return (f"{settings.effective_temporal_ui_url}/namespaces/{namespace}/workflows/"
            f"{quote(workflow_id, safe='')}/{quote(run_id, safe='')}")


async def workflow_runs(settings: Settings, temporal: Client, case_id: str
                        ) -> list[WorkflowRun]:
    workflow_id = workflow_id_for(case_id)
    # The case id passed `checked_case_id`: letters, digits, '.', '_' and '-' only, so it
    # cannot end the quoted string.
    runs = [r async for r in temporal.list_workflows(f"WorkflowId = '{workflow_id}'")]
    lengths = {r.run_id: r.history_length for r in runs}
    for r in runs:
        if r.close_time is None:
            # Visibility counts a run's events only once it closed: the running one's
            # history is asked of the run itself.
            handle = temporal.get_workflow_handle(r.id, run_id=r.run_id)
            lengths[r.run_id] = (await handle.describe()).history_length
    return sorted((WorkflowRun(
        workflow_id=r.id, run_id=r.run_id,
        status=r.status.name.lower().replace("_", " ") if r.status else "unknown",
        started_at=r.start_time, closed_at=r.close_time, history_length=lengths[r.run_id],
        web_ui=web_ui_link(settings, r.id, r.run_id)) for r in runs),
        key=lambda run: run.started_at)


async def case_history(settings: Settings, case_id: str, *, as_json: bool,
                       client: Client | None = None) -> int:
    time_zone = load_policy().time_zone
    temporal = client or await temporal_client(settings)
    runs = await workflow_runs(settings, temporal, case_id)
    if not runs:
        return fail(f"Temporal has no runs of workflow {workflow_id_for(case_id)!r} (an "
                    "unknown case, or its closed runs are past the namespace's retention)",
                    ExitCode.NOT_FOUND)
    if as_json:
        for run in runs:
            emit_json(run)
        return 0
    grid = table("#", "run id", "started", "closed", "status", "events",
                 title=f"Runs of {workflow_id_for(case_id)}")
    for number, run in enumerate(runs, start=1):
        grid.add_row(cell(number), cell(run.run_id), cell(when_text(run.started_at, time_zone)),
                     cell(when_text(run.closed_at, time_zone) if run.closed_at else "-"),
                     cell(run.status, "bold" if run.status == "running" else ""),
                     cell(run.history_length))
    show(grid)
    # Below the table, each on a line of its own and never folded: a terminal makes
    # them links to click.
    for number, run in enumerate(runs, start=1):
        link(f"{number}: {run.web_ui}")
    return 0


def register(cases: typer.Typer) -> None:
    @cases.command("history")
    def history_command(case_id: CaseIdArgument, as_json: JsonOption = False) -> None:
        """The Temporal runs of the case's workflow (trajectory-CASE_ID) across
        continue-as-new: run ids, start and close, status, and the Web UI link
        (REGIE_TEMPORAL_UI_URL)."""
        execute(lambda settings: case_history(settings, case_id, as_json=as_json))
