"""KEKs held by Regie's own processes: AES-256-GCM keys from an environment secret
(`REGIE_KEK`, production without Vault) or from a keyring file under the data dir
(the local stack, created on first use).

A wrapped key is `nonce (12 bytes) || AES-GCM ciphertext and tag`, with the subject
binding (`key_wrapping.subject_binding`) as associated data. A KEK's id is derived from
the key itself (a truncated SHA-256 under a fixed label): it names the key without
revealing it, and the same secret keeps the same id whether it sits in a file or in the
environment.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import SecretStr

from infra.kek_secrets import kek_bytes
from infra.key_wrapping import KEY_BYTES, KeyUnwrapError, WrappedKey, subject_binding

_NONCE_BYTES = 12


@dataclass(frozen=True)
class Kek:
    """One local KEK. Its bytes are never part of its repr."""

    secret: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.secret) != KEY_BYTES:
            raise ValueError(f"a KEK is {KEY_BYTES} bytes")

    @property
    def id(self) -> str:
        return "local:" + hashlib.sha256(b"regie/kek-id/v1\x00" + self.secret).hexdigest()[:16]

    @staticmethod
    def generate() -> Kek:
        return Kek(AESGCM.generate_key(bit_length=8 * KEY_BYTES))


def wrap_with(kek: Kek, subject_id: str, key: bytes) -> WrappedKey:
    if len(key) != KEY_BYTES:
        raise ValueError(f"a person key is {KEY_BYTES} bytes")
    nonce = os.urandom(_NONCE_BYTES)
    return WrappedKey(kek.id, nonce + AESGCM(kek.secret).encrypt(
        nonce, key, subject_binding(subject_id)))


def unwrap_with(kek: Kek | None, subject_id: str, wrapped: WrappedKey) -> bytes:
    if kek is None:
        raise KeyUnwrapError(f"KEK {wrapped.kek_id} is not known here (destroyed after a "
                             "rotation, or another keyring)")
    nonce, ciphertext = wrapped.ciphertext[:_NONCE_BYTES], wrapped.ciphertext[_NONCE_BYTES:]
    try:
        return AESGCM(kek.secret).decrypt(nonce, ciphertext, subject_binding(subject_id))
    except InvalidTag:
        raise KeyUnwrapError(f"the key wrapped under {wrapped.kek_id} does not open for "
                             f"subject {subject_id!r}") from None


# -- the environment secret -----------------------------------------------------------------

class EnvKeyring:
    """The KEK in `REGIE_KEK`; `REGIE_KEK_PREVIOUS` holds older ones, for unwrapping
    only, while `regie keys rotate-kek` moves every key to the new one.

    Rotating means: give every process the new secret in `REGIE_KEK` and the old one in
    `REGIE_KEK_PREVIOUS`, restart them, run `rotate-kek`, then drop the old secret from
    the environment (and from wherever it is kept) and restart again. Regie cannot
    destroy an environment variable itself.
    """

    # Unwrapping never waits for I/O (infra/subject_keys.py: no task per key).
    unwraps_locally: ClassVar[bool] = True

    def __init__(self, current: Kek, previous: Sequence[Kek] = ()) -> None:
        self._current = current
        self._keks = {k.id: k for k in (*previous, current)}

    @staticmethod
    def from_secrets(current: SecretStr, previous: SecretStr | None = None) -> EnvKeyring:
        (kek,) = kek_bytes(current.get_secret_value(), "REGIE_KEK")
        older = [] if previous is None else kek_bytes(previous.get_secret_value(),
                                                      "REGIE_KEK_PREVIOUS")
        return EnvKeyring(Kek(kek), [Kek(k) for k in older])

    @property
    def current(self) -> Kek:
        return self._current

    async def wrap(self, subject_id: str, key: bytes) -> WrappedKey:
        return wrap_with(self._current, subject_id, key)

    async def unwrap(self, subject_id: str, wrapped: WrappedKey) -> bytes:
        return unwrap_with(self._keks.get(wrapped.kek_id), subject_id, wrapped)

    async def rotate(self) -> str:
        # The new KEK is the one the operator put in REGIE_KEK.
        return self._current.id

    async def destroy_all_but(self, kek_id: str) -> list[str]:
        raise NotImplementedError(
            "a KEK in the environment is destroyed by removing it: drop REGIE_KEK_PREVIOUS "
            "from every process's environment and from the secret store, then restart")

    def describe(self) -> str:
        return "REGIE_KEK (environment secret)"

    async def aclose(self) -> None:
        return None


# -- the keyring file (local stack) ---------------------------------------------------------

class FileKeyring:
    """KEKs in a JSON file readable by its owner only: `{"current": id, "keks": {id:
    base64}}`. Created on first use; `rotate` adds a KEK and makes it current,
    `destroy_all_but` rewrites the file without the others.

    Every process re-reads the file when it changed (checked on each call, one stat), so
    a rotation or destruction by `regie keys rotate-kek` reaches the running worker
    without a restart: after a rotation it wraps under the new KEK, and once the old KEK
    is destroyed nothing here can unwrap under it any more.
    """

    # Unwrapping never waits for I/O (infra/subject_keys.py: no task per key).
    unwraps_locally: ClassVar[bool] = True

    def __init__(self, path: Path) -> None:
        self._path = path
        self._seen: tuple[int, int, int] | None = None
        self._current: Kek | None = None
        self._keks: dict[str, Kek] = {}

    @property
    def path(self) -> Path:
        return self._path

    async def wrap(self, subject_id: str, key: bytes) -> WrappedKey:
        current, _ = self._load()
        return wrap_with(current, subject_id, key)

    async def unwrap(self, subject_id: str, wrapped: WrappedKey) -> bytes:
        _, keks = self._load()
        return unwrap_with(keks.get(wrapped.kek_id), subject_id, wrapped)

    async def rotate(self) -> str:
        with self._locked():
            _, keks = self._load()
            new = Kek.generate()
            self._write({**keks, new.id: new}, new)
        return new.id

    async def destroy_all_but(self, kek_id: str) -> list[str]:
        with self._locked():
            _, keks = self._load()
            if kek_id not in keks:
                raise KeyUnwrapError(f"KEK {kek_id} is not in {self._path.name}")
            self._write({kek_id: keks[kek_id]}, keks[kek_id])
        return sorted(k for k in keks if k != kek_id)

    def describe(self) -> str:
        return f"keyring file {self._path}"

    async def aclose(self) -> None:
        return None

    def _load(self) -> tuple[Kek, dict[str, Kek]]:
        try:
            stat = self._path.stat()
        except FileNotFoundError:
            self._create()
            stat = self._path.stat()
        seen = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        if seen != self._seen or self._current is None:
            document: Any = json.loads(self._path.read_text())
            keks = {kid: Kek(base64.b64decode(b64)) for kid, b64 in document["keks"].items()}
            if any(kek.id != kid for kid, kek in keks.items()) \
                    or document["current"] not in keks:
                raise KeyUnwrapError(f"{self._path} is damaged: a KEK does not match its id")
            self._keks, self._current, self._seen = keks, keks[document["current"]], seen
        return self._current, self._keks

    def _create(self) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        # Written in full to a private temporary file, then linked into place: link()
        # fails if the name exists (like O_EXCL), so when several processes start at once
        # exactly one KEK wins, and no process ever reads a half-written file.
        kek = Kek.generate()
        with self._temporary(self._document({kek.id: kek}, kek)) as temporary, \
                contextlib.suppress(FileExistsError):
            os.link(temporary, self._path)
            _sync_directory(self._path.parent)

    def _write(self, keks: dict[str, Kek], current: Kek) -> None:
        with self._temporary(self._document(keks, current)) as temporary:
            os.replace(temporary, self._path)
            _sync_directory(self._path.parent)
        self._seen = None

    @staticmethod
    def _document(keks: dict[str, Kek], current: Kek) -> bytes:
        return json.dumps({"current": current.id, "keks": {
            kid: base64.b64encode(k.secret).decode() for kid, k in keks.items()}},
            indent=1).encode()

    @contextlib.contextmanager
    def _temporary(self, content: bytes) -> Iterator[Path]:
        temporary = self._path.with_name(
            f".{self._path.name}.{os.getpid()}.{os.urandom(4).hex()}")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(content)
                file.flush()
                os.fsync(file.fileno())
            yield temporary
        finally:
            with contextlib.suppress(FileNotFoundError):
                temporary.unlink()

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """One rotation at a time: read, change and replace the file under a lock."""
        self._load()  # creates the file (and its directory) if needed
        lock = os.open(self._path.with_name(self._path.name + ".lock"),
                       os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)
            self._seen = None  # re-read under the lock
            yield
        finally:
            os.close(lock)


def _sync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
