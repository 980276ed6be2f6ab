"""Walk one sample family through its trajectory on the running local stack, over HTTP;
or seed the region with ten families in different phases (`seed_region`, `--region`).

    .venv/bin/python -m workers.demo [--reference demo-2] [--gateway http://127.0.0.1:8080]
    .venv/bin/python -m workers.demo --region

Referral, intake, team and coordinator, the family group plan, an evaluation and the
closure with aftercare: each step is a real, authenticated request to the gateway, as a
partner (the school, with an API key) or the care coordinator (pro-1, with a token)
would send it. The demo gets those credentials as an operator would, with the same code
as `regie partner key create` and `regie token issue`; with an empty directory it first
imports `infra/directory.example.yaml`. Afterwards the workflow is in the Temporal Web
UI, the events are in `regie timeline <case id>` and the accesses in `regie audit --case
<case id>`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx

from infra.database import create_pool, prepare_database
from infra.directory import import_directory, load_directory_file, read_directory
from infra.partner_keys import create_key
from infra.settings import Settings
from infra.tokens import DevIssuer

EXAMPLE_DIRECTORY = Path(__file__).resolve().parent.parent / "infra/directory.example.yaml"
SCHOOL = "basisschool-de-linde"  # the referring partner in the example directory
COORDINATOR = "pro-1"  # of the intake organisation, wijkteam-alkmaar: takes up the case
PARTNER = "partner"


def referral(reference: str) -> dict[str, Any]:
    """A made-up family, new for each reference (a family referred again would join its
    open trajectory: one family, one trajectory)."""
    family = reference.rsplit("-", 1)[-1].capitalize()
    return {
        "reference": reference, "referrer": "intern begeleider",
        "members": [
            {"ref": "moeder", "role": "parent", "name": f"Anna {family}",
             "birth_date": "1985-03-14", "has_parental_authority": True},
            {"ref": "kind", "role": "child", "name": f"Sam {family}",
             "birth_date": "2014-09-02"}],
        "reasons": [{"about": "kind", "life_domain": "education_work",
                     "description": "veel verzuim (frequent absence)"}]}


def steps(person: dict[str, str], today: date) -> list[tuple[str, str, dict[str, Any]]]:
    """(title, command, body), all given by the coordinator; `person`: the referral's
    refs -> Regie's person ids."""
    plan = {
        "goals": [{"goal_id": "g-school", "person_id": person["kind"],
                   "life_domain": "education_work",
                   "description": "Sam gaat elke dag naar school",
                   "criterion": "minder dan 2 dagen verzuim per maand"}],
        "agreements": [{"agreement_id": "a-1", "action": "gesprek met mentor",
                        "owner": "pro-1", "due": str(today + timedelta(days=14))}],
        "evaluation_date": str(today + timedelta(days=42)),
    }
    return [
        ("intake: accepted", "record_intake", {
            "outcome": "accepted", "assessments": [
                {"life_domain": "education_work", "strengths": "betrokken moeder",
                 "problems": "schoolverzuim"}]}),
        ("consent for help (child of 12 and parent)", "give_consent", {
            "consent_id": "c-help", "subject_id": person["kind"], "purpose": "help",
            "given_by": [person["moeder"], person["kind"]]}),
        ("add a professional to the team", "add_team_member", {
            "member": {"member_id": COORDINATOR, "kind": "professional",
                       "name": "Fatima El Amrani", "organisation": "wijkteam-alkmaar"}}),
        ("the family's preference for coordinator",
         "record_family_preference", {"preferred_member_id": COORDINATOR}),
        ("appoint the care coordinator", "appoint_coordinator", {
            "member_id": COORDINATOR}),
        ("start care", "start_care", {}),
        ("offer the family group plan", "offer_family_group_plan", {}),
        ("the family submits its own plan", "submit_family_group_plan", {
            "plan": plan, "young_person_took_part": True}),
        ("agreement done", "complete_agreement", {"agreement_id": "a-1"}),
        ("final evaluation", "evaluate_plan", {
            "final": True, "results": [{"goal_id": "g-school", "progress": "achieved"}]}),
        ("close: goals achieved; aftercare starts", "close", {
            "reason": "goals_achieved"}),
    ]


