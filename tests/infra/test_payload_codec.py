"""The payload codec and its keyring: payloads round-trip, rotation keeps old payloads
readable, an unknown key id fails clearly, old unencoded payloads pass through, and no
problem message ever shows key material."""

from __future__ import annotations

import base64
import json
import stat
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from pydantic import ValidationError
from temporalio.api.common.v1 import Payload
from temporalio.api.failure.v1 import Failure
from temporalio.exceptions import ApplicationError

from domain.commands import ReferFamily
from infra.payload_codec import (
    ENCODING,
    KEY_ID_METADATA,
    EncryptionCodec,
    PayloadDecryptionError,
    data_converter,
    keyring_for,
)
from infra.payload_keys import (
    Keyring,
    KeyringError,
    UnknownKeyError,
    encode_key,
    keyring_file,
    load_or_create_keyring_file,
    parse_keyring,
)
from infra.settings import Settings
from tests.factories import refer_family

NAME = b"Anna de Vries"


def plain(text: bytes = b'{"name": "Anna de Vries"}') -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=text)


def keys_json(keyring: Keyring) -> str:
    return json.dumps({k: encode_key(v) for k, v in keyring.keys.items()})


def material(keyring: Keyring) -> list[str]:
    """Every way a key of the ring could show up in a message."""
    return [form for key in keyring.keys.values()
            for form in (encode_key(key), key.hex(), repr(key))]


async def test_a_payload_round_trips_and_is_encrypted_with_the_active_key() -> None:
    keyring = Keyring.generate("k-1")
    codec = EncryptionCodec(keyring)
    [encoded] = await codec.encode([plain()])
    assert encoded.metadata["encoding"] == ENCODING
    assert encoded.metadata[KEY_ID_METADATA] == b"k-1"
    assert NAME not in encoded.data and b"json/plain" not in encoded.data
    [decoded] = await codec.decode([encoded])
    assert decoded == plain()
    # A fresh nonce each time: the same payload never encrypts to the same bytes.
    [again] = await codec.encode([plain()])
    assert again.data != encoded.data


async def test_the_data_converter_encrypts_what_the_pydantic_converter_makes() -> None:
    converter = data_converter(Keyring.generate())
    command = refer_family("case-9")
    payloads = await converter.encode([command])
    assert all(p.metadata["encoding"] == ENCODING for p in payloads)
    assert not any(NAME in p.data for p in payloads)
    [back] = await converter.decode(payloads, [ReferFamily])
    assert back == command


async def test_a_failure_message_is_encrypted_too() -> None:
    # A refusal's message may quote what was refused.
    converter = data_converter(Keyring.generate())
    failure = Failure()
    await converter.encode_failure(ApplicationError("Anna de Vries is 17"), failure)
    assert "Anna" not in str(failure)
    decoded = await converter.decode_failure(failure)
    assert str(decoded) == "Anna de Vries is 17"


async def test_after_rotation_old_payloads_still_decode_and_new_ones_use_the_new_key(
) -> None:
    first = Keyring.generate("2026-01")
    [old] = await EncryptionCodec(first).encode([plain()])
    new_key = Keyring.generate("2026-07")
    rotated = Keyring(keys={**first.keys, **new_key.keys}, active="2026-07")
    codec = EncryptionCodec(rotated)
    [new] = await codec.encode([plain()])
    assert new.metadata[KEY_ID_METADATA] == b"2026-07"
    assert await codec.decode([old, new]) == [plain(), plain()]


async def test_an_unknown_key_id_fails_naming_it_and_never_the_keys() -> None:
    [payload] = await EncryptionCodec(Keyring.generate("retired-1")).encode([plain()])
    keyring = Keyring.generate("current-2")
    with pytest.raises(UnknownKeyError) as info:
        await EncryptionCodec(keyring).decode([payload])
    message = str(info.value)
    assert "retired-1" in message and "current-2" in message
    assert not any(form in message for form in material(keyring))


async def test_a_payload_under_another_key_of_the_same_id_or_altered_does_not_decode(
) -> None:
    [payload] = await EncryptionCodec(Keyring.generate("k")).encode([plain()])
    with pytest.raises(PayloadDecryptionError, match="key id k"):
        await EncryptionCodec(Keyring.generate("k")).decode([payload])
    keyring = Keyring.generate("a")
    [payload] = await EncryptionCodec(keyring).encode([plain()])
    altered = Payload(metadata=payload.metadata,
                      data=payload.data[:-1] + bytes([payload.data[-1] ^ 1]))
    with pytest.raises(PayloadDecryptionError):
        await EncryptionCodec(keyring).decode([altered])
    # The key id is authenticated: relabelled, the payload does not decrypt either.
    both = Keyring(keys={**keyring.keys, "b": keyring.keys["a"]}, active="a")
    relabelled = Payload(metadata={**payload.metadata, KEY_ID_METADATA: b"b"},
                         data=payload.data)
    with pytest.raises(PayloadDecryptionError):
        await EncryptionCodec(both).decode([relabelled])


async def test_payloads_from_before_the_codec_pass_through_unchanged() -> None:
    codec = EncryptionCodec(Keyring.generate())
    unencoded = [plain(), Payload(metadata={"encoding": b"binary/null"}), Payload()]
    assert await codec.decode(unencoded) == unencoded


