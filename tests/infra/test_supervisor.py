"""The stack's supervisor against small real child processes: restart, give up, stop."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

from infra.restart_policy import RestartPolicy
from infra.supervisor import ChildSpec, Supervisor

WAIT = 20.0
FAST = RestartPolicy(max_restarts=2, window_seconds=600, initial_backoff_seconds=0.01,
                     max_backoff_seconds=0.05)


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


async def test_a_child_that_keeps_failing_is_restarted_then_given_up_on(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    starts = tmp_path / "starts"
    supervisor = Supervisor(FAST)
    await supervisor.start(ChildSpec("projector", python(
        f"open({str(starts)!r}, 'a').write('x'); import sys; sys.exit(3)"), dict(os.environ)))
    verdict = await asyncio.wait_for(supervisor.supervise(asyncio.Event()), WAIT)
    assert verdict == ("projector exited with code 3; it exited 3 times within 600 s: "
                       "giving up and stopping everything")
    assert starts.read_text() == "xxx"  # the first start and two restarts
    said = capsys.readouterr().out
    assert "regie: projector exited with code 3; restarting it (restart 1 of 2" in said
    assert "regie: projector exited with code 3; restarting it in 0.01 s (restart 2 of 2" \
        in said


async def test_a_killed_child_is_restarted_and_the_stop_request_ends_supervision(
        capsys: pytest.CaptureFixture[str]) -> None:
    supervisor = Supervisor(FAST)
    spec = ChildSpec("worker", python("import time; time.sleep(600)"), dict(os.environ))
    first = await supervisor.start(spec)
    stop = asyncio.Event()
    running = asyncio.create_task(supervisor.supervise(stop))
    os.kill(first.process.pid, signal.SIGKILL)

    async def restarted() -> None:
        while supervisor.children["worker"] is first:  # noqa: ASYNC110
            await asyncio.sleep(0.02)

    await asyncio.wait_for(restarted(), WAIT)
    second = supervisor.children["worker"]
    assert second.running
    stop.set()
    assert await asyncio.wait_for(running, WAIT) is None
    await supervisor.stop_all(["worker"], asyncio.Event())
    assert not second.running
    said = capsys.readouterr().out
    assert "regie: worker was killed by SIGKILL; restarting it (restart 1 of 2" in said
    assert "regie: worker stopped" in said


async def test_a_stop_request_during_the_backoff_restarts_nothing(tmp_path: Path) -> None:
    starts = tmp_path / "starts"
    slow = RestartPolicy(max_restarts=5, initial_backoff_seconds=600,
                         max_backoff_seconds=600)
    supervisor = Supervisor(slow)
    await supervisor.start(ChildSpec("gateway", python(
        f"open({str(starts)!r}, 'a').write('x'); import sys; sys.exit(1)"), dict(os.environ)))
    stop = asyncio.Event()
    running = asyncio.create_task(supervisor.supervise(stop))

    async def started(times: int) -> None:
        while not starts.exists() or len(starts.read_text()) < times:  # noqa: ASYNC110
            await asyncio.sleep(0.02)

    await asyncio.wait_for(started(2), WAIT)  # the first restart is immediate
    await asyncio.sleep(0.3)  # now in the 600 s backoff after the second exit
    stop.set()
    assert await asyncio.wait_for(running, WAIT) is None
    assert starts.read_text() == "xx"
