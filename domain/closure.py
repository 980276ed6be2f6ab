"""Closing a trajectory: reasons and the Big 5 check for young people of 17 and older."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, ClassVar

from domain.model import Frozen, Id, Name, Text
from domain.personal import PERSONAL, Erased, HasPersonalData


class ClosureReason(StrEnum):
    GOALS_ACHIEVED = "goals_achieved"
    FAMILY_WITHDREW = "family_withdrew"  # only after a manager's review (vasthoudend)
    MOVED_AWAY = "moved_away"  # transfer to the new municipality recorded
    CHILD_PROTECTION = "child_protection"  # transfer to the compulsory framework


class Big5Status(StrEnum):
    ARRANGED = "arranged"
    ON_TRACK = "on_track"
    JUSTIFIED_EXCEPTION = "justified_exception"


class Big5Item(Frozen):
    status: Big5Status
    justification: Text | None = None  # required for a justified exception


class Big5Check(Frozen, HasPersonalData):
    """The Big 5 for one young person: support, housing, school & work, income,
    wellbeing; and at least one named adult who is always there."""

    personal_subject_field: ClassVar[str] = "person_id"
    person_id: Id
    support: Big5Item
    housing: Big5Item
    school_work: Big5Item
    income: Big5Item
    wellbeing: Big5Item
    # Names of people in the young person's life: sealed with the young person's key.
    supporting_adults: Annotated[tuple[Name, ...] | Erased, PERSONAL] = ()

    def items(self) -> dict[str, Big5Item]:
        return {"support": self.support, "housing": self.housing,
                "school_work": self.school_work, "income": self.income,
                "wellbeing": self.wellbeing}


class ManagerReviewDecision(StrEnum):
    CONTINUE = "continue"  # keep trying to reach the family
    AGREE_TO_CLOSE = "agree_to_close"
    TRANSFER_TO_CHILD_PROTECTION = "transfer_to_child_protection"
