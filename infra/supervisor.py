"""Keeps the stack's children running: a child that dies is restarted with backoff
(infra/restart_policy.py), and the restart is said on the terminal.

The supervisor stops only when asked (Ctrl-C, SIGTERM, SIGHUP: the stop event) or when
a child keeps dying (`supervise` then returns the one line that says which and why).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from infra.children import Child, say, spawn, stop_child
from infra.restart_policy import GiveUp, RestartPolicy, decide

# How often `tick` runs (the check that the embedded PostgreSQL still runs).
TICK_SECONDS = 2.0


@dataclass(frozen=True)
class ChildSpec:
    """How to start a child again: what `spawn` was given the first time."""

    name: str
    argv: list[str]
    env: dict[str, str]
    stop_signal: signal.Signals = signal.SIGTERM
    stop_timeout: float = 10.0
    quiet: Callable[[], bool] | None = field(default=None, compare=False)


def describe_exit(code: int | None) -> str:
    if code is not None and code < 0:
        with contextlib.suppress(ValueError):
            return f"was killed by {signal.Signals(-code).name}"
    return f"exited with code {code}"


class Supervisor:
    def __init__(self, policy: RestartPolicy | None = None) -> None:
        self.policy = policy or RestartPolicy()
        self.children: dict[str, Child] = {}
        self._specs: dict[str, ChildSpec] = {}
        self._exits: dict[str, list[float]] = {}

    async def start(self, spec: ChildSpec) -> Child:
        child = await spawn(spec.name, spec.argv, spec.env, stop_signal=spec.stop_signal,
                            stop_timeout=spec.stop_timeout, quiet=spec.quiet)
        self._specs[spec.name] = spec
        self.children[spec.name] = child
        return child

    async def supervise(self, stop: asyncio.Event,
                        tick: Callable[[], Awaitable[None]] | None = None) -> str | None:
        """Until `stop` is set (None) or a child dies too often (why, in one line)."""
        while not stop.is_set():
            waits = {asyncio.create_task(c.process.wait()): name
                     for name, c in self.children.items()}
            stopping = asyncio.create_task(stop.wait())
            done, pending = await asyncio.wait({*waits, stopping}, timeout=TICK_SECONDS,
                                               return_when=asyncio.FIRST_COMPLETED)
            for task in pending:
                task.cancel()
            if stop.is_set():
                return None
            for task in done:
                if task in waits:
                    verdict = await self._restart(waits[task], stop)
                    if verdict is not None:
                        return verdict
            if tick is not None and not stop.is_set():
                await tick()
        return None

    async def _restart(self, name: str, stop: asyncio.Event) -> str | None:
        child = self.children[name]
        how = describe_exit(child.process.returncode)
        if child.forwarder is not None:
            # Its last words first, then ours.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(child.forwarder, timeout=2)
        now = time.monotonic()
        exits = self._exits.setdefault(name, [])
        exits.append(now)
        decision = decide(self.policy, exits, now)
        if isinstance(decision, GiveUp):
            return f"{name} {how}; {decision.reason}: giving up and stopping everything"
        say(f"{name} {how}; restarting it"
            + (f" in {decision.seconds:g} s" if decision.seconds else "")
            + f" (restart {decision.attempt} of {self.policy.max_restarts} within "
            f"{self.policy.window_seconds:g} s)")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=decision.seconds)
        if stop.is_set():
            return None
        await self.start(self._specs[name])
        return None

    async def stop_all(self, order: list[str], force: asyncio.Event) -> None:
        """Stop the children named in `order`, in that order, then any others."""
        names = [n for n in order if n in self.children]
        names += [n for n in self.children if n not in names]
        for name in names:
            await stop_child(self.children[name], force)
