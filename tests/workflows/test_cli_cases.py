"""The operator CLI against live trajectories: `case verify` compares the live state with
its rebuild from the store and catches a stream that diverged; `case history` lists the
runs of a case across continue-as-new, with their Web UI links."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from domain.events import ContactAttempted
from infra.directory import import_directory, load_directory_file
from infra.event_store import PostgresEventStore
from infra.settings import Settings
from infra.trajectory_overview import TrajectoryOverviewProjection
from tests.factories import new_event
from tests.workflows.gateway_support import Gateway
from tests.workflows.test_lifecycle import accept_and_staff, open_case
from workers.cli.case_history import case_history
from workers.cli.case_show import case_show
from workers.cli.case_verify import case_verify, verify_all
from workers.cli.demo import demo
from workers.demo import EXAMPLE_DIRECTORY, REGION_FAMILIES
from workers.worker import build_worker
from workflows.trajectory import FamilyTrajectoryWorkflow, PersonalDataErased


def printed_json(out: str, key: str) -> list[dict[str, Any]]:
    """The CLI's JSON lines (those with `key`) among what the worker logs to stdout."""
    documents = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    return [d for d in documents if key in d]


async def project_overview(store: PostgresEventStore, *case_ids: str) -> None:
    """What the projector would have done: the open cases `verify --all` checks."""
    async with store.pool.acquire() as conn:
        for case_id in case_ids:
            await TrajectoryOverviewProjection().apply_batch(
                conn, await store.read_stream(f"trajectory-{case_id}"))


async def test_case_verify_catches_a_stream_that_diverged_from_the_live_workflow(
    time_skipping_env: WorkflowEnvironment, worker: Worker, pg_store: PostgresEventStore,
    database_dsn: str, kek: SecretStr, capsys: pytest.CaptureFixture[str],
) -> None:
    client = time_skipping_env.client
    settings = Settings(database_url=database_dsn, kek=kek)
    for case_id in ("verify-1", "verify-2"):
        await accept_and_staff(await open_case(time_skipping_env, worker, case_id))

    assert await case_verify(settings, "verify-1", as_json=True, client=client) == 0
    (verdict,) = printed_json(capsys.readouterr().out, "same")
    assert (verdict["same"], verdict["live"]) == (True, True)
    assert verdict["store_version"] == verdict["live_version"] > 1

    # Written past the workflow, straight into the store: the live run never saw it.
    version = await pg_store.stream_version("trajectory-verify-1")
    await pg_store.append("trajectory-verify-1", version, [new_event(
        ContactAttempted(by="pro-1", channel="huisbezoek", reached=False))])
    assert await case_verify(settings, "verify-1", as_json=False, client=client) == 1
    printed = capsys.readouterr()
    assert "case verify-1: the live state differs from the store in 2 field(s)\n" in printed.err
    fields = {line.split("│")[1].strip() for line in printed.out.splitlines()
              if line.startswith("│")}
    assert fields == {"version", "failed_contacts"}

    assert await case_verify(settings, "verify-1", as_json=True, client=client) == 1
    (diverged,) = printed_json(capsys.readouterr().out, "same")
    assert diverged["store_version"] == version + 1 and diverged["live_version"] == version
    assert await case_verify(settings, "no-such-case", as_json=False, client=client) == 3

    await project_overview(pg_store, "verify-1", "verify-2")
    assert await verify_all(settings, as_json=True, client=client) == 1
    printed = capsys.readouterr()
    verdicts = {v["case_id"]: v["same"] for v in printed_json(printed.out, "same")}
    assert verdicts == {"verify-1": False, "verify-2": True}
    assert "1 of 2 open cases differ from the store: verify-1\n" in printed.err


async def test_case_history_lists_the_runs_across_continue_as_new_with_their_links(
    dev_env: WorkflowEnvironment, pg_store: PostgresEventStore, database_dsn: str,
    kek: SecretStr, capsys: pytest.CaptureFixture[str],
) -> None:
    client = dev_env.client
    settings = Settings(database_url=database_dsn, kek=kek)
    case_id = f"history-{uuid.uuid4().hex[:8]}"
    async with build_worker(client, pg_store, f"tq-{uuid.uuid4()}") as worker:
        case = await open_case(dev_env, worker, case_id)
        first_run = (await case.handle.describe()).run_id
        # An erasure makes the run continue as new (any person: it starts afresh).
        await case.handle.signal(FamilyTrajectoryWorkflow.personal_data_erased,
                                 PersonalDataErased(person_id="p-1"))

        runs: list[dict[str, Any]] = []
        for _ in range(200):  # the server's list of runs catches up a moment later
            assert await case_history(settings, case_id, as_json=True, client=client) == 0
            runs = printed_json(capsys.readouterr().out, "run_id")
            if [r["status"] for r in runs] == ["continued as new", "running"]:
                break
            await asyncio.sleep(0.1)
        assert [r["status"] for r in runs] == ["continued as new", "running"]
        assert runs[0]["run_id"] == first_run != runs[1]["run_id"]
        # Both runs count their events, the running one too (asked of the run itself).
        running = await case.handle.describe()
        assert runs[0]["history_length"] > 0
        assert 0 < runs[1]["history_length"] <= running.history_length
        assert runs[0]["web_ui"] == ("http://127.0.0.1:8233/namespaces/default/workflows/"
                                     f"trajectory-{case_id}/{first_run}")

        elsewhere = Settings(database_url=database_dsn, kek=kek,
                             temporal_ui_url="https://temporal.regio.example.nl/")
        assert await case_history(elsewhere, case_id, as_json=False, client=client) == 0
        out = capsys.readouterr().out
        assert (f"1: https://temporal.regio.example.nl/namespaces/default/workflows/"
                f"trajectory-{case_id}/{first_run}") in out.splitlines()
        await case.handle.terminate("test done")

    assert await case_history(settings, "never-referred", as_json=False, client=client) == 3
    assert "has no runs of workflow 'trajectory-never-referred'" in capsys.readouterr().err


async def test_demo_seeds_the_region_and_each_family_verifies_against_the_store(
    dev_env: WorkflowEnvironment, gateway: Gateway, pg_store: PostgresEventStore,
    database_dsn: str, kek: SecretStr, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    async with pg_store.pool.acquire() as conn:
        await import_directory(conn, load_directory_file(EXAMPLE_DIRECTORY), source="demo")
    # The gateway's dev issuer keeps its key in tmp_path: the demo's tokens come from it.
    settings = Settings(database_url=database_dsn, data_dir=tmp_path, kek=kek)

    assert await demo(settings, "http://gateway", as_json=True, http=gateway.http) == 0
    seeded = printed_json(capsys.readouterr().out, "shows")
    assert len({c["case_id"] for c in seeded}) == len(REGION_FAMILIES)
    in_care = next(c for c in seeded if c["phase"] == "in_care")

    assert await case_show(settings, in_care["case_id"], as_json=True) == 0
    (shown,) = printed_json(capsys.readouterr().out, "timeline")
    assert shown["case"]["phase"] == "in_care" and shown["timeline"]
    assert await case_verify(settings, in_care["case_id"], as_json=True,
                             client=dev_env.client) == 0
    (verdict,) = printed_json(capsys.readouterr().out, "same")
    assert verdict["same"] and verdict["live"]
