"""Errors the domain raises. Each message is written for the caseworker who sees it."""

from __future__ import annotations


class DomainError(Exception):
    """A command was refused. `str(error)` says what was wrong and how to fix it."""

    def __init__(self, message: str, *, code: str = "refused",
                 field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        # The command's field the refusal is about, where it is about one: a form shows
        # the message beside that field.
        self.field = field
