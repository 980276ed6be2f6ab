"""The family plan (gezinsplan): goals, people involved, agreements, evaluation."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import ClassVar

from pydantic.json_schema import SkipJsonSchema

from domain.family import LifeDomain
from domain.model import Frozen, Id, Name, Text
from domain.personal import HasPersonalData, PersonalStr


class Goal(Frozen, HasPersonalData):
    """A family goal, in the family's own words, for one member and life domain."""

    goal_id: Id
    person_id: Id
    life_domain: LifeDomain
    description: PersonalStr
    criterion: PersonalStr  # how the family will know it is achieved (measurable)


class Involved(Frozen):
    """Someone involved in carrying out the plan (a team member, or another party)."""

    party_id: Id
    role: Name


class Agreement(Frozen, HasPersonalData):
    """Who does what, by when. Owner and due date are optional here only so that a
    missing one is refused by `decide` with a message instead of a schema error. The
    action's words are about the family: sealed with its key (`subject`, set by the
    rules when the plan is recorded; callers leave it out)."""

    personal_subject_field: ClassVar[str] = "subject"
    agreement_id: Id
    action: PersonalStr
    owner: Id | None = None
    due: date | None = None
    subject: SkipJsonSchema[str | None] = None


class PlanDecision(Frozen, HasPersonalData):
    """A decision from an escalation episode. A binding one (level 3, the regional
    process director's doorzettingsmacht) binds every team member. Its words are sealed
    with the family's key, as the agreements' are."""

    personal_subject_field: ClassVar[str] = "subject"
    episode_id: Id
    decided_by: Id
    decision: PersonalStr
    binding: bool
    authority: Text | None = None
    subject: SkipJsonSchema[str | None] = None


def sealed_for(agreements: tuple[Agreement, ...], subject: str) -> tuple[Agreement, ...]:
    """The agreements with the family's key named, so the store seals their words."""
    return tuple(a.model_copy(update={"subject": subject}) for a in agreements)


class FamilyPlan(Frozen):
    goals: tuple[Goal, ...]
    involved: tuple[Involved, ...] = ()
    agreements: tuple[Agreement, ...] = ()
    evaluation_date: date | None = None
    decisions: tuple[PlanDecision, ...] = ()

    def about_the_family(self, subject: str) -> FamilyPlan:
        """The plan as it is recorded: its agreements' and decisions' words sealed with
        the family's key (`subject`)."""
        return self.model_copy(update={
            "agreements": sealed_for(self.agreements, subject),
            "decisions": tuple(d.model_copy(update={"subject": subject})
                               for d in self.decisions)})


class PlanSource(StrEnum):
    FAMILY_GROUP_PLAN = "family_group_plan"  # the family's own plan (Jeugdwet 4.1.2)
    PROFESSIONAL = "professional"  # adopted when no family group plan came (4.1.3)
    ADJUSTMENT = "adjustment"  # a new version after evaluation
    ESCALATION = "escalation"  # an escalation decision added agreements (and binds)


class GoalProgress(StrEnum):
    ACHIEVED = "achieved"
    PROGRESSING = "progressing"
    NO_PROGRESS = "no_progress"


class GoalEvaluation(Frozen, HasPersonalData):
    personal_subject_field: ClassVar[str] = "person_id"
    goal_id: Id
    person_id: Id
    progress: GoalProgress
    note: PersonalStr | None = None


class SkipGround(StrEnum):
    """The legal grounds to skip the family group plan offer (Jeugdwet 4.1.2 lid 2)."""

    PARENTS_DECLINE = "parents_decline"
    THREAT_TO_DEVELOPMENT = "threat_to_development"
    CHILD_INTEREST_HARMED = "child_interest_harmed"
