"""The rights matrix, as pure functions: every principal against every command and read,
on its own case and on another one. The expected cells are written out by hand here (not
read off the command table), so a change of rights shows up as a failing cell.

`python -m tests.domain.test_access` prints the matrix as built.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from domain.access import (
    AccessRefused,
    CaseRole,
    Colleague,
    DirectoryFacts,
    PartnerPrincipal,
    Principal,
    ProfessionalPrincipal,
    Read,
    check_command,
    check_read,
    check_referral,
    check_signal,
    roles_on_case,
)
from domain.command_table import COMMAND_TABLE, CommandRow
from domain.commands import AppointCoordinator, Command
from domain.notifications import RecipientRole
from domain.stagnation import StagnationRule
from domain.team import ManagerOverride, TeamMember, TeamMemberKind
from domain.trajectory import Episode, Phase, TrajectoryState
from tests.factories import referral

NOW = datetime(2026, 11, 30, 9, tzinfo=UTC)

DIRECTORY = DirectoryFacts(
    professionals={
        "pro-coord": Colleague("wijkteam-a", manager_id="pro-mgr"),
        "pro-team": Colleague("ggd-hn"),
        "pro-mgr": Colleague("wijkteam-a"),
        "pro-dir": Colleague("ggd-hn"),
        "pro-intake": Colleague("wijkteam-a"),
        "pro-other": Colleague("wijkteam-b"),
        "op-1": Colleague("wijkteam-b"),
    },
    process_director_id="pro-dir",
    intake_organisation_id="wijkteam-a",
)


def _professional(member_id: str, organisation: str) -> TeamMember:
    return TeamMember(member_id=member_id, kind=TeamMemberKind.PROFESSIONAL,
                      name="Naam", organisation=organisation)


# Our case: referred by the school, in care, coordinated by pro-coord with pro-team (GGD)
# in the team, and an escalation at level 3 with the process director.
OWN = TrajectoryState(
    case_id="own", phase=Phase.IN_CARE, version=9,
    referrals=(referral(organisation="school-linde"),),
    team=(_professional("pro-coord", "wijkteam-a"), _professional("pro-team", "ggd-hn")),
    coordinator_id="pro-coord",
    episodes=(Episode(episode_id="ep-1", rule=StagnationRule.EVALUATION_OVERDUE,
                      finding_refs=("f-1",), opened_at=NOW, level=3, assignee_id="pro-dir",
                      role=RecipientRole.PROCESS_DIRECTOR),),
)
# Another case: just referred by the police; nobody has taken it up yet.
OTHER = TrajectoryState(case_id="other", phase=Phase.REFERRED, version=1,
                        referrals=(referral(organisation="police-hn"),))

PRINCIPALS: dict[str, Principal] = {
    "school (referred own)": PartnerPrincipal(organisation_id="school-linde", key_id="k1"),
    "ggd (in own team)": PartnerPrincipal(organisation_id="ggd-hn", key_id="k2"),
    "police (referred other)": PartnerPrincipal(organisation_id="police-hn", key_id="k3"),
    "pro-coord": ProfessionalPrincipal(professional_id="pro-coord",
                                       organisation_id="wijkteam-a"),
    "pro-team": ProfessionalPrincipal(professional_id="pro-team", organisation_id="ggd-hn"),
    "pro-mgr": ProfessionalPrincipal(professional_id="pro-mgr", organisation_id="wijkteam-a"),
    "pro-dir": ProfessionalPrincipal(professional_id="pro-dir", organisation_id="ggd-hn"),
    "pro-intake": ProfessionalPrincipal(professional_id="pro-intake",
                                        organisation_id="wijkteam-a"),
    "pro-other": ProfessionalPrincipal(professional_id="pro-other",
                                       organisation_id="wijkteam-b"),
    "op-1": ProfessionalPrincipal(professional_id="op-1", organisation_id="wijkteam-b",
                                  operator=True),
}

TAKING_UP = {"record_intake", "give_consent", "withdraw_consent", "share_information",
             "assign_waiting_contact", "add_team_member", "remove_team_member",
             "record_family_preference", "appoint_coordinator"}
COORDINATOR = {"start_care", "offer_family_group_plan", "skip_family_group_plan",
               "submit_family_group_plan", "declare_no_family_group_plan", "adopt_plan",
               "adjust_plan", "evaluate_plan", "request_written_copy",
               "provide_written_copy", "close"}
TEAM = {"report_progress", "complete_agreement", "record_check_in",
        "record_contact_attempt", "report_stagnation"}
LADDER = {"acknowledge_escalation", "resolve_escalation"}

# principal -> (own case, other case): the reads, "signal", and the commands allowed.
EXPECTED: dict[str, tuple[set[str], set[str]]] = {
    "school (referred own)": ({"read_status", "signal"}, set()),
    "ggd (in own team)": ({"read_status", "signal"}, set()),
    "police (referred other)": (set(), {"read_status", "signal"}),
    "pro-coord": ({"read_state", "read_status"} | TAKING_UP | COORDINATOR | TEAM,
                  # wijkteam-a is the intake organisation: it takes up new cases
                  {"read_state", "read_status"} | TAKING_UP),
    "pro-team": ({"read_state", "read_status"} | TAKING_UP | TEAM, set()),
    "pro-mgr": ({"read_state", "read_status", "appoint_coordinator", "record_manager_review"},
                {"read_state", "read_status"} | TAKING_UP),
    # The process director reads every case of the region; the binding decision on ep-1
    # is theirs (the assignee at level 3); on the other case no episode is open, and the
    # decider, not access, says so.
    "pro-dir": ({"read_state", "read_status"} | LADDER,
                {"read_state", "read_status"} | LADDER),
    "pro-intake": (set(), {"read_state", "read_status"} | TAKING_UP),
    "pro-other": (set(), set()),
    "op-1": ({"read_state", "read_status"}, {"read_state", "read_status"}),
}

ACTING_FIELDS = {"by", "reported_by", "manager_id"}


def sample(row: CommandRow, acting: str) -> Command:
    """A command of the row's type that names `acting` wherever it names who acts; the
    access checks read nothing else (`model_construct`: no other field is needed)."""
    fields: dict[str, Any] = {name: acting for name in row.model.model_fields
                              if name in ACTING_FIELDS}
    if "episode_id" in row.model.model_fields:
        fields["episode_id"] = "ep-1"
    if "member_id" in row.model.model_fields:
        fields["member_id"] = "pro-coord"
    return row.model.model_construct(**fields)


def allowed(name: str, state: TrajectoryState, action: str) -> bool:
    principal = PRINCIPALS[name]
    roles = roles_on_case(principal, state, DIRECTORY)
    try:
        if action in (Read.STATE.value, Read.STATUS.value):
            check_read(principal, roles, Read(action), state.case_id or "")
        elif action == "signal":
            check_signal(principal, roles, state.case_id or "", None)
        else:
            row = next(r for r in COMMAND_TABLE if r.update == action)
            check_command(principal, roles, row.who, sample(row, principal.id), state,
                          DIRECTORY, state.case_id or "")
    except AccessRefused:
        return False
    return True


ACTIONS = ["read_state", "read_status", "signal",
           *[r.update for r in COMMAND_TABLE if r.update is not None]]


@pytest.mark.parametrize("name", list(PRINCIPALS))
@pytest.mark.parametrize("case", ["own", "other"])
def test_each_principal_against_each_command_and_read(name: str, case: str) -> None:
    state = OWN if case == "own" else OTHER
    expected = EXPECTED[name][0 if case == "own" else 1]
    actual = {action for action in ACTIONS if allowed(name, state, action)}
    assert actual == expected, (f"{name} on the {case} case: allowed too: "
                                f"{sorted(actual - expected)}; refused too: "
                                f"{sorted(expected - actual)}")


def test_roles_come_from_the_case_and_the_directory() -> None:
    def roles(name: str, state: TrajectoryState) -> set[CaseRole]:
        return set(roles_on_case(PRINCIPALS[name], state, DIRECTORY))

    assert roles("pro-coord", OWN) == {CaseRole.COORDINATOR, CaseRole.TEAM_MEMBER}
    assert roles("pro-mgr", OWN) == {CaseRole.MANAGER}
    assert roles("pro-dir", OWN) == {CaseRole.PROCESS_DIRECTOR}
    assert roles("pro-intake", OWN) == set()  # the intake role lapses with a coordinator
    assert roles("pro-intake", OTHER) == {CaseRole.INTAKE}
    assert roles("ggd (in own team)", OWN) == {CaseRole.PARTNER}
    # A manager who left the directory is nobody's manager any more.
    gone = DirectoryFacts(professionals={**DIRECTORY.professionals,
                                         "pro-mgr": Colleague("wijkteam-a", active=False)})
    assert CaseRole.MANAGER not in roles_on_case(PRINCIPALS["pro-mgr"], OWN, gone)


def test_a_body_naming_someone_else_as_the_one_acting_is_refused() -> None:
    row = next(r for r in COMMAND_TABLE if r.update == "record_contact_attempt")
    coordinator = PRINCIPALS["pro-coord"]
    roles = roles_on_case(coordinator, OWN, DIRECTORY)
    with pytest.raises(AccessRefused, match="names pro-team as the one acting"):
        check_command(coordinator, roles, row.who, sample(row, "pro-team"), OWN, DIRECTORY,
                      "own")


def test_a_forged_binding_decision_is_refused() -> None:
    row = next(r for r in COMMAND_TABLE if r.update == "resolve_escalation")
    for name in ("pro-coord", "pro-mgr"):  # on the ladder, but not the assignee at level 3
        principal = PRINCIPALS[name]
        roles = roles_on_case(principal, OWN, DIRECTORY)
        with pytest.raises(AccessRefused, match="at level 3 with pro-dir"):
            check_command(principal, roles, row.who, sample(row, principal.id), OWN,
                          DIRECTORY, "own")
        # ... nor by writing the process director's name in the body.
        with pytest.raises(AccessRefused, match="act in your own name"):
            check_command(principal, roles, row.who, sample(row, "pro-dir"), OWN,
                          DIRECTORY, "own")


def test_a_caseload_override_comes_from_the_proposed_coordinators_manager() -> None:
    row = next(r for r in COMMAND_TABLE if r.update == "appoint_coordinator")

    def appoint(by: str) -> Command:
        return AppointCoordinator(actor="x", member_id="pro-coord", override=ManagerOverride(
            manager_id=by, reason="tijdelijk"))

    team = PRINCIPALS["pro-team"]
    with pytest.raises(AccessRefused, match=r"from their manager .*\(pro-mgr\)"):
        check_command(team, roles_on_case(team, OTHER, DIRECTORY) | {CaseRole.TEAM_MEMBER},
                      row.who, appoint("pro-team"), OTHER, DIRECTORY, "other")
    manager = PRINCIPALS["pro-mgr"]
    check_command(manager, roles_on_case(manager, OTHER, DIRECTORY), row.who,
                  appoint("pro-mgr"), OTHER, DIRECTORY, "other")


def test_referrals_come_from_partners_in_their_own_name() -> None:
    check_referral(PRINCIPALS["school (referred own)"], "school-linde")
    with pytest.raises(AccessRefused, match="belongs to school-linde"):
        check_referral(PRINCIPALS["school (referred own)"], "police-hn")
    with pytest.raises(AccessRefused, match="partner organisations"):
        check_referral(PRINCIPALS["pro-coord"], "school-linde")


def matrix() -> str:
    """The matrix as built, one line per principal and case: what is allowed."""
    lines = []
    for name in PRINCIPALS:
        for case, state in (("own", OWN), ("other", OTHER)):
            actions = [a for a in ACTIONS if allowed(name, state, a)]
            lines.append(f"{name:<24} {case:<6} {', '.join(actions) or '-'}")
    return "\n".join(lines)


if __name__ == "__main__":
    print(matrix())
