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
from collections.abc import Mapping
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


def unseal(doc: Any, event_id: UUID, keys: Mapping[str, bytes | None],
           path: JsonPath = ()) -> Any:
    """Return `doc` with each sealed value decrypted, or marked erased if its key is gone."""
    if isinstance(doc, dict):
        if SEALED in doc:
            sealed = doc[SEALED]
            key = keys.get(sealed["s"])
            if key is None:
                return dict(ERASED_VALUE)
            plaintext = AESGCM(key).decrypt(
                base64.b64decode(sealed["n"]), base64.b64decode(sealed["c"]),
                _aad(event_id, path),
            )
            return json.loads(plaintext)
        return {k: unseal(v, event_id, keys, (*path, k)) for k, v in doc.items()}
    if isinstance(doc, list):
        return [unseal(v, event_id, keys, (*path, i)) for i, v in enumerate(doc)]
    return doc
