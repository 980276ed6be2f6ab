"""Runtime settings, read from `REGIE_*` environment variables.

Unset means the embedded default (a PostgreSQL and a Temporal dev server started by
`infra.stack` under the data dir); set means the same code talks to an external cluster.
"""

from __future__ import annotations

from pathlib import Path
from typing import Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from infra.kek_secrets import KekSecret, KekSecrets
from infra.local_secrets import local_secret
from infra.payload_keys import Keyring, parse_keyring
from infra.temporal_tls import ApiKey, TlsFile, tls_problem


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
    temporal_tls_cert: TlsFile | None = Field(
        default=None,
        description="PEM client certificate for mTLS; needs temporal_tls_key.")
    temporal_tls_key: TlsFile | None = Field(
        default=None,
        description="PEM private key of temporal_tls_cert. Never logged.")
    temporal_tls_ca: TlsFile | None = Field(
        default=None,
        description="PEM CA that signed the frontend's certificate. Unset: the system's "
        "trusted roots.")
    temporal_tls_server_name: str | None = Field(
        default=None, min_length=1,
        description="Name the frontend's certificate is checked against, and sent as SNI, "
        "when it differs from the host in temporal_address.")
    temporal_api_key: ApiKey | None = Field(
        default=None,
        description="API key sent with every call (Temporal Cloud). Implies TLS, also "
        "without client certificates. Never logged.")

    @model_validator(mode="after")
    def _temporal_tls_complete(self) -> Settings:
        problem = tls_problem(address=self.temporal_address, cert=self.temporal_tls_cert,
                              key=self.temporal_tls_key, uses_tls=self.temporal_tls)
        if problem is not None:
            raise ValueError(problem)
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
    temporal_ui_url: str | None = Field(
        default=None,
        description="Base URL of the Temporal Web UI that `regie case history` links to. "
        "Unset: the embedded one, http://127.0.0.1:<temporal_ui_port>.")
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

    # -- the caseworkers' web workspace (workers/workspace) ------------------------------
    oidc_client_id: str | None = Field(
        default=None, description="The workspace's client id at the identity provider "
        "(authorisation-code flow with PKCE); its id tokens carry it as `aud`.")
    oidc_client_secret: SecretStr | None = Field(
        default=None, description="The client's secret, if the provider gives it one.")
    oidc_authorization_url: str | None = Field(
        default=None, description="The provider's authorization endpoint.")
    oidc_token_url: str | None = Field(
        default=None, description="The provider's token endpoint.")
    workspace_session_minutes: int = Field(
        default=30, ge=5, le=480,
        description="How long a workspace session lasts; then the professional signs in "
        "again.")
    workspace_session_secret: SecretStr | None = Field(
        default=None,
        description="The key that signs workspace sessions, at least 32 bytes; the same "
        "on every gateway. Unset: a secret file under the data dir, made on first use.")

    def workspace_session_key(self) -> bytes:
        if self.workspace_session_secret is not None:
            value = self.workspace_session_secret.get_secret_value().encode()
            if len(value) < 32:
                raise ValueError("REGIE_WORKSPACE_SESSION_SECRET must be at least 32 bytes")
            return value
        return local_secret(self.data_dir / "workspace-session-secret", 32)

    @property
    def workspace_oidc(self) -> bool:
        """Whether professionals sign in to the workspace at the identity provider."""
        return self.oidc_issuer is not None

    temporal_retention_days: int = Field(
        default=30, ge=1, le=60,
        description="How long Temporal keeps closed runs (infra/retention.py): well under "
        "the 3 months the law allows for carrying out an erasure.")

    # -- persons (infra/persons.py) ------------------------------------------------------
    pseudonym_secret: SecretStr | None = Field(
        default=None,
        description="The HMAC secret of persons' pseudonyms (BSN, name and birth date), at "
        "least 32 bytes. Unset: a secret file under the data dir, made on first use. "
        "Changing it makes every known person unrecognisable to new referrals.")

    def pseudonym_key(self) -> bytes:
        if self.pseudonym_secret is not None:
            value = self.pseudonym_secret.get_secret_value().encode()
            if len(value) < 32:
                raise ValueError("REGIE_PSEUDONYM_SECRET must be at least 32 bytes")
            return value
        return local_secret(self.data_dir / "pseudonym-secret", 32)

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
    def effective_temporal_ui_url(self) -> str:
        return (self.temporal_ui_url or f"http://127.0.0.1:{self.temporal_ui_port}").rstrip("/")

    @property
    def effective_temporal_address(self) -> str:
        return self.temporal_address or f"127.0.0.1:{self.temporal_port}"

    # -- person keys: the key-encryption key (KEK) that wraps them (infra/key_wrapping.py)
    # Vault transit when REGIE_VAULT_ADDR is set, else the secret in REGIE_KEK, else a
    # keyring file under the data dir (the local stack). Secrets never print: their repr
    # and str are asterisks, and a validation error names the variable only.
    kek: KekSecret | None = Field(
        default=None,
        description="The KEK, 32 random bytes in base64 (`openssl rand -base64 32`). "
        "Unset: Vault transit, or the keyring file under the data dir.")
    kek_previous: KekSecrets | None = Field(
        default=None,
        description="Older KEKs (comma-separated base64), kept to unwrap while "
        "`regie keys rotate-kek` moves every key to REGIE_KEK; remove them afterwards.")
    vault_addr: str | None = Field(
        default=None, pattern=r"^https?://",
        description="Vault's address, e.g. https://vault.internal:8200; wraps the person "
        "keys with its transit engine.")
    vault_token: SecretStr | None = Field(
        default=None, description="The Vault token (never logged).")
    vault_transit_mount: str = Field(default="transit", min_length=1)
    vault_transit_key: str = Field(default="regie-subject-keys", min_length=1)
    vault_timeout_seconds: float = Field(default=10.0, gt=0)

    @model_validator(mode="after")
    def _one_kek_source(self) -> Self:
        if (self.vault_addr is None) != (self.vault_token is None):
            raise ValueError("REGIE_VAULT_ADDR and REGIE_VAULT_TOKEN come together")
        if self.vault_addr is not None and (self.kek or self.kek_previous) is not None:
            raise ValueError("REGIE_VAULT_ADDR and REGIE_KEK both name a KEK; set one")
        if self.kek_previous is not None and self.kek is None:
            raise ValueError("REGIE_KEK_PREVIOUS needs REGIE_KEK (the KEK to move to)")
        return self
    # -- end of the key wrapping block ----------------------------------------------------
    # -- encrypted Temporal payloads (infra/payload_codec.py, infra/payload_keys.py) -----
    # Temporal's history holds every update, activity input and result: names, birth
    # dates, the referral's free text. They are encrypted with the active key; older keys
    # stay to decode what they encrypted. Unset: a keyring file under the data dir.
    payload_keys: SecretStr | None = Field(
        default=None,
        description="JSON object of key id to base64 32-byte AES key, the same on every "
        "worker and gateway. Unset: <data_dir>/payload-keys.json, made on first use. "
        "Never logged.")
    payload_active_key: str | None = Field(
        default=None,
        description="The key id that encrypts new payloads; may be left out when "
        "payload_keys holds one key.")
    codec_ui_origins: tuple[str, ...] = Field(
        default=(),
        description="Web UI origins (besides the local one) allowed to call the codec "
        "server from a browser, e.g. https://temporal-ui.regio.example.nl.")

    @model_validator(mode="after")
    def _payload_keyring_valid(self) -> Self:
        if self.payload_keys is None:
            if self.payload_active_key is not None:
                raise ValueError("REGIE_PAYLOAD_ACTIVE_KEY is set without "
                                 "REGIE_PAYLOAD_KEYS; set both, or neither (the keyring "
                                 "file under the data dir)")
            return self
        # Parsed here once, so a wrong keyring stops a process at start-up.
        parse_keyring(self.payload_keys.get_secret_value(), self.payload_active_key)
        return self

    @property
    def payload_keyring(self) -> Keyring | None:
        """The configured keyring; None means the keyring file under the data dir."""
        if self.payload_keys is None:
            return None
        return parse_keyring(self.payload_keys.get_secret_value(), self.payload_active_key)

    @property
    def codec_origins(self) -> tuple[str, ...]:
        """Who may call the codec server from a browser: the local Web UI, and others."""
        port = self.temporal_ui_port
        return (f"http://127.0.0.1:{port}", f"http://localhost:{port}",
                *self.codec_ui_origins)
    # -- end of the encrypted payloads block ---------------------------------------------

    # -- the gateway's edge (workers/request_guard.py) -----------------------------------
    max_body_bytes: int = Field(
        default=262144, ge=1024,
        description="The largest request body the gateway reads (bytes); larger ones are "
        "answered 413 before they are parsed.")
    rate_limit_per_minute: int = Field(
        default=600, ge=1,
        description="Requests a minute one caller (a partner organisation, a "
        "professional) may make to one gateway; more are answered 429 with Retry-After.")
    rate_limit_burst: int = Field(default=60, ge=1,
                                  description="Requests one caller may make at once.")
    request_deadline_seconds: float = Field(
        default=45.0, gt=0,
        description="How long the gateway works on one request; past it the answer is "
        "503 with Retry-After (resend with the same Idempotency-Key).")
    # -- end of the gateway's edge block -------------------------------------------------
