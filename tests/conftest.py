"""Shared test services: one embedded PostgreSQL and one Temporal test server per session.

Each test gets its own database, copied from a migrated template (fast, and tests never
see each other's events). Set REGIE_TEST_DATABASE_URL to an admin DSN to run against an
external PostgreSQL instead of the embedded one.
"""

from __future__ import annotations

import base64
import os
import shutil
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg

# Imported before any workflow runs: hypothesis's pytest plugin otherwise imports it at
# session end, and CPython 3.11 can then fail to compile it ("AST constructor recursion
# depth mismatch") after the Temporal sandbox has run.
import hypothesis
import pytest
from pydantic import SecretStr
from temporalio.testing import WorkflowEnvironment

from infra.database import (
    create_pool,
    drop_database,
    ensure_database,
    migrate_database,
    start_embedded_postgres,
    with_database,
)
from infra.event_store import PostgresEventStore
from infra.key_wrapping import KeyWrapper
from infra.local_kek import EnvKeyring, Kek
from infra.search_attributes import add_search_attributes, all_search_attributes
from tests.identity_provider import serving_jwks
from tests.payload_keyring import TEST_ONLY_KEY_ID, TEST_ONLY_KEYS_JSON, suite_data_converter
from tests.vault_transit_server import Transit, serving_transit
from workflows.search_attributes import SEARCH_ATTRIBUTES

TEMPLATE_DB = "regie_test_template"


def _binary(name: str) -> str:
    """A binary from the venv, without any download (tests need no network)."""
    found = shutil.which(name) or str(Path(sys.executable).parent / name)
    if not Path(found).exists():
        raise RuntimeError(
            f"{name} not found; run the tests with `python3 infra/bootstrap.py test`")
    return found


# Hypothesis' per-example deadline is a wall-clock assertion: on a shared 2-core machine
# it fails a property for the machine's load, not for the code. Examples stay bounded
# by each test's own max_examples.
hypothesis.settings.register_profile("regie", deadline=None)
hypothesis.settings.load_profile("regie")


# The suite's own directory for its servers' data (git-ignored). Not pytest's temporary
# directories: pytest keeps only the newest few of those and removes older ones, also
# while another test session (another checkout on the same machine) is still using them.
SUITE_DATA = Path(__file__).parent.parent / ".data" / "tests"


@pytest.fixture(scope="session", autouse=True)
def payload_keyring() -> Iterator[None]:
    """Every `Settings()` of the suite (the gateway's codec server, `connect`) has the
    test-only keyring the test servers' clients encrypt with, and none writes a keyring
    file into the checkout's data dir."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("REGIE_PAYLOAD_KEYS", TEST_ONLY_KEYS_JSON)
        patch.setenv("REGIE_PAYLOAD_ACTIVE_KEY", TEST_ONLY_KEY_ID)
        yield


@pytest.fixture(scope="session")
def pg_server() -> Iterator[Any | None]:
    """The session's embedded PostgreSQL (its handle, for the fault tests that stop and
    start it), or None when the suite runs against `REGIE_TEST_DATABASE_URL`."""
    if os.environ.get("REGIE_TEST_DATABASE_URL"):
        yield None
        return
    SUITE_DATA.mkdir(parents=True, exist_ok=True)
    session_dir = Path(tempfile.mkdtemp(prefix="pg-", dir=SUITE_DATA))
    server = start_embedded_postgres(session_dir / "data", delete_on_exit=True)
    yield server
    server.cleanup()
    shutil.rmtree(session_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_admin_dsn(pg_server: Any | None) -> str:
    if pg_server is None:
        return os.environ["REGIE_TEST_DATABASE_URL"]
    return str(pg_server.get_uri())


@pytest.fixture(scope="session")
async def template_db(pg_admin_dsn: str) -> str:
    await drop_database(pg_admin_dsn, TEMPLATE_DB)
    await ensure_database(pg_admin_dsn, TEMPLATE_DB)
    await migrate_database(with_database(pg_admin_dsn, TEMPLATE_DB))
    return TEMPLATE_DB


@pytest.fixture
async def database_dsn(pg_admin_dsn: str, template_db: str) -> AsyncIterator[str]:
    name = f"regie_test_{uuid.uuid4().hex[:12]}"
    await ensure_database(pg_admin_dsn, name, template=template_db)
    yield with_database(pg_admin_dsn, name)
    await drop_database(pg_admin_dsn, name)


@pytest.fixture
async def pool(database_dsn: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(database_dsn, min_size=1, max_size=8)
    yield pool
    await pool.close()


@pytest.fixture
def kek() -> SecretStr:
    """A KEK of this test alone, as `REGIE_KEK` holds it (pass it to `Settings(kek=...)`
    where the code under test builds its own store)."""
    return SecretStr(base64.b64encode(Kek.generate().secret).decode())


@pytest.fixture
def key_wrapper(kek: SecretStr) -> KeyWrapper:
    return EnvKeyring.from_secrets(kek)


@pytest.fixture
def pg_store(pool: asyncpg.Pool, key_wrapper: KeyWrapper) -> PostgresEventStore:
    return PostgresEventStore(pool, key_wrapper=key_wrapper)


@pytest.fixture(scope="session")
async def time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=_binary("temporal-test-server"),
        data_converter=suite_data_converter(),
    )
    # The test server takes no flags for them: registered through its operator service,
    # as a worker does on a cluster (an unknown attribute fails the workflow task).
    await add_search_attributes(env.client, env.client.namespace,
                                all_search_attributes())
    yield env
    await env.shutdown()


@pytest.fixture(scope="session")
async def dev_env() -> AsyncIterator[WorkflowEnvironment]:
    """The Temporal dev server (in memory), for what the time-skipping server lacks."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=_binary("temporal"),
        data_converter=suite_data_converter(),
        ui=False,
        search_attributes=SEARCH_ATTRIBUTES,
    )
    yield env
    await env.shutdown()


@pytest.fixture(scope="session")
def jwks_url() -> Iterator[str]:
    """A stand-in identity provider's JWKS, served on 127.0.0.1 (tests/identity_provider)."""
    with serving_jwks() as url:
        yield url


@pytest.fixture(scope="session")
def vault() -> Iterator[tuple[str, Transit]]:
    """A stand-in for Vault's transit engine on 127.0.0.1 (tests/vault_transit_server)."""
    with serving_transit() as served:
        yield served
