"""The keyring of the Temporal payload codec (`infra.payload_codec`): AES-256 keys by key
id, and the one that encrypts new payloads.

Every payload carries the id of the key that encrypted it, so keys can be rotated: add a
new key, make it the active one, and keep the old ones for as long as histories that
they encrypted may still be read (running cases, their replays, the Web UI).

Production sets `REGIE_PAYLOAD_KEYS` (a JSON object of key id to base64 key) and
`REGIE_PAYLOAD_ACTIVE_KEY`, the same on every worker and gateway. Unset, as on the local
stack, the keyring is a file under the data dir, made on first use.

Nothing here ever prints key material: problems name the variable or file and the key id.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from infra.local_secrets import create_once

KEY_BYTES = 32  # AES-256
KEYRING_FILE = "payload-keys.json"
KEYS_VARIABLE = "REGIE_PAYLOAD_KEYS"
ACTIVE_VARIABLE = "REGIE_PAYLOAD_ACTIVE_KEY"
# Key ids travel in every payload's metadata and in error messages: short and plain. A
# base64 key (44 characters ending in '=') never matches, so a key pasted where an id
# belongs is never echoed.
_KEY_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class KeyringError(ValueError):
    """The keyring's settings or file are wrong: one message per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class UnknownKeyError(LookupError):
    """A payload names a key id that this keyring does not hold."""


@dataclass(frozen=True)
class Keyring:
    """AES-256 keys by key id, and the id of the key that encrypts new payloads."""

    keys: Mapping[str, bytes] = field(repr=False)
    active: str

    def __post_init__(self) -> None:
        if not all(_KEY_ID.match(key_id) for key_id in self.keys):
            raise ValueError("a key id is 1 to 64 letters, digits, '.', '_' or '-'")
        if self.active not in self.keys:
            raise ValueError("the active key id is not in the keyring")
        if any(len(key) != KEY_BYTES for key in self.keys.values()):
            raise ValueError(f"every key must be {KEY_BYTES} bytes")
        object.__setattr__(self, "keys", MappingProxyType(dict(self.keys)))

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(sorted(self.keys))

    def key(self, key_id: str) -> bytes:
        try:
            return self.keys[key_id]
        except KeyError:
            shown = key_id if _KEY_ID.match(key_id) else "(not a valid key id)"
            raise UnknownKeyError(
                f"the payload was encrypted with key id {shown}, which is not in this "
                f"keyring (it holds {', '.join(self.ids)}): add that key to "
                f"{KEYS_VARIABLE}; keys that encrypted stored payloads must stay in the "
                "keyring") from None

    @classmethod
    def generate(cls, key_id: str | None = None) -> Keyring:
        """One fresh key. The default id is unique, so two processes that each made
        their own keyring by mistake fail with an unknown key id, not a bad tag."""
        key_id = key_id or f"local-{secrets.token_hex(4)}"
        return cls(keys={key_id: secrets.token_bytes(KEY_BYTES)}, active=key_id)


def encode_key(key: bytes) -> str:
    return base64.b64encode(key).decode("ascii")


def parse_keyring(keys: Any, active: str | None, *, keys_name: str = KEYS_VARIABLE,
                  active_name: str = ACTIVE_VARIABLE) -> Keyring:
    """The keyring from its settings: `keys` the JSON text (or its parsed object) of key
    id to base64 key, `active` the id of the key that encrypts. Raises `KeyringError`
    with every problem found."""
    if isinstance(keys, str):
        try:
            keys = json.loads(keys)
        except json.JSONDecodeError as error:
            # The position only: the message of a JSON error can quote the text.
            raise KeyringError([f"{keys_name}: not valid JSON (at character {error.pos}); "
                                "expected an object of key id to base64 key"]) from None
    if not isinstance(keys, dict) or not keys:
        raise KeyringError([f"{keys_name}: expected a JSON object of key id to base64 "
                            f"{KEY_BYTES}-byte key, with at least one key"])
    problems: list[str] = []
    decoded: dict[str, bytes] = {}
    for number, (key_id, value) in enumerate(keys.items(), start=1):
        if not _KEY_ID.match(key_id):
            problems.append(f"{keys_name}: entry {number}: a key id is 1 to 64 letters, "
                            "digits, '.', '_' or '-'")
            continue
        if not isinstance(value, str):
            problems.append(f"{keys_name}: key {key_id}: the key must be a base64 string")
            continue
        try:
            key = base64.b64decode(value.strip(), validate=True)
        except (binascii.Error, ValueError):
            problems.append(f"{keys_name}: key {key_id}: not valid base64")
            continue
        if len(key) != KEY_BYTES:
            problems.append(f"{keys_name}: key {key_id}: {len(key)} bytes; an AES-256 key "
                            f"is {KEY_BYTES} bytes (make one with `regie payload-key new`)")
            continue
        decoded[key_id] = key
    if active is None:
        if len(keys) > 1:
            problems.append(f"{active_name}: not set, and {keys_name} holds {len(keys)} "
                            "keys; name the one that encrypts new payloads")
        else:
            active = next(iter(keys))
    elif active not in keys:
        shown = active if _KEY_ID.match(active) else "(not a valid key id)"
        problems.append(f"{active_name}: {shown} is not a key id in {keys_name} (it holds "
                        f"{', '.join(sorted(k for k in keys if _KEY_ID.match(k)))})")
    if problems:
        raise KeyringError(problems)
    assert active is not None
    return Keyring(keys=decoded, active=active)


# -- the keyring file of the local stack -----------------------------------------------


def keyring_file(data_dir: Path) -> Path:
    return data_dir / KEYRING_FILE


def load_or_create_keyring_file(path: Path) -> Keyring:
    """The keyring in `path`, made first when there is none (mode 0600).

    The worker, the gateway and the stack launcher may all get here at once: each writes
    a complete candidate to a file of its own (O_EXCL) and links it to `path`, which only
    the first one manages; everyone then reads that one. So no reader sees a half-written
    file, and all agree on the key.
    """
    if not path.exists():
        _create(path)
    return read_keyring_file(path)


def _create(path: Path) -> None:
    keyring = Keyring.generate()
    content = json.dumps({"active": keyring.active,
                          "keys": {k: encode_key(v) for k, v in keyring.keys.items()}},
                         indent=2) + "\n"
    # When another process got there first, theirs is the keyring.
    create_once(path, content.encode())


def read_keyring_file(path: Path) -> Keyring:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise KeyringError([f"{path}: readable by others (mode {mode:04o}); it holds the "
                            f"payload keys: chmod 600 {path}"])
    try:
        content = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise KeyringError([f"{path}: not valid JSON"]) from None
    if not isinstance(content, dict):
        raise KeyringError([f"{path}: expected an object with 'active' and 'keys'"])
    active = content.get("active")
    return parse_keyring(content.get("keys"), active if isinstance(active, str) else None,
                         keys_name=f"{path} (keys)", active_name=f"{path} (active)")
