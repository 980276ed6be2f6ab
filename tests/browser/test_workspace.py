"""The workspace in a real headless Chromium, against the gateway over real HTTP on
127.0.0.1 with the real worker, the Temporal dev server, PostgreSQL and the test
directory: sign-in, the pages, the forms, the refusals, and axe-core on every page.

The escalations reach levels 2 and 3 without waiting: the ladder skips a level whose
professional the directory no longer knows as active (a coordinator who left), as it
does in production; the manager and the process director then act from the board.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect
from temporalio.testing import WorkflowEnvironment

from domain.events import EscalationLevelAssigned, EscalationResolved, PlanEvaluated
from infra.access_log import Outcome, read_access_log
from infra.directory import DirectoryFile, ProfessionalEntry, import_directory
from infra.event_store import PostgresEventStore
from infra.projections import PROJECTIONS
from infra.subscription import CatchUpSubscription
from tests.browser.support import assert_accessible, screenshot, served
from tests.directory_fixture import DIRECTORY, GGD, SCHOOL
from tests.workflows.gateway_support import Gateway, running_gateway
from tests.workflows.test_handler_seams import until

# A coordinator the directory names without a manager: their escalations go from level 1
# straight to the process director.
SOLO = ProfessionalEntry(id="pro-solo", name="Coordinator Zonder Leiding",
                         organisation_id=GGD)
WITH_SOLO = DirectoryFile(organisations=DIRECTORY.organisations,
                          professionals=(*DIRECTORY.professionals, SOLO),
                          regions=DIRECTORY.regions)


@pytest.fixture
async def site(dev_env: WorkflowEnvironment, pg_store: PostgresEventStore,
               tmp_path: Path) -> AsyncIterator[tuple[Gateway, str]]:
    async with running_gateway(dev_env.client, pg_store, tmp_path) as gateway:
        async with pg_store.pool.acquire() as conn:
            await import_directory(conn, WITH_SOLO, source="tests")
        async with served(gateway.app) as base_url:
            yield gateway, base_url


async def new_page(browser: Browser) -> Page:
    context = await browser.new_context(locale="nl-NL", bypass_csp=True,
                                        viewport={"width": 1200, "height": 900})
    return await context.new_page()


async def sign_in(page: Page, base_url: str, professional_id: str) -> None:
    await page.goto(f"{base_url}/werkplek/inloggen")
    await page.get_by_label("Professional (id uit de organisatiegids)").fill(professional_id)
    await page.get_by_role("button", name="Inloggen").click()
    await page.get_by_role("link", name="Verder naar de werkplek").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Mijn gezinnen")


async def with_plan(gateway: Gateway, coordinator: str = "pro-coord") -> tuple[str, date]:
    """A case in care (the school referred it, the intake worker took it up) with its
    coordinator's plan: one goal for the child, one agreement; its evaluation date."""
    case_id = await gateway.into_care() if coordinator == "pro-coord" else \
        await into_care_with(gateway, coordinator)
    read = await gateway.http.get(f"/v1/trajectories/{case_id}",
                                  headers=gateway.professional(coordinator))
    child = next(m["person_id"] for m in read.json()["members"] if m["role"] == "child")
    evaluation = date.today() + timedelta(days=30)
    steps: list[tuple[str, dict[str, Any]]] = [
        ("skip_family_group_plan", {"ground": "threat_to_development",
                                    "reason": "Acute zorgen; geen tijd voor een FGP."}),
        ("adopt_plan", {"plan": {
            "goals": [{"goal_id": "g-school", "person_id": child,
                       "life_domain": "education_work",
                       "description": "Kind Een gaat elke dag naar school",
                       "criterion": "Vier weken geen verzuim"}],
            "involved": [{"party_id": coordinator, "role": "coördinator"}],
            "agreements": [{"agreement_id": "a-mentor", "action": "Gesprek met mentor",
                            "owner": coordinator,
                            "due": (date.today() + timedelta(days=60)).isoformat()}],
            "evaluation_date": evaluation.isoformat()}}),
    ]
    for name, body in steps:
        done = await gateway.command(case_id, name, coordinator, body)
        assert done.status_code == 200, f"{name}: {done.text}"
    return case_id, evaluation


