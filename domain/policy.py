"""Regional policy: every term, cap and deadline the domain rules depend on.

Every term, cap and period is policy (docs/domain.md): a region sets these numbers in its
policy file; code reads them from `RegionPolicy` and never hard-wires them. Each field
documents its default and where that default comes from. The model is strict and forbids
unknown keys, so a typo or a quoted number in a region file is an error instead of a
silent default.

The helpers turn the numbers into dates. They are pure and deterministic (they run
inside Temporal workflows): the moment to count from is always an argument.

Weeks and days are calendar time, added to the wall-clock time of an aware datetime,
so "4 weeks after Monday 09:00 Amsterdam time" is a Monday 09:00 even across a DST
change. Deadlines counted in working days are not here: they need the holiday
calendar (`domain.calendar.WorkingDayCalendar`).
"""

from __future__ import annotations

import calendar
from datetime import date, datetime, timedelta
from typing import Self, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from domain.local_time import DEFAULT_TIME_ZONE, local_date, zone

# The law's floor: records are kept at least 20 years after care ends (Jeugdwet 7.3.8).
MIN_RECORD_RETENTION_YEARS = 20

D = TypeVar("D", date, datetime)


class _Policy(BaseModel):
    # strict: a TOML string "15" or float 15.0 is a wrong type, not silently coerced.
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


class EscalationDeadlines(_Policy):
    """Response deadline per level of the escalation ladder (docs/domain.md rule 9), in Dutch
    working days: weekends and national holidays do not count."""

    coordinator: int = Field(
        default=5,
        gt=0,
        description="Working days the care coordinator has to respond to a stagnation.",
    )
    manager: int = Field(
        default=5,
        gt=0,
        description="Working days the manager (leidinggevende) has to respond after the "
        "case was escalated to them.",
    )
    process_director: int = Field(
        default=10,
        gt=0,
        description="Working days the regional process director (regionale procesregisseur "
        "jeugd) has to take a binding decision (doorzettingsmacht).",
    )


