"""Stagnation rules (opschaling: what counts as a stalled trajectory), each in one place.

A rule is one class: the fields of its class are what a finding is about (an
`AgreementOverdue` names the agreement and its due date), and the class says when the
rule fires (`fire`), when its cause has cleared (`cleared`), whose manager an
escalation concerns (`concerned_professional`) and which `RegionPolicy` fields it reads
(`policy_keys`). `StagnationAbout` is the union of these classes, discriminated on
`rule`; `StagnationFound.about` and `Finding.about` hold one.

`ref` is a finding's identity: it deduplicates findings and names them in
`EscalationOpened.finding_key` and `Episode.finding_refs`. It is computed from the
typed fields and never parsed back; it keeps the exact form of the schema v1 `rule:key`
strings, so episodes recorded before this module existed still find their findings.

A new rule: a member of `StagnationRule`, a class here, and that class in
`StagnationAbout`. `domain.deadlines` and `domain.escalation` need no change.
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, ClassVar, Literal, get_args

from pydantic import Field

from domain.local_time import local_date
from domain.model import Frozen, Id
from domain.policy import RegionPolicy

if TYPE_CHECKING:
    from domain.trajectory import TrajectoryState


class StagnationRule(StrEnum):
    WAITING_NORM_INTAKE = "waiting_norm_intake"
    WAITING_NORM_CARE_START = "waiting_norm_care_start"
    PLAN_NOT_ADOPTED = "plan_not_adopted"
    EVALUATION_OVERDUE = "evaluation_overdue"
    AGREEMENT_OVERDUE = "agreement_overdue"
    WRITTEN_COPY_OVERDUE = "written_copy_overdue"
    NO_PROGRESS = "no_progress"  # consecutive evaluations without progress on any goal
    FAMILY_UNREACHABLE = "family_unreachable"  # care avoidance (zorgmijding)
    REPORTED = "reported"  # a partner or team member reports that things are stuck


@dataclass(frozen=True)
class Firing:
    """A rule holds: about what, since when, and the evidence for the record. `due` is a
    moment, or a day (a due date), which passes when that day is over
    (`domain.deadlines.end_of_day`: the clocks decide when a day ends, not the rules)."""

    about: StagnationAbout
    due: datetime | date
    evidence: str

    @property
    def clock(self) -> bool:
        return type(self.about).clock


class About(Frozen):
    """What a stagnation finding is about; one subclass per rule."""

    rule: StagnationRule
    # True: the rule holds from a deadline on, and the workflow sets a timer for it.
    # False: an event makes it hold (checked right after each change), or a command
    # records it (a report).
    clock: ClassVar[bool] = True
    # The `RegionPolicy` fields that decide when the rule holds. Some are read when the
    # term starts (the deadline is then in the state), the others when the rule fires.
    policy_keys: ClassVar[tuple[str, ...]] = ()

    @property
    @abstractmethod
    def key(self) -> str:
        """What the finding is about, unique within its rule."""

    @property
    def ref(self) -> str:
        return f"{self.rule.value}:{self.key}"

    @classmethod
    @abstractmethod
    def fire(cls, state: TrajectoryState, policy: RegionPolicy) -> list[Firing]:
        """Every cause of this rule that holds in `state`, recorded or not."""

    @abstractmethod
    def cleared(self, state: TrajectoryState) -> str | None:
        """Why this cause no longer holds, or None while it still does."""

    def concerned_professional(self, state: TrajectoryState) -> str | None:
        """A professional other than the coordinator whose manager level 2 asks."""
        return None


# domain.trajectory and domain.events import this module (for the models above), so the
# two enums the rules compare with are imported when a rule runs, not when this loads.


def _waiting_for_care(state: TrajectoryState) -> bool:
    from domain.trajectory import Phase

    return state.phase in (Phase.REFERRED, Phase.ACCEPTED)


def _planning(state: TrajectoryState) -> bool:
    from domain.trajectory import Phase

    return state.is_open and state.phase is not Phase.REFERRED


def _intake_accepted(state: TrajectoryState) -> bool:
    from domain.events import IntakeOutcome

    return state.intake_outcome is IntakeOutcome.ACCEPTED


class WaitingNormIntake(About):
    rule: Literal[StagnationRule.WAITING_NORM_INTAKE] = StagnationRule.WAITING_NORM_INTAKE
    policy_keys = ("waiting_norm_intake_weeks",)

    @property
    def key(self) -> str:
        return "intake"

    @classmethod
    def fire(cls, state: TrajectoryState, policy: RegionPolicy) -> list[Firing]:
        referred_at = state.referred_at
        if not _waiting_for_care(state) or referred_at is None or state.intake_at is not None:
            return []
        return [Firing(cls(), policy.intake_deadline(referred_at),
                       f"no intake within {policy.waiting_norm_intake_weeks} weeks of "
                       f"the referral on {local_date(referred_at, policy.time_zone)}")]

    def cleared(self, state: TrajectoryState) -> str | None:
        return "the intake was held" if state.intake_at is not None else None


class WaitingNormCareStart(About):
    rule: Literal[StagnationRule.WAITING_NORM_CARE_START] = (
        StagnationRule.WAITING_NORM_CARE_START)
    policy_keys = ("waiting_norm_care_start_weeks",)

    @property
    def key(self) -> str:
        return "care_start"

    @classmethod
    def fire(cls, state: TrajectoryState, policy: RegionPolicy) -> list[Firing]:
        if (not _waiting_for_care(state) or state.referred_at is None or state.intake_at is None
                or not _intake_accepted(state) or state.care_started_at is not None):
            return []
        return [Firing(cls(), policy.care_start_deadline(state.intake_at),
                       f"care not started within {policy.waiting_norm_care_start_weeks} "
                       f"weeks of the intake on "
                       f"{local_date(state.intake_at, policy.time_zone)}")]

    def cleared(self, state: TrajectoryState) -> str | None:
        return "care started" if state.care_started_at is not None else None


class PlanNotAdopted(About):
    rule: Literal[StagnationRule.PLAN_NOT_ADOPTED] = StagnationRule.PLAN_NOT_ADOPTED
    policy_keys = ("professional_plan_term_weeks",)
    deadline: date  # the day; the moment is the finding's `due`

    @property
    def key(self) -> str:
        return f"plan:{self.deadline}"

    @classmethod
    def fire(cls, state: TrajectoryState, policy: RegionPolicy) -> list[Firing]:
        at = state.professional_plan_deadline
        if not _planning(state) or state.plan is not None or at is None:
            return []
        # The UTC day, as keys of stored findings have it: the key is their identity.
        return [Firing(cls(deadline=at.date()), at,
                       "no family group plan came and no professional plan was "
                       f"adopted by {local_date(at, policy.time_zone)} (Jeugdwet 4.1.3)")]

    def cleared(self, state: TrajectoryState) -> str | None:
        return "a plan was adopted" if state.plan is not None else None


class EvaluationOverdue(About):
    rule: Literal[StagnationRule.EVALUATION_OVERDUE] = StagnationRule.EVALUATION_OVERDUE
    plan_version: int
    evaluation_date: date

    @property
    def key(self) -> str:
        return f"evaluation:v{self.plan_version}:{self.evaluation_date}"

    @classmethod
    def fire(cls, state: TrajectoryState, policy: RegionPolicy) -> list[Firing]:
        plan = state.plan
        if not _planning(state) or plan is None or plan.evaluation_date is None or (
                plan.evaluation_date in state.evaluated_dates):
            return []
        day = plan.evaluation_date
        return [Firing(cls(plan_version=state.plan_version, evaluation_date=day), day,
                       f"plan version {state.plan_version} was due for evaluation on "
                       f"{day} and has not been evaluated")]

    def cleared(self, state: TrajectoryState) -> str | None:
        if state.plan_version > self.plan_version:
            return "a new plan version was adopted"
        if self.evaluation_date in state.evaluated_dates:
            return "the evaluation was held"
        return None


class AgreementOverdue(About):
    rule: Literal[StagnationRule.AGREEMENT_OVERDUE] = StagnationRule.AGREEMENT_OVERDUE
    agreement_id: Id
    due: date

    @property
    def key(self) -> str:
        return f"agreement:{self.agreement_id}:{self.due}"

    @classmethod
    def fire(cls, state: TrajectoryState, policy: RegionPolicy) -> list[Firing]:
        if not _planning(state) or state.plan is None:
            return []
        return [Firing(cls(agreement_id=a.agreement_id, due=a.due), a.due,
                       # Ids and dates only: the evidence is not sealed, the action's
                       # words about the family stay in the plan.
                       f"agreement {a.agreement_id} by {a.owner} was due on {a.due}")
                for a in state.plan.agreements
                if a.due is not None and a.agreement_id not in state.completed_agreements]

    def cleared(self, state: TrajectoryState) -> str | None:
        if self.agreement_id in state.completed_agreements:
            return f"agreement {self.agreement_id} was done"
        if state.plan is None or not any(a.agreement_id == self.agreement_id
                                         for a in state.plan.agreements):
            return f"agreement {self.agreement_id} is no longer in the plan"
        return None

    def concerned_professional(self, state: TrajectoryState) -> str | None:
        """The agreement's owner, if a professional: their manager is asked."""
        if state.plan is None:
            return None
        owner = next((a.owner for a in state.plan.agreements
                      if a.agreement_id == self.agreement_id), None)
        member = state.team_member(owner) if owner else None
        return owner if member is not None and member.is_professional else None


