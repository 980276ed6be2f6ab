"""Consent for help and for sharing information (Jeugdwet 7.3.4)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from domain.model import Frozen, Id, Name


class ConsentPurpose(StrEnum):
    HELP = "help"
    SHARE_INFORMATION = "share_information"


class Consent(Frozen):
    consent_id: Id
    subject_id: Id  # whose data or help it concerns
    purpose: ConsentPurpose
    recipient: Name | None = None  # the organisation information may go to
    given_by: tuple[Id, ...]
    given_at: datetime
    withdrawn_at: datetime | None = None

    def covers(self, subject_id: str, purpose: ConsentPurpose, recipient: str | None) -> bool:
        return (self.withdrawn_at is None and self.subject_id == subject_id
                and self.purpose is purpose
                and (purpose is ConsentPurpose.HELP or self.recipient == recipient))
