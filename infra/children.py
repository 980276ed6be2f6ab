"""The stack's child processes: started in their own process group, killed by the kernel
when the launcher dies, stopped with their own signal and a timeout."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass, field

PR_SET_PDEATHSIG = 1
OWNER_ONLY_UMASK = 0o077


def say(message: str) -> None:
    print(f"regie: {message}", flush=True)


# -- child processes -----------------------------------------------------------------------


def _child_setup() -> Callable[[], None]:
    """A preexec_fn: what the child creates is readable by its owner alone, and on Linux
    the kernel kills the child when the launcher dies.

    Owner only (umask 077): Temporal's sqlite file holds every case's history, and the
    data dir holds keys. The kill: without it, a launcher killed with SIGKILL (OOM
    killer, `kill -9`) would leave Temporal holding its ports and the sqlite file, and
    the next start would fail.
    """
    if not sys.platform.startswith("linux"):

        def owner_only_files() -> None:
            os.umask(OWNER_ONLY_UMASK)

        return owner_only_files
    # Loaded here, before fork: dlopen in the child of a threaded process can deadlock.
    libc = ctypes.CDLL(None, use_errno=True)
    parent = os.getpid()

    def setup() -> None:
        os.umask(OWNER_ONLY_UMASK)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        # The launcher may have died between fork and prctl; then no signal will come.
        if os.getppid() != parent:
            os._exit(1)

    return setup


@dataclass
class Child:
    name: str
    process: asyncio.subprocess.Process
    stop_signal: signal.Signals
    stop_timeout: float
    forwarder: asyncio.Task[None] | None = field(default=None)

    @property
    def running(self) -> bool:
        return self.process.returncode is None

    def signal_group(self, sig: signal.Signals) -> None:
        # Only while the leader is unreaped: after that its pid (= the group id) may be
        # reused by an unrelated process.
        if self.running:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, sig)


async def spawn(name: str, argv: list[str], env: dict[str, str], *,
                stop_signal: signal.Signals = signal.SIGTERM, stop_timeout: float = 10.0,
                quiet: Callable[[], bool] | None = None) -> Child:
    """Start `argv` in its own process group.

    Its own group, so a Ctrl-C in the terminal reaches only the launcher, which then stops
    the children in order instead of all of them at once. With `quiet`, output is piped
    through the launcher and dropped while `quiet()` is true (shutdown chatter).
    """
    piped = quiet is not None
    process = await asyncio.create_subprocess_exec(
        *argv,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE if piped else None,
        stderr=asyncio.subprocess.STDOUT if piped else None,
        process_group=0,
        preexec_fn=_child_setup(),
    )
    child = Child(name, process, stop_signal, stop_timeout)
    if quiet is not None and process.stdout is not None:
        child.forwarder = asyncio.create_task(_forward(process.stdout, quiet))
    return child


async def _forward(stream: asyncio.StreamReader, quiet: Callable[[], bool]) -> None:
    while line := await stream.readline():
        if not quiet():
            sys.stderr.buffer.write(line)
            sys.stderr.flush()


async def stop_child(child: Child, force: asyncio.Event) -> None:
    if child.running:
        child.signal_group(child.stop_signal)
        waiter = asyncio.create_task(child.process.wait())
        forced = asyncio.create_task(force.wait())
        await asyncio.wait({waiter, forced}, timeout=child.stop_timeout,
                           return_when=asyncio.FIRST_COMPLETED)
        forced.cancel()
        if child.running:
            say(f"{child.name} did not stop in time; killing it")
            child.signal_group(signal.SIGKILL)
        await waiter
    if child.forwarder is not None:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(child.forwarder, timeout=2)
    say(f"{child.name} stopped")