class WrittenCopyOverdue(About):
    rule: Literal[StagnationRule.WRITTEN_COPY_OVERDUE] = StagnationRule.WRITTEN_COPY_OVERDUE
    policy_keys = ("written_plan_copy_days",)
    due: date  # the day; the moment is the finding's `due`

    @property
    def key(self) -> str:
        return f"copy:{self.due}"

    @classmethod
    def fire(cls, state: TrajectoryState, policy: RegionPolicy) -> list[Firing]:
        at = state.written_copy_due
        if not _planning(state) or at is None:
            return []
        # The UTC day, as keys of stored findings have it: the key is their identity.
        return [Firing(cls(due=at.date()), at,
                       f"a written copy of the plan was due by "
                       f"{local_date(at, policy.time_zone)}")]

    def cleared(self, state: TrajectoryState) -> str | None:
        return "the written copy was provided" if state.written_copy_due is None else None


class NoProgress(About):
    rule: Literal[StagnationRule.NO_PROGRESS] = StagnationRule.NO_PROGRESS
    clock = False
    policy_keys = ("no_progress_evaluations",)
    first_evaluation: int  # the first of the evaluations in a row without progress

    @property
    def key(self) -> str:
        return f"evaluations-from:{self.first_evaluation}"

    @classmethod
    def fire(cls, state: TrajectoryState, policy: RegionPolicy) -> list[Firing]:
        streak = state.no_progress_streak
        if (not state.is_open or streak < policy.no_progress_evaluations
                or state.last_evaluated_at is None):
            return []
        return [Firing(cls(first_evaluation=state.evaluations - streak + 1),
                       state.last_evaluated_at,
                       f"{streak} consecutive evaluations without progress on any goal "
                       f"(policy: {policy.no_progress_evaluations})")]

    def cleared(self, state: TrajectoryState) -> str | None:
        return "an evaluation showed progress" if state.no_progress_streak == 0 else None