async def credentials(settings: Settings, say: Callable[[str], None] = print
                      ) -> dict[str, dict[str, str]]:
    """Headers for the school (a new API key) and the coordinator (a dev token)."""
    dsn, _server = await prepare_database(settings.database_url, settings.data_dir,
                                          settings.database_name)
    pool = await create_pool(dsn, max_size=1)
    try:
        async with pool.acquire() as conn:
            if not (await read_directory(conn)).professionals:
                await import_directory(conn, load_directory_file(EXAMPLE_DIRECTORY),
                                       source=str(EXAMPLE_DIRECTORY.name))
                say(f"imported the example directory ({EXAMPLE_DIRECTORY.name})")
            key = await create_key(conn, SCHOOL)
    finally:
        await pool.close()
    say(f"partner key {key.key_id} for {SCHOOL}; a token for {COORDINATOR}\n")
    token = DevIssuer(settings.data_dir).issue(COORDINATOR, settings.dev_token_minutes)
    return {PARTNER: {"X-API-Key": key.key},
            COORDINATOR: {"Authorization": f"Bearer {token}"}}


# -- a region of families: `seed_region` --------------------------------------------


@dataclass(frozen=True)
class DemoCase:
    """One seeded family: the school's reference, Regie's case id, and what it shows."""

    reference: str
    case_id: str
    family: str  # the made-up surname
    phase: str  # the phase the seeding left it in
    shows: str  # what an operator can look at in it


# Request bodies name the family's persons (`Persons`: the referral's refs -> Regie's
# person ids) and dates from today.
Body = dict[str, Any]
Persons = dict[str, str]
Step = tuple[str, str, Body]  # (who: PARTNER or a professional, command or "signal", body)

TEAM_MEMBER = "pro-3"  # a youth nurse of the GGD, in the example directory


@dataclass(frozen=True)
class _Family:
    number: int
    surname: str
    phase: str
    shows: str
    steps: Callable[[Persons, date], list[Step]]

    @property
    def reference(self) -> str:
        # Fixed: a second run sends the same references and Idempotency-Keys, and gets
        # the first run's answers instead of ten more families.
        return f"demo-region-{self.number:02d}"


def _taken_up(person: Persons, today: date) -> list[Step]:
    return [
        (COORDINATOR, "record_intake", {"outcome": "accepted", "assessments": [
            {"life_domain": "education_work", "strengths": "betrokken ouder",
             "problems": "schoolverzuim"}]}),
        (COORDINATOR, "give_consent", {"consent_id": "c-help", "subject_id": person["kind"],
                                       "purpose": "help",
                                       "given_by": [person["moeder"], person["kind"]]}),
        (COORDINATOR, "add_team_member", {"member": {
            "member_id": COORDINATOR, "kind": "professional", "name": "Fatima El Amrani",
            "organisation": "wijkteam-alkmaar"}}),
        (COORDINATOR, "add_team_member", {"member": {
            "member_id": TEAM_MEMBER, "kind": "professional", "name": "Sanne de Jong",
            "organisation": "ggd-hn"}}),
        (COORDINATOR, "record_family_preference", {"preferred_member_id": COORDINATOR}),
        (COORDINATOR, "appoint_coordinator", {"member_id": COORDINATOR}),
    ]


def _a_plan(person: Persons, today: date) -> Body:
    return {
        "goals": [{"goal_id": "g-school", "person_id": person["kind"],
                   "life_domain": "education_work", "description": "elke dag naar school",
                   "criterion": "minder dan 2 dagen verzuim per maand"}],
        "agreements": [{"agreement_id": "a-1", "action": "gesprek met mentor",
                        "owner": COORDINATOR, "due": str(today + timedelta(days=14))}],
        "evaluation_date": str(today + timedelta(days=42)),
    }


def _in_care(person: Persons, today: date) -> list[Step]:
    return [*_taken_up(person, today), (COORDINATOR, "start_care", {})]


def _fgp_offered(person: Persons, today: date) -> list[Step]:
    return [*_in_care(person, today), (COORDINATOR, "offer_family_group_plan", {})]


def _planned(person: Persons, today: date) -> list[Step]:
    return [*_fgp_offered(person, today),
            (COORDINATOR, "submit_family_group_plan", {"plan": _a_plan(person, today),
                                                       "young_person_took_part": True})]


def _evaluated(person: Persons, today: date) -> list[Step]:
    return [*_planned(person, today), (COORDINATOR, "evaluate_plan", {
        "final": False, "next_evaluation_date": str(today + timedelta(days=70)),
        "results": [{"goal_id": "g-school", "progress": "progressing"}]})]


def _unreachable(person: Persons, today: date) -> list[Step]:
    # Three failed contacts within the policy's period: care avoidance, found at once.
    failed: Body = {"by": COORDINATOR, "channel": "phone", "reached": False}
    return [*_planned(person, today), *[(COORDINATOR, "record_contact_attempt", failed)] * 3]


