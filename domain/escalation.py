"""Escalation (opschaling): stagnation findings open episodes that climb a ladder.

Level 1 is the care coordinator, level 2 the manager of the coordinator (or of the
professional whose agreement is overdue), level 3 the regional process director, who can
make a binding decision (doorzettingsmacht). The ladder's clock runs in a child workflow
(`workflows/escalation.py`); this module holds the rules, pure:

- `episode_bookkeeping(state)`: findings open an episode, or join the open episode of the
  same cause (the same rule), so one cause never has two open episodes; an episode whose
  findings have all cleared closes itself, saying so.
- `record_step` / `record_alert`: the child workflow's steps, as events of the trajectory
  (`domain.ladder` checks first that a step is one the ladder could have taken).
- deciders for the commands: acknowledge, resolve (a binding decision at level 3, whose
  follow-up actions become plan agreements), contact attempts, reported stagnation.
"""

from __future__ import annotations

from datetime import datetime

from domain.commands import (
    AcknowledgeEscalation,
    RecordContactAttempt,
    ReportStagnation,
    ResolveEscalation,
)
from domain.decision import DecisionContext, require_open
from domain.errors import DomainError
from domain.events import (
    ContactAttempted,
    EscalationAcknowledged,
    EscalationClosed,
    EscalationFindingAttached,
    EscalationLevelAssigned,
    EscalationOpened,
    EscalationResolved,
    EventPayload,
    PlanAdopted,
    RegionAlerted,
    StagnationFound,
)
from domain.family import family_subject
from domain.model import Frozen
from domain.notifications import RecipientRole
from domain.plan import PlanDecision, PlanSource, sealed_for
from domain.stagnation import Reported
from domain.trajectory import Episode, EpisodeStatus, TrajectoryState

BINDING_AUTHORITY = "doorzettingsmacht of the regionale procesregisseur jeugd"
TOP_LEVEL = 3


def episode_bookkeeping(state: TrajectoryState) -> list[EventPayload]:
    events: list[EventPayload] = []
    known = {ref for e in state.episodes for ref in e.finding_refs}
    open_by_rule = {e.rule: e.episode_id for e in state.open_episodes}
    count = len(state.episodes)
    if state.is_open:
        for finding in state.findings:
            ref = finding.ref
            if ref in known or finding.about.cleared(state) is not None:
                continue
            if finding.rule in open_by_rule:
                events.append(EscalationFindingAttached(episode_id=open_by_rule[finding.rule],
                                                        finding_key=ref))
            else:
                count += 1
                episode_id = f"ep-{count}"
                open_by_rule[finding.rule] = episode_id
                events.append(EscalationOpened(
                    episode_id=episode_id, rule=finding.rule, finding_key=ref,
                    concerned_professional_id=finding.about.concerned_professional(state)))
            known.add(ref)
    findings = {f.ref: f for f in state.findings}
    for episode in state.open_episodes:
        if not state.is_open:
            events.append(EscalationClosed(
                episode_id=episode.episode_id,
                reason=f"the trajectory left care ({state.phase}); nothing left to escalate"))
            continue
        # A reported stagnation never clears (`Reported.cleared`): a decision settles it.
        reasons = [findings[ref].about.cleared(state) for ref in episode.finding_refs]
        if all(reasons):
            events.append(EscalationClosed(
                episode_id=episode.episode_id,
                reason="the cause cleared: " + "; ".join(sorted({r for r in reasons if r}))))
    return events


# -- the child workflow's steps, recorded by the trajectory -----------------------------


class LevelStep(Frozen):
    """The episode's ladder moved to `level`; the child workflow computed the deadline
    in Dutch working days and looked the assignee up in the directory."""

    episode_id: str
    level: int
    assignee_id: str
    role: RecipientRole
    organisation_id: str | None = None
    deadline: datetime
    reason: str


class RegionAlert(Frozen):
    episode_id: str
    reminder: int
    region_id: str
    recipient_id: str
    organisation_id: str | None = None
    next_reminder: datetime


def is_stale(episode: Episode, step: LevelStep) -> bool:
    """A step the episode has moved past already, or a repeat: nothing to record."""
    return step.level < episode.level or (
        step.level == episode.level and episode.deadline is not None
        and step.deadline <= episode.deadline)


def record_step(state: TrajectoryState, step: LevelStep) -> list[EventPayload]:
    """The event for a step of the ladder. Whether the step matches the ladder at all is
    `domain.ladder.step_mismatch`, which the trajectory asks first."""
    episode = state.episode(step.episode_id)
    if episode is None or episode.status is not EpisodeStatus.OPEN or is_stale(episode, step):
        return []
    return [EscalationLevelAssigned(episode_id=step.episode_id, level=step.level,
                                    assignee_id=step.assignee_id, role=step.role,
                                    deadline=step.deadline, reason=step.reason)]


