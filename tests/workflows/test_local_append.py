"""The append as a local activity (patched: `one-append-per-step`) keeps the guarantees of
the regular one: a database connection cut in the middle of an append, or after its
commit but before its answer, is retried by the local activity's own retry policy, and
the step is stored exactly once (the store is idempotent on event ids; a retry replays
the same ids). Time-skipping server, real PostgreSQL, the real worker. And a case that
was waiting on a regular append when this code was deployed replays (and goes on) with
regular appends."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta

import asyncpg
import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHistory
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer, Worker

from domain.commands import RecordContactAttempt
from domain.events import ContactAttempted, NewEvent
from domain.notifications import Notification
from infra.event_store import AppendResult, PostgresEventStore
from infra.key_wrapping import KeyWrapper
from infra.temporal import workflow_runner
from tests.db_outage import terminate_connections
from tests.payload_keyring import suite_data_converter
from tests.workflows.support import terminate_open_workflows
from tests.workflows.test_handler_seams import assert_consistent, until
from tests.workflows.test_lifecycle import ACTOR, open_case
from tests.workflows.test_replay import ROOT as HISTORIES
from workers.worker import WORKFLOWS, build_worker


class CountingStore(PostgresEventStore):
    """The real store, counting the append attempts per stream; with `cut_after_commit`,
    the first attempt on that stream commits and then loses every connection of the
    database before its answer arrives (a PostgreSQL restart at that moment)."""

    def __init__(self, pool: asyncpg.Pool, key_wrapper: KeyWrapper, dsn: str) -> None:
        super().__init__(pool, key_wrapper=key_wrapper)
        self._dsn = dsn
        self.attempts: dict[str, int] = {}
        self.results: dict[str, list[AppendResult]] = {}
        self.cut_after_commit: str | None = None
        self.lose_task_after_commit: str | None = None
        self.lose_answer_after_commit: str | None = None

    async def append(self, stream_id: str, expected_version: int,
                     events: Sequence[NewEvent],
                     notifications: Sequence[Notification] = ()) -> AppendResult:
        self.attempts[stream_id] = self.attempts.get(stream_id, 0) + 1
        result = await super().append(stream_id, expected_version, events, notifications)
        self.results.setdefault(stream_id, []).append(result)
        if stream_id == self.cut_after_commit:
            self.cut_after_commit = None
            await terminate_connections(self._dsn)
            raise asyncpg.ConnectionDoesNotExistError(
                "connection was closed in the middle of operation")
        if stream_id == self.lose_answer_after_commit:
            # Committed, and the answer lost to an outage (no connection cut: the pool
            # must stay usable for the next round).
            self.lose_answer_after_commit = None
            raise asyncpg.ConnectionDoesNotExistError(
                "connection was closed in the middle of operation")
        if stream_id == self.lose_task_after_commit:
            # Committed, and then the workflow task that ran this append is lost (a
            # worker that dies or stalls past the task's time-out): the answer makes the
            # workflow raise, which fails its task, and the task is tried again.
            self.lose_task_after_commit = None
            return AppendResult(stream_id, result.positions, result.last_version + 1000)
        return result


@pytest.fixture
async def counting_store(pool: asyncpg.Pool, key_wrapper: KeyWrapper,
                         database_dsn: str) -> CountingStore:
    return CountingStore(pool, key_wrapper, database_dsn)


@pytest.fixture
async def counting_worker(time_skipping_env: WorkflowEnvironment,
                          counting_store: CountingStore) -> AsyncIterator[Worker]:
    async with build_worker(time_skipping_env.client, counting_store,
                            f"tq-{uuid.uuid4()}") as w:
        yield w
        await terminate_open_workflows(time_skipping_env)


def contact(reached: bool = True) -> RecordContactAttempt:
    return RecordContactAttempt(actor=ACTOR, by="pro-1", channel="phone", reached=reached)


async def contacts_stored(pool: asyncpg.Pool, stream_id: str) -> int:
    count: int = await pool.fetchval(
        "SELECT count(*) FROM events WHERE stream_id = $1 AND event_type = $2",
        stream_id, ContactAttempted.__name__)
    return count


async def assert_appends_were_local(env: WorkflowEnvironment, case_id: str) -> None:
    """The run appended through local activities (markers), never through the task
    queue: no activity task was ever scheduled for `append_events`."""
    history = await env.client.get_workflow_handle(f"trajectory-{case_id}").fetch_history()
    kinds = [e.event_type for e in history.events]
    assert EventType.EVENT_TYPE_MARKER_RECORDED in kinds
    scheduled = [e.activity_task_scheduled_event_attributes.activity_type.name
                 for e in history.events
                 if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED]
    assert "append_events" not in scheduled


async def test_a_connection_cut_in_the_middle_of_an_append_is_retried_and_stored_once(
    time_skipping_env: WorkflowEnvironment, counting_worker: Worker,
    counting_store: CountingStore, pool: asyncpg.Pool, database_dsn: str
) -> None:
    case = await open_case(time_skipping_env, counting_worker, "local-cut-mid")
    stream = "trajectory-local-cut-mid"
    version = (await case.state()).version
    before = counting_store.attempts[stream]

    # Hold the table lock every append takes first, so the append is caught in the
    # middle of its transaction, then cut every connection (as a restart does): the
    # append's session ends with its transaction rolled back, and the lock with it.
    blocker = await asyncpg.connect(database_dsn)
    blocker_tx = blocker.transaction()
    await blocker_tx.start()
    await blocker.execute("LOCK TABLE events IN ACCESS EXCLUSIVE MODE")
    command = asyncio.create_task(case.do(contact()))
    try:
        async def append_waits_on_the_lock() -> bool:
            waiting: int = await pool.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND query LIKE 'LOCK TABLE events%'")
            return waiting > 0
        await until(append_waits_on_the_lock, "the append waits inside its transaction")
        assert await terminate_connections(database_dsn) >= 2  # the append's and ours
    finally:
        if not blocker.is_closed():
            await blocker.close()

    result = await command
    assert result.recorded and result.version == version + 1
    assert counting_store.attempts[stream] - before == 2  # the cut one, then the retry
    assert await contacts_stored(pool, stream) == 1
    await assert_consistent(case, counting_store)
    await assert_appends_were_local(time_skipping_env, "local-cut-mid")


async def test_an_append_whose_answer_is_lost_after_its_commit_is_stored_once(
    time_skipping_env: WorkflowEnvironment, counting_worker: Worker,
    counting_store: CountingStore, pool: asyncpg.Pool
) -> None:
    case = await open_case(time_skipping_env, counting_worker, "local-cut-after")
    stream = "trajectory-local-cut-after"
    version = (await case.state()).version
    before = counting_store.attempts[stream]
    counting_store.cut_after_commit = stream

    result = await case.do(contact())

    assert result.recorded and result.version == version + 1
    assert counting_store.attempts[stream] - before == 2
    first, retried = counting_store.results[stream][-2:]
    # The retry found the step stored (same event ids) and wrote nothing twice.
    assert retried.already_stored and retried.positions == first.positions
    assert await contacts_stored(pool, stream) == 1
    await assert_consistent(case, counting_store)
    # And the case goes on over fresh connections.
    again = await case.do(contact())
    assert again.version == version + 2
    assert await contacts_stored(pool, stream) == 2
    await assert_appends_were_local(time_skipping_env, "local-cut-after")


async def test_an_append_committed_in_a_round_the_outage_ended_is_stored_once(
    time_skipping_env: WorkflowEnvironment, counting_worker: Worker,
    counting_store: CountingStore, pool: asyncpg.Pool
) -> None:
    # One attempt a round: the committed append's lost answer ends the round, and the
    # next round, after the outage wait, draws new event ids and meets a stream that has
    # moved on (a ConcurrencyError, not an id conflict).
    case = await open_case(time_skipping_env, counting_worker, "local-lost-round",
                           append_attempts=1, outage_backoff=timedelta(milliseconds=500))
    stream = "trajectory-local-lost-round"
    version = (await case.state()).version
    counting_store.lose_answer_after_commit = stream

    result = await case.do(contact())

    assert result.recorded and result.version == version + 1
    assert await contacts_stored(pool, stream) == 1  # not decided again on the new state
    await assert_consistent(case, counting_store)


def _cut_after_append_scheduled(history: WorkflowHistory, nth: int) -> WorkflowHistory:
    """The history up to its `nth` `append_events` activity scheduled: a case that was
    running when the new code was deployed, waiting on a regular append."""
    scheduled = [i for i, e in enumerate(history.events)
                 if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
                 and e.activity_task_scheduled_event_attributes.activity_type.name
                 == "append_events"]
    return WorkflowHistory(history.workflow_id, history.events[:scheduled[nth] + 1])


@pytest.mark.parametrize("nth", [0, 1, 4])
async def test_a_case_waiting_on_a_regular_append_replays_on_the_local_append_code(
        nth: int) -> None:
    """Runs recorded before `one-append-per-step` (regular appends, no patch marker)
    replay with regular appends on the current code, also when the deploy catches them
    between scheduling an append and its result; only runs that recorded the marker
    append as a local activity."""
    recorded = (HISTORIES / "before-one-append" / "full_lifecycle.json").read_text()
    history = _cut_after_append_scheduled(
        WorkflowHistory.from_json("before-one-append/full_lifecycle", recorded), nth)
    replayer = Replayer(workflows=WORKFLOWS, data_converter=suite_data_converter(),
                        workflow_runner=workflow_runner())
    await replayer.replay_workflow(history)


async def test_a_workflow_task_lost_after_its_append_committed_records_the_step_once(
    time_skipping_env: WorkflowEnvironment, counting_worker: Worker,
    counting_store: CountingStore, pool: asyncpg.Pool
) -> None:
    """A local activity runs inside the workflow task: when that task is lost after the
    append committed, the task's next attempt decides again, at a later
    `workflow.now()`, and appends the same event ids with other content. That is the
    step's own lost attempt, not another writer: what it stored stands, once."""
    case = await open_case(time_skipping_env, counting_worker, "local-lost-task")
    stream = "trajectory-local-lost-task"
    version = (await case.state()).version
    counting_store.lose_task_after_commit = stream

    result = await case.do(contact())

    assert result.recorded and result.version == version + 1
    assert await contacts_stored(pool, stream) == 1
    await assert_consistent(case, counting_store)
    again = await case.do(contact())
    assert again.version == version + 2
    assert await contacts_stored(pool, stream) == 2
    if os.environ.get("REGIE_RECORD_HISTORIES"):
        # Replayed by test_replay: the path of the `own-lost-append-stands` patch.
        history = await case.handle.fetch_history()
        (HISTORIES / "own_lost_append.json").write_text(history.to_json())