async def into_care_with(gateway: Gateway, coordinator: str) -> str:
    case_id = await gateway.new_case()
    read = await gateway.http.get(f"/v1/trajectories/{case_id}",
                                  headers=gateway.professional("pro-intake"))
    ids = {m["role"]: m["person_id"] for m in read.json()["members"]}
    steps: list[tuple[str, str, dict[str, Any]]] = [
        ("record_intake", "pro-intake", {"outcome": "accepted", "assessments": [
            {"life_domain": "education_work", "strengths": "betrokken",
             "problems": "verzuim"}]}),
        ("give_consent", "pro-intake", {"consent_id": "c-help", "subject_id": ids["child"],
                                        "purpose": "help",
                                        "given_by": [ids["parent"], ids["child"]]}),
        ("add_team_member", "pro-intake", {"member": {
            "member_id": coordinator, "kind": "professional", "name": "Coordinator Solo",
            "organisation": GGD}}),
        ("add_team_member", "pro-intake", {"member": {
            "member_id": "pro-team", "kind": "professional", "name": "Teamlid Twee",
            "organisation": GGD}}),
        ("appoint_coordinator", "pro-intake", {"member_id": coordinator}),
        ("start_care", coordinator, {}),
    ]
    for name, who, body in steps:
        done = await gateway.command(case_id, name, who, body)
        assert done.status_code == 200, f"{name}: {done.text}"
    return case_id


async def stagnation_at(gateway: Gateway, store: PostgresEventStore, case_id: str,
                        level: int) -> None:
    """The team member reports that the plan is stuck; the ladder climbs to `level`."""
    done = await gateway.command(case_id, "report_stagnation", "pro-team", {
        "reported_by": "pro-team", "description": "Afspraken komen niet van de grond"})
    assert done.status_code == 200, done.text

    async def at_level() -> bool:
        return any(isinstance(e.payload, EscalationLevelAssigned) and e.payload.level == level
                   for e in await store.read_stream(f"trajectory-{case_id}"))

    await until(at_level, f"case {case_id} at escalation level {level}")


