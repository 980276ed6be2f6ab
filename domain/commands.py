"""Commands: what a caseworker or partner asks for, in the imperative."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from domain.events import Referral


class Command(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ReferFamily(Command):
    """A partner refers a family. The first referral opens the trajectory; a later one
    for the same family joins it (recorded as an extra referral, never a second case)."""

    case_id: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._-]+$")
    referral: Referral
