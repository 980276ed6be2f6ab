"""The KEK keepers under test, each with its own way to rotate, behind one face.

`file` and `vault` rotate and destroy by themselves (`RotatableKeyWrapper`). With `env`
the operator rotates: a new secret in REGIE_KEK with the old one in REGIE_KEK_PREVIOUS,
and destroying means starting the processes without the old one; `Keeper` plays that.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

from infra.key_wrapping import KeyWrapper, RotatableKeyWrapper
from infra.local_kek import EnvKeyring, FileKeyring, Kek
from infra.vault_transit import VaultTransit
from tests.vault_transit_server import MOUNT, TOKEN

KINDS = ["file", "env", "vault"]
# The keepers a Regie process can rotate by itself (`regie keys rotate-kek`).
SELF_ROTATING = ["file", "vault"]


def new_wrapper(kind: str, tmp_path: Path, vault_url: str) -> RotatableKeyWrapper:
    if kind == "file":
        return FileKeyring(tmp_path / "kek" / "keyring.json")
    if kind == "env":
        return EnvKeyring(Kek.generate())
    # A transit key of this test alone on the shared stand-in.
    return VaultTransit(vault_url, SecretStr(TOKEN), mount=MOUNT,
                        key_name=f"regie-{uuid.uuid4().hex[:8]}")


@dataclass
class Keeper:
    kind: str
    wrapper: RotatableKeyWrapper

    async def rotate(self) -> str:
        if isinstance(self.wrapper, EnvKeyring):
            new = Kek.generate()
            self.wrapper = EnvKeyring(new, [self._env_current()])
            return new.id
        return await self.wrapper.rotate()

    async def destroy_all_but(self, kek_id: str) -> None:
        if isinstance(self.wrapper, EnvKeyring):
            self.wrapper = EnvKeyring(self._env_current())
            assert self._env_current().id == kek_id
            return
        await self.wrapper.destroy_all_but(kek_id)

    def fresh(self) -> KeyWrapper:
        """What another process, started now, would use."""
        if isinstance(self.wrapper, FileKeyring):
            return FileKeyring(self.wrapper.path)
        return self.wrapper

    def _env_current(self) -> Kek:
        assert isinstance(self.wrapper, EnvKeyring)
        return self.wrapper.current