async def test_a_coordinator_signs_in_sees_their_cases_and_evaluates_the_plan(
        browser: Browser, site: tuple[Gateway, str], pg_store: PostgresEventStore) -> None:
    gateway, base_url = site
    case_id, evaluation = await with_plan(gateway)
    page = await new_page(browser)

    await page.goto(f"{base_url}/werkplek/inloggen")
    await assert_accessible(page)
    await screenshot(page, "inloggen")
    await sign_in(page, base_url, "pro-coord")
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name=case_id))
    await expect(row).to_contain_text("in zorg")
    await expect(row).to_contain_text("coördinator")
    await assert_accessible(page)
    await screenshot(page, "mijn-gezinnen")

    await page.get_by_role("link", name=case_id).click()
    await expect(page.get_by_role("heading", level=1)).to_have_text(f"Gezin {case_id}")
    await expect(page.locator("ul.members")).to_contain_text("Ouder Een")
    await expect(page.get_by_text("Kind Een gaat elke dag naar school").first).to_be_visible()
    months = ("januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus",
              "september", "oktober", "november", "december")
    await expect(page.locator("#plan ~ p").first).to_contain_text(
        f"{evaluation.day} {months[evaluation.month - 1]} {evaluation.year}")
    await assert_accessible(page)
    await screenshot(page, "gezin")

    # Without the next evaluation date the rule refuses, beside that field, and nothing
    # is written.
    form = page.locator("form#evaluate_plan")
    await form.get_by_label("Voortgang").select_option("progressing")
    await form.get_by_role("button", name="Vastleggen").click()
    refusal = page.locator("#evaluate_plan-next_evaluation_date-error")
    await expect(refusal).to_contain_text("set the next evaluation date")
    await expect(page.get_by_label("Datum volgende evaluatie")).to_have_attribute(
        "aria-invalid", "true")
    await assert_accessible(page)
    await screenshot(page, "gezin-weigering")
    stream = await pg_store.read_stream(f"trajectory-{case_id}")
    assert not [e for e in stream if isinstance(e.payload, PlanEvaluated)]

    # With it, the evaluation is recorded; the same form sent again does nothing twice.
    next_date = evaluation + timedelta(days=28)
    form = page.locator("form#evaluate_plan")
    await form.get_by_label("Datum volgende evaluatie").fill(next_date.isoformat())
    key = await form.locator("input[name=idempotency_key]").input_value()
    await form.get_by_role("button", name="Vastleggen").click()
    await expect(page.get_by_role("status")).to_have_text("Vastgelegd.")
    await expect(page.locator("#plan ~ p").first).to_contain_text(
        f"{next_date.day} {months[next_date.month - 1]}")
    await expect(page.locator("ol.timeline")).to_contain_text("Plan geëvalueerd")
    resent = await page.request.post(
        f"{base_url}/werkplek/gezinnen/{case_id}/evaluate_plan",
        form={"csrf": await page.locator("input[name=csrf]").first.input_value(),
              "idempotency_key": key, "results.0.goal_id": "g-school",
              "results.0.progress": "progressing",
              "next_evaluation_date": next_date.isoformat()}, max_redirects=0)
    assert resent.status == 303
    assert "al-verstuurd" in resent.headers["location"]
    stream = await pg_store.read_stream(f"trajectory-{case_id}")
    assert len([e for e in stream if isinstance(e.payload, PlanEvaluated)]) == 1

    # Every page read and form went into the access log under the coordinator.
    async with pg_store.pool.acquire() as conn:
        rows = await read_access_log(conn, case_id=case_id)
    mine = [(r.action, r.outcome) for r in rows if r.principal_id == "pro-coord"]
    assert ("read_state", Outcome.ALLOWED) in mine
    assert ("list_my_cases", Outcome.ALLOWED) in mine
    assert ("evaluate_plan", Outcome.FAILED) in mine  # refused by the rule: 422
    assert ("evaluate_plan", Outcome.ALLOWED) in mine


async def test_a_manager_resolves_a_level_two_escalation_from_the_board(
        browser: Browser, site: tuple[Gateway, str], pg_store: PostgresEventStore) -> None:
    gateway, base_url = site
    case_id, _ = await with_plan(gateway)
    # The coordinator left (inactive in the directory): the ladder goes to their manager.
    left = DirectoryFile(organisations=WITH_SOLO.organisations,
                         professionals=tuple(p for p in WITH_SOLO.professionals
                                             if p.id != "pro-coord"),
                         regions=WITH_SOLO.regions)
    async with pg_store.pool.acquire() as conn:
        await import_directory(conn, left, source="tests")
    await stagnation_at(gateway, pg_store, case_id, 2)

    page = await new_page(browser)
    await sign_in(page, base_url, "pro-mgr")
    await page.get_by_role("link", name="Opschaling").click()
    level2 = page.locator("section", has=page.get_by_role("heading", name="Niveau 2"))
    await expect(level2.get_by_role("row").filter(
        has=page.get_by_role("link", name=case_id))).to_contain_text("stagnatie gemeld")
    await assert_accessible(page)
    await screenshot(page, "opschaling")

    board_form = level2.locator("form", has=page.get_by_role("button", name="Opschaling oplossen"))
    await board_form.get_by_label("Besluit").fill("Extra ondersteuning; evaluatie over twee weken.")
    await board_form.get_by_role("button", name="Opschaling oplossen").click()
    await expect(page.get_by_role("status")).to_have_text("Vastgelegd.")
    await expect(page.get_by_text("Geen open opschalingen.")).to_be_visible()
    resolved = [e.payload for e in await pg_store.read_stream(f"trajectory-{case_id}")
                if isinstance(e.payload, EscalationResolved)]
    assert [(r.level, r.by, r.binding) for r in resolved] == [(2, "pro-mgr", False)]


