"""The gateway on the Temporal dev server and the real worker, with the directory of
tests/directory_fixture.py and real credentials: partner API keys made with
`infra.partner_keys`, and professionals' tokens from the dev issuer (a key under the
test's own data dir)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from temporalio.client import Client

from domain.policy import RegionPolicy
from infra.directory import import_directory
from infra.event_store import PostgresEventStore
from infra.partner_keys import create_key
from infra.settings import Settings
from infra.tokens import DevIssuer
from tests.directory_fixture import DIRECTORY, GGD, SCHOOL, WIJKTEAM
from tests.factories import partner_referral
from workers.gateway import create_app
from workers.worker import build_worker

ACCEPTED: dict[str, Any] = {"outcome": "accepted", "assessments": [
    {"life_domain": "education_work", "strengths": "betrokken", "problems": "verzuim"}]}


@dataclass
class Gateway:
    """The gateway over HTTP, with a way to call it as each principal."""

    http: httpx.AsyncClient
    issuer: DevIssuer
    app: FastAPI
    keys: dict[str, str] = field(default_factory=dict)
    _tokens: dict[str, str] = field(default_factory=dict)

    def partner(self, organisation: str = SCHOOL) -> dict[str, str]:
        return {"X-API-Key": self.keys[organisation]}

    def professional(self, professional_id: str) -> dict[str, str]:
        token = self._tokens.get(professional_id)
        if token is None:
            token = self._tokens[professional_id] = self.issuer.issue(professional_id, 30)
        return {"Authorization": f"Bearer {token}"}

    async def refer(self, reference: str = "ref-1", organisation: str = SCHOOL,
                    key: str | None = None, **family: Any) -> httpx.Response:
        body = partner_referral(reference, **family).model_dump(mode="json")
        return await self.http.post("/v1/referrals", json=body, headers={
            **self.partner(organisation), "Idempotency-Key": key or uuid.uuid4().hex})

    async def new_case(self, organisation: str = SCHOOL, **family: Any) -> str:
        """Refer a made-up family; Regie's case id for it."""
        referred = await self.refer(f"ref-{uuid.uuid4().hex[:8]}", organisation, **family)
        assert referred.status_code == 202, referred.text
        case_id: str = referred.json()["case_id"]
        return case_id

    async def command(self, case_id: str, name: str, as_: str, body: dict[str, Any],
                      key: str | None = None) -> httpx.Response:
        return await self.http.post(
            f"/v1/trajectories/{case_id}/{name}", json=body,
            headers={**self.professional(as_), "Idempotency-Key": key or uuid.uuid4().hex})

    async def into_care(self, **family: Any) -> str:
        """Refer (the school), take up (the intake worker) and start care (pro-coord,
        with pro-team from the GGD in the team); the case id."""
        referred = await self.refer(f"ref-{uuid.uuid4().hex[:8]}", **family)
        assert referred.status_code == 202, referred.text
        case_id: str = referred.json()["case_id"]
        ids = {m["ref"]: m["person_id"] for m in referred.json()["members"]}
        steps: list[tuple[str, str, dict[str, Any]]] = [
            ("record_intake", "pro-intake", ACCEPTED),
            ("give_consent", "pro-intake", {"consent_id": "c-help", "subject_id": ids["m2"],
                                            "purpose": "help",
                                            "given_by": [ids["m1"], ids["m2"]]}),
            ("add_team_member", "pro-intake", {"member": {
                "member_id": "pro-coord", "kind": "professional", "name": "Coordinator Een",
                "organisation": WIJKTEAM}}),
            ("add_team_member", "pro-intake", {"member": {
                "member_id": "pro-team", "kind": "professional", "name": "Teamlid Twee",
                "organisation": GGD}}),
            ("appoint_coordinator", "pro-intake", {"member_id": "pro-coord"}),
            ("start_care", "pro-coord", {}),
        ]
        for name, who, body in steps:
            done = await self.command(case_id, name, who, body)
            assert done.status_code == 200, f"{name}: {done.text}"
        return case_id


@asynccontextmanager
async def running_gateway(client: Client, store: PostgresEventStore, data_dir: Path,
                          settings: Settings | None = None,
                          policy: RegionPolicy | None = None) -> AsyncIterator[Gateway]:
    task_queue = f"tq-{uuid.uuid4()}"
    settings = (settings or Settings()).model_copy(
        update={"task_queue": task_queue, "data_dir": data_dir})
    async with store.pool.acquire() as conn:
        await import_directory(conn, DIRECTORY, source="tests")
        keys = {org.id: (await create_key(conn, org.id)).key
                for org in DIRECTORY.organisations}
    app = create_app(settings, client=client, store=store, policy=policy or RegionPolicy())
    async with build_worker(client, store, task_queue), httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://gateway"
    ) as http, app.router.lifespan_context(app):
        yield Gateway(http=http, issuer=DevIssuer(data_dir), app=app, keys=keys)
