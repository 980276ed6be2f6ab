"""The Regie Temporal worker: workflows and activities on one task queue."""

from __future__ import annotations

import asyncio
import contextlib

from temporalio.client import Client
from temporalio.service import RPCError
from temporalio.worker import Worker

from activities.case_context import CaseContextActivities, dutch_holidays
from activities.directory import DirectoryActivities
from activities.event_store import EventStoreActivities
from domain.policy import RegionPolicy
from infra.db_retry import Outage
from infra.event_store import PostgresEventStore
from infra.garbage_collection import tune_for_throughput
from infra.key_wrapping import key_wrapper_for
from infra.policy_file import policy_from_env
from infra.retention import retention_problem
from infra.search_attributes import how_to_register, register_search_attributes
from infra.settings import Settings
from infra.store_startup import store_when_available
from infra.structured_logging import configure_logging, get_logger
from infra.temporal import connect, workflow_runner
from workflows.escalation import EscalationEpisodeWorkflow
from workflows.trajectory import FamilyTrajectoryWorkflow

WORKFLOWS = [FamilyTrajectoryWorkflow, EscalationEpisodeWorkflow]


def build_worker(client: Client, store: PostgresEventStore, task_queue: str,
                 policy: RegionPolicy | None = None, *, max_cached_workflows: int = 1000,
                 max_concurrent_workflow_tasks: int | None = None,
                 max_concurrent_activities: int | None = None) -> Worker:
    """The worker; the keyword arguments tune it (benchmarks) and default to Temporal's."""
    store_activities = EventStoreActivities(store)
    context = CaseContextActivities(policy or RegionPolicy(), store.pool)
    directory = DirectoryActivities(store.pool)
    return Worker(
        client,
        task_queue=task_queue,
        workflows=WORKFLOWS,
        activities=[store_activities.append_events, store_activities.read_stream,
                    context.current_policy, context.coordinator_caseload, dutch_holidays,
                    directory.resolve_escalation_assignee],
        workflow_runner=workflow_runner(),
        max_cached_workflows=max_cached_workflows,
        max_concurrent_workflow_tasks=max_concurrent_workflow_tasks,
        max_concurrent_activities=max_concurrent_activities,
    )


async def run_worker(settings: Settings) -> None:
    log = get_logger("regie.worker")
    if settings.database_url is None:
        raise SystemExit("REGIE_DATABASE_URL is not set; start the stack with "
                         "`python3 infra/bootstrap.py up`, which sets it for the worker")
    # A bad policy file stops the worker here, with the file's problems in the message.
    policy = policy_from_env()
    key_wrapper = key_wrapper_for(settings)
    # Started while the database restarts, it waits for it (infra/store_startup.py);
    # nothing stops the wait but the process's end (Ctrl-C cancels it).
    store = await store_when_available(settings.database_url, key_wrapper,
                                       Outage(log, "worker"), asyncio.Event())
    assert store is not None  # only a set stop event ends the wait without a store
    pool = store.pool
    client = await connect(settings)
    try:
        added = await register_search_attributes(client, settings.temporal_namespace)
    except RPCError as error:
        # Without them every trajectory's workflow task would fail over and over.
        raise SystemExit(f"{how_to_register(settings.temporal_namespace)} "
                         f"(the worker could not: {error.message})") from error
    if added:
        log.info("search_attributes_registered", names=added)
    worker = build_worker(client, store, settings.task_queue, policy)
    log.info("worker_started", task_queue=settings.task_queue, region=policy.region,
             temporal=settings.effective_temporal_address, kek=key_wrapper.describe())
    problem = await retention_problem(client, settings.temporal_namespace,
                                      settings.temporal_retention_days)
    if problem is not None:
        # Not fatal: the namespace may be someone else's to change. But an erased
        # person's closed runs would outlive the legal term: say so loudly.
        log.warning("temporal_retention_too_long", problem=problem)
    try:
        await worker.run()
    finally:
        await pool.close()
        await key_wrapper.aclose()


def main() -> None:
    settings = Settings()
    configure_logging(settings.log_level)
    tune_for_throughput()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_worker(settings))


if __name__ == "__main__":
    main()
