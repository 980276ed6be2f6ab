"""The stack and its embedded PostgreSQL: started again when it died, and never left
behind by a launcher that is killed outright."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import asyncpg

from infra.database import start_embedded_postgres
from infra.settings import Settings
from infra.stack import Stack
from tests.conftest import SUITE_DATA

WAIT = 60.0

# What the stack does when it starts the embedded server, then waits to be killed.
LAUNCHER = """
import sys, time
from pathlib import Path
from infra.database import start_embedded_postgres
from infra.pg_watchdog import start_watchdog
pgdata = Path(sys.argv[1])
server = start_embedded_postgres(pgdata)
start_watchdog(pgdata)
print(server.get_pid(), flush=True)
time.sleep(600)
"""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # run as root, the server runs as a user of its own
    return True


def until_gone(pid: int) -> bool:
    deadline = time.monotonic() + WAIT
    while alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def test_a_sigkilled_launcher_leaves_no_postgres_running() -> None:
    SUITE_DATA.mkdir(parents=True, exist_ok=True)
    data = Path(tempfile.mkdtemp(prefix="watchdog-", dir=SUITE_DATA))
    pgdata = data / "postgres"
    launcher = subprocess.Popen([sys.executable, "-c", LAUNCHER, str(pgdata)],
                                stdout=subprocess.PIPE, text=True)
    postmaster = 0
    try:
        assert launcher.stdout is not None
        postmaster = int(launcher.stdout.readline())
        assert alive(postmaster)
        launcher.kill()
        launcher.wait(WAIT)
        assert until_gone(postmaster), "PostgreSQL outlived its killed launcher"
        assert not (pgdata / "postmaster.pid").exists()  # stopped cleanly, not crashed
    finally:
        launcher.kill()
        if postmaster and alive(postmaster):
            subprocess.call([sys.executable, "-c", "import sys; from pathlib import Path; "
                             "from infra.pg_watchdog import stop_postgres; "
                             "stop_postgres(Path(sys.argv[1]))", str(pgdata)])
        shutil.rmtree(data, ignore_errors=True)



async def test_the_stack_starts_a_postgres_that_died_again(tmp_path: Path) -> None:
    stack = Stack(Settings(data_dir=tmp_path / "data"))
    stack.postgres = start_embedded_postgres(tmp_path / "data" / "postgres",
                                             delete_on_exit=True)
    try:
        first = stack.postgres.get_pid()
        await stack._keep_postgres()  # running: nothing to do
        assert stack.postgres.get_pid() == first
        os.kill(first, signal.SIGKILL)  # the OOM killer's way
        assert await asyncio.to_thread(until_gone, first)
        await stack._keep_postgres()
        assert stack.postgres.get_pid() != first
        conn = await asyncpg.connect(stack.postgres.get_uri())
        try:
            assert await conn.fetchval("SELECT 1") == 1
        finally:
            await conn.close()
    finally:
        stack.postgres.cleanup()
