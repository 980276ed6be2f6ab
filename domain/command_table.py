"""The command table: every command a trajectory accepts, in one place.

One row per command type: its model, its decider, how it reaches the workflow (the name
of its Temporal Update, or another delivery), and its HTTP route and summary. The
workflow registers one update handler per row that has an update name, the gateway
builds one route per row that has a route, and `decide` dispatches through the rows.

Adding a command is one row here, plus its model (`domain.commands`), its decider
(`domain.decide` or `domain.escalation`) and their tests: nothing in the workflow or the
gateway.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from domain import decide as d
from domain import escalation as e
from domain.access import APPOINTING, COORDINATOR, LADDER, MANAGER, TAKING_UP, TEAM, CaseRole
from domain.commands import (
    AcknowledgeEscalation,
    AddTeamMember,
    AdjustPlan,
    AdoptPlan,
    AppointCoordinator,
    AssignWaitingContact,
    CloseTrajectory,
    Command,
    CompleteAgreement,
    DeclareNoFamilyGroupPlan,
    EvaluatePlan,
    GiveConsent,
    OfferFamilyGroupPlan,
    PartnerSignal,
    ProvideWrittenCopy,
    RecordCheckIn,
    RecordContactAttempt,
    RecordFamilyPreference,
    RecordIntake,
    RecordManagerReview,
    ReferFamily,
    RemoveTeamMember,
    ReportProgress,
    ReportStagnation,
    RequestWrittenCopy,
    ResolveEscalation,
    ShareInformation,
    SkipFamilyGroupPlan,
    StartCare,
    SubmitFamilyGroupPlan,
    WithdrawConsent,
)
from domain.decision import Decider, DecisionContext
from domain.errors import DomainError
from domain.events import EventPayload
from domain.trajectory import TrajectoryState

C = TypeVar("C", bound=Command)


@dataclass(frozen=True)
class HttpRoute:
    """`POST /v1/trajectories/{case_id}/<path>` at the gateway."""

    path: str
    summary: str


@dataclass(frozen=True)
class CommandSpec(Generic[C]):
    model: type[C]
    decider: Decider[C]
    # The Temporal Update that carries the command, or None when it arrives another way
    # (a referral starts the workflow with update-with-start; a partner's signal is a
    # Temporal Signal).
    update: str | None = None
    route: HttpRoute | None = None
    # Whose caseload the decider needs to know (the proposed coordinator's), looked up
    # from the read model before deciding.
    caseload_of: Callable[[C], str] | None = None
    # Who may give it on a case (`domain.access.check_command` adds the checks that need
    # more than a role: acting in one's own name, the directory's manager, the assignee).
    # Empty for partners' deliveries, which have rules of their own.
    who: frozenset[CaseRole] = frozenset()

    def decide(self, command: Command, state: TrajectoryState,
               ctx: DecisionContext) -> list[EventPayload]:
        if not isinstance(command, self.model):
            raise TypeError(f"{type(command).__name__} is not a {self.model.__name__}")
        return self.decider(command, state, ctx)

    def caseload_member(self, command: Command) -> str | None:
        if self.caseload_of is None or not isinstance(command, self.model):
            return None
        return self.caseload_of(command)


class CommandRow(Protocol):
    """A row of the table, whatever its command type."""

    @property
    def model(self) -> type[Command]: ...

    @property
    def update(self) -> str | None: ...

    @property
    def route(self) -> HttpRoute | None: ...

    @property
    def who(self) -> frozenset[CaseRole]: ...

    def decide(self, command: Command, state: TrajectoryState,
               ctx: DecisionContext) -> list[EventPayload]: ...

    def caseload_member(self, command: Command) -> str | None: ...


def _caseworker(model: type[C], decider: Decider[C], name: str, summary: str,
                who: frozenset[CaseRole], caseload_of: Callable[[C], str] | None = None
                ) -> CommandSpec[C]:
    """A caseworker's command: the update and the HTTP path share its name."""
    return CommandSpec(model=model, decider=decider, update=name,
                       route=HttpRoute(path=name, summary=summary), caseload_of=caseload_of,
                       who=who)


def _proposed_coordinator(command: AppointCoordinator) -> str:
    return command.member_id