def record_alert(state: TrajectoryState, alert: RegionAlert) -> list[EventPayload]:
    episode = state.episode(alert.episode_id)
    if (episode is None or episode.status is not EpisodeStatus.OPEN
            or episode.reminders >= alert.reminder):
        return []
    return [RegionAlerted(episode_id=alert.episode_id, reminder=alert.reminder,
                          region_id=alert.region_id, next_reminder=alert.next_reminder)]


# -- commands ---------------------------------------------------------------------------


def _open_episode(state: TrajectoryState, episode_id: str) -> tuple[int, str]:
    episode = state.episode(episode_id)
    if episode is None:
        known = ", ".join(e.episode_id for e in state.open_episodes) or "none"
        raise DomainError(f"there is no escalation episode {episode_id} (open: {known})")
    if episode.status is not EpisodeStatus.OPEN:
        raise DomainError(f"escalation episode {episode_id} is already {episode.status.value}",
                          code="episode_closed")
    if episode.assignee_id is None:
        raise DomainError(f"escalation episode {episode_id} has no assignee yet; try again in "
                          "a moment")
    return episode.level, episode.assignee_id


def acknowledge_escalation(command: AcknowledgeEscalation, state: TrajectoryState,
                 ctx: DecisionContext) -> list[EventPayload]:
    level, assignee = _open_episode(state, command.episode_id)
    if command.by != assignee:
        raise DomainError(f"episode {command.episode_id} is with {assignee} (level {level}); "
                          f"{command.by} cannot acknowledge it", code="not_assignee")
    episode = state.episode(command.episode_id)
    if episode is not None and command.by in episode.acknowledged_by:
        return []
    return [EscalationAcknowledged(episode_id=command.episode_id, level=level, by=command.by)]


def resolve_escalation(command: ResolveEscalation, state: TrajectoryState,
             ctx: DecisionContext) -> list[EventPayload]:
    level, assignee = _open_episode(state, command.episode_id)
    if command.by != assignee:
        raise DomainError(f"episode {command.episode_id} is with {assignee} (level {level}); "
                          f"only they can resolve it now", code="not_assignee")
    for action in command.follow_ups:
        if action.owner is None or action.due is None:
            raise DomainError(f"follow-up {action.agreement_id} needs an owner and a due date")
        if action.due <= ctx.today:
            raise DomainError(f"follow-up {action.agreement_id} must be due in the future")
        if state.team_member(action.owner) is None and state.member(action.owner) is None:
            raise DomainError(f"follow-up {action.agreement_id}: owner {action.owner} is "
                              "neither a team member nor a family member")
        if state.plan is not None and any(a.agreement_id == action.agreement_id
                                          for a in state.plan.agreements):
            raise DomainError(f"agreement id {action.agreement_id} is already in the plan")
    binding = level >= TOP_LEVEL
    assert state.case_id is not None
    family = family_subject(state.case_id)
    events: list[EventPayload] = [EscalationResolved(
        subject=family,
        episode_id=command.episode_id, level=level, by=command.by, decision=command.decision,
        follow_ups=sealed_for(command.follow_ups, family), binding=binding,
        authority=BINDING_AUTHORITY if binding else None)]
    evaluation_date = state.plan.evaluation_date if state.plan is not None else None
    if command.next_evaluation_date is not None:
        if command.next_evaluation_date <= ctx.today:
            raise DomainError("the next evaluation date must be in the future",
                              field="next_evaluation_date")
        evaluation_date = command.next_evaluation_date
    elif state.plan is not None and (evaluation_date is None
                                     or evaluation_date <= ctx.today):
        raise DomainError(f"the plan's evaluation date {evaluation_date} has passed; the "
                          "decision must set next_evaluation_date, so the plan stays active",
                          field="next_evaluation_date")
    if state.plan is not None:
        decision = PlanDecision(episode_id=command.episode_id, decided_by=command.by,
                                decision=command.decision, binding=binding,
                                authority=BINDING_AUTHORITY if binding else None)
        plan = state.plan.model_copy(update={
            "agreements": (*state.plan.agreements, *command.follow_ups),
            "decisions": (*state.plan.decisions, decision),
            "evaluation_date": evaluation_date})
        events.append(PlanAdopted(plan_version=state.plan_version + 1,
                                  source=PlanSource.ESCALATION,
                                  plan=plan.about_the_family(family)))
    elif command.follow_ups:
        raise DomainError("there is no plan yet for the follow-up actions to join; adopt a "
                          "plan first, or resolve without follow-ups")
    return events


def record_contact_attempt(command: RecordContactAttempt, state: TrajectoryState,
             ctx: DecisionContext) -> list[EventPayload]:
    require_open(state, "record a contact attempt")
    return [ContactAttempted(by=command.by, channel=command.channel, reached=command.reached)]


def report_stagnation(command: ReportStagnation, state: TrajectoryState,
            ctx: DecisionContext) -> list[EventPayload]:
    require_open(state, "report a stagnation")
    assert state.case_id is not None
    return [StagnationFound(about=Reported.next_in(state),
                            evidence=f"reported by {command.reported_by}", due=ctx.now,
                            subject=family_subject(state.case_id),
                            details=command.description)]
