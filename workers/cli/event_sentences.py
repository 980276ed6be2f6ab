"""What happened to a case, and why, in sentences: the one place that turns a stored
event into words for an operator.

Each sentence is built from the event and the state just before it (the fold of the
events before), so it can say what an event refers to: which agreement was completed,
which consent was withdrawn. Personal words (names, reasons, notes) are shown while the
person's key exists and read "(erased)" after. Events recorded in one step (the same
moment, the same actor: a stagnation found and the episode it opened) read as one entry.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from domain.consent import ConsentPurpose
from domain.events import (
    AftercareEnded,
    AgreementCompleted,
    CareStarted,
    CheckInDue,
    CheckInMissed,
    CheckInRecorded,
    ConsentGiven,
    ConsentWithdrawn,
    ContactAttempted,
    CoordinatorAppointed,
    EscalationAcknowledged,
    EscalationClosed,
    EscalationFindingAttached,
    EscalationLevelAssigned,
    EscalationOpened,
    EscalationResolved,
    EventPayload,
    FamilyGroupPlanLapsed,
    FamilyGroupPlanOffered,
    FamilyGroupPlanSkipped,
    FamilyPreferenceRecorded,
    InformationShared,
    IntakeOutcome,
    IntakeRecorded,
    ManagerReviewRecorded,
    PartnerSignalRecorded,
    PlanAdopted,
    PlanEvaluated,
    ProgressReported,
    RecordedEvent,
    ReferralAdded,
    RegionAlerted,
    StagnationFound,
    TeamMemberAdded,
    TeamMemberRemoved,
    TrajectoryClosed,
    TrajectoryReferred,
    TrajectoryReopened,
    WaitingContactAssigned,
    WrittenCopyProvided,
    WrittenCopyRequested,
)
from domain.trajectory import TrajectoryState, evolve
from workers.cli.output import day_text, due_day, short_day_text
from workers.cli.words import count, personal, word


@dataclass(frozen=True)
class Names:
    """Whom ids stand for: family members, team members and professionals by id, and
    recorded actors (as `Principal.actor` spells them) by actor."""

    people: Mapping[str, str] = field(default_factory=dict)
    actors: Mapping[str, str] = field(default_factory=dict)

    def of(self, person_id: str | None) -> str:
        if person_id is None:
            return "nobody"
        return self.people.get(person_id, person_id)

    def who(self, actor: str) -> str:
        return self.actors.get(actor, actor)


class TimelineEntry(BaseModel):
    """One step of the case: when (UTC; shown in the region's clock), who, and what
    happened with why, from the events `versions`."""

    model_config = ConfigDict(frozen=True)
    at: datetime
    actor: str
    who: str
    what: str
    versions: tuple[int, ...]
    types: tuple[str, ...]


def timeline(events: Sequence[RecordedEvent], names: Names, time_zone: str
             ) -> list[TimelineEntry]:
    entries: list[TimelineEntry] = []
    state = TrajectoryState()
    for event in events:
        what = sentence(event.payload, state, names, time_zone)
        state = evolve(state, event.payload, event.occurred_at)
        last = entries[-1] if entries else None
        if last is not None and last.at == event.occurred_at and (
                last.actor == event.metadata.actor):
            entries[-1] = last.model_copy(update={
                "what": f"{last.what}. {what}", "versions": (*last.versions, event.version),
                "types": (*last.types, event.type)})
            continue
        entries.append(TimelineEntry(
            at=event.occurred_at, actor=event.metadata.actor,
            who=names.who(event.metadata.actor), what=what, versions=(event.version,),
            types=(event.type,)))
    return entries


def sentence(event: EventPayload, before: TrajectoryState, names: Names,
             time_zone: str) -> str:
    """What `event` means, said about the case as it was just `before` it."""

    def day(deadline: datetime) -> str:
        return day_text(due_day(deadline, time_zone))

    match event:
        case TrajectoryReferred() | ReferralAdded():
            referral = event.referral
            domains = ", ".join(sorted({word(r.life_domain) for r in referral.reasons}))
            opened = ("Referred" if isinstance(event, TrajectoryReferred)
                      else "Another referral joined the trajectory")
            return (f"{opened} by {referral.organisation} ({personal(referral.referrer)}) "
                    f"for {count(len(referral.members), 'family member')}, about {domains or '-'}")
        case IntakeRecorded():
            if event.outcome is IntakeOutcome.ACCEPTED:
                domains = ", ".join(word(a.life_domain) for a in event.assessments)
                return f"Intake: accepted; assessed {domains or 'no life domains'}"
            where = f" to {event.redirected_to}" if event.redirected_to else ""
            return f"Intake: {event.outcome.value}{where}: {personal(event.reason)}"
        case ConsentGiven():
            consent = event.consent
            by = ", ".join(names.of(p) for p in consent.given_by)
            if consent.purpose is ConsentPurpose.HELP:
                what = "help"
            else:
                what = f"sharing information with {consent.recipient or '-'}"
            return f"{by} consented to {what} for {names.of(consent.subject_id)}"
        case ConsentWithdrawn():
            withdrawn = next((c for c in before.consents
                              if c.consent_id == event.consent_id), None)
            what = word(withdrawn.purpose) if withdrawn else event.consent_id
            return f"{names.of(event.withdrawn_by)} withdrew consent to {what}"
        case InformationShared():
            about = ", ".join(names.of(s) for s in event.subject_ids)
            where = ("inside the team" if event.inside_team else
                     f"outside the team, under consent {', '.join(event.consent_ids)}")
            return f"Information about {about} shared with {event.recipient} ({where})"
        case WaitingContactAssigned():
            return (f"{personal(event.contact_name)} is the family's contact while it "
                    "waits")
        case CareStarted():
            return "Care started"
        case TeamMemberAdded():
            member = event.member
            at = f", {member.organisation}" if member.organisation else ""
            return f"{personal(member.name)} joined the team ({word(member.kind)}{at})"
        case TeamMemberRemoved():
            return f"{names.of(event.member_id)} left the team: {personal(event.reason)}"
        case FamilyPreferenceRecorded():
            if event.preferred_member_id is None:
                return "The family has no preference for a care coordinator"
            return (f"The family would like {names.of(event.preferred_member_id)} as care "
                    "coordinator")
        case CoordinatorAppointed():
            text = f"{names.of(event.member_id)} appointed care coordinator"
            if event.replaces:
                text += f", taking over from {names.of(event.replaces)}"
            text += f" (caseload {event.caseload_before + 1} of {event.caseload_cap}"
            if event.family_preference_followed is not None:
                followed = "followed" if event.family_preference_followed else "not followed"
                text += f"; the family's preference {followed}"
            text += ")"
            if event.override is not None:
                text += (f"; above the cap, allowed by {names.of(event.override.manager_id)}: "
                         f"{event.override.reason}")
            return text
        case FamilyGroupPlanOffered():
            return f"The family was offered to make its own plan, by {day(event.deadline)}"
        case FamilyGroupPlanSkipped():
            return (f"Family group plan skipped ({word(event.ground)}): "
                    f"{personal(event.reason)}; a professional plan is due by "
                    f"{day(event.professional_plan_deadline)}")
        case FamilyGroupPlanLapsed():
            why = "the family said so" if event.by_family else "its term passed"
            return (f"No family group plan will come ({why}); a professional plan is due "
                    f"by {day(event.professional_plan_deadline)}")
        case PlanAdopted():
            plan = event.plan
            evaluation = (day_text(plan.evaluation_date) if plan.evaluation_date
                          else "no date")
            return (f"Plan version {event.plan_version} adopted ({word(event.source)}): "
                    f"{count(len(plan.goals), 'goal')}, "
                    f"{count(len(plan.agreements), 'agreement')}; "
                    f"evaluation on {evaluation}")
        case ProgressReported():
            return (f"{names.of(event.reported_by)} reported progress on goal "
                    f"{event.goal_id}: {personal(event.note.text)}")
        case AgreementCompleted():
            agreement = next((a for a in before.plan.agreements
                              if a.agreement_id == event.agreement_id), None
                             ) if before.plan else None
            action = f": {personal(agreement.action)}" if agreement else ""
            return f"Agreement {event.agreement_id} done{action}"
        case PlanEvaluated():
            counts = Counter(r.progress for r in event.results)
            results = ", ".join(f"{n} {word(p)}" for p, n in sorted(counts.items()))
            kind = "final evaluation" if event.final else "evaluated"
            text = f"Plan version {event.plan_version}: {kind} ({results or 'no goals'})"
            if event.next_evaluation_date is not None:
                text += f"; next evaluation on {day_text(event.next_evaluation_date)}"
            return text
        case WrittenCopyRequested():
            return (f"{names.of(event.requested_by)} asked for a written copy of the plan, "
                    f"due {day(event.due)}")
        case WrittenCopyProvided():
            return f"Written copy of plan version {event.plan_version} handed over"
        case StagnationFound():
            due = short_day_text(due_day(event.due, time_zone))
            text = f"Stagnation found: {word(event.rule)} (due {due}): {event.evidence}"
            if event.details is not None:
                text += f": {personal(event.details)}"
            return text
        case PartnerSignalRecorded():
            acted = "acted on" if event.acted_on else "recorded only"
            return (f"{event.organisation} signalled {word(event.kind)}: "
                    f"{personal(event.description)} ({acted}: {event.note})")
        case ManagerReviewRecorded():
            return (f"{names.of(event.manager_id)} reviewed the family's withdrawal: "
                    f"{word(event.decision)}: {personal(event.note)}")
        case TrajectoryClosed():
            moved = f" to {event.new_municipality}" if event.new_municipality else ""
            check_ins = count(len(event.check_ins_due), "check-in")
            return (f"Trajectory closed: {word(event.reason)}{moved}; aftercare until "
                    f"{day(event.aftercare_ends_at)}, {check_ins}")
        case CheckInDue():
            return f"Aftercare check-in {event.check_in + 1} is due"
        case CheckInRecorded():
            return (f"{names.of(event.by)} held check-in {event.check_in + 1}: "
                    f"{personal(event.note)}")
        case CheckInMissed():
            return f"Check-in {event.check_in + 1} missed"
        case TrajectoryReopened():
            return (f"Reopened (revolving door) after a relapse signal from "
                    f"{event.organisation}: {personal(event.description)}; evaluation on "
                    f"{day_text(event.evaluation_date)}")
        case AftercareEnded():
            return "Aftercare ended; the trajectory is over"
        case ContactAttempted():
            reached = "reached the family" if event.reached else "could not reach the family"
            return f"{names.of(event.by)} {reached} ({event.channel})"
        case EscalationOpened():
            concerned = (f", concerning {names.of(event.concerned_professional_id)}"
                         if event.concerned_professional_id else "")
            return f"Opened escalation episode {event.episode_id} ({word(event.rule)}{concerned})"
        case EscalationFindingAttached():
            return f"The same cause again: joined episode {event.episode_id}"
        case EscalationLevelAssigned():
            return (f"Episode {event.episode_id} at level {event.level} with "
                    f"{names.of(event.assignee_id)} ({word(event.role)}), respond by "
                    f"{day(event.deadline)}: {event.reason}")
        case EscalationAcknowledged():
            return (f"{names.of(event.by)} acknowledged episode {event.episode_id} "
                    f"(level {event.level})")
        case EscalationResolved():
            binding = " with a binding decision" if event.binding else ""
            return (f"{names.of(event.by)} resolved episode {event.episode_id} at level "
                    f"{event.level}{binding}: {personal(event.decision)}")
        case EscalationClosed():
            return f"Episode {event.episode_id} closed: {event.reason}"
        case RegionAlerted():
            return (f"Region {event.region_id} alerted about episode {event.episode_id} "
                    f"(reminder {event.reminder}); next reminder {day(event.next_reminder)}")
    return type(event).__name__  # an event this module does not know yet: its name
