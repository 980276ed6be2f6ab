"""Who may do what on a case: principals, their roles on a case, and the rights.

Pure functions, like `decide`: the gateway authenticates the caller (a partner's API key
or a professional's token), looks up the facts (the case's state and the directory
entries it names) and asks these functions. A refusal is an `AccessRefused` with a
message a person understands; the gateway answers it 403, writes nothing to the case and
logs it in the access log.

The rules come from practice (docs/domain.md, "Access"): partners see only the cases
they referred or whose team includes their organisation (the Verwijsindex idea), and
then only a minimal status; the team acts on its own cases; plan, evaluation and
closure belong to the coordinator; overrides and reviews come from the manager the
directory names; a binding decision comes from the region's process director; operators
read everything and change nothing. The recorded identity is always the authenticated
one: a body naming someone else as the one acting is refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

from domain.commands import (
    AcknowledgeEscalation,
    AppointCoordinator,
    Command,
    RecordManagerReview,
    ResolveEscalation,
)
from domain.errors import DomainError
from domain.model import Frozen, Id
from domain.trajectory import EpisodeStatus, TrajectoryState

# -- principals ----------------------------------------------------------------------


class PartnerPrincipal(Frozen):
    """A partner organisation, authenticated by one of its API keys."""

    kind: Literal["partner"] = "partner"
    organisation_id: Id
    key_id: Id  # which key: rotation and revocation are per key

    @property
    def id(self) -> str:
        return self.organisation_id

    @property
    def actor(self) -> str:
        """How events and logs name it: the organisation, whichever key it used."""
        return f"partner:{self.organisation_id}"


class ProfessionalPrincipal(Frozen):
    """A professional from the directory, authenticated by a bearer token."""

    kind: Literal["professional"] = "professional"
    professional_id: Id
    organisation_id: Id
    operator: bool = False  # operators and team leads: read every case, change none

    @property
    def id(self) -> str:
        return self.professional_id

    @property
    def actor(self) -> str:
        return f"professional:{self.professional_id}"


Principal = PartnerPrincipal | ProfessionalPrincipal


class AccessRefused(DomainError):
    """The caller may not do this; answered 403 and logged."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code="forbidden")


# -- the facts a decision needs --------------------------------------------------------


@dataclass(frozen=True)
class Colleague:
    """What the directory says about one professional."""

    organisation_id: str
    manager_id: str | None = None
    active: bool = True


@dataclass(frozen=True)
class DirectoryFacts:
    """The directory entries a case's access depends on: its professionals (coordinator,
    team, concerned professionals, the caller) and its region."""

    professionals: Mapping[str, Colleague] = field(default_factory=dict)
    process_director_id: str | None = None
    intake_organisation_id: str | None = None

    def manager_of(self, professional_id: str | None) -> str | None:
        if professional_id is None:
            return None
        colleague = self.professionals.get(professional_id)
        if colleague is None:
            return None
        manager = self.professionals.get(colleague.manager_id or "")
        return colleague.manager_id if manager is not None and manager.active else None

    def organisation_of(self, professional_id: str) -> str | None:
        colleague = self.professionals.get(professional_id)
        return None if colleague is None else colleague.organisation_id


def professionals_named(state: TrajectoryState) -> set[str]:
    """Everyone on the case whose directory entry matters for access."""
    names = {m.member_id for m in state.team if m.is_professional}
    if state.coordinator_id is not None:
        names.add(state.coordinator_id)
    names.update(e.concerned_professional_id for e in state.episodes
                 if e.concerned_professional_id is not None)
    return names


# -- roles -------------------------------------------------------------------------------


class CaseRole(StrEnum):
    COORDINATOR = "coordinator"
    TEAM_MEMBER = "team_member"
    # A professional of the region's intake organisation, while the case has no
    # coordinator yet: someone must take up a new referral before there is a team.
    INTAKE = "intake"
    MANAGER = "manager"  # of the coordinator, or of a professional an episode concerns
    PROCESS_DIRECTOR = "process_director"  # of the case's region
    OPERATOR = "operator"
    PARTNER = "partner"  # the referring organisation, or one with a professional in the team


