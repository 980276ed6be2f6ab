"""Secrets of the local stack, kept in files under the data dir: made on first use,
readable by their owner only, and the same for every process that starts at once.
Production passes its secrets in settings instead."""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path


def create_once(path: Path, content: bytes) -> None:
    """Write `path` with `content` (mode 0600) unless it exists. Written whole under a
    name of its own, then linked into place: of processes starting at once, one link
    wins, and no reader ever sees a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    draft = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(content)
            file.flush()
            os.fsync(file.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(draft, path)
    finally:
        draft.unlink(missing_ok=True)


def local_secret(path: Path, size: int) -> bytes:
    """The `size` random bytes in `path`, made the first time they are asked for."""
    if not path.exists():
        create_once(path, secrets.token_bytes(size))
    value = path.read_bytes()
    if len(value) != size:
        raise RuntimeError(f"{path} should hold {size} bytes; it holds {len(value)}")
    return value
