"""Temporal payloads encrypted with AES-256-GCM, so names, birth dates and free text do
not sit in plain text in Temporal's history (its database, the Web UI, `temporal
workflow show`).

Every client and worker converts with the pydantic data converter and then this codec:
an update's input, an activity's input and result, a workflow's input, result and
continue-as-new state all leave the process encrypted with the keyring's active key
(`infra.payload_keys`), its key id in the payload's metadata. Failures' messages and
stack traces are moved into an encoded payload too (they may quote what was refused).

Payloads without this codec's encoding (histories recorded before it) pass through
decode unchanged, so they still replay. The codec server (`workers/codec_server.py`)
decodes for operators: the Web UI and the `temporal` CLI.

After the encryption sample of the Temporal Python samples (`encryption/codec.py`), with
a keyring instead of one key.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import (
    DataConverter,
    DefaultFailureConverterWithEncodedAttributes,
    PayloadCodec,
)

from infra.payload_keys import Keyring, keyring_file, load_or_create_keyring_file
from infra.settings import Settings

ENCODING = b"binary/encrypted"
KEY_ID_METADATA = "encryption-key-id"
NONCE_BYTES = 12


class PayloadDecryptionError(ValueError):
    """A payload did not decrypt under the key its key id names: another key under the
    same id, or the payload was altered."""


class EncryptionCodec(PayloadCodec):
    def __init__(self, keyring: Keyring) -> None:
        super().__init__()
        self._keyring = keyring
        self._ciphers = {key_id: AESGCM(key) for key_id, key in keyring.keys.items()}

    @property
    def keyring(self) -> Keyring:
        return self._keyring

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        key_id = self._keyring.active
        cipher = self._ciphers[key_id]
        encoded = []
        for payload in payloads:
            # A fresh random 96-bit nonce per payload (NIST allows 2^32 such messages
            # under one key: rotate long before). The key id is authenticated with the
            # data, so a payload relabelled with another key id does not decrypt.
            nonce = os.urandom(NONCE_BYTES)
            data = nonce + cipher.encrypt(nonce, payload.SerializeToString(),
                                          key_id.encode())
            encoded.append(Payload(metadata={"encoding": ENCODING,
                                             KEY_ID_METADATA: key_id.encode()}, data=data))
        return encoded

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        decoded = []
        for payload in payloads:
            if payload.metadata.get("encoding") != ENCODING:
                decoded.append(payload)  # not ours: recorded before the codec
                continue
            key_id = payload.metadata.get(KEY_ID_METADATA, b"").decode(errors="replace")
            self._keyring.key(key_id)  # UnknownKeyError, naming the key id
            nonce, ciphertext = payload.data[:NONCE_BYTES], payload.data[NONCE_BYTES:]
            try:
                plain = self._ciphers[key_id].decrypt(nonce, ciphertext, key_id.encode())
            except InvalidTag:
                raise PayloadDecryptionError(
                    f"a payload encrypted with key id {key_id} does not decrypt with this "
                    "keyring's key of that id (another key under the same id, or the "
                    "payload was altered)") from None
            decoded.append(Payload.FromString(plain))
        return decoded


def data_converter(keyring: Keyring) -> DataConverter:
    """The pydantic data converter, with payloads and failures encrypted."""
    return dataclasses.replace(
        pydantic_data_converter, payload_codec=EncryptionCodec(keyring),
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes)


def keyring_for(settings: Settings) -> Keyring:
    """The keyring of the settings, or the keyring file under the data dir."""
    configured = settings.payload_keyring
    if configured is not None:
        return configured
    return load_or_create_keyring_file(keyring_file(settings.data_dir))


def data_converter_for(settings: Settings) -> DataConverter:
    return data_converter(keyring_for(settings))
