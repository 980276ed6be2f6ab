"""The benchmarks still run against the code they measure, tiny, on the suite's servers.

Benchmarks are not tests of speed, and nothing here looks at a figure: these only catch a
benchmark whose commands, reads or checks no longer work against the code (a refused
command, a changed signature). What they start themselves (their own servers, with the
limits raised) is not covered: it differs from the suite's. `bench.long_life` is not run
here at all: it needs a time-skipping server of its own, whose clock it moves two years.
The figures come from running them as the README says.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from bench import commands, eventstore


async def test_the_command_benchmark_runs(dev_env: WorkflowEnvironment, database_dsn: str,
                                          tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    args = commands.parse_args(["--commands", "2", "--cases", "1", "--concurrency", "1",
                                "--rounds", "1"])
    # Raises if any command is not answered as expected.
    await commands.run(database_dsn, tmp_path, args, dev_env.client)
    printed = capsys.readouterr().out
    for kind in ("gateway", "update", "raw regular", "raw local"):
        assert kind in printed
    assert "target p50" in printed and "target p99" in printed


async def test_the_event_store_benchmark_runs(database_dsn: str,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    args = eventstore.parse_args(["--events", "200", "--cases", "20", "--trials", "1"])
    # Raises if the store and the raw side did not write the same rows, or the rebuild
    # wrote other rows than the per-event overview.
    await eventstore.run(database_dsn, "the suite's", args, tune_gc=False)
    printed = capsys.readouterr().out
    for line in ("envelopes vs raw cursor", "read_all vs raw cursor + json",
                 "read_all personal vs plain", "in memory: typed vs json.loads",
                 "rebuild overview vs raw cursor"):
        assert line in printed
