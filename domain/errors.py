"""Errors the domain raises. Each message is written for the caseworker who sees it."""

from __future__ import annotations


class DomainError(Exception):
    """A command was refused. `str(error)` says what was wrong and how to fix it."""

    def __init__(self, message: str, *, code: str = "refused") -> None:
        super().__init__(message)
        self.message = message
        self.code = code
