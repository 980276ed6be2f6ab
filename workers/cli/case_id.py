"""A case id as the command line takes it: the same rule as the command that opens a
case (`ReferFamily.case_id`), so a malformed id is a usage error (exit 2) before any
database or Temporal is asked, and never reaches a visibility query as anything but an
id."""

from __future__ import annotations

from typing import Annotated

import typer
from pydantic import TypeAdapter, ValidationError

from domain.commands import ReferFamily

_CASE_ID: TypeAdapter[str] = TypeAdapter(
    Annotated[str, *ReferFamily.model_fields["case_id"].metadata])


def checked_case_id(value: str) -> str:
    try:
        return _CASE_ID.validate_python(value)
    except ValidationError:
        raise typer.BadParameter("a case id is 1 to 100 letters, digits, '.', '_' or '-'"
                                 ) from None


CaseIdArgument = Annotated[str, typer.Argument(
    metavar="CASE_ID", help="The case id (as in `regie case list`).",
    callback=checked_case_id, show_default=False)]