def _in_aftercare(person: Persons, today: date) -> list[Step]:
    return [*_planned(person, today),
            (COORDINATOR, "complete_agreement", {"agreement_id": "a-1"}),
            (COORDINATOR, "evaluate_plan", {"final": True, "results": [
                {"goal_id": "g-school", "progress": "achieved"}]}),
            (COORDINATOR, "close", {"reason": "goals_achieved"})]


def _relapsed(person: Persons, today: date) -> list[Step]:
    return [*_in_aftercare(person, today), (PARTNER, "signal", {
        "kind": "relapse", "description": "weer veel verzuim sinds de zomer"})]


def _waiting_reported(person: Persons, today: date) -> list[Step]:
    return [(PARTNER, "signal", {"kind": "stagnation",
                                 "description": "wacht al weken op een intake"})]


def _declined(person: Persons, today: date) -> list[Step]:
    return [(COORDINATOR, "record_intake", {"outcome": "declined",
                                            "reason": "geen meervoudige problematiek"})]


# The made-up families and their stories.
REGION_FAMILIES = (
    _Family(1, "Appelboom", "referred", "just referred: the intake waiting norm runs",
            lambda person, today: []),
    _Family(2, "Zonneveld", "referred", "waiting for intake and reported stuck by the "
            "school: an open escalation before the waiting norm itself passes",
            _waiting_reported),
    _Family(3, "Kersenboom", "accepted", "team and coordinator, care not started yet (the "
            "care start waiting norm runs)", _taken_up),
    _Family(4, "Wolkenveld", "ended", "intake declined: the trajectory ended", _declined),
    _Family(5, "Lindeboom", "in_care", "family group plan offered, its term runs",
            _fgp_offered),
    _Family(6, "Rozendaal", "in_care", "the family's own plan, evaluation in 6 weeks",
            _planned),
    _Family(7, "Heuvelrug", "in_care", "evaluated once, progressing", _evaluated),
    _Family(8, "Duinzicht", "in_care", "unreachable three times (care avoidance): an "
            "open escalation with the coordinator", _unreachable),
    _Family(9, "Bosrand", "aftercare", "closed with goals achieved, check-ins scheduled",
            _in_aftercare),
    _Family(10, "Waterkant", "in_care", "reopened by a relapse in aftercare (revolving "
            "door), with its last plan", _relapsed),
)


def region_referral(family: _Family) -> Body:
    """A made-up family: a parent and a child with a made-up surname."""
    return {
        "reference": family.reference, "referrer": "intern begeleider",
        "members": [
            {"ref": "moeder", "role": "parent", "name": f"Anna {family.surname}",
             "birth_date": "1985-03-14", "has_parental_authority": True},
            {"ref": "kind", "role": "child", "name": f"Sam {family.surname}",
             "birth_date": "2014-09-02"}],
        "reasons": [{"about": "kind", "life_domain": "education_work",
                     "description": "veel verzuim (frequent absence)"}]}


# Resending a request the gateway could not take now (429, 503) with the same key is safe:
# it does nothing twice.
SEND_ATTEMPTS = 8
SEND_WAIT_CAP_SECONDS = 10.0


async def _send(http: httpx.AsyncClient, path: str, body: Body,
                headers: dict[str, str]) -> httpx.Response:
    for _ in range(SEND_ATTEMPTS - 1):
        response = await http.post(path, json=body, headers=headers)
        if response.status_code not in (429, 503):
            return response
        await asyncio.sleep(min(float(response.headers.get("Retry-After", "1")),
                                SEND_WAIT_CAP_SECONDS))
    return await http.post(path, json=body, headers=headers)


class SeedError(RuntimeError):
    """A request of the seeding was refused: the stack is not what the demo expects."""


