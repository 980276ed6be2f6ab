"""What a string from outside must be before Regie keeps it: one place for the rule.

PostgreSQL cannot store a NUL character (in `text` nor in `jsonb`), and a lone surrogate
cannot be encoded as UTF-8 at all: either would otherwise pass validation and fail only
when the event is written, as a 500 halfway through a command. Other control characters
and whitespace-only values make no sense in a name or a note, and can hide text from
whoever reads the case or the logs (a carriage return rewriting a log line).

The messages say what is wrong, never the value: the values are names and free text
about children, which do not belong in error answers or logs.
"""

from __future__ import annotations

from collections.abc import Callable

# Tab, newline and carriage return belong in free text (a note of several lines).
_FREE_TEXT_CONTROLS = frozenset("\t\n\r")


def _is_control(char: str) -> bool:
    """C0 controls and DEL (U+007F), which no one types in a name or a note."""
    return char < " " or char == "\x7f"


def storage_problem(value: str) -> str | None:
    """Why PostgreSQL could not hold `value` as text, or None when it can."""
    if "\x00" in value:
        return "contains a NUL character"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid Unicode (a lone surrogate)"
    return None


def free_text_problem(value: str) -> str | None:
    """Why `value` is no free text (a note, a reason, a description), or None."""
    problem = storage_problem(value)
    if problem is not None:
        return problem
    if any(_is_control(c) and c not in _FREE_TEXT_CONTROLS for c in value):
        return "contains a control character (only tab and line breaks are allowed)"
    if value and not value.strip():
        return "is only whitespace"
    return None


def single_line_problem(value: str) -> str | None:
    """Why `value` is no name or id (one line, no control characters at all), or None."""
    problem = storage_problem(value)
    if problem is not None:
        return problem
    if any(_is_control(c) for c in value):
        return "contains a control character"
    if value and not value.strip():
        return "is only whitespace"
    return None


def _checker(problem_of: Callable[[str], str | None]) -> Callable[[str], str]:
    def check(value: str) -> str:
        problem = problem_of(value)
        if problem is not None:
            # Pydantic puts the field's location next to this message.
            raise ValueError(problem)
        return value

    check.__name__ = f"check_{problem_of.__name__}"
    return check


check_storable = _checker(storage_problem)
check_free_text = _checker(free_text_problem)
check_single_line = _checker(single_line_problem)


def find_unstorable(value: object) -> str | None:
    """The problem of the first string in `value` (nested tuples, lists and dicts, keys
    too) that storage could not hold, or None."""
    if isinstance(value, str):
        return storage_problem(value)
    if isinstance(value, (tuple, list, set, frozenset)):
        for item in value:
            problem = find_unstorable(item)
            if problem is not None:
                return problem
    elif isinstance(value, dict):
        for key, item in value.items():
            problem = find_unstorable(key) or find_unstorable(item)
            if problem is not None:
                return problem
    return None
