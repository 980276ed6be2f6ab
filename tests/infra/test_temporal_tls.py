"""Connecting to Temporal over TLS: the settings' rules, the options `connect` passes, and
a real handshake through a frontend that demands a client certificate from Regie's CA."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pydantic import ValidationError
from temporalio.service import TLSConfig
from temporalio.testing import WorkflowEnvironment

from infra.settings import Settings
from infra.temporal import connect, connect_options

ADDRESS = "temporal.example.nl:7233"
SERVER_NAME = "temporal.example.nl"
API_KEY = "regie-test-api-key-0123456789"
ENV_VARIABLES = ("REGIE_TEMPORAL_ADDRESS", "REGIE_TEMPORAL_TLS_CERT", "REGIE_TEMPORAL_TLS_KEY",
                 "REGIE_TEMPORAL_TLS_CA", "REGIE_TEMPORAL_TLS_SERVER_NAME",
                 "REGIE_TEMPORAL_API_KEY", "REGIE_DATABASE_URL")


@pytest.fixture(autouse=True)
def _no_regie_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # Settings read the environment: the machine's own REGIE_* must not leak in.
    for name in ENV_VARIABLES:
        monkeypatch.delenv(name, raising=False)


# -- certificates, made for the test --------------------------------------------------


@dataclass(frozen=True)
class Issued:
    cert: Path
    key: Path


class Authority:
    """A CA that issues server and client certificates into `folder`, as PEM files."""

    def __init__(self, folder: Path, name: str) -> None:
        self.folder = folder
        self.name = name
        self._key = ec.generate_private_key(ec.SECP256R1())
        self._subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        self._cert = (self._builder(self._subject, self._key.public_key())
                      .add_extension(x509.BasicConstraints(ca=True, path_length=0),
                                     critical=True)
                      .add_extension(x509.KeyUsage(
                          digital_signature=False, content_commitment=False,
                          key_encipherment=False, data_encipherment=False, key_agreement=False,
                          key_cert_sign=True, crl_sign=True, encipher_only=False,
                          decipher_only=False), critical=True)
                      .sign(self._key, hashes.SHA256()))
        self.cert = folder / f"{name}-ca.pem"
        self.cert.write_bytes(self._cert.public_bytes(serialization.Encoding.PEM))

    def _builder(self, subject: x509.Name, public_key: ec.EllipticCurvePublicKey
                 ) -> x509.CertificateBuilder:
        now = datetime.now(UTC)
        return (x509.CertificateBuilder().subject_name(subject)
                .issuer_name(self._subject)
                .public_key(public_key).serial_number(x509.random_serial_number())
                .not_valid_before(now - timedelta(days=1))
                .not_valid_after(now + timedelta(days=30)))

    def issue(self, name: str, *, server: bool) -> Issued:
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
        builder = (self._builder(subject, key.public_key())
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None),
                                  critical=True)
                   .add_extension(x509.ExtendedKeyUsage([usage]), critical=False))
        if server:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        cert = builder.sign(self._key, hashes.SHA256())
        issued = Issued(cert=self.folder / f"{name}.pem", key=self.folder / f"{name}.key")
        issued.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        issued.key.write_bytes(key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()))
        return issued


@pytest.fixture
def regie_ca(tmp_path: Path) -> Authority:
    return Authority(tmp_path, "regie")


def settings(**values: Any) -> Settings:
    return Settings(**{"temporal_address": ADDRESS, **values})  # a value given wins


def error_of(**values: Any) -> str:
    with pytest.raises(ValidationError) as info:
        settings(**values)
    return str(info.value)


# -- the settings' rules --------------------------------------------------------------


def test_without_tls_settings_the_connection_is_plain() -> None:
    options = connect_options(settings())
    assert (options.target_host, options.tls, options.api_key) == (ADDRESS, False, None)
    assert connect_options(Settings()).tls is False  # the embedded dev server


def test_a_client_certificate_its_key_and_the_ca_go_to_the_tls_config(
        regie_ca: Authority) -> None:
    worker = regie_ca.issue("regie-worker", server=False)
    options = connect_options(settings(
        temporal_tls_cert=worker.cert, temporal_tls_key=worker.key,
        temporal_tls_ca=regie_ca.cert, temporal_tls_server_name=SERVER_NAME))
    assert options.tls == TLSConfig(
        server_root_ca_cert=regie_ca.cert.read_bytes(), domain=SERVER_NAME,
        client_cert=worker.cert.read_bytes(), client_private_key=worker.key.read_bytes())
    assert options.api_key is None


def test_an_api_key_alone_still_uses_tls() -> None:
    options = connect_options(settings(temporal_api_key=API_KEY))
    assert (options.tls, options.api_key) == (True, API_KEY)


def test_a_ca_alone_checks_the_server_without_a_client_certificate(
        regie_ca: Authority) -> None:
    options = connect_options(settings(temporal_tls_ca=regie_ca.cert))
    assert options.tls == TLSConfig(server_root_ca_cert=regie_ca.cert.read_bytes())


def test_the_key_and_the_api_key_are_not_in_reprs(regie_ca: Authority) -> None:
    worker = regie_ca.issue("regie-worker", server=False)
    configured = settings(temporal_tls_cert=worker.cert, temporal_tls_key=worker.key,
                          temporal_api_key=API_KEY)
    key_pem = worker.key.read_text()
    for text in (repr(configured), repr(connect_options(configured))):
        assert API_KEY not in text
        assert "PRIVATE KEY" not in text and key_pem not in text


@pytest.mark.parametrize(("given", "missing"), [("cert", "KEY"), ("key", "CERT")])
def test_certificate_and_key_come_together(regie_ca: Authority, given: str,
                                           missing: str) -> None:
    worker = regie_ca.issue("regie-worker", server=False)
    message = error_of(**{f"temporal_tls_{given}": getattr(worker, given)})
    assert "REGIE_TEMPORAL_TLS_CERT and REGIE_TEMPORAL_TLS_KEY come together" in message
    assert f"REGIE_TEMPORAL_TLS_{missing} is not set" in message


def test_a_tls_file_that_does_not_exist_is_named(tmp_path: Path) -> None:
    message = error_of(temporal_tls_ca=tmp_path / "nope.pem")
    assert f"REGIE_TEMPORAL_TLS_CA: there is no file {tmp_path / 'nope.pem'}" in message


def test_a_folder_is_not_a_tls_file(tmp_path: Path) -> None:
    assert f"REGIE_TEMPORAL_TLS_CA: {tmp_path} is not a file" in error_of(
        temporal_tls_ca=tmp_path)


def test_a_tls_file_that_cannot_be_read_is_named(regie_ca: Authority,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    worker = regie_ca.issue("regie-worker", server=False)
    real_open = Path.open

    def refuse_the_key(path: Path, *args: Any, **kwargs: Any) -> Any:
        # Permissions cannot be relied on here (tests may run as root), so the refusal
        # the operating system would give is simulated for this one file.
        if path == worker.key:
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(Path, "open", refuse_the_key)
    message = error_of(temporal_tls_cert=worker.cert, temporal_tls_key=worker.key)
    assert f"REGIE_TEMPORAL_TLS_KEY: {worker.key} cannot be read (Permission denied)" in message


def test_an_empty_api_key_is_refused() -> None:
    assert "REGIE_TEMPORAL_API_KEY is set but empty" in error_of(temporal_api_key=" ")


def test_tls_needs_an_external_temporal(regie_ca: Authority) -> None:
    with pytest.raises(ValidationError, match="set REGIE_TEMPORAL_ADDRESS too"):
        Settings(temporal_tls_ca=regie_ca.cert)
    with pytest.raises(ValidationError, match="set REGIE_TEMPORAL_ADDRESS too"):
        Settings(temporal_api_key=API_KEY)


def test_a_settings_error_does_not_print_secrets(regie_ca: Authority,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    worker = regie_ca.issue("regie-worker", server=False)
    monkeypatch.setenv("REGIE_TEMPORAL_API_KEY", API_KEY)
    monkeypatch.setenv("REGIE_DATABASE_URL", "postgresql://regie:db-password-42@db:5432/regie")
    message = error_of(temporal_tls_cert=worker.cert)  # the key is missing
    assert "come together" in message
    assert API_KEY not in message and "db-password-42" not in message


# -- a real handshake ----------------------------------------------------------------


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, ssl.SSLError):
        pass
    finally:
        writer.close()


@contextlib.asynccontextmanager
async def mtls_frontend(upstream: str, server: Issued, ca: Path) -> AsyncIterator[str]:
    """A TLS front for the plain test server that, like the production frontend with
    `requireClientAuth: true`, accepts only clients with a certificate from `ca`."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(ca))
    context.load_cert_chain(server.cert, server.key)
    context.verify_mode = ssl.CERT_REQUIRED
    context.set_alpn_protocols(["h2"])  # gRPC
    host, port = upstream.rsplit(":", 1)

    async def forward(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(host, int(port))
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))

    front = await asyncio.start_server(forward, "127.0.0.1", 0, ssl=context)
    loop = asyncio.get_running_loop()
    # A refused handshake is what some of these tests expect; asyncio would log it as an
    # error with a traceback.
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, _context: None)
    try:
        async with front:
            yield f"127.0.0.1:{front.sockets[0].getsockname()[1]}"
    finally:
        loop.set_exception_handler(previous)


