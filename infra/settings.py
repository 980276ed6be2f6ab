"""Runtime settings, read from `REGIE_*` environment variables.

Unset means the embedded default (a PostgreSQL and a Temporal dev server started by
`infra.stack` under the data dir); set means the same code talks to an external cluster.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
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

    @property
    def embedded_postgres(self) -> bool:
        return self.database_url is None

    @property
    def embedded_temporal(self) -> bool:
        return self.temporal_address is None

    @property
    def effective_temporal_address(self) -> str:
        return self.temporal_address or f"127.0.0.1:{self.temporal_port}"
