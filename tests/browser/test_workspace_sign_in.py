"""Signing in to the workspace at the region's identity provider, in a real Chromium:
the authorisation-code flow with state, nonce and PKCE against the stand-in provider of
tests/identity_provider.py, the gateway over real HTTP on 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect
from temporalio.testing import WorkflowEnvironment

from infra.access_log import Outcome, read_access_log
from infra.event_store import PostgresEventStore
from tests.browser.support import assert_accessible, served
from tests.identity_provider import Provider, serving_provider, token
from tests.workflows.gateway_support import Gateway, running_gateway


@pytest.fixture(scope="module")
def provider() -> Iterator[Provider]:
    with serving_provider() as served_provider:
        yield served_provider


@pytest.fixture
async def site(dev_env: WorkflowEnvironment, pg_store: PostgresEventStore, tmp_path: Path,
               provider: Provider) -> AsyncIterator[tuple[Gateway, str]]:
    async with running_gateway(dev_env.client, pg_store, tmp_path,
                               settings=provider.settings()) as gateway, \
            served(gateway.app) as base_url:
        yield gateway, base_url


async def test_a_professional_signs_in_at_the_identity_provider(
        browser: Browser, site: tuple[Gateway, str], provider: Provider,
        pg_store: PostgresEventStore) -> None:
    gateway, base_url = site
    # The JSON calls that set the case up carry the provider's tokens too.
    for who in ("pro-intake", "pro-coord"):
        gateway._tokens[who] = token(who=who)
    case_id = await gateway.into_care()
    provider.who = "pro-coord"
    page = await browser.new_page(bypass_csp=True)
    await page.goto(f"{base_url}/werkplek/inloggen")
    # With an identity provider the dev sign-in is off: no field to name anyone.
    await expect(page.get_by_label("Professional (id uit de organisatiegids)")).to_have_count(0)
    await assert_accessible(page)
    await page.get_by_role("button", name="Inloggen bij de regio").click()
    await page.get_by_role("link", name="Verder naar de werkplek").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Mijn gezinnen")
    await expect(page.get_by_role("link", name=case_id)).to_be_visible()
    assert provider.refused == []
    session = next(c for c in await page.context.cookies() if c["name"] == "regie_session")
    assert session["httpOnly"] and session["sameSite"] == "Strict"
    async with pg_store.pool.acquire() as conn:
        rows = await read_access_log(conn, principal_id="pro-coord")
    assert ("workspace_sign_in", Outcome.ALLOWED) in {(r.action, r.outcome) for r in rows}


async def test_a_forged_or_replayed_callback_signs_nobody_in(
        browser: Browser, site: tuple[Gateway, str], provider: Provider) -> None:
    _, base_url = site
    provider.who = "pro-coord"
    page = await browser.new_page(bypass_csp=True)
    await page.goto(f"{base_url}/werkplek/inloggen")
    # A callback whose state is not the one this browser started with.
    answer = await page.goto(f"{base_url}/werkplek/oidc/terug?code=abc&state=forged")
    assert answer is not None and answer.status == 401
    await expect(page.get_by_role("alert")).to_contain_text("does not match")

    # The real flow once; its code, replayed, is refused by the provider.
    codes: list[str] = []
    page.on("request", lambda r: codes.append(r.url) if "/oidc/terug" in r.url else None)
    await page.goto(f"{base_url}/werkplek/inloggen")
    await page.get_by_role("button", name="Inloggen bij de regio").click()
    await expect(page.get_by_role("link", name="Verder naar de werkplek")).to_be_visible()
    await page.goto(f"{base_url}/werkplek/inloggen")  # a new login: new state and verifier
    answer = await page.goto(codes[-1])
    assert answer is not None and answer.status in (400, 401)
    await expect(page.get_by_role("alert")).to_be_visible()

    # Someone the directory does not know is not signed in, whatever the provider says.
    provider.who = "pro-unknown"
    await page.context.clear_cookies()
    await page.goto(f"{base_url}/werkplek/inloggen")
    await page.get_by_role("button", name="Inloggen bij de regio").click()
    await expect(page.get_by_role("alert")).to_contain_text("organisatiegids")
    await page.goto(f"{base_url}/werkplek/")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Inloggen")
