"""Hostile input at the gateway's edge, against the real gateway, worker, Temporal dev
server and PostgreSQL (see gateway_support.py): strings storage cannot hold, bodies too
large, JSON with a key twice, and one error shape for every error."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from structlog.testing import capture_logs
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from infra.event_store import PostgresEventStore
from infra.settings import Settings
from tests.factories import partner_referral
from tests.workflows.gateway_support import Gateway, running_gateway
from workers.access_control import GatewayError
from workers.gateway import _rpc_error, _unavailable, create_app
from workers.problems import PROBLEM_JSON

SMALL_LIMIT = 2048


def referral(**changes: Any) -> dict[str, Any]:
    body = partner_referral("ref-edge").model_dump(mode="json")
    body.update(changes)
    return body


def is_problem(answer: httpx.Response, status: int, error: str) -> dict[str, Any]:
    """The answer is in the gateway's one error shape (RFC 9457 and the gateway's own)."""
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith(PROBLEM_JSON)
    problem: dict[str, Any] = answer.json()
    assert (problem["status"], problem["error"], problem["type"]) == (
        status, error, f"urn:regie:error:{error}")
    assert problem["detail"] == problem["message"] and problem["title"]
    assert set(problem) <= {"type", "title", "status", "detail", "error", "message",
                            "fields"}
    return problem


async def nothing_written(store: PostgresEventStore) -> None:
    assert await store.read_all() == []
    async with store.pool.acquire() as conn:
        for table in ("persons", "idempotency_keys"):
            assert await conn.fetchval(f"SELECT count(*) FROM {table}") == 0, table


@pytest.fixture
async def small_gateway(dev_env: WorkflowEnvironment, pg_store: PostgresEventStore,
                        tmp_path: Path) -> AsyncIterator[Gateway]:
    async with running_gateway(dev_env.client, pg_store, tmp_path,
                               Settings(max_body_bytes=SMALL_LIMIT)) as gateway:
        yield gateway


@pytest.mark.parametrize(("where", "value", "problem"), [
    ("referrer", "Juf\x00Jansen", "NUL"),
    ("referrer", "Juf\x1b[2JJansen", "control character"),
    ("referrer", "Juf\nJansen", "control character"),
    ("referrer", " \t ", "at least 1 character"),
    ("reason", "ziek\x00", "NUL"),
    ("reason", "ziek\x07", "control character"),
    ("reason", "\u2003\u00a0", "at least 1 character"),
    ("name", "Sam\x00", "NUL"),
])
async def test_strings_storage_cannot_hold_are_refused_before_anything_is_written(
    gateway: Gateway, pg_store: PostgresEventStore, where: str, value: str, problem: str
) -> None:
    body = referral()
    field = {"referrer": "referrer", "reason": "reasons.0.description",
             "name": "members.1.name"}[where]
    if where == "referrer":
        body["referrer"] = value
    elif where == "reason":
        body["reasons"][0]["description"] = value
    else:
        body["members"][1]["name"] = value
    answer = await gateway.http.post("/v1/referrals", json=body, headers={
        **gateway.partner(), "Idempotency-Key": uuid.uuid4().hex})
    refused = is_problem(answer, 422, "invalid_request")
    assert [f["field"] for f in refused["fields"]] == [field]
    assert problem in refused["fields"][0]["message"]
    assert value.strip() == "" or value not in answer.text  # never echoed
    await nothing_written(pg_store)


async def test_a_lone_surrogate_is_refused_not_a_500(
    gateway: Gateway, pg_store: PostgresEventStore
) -> None:
    raw = json.dumps(referral(referrer="Juf Jansen")).replace("Juf Jansen", "Juf \\ud800")
    answer = await gateway.http.post("/v1/referrals", content=raw, headers={
        **gateway.partner(), "Idempotency-Key": "k-surrogate",
        "Content-Type": "application/json"})
    refused = is_problem(answer, 422, "invalid_request")
    assert [f["field"] for f in refused["fields"]] == ["referrer"]
    await nothing_written(pg_store)


async def test_a_signal_and_a_command_take_no_nul_either(gateway: Gateway) -> None:
    case = await gateway.new_case()
    signal = await gateway.http.post(
        f"/v1/trajectories/{case}/signals",
        json={"kind": "concern", "description": "zorg\x00"},
        headers={**gateway.partner(), "Idempotency-Key": "k-signal"})
    assert is_problem(signal, 422, "invalid_request")["fields"][0]["field"] == "description"
    command = await gateway.command(case, "record_intake", "pro-intake", {
        "outcome": "accepted", "assessments": [
            {"life_domain": "education_work", "strengths": "ok", "problems": "\x00"}]})
    fields = is_problem(command, 422, "invalid_request")["fields"]
    assert fields[0]["field"] == "assessments.0.problems"


async def test_a_body_over_the_limit_is_413_by_its_length_or_as_it_streams(
    small_gateway: Gateway, pg_store: PostgresEventStore
) -> None:
    body = referral(referrer="x" * 190)
    body["reasons"] = [dict(body["reasons"][0], description="y" * 1000)] * 3
    raw = json.dumps(body).encode()
    assert len(raw) > SMALL_LIMIT
    headers = {**small_gateway.partner(), "Idempotency-Key": "k-big",
               "Content-Type": "application/json"}
    with capture_logs() as logged:
        declared = await small_gateway.http.post("/v1/referrals", content=raw,
                                                 headers=headers)
    is_problem(declared, 413, "body_too_large")
    assert [(e["event"], e["limit"], e["declared"]) for e in logged
            if e["event"] == "request_body_too_large"] == [
        ("request_body_too_large", SMALL_LIMIT, len(raw))]
    assert str(SMALL_LIMIT) in declared.json()["message"]
    assert declared.headers["X-Request-Id"]

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it comes
        for start in range(0, len(raw), 500):
            yield raw[start:start + 500]

    streamed = await small_gateway.http.post("/v1/referrals", content=chunks(),
                                             headers=headers)
    is_problem(streamed, 413, "body_too_large")
    await nothing_written(pg_store)
    async with pg_store.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM access_log") == 0

    # Under the limit the same gateway takes a referral as ever.
    assert (await small_gateway.refer()).status_code == 202


async def test_json_with_a_key_twice_is_refused_naming_the_key(
    gateway: Gateway, pg_store: PostgresEventStore
) -> None:
    raw = json.dumps(referral())
    twice = raw[:-1] + ', "referrer": "Iemand Anders"}'
    answer = await gateway.http.post("/v1/referrals", content=twice, headers={
        **gateway.partner(), "Idempotency-Key": "k-twice", "Content-Type": "application/json"})
    refused = is_problem(answer, 400, "malformed_json")
    assert "'referrer' twice" in refused["message"]
    assert "Iemand Anders" not in answer.text
    # Nested objects too.
    body = referral()
    inner = json.dumps(body["members"][0])
    nested = raw.replace(inner, inner[:-1] + ', "role": "parent"}', 1)
    assert nested != raw
    answer = await gateway.http.post("/v1/referrals", content=nested, headers={
        **gateway.partner(), "Idempotency-Key": "k-twice-2",
        "Content-Type": "application/json"})
    assert "'role' twice" in is_problem(answer, 400, "malformed_json")["message"]
    await nothing_written(pg_store)


async def test_every_error_has_the_one_shape(gateway: Gateway) -> None:
    http = gateway.http
    is_problem(await http.get("/v1/nothing-here"), 404, "not_found")
    is_problem(await http.delete("/v1/referrals"), 405, "method_not_allowed")
    malformed = await http.post("/v1/referrals", content=b'{"reference": ', headers={
        **gateway.partner(), "Idempotency-Key": "k-malformed",
        "Content-Type": "application/json"})
    assert is_problem(malformed, 400, "malformed_json")["fields"][0]["field"] == "body"
    not_utf8 = await http.post("/v1/referrals", content=b'{"reference": "\xff"}', headers={
        **gateway.partner(), "Idempotency-Key": "k-not-utf8",
        "Content-Type": "application/json"})
    assert "UTF-8" in is_problem(not_utf8, 400, "malformed_json")["message"]
    deep = b"[" * 100_000 + b"]" * 100_000
    is_problem(await http.post("/v1/referrals", content=deep, headers={
        **gateway.partner(), "Idempotency-Key": "k-deep",
        "Content-Type": "application/json"}), 400, "malformed_json")
    is_problem(await http.get("/v1/trajectories/c-1"), 401, "unauthenticated")


async def test_a_bug_is_a_500_in_the_error_shape_without_internals(
    pg_store: PostgresEventStore,
) -> None:
    app = create_app(Settings(), store=pg_store)

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret internals: Sam de Vries, 2015-03-14")

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://gateway") as http:
        answer = await http.get("/boom")
    problem = is_problem(answer, 500, "internal_error")
    assert "Sam" not in answer.text and "Traceback" not in answer.text
    assert "X-Request-Id" in problem["message"] and answer.headers["X-Request-Id"]


@pytest.mark.parametrize(("code", "status", "error"), [
    (RPCStatusCode.RESOURCE_EXHAUSTED, 429, "case_busy"),
    (RPCStatusCode.UNAVAILABLE, 503, "temporal_unavailable"),
    (RPCStatusCode.DEADLINE_EXCEEDED, 503, "temporal_unavailable"),
])
async def test_temporal_busy_is_429_and_down_is_503_both_with_retry_after(
    pg_store: PostgresEventStore, code: RPCStatusCode, status: int, error: str
) -> None:
    mapped = _unavailable(RPCError("too many in-flight updates", code, b""), "c-1")
    app = create_app(Settings(), store=pg_store)

    @app.get("/answer")
    async def answer() -> None:
        raise mapped

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://gateway") as http:
        answered = await http.get("/answer")
    is_problem(answered, status, error)
    assert int(answered.headers["Retry-After"]) > 0
    assert "in-flight" not in answered.text  # Temporal's own words stay inside
    assert isinstance(mapped, GatewayError)


def test_temporal_s_own_words_stay_out_of_any_answer() -> None:
    refused = _rpc_error(RPCError("shard 7 of cluster-x refused", RPCStatusCode.INTERNAL,
                                  b""), "c-1")
    assert refused.status_code == 502
    assert "shard" not in refused.message and "INTERNAL" in refused.message


def test_the_openapi_document_declares_the_error_shape_everywhere() -> None:
    spec = create_app(Settings()).openapi()
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            answers = operation["responses"]
            assert {"413", "500"} <= set(answers), (path, method)
            for code, answer in answers.items():
                if int(code) >= 400:
                    assert answer["content"] == {PROBLEM_JSON: {"schema": {
                        "$ref": "#/components/schemas/ErrorBody"}}}, (path, method, code)
    error_body = spec["components"]["schemas"]["ErrorBody"]
    assert {"type", "title", "status", "detail", "error", "message"} <= set(
        error_body["required"])
