"""Base classes and field types shared by commands, events and value objects."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints, field_validator

from domain.text_rules import check_free_text, check_single_line, find_unstorable

# Ids chosen by callers (case, person, goal, agreement ids): safe in URLs and logs, and
# chosen by the caller so that a retried command carries the same id.
Id = Annotated[str, StringConstraints(min_length=1, max_length=100,
                                      pattern=r"^[A-Za-z0-9._:-]+$"),
               AfterValidator(check_single_line)]
# Free text keeps its line breaks and tabs; names are one line (domain/text_rules.py).
Text = Annotated[str, StringConstraints(min_length=1, max_length=4000, strip_whitespace=True),
                 AfterValidator(check_free_text)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True),
                 AfterValidator(check_single_line)]
# Free text that may be left empty (a reason that is optional but not None).
OptionalText = Annotated[str, StringConstraints(max_length=4000),
                         AfterValidator(check_free_text)]


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # Every string of every command and value object, also those typed plain `str` or
    # personal (`str | Erased`), must be one PostgreSQL can hold: checked here once, so a
    # field added later cannot let a NUL through to the store.
    @field_validator("*", mode="after")
    @classmethod
    def _storable(cls, value: Any) -> Any:
        problem = find_unstorable(value)
        if problem is not None:
            raise ValueError(problem)
        return value
