"""The KEK secrets as the settings read them (`REGIE_KEK`, `REGIE_KEK_PREVIOUS`): checked
when the settings load, shown as asterisks everywhere.

Apart from `infra/local_kek.py` so that `infra.settings` imports no cryptography: the
settings are imported wherever a Temporal client is made, also by modules the workflow
sandbox re-imports, and the sandbox cannot load cryptography's native module twice.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated

from pydantic import AfterValidator, SecretStr

from infra.key_wrapping import KEY_BYTES


def kek_bytes(text: str, variable: str) -> list[bytes]:
    """Comma-separated base64 KEKs; the message names `variable`, never the value."""
    found: list[bytes] = []
    for part in (p.strip() for p in text.split(",")):
        try:
            secret = base64.b64decode(part, validate=True)
        except binascii.Error:
            secret = b""
        if len(secret) != KEY_BYTES:
            raise ValueError(f"{variable} must be {KEY_BYTES} random bytes in base64 (e.g. "
                             "`openssl rand -base64 32`)")
        found.append(secret)
    return found


def _one_kek(secret: SecretStr) -> SecretStr:
    if len(kek_bytes(secret.get_secret_value(), "REGIE_KEK")) != 1:
        raise ValueError("REGIE_KEK holds exactly one KEK; older ones go in "
                         "REGIE_KEK_PREVIOUS")
    return secret


def _some_keks(secret: SecretStr) -> SecretStr:
    kek_bytes(secret.get_secret_value(), "REGIE_KEK_PREVIOUS")
    return secret


KekSecret = Annotated[SecretStr, AfterValidator(_one_kek)]
KekSecrets = Annotated[SecretStr, AfterValidator(_some_keks)]
