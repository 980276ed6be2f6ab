"""Crypto-shredding: personal fields are sealed with a per-person AES-GCM key.

A sealed value is stored in place of the plaintext as
`{"$sealed": {"s": subject id, "n": nonce, "c": ciphertext}}` (base64). The additional
authenticated data binds it to its event id and JSON path, so a sealed value cannot be
moved to another event or field unnoticed. Destroying the subject's key (erasure) makes
every value sealed with it unreadable; it then reads as `{"erased": true}`.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterable, Mapping
from typing import Any
from uuid import UUID

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from domain.personal import JsonPath

SEALED = "$sealed"
ERASED_VALUE: dict[str, bool] = {"erased": True}


def new_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


def _aad(event_id: UUID, path: JsonPath) -> bytes:
    return f"{event_id}:{'/'.join(str(p) for p in path)}".encode()


def _get(doc: Any, path: JsonPath) -> Any:
    for part in path:
        doc = doc[part]
    return doc


def _set(doc: Any, path: JsonPath, value: Any) -> None:
    for part in path[:-1]:
        doc = doc[part]
    doc[path[-1]] = value


def seal(
    data: dict[str, Any],
    event_id: UUID,
    fields: list[tuple[JsonPath, str]],
    keys: Mapping[str, bytes],
) -> dict[str, Any]:
    """Replace each personal field in `data` (in place) with its sealed form."""
    for path, subject in fields:
        plaintext = json.dumps(_get(data, path), separators=(",", ":")).encode()
        nonce = os.urandom(12)
        ciphertext = AESGCM(keys[subject]).encrypt(nonce, plaintext, _aad(event_id, path))
        _set(data, path, {SEALED: {
            "s": subject,
            "n": base64.b64encode(nonce).decode(),
            "c": base64.b64encode(ciphertext).decode(),
        }})
    return data


def sealed_subjects(doc: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(doc, dict):
        if SEALED in doc:
            found.add(doc[SEALED]["s"])
        else:
            for value in doc.values():
                found |= sealed_subjects(value)
    elif isinstance(doc, list):
        for item in doc:
            found |= sealed_subjects(item)
    return found


class Unsealer:
    """Opens sealed values with the keys of one batch of reads.

    One AES-GCM cipher per subject, made on first use: a batch usually holds many events
    about few people, and making the cipher costs about as much as a decryption.
    """

    def __init__(self, keys: Mapping[str, bytes | None]) -> None:
        self._keys = keys
        self._ciphers: dict[str, AESGCM | None] = {}

    def unseal(self, doc: Any, event_id: UUID) -> Any:
        """`doc` with each sealed value decrypted, or marked erased if its key is gone;
        changed in place where it is a dict or list (a freshly parsed document)."""
        if isinstance(doc, dict) and SEALED in doc:
            return self._open(doc[SEALED], event_id, ())
        self._walk(doc, event_id, ())
        return doc

    def _walk(self, doc: Any, event_id: UUID, path: JsonPath) -> None:
        items: Iterable[tuple[str | int, Any]] = (
            doc.items() if isinstance(doc, dict) else enumerate(doc))
        for key, value in items:
            if isinstance(value, dict):
                if SEALED in value:
                    doc[key] = self._open(value[SEALED], event_id, (*path, key))
                else:
                    self._walk(value, event_id, (*path, key))
            elif isinstance(value, list):
                self._walk(value, event_id, (*path, key))

    def _open(self, sealed: dict[str, str], event_id: UUID, path: JsonPath) -> Any:
        subject = sealed["s"]
        try:
            cipher = self._ciphers[subject]
        except KeyError:
            key = self._keys.get(subject)
            cipher = self._ciphers[subject] = None if key is None else AESGCM(key)
        if cipher is None:
            return dict(ERASED_VALUE)
        plaintext = cipher.decrypt(base64.b64decode(sealed["n"]),
                                   base64.b64decode(sealed["c"]), _aad(event_id, path))
        return json.loads(plaintext)


def unseal(doc: Any, event_id: UUID, keys: Mapping[str, bytes | None]) -> Any:
    """Return `doc` with each sealed value decrypted, or marked erased if its key is gone."""
    return Unsealer(keys).unseal(doc, event_id)
