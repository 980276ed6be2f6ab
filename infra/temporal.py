"""The Temporal client, always with the pydantic data converter and the payload codec
(`infra.payload_codec`: payloads encrypted with the keyring's active key), and over TLS
(with a client certificate and/or an API key) when the settings ask for it."""

from __future__ import annotations

from dataclasses import dataclass, field

from temporalio.client import Client
from temporalio.service import TLSConfig
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from infra.payload_codec import data_converter_for
from infra.settings import Settings

# Domain models are pure and deterministic; passing them through the sandbox keeps one
# copy of each pydantic class (cheaper, and isinstance checks keep working). It also gives
# `domain.local_time` the real `zoneinfo.ZoneInfo`: imported inside the sandbox it would
# get a restricted proxy, which datetime refuses as a tzinfo (passing `zoneinfo` itself
# through does not lift that restriction).
# `cryptography` (the payload codec's AES-GCM, imported with this module): no workflow
# uses it, and its compiled extension cannot be loaded a second time inside the sandbox
# when a workflow module imports this one.
PASSTHROUGH_MODULES = ("domain", "activities", "pydantic", "pydantic_core", "annotated_types",
                       "cryptography")


@dataclass(frozen=True)
class ConnectOptions:
    """The arguments of `Client.connect` that come from the settings. The key and the API
    key are left out of the repr, so logging these options cannot leak them."""

    target_host: str
    namespace: str
    # False: plain gRPC (the embedded dev server). True: TLS against the system's roots.
    tls: bool | TLSConfig = field(repr=False)
    api_key: str | None = field(repr=False)


def connect_options(settings: Settings) -> ConnectOptions:
    """What `connect` passes to Temporal. Reads the PEM files named in the settings
    (which checked that they exist and can be read)."""
    tls: bool | TLSConfig = settings.temporal_tls
    cert, key, ca = (settings.temporal_tls_cert, settings.temporal_tls_key,
                     settings.temporal_tls_ca)
    if cert is not None or ca is not None or settings.temporal_tls_server_name is not None:
        tls = TLSConfig(
            server_root_ca_cert=ca.read_bytes() if ca is not None else None,
            domain=settings.temporal_tls_server_name,
            client_cert=cert.read_bytes() if cert is not None else None,
            client_private_key=key.read_bytes() if key is not None else None)
    api_key = settings.temporal_api_key
    return ConnectOptions(
        target_host=settings.effective_temporal_address,
        namespace=settings.temporal_namespace, tls=tls,
        api_key=api_key.get_secret_value() if api_key is not None else None)


async def connect(settings: Settings) -> Client:
    options = connect_options(settings)
    return await Client.connect(
        options.target_host,
        namespace=options.namespace,
        tls=options.tls,
        api_key=options.api_key,
        data_converter=data_converter_for(settings),
    )


def workflow_runner() -> SandboxedWorkflowRunner:
    return SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSTHROUGH_MODULES)
    )


__all__ = ["PASSTHROUGH_MODULES", "ConnectOptions", "Worker", "connect", "connect_options",
           "workflow_runner"]
