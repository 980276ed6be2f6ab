"""The codec server on the gateway: operators decode a real history's payloads (with a
bearer token, or the session cookie the Web UI's browser sends), everyone else is
refused, every decode is in the access log, and CORS lets only the Web UI in."""

from __future__ import annotations

import json
from typing import Any

import httpx
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload
from temporalio.testing import WorkflowEnvironment

from infra.access_log import Outcome, read_access_log
from infra.event_store import PostgresEventStore
from infra.payload_codec import ENCODING, EncryptionCodec
from infra.payload_keys import Keyring
from infra.settings import Settings
from tests.directory_fixture import SCHOOL
from tests.history_payloads import payloads_of, personal_data_in
from tests.workflows.gateway_support import Gateway
from workers.codec_server import SESSION_COOKIE
from workflows.trajectory import workflow_id_for

OPERATOR = "op-1"


def body(payloads: list[Payload]) -> dict[str, Any]:
    return {"payloads": [json_format.MessageToDict(p) for p in payloads]}


def payloads(answer: httpx.Response) -> list[Payload]:
    return [json_format.ParseDict(p, Payload()) for p in answer.json()["payloads"]]


async def referred_history(gateway: Gateway, env: WorkflowEnvironment) -> list[Payload]:
    case = await gateway.new_case()
    history = await env.client.get_workflow_handle(workflow_id_for(case)).fetch_history()
    stored = payloads_of(history)
    assert stored and not personal_data_in(stored)
    return stored


async def decode_rows(store: PostgresEventStore) -> list[tuple[str | None, Outcome, int]]:
    async with store.pool.acquire() as conn:
        rows = await read_access_log(conn)
    return [(r.principal_id, r.outcome, r.status or 0) for r in rows
            if r.action == "codec_decode"]


async def test_only_operators_decode_and_every_decode_is_logged(
        gateway: Gateway, dev_env: WorkflowEnvironment, pg_store: PostgresEventStore) -> None:
    stored = await referred_history(gateway, dev_env)
    callers: dict[str, tuple[dict[str, str], int]] = {
        "nobody": ({}, 401),
        "a partner": (gateway.partner(SCHOOL), 403),
        "a professional of the case's intake": (gateway.professional("pro-intake"), 403),
        "an operator": (gateway.professional(OPERATOR), 200),
    }
    answers = {}
    for name, (headers, expected) in callers.items():
        answer = await gateway.http.post("/codec/decode", json=body(stored), headers={
            **headers, "X-Namespace": "default"})
        assert answer.status_code == expected, (name, answer.text)
        answers[name] = answer
    assert personal_data_in(payloads(answers["an operator"])) >= {"Ouder Een", "1985-03-14"}
    assert "not an operator" in answers["a partner"].json()["message"]
    assert not any(p.metadata.get("encoding") == ENCODING
                   for p in payloads(answers["an operator"]))
    assert await decode_rows(pg_store) == [
        (None, Outcome.UNAUTHENTICATED, 401), (SCHOOL, Outcome.REFUSED, 403),
        ("pro-intake", Outcome.REFUSED, 403), (OPERATOR, Outcome.ALLOWED, 200)]


async def test_a_decode_whose_access_cannot_be_logged_is_not_answered(
        gateway: Gateway, dev_env: WorkflowEnvironment, pg_store: PostgresEventStore) -> None:
    stored = await referred_history(gateway, dev_env)
    async with pg_store.pool.acquire() as conn:
        # Every codec_decode row is refused from now on, as when the log is unwritable.
        await conn.execute("ALTER TABLE access_log ADD CONSTRAINT no_decodes "
                           "CHECK (action <> 'codec_decode') NOT VALID")
    answer = await gateway.http.post("/codec/decode", json=body(stored),
                                     headers=gateway.professional(OPERATOR))
    assert answer.status_code == 503
    assert "Ouder Een" not in answer.text


