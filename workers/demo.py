"""Walk one sample family through its trajectory on the running local stack, over HTTP.

    .venv/bin/python -m workers.demo [--case-id demo-2] [--gateway http://127.0.0.1:8080]

Referral, intake, team and coordinator, the family group plan, an evaluation and the
closure with aftercare: each step is a real request to the gateway, as a partner or a
caseworker would send it. Afterwards the workflow is in the Temporal Web UI and the
events are in `regie timeline <case id>`.
"""

from __future__ import annotations

import argparse
import sys
import uuid
from datetime import date, timedelta
from typing import Any

import httpx

ACTOR = "coordinator:pro-1"


def steps(case_id: str, today: date) -> list[tuple[str, str, dict[str, Any]]]:
    plan = {
        "goals": [{"goal_id": "g-school", "person_id": "c-1", "life_domain": "education_work",
                   "description": "Sam gaat elke dag naar school",
                   "criterion": "minder dan 2 dagen verzuim per maand"}],
        "agreements": [{"agreement_id": "a-1", "action": "gesprek met mentor",
                        "owner": "pro-1", "due": str(today + timedelta(days=14))}],
        "evaluation_date": str(today + timedelta(days=42)),
    }
    return [
        ("refer the family (partner: school)", "/v1/referrals", {
            "case_id": case_id, "referral": {
                "referral_id": f"school-{case_id}", "organisation": "Basisschool De Linde",
                "referrer": "intern begeleider",
                "members": [
                    {"person_id": "p-1", "role": "parent", "name": "Anna de Vries",
                     "birth_date": "1985-03-14", "has_parental_authority": True},
                    {"person_id": "c-1", "role": "child", "name": "Sam de Vries",
                     "birth_date": "2014-09-02"}],
                "reasons": [{"about": "c-1", "life_domain": "education_work",
                             "description": "veel verzuim (frequent absence)"}]}}),
        ("intake: accepted", "record_intake", {
            "actor": ACTOR, "outcome": "accepted", "assessments": [
                {"life_domain": "education_work", "strengths": "betrokken moeder",
                 "problems": "schoolverzuim"}]}),
        ("consent for help (child of 12 and parent)", "give_consent", {
            "actor": ACTOR, "consent_id": "c-help", "subject_id": "c-1", "purpose": "help",
            "given_by": ["p-1", "c-1"]}),
        ("add a professional to the team", "add_team_member", {
            "actor": ACTOR, "member": {"member_id": "pro-1", "kind": "professional",
                                       "name": "Ilse Bakker", "organisation": "Wijkteam"}}),
        ("the family's preference for coordinator", "record_family_preference", {
            "actor": ACTOR, "preferred_member_id": "pro-1"}),
        ("appoint the care coordinator", "appoint_coordinator", {
            "actor": "manager:m-1", "member_id": "pro-1"}),
        ("start care", "start_care", {"actor": ACTOR}),
        ("offer the family group plan", "offer_family_group_plan", {"actor": ACTOR}),
        ("the family submits its own plan", "submit_family_group_plan", {
            "actor": "family", "plan": plan}),
        ("agreement done", "complete_agreement", {"actor": ACTOR, "agreement_id": "a-1"}),
        ("final evaluation", "evaluate_plan", {
            "actor": ACTOR, "final": True,
            "results": [{"goal_id": "g-school", "progress": "achieved"}]}),
        ("close: goals achieved; aftercare starts", "close", {
            "actor": ACTOR, "reason": "goals_achieved"}),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--case-id", default=f"demo-{uuid.uuid4().hex[:6]}")
    parser.add_argument("--gateway", default="http://127.0.0.1:8080")
    args = parser.parse_args(argv)
    case_id: str = args.case_id
    with httpx.Client(base_url=args.gateway, timeout=30) as http:
        for title, path, body in steps(case_id, date.today()):
            url = path if path.startswith("/") else f"/v1/trajectories/{case_id}/{path}"
            response = http.post(url, json=body, headers={"Idempotency-Key": f"{case_id}-{path}"})
            print(f"{response.status_code}  {title}: {response.text}")
            if response.status_code >= 300:
                return 1
        state = http.get(f"/v1/trajectories/{case_id}").json()
    print(f"\ncase {case_id} is now {state['phase']}; check-ins due: "
          f"{[c['due'][:10] for c in state['check_ins']]}")
    print(f"Web UI: http://127.0.0.1:8233/namespaces/default/workflows/trajectory-{case_id}")
    print(f"Events: .venv/bin/regie timeline {case_id}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
