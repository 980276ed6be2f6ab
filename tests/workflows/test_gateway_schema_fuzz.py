"""Schemathesis against the gateway's live OpenAPI document, on the real stack (worker,
Temporal dev server, PostgreSQL).

Every operation in the document is sent cases that schemathesis makes from it, valid
ones and ones that break the schema, as the principal that operation is for, on a real
case or on made-up ids. The requirements, for each answer:
- no 5xx;
- it matches the document (status code, media type, body schema, headers);
- an answer of 4xx left the store (events, persons, idempotency keys) and Temporal
  (workflows, the case's history) as they were.

Bounded (EXAMPLES in all, derandomised) so the suite's time and outcome do not vary. The
figures are printed (`pytest -s`) for the record.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from infra.event_store import PostgresEventStore
from infra.settings import Settings
from tests.workflows.gateway_support import Gateway, running_gateway

EXAMPLES = 300
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance, response_headers_conformance]


@dataclass
class Figures:
    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    server_errors: int = 0
    violations: list[str] = field(default_factory=list)
    wrote_when_refused: list[str] = field(default_factory=list)
    unsendable: int = 0

    def summary(self) -> str:
        return (f"{self.requests} requests (by status {dict(sorted(self.statuses.items()))}; "
                f"{self.unsendable} not sendable over HTTP), {self.server_errors} 5xx, "
                f"{len(self.violations)} schema violations, "
                f"{len(self.wrote_when_refused)} refused inputs that wrote something")


@dataclass(frozen=True)
class World:
    """What a request could change."""

    events: int
    persons: int
    idempotency_keys: int
    workflows: int
    case_history: int


async def world(store: PostgresEventStore, client: Client, case_id: str) -> World:
    async with store.pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM persons), "
            "(SELECT count(*) FROM idempotency_keys)")
    assert row is not None
    workflows = (await client.count_workflows()).count
    described = await client.get_workflow_handle(f"trajectory-{case_id}").describe()
    return World(row[0], row[1], row[2], workflows, described.history_length)


async def settled(store: PostgresEventStore, client: Client, case_id: str) -> World:
    """The world once an accepted request's work has landed: a signal's or a referral's
    events are written after the answer, and must not be taken for a later refused
    request's writing."""
    last = await world(store, client, case_id)
    for _ in range(40):
        await asyncio.sleep(0.25)
        now = await world(store, client, case_id)
        if now == last:
            return now
        last = now
    return last


def credentials_for(path: str, gateway: Gateway) -> dict[str, str]:
    """The principal each operation is for: partners refer, signal and read a status;
    operators decode payloads; professionals do the rest (the case's coordinator)."""
    if path == "/v1/referrals" or path.endswith(("/signals", "/status")):
        return gateway.partner()
    if path.startswith("/codec"):
        return gateway.professional("op-1")
    return gateway.professional("pro-coord")


def request_of(case: Any, credentials: dict[str, str]) -> dict[str, Any]:
    """The case as schemathesis would send it (its serialisers pick the body's encoding
    by media type), for the test's own HTTP client."""
    sent = case.as_transport_kwargs(base_url="http://gateway")
    headers = {str(k): str(v) for k, v in (sent.get("headers") or {}).items()}
    headers.update(credentials)
    request: dict[str, Any] = {"method": sent["method"], "url": sent["url"],
                               "params": sent.get("params"), "headers": headers}
    if "json" in sent:
        # ensure_ascii: a lone surrogate travels as its \\u escape, as JSON allows.
        request["content"] = json.dumps(sent["json"]).encode()
        headers.setdefault("Content-Type", "application/json")
    elif sent.get("data") is not None:
        request["content"] = sent["data"]
    return request


@pytest.fixture
async def fuzzed_gateway(dev_env: WorkflowEnvironment, pg_store: PostgresEventStore,
                         tmp_path: Path) -> Any:
    # A caller's rate limit would answer most of a fuzz run 429 and test nothing else.
    roomy = Settings(rate_limit_per_minute=100_000, rate_limit_burst=10_000)
    async with running_gateway(dev_env.client, pg_store, tmp_path, settings=roomy) as gw:
        yield gw


async def test_the_live_openapi_document_holds_for_every_operation_under_fuzzing(
    fuzzed_gateway: Gateway, pg_store: PostgresEventStore, dev_env: WorkflowEnvironment
) -> None:
    gateway, client = fuzzed_gateway, dev_env.client
    case_id = await gateway.into_care()
    document = (await gateway.http.get("/openapi.json")).json()
    schema = schemathesis.openapi.from_dict(document)
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result  # the document itself must be valid
        operations.append(result.ok())
    per_operation = max(1, math.ceil(EXAMPLES / len(operations)))
    figures = Figures()
    loop = asyncio.get_running_loop()

    accepted_before = False

    async def send(case: Any) -> None:
        nonlocal accepted_before
        before = await (settled if accepted_before else world)(pg_store, client, case_id)
        try:
            answer = await gateway.http.request(
                **request_of(case, credentials_for(case.path, gateway)))
        except (httpx.InvalidURL, httpx.LocalProtocolError, UnicodeEncodeError, ValueError):
            figures.unsendable += 1  # e.g. a header no HTTP client can send
            return
        figures.requests += 1
        figures.statuses[answer.status_code] += 1
        accepted_before = answer.status_code < 300
        label = f"{case.method} {case.path} -> {answer.status_code}"
        if answer.status_code >= 500:
            figures.server_errors += 1
        try:
            case.validate_response(answer, checks=CHECKS)
        except BaseException as failure:  # schemathesis raises a group of failures
            if not isinstance(failure, (AssertionError, BaseExceptionGroup)):
                raise
            figures.violations.append(f"{label}: {str(failure)[:400]}")
        if 400 <= answer.status_code < 500 and await world(pg_store, client, case_id) != before:
            figures.wrote_when_refused.append(label)

    for operation in operations:
        fixed = ({"case_id": case_id} if "{case_id}" in operation.path else None)
        strategies = [operation.as_strategy(GenerationMode.POSITIVE),
                      operation.as_strategy(GenerationMode.NEGATIVE)]
        if fixed is not None:
            strategies += [operation.as_strategy(GenerationMode.POSITIVE, path_parameters=fixed),
                           operation.as_strategy(GenerationMode.NEGATIVE, path_parameters=fixed)]

        @settings(max_examples=per_operation, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(st.one_of(strategies))
        def run(case: Any) -> None:
            asyncio.run_coroutine_threadsafe(send(case), loop).result(timeout=120)

        await asyncio.to_thread(run)

    print(f"\nschemathesis over {len(operations)} operations: {figures.summary()}")
    assert figures.requests >= len(operations)
    assert figures.server_errors == 0, figures.violations
    assert not figures.violations, "\n".join(figures.violations)
    assert not figures.wrote_when_refused, figures.wrote_when_refused