class RegionPolicy(_Policy):
    """The numbers one region has chosen; `RegionPolicy()` is the documented default."""

    region: str = Field(
        default="default",
        min_length=1,
        description="Name of the region this policy belongs to, shown in reports.",
    )
    time_zone: str = Field(
        default=DEFAULT_TIME_ZONE,
        description="IANA time zone of the region. Date-only deadlines, ages and working "
        "days count in its calendar days, and messages show times in it; instants are "
        "stored in UTC. Default: Europe/Amsterdam (the Netherlands).",
    )

    # -- Waiting (rule 4) ------------------------------------------------------------
    waiting_norm_intake_weeks: int = Field(
        default=4,
        gt=0,
        description="Weeks from referral (sign-up) to intake. Default: GGZ Treeknorm "
        "aanmeldingswachttijd, 4 weeks.",
    )
    waiting_norm_care_start_weeks: int = Field(
        default=10,
        gt=0,
        description="Weeks from intake to the start of care. Default: GGZ Treeknorm "
        "behandelingswachttijd, 10 weeks. The Treeknorm counts this from the intake, "
        "not from the referral: the total norm is intake + care start (14 weeks).",
    )

    # -- Team (rule 5) ---------------------------------------------------------------
    caseload_cap: int = Field(
        default=15,
        gt=0,
        description="Most active trajectories one care coordinator may hold. Default 15 "
        "families (docs/domain.md rule 5; the Den Helder assessment criticised having no cap).",
    )

    # -- Figures (rule 14) -------------------------------------------------------------
    family_group_plans_aim: int = Field(
        default=40,
        ge=0,
        description="Family group plans a year the region aims for (Den Haag's aim was 40, "
        "then 50); the region's figures show each year against it.",
    )

    # -- Plans (rule 6) --------------------------------------------------------------
    family_group_plan_term_weeks: int = Field(
        default=6,
        gt=0,
        description="Weeks the family has, from the offer, to make its family group plan. "
        "Jeugdwet 4.1.2 says 'within a reasonable term'; 6 weeks is our default.",
    )
    professional_plan_term_weeks: int = Field(
        default=6,
        gt=0,
        description="Weeks to adopt a professional plan once it is clear no family group "
        "plan will come (Jeugdwet 4.1.3: 6 weeks).",
    )
    written_plan_copy_days: int = Field(
        default=14,
        gt=0,
        description="Calendar days to hand over a written copy of the plan after a request "
        "(docs/domain.md rule 6: 14 days).",
    )

    # -- Aftercare (rule 12) ---------------------------------------------------------
    aftercare_months: int = Field(
        default=6,
        gt=0,
        description="Calendar months of aftercare (nazorg, waakvlam) after closure; a "
        "relapse inside this window reopens the same trajectory. Default: half a year, "
        "the period in which ended help may resume (docs/domain.md rule 12).",
    )
    check_in_interval_weeks: int = Field(
        default=6,
        gt=0,
        description="Weeks between aftercare check-ins, counted from closure.",
    )
    check_in_grace_days: int = Field(
        default=14,
        gt=0,
        description="Calendar days after a check-in falls due before it is recorded as missed.",
    )
    reopen_evaluation_weeks: int = Field(
        default=6,
        gt=0,
        description="Weeks after a relapse reopens a trajectory until its last plan is "
        "evaluated again. Default: 6 weeks, the same rhythm as the check-ins.",
    )

    # -- Closure (rule 11) -----------------------------------------------------------
    big5_min_age: int = Field(
        default=17,
        gt=0,
        le=18,
        description="Age from which the Big 5 (support, housing, school & work, income, "
        "wellbeing) must be in order before closure (docs/domain.md rule 11: 17). At most 18: "
        "the Big 5 prepares for adulthood, so a higher age would let a minor leave care "
        "unchecked.",
    )

    # -- Stagnation (rule 9) ---------------------------------------------------------
    no_progress_evaluations: int = Field(
        default=2,
        gt=0,
        description="Consecutive evaluations without progress on any goal that count as "
        "stagnation.",
    )
    unreachable_attempts: int = Field(
        default=3,
        gt=0,
        description="Failed contact attempts within `unreachable_period_days` that count as "
        "care avoidance (zorgmijding).",
    )
    unreachable_period_days: int = Field(
        default=28,
        gt=0,
        description="Calendar days over which failed contact attempts are counted.",
    )
    escalation_deadlines_working_days: EscalationDeadlines = Field(
        default_factory=EscalationDeadlines,
        description="Response deadline per escalation level, in Dutch working days.",
    )
    escalation_reminder_working_days: int = Field(
        default=5,
        gt=0,
        description="Working days between reminders while an escalation awaits a response.",
    )
    partner_signals_per_case_per_day: int = Field(
        default=20,
        gt=0,
        description="Signals one partner organisation may send about one case in 24 hours; "
        "more are answered 429 (a flood says nothing more, and would bury the others).",
    )

    # -- Records (rule 13) -----------------------------------------------------------
    record_retention_years: int = Field(
        default=MIN_RECORD_RETENTION_YEARS,
        description="Years a record is kept after care ends. At least 20: the legal minimum "
        "(Jeugdwet 7.3.8). A region may keep records longer, never shorter.",
    )

    @field_validator("time_zone")
    @classmethod
    def _known_time_zone(cls, name: str) -> str:
        # An unknown zone would only fail at the first deadline, inside a workflow; refuse
        # it when the region's file is read.
        zone(name)
        return name

    @field_validator("record_retention_years")
    @classmethod
    def _at_least_legal_minimum(cls, years: int) -> int:
        # A custom message: "greater than or equal to 20" would not say why.
        if years < MIN_RECORD_RETENTION_YEARS:
            raise ValueError(
                f"must be at least {MIN_RECORD_RETENTION_YEARS} years: youth-care records "
                f"are kept at least {MIN_RECORD_RETENTION_YEARS} years after care ends "
                f"(Jeugdwet 7.3.8)"
            )
        return years

    @model_validator(mode="after")
    def _relations_hold(self) -> Self:
        # Every problem in one message, one per line, so a region fixes its file in one go.
        problems: list[str] = []
        interval_days = self.check_in_interval_weeks * 7
        if self.check_in_grace_days >= interval_days:
            problems.append(
                f"check_in_grace_days: must be shorter than check_in_interval_weeks "
                f"({interval_days} days), or a check-in falls due before the previous one "
                f"is marked missed (got {self.check_in_grace_days})"
            )
        # n calendar months are never shorter than 28·n days (Feb in a common year).
        if interval_days >= self.aftercare_months * 28:
            problems.append(
                f"check_in_interval_weeks: must be shorter than aftercare_months "
                f"({self.aftercare_months} {'month' if self.aftercare_months == 1 else 'months'}"
                f"), or aftercare has no check-in at all "
                f"(got {self.check_in_interval_weeks})"
            )
        if problems:
            raise ValueError("\n".join(problems))
        return self

    # -- Helpers -------------------------------------------------------------------------

    def intake_deadline(self, referred_at: datetime) -> datetime:
        """Latest intake under the waiting norm, counted from the referral."""
        return _require_aware(referred_at) + timedelta(weeks=self.waiting_norm_intake_weeks)

    def care_start_deadline(self, intake_at: datetime) -> datetime:
        """Latest start of care under the waiting norm, counted from the intake
        (Treeknorm behandelingswachttijd), not from the referral."""
        return _require_aware(intake_at) + timedelta(weeks=self.waiting_norm_care_start_weeks)

    def family_group_plan_deadline(self, offered_at: datetime) -> datetime:
        """When the family's own plan is due, counted from the offer."""
        return _require_aware(offered_at) + timedelta(weeks=self.family_group_plan_term_weeks)

    def professional_plan_deadline(self, from_: datetime) -> datetime:
        """When the professional plan must be adopted, counted from the moment it became
        clear no family group plan will come (declined, skipped, or term expired)."""
        return _require_aware(from_) + timedelta(weeks=self.professional_plan_term_weeks)

    def written_plan_copy_deadline(self, requested_at: datetime) -> datetime:
        """When a requested written copy of the plan is due."""
        return _require_aware(requested_at) + timedelta(days=self.written_plan_copy_days)

    def aftercare_end(self, closed_at: datetime) -> datetime:
        """End of the aftercare window: `aftercare_months` calendar months after closure,
        the day clamped to the month's end (Aug 31 + 6 months = Feb 28/29)."""
        return add_months(_require_aware(closed_at), self.aftercare_months)

    def in_aftercare(self, closed_at: datetime, at: datetime) -> bool:
        """Whether `at` lies inside the aftercare window (a relapse then reopens the same
        trajectory). The window is closed at the start and open at the end."""
        return closed_at <= _require_aware(at) < self.aftercare_end(closed_at)

    def check_in_dates(self, closed_at: datetime) -> list[datetime]:
        """Scheduled aftercare check-ins: every `check_in_interval_weeks` after closure,
        strictly before the aftercare end. The validators guarantee at least one."""
        end = self.aftercare_end(closed_at)
        step = timedelta(weeks=self.check_in_interval_weeks)
        dates: list[datetime] = []
        due = closed_at + step
        while due < end:
            dates.append(due)
            due += step
        return dates

    def reopen_evaluation_date(self, reopened_at: datetime) -> date:
        """The evaluation date the last plan gets when a relapse reopens the trajectory:
        whole weeks after the region's calendar day of the relapse."""
        return (local_date(_require_aware(reopened_at), self.time_zone)
                + timedelta(weeks=self.reopen_evaluation_weeks))

    def check_in_missed_at(self, due_at: datetime) -> datetime:
        """When a check-in due at `due_at` and not done is recorded as missed."""
        return _require_aware(due_at) + timedelta(days=self.check_in_grace_days)

    def unreachable_period(self) -> timedelta:
        """The window over which failed contact attempts are counted."""
        return timedelta(days=self.unreachable_period_days)

    def record_retention_end(self, care_ended_at: datetime) -> datetime:
        """Earliest moment a record may be destroyed without a request (Feb 29 clamps to
        Feb 28 in a common year)."""
        return add_months(_require_aware(care_ended_at), 12 * self.record_retention_years)


def add_months(moment: D, months: int) -> D:
    """`moment` plus whole calendar months, the day clamped to the target month's length:
    Jan 31 + 1 month = Feb 28 (29 in a leap year), Aug 31 + 6 months = Feb 28/29.
    A datetime keeps its time of day and tzinfo. `months` may be negative."""
    index = moment.year * 12 + (moment.month - 1) + months
    year, month0 = divmod(index, 12)
    month = month0 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def _require_aware(moment: datetime) -> datetime:
    # Mixing naive and aware datetimes fails late and far away (in a comparison inside a
    # workflow); refuse a naive one here, where the mistake is made.
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"a policy date needs a timezone-aware datetime (got {moment!r})")
    return moment