async def test_a_process_director_takes_a_binding_decision(
        browser: Browser, site: tuple[Gateway, str], pg_store: PostgresEventStore) -> None:
    gateway, base_url = site
    case_id, _ = await with_plan(gateway, coordinator="pro-solo")
    # A coordinator without a manager who left: the ladder goes to the process director.
    left = DirectoryFile(organisations=WITH_SOLO.organisations,
                         professionals=DIRECTORY.professionals, regions=WITH_SOLO.regions)
    async with pg_store.pool.acquire() as conn:
        await import_directory(conn, left, source="tests")
    await stagnation_at(gateway, pg_store, case_id, 3)

    page = await new_page(browser)
    await sign_in(page, base_url, "pro-dir")
    await page.goto(f"{base_url}/werkplek/gezinnen/{case_id}")
    episode = page.locator(".episode")
    await expect(episode).to_contain_text("Niveau 3")
    await assert_accessible(page)
    await episode.get_by_label("Besluit").fill("Bindend: schoolplaatsing binnen een week.")
    await episode.get_by_role("button", name="Bindend besluit nemen (doorzettingsmacht)").click()
    await expect(page.get_by_role("status")).to_have_text("Vastgelegd.")
    await expect(page.locator("#plan").locator("xpath=..")).to_contain_text(
        "bindend (doorzettingsmacht)")
    resolved = [e.payload for e in await pg_store.read_stream(f"trajectory-{case_id}")
                if isinstance(e.payload, EscalationResolved)]
    assert [(r.level, r.by, r.binding) for r in resolved] == [(3, "pro-dir", True)]

    # The process director sees every coordinator's load against the cap and the
    # region's figures (the read models brought up to date as the projector would).
    for name, make in PROJECTIONS.items():
        await CatchUpSubscription(pg_store, name, make()).catch_up()
    await page.get_by_role("link", name="Caseload").click()
    chart = page.locator("svg.chart")
    await expect(chart).to_contain_text("Coordinator Zonder Leiding")
    await expect(page.get_by_role("row", name="Coordinator Zonder Leiding (pro-solo) 1 15")
                 ).to_be_visible()
    await assert_accessible(page)
    await screenshot(page, "caseload")

    await page.get_by_role("link", name="Regiocijfers").click()
    stagnations = page.locator("svg.chart", has_text="Stagnaties naar oorzaak")
    await expect(stagnations).to_contain_text("stagnatie gemeld")
    await expect(stagnations).to_contain_text("opgelost op niveau 3: 1")
    await expect(page.get_by_text("Bindende besluiten (doorzettingsmacht) dit jaar: 1."))\
        .to_be_visible()
    await expect(page.locator("svg.chart", has_text="Familiegroepsplannen per jaar"))\
        .to_contain_text("doel 40")
    await assert_accessible(page)
    await screenshot(page, "regiocijfers")


