"""The family plan (gezinsplan): goals, people involved, agreements, evaluation."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import ClassVar

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


class Agreement(Frozen):
    """Who does what, by when. Owner and due date are optional here only so that a
    missing one is refused by `decide` with a message instead of a schema error."""

    agreement_id: Id
    action: Text
    owner: Id | None = None
    due: date | None = None


class PlanDecision(Frozen):
    """A decision from an escalation episode. A binding one (level 3, the regional
    process director's doorzettingsmacht) binds every team member."""

    episode_id: Id
    decided_by: Id
    decision: Text
    binding: bool
    authority: Text | None = None


class FamilyPlan(Frozen):
    goals: tuple[Goal, ...]
    involved: tuple[Involved, ...] = ()
    agreements: tuple[Agreement, ...] = ()
    evaluation_date: date | None = None
    decisions: tuple[PlanDecision, ...] = ()


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
