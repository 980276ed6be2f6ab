"""Professionals by name: the read models hold ids only (no personal data), the
directory says who they are."""

from __future__ import annotations

from infra.directory import read_directory
from infra.pgtypes import Conn


async def professional_names(conn: Conn) -> dict[str, str]:
    return {p.id: p.name for p in (await read_directory(conn)).professionals}


def named(names: dict[str, str], professional_id: str | None) -> str:
    """"Fatima El Amrani (pro-1)", or the id where the directory does not know it."""
    if professional_id is None:
        return "-"
    name = names.get(professional_id)
    return f"{name} ({professional_id})" if name else professional_id
