"""The KEK in HashiCorp Vault's transit secrets engine: the key never leaves Vault.

Regie sends a person key to `POST /v1/<mount>/encrypt/<key>` and gets back Vault's
ciphertext (`vault:v<version>:...`); `POST /v1/<mount>/decrypt/<key>` opens it. The
subject binding goes along as `associated_data` (AEAD key types, the default
`aes256-gcm96`), so Vault itself refuses a wrapped key presented for another subject.
The KEK id is the transit key and its version: `vault:<mount>/<key>:v<n>`.

Rotation uses Vault's own key versions: `rotate` asks Vault for a new version (the one
`encrypt` uses from then on), `destroy_all_but` raises the key's minimum decryption
version and trims the older versions out of Vault's storage. The token needs `update`
on `<mount>/encrypt/<key>` and `<mount>/decrypt/<key>`, and for rotation on
`<mount>/keys/<key>/rotate`, `.../config` and `.../trim`.
"""

from __future__ import annotations

import base64
import re
from typing import Any

import httpx
from pydantic import SecretStr

from infra.key_wrapping import (
    KekUnavailableError,
    KeyUnwrapError,
    KeyWrappingError,
    WrappedKey,
    subject_binding,
)

_CIPHERTEXT = re.compile(r"^vault:v(\d+):")
_PROBE_SUBJECT = "regie/kek-probe"  # what `rotate` encrypts to learn the new version


class VaultTransit:
    def __init__(self, address: str, token: SecretStr, *, mount: str = "transit",
                 key_name: str = "regie-subject-keys", timeout: float = 10.0,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._address = address.rstrip("/")
        self._mount = mount.strip("/")
        self._key_name = key_name
        # The token travels in a header only; httpx logs neither headers nor bodies.
        self._client = httpx.AsyncClient(
            base_url=f"{self._address}/v1/{self._mount}/", timeout=timeout,
            headers={"X-Vault-Token": token.get_secret_value()}, transport=transport)

    def kek_id(self, version: int) -> str:
        return f"vault:{self._mount}/{self._key_name}:v{version}"

    async def wrap(self, subject_id: str, key: bytes) -> WrappedKey:
        answer = await self._call(f"encrypt/{self._key_name}", {
            "plaintext": _b64(key), "associated_data": _b64(subject_binding(subject_id))})
        ciphertext = str(answer["data"]["ciphertext"])
        return WrappedKey(self._id_of(ciphertext), ciphertext.encode())

    async def unwrap(self, subject_id: str, wrapped: WrappedKey) -> bytes:
        ciphertext = wrapped.ciphertext.decode()
        if self._id_of(ciphertext) != wrapped.kek_id:
            raise KeyUnwrapError(f"the key recorded under {wrapped.kek_id} was not wrapped "
                                 "by that KEK")
        try:
            answer = await self._call(f"decrypt/{self._key_name}", {
                "ciphertext": ciphertext,
                "associated_data": _b64(subject_binding(subject_id))}, refused=KeyUnwrapError)
        except KeyUnwrapError as error:
            raise KeyUnwrapError(f"the key wrapped under {wrapped.kek_id} does not open for "
                                 f"subject {subject_id!r}: {error}") from None
        return base64.b64decode(answer["data"]["plaintext"])

    async def rotate(self) -> str:
        await self._call(f"keys/{self._key_name}/rotate", {})
        probe = await self.wrap(_PROBE_SUBJECT, bytes(32))
        return probe.kek_id

    async def destroy_all_but(self, kek_id: str) -> list[str]:
        version = self._version_of(kek_id)
        # First nothing older may decrypt, then the older versions leave Vault's storage
        # (trim needs the minimum decryption version at least as high).
        await self._call(f"keys/{self._key_name}/config", {"min_decryption_version": version})
        await self._call(f"keys/{self._key_name}/trim", {"min_available_version": version})
        return [self.kek_id(v) for v in range(1, version)]

    def describe(self) -> str:
        return f"Vault transit key {self._mount}/{self._key_name} at {self._address}"

    async def aclose(self) -> None:
        await self._client.aclose()

    def _id_of(self, ciphertext: str) -> str:
        match = _CIPHERTEXT.match(ciphertext)
        if match is None:
            raise KeyUnwrapError("not a Vault transit ciphertext")
        return self.kek_id(int(match[1]))

    def _version_of(self, kek_id: str) -> int:
        prefix = self.kek_id(0)[:-1]
        if not kek_id.startswith(prefix) or not kek_id[len(prefix):].isdigit():
            raise KeyWrappingError(f"{kek_id} is not a version of {self.describe()}")
        return int(kek_id[len(prefix):])

    async def _call(self, path: str, body: dict[str, Any],
                    refused: type[KeyWrappingError] = KeyWrappingError) -> Any:
        try:
            response = await self._client.post(path, json=body)
        except httpx.HTTPError as error:
            raise KekUnavailableError(f"{self.describe()} did not answer "
                                      f"({type(error).__name__})") from None
        if response.status_code in (401, 403):
            raise KekUnavailableError(f"{self.describe()} refused the token "
                                      f"({response.status_code}): check REGIE_VAULT_TOKEN "
                                      "and its policy")
        if response.status_code == 429 or response.status_code >= 500:
            raise KekUnavailableError(f"{self.describe()} is unavailable "
                                      f"({response.status_code})")
        if response.status_code >= 400:
            raise refused(f"{self.describe()} refused {path.split('/')[0]} "
                          f"({response.status_code}: {_errors(response)})")
        return response.json() if response.content else {}


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _errors(response: httpx.Response) -> str:
    """Vault's own error text (it never echoes plaintext), cut short."""
    try:
        errors = response.json().get("errors") or []
    except ValueError:
        errors = []
    return "; ".join(str(e) for e in errors)[:200] or "no reason given"
