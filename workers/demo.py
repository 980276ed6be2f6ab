"""Walk one sample family through its trajectory on the running local stack, over HTTP.

    .venv/bin/python -m workers.demo [--reference demo-2] [--gateway http://127.0.0.1:8080]

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
import sys
import uuid
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
            "plan": plan}),
        ("agreement done", "complete_agreement", {"agreement_id": "a-1"}),
        ("final evaluation", "evaluate_plan", {
            "final": True, "results": [{"goal_id": "g-school", "progress": "achieved"}]}),
        ("close: goals achieved; aftercare starts", "close", {
            "reason": "goals_achieved"}),
    ]


async def credentials(settings: Settings) -> dict[str, dict[str, str]]:
    """Headers for the school (a new API key) and the coordinator (a dev token)."""
    dsn, _server = await prepare_database(settings.database_url, settings.data_dir,
                                          settings.database_name)
    pool = await create_pool(dsn, max_size=1)
    try:
        async with pool.acquire() as conn:
            if not (await read_directory(conn)).professionals:
                await import_directory(conn, load_directory_file(EXAMPLE_DIRECTORY),
                                       source=str(EXAMPLE_DIRECTORY.name))
                print(f"imported the example directory ({EXAMPLE_DIRECTORY.name})")
            key = await create_key(conn, SCHOOL)
    finally:
        await pool.close()
    print(f"partner key {key.key_id} for {SCHOOL}; a token for {COORDINATOR}\n")
    token = DevIssuer(settings.data_dir).issue(COORDINATOR, settings.dev_token_minutes)
    return {PARTNER: {"X-API-Key": key.key},
            COORDINATOR: {"Authorization": f"Bearer {token}"}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reference", default=f"demo-{uuid.uuid4().hex[:6]}",
                        help="the school's reference for the referral")
    parser.add_argument("--gateway", default="http://127.0.0.1:8080")
    args = parser.parse_args(argv)
    reference: str = args.reference
    settings = Settings()
    if not settings.dev_issuer_enabled:
        print("the demo signs in with the local dev issuer, which is off here",
              file=sys.stderr)
        return 1
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