async def seed_region(gateway_url: str, *, progress: Callable[[str], None] | None = None,
                      settings: Settings | None = None,
                      http: httpx.AsyncClient | None = None) -> list[DemoCase]:
    """Seed the running stack with ten made-up families in different phases, through
    the gateway's HTTP contract and the real workflows, as the school and the coordinator
    would. Running it again sends the same references and Idempotency-Keys: it finds the
    same ten cases and does nothing twice.

    Time is real here: the waiting norms are weeks (a region's policy counts them in whole
    weeks), so no seeded family is past one. Family 2 is waiting and reported stuck by the
    school, which opens an escalation at once; family 8 is in care and unreachable three
    times, which does the same. The norms' own dates are in each workflow's memo.

    `settings` (where the credentials come from: the database and the data dir) and
    `http` (a client of an in-process gateway) are for tests; by default the local
    stack's, at `gateway_url`."""
    say = progress or (lambda _line: None)
    settings = settings or Settings()
    headers = await credentials(settings, say)
    today = date.today()
    seeded: list[DemoCase] = []
    async with contextlib.AsyncExitStack() as stack:
        if http is None:
            http = await stack.enter_async_context(
                httpx.AsyncClient(base_url=gateway_url, timeout=60))
        for family in REGION_FAMILIES:
            referred = await _send(http, "/v1/referrals", region_referral(family), {
                **headers[PARTNER], "Idempotency-Key": family.reference})
            if referred.status_code >= 300:
                raise SeedError(f"referral {family.reference}: {referred.status_code} "
                                f"{referred.text}")
            answer = referred.json()
            case_id: str = answer["case_id"]
            person = {m["ref"]: m["person_id"] for m in answer["members"]}
            status = await http.get(f"/v1/trajectories/{case_id}/status",
                                    headers=headers[PARTNER])
            # Every step is sent again on a second run, with its key: it returns the first
            # answer. Only an ended case is left alone: nobody has a role on it any more.
            ended = status.status_code == 200 and status.json()["phase"] == "ended"
            steps = [] if ended else family.steps(person, today)
            for n, (who, command, body) in enumerate(steps, start=1):
                key = f"{family.reference}-{n:02d}-{command}"
                path = (f"/v1/trajectories/{case_id}/signals" if command == "signal"
                        else f"/v1/trajectories/{case_id}/{command}")
                response = await _send(http, path, body,
                                       {**headers[who], "Idempotency-Key": key})
                if response.status_code >= 300:
                    raise SeedError(f"{family.reference} {command}: "
                                    f"{response.status_code} {response.text}")
            say(f"{family.reference}  {case_id}  {family.phase:<9}  {family.shows}")
            seeded.append(DemoCase(reference=family.reference, case_id=case_id,
                                   family=family.surname, phase=family.phase,
                                   shows=family.shows))
    return seeded


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reference", default=f"demo-{uuid.uuid4().hex[:6]}",
                        help="the school's reference for the referral")
    parser.add_argument("--gateway", default="http://127.0.0.1:8080")
    parser.add_argument("--region", action="store_true",
                        help="seed ten families in different phases instead (twice: the "
                             "same ten)")
    args = parser.parse_args(argv)
    reference: str = args.reference
    settings = Settings()
    if not settings.dev_issuer_enabled:
        print("the demo signs in with the local dev issuer, which is off here",
              file=sys.stderr)
        return 1
    if args.region:
        try:
            cases = asyncio.run(seed_region(args.gateway, progress=print, settings=settings))
        except SeedError as error:
            print(error, file=sys.stderr)
            return 1
        print(f"\n{len(cases)} families. In the Web UI, filter the workflow list by e.g."
              """ Phase = "in_care", EscalationLevel > 0 or InAftercare = true.""")
        return 0
    headers = asyncio.run(credentials(settings))
    with httpx.Client(base_url=args.gateway, timeout=30) as http:
        referred = http.post("/v1/referrals", json=referral(reference), headers={
            **headers[PARTNER], "Idempotency-Key": reference})
        print(f"{referred.status_code}  refer the family (partner: school): {referred.text}")
        if referred.status_code >= 300:
            return 1
        case_id: str = referred.json()["case_id"]
        person = {m["ref"]: m["person_id"] for m in referred.json()["members"]}
        for title, command, body in steps(person, date.today()):
            response = http.post(f"/v1/trajectories/{case_id}/{command}", json=body,
                                 headers={**headers[COORDINATOR],
                                          "Idempotency-Key": f"{reference}-{command}"})
            print(f"{response.status_code}  {title}: {response.text}")
            if response.status_code >= 300:
                return 1
        state = http.get(f"/v1/trajectories/{case_id}", headers=headers[COORDINATOR]).json()
        status = http.get(f"/v1/trajectories/{case_id}/status", headers=headers[PARTNER])
        print(f"\nwhat the school sees: {status.text}")
    print(f"\ncase {case_id} is now {state['phase']}; check-ins due: "
          f"{[c['due'][:10] for c in state['check_ins']]}")
    print(f"Web UI: http://127.0.0.1:8233/namespaces/default/workflows/trajectory-{case_id}")
    print(f"Events: .venv/bin/regie timeline {case_id}")
    print(f"Accesses: .venv/bin/regie audit --case {case_id}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
