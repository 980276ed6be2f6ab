"""Notifications: who must be told about a step in a case, written to the outbox in the
same transaction as the step's events, and delivered at least once by the dispatcher."""

from __future__ import annotations

from enum import StrEnum

from domain.model import Frozen, Id, Name, Text


class RecipientRole(StrEnum):
    COORDINATOR = "coordinator"
    MANAGER = "manager"
    PROCESS_DIRECTOR = "process_director"
    REGION = "region"


class Notification(Frozen):
    # Unique per notification: a retried append or a redelivered step writes it once.
    idempotency_key: Name
    recipient_id: Id  # a professional id from the organisation directory, or a region id
    role: RecipientRole
    organisation_id: Id | None = None  # whose webhook receives it (if it has one)
    case_id: Id
    case_link: Name  # e.g. "/v1/trajectories/<case id>", resolvable at the gateway
    message: Text
