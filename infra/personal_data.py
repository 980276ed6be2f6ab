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
from binascii import a2b_base64
from collections.abc import Iterable, Mapping
from typing import Any
from uuid import UUID

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from domain.personal import JsonPath

SEALED = "$sealed"
ERASED_VALUE: dict[str, bool] = {"erased": True}
_decode_json = json.JSONDecoder().decode


def new_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


def _aad_prefix(event_id: UUID) -> str:
    return f"{event_id}:"


def _aad(aad_prefix: str, path: JsonPath) -> bytes:
    """The additional data of a sealed value: its event and its place in the event."""
    return (aad_prefix + "/".join(map(str, path))).encode()


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
        ciphertext = AESGCM(keys[subject]).encrypt(
            nonce, plaintext, _aad(_aad_prefix(event_id), path))
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
        # The event's part of every value's additional data, made once per event.
        aad_prefix = _aad_prefix(event_id)
        if isinstance(doc, dict) and SEALED in doc:
            return self._open(doc[SEALED], aad_prefix, ())
        self._walk(doc, aad_prefix, ())
        return doc

    def _walk(self, doc: Any, aad_prefix: str, path: JsonPath) -> None:
        # A loop over a stack rather than recursion: most nodes hold no sealed value,
        # and a call per nested object cost more than the decryption of the one that
        # does. Replacing a value under an existing key is safe while iterating.
        stack: list[tuple[Any, JsonPath]] = [(doc, path)]
        while stack:
            node, at = stack.pop()
            items: Iterable[tuple[Any, Any]] = (
                node.items() if type(node) is dict else enumerate(node))
            for key, value in items:
                kind = type(value)
                if kind is dict:
                    if SEALED in value:
                        node[key] = self._open(value[SEALED], aad_prefix, (*at, key))
                    else:
                        stack.append((value, (*at, key)))
                elif kind is list:
                    stack.append((value, (*at, key)))

    def _open(self, sealed: dict[str, str], aad_prefix: str, path: JsonPath) -> Any:
        subject = sealed["s"]
        try:
            cipher = self._ciphers[subject]
        except KeyError:
            key = self._keys.get(subject)
            cipher = self._ciphers[subject] = None if key is None else AESGCM(key)
        if cipher is None:
            return dict(ERASED_VALUE)
        # binascii and a str decoder directly: what b64decode and json.loads(bytes) do
        # around them (type checks, encoding detection) cost more than the decryption.
        plaintext = cipher.decrypt(a2b_base64(sealed["n"]), a2b_base64(sealed["c"]),
                                   _aad(aad_prefix, path))
        return _decode_json(plaintext.decode())


def unseal(doc: Any, event_id: UUID, keys: Mapping[str, bytes | None]) -> Any:
    """Return `doc` with each sealed value decrypted, or marked erased if its key is gone."""
    return Unsealer(keys).unseal(doc, event_id)
