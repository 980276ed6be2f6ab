"""Runtime settings, read from `REGIE_*` environment variables.

Unset means the embedded default (a PostgreSQL and a Temporal dev server started by
`infra.stack` under the data dir); set means the same code talks to an external cluster.
"""

from __future__ import annotations

from pathlib import Path
from typing import Self

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="REGIE_", extra="ignore")

    database_url: str | None = Field(
        default=None,
        description="PostgreSQL URL, e.g. postgresql://regie:secret@db:5432/regie. "
        "Unset: embedded PostgreSQL under <data_dir>/postgres.",
    )
    database_name: str = Field(
        default="regie", description="Database created on the embedded PostgreSQL."
    )
    temporal_address: str | None = Field(
        default=None,
        description="Temporal frontend host:port. Unset: the embedded dev server.",
    )
    temporal_namespace: str = "default"
    task_queue: str = "regie"
    data_dir: Path = Path(".data")
    temporal_port: int = 7233
    temporal_ui_port: int = 8233
    gateway_host: str = "127.0.0.1"
    gateway_port: int = 8080
    log_level: str = "INFO"

    # -- who may call the gateway (infra/authentication.py) ------------------------------
    oidc_issuer: str | None = Field(
        default=None,
        description="The region's identity provider (the `iss` of its tokens). Unset: "
        "Regie is its own issuer (`regie token issue`), for the local stack only.")
    oidc_audience: str | None = Field(
        default=None, description="The `aud` Regie's tokens must carry.")
    oidc_jwks_url: str | None = Field(
        default=None, description="Where the identity provider publishes its signing keys.")
    oidc_professional_claim: str = Field(
        default="sub", min_length=1, max_length=100,
        description="The token claim that holds the professional's directory id.")
    oidc_algorithms: tuple[str, ...] = ("RS256", "PS256", "ES256")
    dev_issuer: bool = Field(
        default=True,
        description="Let `regie token issue` sign tokens with a key under the data dir. "
        "Always off when an OIDC issuer is set.")
    dev_token_minutes: int = Field(default=60, ge=1, le=720)

    @model_validator(mode="after")
    def _oidc_complete(self) -> Self:
        if self.oidc_issuer is not None:
            missing = [name for name, value in (("REGIE_OIDC_AUDIENCE", self.oidc_audience),
                                                ("REGIE_OIDC_JWKS_URL", self.oidc_jwks_url))
                       if not value]
            if missing:
                raise ValueError(f"REGIE_OIDC_ISSUER is set, so {' and '.join(missing)} "
                                 "must be set too")
        weak = [a for a in self.oidc_algorithms if not a.startswith(("RS", "PS", "ES", "Ed"))]
        if weak:
            # Symmetric (HS*) and 'none' would let whoever knows the verifier's key, or
            # nobody at all, sign tokens.
            raise ValueError(f"REGIE_OIDC_ALGORITHMS: {', '.join(weak)} not allowed; use "
                             "asymmetric algorithms (RS256, PS256, ES256, EdDSA)")
        return self

    @property
    def dev_issuer_enabled(self) -> bool:
        return self.dev_issuer and self.oidc_issuer is None

    @property
    def embedded_postgres(self) -> bool:
        return self.database_url is None

    @property
    def embedded_temporal(self) -> bool:
        return self.temporal_address is None

    @property
    def effective_temporal_address(self) -> str:
        return self.temporal_address or f"127.0.0.1:{self.temporal_port}"
