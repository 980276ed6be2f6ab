"""How `regie` writes: tables and lines for people on stdout, JSON for scripts, one line
per error on stderr, and everything that came from data made harmless first.

Case data may be hostile (a partner's free text, a name typed with escape sequences):
written to a terminal as is, a control character could move the cursor, recolour the
screen or hide text, and a bidi override could reverse what an operator reads. So every
value passes `plain` (control and bidi characters written as escapes) and, where it goes
into rich markup, rich's own `escape`; JSON is written ASCII-only, so a C1 control
character there is an escape too.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta
from typing import IO, Any

from pydantic import BaseModel
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from domain.local_time import zone
from workers.cli.exit_codes import ExitCode

# Bidirectional formatting characters (Unicode category Cf): they reorder what follows
# them on screen, the "Trojan Source" trick. The rest of Cf (soft hyphen, joiners in
# names and emoji) stays.
_BIDI = frozenset({0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)})
# Where stdout is not a terminal (a file, a pipe), rich would assume 80 columns and
# fold every table; a wider page keeps one row on one line for grep and head.
_PIPE_WIDTH = 160


def plain(value: object) -> str:
    """`value` as text with control characters (newlines and tabs too: one entry stays
    one line) and bidi overrides written as visible escapes such as `\\x1b`."""
    text = str(value)
    if text.isprintable() and not any(ord(c) in _BIDI for c in text):
        return text
    out: list[str] = []
    for char in text:
        code = ord(char)
        if unicodedata.category(char) == "Cc" or code in _BIDI:
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(char)
    return "".join(out)


def markup(value: object) -> str:
    """`value` made safe to put inside a rich markup string."""
    return escape(plain(value))


def cell(value: object, style: str = "") -> Text:
    """`value` as a table cell: never parsed as markup, control characters escaped."""
    return Text(plain("-" if value is None else value), style=style)


def _console(file: IO[str]) -> Console:
    tty = file.isatty()
    width = None if tty or "COLUMNS" in os.environ else _PIPE_WIDTH
    return Console(file=file, highlight=False, emoji=False, soft_wrap=False, width=width)


def out() -> Console:
    """A console on the current stdout (looked up each time: tests capture it)."""
    return _console(sys.stdout)


def show(*renderables: Any) -> None:
    console = out()
    for renderable in renderables:
        console.print(renderable)


def line(text: str) -> None:
    """One line of markup (values in it went through `markup`)."""
    out().print(text, overflow="fold")


def link(text: str) -> None:
    """A line that is never wrapped (a URL stays whole, so the terminal can open it)."""
    out().print(cell(text), soft_wrap=True)


def table(*columns: str, title: str | None = None) -> Table:
    """A table whose cells fold rather than cut or break a long name."""
    grid = Table(title=title, title_justify="left", header_style="bold", expand=False)
    for column in columns:
        grid.add_column(column, overflow="fold")
    return grid


def note(message: str) -> None:
    """A remark for the person on stderr (so stdout stays data): "no cases yet"."""
    sys.stderr.write(plain(message) + "\n")


def fail(message: str, code: ExitCode) -> int:
    """One clear line on stderr; the exit code to return."""
    note(message)
    return int(code)


def to_json(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    raise TypeError(f"not JSON: {type(value).__name__}")


def emit_json(value: Any) -> None:
    """One JSON document on one line (JSON Lines for lists of things)."""
    sys.stdout.write(json.dumps(value, ensure_ascii=True, default=to_json) + "\n")


@contextmanager
def progress(description: str, total: int | None) -> Iterator[tuple[Progress, TaskID]]:
    """A progress bar on stderr, shown only at a terminal (stdout stays data)."""
    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TaskProgressColumn(), TimeRemainingColumn(),
                   console=_console(sys.stderr), disable=not sys.stderr.isatty(),
                   transient=True)
    with bar:
        yield bar, bar.add_task(description, total=total)


# -- times for people: the region's clock, day before month --------------------------


def local(instant: datetime, time_zone: str) -> datetime:
    return instant.astimezone(zone(time_zone))


def due_day(deadline: datetime, time_zone: str) -> date:
    """The day a deadline is "by". A date-only deadline passes when its day is over, at
    local midnight (`domain.deadlines.end_of_day`): that instant is shown as the day it
    ends ("due 21 Dec"), not the day it begins."""
    at = local(deadline, time_zone)
    return at.date() - timedelta(days=1) if at.time() == time.min else at.date()


def day_text(day: date) -> str:
    """"Wed 30 Dec 2026": English words (like the rest of `regie`), Dutch order."""
    return f"{day:%a} {day.day} {day:%b %Y}"


def short_day_text(day: date) -> str:
    return f"{day.day} {day:%b}"


def when_text(instant: datetime, time_zone: str, *, seconds: bool = False) -> str:
    """"22 Dec 2026 14:05" in the region's clock (Amsterdam by default); with the
    seconds where they tell entries apart (the access log)."""
    at = local(instant, time_zone)
    return f"{at.day} {at:%b %Y %H:%M:%S}" if seconds else f"{at.day} {at:%b %Y %H:%M}"
