from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest

from infra.migrations import load_migrations, migrate


async def test_migrations_are_recorded_and_a_second_run_is_a_no_op(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        applied = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}
        assert applied == {m.version for m in load_migrations()}
        assert await migrate(conn) == []
        assert await migrate(conn) == []


def test_badly_named_migration_is_refused(tmp_path: Path) -> None:
    (tmp_path / "first.sql").write_text("SELECT 1")
    with pytest.raises(ValueError, match=r"NNNN_snake_name\.sql"):
        load_migrations(tmp_path)
