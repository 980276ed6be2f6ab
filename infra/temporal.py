"""The Temporal client, always with the pydantic data converter."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from infra.settings import Settings

# Domain models are pure and deterministic; passing them through the sandbox keeps one
# copy of each pydantic class (cheaper, and isinstance checks keep working). It also gives
# `domain.local_time` the real `zoneinfo.ZoneInfo`: imported inside the sandbox it would
# get a restricted proxy, which datetime refuses as a tzinfo (passing `zoneinfo` itself
# through does not lift that restriction).
PASSTHROUGH_MODULES = ("domain", "activities", "pydantic", "pydantic_core", "annotated_types")


async def connect(settings: Settings) -> Client:
    return await Client.connect(
        settings.effective_temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=pydantic_data_converter,
    )


def workflow_runner() -> SandboxedWorkflowRunner:
    return SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSTHROUGH_MODULES)
    )


__all__ = ["PASSTHROUGH_MODULES", "Worker", "connect", "workflow_runner"]