def roles_on_case(principal: Principal, state: TrajectoryState | None,
                  directory: DirectoryFacts) -> frozenset[CaseRole]:
    """The principal's roles on this case (`state` None: the case does not exist)."""
    if isinstance(principal, PartnerPrincipal):
        if state is None:
            return frozenset()
        organisations = {r.organisation for r in state.referrals}
        organisations.update(directory.organisation_of(m.member_id) or m.organisation or ""
                             for m in state.team if m.is_professional)
        return frozenset({CaseRole.PARTNER}) if principal.organisation_id in organisations \
            else frozenset()
    roles: set[CaseRole] = set()
    me = principal.professional_id
    if principal.operator:
        roles.add(CaseRole.OPERATOR)
    if state is None:
        return frozenset(roles)
    if directory.process_director_id == me:
        roles.add(CaseRole.PROCESS_DIRECTOR)
    if state.coordinator_id == me:
        roles.add(CaseRole.COORDINATOR)
    member = state.team_member(me)
    if member is not None and member.is_professional:
        roles.add(CaseRole.TEAM_MEMBER)
    if (state.coordinator_id is None and state.is_open
            and directory.intake_organisation_id is not None
            and principal.organisation_id == directory.intake_organisation_id):
        roles.add(CaseRole.INTAKE)
    concerned = [e.concerned_professional_id for e in state.episodes
                 if e.status is EpisodeStatus.OPEN]
    if me in {directory.manager_of(p) for p in (state.coordinator_id, *concerned)}:
        roles.add(CaseRole.MANAGER)
    return frozenset(roles)


# -- rights ------------------------------------------------------------------------------

COORDINATOR: frozenset[CaseRole] = frozenset({CaseRole.COORDINATOR})
TEAM: frozenset[CaseRole] = frozenset({CaseRole.COORDINATOR, CaseRole.TEAM_MEMBER})
TAKING_UP: frozenset[CaseRole] = TEAM | {CaseRole.INTAKE}
MANAGER: frozenset[CaseRole] = frozenset({CaseRole.MANAGER})
APPOINTING: frozenset[CaseRole] = TAKING_UP | MANAGER
# Who may be an episode's assignee; the assignee check itself is `_check_assignee`.
LADDER: frozenset[CaseRole] = frozenset({CaseRole.COORDINATOR, CaseRole.MANAGER,
                                         CaseRole.PROCESS_DIRECTOR})
# Who reads the whole case: need-to-know. Partners read the status only.
FULL_READERS: frozenset[CaseRole] = TAKING_UP | LADDER | {CaseRole.OPERATOR}
STATUS_READERS: frozenset[CaseRole] = FULL_READERS | {CaseRole.PARTNER}


class Read(StrEnum):
    STATE = "read_state"  # the whole case
    STATUS = "read_status"  # phase, coordinator, next evaluation date


def _describe(principal: Principal) -> str:
    if isinstance(principal, PartnerPrincipal):
        return f"organisation {principal.organisation_id}"
    return f"professional {principal.professional_id}"


def _no_role(principal: Principal, case_id: str) -> AccessRefused:
    # The same answer whether or not the case exists: a caller without a role on it
    # learns nothing about it.
    return AccessRefused(f"{_describe(principal)} has no role on case {case_id} (or there "
                         "is no such case)")


def check_read(principal: Principal, roles: frozenset[CaseRole], read: Read,
               case_id: str) -> None:
    allowed = FULL_READERS if read is Read.STATE else STATUS_READERS
    if roles & allowed:
        return
    if read is Read.STATE and CaseRole.PARTNER in roles:
        raise AccessRefused(f"partners see the status of case {case_id} only: GET "
                            f"/v1/trajectories/{case_id}/status")
    raise _no_role(principal, case_id)


def check_referral(principal: Principal, referring_organisation: str) -> None:
    """Partners refer families, in their own name."""
    if not isinstance(principal, PartnerPrincipal):
        raise AccessRefused("referrals come from partner organisations, with their API key")
    if referring_organisation != principal.organisation_id:
        raise AccessRefused(
            f"the referral names organisation {referring_organisation}, but the API key "
            f"belongs to {principal.organisation_id}; refer in your own organisation's "
            "name")