async def can_connect(configured: Settings) -> bool:
    try:
        client = await asyncio.wait_for(connect(configured), timeout=30)
    except RuntimeError:
        return False
    return await client.service_client.check_health()


async def test_only_a_client_certificate_from_regies_ca_gets_through(
        time_skipping_env: WorkflowEnvironment, regie_ca: Authority, tmp_path: Path) -> None:
    upstream = time_skipping_env.client.service_client.config.target_host
    frontend = regie_ca.issue(SERVER_NAME, server=True)
    worker = regie_ca.issue("regie-worker", server=False)
    intruder = Authority(tmp_path, "intruder").issue("intruder", server=False)
    async with mtls_frontend(upstream, frontend, regie_ca.cert) as address:
        def through(**values: Any) -> Settings:
            return settings(**{"temporal_address": address, "temporal_tls_ca": regie_ca.cert,
                               "temporal_tls_server_name": SERVER_NAME, **values})

        assert await can_connect(through(temporal_tls_cert=worker.cert,
                                         temporal_tls_key=worker.key))
        assert not await can_connect(through())
        assert not await can_connect(through(temporal_tls_cert=intruder.cert,
                                             temporal_tls_key=intruder.key))
        # Without Regie's CA the client does not trust the frontend either.
        assert not await can_connect(through(temporal_tls_ca=None,
                                             temporal_tls_cert=worker.cert,
                                             temporal_tls_key=worker.key))