# -- the keyring's settings ------------------------------------------------------------


def problems(keys: str, active: str | None = None) -> list[str]:
    with pytest.raises(KeyringError) as info:
        parse_keyring(keys, active)
    return info.value.problems


def test_each_problem_of_a_keyring_has_its_own_message_without_the_value() -> None:
    short = base64.b64encode(b"x" * 16).decode()
    good = encode_key(b"k" * 32)
    found = problems(json.dumps({"short": short, "bad": "not*base64", "num": 7,
                                 "white space": good, "ok": good}), "missing")
    assert found == [
        "REGIE_PAYLOAD_KEYS: key short: 16 bytes; an AES-256 key is 32 bytes (make one "
        "with `regie payload-key new`)",
        "REGIE_PAYLOAD_KEYS: key bad: not valid base64",
        "REGIE_PAYLOAD_KEYS: key num: the key must be a base64 string",
        "REGIE_PAYLOAD_KEYS: entry 4: a key id is 1 to 64 letters, digits, '.', '_' or '-'",
        "REGIE_PAYLOAD_ACTIVE_KEY: missing is not a key id in REGIE_PAYLOAD_KEYS (it holds "
        "bad, num, ok, short)",
    ]
    assert not any(short in p or good in p for p in found)
    assert problems("{not json") == ["REGIE_PAYLOAD_KEYS: not valid JSON (at character 1); "
                                     "expected an object of key id to base64 key"]
    assert problems("{}")[0].startswith("REGIE_PAYLOAD_KEYS: expected a JSON object")
    two = json.dumps({"a": good, "b": good})
    assert problems(two) == ["REGIE_PAYLOAD_ACTIVE_KEY: not set, and REGIE_PAYLOAD_KEYS "
                             "holds 2 keys; name the one that encrypts new payloads"]
    # A key pasted where the active key id belongs is not echoed.
    assert good not in problems(json.dumps({"a": good}), good)[0]


def test_the_settings_refuse_a_bad_keyring_and_never_show_the_keys() -> None:
    key = encode_key(b"s" * 32)
    with pytest.raises(ValidationError) as info:
        Settings(payload_keys=json.dumps({"k1": key, "k2": key[:-4] + "AA=="}),
                 payload_active_key=None)
    message = str(info.value)
    assert "REGIE_PAYLOAD_KEYS: key k2: 31 bytes" in message
    assert "REGIE_PAYLOAD_ACTIVE_KEY: not set" in message
    assert key not in message and key[:20] not in message
    with pytest.raises(ValidationError, match="REGIE_PAYLOAD_ACTIVE_KEY is set without"):
        Settings(payload_keys=None, payload_active_key="k1")
    settings = Settings(payload_keys=json.dumps({"k1": key, "k2": key}),
                        payload_active_key="k2")
    assert key not in repr(settings) and key not in str(settings.model_dump())
    assert settings.payload_keyring is not None
    assert settings.payload_keyring.active == "k2"
    assert key not in repr(settings.payload_keyring)


def test_the_settings_read_the_keyring_from_the_environment(
        monkeypatch: pytest.MonkeyPatch) -> None:
    keyring = Keyring.generate("env-1")
    monkeypatch.setenv("REGIE_PAYLOAD_KEYS", keys_json(keyring))
    monkeypatch.delenv("REGIE_PAYLOAD_ACTIVE_KEY")
    assert Settings().payload_keyring == keyring


# -- the keyring file of the local stack -------------------------------------------------


def test_without_a_configured_keyring_a_file_is_made_once_for_its_owner_only(
        tmp_path: Path) -> None:
    settings = Settings(payload_keys=None, payload_active_key=None, data_dir=tmp_path / "d")
    first = keyring_for(settings)
    path = keyring_file(settings.data_dir)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(settings.data_dir.stat().st_mode) == 0o700
    assert keyring_for(settings) == first  # reused, not made again
    assert first.active.startswith("local-")
    assert [p.name for p in settings.data_dir.iterdir()] == [path.name]  # no leftovers


def test_processes_that_make_the_keyring_file_at_once_agree_on_it(tmp_path: Path) -> None:
    path = tmp_path / "payload-keys.json"
    start = threading.Barrier(8)

    def make() -> Keyring:
        start.wait()
        return load_or_create_keyring_file(path)

    with ThreadPoolExecutor(max_workers=8) as pool:
        made = list(pool.map(lambda _: make(), range(8)))
    assert all(keyring == made[0] for keyring in made)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["payload-keys.json"]


def test_a_keyring_file_others_can_read_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "payload-keys.json"
    keyring = load_or_create_keyring_file(path)
    path.chmod(0o644)
    with pytest.raises(KeyringError, match="readable by others") as info:
        load_or_create_keyring_file(path)
    assert not any(form in str(info.value) for form in material(keyring))


def test_a_broken_keyring_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "payload-keys.json"
    path.write_text(json.dumps({"active": "x", "keys": {"x": "QUJD"}}))
    path.chmod(0o600)
    with pytest.raises(KeyringError, match=r"payload-keys.json \(keys\): key x: 3 bytes"):
        load_or_create_keyring_file(path)