def check_signal(principal: Principal, roles: frozenset[CaseRole], case_id: str,
                 organisation: str | None) -> None:
    if not isinstance(principal, PartnerPrincipal):
        raise AccessRefused("signals come from partner organisations, with their API key; "
                            "professionals on the case use its commands")
    if organisation is not None and organisation != principal.organisation_id:
        raise AccessRefused(f"the signal names organisation {organisation}, but the API "
                            f"key belongs to {principal.organisation_id}")
    if CaseRole.PARTNER not in roles:
        raise AccessRefused(f"organisation {principal.organisation_id} may signal only "
                            "about cases it referred or whose team includes one of its "
                            f"professionals; case {case_id} is not one of them (or there "
                            "is no such case)")


def check_command(principal: Principal, roles: frozenset[CaseRole], allowed:
                  frozenset[CaseRole], command: Command, state: TrajectoryState,
                  directory: DirectoryFacts, case_id: str) -> None:
    """May `principal` give `command` on this case? `allowed` is the command's row in
    `domain.command_table`."""
    if not isinstance(principal, ProfessionalPrincipal):
        raise AccessRefused("commands on a case come from the professionals on it; "
                            "partners refer and signal")
    acting = command.acting_person()
    if acting is not None and acting != principal.professional_id:
        raise AccessRefused(f"the request names {acting} as the one acting, but you are "
                            f"signed in as {principal.professional_id}; act in your own "
                            "name")
    if not roles & (allowed | FULL_READERS):
        raise _no_role(principal, case_id)
    if not roles & allowed:
        raise AccessRefused(f"{type(command).__name__} on case {case_id} is for the "
                            f"{_roles_text(allowed)}; you are {_roles_text(roles)} here")
    if isinstance(command, AppointCoordinator) and command.override is not None:
        manager = directory.manager_of(command.member_id)
        if manager != principal.professional_id:
            raise AccessRefused(
                f"a caseload-cap override for {command.member_id} comes from their "
                f"manager according to the directory ({manager or 'none is known'}), not "
                f"from {principal.professional_id}")
    if isinstance(command, RecordManagerReview):
        manager = directory.manager_of(state.coordinator_id)
        if manager != principal.professional_id:
            raise AccessRefused(
                "the review before closing comes from the coordinator's manager according "
                f"to the directory ({manager or 'none is known'}), not from "
                f"{principal.professional_id}")
    if isinstance(command, AcknowledgeEscalation | ResolveEscalation):
        _check_assignee(principal, command.episode_id, state)


def _check_assignee(principal: ProfessionalPrincipal, episode_id: str,
                    state: TrajectoryState) -> None:
    """Only the episode's current assignee acts on it: the coordinator at level 1, the
    manager at level 2, the process director at level 3 (a binding decision)."""
    episode = state.episode(episode_id)
    if episode is None or episode.status is not EpisodeStatus.OPEN:
        return  # the decider explains what is wrong with the episode
    if episode.assignee_id != principal.professional_id:
        raise AccessRefused(
            f"escalation {episode_id} is at level {episode.level} with "
            f"{episode.assignee_id or 'nobody yet'}; only they can act on it now")


def _roles_text(roles: frozenset[CaseRole]) -> str:
    if not roles:
        return "no role"
    return " or ".join(sorted(role.value.replace("_", " ") for role in roles))


def check_workspace(principal: Principal) -> None:
    """The workspace (pages in a browser) is for professionals: partners send referrals
    and signals through the API with their key, and read a case's status there."""
    if not isinstance(principal, ProfessionalPrincipal):
        raise AccessRefused(f"{_describe(principal)} is a partner; the workspace is for "
                            "professionals, partners use the API with their key")


def check_overview(principal: Principal, *, manages: bool, directs_region: bool) -> None:
    """Caseloads per coordinator and the region's figures (no family's data, but every
    coordinator's load): for team leads and operators, managers (the directory names
    someone they manage) and the region's process director."""
    check_workspace(principal)
    assert isinstance(principal, ProfessionalPrincipal)
    if not (principal.operator or manages or directs_region):
        raise AccessRefused(f"{_describe(principal)} manages nobody and is not a team lead "
                            "or the process director; caseloads and figures are for them")


def check_codec(principal: Principal) -> None:
    """Decoding Temporal payloads (the codec server) shows the data of every case the
    payloads come from, without asking which: operators only."""
    if not isinstance(principal, ProfessionalPrincipal) or not principal.operator:
        raise AccessRefused(f"{_describe(principal)} is not an operator; only operators "
                            "may decode or encode Temporal payloads")
