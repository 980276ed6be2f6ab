"""Fixtures shared by the workflow tests (a module's own `worker` fixture overrides)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from infra.event_store import PostgresEventStore
from tests.workflows.gateway_support import Gateway, running_gateway
from tests.workflows.support import terminate_open_workflows
from workers.worker import build_worker


@pytest.fixture
async def worker(time_skipping_env: WorkflowEnvironment,
                 pg_store: PostgresEventStore) -> AsyncIterator[Worker]:
    """The real worker on a queue of its own, with the default policy; workflows still
    open when the test ends are ended."""
    async with build_worker(time_skipping_env.client, pg_store, f"tq-{uuid.uuid4()}") as w:
        yield w
        await terminate_open_workflows(time_skipping_env)


@pytest.fixture
async def gateway(dev_env: WorkflowEnvironment, pg_store: PostgresEventStore,
                  tmp_path: Path) -> AsyncIterator[Gateway]:
    """The gateway with the test directory, partner keys and dev-issuer tokens, on the
    Temporal dev server (update-with-start needs it) with the real worker."""
    async with running_gateway(dev_env.client, pg_store, tmp_path) as gateway:
        yield gateway