class FamilyUnreachable(About):
    rule: Literal[StagnationRule.FAMILY_UNREACHABLE] = StagnationRule.FAMILY_UNREACHABLE
    clock = False
    policy_keys = ("unreachable_attempts", "unreachable_period_days")
    since: datetime  # the first failed contact of the window

    @property
    def key(self) -> str:
        return f"unreachable-since:{self.since:%Y-%m-%dT%H:%M:%S}"

    @classmethod
    def fire(cls, state: TrajectoryState, policy: RegionPolicy) -> list[Firing]:
        if not state.is_open:
            return []
        since = unreachable_since(state, policy.unreachable_attempts,
                                  policy.unreachable_period_days)
        if since is None:
            return []
        return [Firing(cls(since=since), state.failed_contacts[-1],
                       f"{len(state.failed_contacts)} failed contact attempts since "
                       f"{local_date(since, policy.time_zone)}; the family cannot be reached "
                       "(zorgmijding)")]

    def cleared(self, state: TrajectoryState) -> str | None:
        return "the family was reached again" if not state.failed_contacts else None


class Reported(About):
    rule: Literal[StagnationRule.REPORTED] = StagnationRule.REPORTED
    clock = False
    report: int  # 1 for the trajectory's first report, and so on

    @property
    def key(self) -> str:
        return f"report-{self.report}"

    @classmethod
    def next_in(cls, state: TrajectoryState) -> Reported:
        """What the trajectory's next report is about (the deciders record it)."""
        return cls(report=sum(1 for f in state.findings
                              if f.rule is StagnationRule.REPORTED) + 1)

    @classmethod
    def fire(cls, state: TrajectoryState, policy: RegionPolicy) -> list[Firing]:
        return []  # a team member or partner reports it: `ReportStagnation`, a signal

    def cleared(self, state: TrajectoryState) -> str | None:
        return None  # settled by a decision on its episode, not by a clock


StagnationAbout = Annotated[
    WaitingNormIntake | WaitingNormCareStart | PlanNotAdopted | EvaluationOverdue
    | AgreementOverdue | WrittenCopyOverdue | NoProgress | FamilyUnreachable | Reported,
    Field(discriminator="rule"),
]

_BY_RULE: dict[StagnationRule, type[About]] = {
    cls.model_fields["rule"].default: cls for cls in get_args(get_args(StagnationAbout)[0])}
# Every rule with its class (a rule without one fails here, on import), in the order of
# `StagnationRule`: findings due at the same moment are recorded in this order.
RULES: dict[StagnationRule, type[About]] = {rule: _BY_RULE[rule] for rule in StagnationRule}


def firings(state: TrajectoryState, policy: RegionPolicy) -> list[Firing]:
    """Every rule cause that holds in `state`, recorded already or not, rule by rule."""
    return [firing for cls in RULES.values() for firing in cls.fire(state, policy)]


def unreachable_since(state: TrajectoryState, attempts: int, period_days: int
                      ) -> datetime | None:
    """The first failed contact of a window of `period_days` holding `attempts` failures
    (care avoidance), or None. Windows are looked for among the failures since the
    family was last reached."""
    failures = state.failed_contacts
    for i in range(len(failures) - attempts + 1):
        if (failures[i + attempts - 1] - failures[i]).days < period_days:
            return failures[i]
    return None
