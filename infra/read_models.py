"""What the read models share: the case an event belongs to, and writing a batch's rows
in one statement.

A projection folds its batch in memory (rows loaded once for the keys the batch
touches) and writes the result with one `INSERT ... SELECT FROM unnest(...) ON CONFLICT
DO UPDATE` per table: no round trip per event, whatever the batch size.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from domain.events import RecordedEvent
from domain.trajectory import case_id_of_stream
from infra.pgtypes import Conn


def case_id_of(event: RecordedEvent) -> str:
    """The case whose trajectory stream holds `event`."""
    return case_id_of_stream(event.stream_id)


@dataclass(frozen=True)
class Column:
    name: str
    pg_type: str  # the element type of the array it travels in, e.g. "timestamptz"
    # How the value is read out of its array, e.g. "{}::jsonb" for JSON sent as text.
    cast: str = "{}"


async def upsert_rows(conn: Conn, table: str, key: Sequence[str], columns: Sequence[Column],
                      rows: Sequence[Sequence[object]]) -> None:
    """Insert or replace `rows` (tuples in the order of `columns`) in one statement.

    `table` and the column names are the code's own constants, never input."""
    if not rows:
        return
    names = [c.name for c in columns]
    arrays = ", ".join(f"${i + 1}::{c.pg_type}[]" for i, c in enumerate(columns))
    aliases = ", ".join(f"c{i}" for i in range(len(columns)))
    selected = ", ".join(c.cast.format(f"c{i}") for i, c in enumerate(columns))
    updates = ", ".join(f"{n} = EXCLUDED.{n}" for n in names if n not in key)
    conflict = f"DO UPDATE SET {updates}" if updates else "DO NOTHING"
    sql = (f"INSERT INTO {table} ({', '.join(names)}) "
           f"SELECT {selected} FROM unnest({arrays}) AS u({aliases}) "
           f"ON CONFLICT ({', '.join(key)}) {conflict}")
    await conn.execute(sql, *([row[i] for row in rows] for i in range(len(columns))))