async def test_a_partners_key_and_another_team_cannot_open_it(
        browser: Browser, site: tuple[Gateway, str], pg_store: PostgresEventStore) -> None:
    gateway, base_url = site
    case_id = await gateway.into_care()

    partner = await browser.new_context(extra_http_headers=gateway.partner(SCHOOL),
                                        bypass_csp=True)
    page = await partner.new_page()
    answer = await page.goto(f"{base_url}/werkplek/")
    assert answer is not None and answer.status == 403
    await expect(page.get_by_role("alert")).to_contain_text("the workspace is for professionals")
    await assert_accessible(page)
    answer = await page.goto(f"{base_url}/werkplek/gezinnen/{case_id}")
    assert answer is not None and answer.status == 403
    await expect(page.get_by_text("Ouder Een")).to_have_count(0)

    page = await new_page(browser)
    await sign_in(page, base_url, "pro-other")
    await expect(page.get_by_text("U heeft nu geen gezinnen.")).to_be_visible()
    answer = await page.goto(f"{base_url}/werkplek/gezinnen/{case_id}")
    assert answer is not None and answer.status == 403
    await expect(page.get_by_role("alert")).to_contain_text("has no role on case")
    await expect(page.get_by_text("Ouder Een")).to_have_count(0)
    await assert_accessible(page)
    await screenshot(page, "geen-toegang")

    async with pg_store.pool.acquire() as conn:
        rows = await read_access_log(conn, case_id=case_id)
    refused = {(r.principal_id, r.action) for r in rows if r.outcome is Outcome.REFUSED}
    assert ("pro-other", "read_state") in refused
    assert (SCHOOL, "read_state") in refused


async def test_without_a_session_every_page_sends_the_browser_to_sign_in(
        browser: Browser, site: tuple[Gateway, str]) -> None:
    gateway, base_url = site
    case_id = await gateway.new_case()
    page = await new_page(browser)
    for path in ("/werkplek/", f"/werkplek/gezinnen/{case_id}", "/werkplek/opschaling",
                 "/werkplek/caseload"):
        await page.goto(f"{base_url}{path}")
        await expect(page.get_by_role("heading", level=1)).to_have_text("Inloggen")
    # Pages are not cached, framed by another site or given script from elsewhere.
    answer = await page.goto(f"{base_url}/werkplek/inloggen")
    assert answer is not None
    assert answer.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
    assert "default-src 'self'" in answer.headers["content-security-policy"]
    # A forged session cookie is no session.
    await page.context.add_cookies([{"name": "regie_session", "value": "e30.AAAA",
                                     "url": base_url}])
    await page.goto(f"{base_url}/werkplek/")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Inloggen")
    # A form without the session's CSRF token writes nothing.
    await sign_in(page, base_url, "pro-intake")
    forged = await page.request.post(
        f"{base_url}/werkplek/gezinnen/{case_id}/record_contact_attempt",
        form={"csrf": "not-the-token", "idempotency_key": uuid.uuid4().hex,
              "channel": "telefoon"}, max_redirects=0)
    assert forged.status == 403


async def test_the_api_docs_work_offline(browser: Browser, site: tuple[Gateway, str]) -> None:
    _, base_url = site
    page = await new_page(browser)
    outside: list[str] = []
    page.on("request", lambda r: outside.append(r.url)
            if not r.url.startswith(base_url) and not r.url.startswith("data:") else None)
    await page.goto(f"{base_url}/docs")
    await expect(page.get_by_text("Regie gateway").first).to_be_visible()
    await expect(page.locator(".opblock").first).to_be_visible()
    assert outside == []


async def test_an_erased_persons_name_reads_as_erased(
        browser: Browser, site: tuple[Gateway, str], pg_store: PostgresEventStore) -> None:
    gateway, base_url = site
    case_id = await gateway.into_care()
    read = await gateway.http.get(f"/v1/trajectories/{case_id}",
                                  headers=gateway.professional("pro-coord"))
    parent = next(m["person_id"] for m in read.json()["members"] if m["role"] == "parent")
    assert await pg_store.erase_subject(parent)

    page = await new_page(browser)
    await sign_in(page, base_url, "pro-coord")
    await page.goto(f"{base_url}/werkplek/gezinnen/{case_id}")
    members = page.locator("ul.members")
    await expect(members).to_contain_text("(gewist)")
    await expect(members).to_contain_text("Kind Een")
    assert "Ouder Een" not in await page.content()
