"""The key-wrapping contract: every KEK keeper (keyring file, environment secret, Vault
transit) must pass all of it."""

from __future__ import annotations

import asyncio
import base64
import os
import stat
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from infra.key_wrapping import (
    KekUnavailableError,
    KeyUnwrapError,
    WrappedKey,
    key_wrapper_for,
)
from infra.local_kek import EnvKeyring, FileKeyring, Kek
from infra.personal_data import new_key
from infra.settings import Settings
from infra.vault_transit import VaultTransit
from tests.key_keepers import KINDS, Keeper, new_wrapper
from tests.vault_transit_server import TOKEN, Transit


@pytest.fixture(params=KINDS)
async def keeper(request: pytest.FixtureRequest, tmp_path: Path,
                 vault: tuple[str, Transit]) -> AsyncIterator[Keeper]:
    keeper = Keeper(request.param, new_wrapper(request.param, tmp_path, vault[0]))
    yield keeper
    await keeper.wrapper.aclose()


async def test_a_wrapped_key_unwraps_for_its_subject_only(keeper: Keeper) -> None:
    key = new_key()
    wrapped = await keeper.wrapper.wrap("p-1", key)

    assert key not in wrapped.ciphertext
    assert wrapped.kek_id
    assert await keeper.wrapper.unwrap("p-1", wrapped) == key
    # Copied to another subject's row, it does not open.
    with pytest.raises(KeyUnwrapError):
        await keeper.wrapper.unwrap("p-2", wrapped)
    # Nor when tampered with, nor when recorded under another KEK id.
    flipped = bytes([wrapped.ciphertext[-1] ^ 1])
    with pytest.raises(KeyUnwrapError):
        await keeper.wrapper.unwrap("p-1", WrappedKey(
            wrapped.kek_id, wrapped.ciphertext[:-1] + flipped))
    with pytest.raises(KeyUnwrapError):
        await keeper.wrapper.unwrap("p-1", WrappedKey(wrapped.kek_id + "0",
                                                      wrapped.ciphertext))
    # Each wrap is fresh: the same key wrapped twice does not give the same bytes.
    assert (await keeper.wrapper.wrap("p-1", key)).ciphertext != wrapped.ciphertext


async def test_after_a_rotation_keys_go_under_the_new_kek_and_old_ones_still_unwrap(
    keeper: Keeper,
) -> None:
    key = new_key()
    before = await keeper.wrapper.wrap("p-1", key)

    new_id = await keeper.rotate()

    assert new_id != before.kek_id
    after = await keeper.wrapper.wrap("p-1", key)
    assert after.kek_id == new_id
    assert await keeper.wrapper.unwrap("p-1", before) == key
    assert await keeper.wrapper.unwrap("p-1", after) == key


async def test_a_destroyed_kek_unwraps_nothing_any_more(keeper: Keeper) -> None:
    key = new_key()
    # What a WAL archive or a base backup keeps of a person's key row.
    from_a_backup = await keeper.wrapper.wrap("p-1", key)
    new_id = await keeper.rotate()
    live = await keeper.wrapper.wrap("p-1", await keeper.wrapper.unwrap("p-1", from_a_backup))

    await keeper.destroy_all_but(new_id)

    for wrapper in (keeper.wrapper, keeper.fresh()):
        with pytest.raises(KeyUnwrapError):
            await wrapper.unwrap("p-1", from_a_backup)
        assert await wrapper.unwrap("p-1", live) == key


async def test_vault_out_of_reach_or_refusing_is_not_a_failed_unwrap(
    vault: tuple[str, Transit],
) -> None:
    url, _ = vault
    good = VaultTransit(url, SecretStr(TOKEN), key_name="regie-reach")
    wrapped = await good.wrap("p-1", new_key())
    # A wrong token, or no Vault at all, must never read like a destroyed key (which the
    # store would otherwise be tempted to show as erased).
    for wrapper in (VaultTransit(url, SecretStr("hvs.wrong"), key_name="regie-reach"),
                    VaultTransit("http://127.0.0.1:9", SecretStr(TOKEN),
                                 key_name="regie-reach", timeout=2)):
        with pytest.raises(KekUnavailableError) as raised:
            await wrapper.unwrap("p-1", wrapped)
        assert TOKEN not in str(raised.value) and "hvs.wrong" not in str(raised.value)
        await wrapper.aclose()
    await good.aclose()


async def test_the_keyring_file_is_made_once_for_processes_starting_together(
    tmp_path: Path,
) -> None:
    path = tmp_path / "kek" / "keyring.json"

    def first_use(_: int) -> str:
        # A new FileKeyring per thread: as separate processes, each with its own cache.
        return asyncio.run(FileKeyring(path).wrap("p-1", new_key())).kek_id

    with ThreadPoolExecutor(max_workers=8) as pool:
        ids = set(pool.map(first_use, range(16)))

    assert len(ids) == 1
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir() if p.name.startswith(".")] == []


async def test_a_running_process_sees_a_rotation_and_a_destruction_by_another(
    tmp_path: Path,
) -> None:
    path = tmp_path / "keyring.json"
    worker, operator = FileKeyring(path), FileKeyring(path)
    key = new_key()
    old = await worker.wrap("p-1", key)

    new_id = await operator.rotate()
    assert (await worker.wrap("p-1", key)).kek_id == new_id  # no restart needed
    await operator.destroy_all_but(new_id)

    with pytest.raises(KeyUnwrapError):
        await worker.unwrap("p-1", old)  # it held the old KEK in memory: not any more


def test_secrets_never_show(tmp_path: Path) -> None:
    secret = base64.b64encode(os.urandom(32)).decode()
    settings = Settings(kek=secret, kek_previous=base64.b64encode(os.urandom(32)).decode(),
                        data_dir=tmp_path)
    keyring = key_wrapper_for(settings)
    vault_settings = Settings(vault_addr="https://vault.example.nl:8200",
                              vault_token=TOKEN)
    shown = " ".join((repr(settings), str(settings), settings.model_dump_json(),
                      repr(keyring), keyring.describe(), repr(Kek.generate()),
                      repr(vault_settings), key_wrapper_for(vault_settings).describe()))
    assert secret not in shown and secret[:12] not in shown
    assert TOKEN not in shown
    assert isinstance(keyring, EnvKeyring)

    with pytest.raises(ValidationError) as invalid:
        Settings(kek="bm90LWEta2V5")  # base64, but not 32 bytes
    assert "REGIE_KEK" in str(invalid.value) and "bm90LWEta2V5" not in str(invalid.value)
    with pytest.raises(ValidationError, match="REGIE_VAULT_TOKEN"):
        Settings(vault_addr="https://vault.example.nl:8200")
    with pytest.raises(ValidationError, match="set one"):
        Settings(vault_addr="https://vault.example.nl:8200", vault_token=TOKEN, kek=secret)


def test_the_settings_choose_the_keeper(tmp_path: Path) -> None:
    assert isinstance(key_wrapper_for(Settings(data_dir=tmp_path)), FileKeyring)
    assert not (tmp_path / "kek").exists()  # made on first use, not on choosing
    kek = base64.b64encode(os.urandom(32)).decode()
    assert isinstance(key_wrapper_for(Settings(kek=kek)), EnvKeyring)
    assert isinstance(key_wrapper_for(Settings(vault_addr="http://127.0.0.1:8200",
                                               vault_token=TOKEN)), VaultTransit)
