"""Base classes and field types shared by commands, events and value objects."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

# Ids chosen by callers (case, person, goal, agreement ids): safe in URLs and logs, and
# chosen by the caller so that a retried command carries the same id.
Id = Annotated[str, StringConstraints(min_length=1, max_length=100,
                                      pattern=r"^[A-Za-z0-9._:-]+$")]
Text = Annotated[str, StringConstraints(min_length=1, max_length=4000, strip_whitespace=True)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
