"""The rules of the Temporal TLS settings (`REGIE_TEMPORAL_TLS_*`, `REGIE_TEMPORAL_API_KEY`),
checked when the settings are read, so a wrong path stops a process at start-up with its
variable named instead of failing at the first connection with a TLS error.

`infra.settings` declares the fields with these types; `infra.temporal.connect_options`
turns them into what the Temporal client is given.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, SecretStr, ValidationInfo

# The variable an operator sets, by settings field.
VARIABLES = {"temporal_tls_cert": "REGIE_TEMPORAL_TLS_CERT",
             "temporal_tls_key": "REGIE_TEMPORAL_TLS_KEY",
             "temporal_tls_ca": "REGIE_TEMPORAL_TLS_CA"}


def _readable_file(path: Path, info: ValidationInfo) -> Path:
    variable = VARIABLES.get(str(info.field_name), str(info.field_name))
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


def _not_empty(key: SecretStr) -> SecretStr:
    if not key.get_secret_value().strip():
        raise ValueError("REGIE_TEMPORAL_API_KEY is set but empty; unset it for no key")
    return key


# A PEM file that exists and can be read.
TlsFile = Annotated[Path, AfterValidator(_readable_file)]
# Never shown: its repr and str are asterisks.
ApiKey = Annotated[SecretStr, AfterValidator(_not_empty)]


def tls_problem(*, address: str | None, cert: Path | None, key: Path | None,
                uses_tls: bool) -> str | None:
    """What is wrong with the TLS settings as a whole, or None."""
    if (cert is None) != (key is None):
        missing = "REGIE_TEMPORAL_TLS_KEY" if key is None else "REGIE_TEMPORAL_TLS_CERT"
        return ("REGIE_TEMPORAL_TLS_CERT and REGIE_TEMPORAL_TLS_KEY come together (a client "
                f"certificate and its key); {missing} is not set")
    if address is None and uses_tls:
        return ("REGIE_TEMPORAL_TLS_* and REGIE_TEMPORAL_API_KEY are for an external "
                "Temporal; set REGIE_TEMPORAL_ADDRESS too (the embedded dev server speaks "
                "plain gRPC)")
    return None
