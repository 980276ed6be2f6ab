"""What `regie` exits with: one meaning per code, so scripts can tell a refusal from an
outage. The same table is in the README and in `regie --help`."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    # A check that found a difference (`case verify`), or a refusal: the operator did
    # not confirm, the input file is invalid, the dev issuer is off.
    FAILED = 1
    # Wrong arguments or options (the code click gives usage errors, kept for ours too).
    USAGE = 2
    # The case, key, person, organisation or professional named does not exist.
    NOT_FOUND = 3
    # The database or Temporal cannot be reached: try again later.
    UNAVAILABLE = 4
    # Anything else: a bug. One line names it; REGIE_CLI_TRACEBACK=1 shows the traceback.
    INTERNAL = 5


EXIT_CODES_HELP = (
    "Exit codes: 0 ok; 1 a check found a difference, or a refusal (not confirmed, invalid "
    "file); 2 usage or configuration error; 3 not found (unknown case, key, person, "
    "organisation); 4 the database or Temporal cannot be reached; 5 unexpected error.")


class CliError(Exception):
    """Ends a command with one line on stderr and its exit code, never a traceback."""

    def __init__(self, message: str, code: ExitCode) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
