"""The local stack keeps its data dir for its owner: Temporal's sqlite file holds every
case's history, and the dir holds the payload keyring and the dev issuer's key."""

from __future__ import annotations

import asyncio
import os
import socket
import stat
from pathlib import Path

import pytest

from infra.children import stop_child
from infra.database import start_embedded_postgres
from infra.settings import Settings
from infra.stack import Stack, http_json, owner_only


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_owner_only_tightens_the_data_dir_and_its_files(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    data.chmod(0o755)
    (data / "temporal.sqlite").write_text("")
    (data / "temporal.sqlite").chmod(0o644)
    (data / "postgres").mkdir(mode=0o700)
    owner_only(data)
    assert mode(data) == 0o700
    assert mode(data / "temporal.sqlite") == 0o600
    owner_only(tmp_path / "new")  # made when missing
    assert mode(tmp_path / "new") == 0o700


def test_as_root_the_embedded_postgresql_user_may_pass_through_the_data_dir(
        tmp_path: Path) -> None:
    """Run as root, embedded_postgres runs the server as its own user, who must reach
    <data dir>/postgres: the dir opens for passing (x), not for listing, and opening
    the server leaves it so (embedded_postgres itself would open it to everyone)."""
    if os.geteuid() != 0:
        pytest.skip("only root makes PostgreSQL run as another user")
    data = tmp_path / "data"
    (data / "postgres").mkdir(parents=True)
    os.chown(data / "postgres", 65534, 65534)  # nobody
    owner_only(data)
    assert mode(data) == 0o711
    server = start_embedded_postgres(tmp_path / "pg" / "data", delete_on_exit=True)
    try:
        assert mode(tmp_path / "pg") == 0o711
    finally:
        server.cleanup()


async def test_the_temporal_dev_server_keeps_its_files_for_their_owner_and_points_the_ui_at_the_codec(  # noqa: E501
        tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    data.chmod(0o755)
    settings = Settings(data_dir=data, temporal_port=free_port(),
                        temporal_ui_port=free_port(), gateway_port=free_port())
    stack = Stack(settings)
    owner_only(stack.data_dir)
    await stack._start_temporal()
    try:
        files = [p for p in data.iterdir() if p.name.startswith("temporal.sqlite")]
        assert files
        assert {p.name: mode(p) for p in files} == {p.name: 0o600 for p in files}
        assert mode(data) == 0o700
        ui = await http_json(f"{stack.ui_url}/api/v1/settings")
        assert ui["Codec"]["Endpoint"] == f"http://127.0.0.1:{settings.gateway_port}/codec"
    finally:
        assert stack.temporal is not None
        stack.stopping = True  # its shutdown chatter is not news
        await stop_child(stack.temporal, asyncio.Event())