_TABLE = (
    # Partners. The referral's update is the workflow's own `refer` (update-with-start at
    # `POST /v1/referrals`); signals arrive at `POST /v1/trajectories/{case_id}/signals`.
    CommandSpec(model=ReferFamily, decider=d.refer_family),
    CommandSpec(model=PartnerSignal, decider=d.partner_signal),
    # Referral, intake, consent, waiting.
    _caseworker(RecordIntake, d.record_intake, "record_intake", "Record the intake", TAKING_UP),
    _caseworker(GiveConsent, d.give_consent, "give_consent", "Record consent", TAKING_UP),
    _caseworker(WithdrawConsent, d.withdraw_consent, "withdraw_consent", "Withdraw consent",
                TAKING_UP),
    _caseworker(ShareInformation, d.share_information, "share_information",
                "Record that information was shared", TAKING_UP),
    _caseworker(AssignWaitingContact, d.assign_waiting_contact, "assign_waiting_contact",
                "Assign a contact while the family waits", TAKING_UP),
    _caseworker(StartCare, d.start_care, "start_care", "Start care", COORDINATOR),
    # Team and coordinator.
    _caseworker(AddTeamMember, d.add_team_member, "add_team_member", "Add a team member",
                TAKING_UP),
    _caseworker(RemoveTeamMember, d.remove_team_member, "remove_team_member",
                "Remove a team member", TAKING_UP),
    _caseworker(RecordFamilyPreference, d.record_family_preference,
                "record_family_preference", "Record the family's preferred coordinator",
                TAKING_UP),
    _caseworker(AppointCoordinator, d.appoint_coordinator, "appoint_coordinator",
                "Appoint the care coordinator", APPOINTING, caseload_of=_proposed_coordinator),
    # Family group plan and the plan cycle.
    _caseworker(OfferFamilyGroupPlan, d.offer_family_group_plan, "offer_family_group_plan",
                "Offer the family group plan", COORDINATOR),
    _caseworker(SkipFamilyGroupPlan, d.skip_family_group_plan, "skip_family_group_plan",
                "Skip the family group plan offer on a legal ground", COORDINATOR),
    _caseworker(SubmitFamilyGroupPlan, d.submit_family_group_plan,
                "submit_family_group_plan", "Submit the family's own plan", COORDINATOR),
    _caseworker(DeclareNoFamilyGroupPlan, d.declare_no_family_group_plan,
                "declare_no_family_group_plan", "Record that no family group plan will come",
                COORDINATOR),
    _caseworker(AdoptPlan, d.adopt_plan, "adopt_plan", "Adopt a professional plan", COORDINATOR),
    _caseworker(AdjustPlan, d.adjust_plan, "adjust_plan", "Adjust the plan", COORDINATOR),
    _caseworker(ReportProgress, d.report_progress, "report_progress", "Report progress", TEAM),
    _caseworker(CompleteAgreement, d.complete_agreement, "complete_agreement",
                "Complete an agreement", TEAM),
    _caseworker(EvaluatePlan, d.evaluate_plan, "evaluate_plan", "Evaluate the plan", COORDINATOR),
    _caseworker(RequestWrittenCopy, d.request_written_copy, "request_written_copy",
                "Request a written copy of the plan", COORDINATOR),
    _caseworker(ProvideWrittenCopy, d.provide_written_copy, "provide_written_copy",
                "Provide the written copy", COORDINATOR),
    # Persistence, closure, aftercare.
    _caseworker(RecordManagerReview, d.record_manager_review, "record_manager_review",
                "Record a manager's review", MANAGER),
    _caseworker(CloseTrajectory, d.close_trajectory, "close", "Close the trajectory", COORDINATOR),
    _caseworker(RecordCheckIn, d.record_check_in, "record_check_in",
                "Record an aftercare check-in", TEAM),
    # Stagnation and escalation.
    _caseworker(RecordContactAttempt, e.record_contact_attempt, "record_contact_attempt",
                "Record a contact attempt", TEAM),
    _caseworker(ReportStagnation, e.report_stagnation, "report_stagnation",
                "Report a stagnation", TEAM),
    _caseworker(AcknowledgeEscalation, e.acknowledge_escalation, "acknowledge_escalation",
                "Acknowledge an escalation", LADDER),
    _caseworker(ResolveEscalation, e.resolve_escalation, "resolve_escalation",
                "Resolve an escalation (binding at level 3)", LADDER),
)

COMMAND_TABLE: tuple[CommandRow, ...] = _TABLE

# The decider registry, by command type: read it off the table above.
ROWS: dict[type[Command], CommandRow] = {row.model: row for row in COMMAND_TABLE}
UPDATES: dict[str, CommandRow] = {row.update: row for row in COMMAND_TABLE
                                  if row.update is not None}


def row_for(command: Command) -> CommandRow:
    row = ROWS.get(type(command))
    if row is None:
        raise TypeError(f"no row in the command table for {type(command).__name__}")
    return row


def decide(command: Command, state: TrajectoryState,
           ctx: DecisionContext) -> list[EventPayload]:
    """The events `command` leads to on `state`, or a `DomainError` saying why not."""
    if not isinstance(command, ReferFamily | PartnerSignal) and state.phase is None:
        raise DomainError("there is no trajectory yet: a partner must refer the family first",
                          code="not_referred")
    return row_for(command).decide(command, state, ctx)
