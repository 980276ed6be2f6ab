"""The team around the family: professionals and people from the family's network."""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar

from domain.model import Frozen, Id, Name, Text
from domain.personal import HasPersonalData, PersonalStr


class TeamMemberKind(StrEnum):
    PROFESSIONAL = "professional"
    RELATIVE = "relative"
    NEIGHBOUR = "neighbour"
    MENTOR = "mentor"  # JIM: a mentor the young person chose (Jouw Ingebrachte Mentor)
    OTHER_NETWORK = "other_network"


class TeamMember(Frozen, HasPersonalData):
    personal_subject_field: ClassVar[str] = "member_id"
    member_id: Id
    kind: TeamMemberKind
    # Network members are private persons: their names are personal data. Professionals'
    # names are sealed the same way, which costs nothing and keeps one rule.
    name: PersonalStr
    organisation: Name | None = None
    chosen_by: Id | None = None  # for a JIM mentor: the young person who chose them

    @property
    def is_professional(self) -> bool:
        return self.kind is TeamMemberKind.PROFESSIONAL


class ManagerOverride(Frozen):
    """A manager allows an appointment above the caseload cap, for a written reason."""

    manager_id: Id
    reason: Text
