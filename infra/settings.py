"""Runtime settings, read from `REGIE_*` environment variables.

Unset means the embedded default (a PostgreSQL and a Temporal dev server started by
`infra.stack` under the data dir); set means the same code talks to an external cluster.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# The Temporal TLS files, by field name and the variable an operator sets.
TLS_FILES = {"temporal_tls_cert": "REGIE_TEMPORAL_TLS_CERT",
             "temporal_tls_key": "REGIE_TEMPORAL_TLS_KEY",
             "temporal_tls_ca": "REGIE_TEMPORAL_TLS_CA"}


class Settings(BaseSettings):
    # A validation error names the variable, never its value: some values are secrets
    # (the database URL's password, the Temporal API key), and pydantic would otherwise
    # print every variable's value in a model-level error.
    model_config = SettingsConfigDict(env_prefix="REGIE_", extra="ignore",
                                      hide_input_in_errors=True)

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

    # -- Temporal: TLS, client certificates (mTLS) and API key ---------------------------
    # Production talks to a Temporal frontend that accepts only clients with a
    # certificate from Regie's own CA (infra/deploy/README.md): whoever reaches the
    # frontend without one cannot start, signal or read a case.
    temporal_tls_cert: Path | None = Field(
        default=None,
        description="PEM client certificate for mTLS; needs temporal_tls_key.")
    temporal_tls_key: Path | None = Field(
        default=None,
        description="PEM private key of temporal_tls_cert. Never logged.")
    temporal_tls_ca: Path | None = Field(
        default=None,
        description="PEM CA that signed the frontend's certificate. Unset: the system's "
        "trusted roots.")
    temporal_tls_server_name: str | None = Field(
        default=None, min_length=1,
        description="Name the frontend's certificate is checked against, and sent as SNI, "
        "when it differs from the host in temporal_address.")
    temporal_api_key: SecretStr | None = Field(
        default=None,
        description="API key sent with every call (Temporal Cloud). Implies TLS, also "
        "without client certificates. Never logged.")

    @field_validator(*TLS_FILES)
    @classmethod
    def _readable_file(cls, path: Path | None, info: ValidationInfo) -> Path | None:
        # Checked at start-up, so a wrong path stops the process with its variable named
        # instead of failing at the first connection with a TLS error.
        if path is None:
            return None
        variable = TLS_FILES[str(info.field_name)]
        if not path.exists():
            raise ValueError(f"{variable}: there is no file {path}")
        if not path.is_file():
            raise ValueError(f"{variable}: {path} is not a file")
        try:
            with path.open("rb"):
                pass
        except OSError as error:
            raise ValueError(f"{variable}: {path} cannot be read ({error.strerror})") from None
        return path

    @field_validator("temporal_api_key")
    @classmethod
    def _api_key_not_empty(cls, key: SecretStr | None) -> SecretStr | None:
        if key is not None and not key.get_secret_value().strip():
            raise ValueError("REGIE_TEMPORAL_API_KEY is set but empty; unset it for no key")
        return key

    @model_validator(mode="after")
    def _temporal_tls_complete(self) -> Settings:
        if (self.temporal_tls_cert is None) != (self.temporal_tls_key is None):
            missing = ("REGIE_TEMPORAL_TLS_KEY" if self.temporal_tls_key is None
                       else "REGIE_TEMPORAL_TLS_CERT")
            raise ValueError("REGIE_TEMPORAL_TLS_CERT and REGIE_TEMPORAL_TLS_KEY come "
                             f"together (a client certificate and its key); {missing} "
                             "is not set")
        if self.temporal_address is None and self.temporal_tls:
            raise ValueError("REGIE_TEMPORAL_TLS_* and REGIE_TEMPORAL_API_KEY are for an "
                             "external Temporal; set REGIE_TEMPORAL_ADDRESS too (the "
                             "embedded dev server speaks plain gRPC)")
        return self

    @property
    def temporal_tls(self) -> bool:
        """Whether the connection to Temporal uses TLS: any TLS setting or an API key
        (an API key must never travel in plain text)."""
        return any(v is not None for v in (
            self.temporal_tls_cert, self.temporal_tls_key, self.temporal_tls_ca,
            self.temporal_tls_server_name, self.temporal_api_key))
    # -- end of the Temporal TLS block ---------------------------------------------------

    task_queue: str = "regie"
    data_dir: Path = Path(".data")
    temporal_port: int = 7233
    temporal_ui_port: int = 8233
    gateway_host: str = "127.0.0.1"
    gateway_port: int = 8080
    log_level: str = "INFO"

    @property
    def embedded_postgres(self) -> bool:
        return self.database_url is None

    @property
    def embedded_temporal(self) -> bool:
        return self.temporal_address is None

    @property
    def effective_temporal_address(self) -> str:
        return self.temporal_address or f"127.0.0.1:{self.temporal_port}"