async def test_an_operator_session_cookie_lets_the_web_ui_decode(
        gateway: Gateway, dev_env: WorkflowEnvironment) -> None:
    stored = await referred_history(gateway, dev_env)
    refused = await gateway.http.post("/codec/session",
                                      headers=gateway.professional("pro-intake"))
    assert refused.status_code == 403
    assert "set-cookie" not in refused.headers
    page = await gateway.http.get("/codec/session")
    assert page.status_code == 200 and "regie token issue" in page.text

    started = await gateway.http.post("/codec/session",
                                      headers=gateway.professional(OPERATOR))
    assert started.status_code == 200, started.text
    assert started.json()["operator"] == OPERATOR
    cookie = started.headers["set-cookie"]
    attributes = {a.strip().split("=")[0].lower() for a in cookie.split(";")}
    assert {"httponly", "path", "samesite", "max-age"} <= attributes
    assert "Path=/codec" in cookie and "SameSite=strict" in cookie
    token = cookie.split(";")[0].split("=", 1)[1]
    gateway.http.cookies.clear()

    with_cookie = {"Cookie": f"{SESSION_COOKIE}={token}"}
    decoded = await gateway.http.post("/codec/decode", json=body(stored), headers=with_cookie)
    assert decoded.status_code == 200, decoded.text
    assert "Ouder Een" in personal_data_in(payloads(decoded))
    # The cookie opens the codec only, not the rest of the gateway.
    other = await gateway.http.get("/v1/trajectories/x/status", headers=with_cookie)
    assert other.status_code == 401
    ended = await gateway.http.delete("/codec/session")
    assert ended.status_code == 204 and "Max-Age=0" in ended.headers["set-cookie"]


async def test_cors_lets_the_web_ui_in_with_credentials_and_no_one_else(
        gateway: Gateway) -> None:
    ui = f"http://127.0.0.1:{Settings().temporal_ui_port}"
    asked = {"Access-Control-Request-Method": "POST",
             "Access-Control-Request-Headers": "content-type,x-namespace,authorization"}
    for origin in (ui, ui.replace("127.0.0.1", "localhost")):
        preflight = await gateway.http.options("/codec/decode",
                                               headers={"Origin": origin, **asked})
        assert preflight.status_code == 200, preflight.text
        assert preflight.headers["access-control-allow-origin"] == origin
        assert preflight.headers["access-control-allow-credentials"] == "true"
        allowed = preflight.headers["access-control-allow-headers"].lower()
        assert {"x-namespace", "authorization", "content-type"} <= set(allowed.split(", "))
    stranger = await gateway.http.options("/codec/decode", headers={
        "Origin": "http://127.0.0.1:9999", **asked})
    assert "access-control-allow-origin" not in stranger.headers
    # The rest of the gateway answers no browser of another origin, the Web UI's neither.
    elsewhere = await gateway.http.options("/v1/referrals", headers={"Origin": ui, **asked})
    assert "access-control-allow-origin" not in elsewhere.headers
    refused = await gateway.http.post("/codec/decode", json={"payloads": []},
                                      headers={"Origin": ui})
    assert refused.status_code == 401
    assert refused.headers["access-control-allow-origin"] == ui  # the UI may read why


async def test_encode_decode_round_trip_and_clear_errors(gateway: Gateway) -> None:
    operator = gateway.professional(OPERATOR)
    plain = [Payload(metadata={"encoding": b"json/plain"}, data=b'"Anna de Vries"')]
    encoded = await gateway.http.post("/codec/encode", json=body(plain), headers=operator)
    assert encoded.status_code == 200, encoded.text
    assert not personal_data_in(payloads(encoded))
    decoded = await gateway.http.post("/codec/decode", json=encoded.json(), headers=operator)
    assert payloads(decoded) == plain

    foreign = await EncryptionCodec(Keyring.generate("old-2025")).encode(plain)
    unknown = await gateway.http.post("/codec/decode", json=body(foreign), headers=operator)
    assert unknown.status_code == 422
    assert unknown.json()["error"] == "payload_not_decodable"
    assert "old-2025" in unknown.json()["message"]

    malformed = await gateway.http.post("/codec/decode", headers=operator,
                                        json={"payloads": [{"data": 7}]})
    assert malformed.status_code == 422 and malformed.json()["error"] == "invalid_request"
    as_text = await gateway.http.post("/codec/decode", content=json.dumps(body(plain)),
                                      headers={**operator, "Content-Type": "text/plain"})
    assert as_text.status_code == 415
