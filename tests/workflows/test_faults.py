"""Faults at CI scale: a burst of partners' signals over a few dozen trajectories, with
the worker process SIGKILLed mid-burst and PostgreSQL stopped and started again while
the next worker takes the rest of the burst. Every accepted signal is stored exactly
once, every stream is gapless, and every live state equals its rebuild from the store.

Against an external database (`REGIE_TEST_DATABASE_URL`) the suite cannot restart the
server; there every connection is cut instead, as a restart cuts them."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
from pydantic import SecretStr
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from domain.events import PartnerSignalRecorded, SignalKind
from domain.personal import without_personal_text
from domain.trajectory import TrajectoryState, fold
from infra.database import restart_embedded_postgres
from infra.event_store import PostgresEventStore
from tests.factories import refer_family
from tests.payload_keyring import TEST_ONLY_KEY_ID, TEST_ONLY_KEYS_JSON
from tests.workflows.test_handler_seams import signal as partner_signal
from tests.workflows.test_handler_seams import until
from workflows.trajectory import (
    FamilyTrajectoryWorkflow,
    ReferInput,
    StartTrajectoryInput,
    workflow_id_for,
)

CASES = 24
SIGNALS_PER_CASE = 8
OUTAGE_SECONDS = 3.0


@asynccontextmanager
async def worker_process(env: dict[str, str]) -> AsyncIterator[asyncio.subprocess.Process]:
    """The real worker (`python -m workers.worker`), as the stack runs it."""
    log = (Path(env["REGIE_DATA_DIR"]) / "worker.log").open("ab")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "workers.worker", env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=log)
    try:
        yield process
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()
        log.close()


@asynccontextmanager
async def postgres_down(server: Any | None, database_dsn: str) -> AsyncIterator[None]:
    """PostgreSQL stopped for the block (a fast shutdown: sessions ended, as a restart
    ends them), started again on the same data afterwards."""
    if server is None:
        admin = await asyncpg.connect(database_dsn)
        try:
            await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()")
        finally:
            await admin.close()
        yield
        return
    postmaster = server.get_pid()
    os.kill(postmaster, signal.SIGINT)  # PostgreSQL's fast shutdown
    await until(lambda: gone(postmaster), "PostgreSQL stopped")
    try:
        yield
    finally:
        await asyncio.to_thread(restart_embedded_postgres, server)


async def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


async def test_a_burst_survives_a_killed_worker_and_a_postgres_restart(
        dev_env: WorkflowEnvironment, pg_store: PostgresEventStore, database_dsn: str,
        pg_server: Any | None, kek: SecretStr, tmp_path: Path) -> None:
    task_queue = f"faults-{uuid.uuid4().hex[:8]}"
    env = {**os.environ,
           "REGIE_DATABASE_URL": database_dsn,
           "REGIE_TEMPORAL_ADDRESS": dev_env.client.service_client.config.target_host,
           "REGIE_TASK_QUEUE": task_queue, "REGIE_DATA_DIR": str(tmp_path),
           "REGIE_PAYLOAD_KEYS": TEST_ONLY_KEYS_JSON,
           "REGIE_PAYLOAD_ACTIVE_KEY": TEST_ONLY_KEY_ID,
           "REGIE_KEK": kek.get_secret_value(), "REGIE_LOG_LEVEL": "WARNING"}
    client = dev_env.client
    cases = [f"fault-{uuid.uuid4().hex[:6]}" for _ in range(CASES)]
    signals = {case: [partner_signal(f"{case}-s{n}", SignalKind.CONCERN, f"zorg {n}")
                      for n in range(SIGNALS_PER_CASE)] for case in cases}

    async def send(case: str, part: slice) -> None:
        handle = client.get_workflow_handle(workflow_id_for(case))
        for s in signals[case][part]:
            await handle.signal(FamilyTrajectoryWorkflow.partner_signal, s)

    async with worker_process(env) as first:
        for case in cases:
            handle = await client.start_workflow(
                FamilyTrajectoryWorkflow.run, StartTrajectoryInput(case_id=case),
                id=workflow_id_for(case), task_queue=task_queue)
            await handle.execute_update(FamilyTrajectoryWorkflow.refer, ReferInput(
                command=refer_family(case), actor="partner:school"))
        half = slice(0, SIGNALS_PER_CASE // 2)
        burst = asyncio.gather(*(send(case, half) for case in cases))
        await asyncio.sleep(0.2)  # mid-burst
        first.send_signal(signal.SIGKILL)
        await burst
    async def stored(count: int) -> bool:
        async with pg_store.pool.acquire() as conn:
            found = await conn.fetchval(
                "SELECT count(*) FROM events WHERE event_type = 'PartnerSignalRecorded' "
                "AND stream_id = ANY($1::text[])", [f"trajectory-{case}" for case in cases])
        return bool(found >= count)

    async with worker_process(env):
        # The next worker takes over what the killed one left, so it is connected to
        # both servers when PostgreSQL goes down.
        await until(lambda: stored(CASES * SIGNALS_PER_CASE // 2),
                    "the first half of the burst stored", attempts=3000)
        async with postgres_down(pg_server, database_dsn):
            # The rest of the burst reaches Temporal while the database is down: the
            # worker retries its appends until PostgreSQL is back.
            await asyncio.gather(*(send(case, slice(SIGNALS_PER_CASE // 2, None))
                                   for case in cases))
            await asyncio.sleep(OUTAGE_SECONDS)
        # The test's own pool holds connections the restart ended.
        await pg_store.pool.expire_connections()
        # Appends retried through the outage wait out their activity backoff (doubling
        # from 1 s) past the restart, so this may take a while.
        await until(lambda: stored(CASES * SIGNALS_PER_CASE),
                    "every signal of the burst stored", attempts=3000)

        for case in cases:
            events = await pg_store.read_stream(f"trajectory-{case}")
            keys = [e.payload.idempotency_key for e in events
                    if isinstance(e.payload, PartnerSignalRecorded)]
            assert sorted(keys) == sorted(s.idempotency_key for s in signals[case])  # once
            assert [e.version for e in events] == list(range(1, len(events) + 1))
            rebuilt = without_personal_text(fold(events))
            handle = client.get_workflow_handle(workflow_id_for(case))

            async def consistent(handle: WorkflowHandle[Any, Any] = handle,
                                 rebuilt: TrajectoryState = rebuilt) -> bool:
                # The last append may be stored a moment before the run applies it.
                return bool(await handle.query(FamilyTrajectoryWorkflow.state) == rebuilt)
            await until(consistent, f"the live state of {case} equals its rebuild")
        for case in cases:
            await client.get_workflow_handle(workflow_id_for(case)).terminate()
