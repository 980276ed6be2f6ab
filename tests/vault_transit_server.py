"""A stand-in for HashiCorp Vault's transit engine, served on 127.0.0.1: one mount, named
AES-256-GCM keys with versions, and only what Regie calls (encrypt, decrypt, and for
rotation keys/<name>/rotate, /config with min_decryption_version and /trim).

Like Vault: ciphertexts read `vault:v<version>:<base64 nonce+ciphertext>`, the token goes
in `X-Vault-Token`, `associated_data` is authenticated, a version below the key's
minimum decryption version is refused, a trimmed version is gone, errors come as
`{"errors": [...]}` with 400 (bad input) or 403 (bad token).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

TOKEN = "hvs.test-token-for-the-stand-in"
MOUNT = "transit"


@dataclass
class TransitKey:
    versions: dict[int, bytes] = field(default_factory=dict)
    min_decryption_version: int = 1

    def __post_init__(self) -> None:
        if not self.versions:
            self.rotate()

    @property
    def latest(self) -> int:
        return max(self.versions)

    def rotate(self) -> None:
        self.versions[max(self.versions, default=0) + 1] = AESGCM.generate_key(bit_length=256)


@dataclass
class Transit:
    """The engine's state; tests may look at it (e.g. which versions still exist)."""

    keys: dict[str, TransitKey] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        parts = path.split("/")
        with self.lock:
            if len(parts) == 2 and parts[0] == "encrypt":
                # Vault creates a missing key on first encrypt (with the default policy).
                key = self.keys.setdefault(parts[1], TransitKey())
                nonce = os.urandom(12)
                sealed = AESGCM(key.versions[key.latest]).encrypt(
                    nonce, base64.b64decode(body["plaintext"]),
                    base64.b64decode(body.get("associated_data", "")))
                return 200, {"data": {
                    "ciphertext": f"vault:v{key.latest}:"
                                  + base64.b64encode(nonce + sealed).decode(),
                    "key_version": key.latest}}
            if len(parts) == 2 and parts[0] == "decrypt":
                found = self.keys.get(parts[1])
                if found is None:
                    return 400, {"errors": ["encryption key not found"]}
                try:
                    _, version_text, data = str(body["ciphertext"]).split(":", 2)
                    version = int(version_text.removeprefix("v"))
                    raw = base64.b64decode(data, validate=True)
                except (ValueError, binascii.Error):
                    return 400, {"errors": ["invalid ciphertext"]}
                if version < found.min_decryption_version:
                    return 400, {"errors": ["ciphertext or signature version is disallowed "
                                            "by policy (too old)"]}
                if version not in found.versions:
                    return 400, {"errors": ["invalid ciphertext: key version not found"]}
                try:
                    plaintext = AESGCM(found.versions[version]).decrypt(
                        raw[:12], raw[12:], base64.b64decode(body.get("associated_data", "")))
                except InvalidTag:
                    return 400, {"errors": ["cipher: message authentication failed"]}
                return 200, {"data": {"plaintext": base64.b64encode(plaintext).decode()}}
            if len(parts) == 3 and parts[0] == "keys" and parts[1] in self.keys:
                key = self.keys[parts[1]]
                if parts[2] == "rotate":
                    key.rotate()
                    return 204, {}
                if parts[2] == "config":
                    wanted = int(body["min_decryption_version"])
                    if wanted > key.latest:
                        return 400, {"errors": ["cannot set min decryption version above "
                                                "latest version"]}
                    key.min_decryption_version = wanted
                    return 204, {}
                if parts[2] == "trim":
                    keep = int(body["min_available_version"])
                    if keep > key.min_decryption_version:
                        return 400, {"errors": ["cannot set min available version higher "
                                                "than min decryption version"]}
                    key.versions = {v: k for v, k in key.versions.items() if v >= keep}
                    return 204, {}
        return 404, {"errors": [f"no handler for route {path!r}"]}


@contextmanager
def serving_transit() -> Iterator[tuple[str, Transit]]:
    """(Vault's address, the engine) while the stand-in serves."""
    transit = Transit()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            prefix = f"/v1/{MOUNT}/"
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0)))
                              or b"{}")
            if self.headers.get("X-Vault-Token") != TOKEN:
                status, answer = 403, {"errors": ["permission denied"]}
            elif not self.path.startswith(prefix):
                status, answer = 404, {"errors": ["no handler for route"]}
            else:
                status, answer = transit.handle(self.path.removeprefix(prefix), body)
            payload = b"" if status == 204 else json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", transit
    finally:
        server.shutdown()
        server.server_close()
