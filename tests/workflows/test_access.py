"""Access over HTTP, on the real stack parts: every principal against the reads, a signal
and commands of each kind, on its own case and another case, with the status expected in
each cell; every refused cell writes nothing to the case and adds one access-log row.
Then credentials (revoked keys, bad tokens), idempotency keys and forged decisions."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from domain.policy import RegionPolicy
from infra.access_log import Outcome, read_access_log
from infra.event_store import PostgresEventStore
from infra.partner_keys import create_key, revoke_key
from infra.settings import Settings
from tests.directory_fixture import GGD, POLICE, SCHOOL
from tests.identity_provider import oidc_settings, token
from tests.workflows.gateway_support import Gateway, running_gateway

# (method, path under the case, body) per action; bodies name the caller where a command
# names who acts ("{me}").
ACTIONS: dict[str, tuple[str, str, dict[str, Any] | None]] = {
    "read_state": ("GET", "", None),
    "read_status": ("GET", "/status", None),
    "signal": ("POST", "/signals", {"kind": "concern", "description": "zorgen over school"}),
    # The coordinator's: the case is in care already, so the rules refuse it (422).
    "start_care": ("POST", "/start_care", {}),
    # The team's: there is no such agreement (422).
    "complete_agreement": ("POST", "/complete_agreement", {"agreement_id": "a-none"}),
    # The coordinator's manager's: recorded (200).
    "record_manager_review": ("POST", "/record_manager_review", {
        "manager_id": "{me}", "decision": "continue", "note": "blijven proberen"}),
    # The ladder's (coordinator, manager, process director; only an open episode's
    # assignee acts on it): there is no such episode (422).
    "resolve_escalation": ("POST", "/resolve_escalation", {
        "episode_id": "ep-none", "by": "{me}", "decision": "besluit"}),
}

F = 403
# principal -> expected status per action, on (own case, other case). The own case is in
# care (coordinator pro-coord, pro-team of the GGD in the team); the other was just
# referred by the police, and nobody has taken it up.
MATRIX: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {
    #                 state status signal start agreement review resolve
    SCHOOL:         ((F, 200, 202, F, F, F, F), (F, F, F, F, F, F, F)),
    GGD:            ((F, 200, 202, F, F, F, F), (F, F, F, F, F, F, F)),
    POLICE:         ((F, F, F, F, F, F, F), (F, 200, 202, F, F, F, F)),
    "pro-coord":    ((200, 200, F, 422, 422, F, 422), (200, 200, F, F, F, F, F)),
    "pro-team":     ((200, 200, F, F, 422, F, F), (F, F, F, F, F, F, F)),
    "pro-mgr":      ((200, 200, F, F, F, 200, 422), (200, 200, F, F, F, F, F)),
    "pro-dir":      ((200, 200, F, F, F, F, 422), (200, 200, F, F, F, F, 422)),
    "pro-intake":   ((F, F, F, F, F, F, F), (200, 200, F, F, F, F, F)),
    "pro-other":    ((F, F, F, F, F, F, F), (F, F, F, F, F, F, F)),
    "op-1":         ((200, 200, F, F, F, F, F), (200, 200, F, F, F, F, F)),
}
PARTNERS = {SCHOOL, GGD, POLICE}


async def test_the_rights_matrix_over_http(gateway: Gateway,
                                           pg_store: PostgresEventStore) -> None:
    own = await gateway.into_care()
    other = await gateway.new_case(POLICE, family="Twee")
    failures = []
    signals = {own: 0, other: 0}
    for principal, (own_row, other_row) in MATRIX.items():
        for case, row in ((own, own_row), (other, other_row)):
            for (action, (method, path, body)), expected in zip(ACTIONS.items(), row,
                                                                strict=True):
                credentials = (gateway.partner(principal) if principal in PARTNERS
                               else gateway.professional(principal))
                payload = None if body is None else {
                    k: (principal if v == "{me}" else v) for k, v in body.items()}
                before = len(await pg_store.read_stream(f"trajectory-{case}"))
                answer = await gateway.http.request(
                    method, f"/v1/trajectories/{case}{path}", json=payload,
                    headers={**credentials, "Idempotency-Key": uuid.uuid4().hex})
                cell = f"{principal} {action} on the {'own' if case == own else 'other'} case"
                if answer.status_code != expected:
                    failures.append(f"{cell}: {answer.status_code} != {expected} "
                                    f"{answer.text[:120]}")
                    continue
                if expected == F:
                    assert len(await pg_store.read_stream(f"trajectory-{case}")) == before
                    await _one_refusal_logged(pg_store, answer, case, action)
                elif action == "signal":  # a signal is recorded after the answer
                    signals[case] += 1
                    await _settled(pg_store, f"trajectory-{case}", "PartnerSignalRecorded",
                                   signals[case])
    assert not failures, "\n".join(failures)


async def _one_refusal_logged(store: PostgresEventStore, answer: httpx.Response, case: str,
                              action: str) -> None:
    async with store.pool.acquire() as conn:
        rows = [r for r in await read_access_log(conn, case_id=case)
                if r.request_id == answer.headers["X-Request-Id"]]
    assert [(r.action, r.outcome, r.status) for r in rows] == [
        (action, Outcome.REFUSED, 403)], rows
    assert rows[0].reason == answer.json()["message"]


async def test_reads_and_writes_are_logged_with_who_and_what(
        gateway: Gateway, pg_store: PostgresEventStore) -> None:
    case = await gateway.into_care()
    read = await gateway.http.get(f"/v1/trajectories/{case}",
                                  headers=gateway.professional("pro-coord"))
    assert read.status_code == 200
    async with pg_store.pool.acquire() as conn:
        rows = await read_access_log(conn, case_id=case)
    assert [(r.principal_kind, r.principal_id, r.action, r.outcome) for r in rows] == [
        ("partner", SCHOOL, "refer", Outcome.ALLOWED),
        ("professional", "pro-intake", "record_intake", Outcome.ALLOWED),
        ("professional", "pro-intake", "give_consent", Outcome.ALLOWED),
        ("professional", "pro-intake", "add_team_member", Outcome.ALLOWED),
        ("professional", "pro-intake", "add_team_member", Outcome.ALLOWED),
        ("professional", "pro-intake", "appoint_coordinator", Outcome.ALLOWED),
        ("professional", "pro-coord", "start_care", Outcome.ALLOWED),
        ("professional", "pro-coord", "read_state", Outcome.ALLOWED),
    ]
    assert rows[0].credential_id is not None  # which of the school's keys
    assert rows[-1].request_id == read.headers["X-Request-Id"]
    async with pg_store.pool.acquire() as conn:
        with pytest.raises(Exception, match="append-only"):
            await conn.execute("DELETE FROM access_log")


async def test_credentials_that_are_missing_wrong_or_revoked_get_401_and_are_logged(
        gateway: Gateway, pg_store: PostgresEventStore) -> None:
    case = await gateway.new_case()
    async with pg_store.pool.acquire() as conn:
        spare = await create_key(conn, SCHOOL)
    url = f"/v1/trajectories/{case}/status"
    plain: dict[str, dict[str, str]] = {
        "none": {},
        "unknown key": {"X-API-Key": "regie_pk_" + "x" * 43},
        "not a key": {"X-API-Key": "\u00e9\u00e9n"},  # not ASCII: sent as UTF-8 bytes
        "both": {**gateway.partner(), **gateway.professional("pro-coord")},
        "not bearer": {"Authorization": "Basic cHJvOnB3"},
        "garbage token": {"Authorization": "Bearer not.a.token"},
    }
    # As bytes: a header that is not ASCII is the point of one attempt.
    attempts = {name: {k.encode(): v.encode() for k, v in h.items()}
                for name, h in plain.items()}
    for name, headers in attempts.items():
        answer = await gateway.http.get(url, headers=headers)
        assert answer.status_code == 401, (name, answer.text)
        assert answer.json()["error"] == "unauthenticated"
        assert answer.headers["WWW-Authenticate"] == "Bearer"

    assert (await gateway.http.get(url, headers={"X-API-Key": spare.key})).status_code == 200
    async with pg_store.pool.acquire() as conn:
        assert await revoke_key(conn, spare.key_id) is not None
    revoked = await gateway.http.get(url, headers={"X-API-Key": spare.key})
    assert revoked.status_code == 401
    assert "revoked" in revoked.json()["message"]
    # The organisation's other key (rotation) still works.
    assert (await gateway.http.get(url, headers=gateway.partner())).status_code == 200

    async with pg_store.pool.acquire() as conn:
        rows = await read_access_log(conn, case_id=case)
    refused = [r for r in rows if r.outcome is Outcome.UNAUTHENTICATED]
    assert len(refused) == len(attempts) + 1
    assert all(r.principal_kind == "anonymous" and r.principal_id is None for r in refused)
    assert spare.key not in str(rows)


async def test_an_idempotency_key_is_the_principals_own_and_bound_to_its_request(
        gateway: Gateway, pg_store: PostgresEventStore) -> None:
    case = await gateway.into_care()
    stream = f"trajectory-{case}"
    signal = {"kind": "concern", "description": "zorgen"}
    url = f"/v1/trajectories/{case}/signals"
    first = await gateway.http.post(url, json=signal, headers={
        **gateway.partner(SCHOOL), "Idempotency-Key": "shared-1"})
    assert first.status_code == 202
    # Another partner that happens to pick the same key is not silenced.
    other = await gateway.http.post(url, json=signal, headers={
        **gateway.partner(GGD), "Idempotency-Key": "shared-1"})
    assert other.status_code == 202
    again = await gateway.http.post(url, json=signal, headers={
        **gateway.partner(SCHOOL), "Idempotency-Key": "shared-1"})
    assert (again.status_code, again.json()) == (202, first.json())
    reused = await gateway.http.post(url, json={**signal, "description": "iets anders"},
                                     headers={**gateway.partner(SCHOOL),
                                              "Idempotency-Key": "shared-1"})
    assert reused.status_code == 409
    assert reused.json()["error"] == "idempotency_key_reused"

    await _settled(pg_store, stream, "PartnerSignalRecorded", 2)
    actors = [e.metadata.actor for e in await pg_store.read_stream(stream)
              if e.type == "PartnerSignalRecorded"]
    assert sorted(actors) == [f"partner:{GGD}", f"partner:{SCHOOL}"]

    # A referral reusing a key for another family is refused, not silently dropped.
    first_referral = await gateway.refer("r-1", key="referral-key", family="Drie")
    assert first_referral.status_code == 202
    second = await gateway.refer("r-2", key="referral-key", family="Vier")
    assert second.status_code == 409
    async with pg_store.pool.acquire() as conn:
        # Nobody of the second family was even looked up, let alone recorded.
        assert await conn.fetchval("SELECT count(*) FROM case_members") == 2 + 2


async def _settled(store: PostgresEventStore, stream: str, event_type: str,
                   count: int) -> None:
    for _ in range(200):
        if sum(e.type == event_type for e in await store.read_stream(stream)) >= count:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{count} {event_type} never recorded on {stream}")


async def test_forged_identity_in_a_body_and_a_forged_cap_override_are_refused(
        gateway: Gateway, pg_store: PostgresEventStore) -> None:
    case = await gateway.into_care()
    stream = f"trajectory-{case}"
    before = len(await pg_store.read_stream(stream))
    # The coordinator records a contact attempt in the team member's name.
    named = await gateway.command(case, "record_contact_attempt", "pro-coord",
                                  {"by": "pro-team", "channel": "phone", "reached": False})
    assert named.status_code == 403
    assert "signed in as pro-coord" in named.json()["message"]
    # A body's actor is not the caller's to choose either.
    actor = await gateway.command(case, "record_contact_attempt", "pro-coord", {
        "actor": "process_director:pro-dir", "by": "pro-coord", "channel": "phone",
        "reached": True})
    assert actor.status_code == 200
    # The team member overrides the caseload cap for pro-coord in the manager's name ...
    override = {"member_id": "pro-coord",
                "override": {"manager_id": "pro-mgr", "reason": "tijdelijk"}}
    forged = await gateway.command(case, "appoint_coordinator", "pro-team", override)
    assert forged.status_code == 403
    # ... or in their own, but they are not pro-coord's manager.
    own_name = {**override, "override": {"manager_id": "pro-team", "reason": "tijdelijk"}}
    forged = await gateway.command(case, "appoint_coordinator", "pro-team", own_name)
    assert forged.status_code == 403
    assert "pro-mgr" in forged.json()["message"]
    events = await pg_store.read_stream(stream)
    assert len(events) == before + 1
    assert events[-1].metadata.actor == "professional:pro-coord"


async def test_professionals_sign_in_with_the_regions_identity_provider(
        dev_env: WorkflowEnvironment, pg_store: PostgresEventStore, tmp_path: Path,
        jwks_url: str) -> None:
    async with running_gateway(dev_env.client, pg_store, tmp_path,
                               oidc_settings(jwks_url)) as gateway:
        case = await gateway.new_case()
        url = f"/v1/trajectories/{case}"

        def bearer(value: str) -> dict[str, str]:
            return {"Authorization": f"Bearer {value}"}

        signed_in = await gateway.http.get(url, headers=bearer(token(who="pro-intake")))
        assert signed_in.status_code == 200, signed_in.text
        for bad in (token(who="pro-intake", expires_in=timedelta(minutes=-1)),
                    token(who="pro-intake", audience="another-app"),
                    token(who="nobody-known"),
                    gateway.issuer.issue("pro-intake", 5)):  # the dev issuer is off
            refused = await gateway.http.get(url, headers=bearer(bad))
            assert refused.status_code == 401, refused.text


async def test_a_flooding_caller_gets_429_and_a_slow_request_503_with_retry_after(
        dev_env: WorkflowEnvironment, pg_store: PostgresEventStore, tmp_path: Path) -> None:
    limited = Settings(rate_limit_per_minute=1, rate_limit_burst=2)
    async with running_gateway(dev_env.client, pg_store, tmp_path / "a", limited) as gateway:
        case = await gateway.new_case()  # the school's first request
        url = f"/v1/trajectories/{case}/status"
        assert (await gateway.http.get(url, headers=gateway.partner())).status_code == 200
        flooded = await gateway.http.get(url, headers=gateway.partner())
        assert flooded.status_code == 429
        assert flooded.json()["error"] == "rate_limited"
        assert int(flooded.headers["Retry-After"]) >= 1
        # Another caller is not held up by the school's flood.
        other = await gateway.http.get(url, headers=gateway.professional("pro-intake"))
        assert other.status_code == 200
    hurried = Settings(request_deadline_seconds=0.000001)
    async with running_gateway(dev_env.client, pg_store, tmp_path / "b", hurried) as gateway:
        late = await gateway.http.get("/v1/trajectories/any-case",
                                      headers=gateway.professional("op-1"))
        assert late.status_code == 503
        assert late.json()["error"] == "deadline_passed"
        assert int(late.headers["Retry-After"]) >= 1


async def test_a_partner_that_floods_one_case_hears_when_it_may_signal_again(
        dev_env: WorkflowEnvironment, pg_store: PostgresEventStore, tmp_path: Path) -> None:
    strict = RegionPolicy(partner_signals_per_case_per_day=2)
    async with running_gateway(dev_env.client, pg_store, tmp_path, policy=strict) as gateway:
        case = await gateway.new_case()
        url = f"/v1/trajectories/{case}/signals"
        for n in range(2):
            sent = await gateway.http.post(url, json={"kind": "concern", "description": "zorg"},
                                           headers={**gateway.partner(),
                                                    "Idempotency-Key": f"q-{n}"})
            assert sent.status_code == 202
            await _settled(pg_store, f"trajectory-{case}", "PartnerSignalRecorded", n + 1)
        third = await gateway.http.post(url, json={"kind": "concern", "description": "zorg"},
                                        headers={**gateway.partner(), "Idempotency-Key": "q-2"})
        assert third.status_code == 429
        assert third.json()["error"] == "signal_quota_reached"
        assert "coordinator" in third.json()["message"]
        assert 1 <= int(third.headers["Retry-After"]) <= 24 * 3600
        # Another partner of the case (the police referred the same family) has its own.
        joined = await gateway.refer("police-ref", POLICE)
        assert (joined.json()["case_id"], joined.json()["joined"]) == (case, True)
        police = await gateway.http.post(url, json={"kind": "concern", "description": "zorg"},
                                         headers={**gateway.partner(POLICE),
                                                  "Idempotency-Key": "p"})
        assert police.status_code == 202
        await _settled(pg_store, f"trajectory-{case}", "PartnerSignalRecorded", 3)
