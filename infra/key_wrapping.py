"""Envelope encryption of the person keys: each subject's AES-256-GCM key is stored only
wrapped (encrypted) under a key-encryption key (KEK) that is not in PostgreSQL.

A copy of `subject_keys` (a base backup, an archived WAL segment, a dump) then holds no
usable key: a wrapped key opens only while its KEK exists. Rotating the KEK and
destroying the old one (`regie keys rotate-kek --destroy-old`) is what finally ends an
erased person's key in those copies.

Implementations: `infra/local_kek.py` (a KEK from `REGIE_KEK`, or a keyring file under
the data dir on the local stack) and `infra/vault_transit.py` (HashiCorp Vault's transit
engine). `tests/infra/test_key_wrapping_contract.py` holds them all to one contract.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from infra.settings import Settings

KEY_BYTES = 32  # AES-256: the person keys and the local KEKs


class KeyWrappingError(Exception):
    """Base of the key-wrapping errors. Messages never contain key material."""


class KeyUnwrapError(KeyWrappingError):
    """The wrapped key does not open: its KEK is unknown here or destroyed, or it was
    wrapped for another subject. Not the same as erased: the caller must not read this
    as "erased", because the person's data may well still be wanted."""


class KekUnavailableError(KeyWrappingError):
    """The KEK's keeper (Vault) cannot be reached or refused the call; try again later."""


@dataclass(frozen=True)
class WrappedKey:
    """A person key encrypted under the KEK `kek_id`, bound to its subject id."""

    kek_id: str
    ciphertext: bytes = b""

    def __repr__(self) -> str:
        # Wrapped bytes are not secret on their own, but they have no place in logs.
        return f"WrappedKey(kek_id={self.kek_id!r})"


def subject_binding(subject_id: str) -> bytes:
    """The associated data every wrapper authenticates with a subject's key: a wrapped
    key copied to another subject's row does not unwrap there."""
    return b"regie/subject-key/v1\x00" + subject_id.encode()


class KeyWrapper(Protocol):
    async def wrap(self, subject_id: str, key: bytes) -> WrappedKey:
        """`key` encrypted under the current KEK, bound to `subject_id`."""
        ...

    async def unwrap(self, subject_id: str, wrapped: WrappedKey) -> bytes:
        """The key; `KeyUnwrapError` if it does not open for this subject."""
        ...


class RotatableKeyWrapper(KeyWrapper, Protocol):
    async def rotate(self) -> str:
        """Make a new KEK the current one (the one `wrap` uses); return its id. Older
        KEKs still unwrap until `destroy_all_but` removes them."""
        ...

    async def destroy_all_but(self, kek_id: str) -> list[str]:
        """Destroy every KEK but `kek_id`; return the ids destroyed. Whatever was
        wrapped under them, wherever a copy of it survives, no longer unwraps."""
        ...

    def describe(self) -> str:
        """Where the KEK lives, for operators (no secret in it)."""
        ...

    async def aclose(self) -> None:
        """Release connections (Vault); nothing for the local keyrings."""
        ...


def key_wrapper_for(settings: Settings) -> RotatableKeyWrapper:
    """The KEK the settings name: Vault transit if `REGIE_VAULT_ADDR` is set, else the
    secret in `REGIE_KEK`, else the keyring file under the data dir (local stack)."""
    # Imported here: each keeper pulls in what it needs (httpx for Vault) only when used.
    if settings.vault_addr is not None:
        from infra.vault_transit import VaultTransit

        assert settings.vault_token is not None  # the settings refuse one without the other
        return VaultTransit(settings.vault_addr, settings.vault_token,
                            mount=settings.vault_transit_mount,
                            key_name=settings.vault_transit_key,
                            timeout=settings.vault_timeout_seconds)
    from infra.local_kek import EnvKeyring, FileKeyring

    if settings.kek is not None:
        return EnvKeyring.from_secrets(settings.kek, settings.kek_previous)
    return FileKeyring(settings.data_dir / "kek" / "keyring.json")
