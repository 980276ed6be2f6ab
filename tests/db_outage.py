"""Cutting a test database off, as a PostgreSQL restart would."""

from __future__ import annotations

import asyncio

import asyncpg


async def terminate_connections(database_dsn: str) -> int:
    """What a PostgreSQL restart does to the sessions of a database: ends every one."""
    conn = await asyncpg.connect(database_dsn)
    try:
        ended: int = await conn.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()")
    finally:
        await conn.close()
    await asyncio.sleep(0.2)  # the clients notice their closed sockets
    return ended
