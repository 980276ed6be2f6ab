"""The family: its members, life domains and referrals."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import ClassVar

from domain.model import Frozen, Id, Name
from domain.personal import Erased, HasPersonalData, PersonalDate, PersonalStr


class LifeDomain(StrEnum):
    """Life domains (leefgebieden) used across the family plan."""

    HEALTH = "health"
    UPBRINGING = "upbringing"
    EDUCATION_WORK = "education_work"
    FINANCES = "finances"
    HOUSING = "housing"
    SOCIAL_NETWORK = "social_network"
    SAFETY = "safety"
    DAILY_LIFE = "daily_life"
    ADDICTION = "addiction"
    JUSTICE = "justice"


class MemberRole(StrEnum):
    PARENT = "parent"
    CHILD = "child"
    OTHER = "other"


class FamilyMember(Frozen, HasPersonalData):
    person_id: Id
    role: MemberRole
    name: PersonalStr
    birth_date: PersonalDate
    has_parental_authority: bool = False

    def age_on(self, day: date) -> int | None:
        """Age in whole years on `day`; None once the birth date was erased."""
        if isinstance(self.birth_date, Erased):
            return None
        born = self.birth_date
        return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


class ReferralReason(Frozen, HasPersonalData):
    """Why the partner refers the family, about one member, in one life domain."""

    personal_subject_field: ClassVar[str] = "about"
    about: Id
    life_domain: LifeDomain
    description: PersonalStr


class Referral(Frozen):
    referral_id: Id
    organisation: Name
    referrer: Name
    members: tuple[FamilyMember, ...]
    reasons: tuple[ReferralReason, ...]
    # The partner's own reference for it, kept as a reference only: Regie's ids are its
    # own (`infra.persons`).
    reference: Id | None = None
    # Open trajectories that share some of these persons but not as the same family
    # (e.g. the same child with another parent): not merged silently, the team decides.
    possible_matches: tuple[Id, ...] = ()


def family_subject(case_id: str) -> str:
    """Subject id for free text about the whole family rather than one member."""
    return f"family:{case_id}"
