"""What every command needs around its work: settings and policy, the event store, the
Temporal client, the access log, and turning failures into one line and an exit code.

An outage is the operator's everyday trouble, not a bug: the database or Temporal being
away ends the command with one line naming which one (exit 4), never a traceback.
"""

from __future__ import annotations

import asyncio
import getpass
import os
import sys
import uuid
from collections.abc import Coroutine
from typing import Any

from pydantic import ValidationError
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from domain.policy import RegionPolicy
from infra.access_log import Access, Accessor, Outcome, record_access
from infra.database import create_pool, prepare_database
from infra.db_retry import OUTAGE_ERRORS, reason
from infra.event_store import PostgresEventStore, open_event_store
from infra.key_wrapping import key_wrapper_for
from infra.policy_file import PolicyFileError, policy_from_env
from infra.settings import Settings
from infra.temporal import connect
from workers.cli.exit_codes import CliError, ExitCode
from workers.cli.output import fail

# A Temporal frontend that does not answer within this is reported as unreachable; the
# SDK would otherwise keep retrying the connection for much longer.
TEMPORAL_CONNECT_SECONDS = 10.0
_UNAVAILABLE_RPC = (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED)


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as error:
        # Settings hide the input in their errors (secrets); the names are enough.
        names = ", ".join(f"REGIE_{'.'.join(map(str, e['loc'])).upper()}"
                          for e in error.errors())
        raise CliError(f"invalid settings: {names} ({error.errors()[0]['msg']})",
                       ExitCode.USAGE) from None


def load_policy() -> RegionPolicy:
    try:
        return policy_from_env()
    except PolicyFileError as error:
        raise CliError(str(error).replace("\n", "; "), ExitCode.USAGE) from None


async def open_store(settings: Settings) -> tuple[PostgresEventStore, Any]:
    """The event store, migrated; and the embedded server's handle (keep it while the
    store is in use). Like every process at start-up, keys stored raw before key
    wrapping get wrapped."""
    try:
        dsn, server = await prepare_database(settings.database_url, settings.data_dir,
                                             settings.database_name)
        pool = await create_pool(dsn, max_size=2)
        return await open_event_store(pool, key_wrapper_for(settings)), server
    except OUTAGE_ERRORS as error:
        raise database_unavailable(error) from None


def database_unavailable(error: BaseException) -> CliError:
    return CliError(f"the database cannot be reached ({reason(error)})",
                    ExitCode.UNAVAILABLE)


async def temporal_client(settings: Settings) -> Client:
    address = settings.effective_temporal_address
    try:
        return await asyncio.wait_for(connect(settings), TEMPORAL_CONNECT_SECONDS)
    except (RuntimeError, RPCError, OSError, TimeoutError) as error:
        first_line = (str(error).splitlines() or [type(error).__name__])[0][:200]
        raise CliError(f"Temporal cannot be reached at {address} ({first_line})",
                       ExitCode.UNAVAILABLE) from None


def temporal_unavailable(error: RPCError) -> bool:
    return error.status in _UNAVAILABLE_RPC


async def log_access(store: PostgresEventStore, action: str, *, case_id: str | None = None,
                     person_id: str | None = None, outcome: Outcome = Outcome.ALLOWED
                     ) -> None:
    """The operator's reads and erasures are accesses too (NEN 7513), recorded under the
    operating system user who ran the command."""
    async with store.pool.acquire() as conn:
        await record_access(conn, Access(
            accessor=Accessor(kind="cli", id=getpass.getuser()), action=f"cli:{action}",
            outcome=outcome, request_id=uuid.uuid4().hex, case_id=case_id,
            person_id=person_id))


def run(command: Coroutine[Any, Any, int]) -> int:
    """Run one command to its exit code. Expected failures are one line on stderr; a
    closed stdout (`| head`) propagates to `main`, which ends quietly."""
    try:
        return asyncio.run(command)
    except CliError as error:
        return fail(error.message, error.code)
    except BrokenPipeError:
        return pipe_closed()
    except RPCError as error:
        if temporal_unavailable(error):
            return fail(f"Temporal cannot be reached ({error.message[:200]})",
                        ExitCode.UNAVAILABLE)
        return unexpected(error)
    except OUTAGE_ERRORS as error:
        return fail(database_unavailable(error).message, ExitCode.UNAVAILABLE)
    except Exception as error:  # the last line of defence: no traceback
        return unexpected(error)


def pipe_closed() -> int:
    """The reader stopped reading (`regie ... | head`): what it read is what it wanted,
    so this is no error. Whatever is still buffered goes nowhere: pointing stdout at
    /dev/null keeps Python's final flush from reporting the closed pipe."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass  # stdout is no file descriptor (captured in a test): nothing to flush there
    finally:
        os.close(devnull)
    return int(ExitCode.OK)


def unexpected(error: BaseException) -> int:
    """A bug: one line naming the error's kind (its message may quote case data), or the
    whole traceback when the operator asks for it."""
    if os.environ.get("REGIE_CLI_TRACEBACK"):
        import traceback

        traceback.print_exception(error, file=sys.stderr)
    return fail(f"unexpected error ({type(error).__name__}); run again with "
                "REGIE_CLI_TRACEBACK=1 to see where", ExitCode.INTERNAL)
