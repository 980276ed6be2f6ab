"""Base classes and field types shared by commands, events and value objects."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from domain.text_rules import check_free_text, check_single_line, find_unstorable

# The validation context of data read back from the event store (`validate_json(...,
# context=FROM_STORE)`). The text rules below guard what goes in; what comes out passed
# them when it was written (or passed older rules: reading must not start failing when a
# rule gets stricter). Checked again on every read they were half the cost of decoding.
FROM_STORE: dict[str, bool] = {"from_store": True}


def _on_the_way_in(check: Callable[[str], str]) -> Callable[[str, ValidationInfo], str]:
    def validate(value: str, info: ValidationInfo) -> str:
        return value if info.context is FROM_STORE else check(value)
    return validate


_single_line = _on_the_way_in(check_single_line)
_free_text = _on_the_way_in(check_free_text)

# Ids chosen by callers (case, person, goal, agreement ids): safe in URLs and logs, and
# chosen by the caller so that a retried command carries the same id.
Id = Annotated[str, StringConstraints(min_length=1, max_length=100,
                                      pattern=r"^[A-Za-z0-9._:-]+$"),
               AfterValidator(_single_line)]
# Free text keeps its line breaks and tabs; names are one line (domain/text_rules.py).
Text = Annotated[str, StringConstraints(min_length=1, max_length=4000, strip_whitespace=True),
                 AfterValidator(_free_text)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True),
                 AfterValidator(_single_line)]
# Free text that may be left empty (a reason that is optional but not None).
OptionalText = Annotated[str, StringConstraints(max_length=4000),
                         AfterValidator(_free_text)]


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # Every string of every command and value object, also those typed plain `str` or
    # personal (`str | Erased`), must be one PostgreSQL can hold: checked here once, so a
    # field added later cannot let a NUL through to the store. Not again on the way out
    # of the store, where it was a tenth of the cost of reading an event.
    @field_validator("*", mode="after")
    @classmethod
    def _storable(cls, value: Any, info: ValidationInfo) -> Any:
        if info.context is FROM_STORE:
            return value
        problem = find_unstorable(value)
        if problem is not None:
            raise ValueError(problem)
        return value
