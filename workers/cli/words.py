"""The domain's words for people: enum values and personal fields as an operator reads
them, in English like the rest of `regie`."""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from domain.personal import Erased

# Where the value's own spelling (underscores as spaces) would mislead or say too little.
_WORDS: dict[str, str] = {
    "in_care": "in care",
    "process_director": "regional process director",
    "education_work": "education & work",
    "school_work": "school & work",
    "family_unreachable": "family unreachable (care avoidance)",
    "reported": "reported as stuck",
    "no_progress": "no progress",
    "waiting_norm_intake": "waiting norm to intake exceeded",
    "waiting_norm_care_start": "waiting norm to care exceeded",
    "plan_not_adopted": "plan not adopted in time",
    "family_group_plan": "family group plan",
    "parents_decline": "the parents decline",
    "threat_to_development": "concrete threats to the child's development",
    "child_interest_harmed": "the child's interest would be harmed",
    "agree_to_close": "agrees to close",
    "transfer_to_child_protection": "transfer to child protection",
    "contact_failed": "could not reach the family",
    "mentor": "JIM mentor",
    "coordinator": "care coordinator",
}


def word(value: StrEnum | None) -> str:
    if value is None:
        return "-"
    return _WORDS.get(value.value, value.value.replace("_", " "))


def count(n: int, thing: str) -> str:
    """"1 goal", "2 goals"."""
    return f"{n} {thing}" if n == 1 else f"{n} {thing}s"


def personal(value: str | date | Erased | None) -> str:
    """A personal field as shown: its value while the person's key exists."""
    if value is None:
        return "-"
    if isinstance(value, Erased):
        return "(erased)"
    return value if isinstance(value, str) else value.isoformat()
